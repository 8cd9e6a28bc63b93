"""Expressions: names, literals, operators (folded with Python's own semantics when both
sides are static), `and`/`or`/`not` and chained comparisons, conditional expressions (an
If node on a run-time condition) and attributes (`x.shape` is static in typed mode, a
node in generic graphs); f-strings (only in a raise's message, formatted at compile
time). Subscripts are in subscripts.py, calls in dispatch.py, comprehensions and `*x` in
displays in comprehensions.py.
"""
from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..ir.graph import Block, Builder, Value
from ..ops import lookup_py
from .core import EmitterCore
from .values import (
    BoundMethod,
    ShapeTuple,
    Undefined,
    _describe,
    _unwrap_none,
    is_scalar,
    is_static,
)

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


_DICT_METHODS = ("items", "keys", "values", "get", "copy")


class ExpressionEmitter(EmitterCore):
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
            items, unknown = self.elements(e.elts)
            # generic graphs: (*x.shape, 2) is not known yet; one node stands for it
            return self.opaque("tuple", items) if unknown else tuple(items)
        if isinstance(e, ast.List):
            return self.elements(e.elts)[0]
        if isinstance(e, (ast.ListComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(e)
        if isinstance(e, ast.Dict):
            return self.dict_display(e)
        if isinstance(e, ast.JoinedStr):
            return self.fstring(e)
        if isinstance(e, ast.BinOp):
            return self.binop(type(e.op), self.ev(e.left), self.ev(e.right), e)
        if isinstance(e, ast.UnaryOp):
            x = self.ev(e.operand)
            if isinstance(e.op, ast.Not):
                t = self.truth(x)
                if not isinstance(t, Value):
                    return not t
                # Python's `not` gives a Python bool, whatever the operand's type
                return self.op("cast", [self.op("logical_not", [t])],
                               {"dtype": np.dtype(bool), "weak": True})
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

    def dict_display(self, e: ast.Dict) -> dict[Any, Any]:
        """{k: v, **d}: a Python dict of values (a pytree, like a tuple), its keys known at
        compile time."""
        out: dict[Any, Any] = {}
        for k, v in zip(e.keys, e.values):
            if k is None:
                d = self.ev(v)
                if isinstance(d, Value) and not self.typed:
                    d = {d: d}          # generic graph: entries not known yet, one shown
                if not isinstance(d, dict):
                    raise self.type_error(f"**{ast.unparse(v)}: {_describe(d)} is not a dict")
                out.update(d)
                continue
            out[self.dict_key(self.ev(k), k)] = self.ev(v)
        return out

    def dict_key(self, k: Any, node: ast.AST) -> Any:
        if isinstance(k, Value) and not self.typed:
            return k      # a generic graph shows the structure: the value stands for a key
        if not is_static(k) or isinstance(k, (list, dict)):
            raise self.type_error(f"dict keys must be known at compile time (a string, a "
                                  f"number or a tuple of them), got {_describe(k)}")
        return k

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
        seqs = (tuple, list)
        if f is operator.add and isinstance(a, seqs) and isinstance(b, seqs):
            if isinstance(a, list) != isinstance(b, list):
                raise self.type_error(f"can only concatenate {type(a).__name__} (not "
                                      f"\"{type(b).__name__}\") to {type(a).__name__}")
            return type(a)(list(a) + list(b)) if isinstance(a, list) else tuple(a) + tuple(b)
        if f is operator.mul and (isinstance(a, seqs) and isinstance(b, (int, np.integer))
                                  or isinstance(b, seqs) and isinstance(a, (int, np.integer))):
            seq, k = (a, b) if isinstance(a, seqs) else (b, a)
            return seq * int(k)  # type: ignore[operator,arg-type]
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
            # nxt runs only on the paths Python runs it on (`i < n and x[i] > 0` must not
            # index x when i >= n): it is the branch of an if on t
            bt, be = Builder(Block(), self.loc), Builder(Block(), self.loc)
            self.guards.append(t)
            try:
                r = self._in(bt if is_and else be, partial(self._truth_of, nxt))
            finally:
                self.guards.pop()
            if not isinstance(r, Value):
                if is_and:
                    acc = t if r else False
                else:
                    acc = True if r else t
                continue
            then, other = (r, False) if is_and else (True, r)
            acc = self.merge_branches(t, bt, be, [then], [other], e)[0]
        return acc

    def _truth_of(self, e: ast.expr) -> Any:
        return self.truth(self.ev(e))

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
            elif isinstance(opnode, (ast.In, ast.NotIn)) and isinstance(right, dict) \
                    and is_static(left):
                r = (left in right) == isinstance(opnode, ast.In)   # a key of a dict pytree
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
        self.guards.append(c)
        try:
            a = self._in(bt, lambda: self.ev(e.body))
            b = self._in(be, lambda: self.ev(e.orelse))
        finally:
            self.guards.pop()
        return self.merge_branches(c, bt, be, [a], [b], e)[0]

    def fstring(self, e: ast.JoinedStr) -> str:
        """An f-string (allowed in a raise's message, check.py): formatted now, so every
        value it shows must be known at compile time."""
        parts: list[str] = []
        for v in e.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
                continue
            assert isinstance(v, ast.FormattedValue)
            x = self.ev(v.value)
            if not is_static(x):
                for leaf in (x if isinstance(x, (tuple, list)) else [x]):
                    if isinstance(leaf, Value):
                        self.need_static(leaf)
                raise self.type_error(f"the f-string shows {{{ast.unparse(v.value)}}}, a "
                                      "run-time value; a raise's message is built at compile "
                                      "time, from shapes, dtypes, literals and static "
                                      "arguments")
            x = _unwrap_none(x)
            if v.conversion == ord("r"):
                x = repr(x)
            elif v.conversion == ord("s"):
                x = str(x)
            elif v.conversion == ord("a"):
                x = ascii(x)
            spec = self.ev(v.format_spec) if v.format_spec is not None else ""
            parts.append(format(x, spec))
        return "".join(parts)

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
            if is_method(name) or not self.typed and name in _DICT_METHODS:
                return BoundMethod(obj, name)   # (generic graphs: maybe a dict argument)
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
