"""Reductions over axes. `axis` is canonicalized to a sorted tuple of non-negative axes
once the input's rank is known (None -> every axis), so backends never see None."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..types import TensorType
from . import BY_PY, defop
from .adjoint import is_float
from .adjoint import unbroadcast as _ub
from .opdef import dtype_attr, normalize_axes, normalize_axis


def _canon_axes(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    return _canon(ins, a, zero_d_axis_ok=True)


def _canon_mean(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    return _canon(ins, a, zero_d_axis_ok=False)


def _canon(ins: Sequence[TensorType], a: dict[str, Any], zero_d_axis_ok: bool
           ) -> dict[str, Any]:
    axis = a["axis"]
    if zero_d_axis_ok and ins[0].ndim == 0 and isinstance(axis, (int, np.integer)) \
            and axis in (0, -1):
        axis = ()  # ufunc reductions (not mean/var/std) take axis 0 / -1 on a 0-d array
    out: dict[str, Any] = {"axis": normalize_axes(axis, ins[0].ndim)}
    if "dtype" in a:
        out["dtype"] = dtype_attr(a["dtype"])
    return out


def _reduced_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    shape, axes = ins[0].shape, a["axis"]
    assert shape is not None
    if a["keepdims"]:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _check_nonempty(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    shape = ins[0].shape
    assert shape is not None
    if any(shape[i] == 0 for i in a["axis"]):
        raise ValueError("zero-size array to reduction operation which has no identity")
    return _reduced_shape(ins, a)


def _reduction(name: str, f: Any, *, dtype_param: bool, empty_ok: bool = True,
               differentiable: bool = True, extra: dict[str, Any] | None = None,
               vjp: Any = None) -> None:
    params: tuple[str, ...] = ("a", "axis", "dtype", "out", "keepdims") if dtype_param else (
        "a", "axis", "out", "keepdims")
    attrs: dict[str, Any] = {"axis": None, "keepdims": False}
    if dtype_param:
        attrs["dtype"] = None
    if extra:
        attrs.update(extra)
        params = params + tuple(extra)
    defop(name, f, nin=1, params=params, attrs=attrs, py=(f,), methods=(name,),
          canon=_canon_mean if name in ("mean", "var", "std") else _canon_axes,
          fusion=None if name in ("var", "std") else "reduce",
          shape=_reduced_shape if empty_ok else _check_nonempty,
          differentiable=differentiable, vjp=vjp)


# VJP rules. A reduction's cotangent has the reduced shape: `_kept` puts the reduced axes
# back as size 1, `_spread` broadcasts that over the input; `_ub` casts back when the
# `dtype` attribute changed the result's dtype.
def _kept(b: Any, v: Any, n: Any) -> Any:
    """v (of n's output shape) reshaped to the keepdims shape."""
    x, axes = n.inputs[0], n.attrs["axis"]
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.type.shape))
    return v if v.type.shape == shape else b.op("reshape", v, shape=shape)


def _spread(b: Any, ct: Any, n: Any) -> Any:
    return b.op("broadcast_to", _kept(b, ct, n), shape=n.inputs[0].type.shape)


def _count(n: Any) -> int:
    """How many elements each output element reduces over."""
    shape = n.inputs[0].type.shape
    return int(np.prod([shape[i] for i in n.attrs["axis"]], dtype=np.int64))


def _rule(f: Any) -> Any:
    return lambda b, n, ct: [_ub(b, f(b, n, ct), n.inputs[0]) if is_float(n.inputs[0]) else None]


def _mean_vjp(b: Any, n: Any, ct: Any) -> Any:
    scale = 1.0 / _count(n) if _count(n) else 0.0
    return _spread(b, b.op("mul", ct, b.const(scale)), n)


def _prod_vjp(b: Any, n: Any, ct: Any) -> Any:
    # d prod / d x_i = product of the others; exact with zeros: with none, prod / x_i; with
    # one, the product of the nonzeros at the zero and 0 elsewhere; with more, 0.
    x, axes = n.inputs[0], n.attrs["axis"]
    zero = b.op("eq", x, b.const(0))
    nzero = b.op("sum", b.op("cast", zero, dtype=x.type.dtype), axis=axes, keepdims=True)
    safe = b.op("where", zero, b.const(1.0), x)
    p = b.op("prod", safe, axis=axes, keepdims=True)
    only = b.op("logical_and", zero, b.op("eq", nzero, b.const(1)))
    others = b.op("where", b.op("eq", nzero, b.const(0)), b.op("div", p, safe),
                  b.op("where", only, p, b.const(0.0)))
    return b.op("mul", _spread(b, ct, n), others)


