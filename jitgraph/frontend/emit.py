"""AST -> IR. One emitter serves two modes:

- generic (`types=None`): at decoration, every argument's type unknown. Facts that only
  specialization knows (`x.shape`, `x.dtype`, a branch on `x.ndim`) become nodes, so the
  graph shows the function's whole structure. This is `f.graph`.
- typed: at call time, with each argument's dtype and shape. The emitter then works as an
  abstract interpreter: shapes, ndims, dtypes, Python literals and arithmetic on them are
  static Python values, `if` on a static condition keeps one branch, every node gets its
  type from the op registry, and a type error is raised with the source line that caused
  it, before any code runs.

Environment values ("EnvVal") are IR Values, static Python objects (numbers, tuples,
dtypes, modules, functions), or `Undefined` (a name that is not defined on every path).
"""
from __future__ import annotations

import ast
import builtins
import inspect
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import JitTypeError, ScriptError, SourceLoc
from ..ir.graph import Block, Builder, Graph, Node, Value, inline_graph
from ..ops import OPS, OpDef, lookup_py
from ..types import UNKNOWN, TensorType, join_types, type_of_python
from .check import _is_docstring, check_function
from .rewrite import lower_jumps, lower_loop_returns, normalize_returns
from .source import FunctionSource, function_source

