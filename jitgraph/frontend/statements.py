"""Statements: assignment (with tuple unpacking), return, assert, and `if` on a run-time
condition, which becomes an If node whose outputs are the names either branch changed
(equal static values stay static; a name assigned on one path only is Undefined after
the if, or, first assigned in a loop body, zeros on the other path). An `if` on a static
condition emits one branch. Loops are in loops.py.

`raise` is decided at compile time: reached on a path that depends on no run-time value
(`if x.ndim != 2: raise ValueError(f"... {x.shape}")`), the user's exception, built from
static values, is raised while specializing, so every call with that signature raises it
before anything runs; on a path not taken it vanishes; under a run-time condition it is
a JitTypeError (a compiled function cannot raise while it runs). Generic graphs skip it.
A nested `def` binds a NestedFunction (values.py), inlined where it is called.
"""
from __future__ import annotations

import ast
import inspect
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from ..ir.graph import Block, Builder, Value
from ..types import TensorType, join_types
from .core import EmitterCore, bound_names
from .rewrite import always_raises
from .values import (
    NestedFunction,
    PendingName,
    Returned,
    Undefined,
    _carriable,
    _describe,
    _hint,
    _static_eq,
    is_static,
    key_ident,
)

_MISSING = object()


class StatementEmitter(EmitterCore):
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
        if isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Subscript):
            self.assign_item(s.target, self.ev(s.value), type(s.op), s)
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
        if isinstance(s, ast.Raise):
            self.emit_raise(s)
            return None
        if isinstance(s, ast.FunctionDef):
            self.env[s.name] = self.nested_function(s)
            return None
        if isinstance(s, (ast.Pass, ast.Expr)):
            return None
        raise self.script_error(f"unsupported statement {type(s).__name__}", s,
                                type(s).__name__)

    # ---------------------------------------------------------------- raise
    def emit_raise(self, s: ast.Raise) -> None:
        if not self.typed:
            return  # whether it is reached is known only at specialization
        if any(g is False for g in self.guards):
            return  # in a loop body that runs zero times: never reached
        if self.guards:
            for g in self.guards:
                if isinstance(g, Value):
                    self.need_static(g)  # a Python int/bool argument: specialize on it
            raise self.type_error(
                "raise under a condition known only at run time is not supported: a compiled "
                "function cannot raise while it runs. Raise on compile-time facts (x.shape, "
                "x.ndim, x.dtype, static arguments; or assert on them), or handle the case "
                "with np.where")
        exc = self.ev(s.exc)  # type: ignore[arg-type]
        if isinstance(exc, type) and issubclass(exc, BaseException):
            exc = exc()
        if not isinstance(exc, BaseException):
            raise self.type_error(f"exceptions must derive from BaseException, got "
                                  f"{_describe(exc)}")
        if s.cause is not None:
            cause = self.ev(s.cause)
            if isinstance(cause, type) and issubclass(cause, BaseException):
                cause = cause()
            if cause is not None and not isinstance(cause, BaseException):
                raise self.type_error("exception causes must derive from BaseException")
            exc.__cause__ = cause
            exc.__suppress_context__ = True
        fn = getattr(self.src.fn, "__name__", "the function")
        exc.add_note(f"(raised by jitgraph at {self.loc} while compiling {fn!r} for these "
                     "argument types, before anything ran)")
        raise exc

    def nested_function(self, s: ast.FunctionDef) -> NestedFunction:
        """A `def` in the body: its defaults are evaluated now, as Python does; the
        names it reads are looked up when it is called (core.lookup_free)."""
        a = s.args
        positional = a.posonlyargs + a.args
        defaults = [self.ev(d) for d in a.defaults]
        first_default = len(positional) - len(defaults)
        params = []
        for i, p in enumerate(positional):
            kind = (inspect.Parameter.POSITIONAL_ONLY if i < len(a.posonlyargs)
                    else inspect.Parameter.POSITIONAL_OR_KEYWORD)
            default = defaults[i - first_default] if i >= first_default else \
                inspect.Parameter.empty
            params.append(inspect.Parameter(p.arg, kind, default=default))
        return NestedFunction(s, self, inspect.Signature(params), bound_names(s))

    def assign(self, t: ast.expr, val: Any) -> None:
        if isinstance(t, ast.Name):
            if isinstance(val, Value) and val.hint is None:
                val.hint = _hint(t.id)
            self.env[t.id] = val
            return
        if isinstance(t, (ast.Tuple, ast.List)):
            n = len(t.elts)
            if isinstance(val, Value):
                if self.typed and (val.type.shape is None or not val.type.shape
                                   or val.type.shape[0] != n):
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
        if isinstance(t, ast.Subscript):
            self.assign_item(t, val)
            return
        raise self.script_error("unsupported assignment target", t)

    def assign_item(self, t: ast.Subscript, val: Any, aug: type | None = None,
                    node: ast.AST | None = None) -> None:
        """`name[index] = val` (`name[index] op= val` with aug): name is rebound to a
        setitem of its array, which must be one nothing else can see (ownership.py). A
        boolean mask of the array's shape with a scalar value is np.where."""
        if not isinstance(t.value, ast.Name):
            raise self.script_error("item assignment into an expression: assign through a "
                                    "name with one subscript (a[i, j] = v, not a[i][j] = v)",
                                    t, "item assignment")
        name = t.value.id
        cur = self.lookup(name, t.value)
        if isinstance(cur, dict):
            self.assign_entry(name, cur, t, val, aug, node)
            return
        if self.outer is not None and name not in self.env:
            raise self.type_error(f"cannot assign into {name!r}: it is a variable of the "
                                  "enclosing function, and this nested function is inlined "
                                  "with its own copy (the enclosing function would not see "
                                  "the change); return the new array instead", arg=name)
        if isinstance(cur, np.ndarray):
            raise self.type_error(f"cannot assign into {name!r}: it is a global or closure "
                                  "array, which jitgraph cannot track (a compiled function "
                                  f"does not change it); assign into a copy ({name} = "
                                  f"{name}.copy()) first")
        if not isinstance(cur, Value):
            raise self.type_error(f"cannot assign into {name!r}: {_describe(cur)} is not an "
                                  "array")
        if self.typed:
            self._check_writable(name, cur)
        index, dyn, windows = self.index_entries(t.slice)
        if len(windows) > 1:
            raise self.type_error("item assignment takes at most one slice with run-time "
                                  "bounds")
        for axis, start, length in windows:   # out[i:i+L] = v: out[..., i + arange(L)] = v
            index = index[:axis] + (("value",),) + index[axis + 1:]
            dyn = [self.window_index(start, length, cur, axis)]
        mask = dyn[0] if len(dyn) == 1 and index == (("value",),) else None
        if aug is not None and self.typed and mask is not None and \
                mask.type.dtype.kind == "b":  # type: ignore[union-attr]
            # y[mask] op= v (v one value): y op v where the mask holds
            one = self.as_value(val)
            if one.type.shape not in ((), (1,)):
                raise self.type_error("boolean-mask assignment needs one value (y[mask] *= "
                                      "0.5); use np.where for the rest")
            val = self.binop(aug, cur, self.op("reshape", [one], {"shape": ()}), node or t)
        elif aug is not None:
            old = self.op("getitem", [cur, *dyn], {"index": index})
            val = self.binop(aug, old, val, node or t)
        v = self.as_value(val)
        if self.typed and mask is not None and mask.type.dtype.kind == "b":  # type: ignore
            if mask.type.shape != cur.type.shape or v.type.shape not in (
                    (), (1,)) and not (aug is not None and v.type.shape == cur.type.shape):
                # (y[mask] op= v made v op'd with all of y: read at the mask by np.where)
                raise self.type_error("boolean-mask assignment needs a mask of the array's "
                                      f"shape {cur.type.shape} and one value (x[mask] = 0.0); "
                                      "use np.where for the rest")
            vv = v if v.type.shape == cur.type.shape else self.op("reshape", [v], {"shape": ()})
            new = self.op("where", [mask, vv, cur])
            if new.type.dtype != cur.type.dtype:
                new = self.op("cast", [new], {"dtype": cur.type.dtype})
        else:
            new = self.op("setitem", [cur, v, *dyn], {"index": index})
        new.hint = _hint(name)
        self.env[name] = new

    def assign_entry(self, name: str, d: dict[Any, Any], t: ast.Subscript, val: Any,
                     aug: type | None, node: ast.AST | None) -> None:
        """`d[k] = v` on a dict pytree: name is rebound to a new dict with that entry (the
        IR has no mutable containers), so the entry is set on this path only, like every
        other assignment in a branch or a loop body."""
        key = self.dict_key(self.ev(t.slice), t.slice)
        if aug is not None:
            val = self.binop(aug, self.dict_item(d, key, t.value), val, node or t)
        if isinstance(val, Value) and val.hint is None:
            val.hint = f"{name}_{key_ident(key)}"
        self.env[name] = {**d, key: val}

    def _check_writable(self, name: str, cur: Value) -> None:
        fix = (f"; assign into a copy ({name} = {name}.copy()) or build a new array "
               "(np.where, np.concatenate)")
        if cur in self.params or self.own.root(cur) in self.params:
            raise self.type_error(f"cannot assign into {name!r}: it is (a view of) an argument "
                                  "of the function, and a compiled function does not change "
                                  f"its caller's arrays{fix}", arg=name)
        if cur in self.own.view_of:
            others = self.own.holders(self.own.root(cur), self.env, name)
            of = f" ({', '.join(repr(k) for k in others)})" if others else ""
            raise self.type_error(f"cannot assign into {name!r}: it is a view of another "
                                  f"array{of}, which would change too{fix}", arg=name)
        others = self.own.holders(cur, self.env, name)
        if others:
            who = ", ".join(repr(k) for k in others)
            raise self.type_error(f"cannot assign into {name!r}: {who} "
                                  f"{'refers' if len(others) == 1 else 'refer'} to the same "
                                  f"array (or a view of it) and would see the change{fix}",
                                  arg=name)
        if cur not in self.own.owned:
            why = self.own.why.get(cur, "it may share memory with an array jitgraph cannot "
                                        "track (a global or a constant)")
            raise self.type_error(f"cannot assign into {name!r}: {why}{fix}", arg=name)

    # ---------------------------------------------------------------- if / else
    def emit_if(self, s: ast.If) -> Returned | None:
        if not self.typed and (always_raises(s.body) or always_raises(s.orelse)):
            # generic graphs: a branch that raises is decided at specialization (it
            # raises then, or is refused); the graph shows the path that goes on
            return self.emit_stmts(s.orelse if always_raises(s.body) else s.body)
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
            self.guards.append(cond)
            try:
                ret = self.emit_stmts(stmts)
            except PendingName as p:
                # a name first assigned in the enclosing loop, read on this path before
                # any assignment (`if i == 0: acc = x else: acc = acc + x`): learn its
                # type from the other branch, then the loop carries it
                pending, ret = p, None
            finally:
                self.b = saved
                self.guards.pop()
            outs.append((blk, self.env, ret))
            self.at(s)
        self.env = env0
        if pending is not None:
            for blk, env, _ in outs:
                v = env.get(pending.name)
                if _carriable(v) and pending.name not in self.pending_types:
                    self.pending_types[pending.name] = self._in(
                        blk, partial(self.as_value, v)).type
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
                    a = self._in(bt, partial(self.as_value, a))
                    c = self._in(be, partial(self.zeros, a.type))
                else:
                    c = self._in(be, partial(self.as_value, c))
                    a = self._in(bt, partial(self.zeros, c.type))
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
        for k, a, c, v in zip(kept, merged_t, merged_e, results):
            if isinstance(v, Value) and self.own.sole(a, et, k) and self.own.sole(c, ee, k):
                self.own.owned.add(v)   # a fresh array on both paths is fresh after the if
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
        sides: list[tuple[Any, Any]] = []      # each output's values before coercion

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
            if isinstance(a, dict) and isinstance(c, dict):
                if set(a) != set(c):
                    raise self.type_error(f"the branches give dicts with different keys "
                                          f"({sorted(map(repr, a))} and {sorted(map(repr, c))})")
                return ("dict", list(a), [leaf(a[k], c[k]) for k in a])
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
            sides.append((a, c))
            out_types.append(t)
            return ("out", len(res_t) - 1)

        specs = [leaf(a, c) for a, c in zip(ta, ea)]
        bt.block.results = res_t
        be.block.results = res_e
        n = self.b.node("if", [cond], None, out_types, [bt.block, be.block], loc=self.loc)
        made_t = {o for m in bt.block.nodes for o in m.outputs}
        made_e = {o for m in be.block.nodes for o in m.outputs}
        self.own.merged(n.outputs, [([a for a, _ in sides], made_t),
                                    ([c for _, c in sides], made_e)])

        def build(sp: Any) -> Any:
            if sp[0] == "same":
                return sp[1]
            if sp[0] == "tuple":
                return tuple(build(e) for e in sp[1])
            if sp[0] == "dict":
                return {k: build(e) for k, e in zip(sp[1], sp[2])}
            return n.outputs[sp[1]]
        return [build(sp) for sp in specs]