def _chooser_vjp(b: Any, n: Any, ct: Any) -> Any:
    # max/min: the gradient goes to the positions equal to the result; tied positions share
    # it equally (JAX's reduce_max rule), so the gradient sums to ct.
    x, axes = n.inputs[0], n.attrs["axis"]
    hit = b.op("cast", b.op("eq", x, _kept(b, n.out, n)), dtype=x.type.dtype)
    share = b.op("div", hit, b.op("sum", hit, axis=axes, keepdims=True))
    return b.op("mul", _spread(b, ct, n), share)


def _inv(d: float) -> float:
    return 1.0 / d if d > 0 else float("nan")  # ddof >= N: NumPy's var is nan/inf too


def _centered(b: Any, n: Any) -> Any:
    x, axes = n.inputs[0], n.attrs["axis"]
    return b.op("sub", x, b.op("mean", x, axis=axes, keepdims=True))


def _var_vjp(b: Any, n: Any, ct: Any) -> Any:
    # var = sum((x - mean)^2) / (N - ddof); the mean's own gradient term sums to zero
    scale = 2.0 * _inv(_count(n) - n.attrs["ddof"])
    return b.op("mul", _spread(b, b.op("mul", ct, b.const(scale)), n), _centered(b, n))


def _std_vjp(b: Any, n: Any, ct: Any) -> Any:
    # std = sqrt(var): d std = d var / (2 std); inf/nan where std == 0, as JAX
    scale = _inv(_count(n) - n.attrs["ddof"])
    g = b.op("div", b.op("mul", ct, b.const(scale)), n.out)
    return b.op("mul", _spread(b, g, n), _centered(b, n))


_reduction("sum", np.sum, dtype_param=True, vjp=_rule(lambda b, n, ct: _spread(b, ct, n)))
_reduction("prod", np.prod, dtype_param=True, vjp=_rule(_prod_vjp))
_reduction("mean", np.mean, dtype_param=True, vjp=_rule(_mean_vjp))
_reduction("max", np.max, dtype_param=False, empty_ok=False, vjp=_rule(_chooser_vjp))
_reduction("min", np.min, dtype_param=False, empty_ok=False, vjp=_rule(_chooser_vjp))
_reduction("any", np.any, dtype_param=False, differentiable=False)
_reduction("all", np.all, dtype_param=False, differentiable=False)
_reduction("var", np.var, dtype_param=True, extra={"ddof": 0}, vjp=_rule(_var_vjp))
_reduction("std", np.std, dtype_param=True, extra={"ddof": 0}, vjp=_rule(_std_vjp))
BY_PY.setdefault(id(np.amax), BY_PY[id(np.max)])
BY_PY.setdefault(id(np.amin), BY_PY[id(np.min)])


