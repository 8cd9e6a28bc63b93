"""Calls the op table cannot bind by itself: Python builtins, NumPy functions whose
arguments need reshaping into an op (np.dot, np.clip with None, np.outer, ...), dtype
constructors, array methods with NumPy's flexible signatures (x.reshape(2, 3)), and
jg.grad / jg.value_and_grad made inside a scripted function."""
from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.graph import Value
from ..ops import BY_METHOD, OPS
from ..types import known_dtype
from .emit import Emitter, _describe, bind_op, is_scalar, is_static
from .values import _unwrap_none

Handler = Callable[[Emitter, list[Any], dict[str, Any], ast.AST], Any]
SPECIAL: dict[int, Handler] = {}


def special(*fs: Any) -> Callable[[Handler], Handler]:
    def deco(h: Handler) -> Handler:
        for f in fs:
            SPECIAL[id(f)] = h
        return h
    return deco


def _one(em: Emitter, args: list[Any], kwargs: dict[str, Any], what: str) -> Any:
    if len(args) != 1 or kwargs:
        raise em.type_error(f"{what}() takes exactly one argument")
    return args[0]


@special(builtins.range)
def _range(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if all(is_static(a) for a in args):
        return tuple(range(*args))
    if not em.typed:
        return em.opaque("range", args)
    raise em.script_error("range() with run-time bounds is only supported as a for loop's "
                          "iterable", node, "range")


@special(builtins.len)
def _len(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    x = _one(em, args, kwargs, "len")
    if isinstance(x, Value):
        if not em.typed:
            return em.op("getitem", [em.op("shape", [x])], {"index": (("int", 0),)})
        if not x.type.shape:
            raise em.type_error("len() of unsized object (a 0-d array)")
        return x.type.shape[0]
    return len(x)


@special(builtins.abs)
def _abs(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    x = _one(em, args, kwargs, "abs")
    return abs(x) if is_static(x) else em.op("abs", [x])


def _minmax(name: str) -> Handler:
    pyf = getattr(builtins, name)

    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        if kwargs:
            raise em.script_error(f"{name}() keywords are not supported", node)
        items = list(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        if len(items) == 1 and isinstance(items[0], Value):
            raise em.type_error(f"builtin {name}() of an array: use np.{name} or x.{name}()")
        if all(is_static(a) for a in items):
            return pyf(items)
        acc = items[0]
        for x in items[1:]:
            # Python's max(a, b) is b if b > a else a: keep that order for ties and NaN
            c = em.apply(OPS["gt" if name == "max" else "lt"], [x, acc])
            acc = em.op("where", [c, x, acc])
        return acc
    return h


SPECIAL[id(builtins.min)] = _minmax("min")
SPECIAL[id(builtins.max)] = _minmax("max")


def _pycast(kind: type) -> Handler:
    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        x = _one(em, args, kwargs, kind.__name__)
        if is_static(x):
            return kind(x)
        v = em.as_value(x)
        if em.typed and v.type.shape != ():
            if v.type.size != 1:
                raise em.type_error(f"only arrays of size 1 can be converted to Python "
                                    f"{kind.__name__} (got shape {v.type.shape})")
            v = em.op("reshape", [v], {"shape": ()})
        return em.op("cast", [v], {"dtype": np.dtype(kind), "weak": True})
    return h


SPECIAL[id(builtins.float)] = _pycast(float)
SPECIAL[id(builtins.int)] = _pycast(int)
SPECIAL[id(builtins.bool)] = _pycast(bool)


@special(builtins.round)
def _round(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if all(is_static(a) for a in args):
        return round(*args)
    if not em.typed:
        return em.opaque("round", args)
    raise em.script_error("round() of a run-time value: use np.round", node, "round")


def _seq(kind: type) -> Handler:
    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        x = _one(em, args, kwargs, kind.__name__)
        if isinstance(x, (tuple, list)):
            return kind(x)
        if not em.typed:
            return em.opaque(kind.__name__, [x])
        raise em.script_error(f"{kind.__name__}() of an array is not supported", node, "call")
    return h


SPECIAL[id(builtins.list)] = _seq(list)
SPECIAL[id(builtins.tuple)] = _seq(tuple)


@special(builtins.enumerate)
def _enumerate(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    start = kwargs.pop("start", args[1] if len(args) == 2 else 0)
    if len(args) not in (1, 2) or kwargs:
        raise em.type_error("enumerate() takes an iterable and an optional start")
    x = args[0]
    if isinstance(x, dict):
        x = list(x)
    if isinstance(x, (tuple, list)):
        if not isinstance(start, (int, np.integer)):
            raise em.type_error("enumerate() of a tuple: the start must be a compile-time int")
        return tuple(enumerate(x, int(start)))
    from .emit import Enumerated
    return Enumerated(x, start)


@special(builtins.zip)
def _zip(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    args = [list(a) if isinstance(a, dict) else a for a in args]
    if not kwargs and not em.typed and any(isinstance(a, Value) for a in args):
        return em.opaque("zip", args)   # generic graph: maybe tuple arguments (pytrees)
    if kwargs or not all(isinstance(a, (tuple, list)) for a in args):
        raise em.script_error("zip() works on tuples and lists (it is unrolled); for arrays, "
                              "loop over range(len(x))", node, "zip")
    return tuple(zip(*args))


@special(builtins.reversed)
def _reversed(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    x = _one(em, args, kwargs, "reversed")
    if isinstance(x, (tuple, list)):
        return tuple(reversed(x))
    raise em.script_error("reversed() works on range(...) in a for loop and on tuples", node,
                          "reversed")


@special(builtins.sum)
def _sum(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """Python's sum: `start + item0 + item1 + ...` with Python's operators, so
    `sum(x[i] for i in range(n))` keeps NumPy's dtypes. Over an array it adds the rows."""
    if not 1 <= len(args) <= 2 or set(kwargs) - {"start"}:
        raise em.type_error("sum() takes an iterable and an optional start")
    start = args[1] if len(args) > 1 else kwargs.get("start", 0)
    items = args[0]
    if isinstance(items, Value):
        return _sum_rows(em, items, start, node)
    if not isinstance(items, (tuple, list)):
        items = em.items_of(items, "sum()")
    if all(is_static(a) for a in items) and is_static(start):
        return builtins.sum(items, start)
    acc = start
    for x in items:
        acc = em.binop(ast.Add, acc, x, node)
    return acc


def _sum_rows(em: Emitter, x: Value, start: Any, node: ast.AST) -> Any:
    """sum(array) adds its rows: one sum over axis 0. Integers keep their dtype (Python's
    row-by-row `+` wraps around in it, as the cast of the exact sum does)."""
    if em.typed and not x.type.shape:
        raise em.type_error("iteration over a 0-d array", arg=x.hint)
    if em.typed and x.type.shape[0] == 0:  # type: ignore[index]
        return start
    r = em.op("sum", [x], {"axis": 0})
    if em.typed and x.type.dtype.kind in "iu" and (  # type: ignore[union-attr]
            r.type.dtype != x.type.dtype):
        r = em.op("cast", [r], {"dtype": x.type.dtype})
    return em.binop(ast.Add, start, r, node)


def _anyall(name: str) -> Handler:
    pyf = getattr(builtins, name)

    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        x = _one(em, args, kwargs, name)
        if isinstance(x, Value):
            raise em.type_error(f"builtin {name}() of an array: use np.{name}(x) or "
                                f"x.{name}()", arg=x.hint)
        items = list(x) if isinstance(x, (tuple, list)) else em.items_of(x, f"{name}()")
        truths = [em.truth(i) for i in items]  # type: ignore[union-attr]
        if all(not isinstance(t, Value) for t in truths):
            return pyf(truths)
        acc: Any = name == "all"
        for t in truths:
            if not isinstance(t, Value):
                if t != acc:      # a static True in any() / False in all() decides it
                    return t
                continue
            acc = t if not isinstance(acc, Value) else em.op(
                "logical_and" if name == "all" else "logical_or", [acc, t])
        return em.op("cast", [acc], {"dtype": np.dtype(bool), "weak": True})
    return h


SPECIAL[id(builtins.any)] = _anyall("any")
SPECIAL[id(builtins.all)] = _anyall("all")


def _text(kind: Callable[[Any], str]) -> Handler:
    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        x = _one(em, args, kwargs, kind.__name__)
        if not is_static(x):
            raise em.type_error(f"{kind.__name__}() of a run-time value: text exists only in "
                                "a raise's message, built at compile time")
        return kind(_unwrap_none(x))
    return h


SPECIAL[id(builtins.str)] = _text(str)
SPECIAL[id(builtins.repr)] = _text(repr)


@special(np.where)
def _where(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if len(args) + len(kwargs) == 1:
        raise em.script_error("np.where(condition) with one argument returns the indices where "
                              "the condition holds: their number depends on the data (a "
                              "data-dependent shape), which a compiled function cannot have "
                              "(np.nonzero is unsupported for the same reason); use the "
                              "three-argument form np.where(condition, x, y)", node,
                              "np.where with one argument")
    return em.call_op(OPS["where"], args, kwargs, np.where, node)


def _data_dependent(name: str, hint: str) -> Handler:
    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        raise em.script_error(f"np.{name}() gives a result whose shape depends on the data "
                              "(a data-dependent shape), which a compiled function cannot "
                              f"have; {hint}", node, f"np.{name}")
    return h


_MASK_HINT = "use a mask with np.where(condition, x, y) or a masked reduction instead"
for _name in ("nonzero", "argwhere", "flatnonzero"):
    SPECIAL.setdefault(id(getattr(np, _name)), _data_dependent(_name, _MASK_HINT))
SPECIAL.setdefault(id(np.unique), _data_dependent("unique", "compute it eagerly outside"))


@special(builtins.slice)
def _slice(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if kwargs or not 1 <= len(args) <= 3:
        raise em.type_error("slice() takes 1 to 3 positional arguments")
    if not all(is_static(a) for a in args):
        raise em.type_error("slice() bounds must be compile-time constants")
    return slice(*[_unwrap_none(a) for a in args])


@special(builtins.isinstance)
def _isinstance(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    x, t = args
    if isinstance(x, Value) and em.typed and x.type.weak:
        # a Python number argument: int/float/bool/complex by its weak dtype
        kind = {"b": True, "i": 0, "u": 0, "f": 0.0, "c": 0j}[
            x.type.dtype.kind]  # type: ignore[union-attr]
        return isinstance(kind, t)
    if isinstance(x, Value):
        return isinstance(np.ones((), x.type.dtype), t) if em.typed and t is not np.ndarray \
            else t is np.ndarray or (isinstance(t, tuple) and np.ndarray in t)
    return isinstance(x, t)


@special(builtins.print)
def _print(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    raise em.script_error("print() is not supported in scripted functions (run with "
                          "JITGRAPH_DISABLE=1 to debug eagerly)", node, "print")


def dot(em: Emitter, a: Any, b: Any) -> Any:
    va, vb = em.as_value(a), em.as_value(b)
    if not em.typed:
        return em.op("matmul", [va, vb])
    if va.type.ndim == 0 or vb.type.ndim == 0:
        return em.op("mul", [va, vb])
    if va.type.ndim > 2 or vb.type.ndim > 2:
        raise em.type_error(f"np.dot of arrays of {va.type.ndim} and {vb.type.ndim} dimensions "
                            "(more than 2) is not supported; "
                            "use np.matmul / @", arg=va.hint if va.type.ndim > 2 else vb.hint)
    return em.op("matmul", [va, vb])


@special(np.dot)
def _dot(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if len(args) != 2 or kwargs:
        raise em.type_error("np.dot takes two arguments")
    return dot(em, *args)


@special(np.outer)
def _outer(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    a, b = (em.as_value(x) for x in args)
    a = em.op("reshape", [a], {"shape": (-1, 1)})
    b = em.op("reshape", [b], {"shape": (-1,)})
    return em.op("mul", [a, b])


@special(np.clip)
def _clip(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    names = ("a", "a_min", "a_max")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        bound[{"min": "a_min", "max": "a_max"}.get(k, k)] = v
    return clip(em, bound.get("a"), bound.get("a_min"), bound.get("a_max"))


def clip(em: Emitter, x: Any, lo: Any, hi: Any) -> Any:
    if lo is None and hi is None:
        raise em.type_error("clip: one of a_min and a_max must be given")
    if lo is None:
        return em.op("minimum", [x, hi])
    if hi is None:
        return em.op("maximum", [x, lo])
    return em.op("clip", [x, lo, hi])


@special(np.array)
def _array_copy(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """np.array copies (unlike asarray): its result is an array the function owns, which
    item assignment may write into (ownership.py)."""
    x = args[0] if args else kwargs.get("object")
    r = _array(em, args, kwargs, node)
    if r is x:
        return em.op("copy", [r])
    em.own.owned.add(r)
    return r


@special(np.asarray, np.asanyarray, np.ascontiguousarray)
def _array(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    x = args[0] if args else kwargs.get("object", kwargs.get("a"))
    dtype = args[1] if len(args) > 1 else kwargs.get("dtype")
    if is_static(x):
        return em.as_value(np.asarray(x, dtype=dtype))
    v = em.as_value(x)
    if dtype is not None:
        return em.op("cast", [v], {"dtype": em.static_attr(dtype, "dtype")})
    if em.typed and v.type.weak:
        return em.op("cast", [v], {"dtype": v.type.dtype})
    return v


@special(np.ravel)
def _ravel(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return em.op("reshape", [_one(em, args, kwargs, "ravel")], {"shape": (-1,)})


@special(np.shape)
def _shape(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return em.attribute(em.as_value(_one(em, args, kwargs, "shape")), "shape", node)


@special(np.ndim)
def _ndim(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return em.attribute(em.as_value(_one(em, args, kwargs, "ndim")), "ndim", node)


@special(np.size)
def _size(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return em.attribute(em.as_value(_one(em, args, kwargs, "size")), "size", node)


@special(np.swapaxes)
def _swapaxes(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return swapaxes(em, args[0], args[1], args[2])


def swapaxes(em: Emitter, x: Any, a: Any, b: Any) -> Any:
    v = em.as_value(x)
    nd = v.type.ndim
    perm = list(range(nd))
    from .composites import check_axis
    a, b = check_axis(em, a, nd), check_axis(em, b, nd)
    perm[a], perm[b] = perm[b], perm[a]
    return em.op("transpose", [v], {"axes": tuple(perm)})


@special(np.linalg.norm)
def _norm(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    names = ("x", "ord", "axis", "keepdims")
    bound = {**dict(zip(names, args)), **kwargs}
    if bound.get("ord") not in (None, 2, "fro") or (bound.get("ord") == 2 and bound.get(
            "axis") is None and em.typed and em.as_value(bound["x"]).type.ndim != 1):
        raise em.type_error("np.linalg.norm: only the 2-norm / Frobenius norm is supported")
    x = em.as_value(bound["x"])
    cplx = em.typed and known_dtype(x.type).kind == "c"
    sq = em.op("square", [em.op("abs", [x])]) if cplx else em.op("mul", [x, x])
    s = em.op("sum", [sq], {"axis": em.static_attr(bound.get("axis"), "axis"),
                            "keepdims": bool(bound.get("keepdims", False))})
    return em.op("sqrt", [s])


def _grad_maker(with_value: bool) -> Handler:
    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        from ..api import grad, value_and_grad
        from .values import NestedFunction, NestedGrad
        if args and isinstance(args[0], NestedFunction):
            opts = {k: em.static_attr(v, k) for k, v in kwargs.items()}
            argnums = em.static_attr(args[1], "argnums") if len(args) > 1 else \
                opts.pop("argnums", 0)
            if set(opts) - {"output_index"}:
                raise em.type_error(f"jg.grad of a nested function: unsupported options "
                                    f"{sorted(set(opts) - {'output_index'})}")
            return NestedGrad(args[0], tuple(argnums) if isinstance(argnums, (tuple, list))
                              else int(argnums), with_value, int(opts.get("output_index", 0)))
        static_kw = {k: em.static_attr(v, k) for k, v in kwargs.items()}
        static_args = [args[0]] + [em.static_attr(a, "argnums") for a in args[1:]]
        return (value_and_grad if with_value else grad)(*static_args, **static_kw)
    return h


def _register_grad() -> None:
    from .. import api
    SPECIAL[id(api.grad)] = _grad_maker(False)
    SPECIAL[id(api.value_and_grad)] = _grad_maker(True)


_register_grad()


def dtype_call(em: Emitter, dtype: np.dtype, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """np.float32(x): a strong scalar (static when x is) or a cast."""
    x = args[0] if args else 0
    if is_static(x):
        return dtype.type(x)
    return em.op("cast", [x], {"dtype": dtype})


# ---------------------------------------------------------------------- array methods
def _shape_args(args: list[Any]) -> Any:
    if len(args) == 1 and (isinstance(args[0], (tuple, list)) or args[0] is None):
        return args[0]
    for a in args:
        if isinstance(a, (float, np.floating)):  # NumPy does not truncate x.reshape(2.5)
            raise TypeError(f"'{type(a).__name__}' object cannot be interpreted as an integer")
    return tuple(args)


_METHODS = {"reshape", "transpose", "astype", "dot", "clip", "flatten", "ravel", "item",
            "swapaxes", "round"}


def is_method(name: str) -> bool:
    """An ndarray method jitgraph can call (so `x.name` is a bound method, not a value)."""
    return name in _METHODS or name in BY_METHOD


def call_method(em: Emitter, obj: Any, name: str, args: list[Any], kwargs: dict[str, Any],
                node: ast.AST) -> Any:
    if not isinstance(obj, Value):
        if is_scalar(obj) and hasattr(obj, name) and all(is_static(a) for a in args):
            return getattr(obj, name)(*args, **kwargs)
        obj = em.as_value(obj)
    if not em.typed and name in ("items", "keys", "values", "get", "copy"):
        return em.opaque(f".{name}()", [obj])    # generic graph: maybe a dict argument's
    if name == "reshape":
        shape = kwargs.pop("shape", None) if not args else _shape_args(args)
        if kwargs:
            raise em.script_error(f"reshape(): unsupported keywords {sorted(kwargs)}", node)
        return em.op("reshape", [obj], {"shape": em.static_attr(shape, "shape")})
    if name == "transpose":
        axes = _shape_args(args) if args else kwargs.get("axes")
        return em.op("transpose", [obj], {"axes": em.static_attr(axes, "axes") if axes
                                          not in ((), None) else None})
    if name == "astype":
        dtype = args[0] if args else kwargs.get("dtype")
        return em.op("cast", [obj], {"dtype": em.static_attr(dtype, "dtype")})
    if name == "dot":
        return dot(em, obj, args[0])
    if name == "clip":
        lo = args[0] if args else kwargs.get("min", kwargs.get("a_min"))
        hi = args[1] if len(args) > 1 else kwargs.get("max", kwargs.get("a_max"))
        return clip(em, obj, lo, hi)
    if name in ("flatten", "ravel"):
        return em.op("reshape", [obj], {"shape": (-1,)})
    if name == "item":
        kind = obj.type.dtype.kind if em.typed else "f"
        py = {"b": builtins.bool, "i": builtins.int, "u": builtins.int,
              "f": builtins.float}.get(kind)
        if py is None:
            raise em.type_error("item() of a complex value is not supported")
        return SPECIAL[id(py)](em, [obj], {}, node)
    if name == "swapaxes":
        return swapaxes(em, obj, args[0], args[1])
    if name == "round":
        from .composites import round_
        return round_(em, obj, args[0] if args else kwargs.get("decimals", 0))
    opdef = BY_METHOD.get(name)
    if opdef is not None:
        inputs, attrs = bind_op(em, opdef, [obj, *args], kwargs)
        return em.op(opdef.name, inputs, attrs)
    raise em.script_error(f"array method .{name}() is not supported ({_describe(obj)})",
                          node, f"method {name}")


# imported for their side effect: they register their handlers in SPECIAL
from . import composites, composites_einsum, composites_shape  # noqa: F401
