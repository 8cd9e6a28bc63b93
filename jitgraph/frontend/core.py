"""The emitter's state and the helpers every part of it uses: locations and errors, turning
EnvVals into IR Values (`as_value`, `op`, `truth`), compile-time attributes
(`static_attr`, `need_static`), name lookup, and building in a given block. The parts
that walk the AST (statements.py, loops.py, expressions.py, subscripts.py, dispatch.py)
are subclasses of EmitterCore, combined into `emit.Emitter`.
"""
from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import JitTypeError, ScriptError, SourceLoc
from ..ir.graph import Builder, Value
from ..ops import OPS, OpDef
from ..types import UNKNOWN, TensorType, known_dtype
from .ownership import Ownership
from .source import FunctionSource
from .values import (
    NeedStatic,
    NoneArg,
    PendingName,
    Returned,
    Undefined,
    UnresolvedName,
    _describe,
    is_scalar,
    is_static,
)


class EmitterCore:
    """State of one function body's emission, and the value helpers. Inlined calls get an
    Emitter of their own that shares the builder."""

    def __init__(self, src: FunctionSource, b: Builder, typed: bool, depth: int = 0,
                 prov: dict[Value, frozenset[int]] | None = None,
                 own: Ownership | None = None):
        self.src = src
        # which arrays `x[i] = v` may write into (see ownership.py); shared with inlined
        # helpers, whose parameters (self.params) are never writable
        self.own = Ownership() if own is None else own
        self.params: set[Value] = set()
        # the dict arguments (pytrees) by identity -> their parameter names, for errors
        self.dict_args: dict[int, str] = {}
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
        # A nested def's emitter reads the names it does not bind from the emitter of the
        # function around it (`outer`), at call time; `local_names` are the ones it binds.
        self.outer: EmitterCore | None = None
        self.local_names: frozenset[str] | None = None
        # Run-time conditions the code being emitted depends on (an If's condition, a
        # loop's trip count, None when unknown): a `raise` under any of them cannot be
        # decided at compile time; False marks a loop body that never runs. Inlined calls
        # start with their caller's.
        self.guards: list[Value | bool | None] = []
        # the nested defs being inlined right now (recursion among them is refused)
        self.active: frozenset[int] = frozenset()

    # ---------------------------------------------------------------- errors, locations
    def at(self, node: ast.AST) -> None:
        self.loc = self.src.loc(node)
        self.b.loc = self.loc

    def script_error(self, msg: str, node: ast.AST | None = None,
                     construct: str | None = None) -> ScriptError:
        return ScriptError(msg, self.src.loc(node) if node is not None else self.loc, construct)

    def type_error(self, msg: str, arg: str | None = None) -> JitTypeError:
        return JitTypeError(msg, self.loc, arg)

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
        if isinstance(x, dict) and self.typed:
            arg = self.dict_args.get(id(x))
            of = f"argument {arg!r}, " if arg else ""
            raise self.type_error(f"expected an array or a number for {what}, got {of}a dict: "
                                  "a dict is a pytree of values (index it, pass it to "
                                  "functions, return it); a loop cannot carry one, so keep "
                                  "its entries in separate variables there", arg=arg)
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
        self.own.made(name, vals, r)
        if self.typed and name in _INT_CASTING and r.type.dtype.kind in "iu":  # type: ignore
            _check_int_literals(self.b.block.nodes, vals, r.type.dtype)
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
        if self.outer is not None:
            if self.local_names is not None and name in self.local_names:
                raise self.script_error(f"local variable {name!r} is read before it is "
                                        "assigned", node)
            v = self.outer.lookup_free(name, node)
            if isinstance(v, Value):
                self.params.add(v)  # the enclosing function still sees it: never writable
            return v
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise UnresolvedName(f"name {name!r} is not defined", self.src.loc(node), name)

    def lookup_free(self, name: str, node: ast.AST) -> Any:
        """A name a nested def reads from this (its enclosing) function, now: Python's
        closures see the variable's current value. A local of this function that is
        not bound yet is an error here, as in Python (no fallback to a global)."""
        if name not in self.env and name not in self.fillable and \
                name in self.scope_locals():
            raise ScriptError(f"the nested function reads {name!r}, which the enclosing "
                              f"function {self.src.tree.name!r} has not assigned yet at the "
                              "call", self.src.loc(node), "name")
        return self.lookup(name, node)

    def scope_locals(self) -> frozenset[str]:
        if self.local_names is None:
            self.local_names = bound_names(self.src.tree)
        return self.local_names

    # ---------------------------------------------------------------- building in a block
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

    def zeros(self, t: TensorType) -> Value:
        if not t.known:
            return self.b.const(0.0, UNKNOWN)
        if t.weak:
            return self.b.const({"b": False, "i": 0, "f": 0.0, "c": 0j}[known_dtype(t).kind], t)
        return self.op("zeros", [], {"shape": t.shape, "dtype": t.dtype})

    def _and(self, a: Any, b: Any) -> Any:
        if not isinstance(a, Value):
            return b if a else False
        if not isinstance(b, Value):
            return a if b else False
        return self.op("logical_and", [a, b])

    def opaque(self, label: str, args: Sequence[Any]) -> Value:
        """Generic graphs only: a call whose meaning depends on facts known at
        specialization (math.sqrt(x.shape[-1])); shown as one node."""
        vals = [self.as_value(a) for a in args if not isinstance(a, (str, type(None)))]
        return self.b.node("pycall", vals, {"fn": label}, [UNKNOWN], loc=self.loc).out

    # ---------------------------------------------------------------- defined by the parts
    if TYPE_CHECKING:  # NOTE: for the type checker only; emit.Emitter inherits them all
        def ev(self, e: ast.expr) -> Any: ...

        def binop(self, optype: type, a: Any, b: Any, node: ast.AST) -> Any: ...

        def emit_stmts(self, stmts: Sequence[ast.stmt]) -> Returned | None: ...

        def assign(self, t: ast.expr, val: Any) -> None: ...

        def index_entries(self, sl: ast.expr) -> tuple[tuple[tuple[Any, ...], ...],
                                                       list[Value],
                                                       list[tuple[int, Value, int]]]: ...

        def window_index(self, start: Value, length: int, of: Value, axis: int) -> Value: ...

        def emit_for(self, s: ast.For) -> None: ...

        def emit_while(self, s: ast.While) -> None: ...

        def merge_branches(self, cond: Value, bt: Builder, be: Builder, ta: list[Any],
                           ea: list[Any], node: ast.AST) -> list[Any]: ...

        def call(self, e: ast.Call) -> Any: ...

        def subscript(self, e: ast.Subscript) -> Any: ...

        def comprehension(self, e: ast.ListComp | ast.GeneratorExp | ast.DictComp
                          ) -> list[Any] | dict[Any, Any]: ...

        def dict_key(self, k: Any, node: ast.AST) -> Any: ...

        def dict_item(self, d: dict[Any, Any], key: Any, node: ast.expr) -> Any: ...

        def elements(self, elts: list[ast.expr]) -> tuple[list[Any], bool]: ...

        def starred(self, e: ast.Starred) -> tuple[list[Any], bool]: ...

        def fstring(self, e: ast.JoinedStr) -> str: ...


