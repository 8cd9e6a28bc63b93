"""NumPy functions that are compositions of ops, written once here the way jax.numpy
builds on lax: np.round with decimals, hstack/vstack, flip, triu/tril, diff, moveaxis,
logaddexp, count_nonzero, the nan-reductions, fmax/fmin, hypot, trace/diag,
isclose/allclose. They add no op, so autodiff and every backend get them for free."""
from __future__ import annotations

import ast
from typing import Any

import numpy as np

from ..ir.graph import Value
from .calls import SPECIAL, Handler, special
from .emit import Emitter, is_static


def _bound(names: tuple[str, ...], defaults: dict[str, Any], args: list[Any],
           kwargs: dict[str, Any], em: Emitter, fname: str) -> dict[str, Any]:
    if len(args) > len(names):
        raise em.type_error(f"{fname}() takes at most {len(names)} arguments")
    out = {**defaults, **dict(zip(names, args))}
    for k, v in kwargs.items():
        if k not in names:
            raise em.script_error(f"{fname}() does not support the keyword {k!r}")
        out[k] = v
    return out


def _val(em: Emitter, x: Any) -> Value:
    return em.as_value(x)


def _kind(em: Emitter, v: Value) -> str:
    return v.type.dtype.kind if em.typed else "f"  # type: ignore[union-attr]


def round_(em: Emitter, x: Any, decimals: Any = 0) -> Any:
    """NumPy's algorithm: rint(x * 10**d) / 10**d for floats; ints are exact already."""
    d = em.static_attr(decimals, "decimals")
    v = _val(em, x)
    if _kind(em, v) in "iub":
        if d >= 0:
            return em.op("copy", [v])
        scale = float(10 ** (-d))  # half to even, as NumPy rounds integers
        q = em.op("rint", [em.op("div", [v, scale])])
        return em.op("cast", [em.op("mul", [q, scale])], {"dtype": v.type.dtype})
    if d == 0:
        return em.op("rint", [v])
    scale = 10.0 ** d
    return em.op("div", [em.op("rint", [em.op("mul", [v, scale])]), scale])


@special(np.round, np.around)
def _round(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "decimals"), {"decimals": 0}, args, kwargs, em, "round")
    return round_(em, b["a"], b["decimals"])


def _ndim(em: Emitter, v: Value) -> int:
    if not em.typed:
        return 2
    return v.type.ndim