def _canon_arg(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    ax = a["axis"]
    return {"axis": None if ax is None else normalize_axis(int(ax), ins[0].ndim)}


def _arg_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    shape = ins[0].shape
    assert shape is not None
    if (a["axis"] is None and 0 in shape) or (a["axis"] is not None and shape[a["axis"]] == 0):
        raise ValueError("attempt to get argmax/argmin of an empty sequence")
    if a["axis"] is None:
        return (1,) * len(shape) if a["keepdims"] else ()
    if a["keepdims"]:
        return tuple(1 if i == a["axis"] else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i != a["axis"])


_f: Any  # the loops below bind NumPy functions of different types
for _name, _f in (("argmax", np.argmax), ("argmin", np.argmin)):
    defop(_name, _f, nin=1, params=("a", "axis", "out", "keepdims"),
          attrs={"axis": None, "keepdims": False}, py=(_f,), methods=(_name,),
          canon=_canon_arg, shape=_arg_shape, dtype=lambda ins, a: np.dtype(np.int64),
          differentiable=False)


# cumsum / cumprod: scans along one axis (axis=None scans the flattened array)
def _canon_scan(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    ax = a["axis"]
    return {"axis": None if ax is None else normalize_axis(int(ax), max(ins[0].ndim, 1)),
            "dtype": dtype_attr(a["dtype"])}


def _scan_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    t = ins[0]
    if a["axis"] is None:
        return (t.size,)
    if t.ndim == 0:
        raise ValueError("axis 0 is out of bounds for a 0-d array")
    return t.shape  # type: ignore[return-value]


def _reverse_cumsum(b: Any, v: Any, axis: int) -> Any:
    """cumsum from the end: what each element contributed to, the adjoint of cumsum."""
    rev = tuple(("slice", None, None, -1) if i == axis else ("slice", None, None, None)
                for i in range(v.type.ndim))
    flipped = b.op("getitem", v, index=rev)
    return b.op("getitem", b.op("cumsum", flipped, axis=axis), index=rev)


def _cumprod_grad(b: Any, n: Any, ct: Any, x: Any, axis: int) -> Any:
    """The adjoint of out = cumprod(x) along `axis`, exact where x has zeros:
        g_i = sum_{j>=i} ct_j * prod_{k<=j, k!=i} x_k.
    Per line, with z1 < z2 its first two zeros (if any) and S[y] = revcumsum(ct * cumprod(y)):
      i <  z1: every term with j >= z1 holds x_z1 = 0, so g_i = S[x]_i / x_i (x_i != 0);
      i == z1: g_i = S[y1]_i, y1 = x with 1 at z1 (cumprod(y1)_j = prod_{k<=j, k!=z1} x_k);
      i >  z1: every term holds x_z1, so g_i = x_z1 * h_i = 0, h_i = d g_i / d x_z1; it is
               written as that product so that a second derivative sees h_i: h_i =
               S[y1]_i / x_i before z2, S[y2]_i at z2 (y2 = y1 with 1 at z2), 0 after.
    O(n) per line, no division by a zero. (A third derivative at zeros is not exact.)"""
    i64 = np.dtype(np.int64)
    zero = b.op("eq", x, b.const(0))
    seen = b.op("cumsum", b.op("cast", zero, dtype=i64), axis=axis)  # zeros up to i
    before = b.op("eq", seen, b.const(0))
    first = b.op("logical_and", zero, b.op("eq", seen, b.const(1)))
    second = b.op("logical_and", zero, b.op("eq", seen, b.const(2)))
    safe = b.op("where", zero, b.const(1.0), x)

    def rev_dot(p: Any) -> Any:  # S: revcumsum(ct * p)
        return _reverse_cumsum(b, b.op("mul", ct, p), axis)

    def excl(y: Any, at: Any) -> Any:  # y with 1 at `at`, and its cumprod
        y = b.op("where", at, b.const(1.0), y)
        return y, b.op("cumprod", y, axis=axis, dtype=n.attrs["dtype"])

    y1, p1 = excl(x, first)
    _, p2 = excl(y1, second)
    s1 = rev_dot(p1)
    h = b.op("where", b.op("eq", seen, b.const(1)), b.op("div", s1, safe),
             b.op("where", second, rev_dot(p2), b.const(0.0)))
    x_z1 = b.op("sum", b.op("where", first, x, b.const(0.0)), axis=(axis,), keepdims=True)
    after = b.op("mul", x_z1, h)
    return b.op("where", before, b.op("div", rev_dot(n.out), safe),
                b.op("where", first, s1, after))


def _scan_vjp(prod: bool) -> Any:
    def rule(b: Any, n: Any, ct: Any) -> Any:
        x = n.inputs[0]
        axis = n.attrs["axis"]
        if not prod:  # d out_j / d x_i = 1 for i <= j
            g = _reverse_cumsum(b, ct, 0 if axis is None else axis)
            return g if axis is not None else b.op("reshape", g, shape=x.type.shape)
        if axis is None:  # the flattened line
            flat = x if x.type.shape == (x.type.size,) else b.op(
                "reshape", x, shape=(x.type.size,))
            g = _cumprod_grad(b, n, ct, flat, 0)
            return g if g.type.shape == x.type.shape else b.op("reshape", g, shape=x.type.shape)
        return _cumprod_grad(b, n, ct, x, axis)
    return _rule(rule)


for _name, _f in (("cumsum", np.cumsum), ("cumprod", np.cumprod)):
    defop(_name, _f, nin=1, params=("a", "axis", "dtype", "out"),
          attrs={"axis": None, "dtype": None}, py=(_f,), methods=(_name,),
          canon=_canon_scan, shape=_scan_shape, vjp=_scan_vjp(_name == "cumprod"))