# ufuncs that convert a Python int operand to the integer result type (NumPy 2 raises
# OverflowError when it does not fit; comparisons, where and clip do not convert)
_INT_CASTING = frozenset({"add", "sub", "mul", "floordiv", "mod", "pow", "bitwise_and",
                          "bitwise_or", "bitwise_xor", "maximum", "minimum"})


def _check_int_literals(nodes: Sequence[Any], vals: Sequence[Value], dtype: Any) -> None:
    """`u8 + 300`: NumPy's OverflowError at compile time, where the int is a literal (an
    int argument's value is not known until the call)."""
    weak = [v for v in vals if v.type.weak and v.type.dtype.kind in "iu"]  # type: ignore
    if not weak:
        return
    info = np.iinfo(dtype)
    for n in reversed(nodes):
        if n.op == "constant" and n.outputs[0] in weak:
            k = int(n.attrs["value"])
            if not info.min <= k <= info.max:
                raise OverflowError(f"Python integer {k} out of bounds for {np.dtype(dtype)}")


def bound_names(fdef: ast.FunctionDef) -> frozenset[str]:
    """The names a function binds (its locals, in Python's sense): parameters, assignment
    and loop targets, nested defs. Names bound inside nested defs and comprehensions
    belong to those scopes."""
    a = fdef.args
    out = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
    stack: list[ast.AST] = list(fdef.body)
    while stack:
        n = stack.pop()
        if isinstance(n, ast.FunctionDef):
            out.add(n.name)
            stack.extend(n.args.defaults)  # evaluated in this scope
            continue
        if isinstance(n, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
            stack.append(n.generators[0].iter)  # the rest runs in the comprehension's scope
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        stack.extend(ast.iter_child_nodes(n))
    return frozenset(out)