@special(np.hstack)
def _hstack(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    vals = [_val(em, x) for x in args[0]]
    axis = 0 if all(_ndim(em, v) == 1 for v in vals) else 1
    return em.op("concatenate", vals, {"axis": axis})


@special(np.vstack)
def _vstack(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    vals = [atleast_2d(em, _val(em, x)) for x in args[0]]
    return em.op("concatenate", vals, {"axis": 0})


@special(np.column_stack)
def _column_stack(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    vals = [_val(em, x) for x in args[0]]
    vals = [em.op("reshape", [v], {"shape": (-1, 1)}) if _ndim(em, v) == 1 else v
            for v in vals]
    return em.op("concatenate", vals, {"axis": 1})


def atleast_2d(em: Emitter, v: Value) -> Value:
    nd = _ndim(em, v)
    if nd >= 2:
        return v
    return em.op("reshape", [v], {"shape": (1, -1) if nd == 1 else (1, 1)})


@special(np.atleast_2d)
def _atleast_2d(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return atleast_2d(em, _val(em, args[0]))


def _axes(em: Emitter, axis: Any, nd: int) -> tuple[int, ...]:
    axis = em.static_attr(axis, "axis")
    if axis is None:
        return tuple(range(nd))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(check_axis(em, a, nd) for a in axis)


def check_axis(em: Emitter, a: Any, nd: int) -> int:
    """A static axis in range for nd dimensions, normalized (NumPy's AxisError else)."""
    if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
        raise em.type_error(f"an axis must be an integer, got {a!r}")
    if not -nd <= int(a) < nd:
        raise em.type_error(f"axis {int(a)} is out of bounds for array of dimension {nd}")
    return int(a) % nd


def flip(em: Emitter, v: Value, axis: Any = None) -> Value:
    nd = _ndim(em, v)
    axes = _axes(em, axis, nd)
    index = tuple(("slice", None, None, -1) if i in axes else ("slice", None, None, None)
                  for i in range(nd))
    return em.op("getitem", [v], {"index": index})


@special(np.flip)
def _flip(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("m", "axis"), {"axis": None}, args, kwargs, em, "flip")
    return flip(em, _val(em, b["m"]), b["axis"])


@special(np.fliplr)
def _fliplr(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    v = _val(em, args[0])
    if em.typed and _ndim(em, v) < 2:
        raise em.type_error("np.fliplr: input must be >= 2-d")
    return flip(em, v, 1)


@special(np.flipud)
def _flipud(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    v = _val(em, args[0])
    if em.typed and _ndim(em, v) < 1:
        raise em.type_error("np.flipud: input must be >= 1-d")
    return flip(em, v, 0)


def _tri(np_fn: Any) -> Handler:
    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        b = _bound(("m", "k"), {"k": 0}, args, kwargs, em, np_fn.__name__)
        v = _val(em, b["m"])
        k = em.static_attr(b["k"], "k")
        if not em.typed:
            return em.opaque(f"np.{np_fn.__name__}", [v])
        shape = v.type.shape[-2:]  # type: ignore[index]
        mask = np_fn(np.ones(shape, dtype=bool), k)
        return em.op("where", [mask, v, 0])
    return h


SPECIAL[id(np.triu)] = _tri(np.triu)
SPECIAL[id(np.tril)] = _tri(np.tril)


@special(np.diff)
def _diff(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "n", "axis"), {"n": 1, "axis": -1}, args, kwargs, em, "diff")
    v = _val(em, b["a"])
    nd = _ndim(em, v)
    if em.typed and nd == 0:
        raise em.type_error("np.diff requires input that is at least one dimensional")
    axis = check_axis(em, em.static_attr(b["axis"], "axis"), nd) if em.typed else -1
    n = int(em.static_attr(b["n"], "n"))
    if n < 0:
        raise em.type_error(f"np.diff: order must be non-negative but got {n}")
    for _ in range(n):
        hi = tuple(("slice", 1, None, None) if i == axis else ("slice", None, None, None)
                   for i in range(nd))
        lo = tuple(("slice", None, -1, None) if i == axis else ("slice", None, None, None)
                   for i in range(nd))
        upper, lower = em.op("getitem", [v], {"index": hi}), em.op("getitem", [v], {"index": lo})
        v = em.op("logical_xor" if _kind(em, v) == "b" else "sub", [upper, lower])
    return v


@special(np.moveaxis)
def _moveaxis(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "source", "destination"), {}, args, kwargs, em, "moveaxis")
    v = _val(em, b["a"])
    nd = _ndim(em, v)
    src = _axes(em, b["source"], nd)
    dst = _axes(em, b["destination"], nd)
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise em.type_error("np.moveaxis: source and destination must be lists of distinct "
                            "axes of the same length")
    order = [n for n in range(nd) if n not in src]
    for d, s_ in sorted(zip(dst, src)):
        order.insert(d, s_)
    return em.op("transpose", [v], {"axes": tuple(order)})


@special(np.logaddexp)
def _logaddexp(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    a, b = _val(em, args[0]), _val(em, args[1])
    m = em.op("maximum", [a, b])
    d = em.op("neg", [em.op("abs", [em.op("sub", [a, b])])])
    # a == b == ±inf makes a - b nan; NumPy gives m there
    r = em.op("add", [m, em.op("log1p", [em.op("exp", [d])])])
    return em.op("where", [em.op("isnan", [d]), m, r])


@special(np.count_nonzero)
def _count_nonzero(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "axis", "keepdims"), {"axis": None, "keepdims": False}, args, kwargs, em,
               "count_nonzero")
    v = _val(em, b["a"])
    nz = em.op("ne", [v, 0])
    return em.op("sum", [nz], {"axis": em.static_attr(b["axis"], "axis"),
                               "keepdims": bool(em.static_attr(b["keepdims"], "keepdims"))})


def _nanfill(em: Emitter, v: Value, fill: Any) -> Value:
    if _kind(em, v) not in "fc":
        return v
    return em.op("where", [em.op("isnan", [v]), fill, v])


def _nan_reduce(op: str, fill: Any) -> Handler:
    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        b = _bound(("a", "axis", "keepdims"), {"axis": None, "keepdims": False}, args, kwargs,
                   em, f"nan{op}")
        v = _val(em, b["a"])
        attrs = {"axis": em.static_attr(b["axis"], "axis"),
                 "keepdims": bool(em.static_attr(b["keepdims"], "keepdims"))}
        if op == "mean":
            s_ = em.op("sum", [_nanfill(em, v, 0.0)], attrs)
            n = em.op("sum", [em.op("logical_not", [em.op("isnan", [v])])], attrs)
            return em.op("div", [s_, n])
        r = em.op(op, [_nanfill(em, v, fill)], attrs)
        if op in ("max", "min") and _kind(em, v) in "fc":
            # an all-NaN slice gives NaN (NumPy warns), not the fill
            gone = em.op("all", [em.op("isnan", [v])], attrs)
            r = em.op("where", [gone, np.nan, r])
        return r
    return h


SPECIAL[id(np.nansum)] = _nan_reduce("sum", 0.0)
SPECIAL[id(np.nanprod)] = _nan_reduce("prod", 1.0)
SPECIAL[id(np.nanmax)] = _nan_reduce("max", -np.inf)
SPECIAL[id(np.nanmin)] = _nan_reduce("min", np.inf)
SPECIAL[id(np.nanmean)] = _nan_reduce("mean", 0.0)


def _fminmax(op: str) -> Handler:
    def h(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        a, b = _val(em, args[0]), _val(em, args[1])
        m = em.op(op, [a, b])
        if _kind(em, m) not in "fc":
            return m
        # NaN in one operand: the other one (fmax/fmin ignore NaNs)
        m = em.op("where", [em.op("isnan", [a]), b, m])
        return em.op("where", [em.op("isnan", [b]), a, m])
    return h


SPECIAL[id(np.fmax)] = _fminmax("maximum")
SPECIAL[id(np.fmin)] = _fminmax("minimum")


@special(np.hypot)
def _hypot(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    a, b = _val(em, args[0]), _val(em, args[1])
    return em.op("sqrt", [em.op("add", [em.op("mul", [a, a]), em.op("mul", [b, b])])])


@special(np.trace)
def _trace(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    v = _val(em, args[0])
    b = _bound(("a", "offset", "axis1", "axis2"), {"offset": 0, "axis1": 0, "axis2": 1},
               args, kwargs, em, "trace")
    if (b["offset"], b["axis1"], b["axis2"]) != (0, 0, 1):
        raise em.type_error("np.trace: only offset=0, axis1=0, axis2=1 are supported")
    if not em.typed:
        return em.opaque("np.trace", [v])
    if v.type.ndim != 2:
        raise em.type_error("np.trace is supported for 2-D arrays")
    eye = np.eye(*v.type.shape, dtype=np.bool_)  # type: ignore[misc]
    return em.op("sum", [em.op("where", [eye, v, 0])])


@special(np.diag)
def _diag(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    v = _val(em, args[0])
    if not em.typed:
        return em.opaque("np.diag", [v])
    if len(args) > 1 or kwargs:
        raise em.type_error("np.diag: only the main diagonal (k=0) is supported")
    if v.type.ndim == 1:
        n = v.type.shape[0]  # type: ignore[index]
        return em.op("where", [np.eye(n, dtype=bool), em.op("reshape", [v], {"shape": (1, n)}),
                               0])
    if v.type.ndim == 2:
        n, m = v.type.shape  # type: ignore[misc]
        k = min(n, m)
        sq = em.op("getitem", [v], {"index": (("slice", None, k, None),
                                              ("slice", None, k, None))})
        return em.op("sum", [em.op("where", [np.eye(k, dtype=bool), sq, 0])], {"axis": 1})
    raise em.type_error("np.diag takes a 1-D or 2-D array")


def isclose(em: Emitter, a: Any, b: Any, rtol: Any, atol: Any) -> Value:
    va, vb = _val(em, a), _val(em, b)
    diff = em.op("abs", [em.op("sub", [va, vb])])
    tol = em.op("add", [atol, em.op("mul", [rtol, em.op("abs", [vb])])])
    close = em.op("le", [diff, tol])
    return em.op("logical_or", [close, em.op("eq", [va, vb])])  # equal infinities


@special(np.isclose)
def _isclose(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "b", "rtol", "atol"), {"rtol": 1e-5, "atol": 1e-8}, args, kwargs, em,
               "isclose")
    return isclose(em, b["a"], b["b"], b["rtol"], b["atol"])


@special(np.allclose)
def _allclose(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "b", "rtol", "atol"), {"rtol": 1e-5, "atol": 1e-8}, args, kwargs, em,
               "allclose")
    if all(is_static(x) for x in (b["a"], b["b"])):
        return bool(np.allclose(b["a"], b["b"], b["rtol"], b["atol"]))
    r = em.op("all", [isclose(em, b["a"], b["b"], b["rtol"], b["atol"])])
    return em.op("cast", [r], {"dtype": np.dtype(bool), "weak": True})  # a Python bool