MAX_INLINE_DEPTH = 32
_SCALARS = (bool, int, float, complex, np.generic)
_BINOPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.MatMult: operator.matmul, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor,
}
_CMPOPS: dict[type, Callable[..., Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_UNOPS: dict[type, Callable[..., Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
}


class Undefined:
    """A name that is not defined on every path reaching this point."""

    def __init__(self, why: str):
        self.why = why


@dataclass
class Enumerated:
    """enumerate(array): a for loop over it binds (index, row)."""
    value: Any


class ShapeTuple(tuple):
    """`x.shape`: a tuple that remembers whose shape it is, for error messages."""

    of: str | None

    def __new__(cls, shape: tuple[int, ...], of: str | None) -> "ShapeTuple":
        t = super().__new__(cls, shape)
        t.of = of
        return t


class NoneArg:
    """A top-level argument passed as None: behaves as None (`b is None`, `axis=b`) but
    names the argument when it is used as an array."""

    def __init__(self, name: str):
        self.name = name

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "None"


def _unwrap_none(x: Any) -> Any:
    return None if isinstance(x, NoneArg) else x


@dataclass
class Returned:
    value: Any


@dataclass
class BoundMethod:
    obj: Any
    name: str


@dataclass
class OutTree:
    """How the flat result list of a graph rebuilds the function's Python result:
    ("v", i) is result i, ("s", x) a static Python value, ("t", [...]) a tuple, ("l", [...])
    a list."""
    spec: Any

    def value_leaves(self) -> list[int]:
        """Indices of the graph results, in the order the Python result lists them."""
        out: list[int] = []

        def go(s: Any) -> None:
            if s[0] == "v":
                out.append(s[1])
            elif s[0] in ("t", "l"):
                for e in s[1]:
                    go(e)
        go(self.spec)
        return out

    def build(self, flat: Sequence[Any]) -> Any:
        def go(s: Any) -> Any:
            kind = s[0]
            if kind == "v":
                return flat[s[1]]
            if kind == "s":
                return s[1]
            if kind == "l":
                return [go(e) for e in s[1]]
            return tuple(go(e) for e in s[1])
        return go(self.spec)


def flatten_result(x: Any) -> tuple[list[Value], OutTree]:
    flat: list[Value] = []

    def go(e: Any) -> Any:
        if isinstance(e, Value):
            flat.append(e)
            return ("v", len(flat) - 1)
        if isinstance(e, (tuple, list)):
            return ("t" if isinstance(e, tuple) else "l", [go(i) for i in e])
        return ("s", _unwrap_none(e))
    return flat, OutTree(go(x))


def is_scalar(x: Any) -> bool:
    return isinstance(x, _SCALARS)


def is_static(x: Any) -> bool:
    if isinstance(x, (Value, Undefined)):
        return False
    if isinstance(x, (tuple, list)):
        return all(is_static(e) for e in x)
    return True


# --------------------------------------------------------------------------------------
class Emitter:
    """Emits one function body into a builder. Inlined calls get an Emitter of their own
    that shares the builder."""

    def __init__(self, src: FunctionSource, b: Builder, typed: bool, depth: int = 0,
                 prov: dict[Value, frozenset[int]] | None = None):
        self.src = src
        # Provenance: which Python int/bool arguments a scalar value was computed from, so
        # a use that needs a compile-time value (an axis, a shape) can make them static.
        self.prov: dict[Value, frozenset[int]] = {} if prov is None else prov
        self.b = b
        self.typed = typed
        self.depth = depth
        self.env: dict[str, Any] = {}
        fn = src.fn
        self.globals: dict[str, Any] = getattr(fn, "__globals__", {})
        self.closure: dict[str, Any] = {}
        code = getattr(fn, "__code__", None)
        if code is not None and fn.__closure__:
            for name, cell in zip(code.co_freevars, fn.__closure__):
                try:
                    self.closure[name] = cell.cell_contents
                except ValueError:
                    pass
        self.loc: SourceLoc = src.loc(src.tree)
        # While a loop's carried types are still settling, branches inside it may join
        # by broadcasting; the settled body is emitted strictly (see emit_loop).
        self.lenient = 0
        self.widened = False
        self.fillable: set[str] = set()  # names first assigned in the enclosing loop body
        self.pending_types: dict[str, TensorType] = {}  # their types, learned from a branch

    # ---------------------------------------------------------------- errors, locations
    def at(self, node: ast.AST) -> None:
        self.loc = self.src.loc(node)
        self.b.loc = self.loc

    def script_error(self, msg: str, node: ast.AST | None = None,
                     construct: str | None = None) -> ScriptError:
        return ScriptError(msg, self.src.loc(node) if node is not None else self.loc, construct)

    def type_error(self, msg: str, arg: str | None = None) -> JitTypeError:
        return JitTypeError(msg, self.loc, arg)

    # ---------------------------------------------------------------- entry point
    def emit_function(self, args: Sequence[Any]) -> Any:
        fdef = self.src.tree
        params = [a.arg for a in fdef.args.posonlyargs + fdef.args.args]
        for name, val in zip(params, args, strict=True):
            self.env[name] = val
        body = fdef.body[1:] if fdef.body and _is_docstring(fdef.body[0]) else fdef.body
        ret = self.emit_stmts(normalize_returns(lower_loop_returns(list(body))))
        return None if ret is None else ret.value

    # ---------------------------------------------------------------- values
    def as_value(self, x: Any, what: str = "value") -> Value:
        if isinstance(x, Value):
            return x
        if isinstance(x, NoneArg):
            raise self.type_error(f"argument {x.name!r} is None, but an array or a number is "
                                  "needed here", arg=x.name)
        if isinstance(x, Undefined):
            raise self.script_error(x.why)
        if is_scalar(x):
            return self.b.const(x)
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in "biufc":
                raise self.type_error(f"array of dtype {x.dtype} is not supported")
            return self.b.const(np.array(x), TensorType(x.dtype, x.shape))
        if isinstance(x, (tuple, list)) and x and all(is_scalar(e) for e in x):
            arr = np.asarray(x)
            return self.b.const(arr, TensorType(arr.dtype, arr.shape))
        if isinstance(x, (tuple, list)) and x:
            return self.op("stack", [self.as_value(e) for e in x], {"axis": 0})
        if not self.typed:  # generic graphs only show structure: an opaque constant
            return self.b.node("constant", (), {"value": _describe(x)}, (UNKNOWN,),
                               loc=self.loc).out
        raise self.type_error(f"expected an array or a number for {what}, got "
                              f"{_describe(x)}")

    def static_attr(self, x: Any, name: str) -> Any:
        """An op attribute: must be known at compile time in typed mode."""
        if isinstance(x, Value):
            self.need_static(x)
            if self.typed:
                raise self.type_error(f"argument {name!r} must be a compile-time constant "
                                      "(a literal, a shape, or a static argument)")
            return x
        if isinstance(x, Undefined):
            raise self.script_error(x.why)
        if isinstance(x, NoneArg):
            return None
        if isinstance(x, (tuple, list)):
            return tuple(self.static_attr(e, name) for e in x)
        if isinstance(x, np.generic):
            return x.item()
        if name == "dtype" and x is not None:
            try:
                return np.dtype(x)
            except TypeError:
                raise self.type_error(f"{_describe(x)} is not a dtype") from None
        if isinstance(x, np.ndarray) and x.ndim == 1 and x.dtype.kind in "iu":
            return tuple(int(e) for e in x)
        return x

    def op(self, name: str, inputs: Sequence[Any], attrs: dict[str, Any] | None = None,
           hint: str | None = None) -> Value:
        opdef = OPS[name]
        vals = [self.as_value(v) for v in inputs]
        attrs = opdef.full_attrs(dict(attrs or {}))
        try:
            r = self.b.op(name, *vals, loc=self.loc, hint=hint, **attrs)
        except JitTypeError as e:
            if e.loc is not None:
                raise
            raise self._blame(e.msg, vals) from None
        if self.prov and r.type.shape == ():
            p = frozenset().union(*[self.prov.get(v, frozenset()) for v in vals])
            if p:
                self.prov[r] = p
        return r

    def _operand_name(self, v: Value) -> str | None:
        """The user variable a temporary was computed from (`x` for `x > 0`)."""
        for n in reversed(self.b.block.nodes):
            if v in n.outputs:
                named = [i.hint for i in n.inputs if i.hint]
                return named[0] if named else None
        return None

    def need_static(self, v: Value) -> None:
        """A compile-time value is needed here: if v comes from Python int/bool arguments,
        ask the caller to specialize on their values (JAX would need static_argnums)."""
        p = self.prov.get(v)
        if p and self.typed:
            raise NeedStatic(p)

    def _blame(self, msg: str, vals: Sequence[Value]) -> JitTypeError:
        named = [v.hint for v in vals if v.hint]
        arg = named[0] if named else None
        if named:
            msg += " (operands: " + ", ".join(f"{v.hint}: {v.type}" for v in vals if v.hint) + ")"
        return JitTypeError(msg, self.loc, arg)

    def apply(self, opdef: OpDef, inputs: Sequence[Any], attrs: dict[str, Any] | None = None,
              pyfunc: Callable[..., Any] | None = None) -> Any:
        """An op on EnvVals. Elementwise ops on static scalars fold right here, with the
        Python (or NumPy) function the source called, so Python semantics are kept."""
        if (pyfunc is not None and opdef.elementwise and not attrs
                and all(is_scalar(i) for i in inputs)):
            try:
                with np.errstate(all="ignore"):
                    return pyfunc(*inputs)
            except ZeroDivisionError:
                raise self.type_error("division by zero in a compile-time constant") from None
        return self.op(opdef.name, inputs, attrs)

    def truth(self, x: Any) -> Any:
        """A static bool, or a bool 0-d Value (Python truthiness of a 0-d array)."""
        if isinstance(x, Undefined):
            raise self.script_error(x.why)
        if is_static(x):
            return bool(x)
        v = self.as_value(x)
        if self.typed:
            if v.type.shape != ():
                who = v.hint or self._operand_name(v)
                raise self.type_error(
                    (f"{who}: " if who else "") +
                    f"the truth value of an array of shape {v.type.shape} is ambiguous; "
                    "reduce it first (e.g. with .any() or .all())", arg=who)
            if v.type.dtype != np.bool_:
                return self.op("ne", [v, 0])
        return v

    # ---------------------------------------------------------------- name lookup
    def lookup(self, name: str, node: ast.AST) -> Any:
        if name in self.env:
            v = self.env[name]
            if isinstance(v, Undefined):
                raise self.script_error(v.why, node)
            return v
        if name in self.fillable:
            raise PendingName(name, self.src.loc(node))
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise UnresolvedName(f"name {name!r} is not defined", self.src.loc(node), name)

    # ---------------------------------------------------------------- statements
    def emit_stmts(self, stmts: Sequence[ast.stmt]) -> Returned | None:
        for s in stmts:
            self.at(s)
            r = self.emit_stmt(s)
            if r is not None:
                return r
        return None

    def emit_stmt(self, s: ast.stmt) -> Returned | None:
        if isinstance(s, ast.Return):
            return Returned(None if s.value is None else self.ev(s.value))
        if isinstance(s, ast.Assign):
            val = self.ev(s.value)
            for t in s.targets:
                self.assign(t, val)
            return None
        if isinstance(s, ast.AnnAssign):
            assert s.value is not None
            self.assign(s.target, self.ev(s.value))
            return None
        if isinstance(s, ast.AugAssign):
            assert isinstance(s.target, ast.Name)
            cur = self.lookup(s.target.id, s.target)
            self.assign(s.target, self.binop(type(s.op), cur, self.ev(s.value), s))
            return None
        if isinstance(s, ast.If):
            return self.emit_if(s)
        if isinstance(s, ast.For):
            self.emit_for(s)
            return None
        if isinstance(s, ast.While):
            self.emit_while(s)
            return None
        if isinstance(s, ast.Assert):
            if not self.typed:  # shapes are not known before specialization
                return None
            c = self.truth(self.ev(s.test))
            if isinstance(c, Value):
                raise self.script_error("assert on a run-time value is not supported; "
                                        "assert on shapes and static values only", s, "assert")
            if not c:
                raise self.type_error("assertion failed at compile time")
            return None
        if isinstance(s, (ast.Pass, ast.Expr)):
            return None
        raise self.script_error(f"unsupported statement {type(s).__name__}", s,
                                type(s).__name__)

    def assign(self, t: ast.expr, val: Any) -> None:
        if isinstance(t, ast.Name):
            if isinstance(val, Value) and val.hint is None:
                val.hint = _hint(t.id)
            self.env[t.id] = val
            return
        if isinstance(t, (ast.Tuple, ast.List)):
            n = len(t.elts)
            if isinstance(val, Value):
                if self.typed:
                    if val.type.shape is None or not val.type.shape or val.type.shape[0] != n:
                        raise self.type_error(f"cannot unpack a value of type {val.type} "
                                              f"into {n} names")
                parts: Sequence[Any] = [self.op("getitem", [val], {"index": (("int", i),)})
                                        for i in range(n)]
            elif isinstance(val, (tuple, list)):
                parts = val
            else:
                raise self.type_error(f"cannot unpack {_describe(val)}")
            if len(parts) != n:
                raise self.type_error(f"cannot unpack {len(parts)} values into {n} names")
            for e, p in zip(t.elts, parts):
                self.assign(e, p)
            return
        raise self.script_error("unsupported assignment target", t)

    # ---------------------------------------------------------------- if / else
    def emit_if(self, s: ast.If) -> Returned | None:
        cond = self.truth(self.ev(s.test))
        if not isinstance(cond, Value):
            return self.emit_stmts(s.body if cond else s.orelse)
        env0 = self.env
        outs = []
        pending: PendingName | None = None
        for stmts in (s.body, s.orelse):
            self.env = dict(env0)
            blk = Builder(Block(), self.loc)
            saved, self.b = self.b, blk
            try:
                ret = self.emit_stmts(stmts)
            except PendingName as p:
                # a name first assigned in the enclosing loop, read on this path before
                # any assignment (`if i == 0: acc = x else: acc = acc + x`): learn its
                # type from the other branch, then the loop carries it
                pending, ret = p, None
            finally:
                self.b = saved
            outs.append((blk, self.env, ret))
            self.at(s)
        self.env = env0
        if pending is not None:
            for blk, env, _ in outs:
                v = env.get(pending.name)
                if _carriable(v) and pending.name not in self.pending_types:
                    self.pending_types[pending.name] = self._in(
                        blk, lambda v=v: self.as_value(v)).type
            raise pending
        (bt, et, rt), (be, ee, re_) = outs
        if (rt is None) != (re_ is None):
            raise self.script_error("one branch returns and the other falls through to the "
                                    "end of the function (which would return None)", s)
        names = sorted(k for k in set(et) | set(ee)
                       if et.get(k, _MISSING) is not env0.get(k, _MISSING)
                       or ee.get(k, _MISSING) is not env0.get(k, _MISSING))
        merged_t: list[Any] = []
        merged_e: list[Any] = []
        kept: list[str] = []
        for k in names:
            a, c = et.get(k, _MISSING), ee.get(k, _MISSING)
            if k in self.fillable and (_carriable(a) or _carriable(c)) and not (
                    _carriable(a) and _carriable(c)):
                # first assigned inside a loop, on one path: zeros on the other (the
                # loop then carries it, so later iterations see the previous value)
                if _carriable(a):
                    a = self._in(bt, lambda a=a: self.as_value(a))
                    c = self._in(be, lambda a=a: self.zeros(a.type))
                else:
                    c = self._in(be, lambda c=c: self.as_value(c))
                    a = self._in(bt, lambda c=c: self.zeros(c.type))
            if a is _MISSING or c is _MISSING or isinstance(a, Undefined) or isinstance(
                    c, Undefined):
                env0[k] = Undefined(f"{k!r} is assigned in only one branch of the if at line "
                                    f"{s.lineno} and used after it")
                continue
            kept.append(k)
            merged_t.append(a)
            merged_e.append(c)
        if rt is not None:
            merged_t.append(rt.value)
            merged_e.append(re_.value)  # type: ignore[union-attr]
        results = self.merge_branches(cond, bt, be, merged_t, merged_e, s)
        for k, v in zip(kept, results):
            if isinstance(v, Value) and v.hint is None:
                v.hint = _hint(k)
            env0[k] = v
        if rt is not None:
            return Returned(results[-1])
        return None

    def merge_branches(self, cond: Value, bt: Builder, be: Builder, ta: list[Any],
                       ea: list[Any], node: ast.AST) -> list[Any]:
        """Build the If node; equal static leaves stay static, the rest become outputs."""
        out_types: list[TensorType] = []
        res_t: list[Value] = []
        res_e: list[Value] = []

        def leaf(a: Any, c: Any) -> Any:
            if a is c:
                return ("same", a)
            if is_static(a) and is_static(c) and type(a) is type(c) and _static_eq(a, c):
                return ("same", a)
            if isinstance(a, (tuple, list)) and isinstance(c, (tuple, list)):
                if len(a) != len(c):
                    raise self.type_error(f"the branches give tuples of different lengths "
                                          f"({len(a)} and {len(c)})")
                return ("tuple", [leaf(x, y) for x, y in zip(a, c)])
            va = self._in(bt, lambda: self.as_value(a))
            vc = self._in(be, lambda: self.as_value(c))
            t = join_types(va.type, vc.type, broadcast=self.lenient > 0)
            if t is not None and t.shape != va.type.shape or t is not None and \
                    t.shape != vc.type.shape:
                self.widened = True
            if t is None:
                raise self.type_error(f"the branches give values of types {va.type} and "
                                      f"{vc.type}: a compiled value needs one shape on every "
                                      "path")
            va = self._in(bt, lambda: self.coerce(va, t))
            vc = self._in(be, lambda: self.coerce(vc, t))
            res_t.append(va)
            res_e.append(vc)
            out_types.append(t)
            return ("out", len(res_t) - 1)

        specs = [leaf(a, c) for a, c in zip(ta, ea)]
        bt.block.results = res_t
        be.block.results = res_e
        n = self.b.node("if", [cond], None, out_types, [bt.block, be.block], loc=self.loc)

        def build(sp: Any) -> Any:
            if sp[0] == "same":
                return sp[1]
            if sp[0] == "tuple":
                return tuple(build(e) for e in sp[1])
            return n.outputs[sp[1]]
        return [build(sp) for sp in specs]

    def _in(self, blk: Builder, f: Callable[[], Any]) -> Any:
        saved, self.b = self.b, blk
        try:
            return f()
        finally:
            self.b = saved

    def coerce(self, v: Value, t: TensorType) -> Value:
        """Cast/broadcast v to the joined type t (in the current block)."""
        if v.type == t or not t.known:
            return v
        if v.type.dtype != t.dtype or v.type.weak != t.weak:
            v = self.op("cast", [v], {"dtype": t.dtype, "weak": t.weak})
        if v.type.shape != t.shape:
            v = self.op("broadcast_to", [v], {"shape": t.shape})
        return v

    # ---------------------------------------------------------------- loops
    def emit_for(self, s: ast.For) -> None:
        """for over range(...) / reversed(range(...)) and over an array's first axis
        (`for row in x`, `enumerate(x)`) become loop nodes; over a tuple (`zip(ws, bs)`),
        the body is unrolled."""
        body, brk = lower_jumps(s)
        tnames = sorted(_assigned_names([ast.Assign(targets=[s.target], value=s.iter)]))
        rng = self._range_of(s.iter, s)
        if rng is not None:
            start, step, trip, rev = rng

            def bind_index(k: Value) -> None:
                j: Any = k if not rev else self.binop(
                    ast.Sub, self.binop(ast.Sub, trip, 1, s), k, s)
                if not (is_static(step) and step == 1):
                    j = self.binop(ast.Mult, j, step, s)
                if not (is_static(start) and start == 0):
                    j = self.binop(ast.Add, start, j, s)
                self.assign(s.target, j)
            self.emit_loop(s, body, trip, True, brk, None, bind_index, tnames)
            return
        seq = self.ev(s.iter)
        if isinstance(seq, (tuple, list)):
            if brk is not None or body is not s.body:
                raise self.script_error("break/continue in a loop over a tuple (which is "
                                        "unrolled) are not supported", s, "for loop")
            for e in seq:
                self.assign(s.target, e)
                self.emit_stmts(s.body)
            return
        enum = isinstance(seq, Enumerated)
        arr = seq.value if enum else seq
        if isinstance(arr, (Value, np.ndarray)):
            x = self.as_value(arr)
            if self.typed and not x.type.shape:
                raise self.type_error("iteration over a 0-d array")
            trip = x.type.shape[0] if self.typed else self.op(  # type: ignore[index]
                "getitem", [self.op("shape", [x])], {"index": (("int", 0),)})

            def bind_row(k: Value) -> None:
                row = self.op("getitem", [x, k], {"index": (("value",),)})
                self.assign(s.target, (k, row) if enum else row)
            self.emit_loop(s, body, trip, True, brk, None, bind_row, tnames)
            return
        raise self.script_error("for loops iterate over range(...), an array, enumerate(...) "
                                "or a tuple", s.iter, "for loop over a non-range iterable")

    def _range_of(self, it: ast.expr, s: ast.stmt) -> tuple[Any, Any, Any, bool] | None:
        """(start, step, trip count, reversed) of `range(...)` or `reversed(range(...))`."""
        rev = False
        if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id ==
                "reversed" and len(it.args) == 1 and self._is_builtin(it.func, reversed)):
            it, rev = it.args[0], True
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and self._is_builtin(it.func, range)):
            return None
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.script_error("range() takes 1 to 3 positional arguments", it)
        rargs = [self.ev(a) for a in it.args]
        for a in rargs:
            if is_static(a) and not isinstance(a, (int, np.integer)):
                raise self.type_error(f"range() arguments must be integers, got {_describe(a)}")
        start, stop, step = (0, rargs[0], 1) if len(rargs) == 1 else (
            rargs[0], rargs[1], rargs[2] if len(rargs) == 3 else 1)
        if not is_static(step):
            self.need_static(step)
            raise self.type_error("the step of range() must be a compile-time constant")
        if step == 0:
            raise self.type_error("range() arg 3 must not be zero")
        if is_static(start) and is_static(stop):
            trip: Any = len(range(int(start), int(stop), int(step)))
        elif step == 1:
            span = stop if is_static(start) and start == 0 else self.binop(ast.Sub, stop, start, s)
            trip = self.op("maximum", [span, 0])
        else:
            span = self.binop(ast.Sub, stop, start, s) if step > 0 else self.binop(
                ast.Sub, start, stop, s)
            astep = abs(int(step))
            n = self.binop(ast.FloorDiv, self.binop(ast.Add, span, astep - 1, s), astep, s)
            trip = self.op("maximum", [n, 0])
        return start, step, trip, rev

    def _is_builtin(self, name: ast.Name, f: Any) -> bool:
        try:
            return self.lookup(name.id, name) is f
        except ScriptError:
            return False

    def emit_while(self, s: ast.While) -> None:
        c0 = self.truth(self.ev(s.test))
        if not isinstance(c0, Value) and not c0:
            return
        body, brk = lower_jumps(s)
        self.emit_loop(s, body, -1, c0, brk, s.test, None, [])

    def emit_loop(self, s: ast.stmt, body: list[ast.stmt], trip: Any, cond0: Any,
                  brk: str | None, test: ast.expr | None, bind: Callable[[Value], None] | None,
                  tnames: list[str]) -> None:
        """A loop node. Carried: names assigned in the body that exist before the loop,
        plus names first assigned in it that are defined at the end of the body (Python
        keeps the last iteration's value; before the first iteration they hold zeros).
        Their types are found by a fixpoint, since they can widen (0 -> a float32 row)."""
        assigned = _assigned_names(body)
        carried = [k for k in sorted(assigned) if k in self.env
                   and not isinstance(self.env[k], Undefined)]
        # the loop variable is fresh too: Python keeps its last value after the loop
        keep_var = {n for n in tnames if _read_outside(self.src.tree, s, n)}
        fresh = sorted(k for k in (assigned | keep_var) - set(carried)
                       if not k.startswith(("__break", "__continue")))
        init: list[Value | None] = [self.as_value(self.env[k], what=repr(k)) for k in carried]
        types = [v.type for v in init]  # type: ignore[union-attr]
        env0 = self.env
        strict = False
        for _ in range(12):
            params = [Value(TensorType(np.dtype(np.int64), (), True),
                            tnames[0] if len(tnames) == 1 else "k")]
            params += [Value(t, _hint(k)) for t, k in zip(types, carried)]
            blk = Builder(Block(params), self.loc)
            self.env = dict(env0)
            self.env.update(zip(carried, params[1:]))
            saved, self.b = self.b, blk
            saved_lenient, saved_widened = self.lenient, self.widened
            self.lenient, self.widened = (0 if strict else self.lenient + 1), False
            saved_fill, self.fillable = self.fillable, self.fillable | set(fresh)
            try:
                if bind is not None:
                    bind(params[0])
                try:
                    self.emit_stmts(body)
                except PendingName as p:
                    t = self.pending_types.get(p.name)
                    if t is None or p.name in carried:
                        raise UnresolvedName(f"name {p.name!r} is read before it is assigned",
                                             p.loc, p.name) from None
                    carried.append(p.name)
                    init.append(None)
                    types.append(t)
                    continue
                self.at(s)
                nexts = [self.as_value(self.env[k], repr(k)) for k in carried]
                new = [k for k in fresh if k not in carried and _carriable(self.env.get(k))]
                new_vals = [self.as_value(self.env[k], repr(k)) for k in new]
                cont: Any = True
                if test is not None:
                    cont = self.truth(self.ev(test))
                if brk is not None:
                    nb = self.truth(self.env[brk])
                    nb = (not nb) if not isinstance(nb, Value) else self.op("logical_not", [nb])
                    cont = self._and(nb, cont)
                cont_v = self.as_value(cont) if not isinstance(cont, Value) else cont
            finally:
                self.b = saved
                self.env = env0
                widened = self.widened
                self.lenient, self.widened = saved_lenient, saved_widened
                self.fillable = saved_fill
            if new:  # names first defined in the body: carry them too, and go again
                carried += new
                init += [None] * len(new)
                types += [v.type for v in new_vals]
                continue
            joined = [join_types(t, v.type) for t, v in zip(types, nexts)]
            for k, j, t, v in zip(carried, joined, types, nexts):
                if j is None:
                    raise self.type_error(f"{k!r} changes shape inside the loop, from {t} "
                                          f"to {v.type}")
            if joined == types:
                if not widened or strict or saved_lenient:
                    break
                strict = True  # settled, but a branch was widened: emit strictly to report it
                continue
            types = joined  # type: ignore[assignment]
        else:
            raise self.type_error("loop-carried types did not settle")
        blk.block.results = [cont_v] + [self._in(blk, lambda v=v, t=t: self.coerce(v, t))
                                        for v, t in zip(nexts, types)]
        init_v = [self.zeros(t) if v is None else self.coerce(v, t)
                  for v, t in zip(init, types)]
        trip_v = self.as_value(trip)
        c0 = self.as_value(cond0)
        n = self.b.node("loop", [trip_v, c0, *init_v], None, types, [blk.block], loc=self.loc)
        for k, v in zip(carried, n.outputs):
            v.hint = _hint(k)
            self.env[k] = v
        for k in assigned - set(carried):
            if not k.startswith("__"):
                self.env[k] = Undefined(f"{k!r} is assigned only inside the loop at line "
                                        f"{s.lineno} (not on every path) and used after it")
        for n in tnames:
            if n not in carried:
                self.env[n] = Undefined(f"the loop variable {n!r} is used after the loop")

    def zeros(self, t: TensorType) -> Value:
        if not t.known:
            return self.b.const(0.0, UNKNOWN)
        if t.weak:
            return self.b.const({"b": False, "i": 0, "f": 0.0, "c": 0j}[t.dtype.kind], t)
        return self.op("zeros", [], {"shape": t.shape, "dtype": t.dtype})

    def _and(self, a: Any, b: Any) -> Any:
        if not isinstance(a, Value):
            return b if a else False
        if not isinstance(b, Value):
            return a if b else False
        return self.op("logical_and", [a, b])

    # ---------------------------------------------------------------- expressions
    def ev(self, e: ast.expr) -> Any:
        saved = self.loc
        self.at(e)
        try:
            return self._ev(e)
        finally:
            self.loc = saved
            self.b.loc = saved

    def _ev(self, e: ast.expr) -> Any:
        if isinstance(e, ast.Constant):
            return e.value
        if isinstance(e, ast.Name):
            return self.lookup(e.id, e)
        if isinstance(e, ast.Tuple):
            return tuple(self.ev(x) for x in e.elts)
        if isinstance(e, ast.List):
            return [self.ev(x) for x in e.elts]
        if isinstance(e, ast.BinOp):
            return self.binop(type(e.op), self.ev(e.left), self.ev(e.right), e)
        if isinstance(e, ast.UnaryOp):
            x = self.ev(e.operand)
            if isinstance(e.op, ast.Not):
                t = self.truth(x)
                return (not t) if not isinstance(t, Value) else self.op("logical_not", [t])
            f = _UNOPS[type(e.op)]
            if is_static(x):
                return f(x)
            return self.apply(lookup_py(f), [self.pybool_as_int(x)],  # type: ignore[arg-type]
                              pyfunc=f)
        if isinstance(e, ast.BoolOp):
            return self.boolop(e)
        if isinstance(e, ast.Compare):
            return self.compare(e)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.Attribute):
            return self.attribute(self.ev(e.value), e.attr, e)
        if isinstance(e, ast.Subscript):
            return self.subscript(e)
        if isinstance(e, ast.IfExp):
            return self.ifexp(e)
        raise self.script_error(f"unsupported expression {type(e).__name__}", e,
                                type(e).__name__)

    def binop(self, optype: type, a: Any, b: Any, node: ast.AST) -> Any:
        f = _BINOPS[optype]
        if is_static(a) and is_static(b) and not (
                isinstance(a, np.ndarray) or isinstance(b, np.ndarray)):
            try:
                with np.errstate(all="ignore"):
                    return f(a, b)
            except ZeroDivisionError:
                raise self.type_error("division by zero in a compile-time constant") from None
            except TypeError as ex:
                raise self.type_error(str(ex)) from None
        if f is operator.matmul:
            return self.op("matmul", [a, b])
        if f not in (operator.and_, operator.or_, operator.xor):
            a, b = self.pybool_as_int(a), self.pybool_as_int(b)
        return self.apply(lookup_py(f), [a, b], pyfunc=f)  # type: ignore[arg-type]

    def pybool_as_int(self, x: Any) -> Any:
        """Python's arithmetic on bools is integer arithmetic (True + True == 2); NumPy's
        on np.bool_ is logical. A run-time Python bool becomes a Python int for it."""
        if isinstance(x, Value) and x.type.weak and x.type.dtype == np.bool_:
            return self.op("cast", [x], {"dtype": np.dtype(np.int64), "weak": True})
        return x

    def boolop(self, e: ast.BoolOp) -> Any:
        is_and = isinstance(e.op, ast.And)
        acc = self.ev(e.values[0])
        for nxt in e.values[1:]:
            t = self.truth(acc)
            if not isinstance(t, Value):
                # Python semantics: `a and b` is b when a is truthy, else a
                if (t and is_and) or (not t and not is_and):
                    acc = self.ev(nxt)
                continue
            r = self.truth(self.ev(nxt))
            if not isinstance(r, Value):
                if is_and:
                    acc = t if r else False
                else:
                    acc = True if r else t
                continue
            acc = self.op("logical_and" if is_and else "logical_or", [t, r])
        return acc

    def compare(self, e: ast.Compare) -> Any:
        left = self.ev(e.left)
        result: Any = True
        for opnode, comp in zip(e.ops, e.comparators):
            right = self.ev(comp)
            left, right = _unwrap_none(left), _unwrap_none(right)
            if isinstance(opnode, (ast.Is, ast.IsNot)):
                if not (is_static(left) or is_static(right)) and not (left is None
                                                                       or right is None):
                    raise self.script_error("`is` compares only with None", e, "is")
                r: Any = (left is right) == isinstance(opnode, ast.Is)
            elif isinstance(opnode, (ast.In, ast.NotIn)):
                if not (is_static(left) and is_static(right)) and not self.typed:
                    r = self.opaque("in", [left])
                    result = r if result is True else self._and(result, r)
                    left = right
                    continue
                if not (is_static(left) and is_static(right)):
                    raise self.script_error("`in` works on compile-time values only", e, "in")
                r = (left in right) == isinstance(opnode, ast.In)
            else:
                f = _CMPOPS[type(opnode)]
                if is_static(left) and is_static(right):
                    r = f(left, right)
                else:
                    r = self.apply(lookup_py(f), [left, right], pyfunc=f)  # type: ignore
            result = r if result is True else self._and(result, r)
            left = right
        return result

    def ifexp(self, e: ast.IfExp) -> Any:
        c = self.truth(self.ev(e.test))
        if not isinstance(c, Value):
            return self.ev(e.body if c else e.orelse)
        bt, be = Builder(Block(), self.loc), Builder(Block(), self.loc)
        a = self._in(bt, lambda: self.ev(e.body))
        b = self._in(be, lambda: self.ev(e.orelse))
        return self.merge_branches(c, bt, be, [a], [b], e)[0]

    # ---------------------------------------------------------------- attributes
    def attribute(self, obj: Any, name: str, node: ast.AST) -> Any:
        if isinstance(obj, Undefined):
            raise self.script_error(obj.why, node)
        if isinstance(obj, np.ndarray) and name in ("shape", "ndim", "dtype", "size", "T"):
            return getattr(obj, name)
        if isinstance(obj, Value):
            t = obj.type
            if name in ("shape", "ndim", "size", "dtype"):
                if self.typed:
                    assert t.shape is not None
                    if name == "shape":
                        return ShapeTuple(t.shape, obj.hint)
                    return {"ndim": len(t.shape), "size": t.size, "dtype": t.dtype}[name]
                return self.op({"dtype": "dtype_of"}.get(name, name), [obj])
            if name == "T":
                return self.op("transpose", [obj])
            if name in ("itemsize", "nbytes"):
                if not self.typed:
                    return self.opaque(name, [obj])
                return t.dtype.itemsize * (t.size if name == "nbytes" else 1)  # type: ignore
            if name == "real" and (not self.typed or t.dtype.kind != "c"):  # type: ignore
                return obj
            from .calls import is_method
            if is_method(name):
                return BoundMethod(obj, name)
            raise self.script_error(f"array attribute .{name} is not supported", node,
                                    f"attribute {name}")
        if is_scalar(obj) and name in ("shape", "ndim", "dtype", "size", "T", "real"):
            return getattr(np.asarray(obj), name) if name != "T" else obj
        if is_scalar(obj) or isinstance(obj, np.ndarray):
            from .calls import is_method
            if is_method(name):
                return BoundMethod(obj, name)
            try:
                return getattr(obj, name)  # a compile-time value's attribute (x.itemsize)
            except AttributeError:
                raise self.script_error(f"{_describe(obj)} has no attribute {name!r}",
                                        node) from None
        try:
            return getattr(obj, name)
        except AttributeError:
            raise self.script_error(f"{_describe(obj)} has no attribute {name!r}", node
                                    ) from None

    # ---------------------------------------------------------------- subscripts
    def subscript(self, e: ast.Subscript) -> Any:
        obj = self.ev(e.value)
        if isinstance(obj, (tuple, list)):
            idx = self.ev(e.slice) if not isinstance(e.slice, ast.Slice) else slice(
                *[None if x is None else self.static_attr(self.ev(x), "slice bound")
                  for x in (e.slice.lower, e.slice.upper, e.slice.step)])
            if isinstance(idx, Value):
                if not self.typed:
                    return self.op("getitem", [self.as_value(obj), idx],
                                   {"index": (("value",),)})
                raise self.type_error("indexing a tuple needs a compile-time index")
            try:
                return obj[idx]
            except (IndexError, TypeError) as ex:
                of = getattr(obj, "of", None)
                if of is not None:
                    raise self.type_error(f"{of}.shape[{idx}]: {of} has {len(obj)} dimension(s) "
                                          f"(shape {tuple(obj)})", arg=of) from None
                raise self.type_error(str(ex)) from None
        x = self.as_value(obj)
        parts = list(e.slice.elts) if isinstance(e.slice, ast.Tuple) else [e.slice]
        index: list[tuple[Any, ...]] = []
        dyn: list[Value] = []
        windows: list[tuple[int, Value, int]] = []  # (axis, start, length) of x[i:i+L]
        for p in parts:
            if isinstance(p, ast.Slice):
                bounds = []
                for bnd in (p.lower, p.upper, p.step):
                    v = None if bnd is None else self.ev(bnd)
                    bounds.append(v.item() if isinstance(v, np.generic) else v)
                if self.typed and any(isinstance(v, Value) for v in bounds):
                    window = self.window(p, bounds)
                    windows.append((len(index), window[0], window[1]))
                    index.append(("slice", None, None, None))
                    continue
                index.append(("slice", *bounds))
                continue
            v = self.ev(p)
            if v is None:
                index.append(("none",))
            elif v is Ellipsis:
                index.append(("ellipsis",))
            elif isinstance(v, (bool, np.bool_)):
                raise self.type_error("indexing with a boolean scalar is not supported")
            elif isinstance(v, (int, np.integer)):
                index.append(("int", int(v)))
            else:
                index.append(("value",))
                dyn.append(self.as_value(v))
        if windows and any(e[0] != "slice" for e in index):
            raise self.type_error("a slice with run-time bounds can only be combined with "
                                  "other slices in one subscript")
        r = self.op("getitem", [x, *dyn], {"index": tuple(index)})
        for axis, start, length in windows:
            # x[i:i+L] is x[i + arange(L)] along that axis: a static shape, bounds-checked
            idx = self.op("add", [start, self.op("arange", [], {"stop": length})])
            full = (("slice", None, None, None),) * axis
            r = self.op("getitem", [r, idx], {"index": full + (("value",),)})
        return r

    def window(self, p: ast.Slice, bounds: list[Any]) -> tuple[Value, int]:
        """A slice with run-time bounds whose length is static (`x[i:i+L]`, `x[t-w:t]`):
        (start, length). Anything else would give a data-dependent shape."""
        lo_b, hi_b, step = bounds
        lo_base, lo_c = self._affine(p.lower)
        hi_base, hi_c = self._affine(p.upper)
        if step not in (None, 1) or lo_base is None or lo_base != hi_base or hi_c < lo_c:
            for v in bounds:
                if isinstance(v, Value):
                    self.need_static(v)
            raise self.type_error("slice bounds must be compile-time constants, or a run-time "
                                  "start with a fixed length (x[i:i + n]): other run-time bounds "
                                  "would make the shape dynamic")
        return self.as_value(lo_b), hi_c - lo_c

    def _affine(self, e: ast.expr | None) -> tuple[str | None, int]:
        """e as (the text of its run-time part, a static integer offset): `i + 2` ->
        ("i", 2), `t - w` with w static -> ("t", -w)."""
        if e is None:
            return None, 0
        if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
            r = self._static_int(e.right)
            if r is not None:
                base, c = self._affine(e.left)
                return base, c + (r if isinstance(e.op, ast.Add) else -r)
            left = self._static_int(e.left)
            if left is not None and isinstance(e.op, ast.Add):
                base, c = self._affine(e.right)
                return base, c + left
        return ast.dump(e), 0

    def _static_int(self, e: ast.expr) -> int | None:
        if not isinstance(e, (ast.Constant, ast.Name, ast.Attribute, ast.Subscript,
                              ast.BinOp, ast.UnaryOp)):
            return None
        try:
            v = self.ev(e)
        except (ScriptError, JitTypeError):
            return None
        return int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else None

    # ---------------------------------------------------------------- calls
    def call(self, e: ast.Call) -> Any:
        f = self.ev(e.func)
        args = []
        for a in e.args:
            if isinstance(a, ast.Starred):
                raise self.script_error("*args in calls are not supported", a, "*args")
            args.append(self.ev(a))
        kwargs = {}
        for k in e.keywords:
            if k.arg is None:
                raise self.script_error("**kwargs in calls are not supported", k, "**kwargs")
            kwargs[k.arg] = self.ev(k.value)
        self.at(e)
        return self.call_value(f, args, kwargs, e)

    def call_value(self, f: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        from .calls import SPECIAL, call_method
        if isinstance(f, BoundMethod):
            return call_method(self, f.obj, f.name, args, kwargs, node)
        special = SPECIAL.get(id(f))
        if special is not None:
            return special(self, args, kwargs, node)
        opdef = lookup_py(f)
        if opdef is not None:
            return self.call_op(opdef, args, kwargs, f, node)
        from ..api import CustomVJP, GradFunction, ScriptFunction
        if isinstance(f, CustomVJP):
            return self.call_custom(f, args, kwargs, node)
        if isinstance(f, GradFunction):
            return self.call_grad(f, args, kwargs, node)
        if isinstance(f, ScriptFunction):
            return self.inline(f.fn, args, kwargs, node)
        if isinstance(f, type) and issubclass(f, np.generic):
            from .calls import dtype_call
            return dtype_call(self, np.dtype(f), args, kwargs)
        if inspect.isfunction(f):
            mod = getattr(f, "__module__", "") or ""
            if mod.split(".")[0] in ("numpy", "scipy", "math", "jitgraph"):
                raise self.script_error(f"{mod}.{f.__name__} is not supported in scripted "
                                        "functions", node, "call")
            return self.inline(f, args, kwargs, node)
        if getattr(f, "__module__", None) == "math" and callable(f):
            return self.call_math(f, args, kwargs, node)
        raise self.script_error(f"call to {_describe(f)} is not supported", node, "call")

    def call_math(self, f: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST
                  ) -> Any:
        """math.f: evaluated now on compile-time values (math.sqrt(x.shape[-1])); on a
        run-time scalar, the NumPy ufunc of the same name, giving a Python float."""
        if all(is_static(a) for a in args) and all(is_static(v) for v in kwargs.values()):
            try:
                return f(*args, **kwargs)
            except (ValueError, TypeError, OverflowError) as e:
                raise self.type_error(f"math.{f.__name__}: {e}") from None
        if not self.typed:
            return self.opaque(f"math.{f.__name__}", args)
        opdef = lookup_py(getattr(np, f.__name__, None))
        vals = [self.as_value(a) for a in args]
        if opdef is None or kwargs or any(v.type.shape != () for v in vals):
            raise self.script_error(f"math.{f.__name__} of a run-time value is not supported; "
                                    "use the NumPy function", node, "call")
        r = self.op(opdef.name, vals)
        return self.op("cast", [r], {"dtype": np.dtype(np.float64), "weak": True})

    def opaque(self, label: str, args: Sequence[Any]) -> Value:
        """Generic graphs only: a call whose meaning depends on facts known at
        specialization (math.sqrt(x.shape[-1])); shown as one node."""
        vals = [self.as_value(a) for a in args if not isinstance(a, (str, type(None)))]
        return self.b.node("pycall", vals, {"fn": label}, [UNKNOWN], loc=self.loc).out

    def call_op(self, opdef: OpDef, args: list[Any], kwargs: dict[str, Any], f: Any,
                node: ast.AST) -> Any:
        inputs, attrs = bind_op(self, opdef, args, kwargs)
        if opdef.elementwise and not attrs:
            r = self.apply(opdef, inputs, None, pyfunc=f)
        else:
            r = self.op(opdef.name, inputs, attrs)
        if isinstance(r, Value) and r.type.weak:
            # np.f(python_scalar) is a NumPy scalar, which NumPy 2 promotes strongly
            r = self.op("cast", [r], {"dtype": r.type.dtype})
        return r

    def inline(self, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
               node: ast.AST) -> Any:
        if self.depth >= MAX_INLINE_DEPTH:
            raise self.script_error(f"calls nested deeper than {MAX_INLINE_DEPTH} (recursion is "
                                    "not supported)", node, "recursion")
        src = checked_source(fn)
        bound = bind_python_args(fn, args, kwargs, self)
        sub = Emitter(src, self.b, self.typed, self.depth + 1, self.prov)
        call_loc = self.loc
        try:
            return sub.emit_function(bound)
        except (JitTypeError, ScriptError) as e:
            if e.args and isinstance(e.args[0], str) and "called from" not in e.args[0]:
                e.args = (f"{e.args[0]}\n  (in {getattr(fn, '__name__', fn)}, called from "
                          f"{call_loc})",) + e.args[1:]
            raise

    def call_grad(self, gf: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        """`jg.grad(f)(...)` inside a scripted function: build f's typed graph for these
        arguments, transform it, and inline the result."""
        target = gf.target
        bound = bind_python_args(target.fn, args, kwargs, self)
        argnums = gf.argnums_tuple
        if not self.typed:
            vals = [self.as_value(a) for a in bound]
            n = self.b.node("grad", vals, {"fn": target.fn.__name__, "argnums": argnums,
                                           "value": gf.with_value},
                            [UNKNOWN] * (len(argnums) + (1 if gf.with_value else 0)),
                            loc=self.loc)
            grads = tuple(n.outputs[-len(argnums):])
            g = grads if isinstance(gf.argnums, tuple) else grads[0]
            return (n.outputs[0], g) if gf.with_value else g
        for i in argnums:
            if i >= len(bound):
                raise self.type_error(f"argnums {i} is out of range for {len(bound)} arguments")
        # Static arguments stay static unless differentiated.
        param_idx = [i for i, a in enumerate(bound) if not is_static(a) or i in argnums]
        vals = [self.as_value(bound[i]) for i in param_idx]
        statics = {i: a for i, a in enumerate(bound) if i not in param_idx}
        gg, tree, _ = gf.function_graph([v.type for v in vals], statics, param_idx,
                                        [self.prov.get(v, frozenset()) for v in vals])
        return tree.build(inline_graph(self.b, gg, vals))


    def call_custom(self, cv: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST
                    ) -> Any:
        """A jg.custom_vjp function: one node holding its typed fwd and bwd graphs."""
        bound = bind_python_args(cv.fn, args, kwargs, self)
        vals = [self.as_value(a) for a in bound]
        name = getattr(cv.fn, "__name__", "custom")
        if cv.fwd is None or cv.bwd is None:
            raise self.script_error(f"custom_vjp function {name!r} has no .defvjp(fwd, bwd)",
                                    node, "custom_vjp")
        if not self.typed:
            return self.b.node("custom_vjp", vals, {"fwd": None, "bwd": None, "name": name},
                               [UNKNOWN], loc=self.loc).out
        fwd, ftree = build_graph(cv.fwd, [v.type for v in vals])
        spec = ftree.spec
        if not (spec[0] == "t" and len(spec[1]) == 2 and spec[1][0][0] == "v"):
            raise self.type_error(f"custom_vjp: {cv.fwd.__name__} must return (out, residuals)"
                                  " with out one array")
        out_t = fwd.results[0].type
        res_types = _spec_types(spec[1][1], fwd)
        ct_t = TensorType(out_t.dtype, out_t.shape)
        bwd, btree = build_graph(cv.bwd, [res_types, ct_t])
        leaves = btree.value_leaves()
        if len(leaves) != len(vals) or leaves != list(range(len(leaves))):
            raise self.type_error(f"custom_vjp: {cv.bwd.__name__} must return one array "
                                  f"cotangent per argument of {name} ({len(vals)})")
        from ..autodiff import custom_vjp
        return custom_vjp(self.b, fwd, bwd, vals, name=name)


def _spec_types(spec: Any, g: Graph) -> Any:
    """The types of an out-tree's leaves, in the tree's own tuple structure."""
    if spec[0] == "v":
        return g.results[spec[1]].type
    if spec[0] in ("t", "l"):
        return tuple(_spec_types(e, g) for e in spec[1])
    raise JitTypeError("custom_vjp residuals must be arrays or numbers computed from the "
                       "arguments")


_MISSING = object()


class NeedStatic(Exception):
    """Raised while specializing: these argument positions must be compile-time values."""

    def __init__(self, indices: frozenset[int]):
        super().__init__(f"arguments {sorted(indices)} are needed at compile time")
        self.indices = indices


class PendingName(Exception):
    """A loop-body name read before its first assignment on some path."""

    def __init__(self, name: str, loc: SourceLoc):
        super().__init__(name)
        self.name = name
        self.loc = loc


class UnresolvedName(ScriptError):
    """A global that does not exist (yet): at decoration it may be defined later in the
    module, so the check is repeated at the first call."""

    def __init__(self, msg: str, loc: SourceLoc, name: str):
        super().__init__(msg, loc, "name")
        self.name = name


def _static_eq(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return bool(np.array_equal(a, b)) and np.asarray(a).dtype == np.asarray(b).dtype
        if isinstance(a, float) and isinstance(b, float):
            if math.isnan(a) or math.isnan(b):
                return math.isnan(a) and math.isnan(b)
            return a == b and math.copysign(1, a) == math.copysign(1, b)
        return bool(a == b)
    except Exception:
        return False


def _describe(x: Any) -> str:
    if isinstance(x, Value):
        return f"a value of type {x.type}"
    if inspect.ismodule(x):
        return f"module {x.__name__}"
    name = getattr(x, "__qualname__", None) or getattr(x, "__name__", None)
    if name:
        mod = getattr(x, "__module__", None)
        return f"{mod}.{name}" if mod and mod != "builtins" else name
    return f"{type(x).__name__} {x!r}"[:80]


def _hint(name: str) -> str:
    """Value names for the IR text: the rewrites' flags (`__break3`) print as `break`."""
    if name.startswith("__"):
        return name.strip("_").rstrip("0123456789_").replace("retval", "ret") or name
    return name


def _read_outside(tree: ast.AST, loop: ast.AST, name: str) -> bool:
    """Whether `name` is read anywhere in the function outside this loop statement."""
    inside = {id(n) for n in ast.walk(loop)}
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
               and id(n) not in inside for n in ast.walk(tree))


def _carriable(x: Any) -> bool:
    return isinstance(x, Value) or is_scalar(x)


def _assigned_names(stmts: Sequence[ast.stmt]) -> set[str]:
    out: set[str] = set()
    for s in stmts:
        for n in ast.walk(s):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.add(n.id)
    return out


def bind_op(em: Emitter, opdef: OpDef, args: list[Any], kwargs: dict[str, Any]
            ) -> tuple[list[Any], dict[str, Any]]:
    """Bind a NumPy-style call to an op: value inputs and static attributes."""
    params = opdef.params
    if len(args) > len(params):
        raise em.type_error(f"{opdef.name}() takes at most {len(params)} positional "
                            f"arguments ({len(args)} given)")
    bound = dict(zip(params, args))
    for k, v in kwargs.items():
        if k in bound:
            raise em.type_error(f"{opdef.name}() got multiple values for argument {k!r}")
        if k not in params:
            raise em.script_error(f"{opdef.name}() does not support the keyword {k!r}")
        bound[k] = v
    in_names = [p for p in params if p not in opdef.attrs and p != "out"]
    if opdef.nin is not None:
        in_names = in_names[:opdef.nin]
    else:
        in_names = in_names[:1]
    inputs: list[Any] = []
    for p in in_names:
        if p not in bound:
            raise em.type_error(f"{opdef.name}() missing required argument {p!r}")
        if opdef.nin is None:
            seq = bound[p]
            if not isinstance(seq, (tuple, list)):
                raise em.type_error(f"{opdef.name}() expects a sequence of arrays")
            inputs.extend(seq)
        else:
            inputs.append(bound[p])
    attrs: dict[str, Any] = {}
    for p, v in bound.items():
        if p in in_names:
            continue
        if p in opdef.attrs:
            attrs[p] = em.static_attr(v, p)
        elif v is not None:
            raise em.script_error(f"{opdef.name}(): argument {p!r} is not supported")
    return inputs, attrs


def bind_python_args(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
                     em: Emitter | None = None) -> list[Any]:
    """Positional list for fn's parameters, defaults filled, as Python binds them."""
    try:
        ba = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as ex:
        if em is not None:
            raise em.type_error(f"{getattr(fn, '__name__', fn)}(): {ex}") from None
        raise
    ba.apply_defaults()
    return list(ba.arguments.values())


def checked_source(fn: Callable[..., Any]) -> FunctionSource:
    src = function_source(fn)
    if not getattr(src, "_checked", False):
        check_function(src)
        src._checked = True  # type: ignore[attr-defined]
    return src


def build_graph(fn: Callable[..., Any], types: Sequence[TensorType] | None,
                statics: dict[int, Any] | None = None,
                param_indices: Sequence[int] | None = None,
                name: str | None = None,
                param_prov: Sequence[frozenset[int]] | None = None) -> tuple[Graph, OutTree]:
    """The IR of fn: generic when `types` is None, else typed for those parameter types.
    `statics` maps positional indices to compile-time values (static_argnums);
    `param_indices` says which positions the graph params stand for."""
    src = checked_source(fn)
    fdef = src.tree
    names = [a.arg for a in fdef.args.posonlyargs + fdef.args.args]
    statics = statics or {}
    if param_indices is None:
        param_indices = [i for i in range(len(names)) if i not in statics]
    typed = types is not None
    # A parameter's type may be a tuple of types (custom_vjp residuals): a tuple argument,
    # one graph param per leaf.
    leaves: list[Value] = []

    def make(t: Any, name: str) -> Any:
        if isinstance(t, tuple):
            return tuple(make(e, f"{name}{k}") for k, e in enumerate(t))
        v = Value(t, name)
        leaves.append(v)
        return v
    arg_vals = [make(types[j] if typed else UNKNOWN, names[i])  # type: ignore[index]
                for j, i in enumerate(param_indices)]
    params = list(leaves)
    b = Builder(Block(params), src.loc(fdef))
    em = Emitter(src, b, typed)
    if typed:
        for j, (i, p) in enumerate(zip(param_indices, arg_vals)):
            if not isinstance(p, Value):
                continue
            src_prov = param_prov[j] if param_prov is not None else frozenset({i})
            if src_prov and p.type.weak and p.type.dtype.kind in "bi":  # type: ignore
                em.prov[p] = src_prov
    args: list[Any] = []
    pv = dict(zip(param_indices, arg_vals))
    for i in range(len(names)):
        if i in pv:
            args.append(pv[i])
        else:
            args.append(NoneArg(names[i]) if statics[i] is None else statics[i])
    result = em.emit_function(args)
    flat = []
    for leaf in _leaves(result):
        if isinstance(leaf, Undefined):
            raise em.script_error(leaf.why)
    flat, tree = flatten_result(result)
    b.block.results = flat
    g = Graph(name or fn.__name__, b.block, [p.hint or "arg" for p in params], src.loc(fdef))
    return g, tree


def _leaves(x: Any) -> list[Any]:
    if isinstance(x, (tuple, list)):
        return [y for e in x for y in _leaves(e)]
    return [x]


__all__ = ["Emitter", "OutTree", "build_graph", "Node", "UnresolvedName", "bind_python_args",
           "type_of_python"]
