"""sort / argsort along one axis (axis=None: the flattened array, C order).

Semantics are NumPy's `kind="stable"` for every call, whatever `kind` or `stable` says:
  sort(a, axis=-1)      the values in ascending order along the axis; NaNs last (NumPy's
                        order: x < y, or y is NaN and x is not); -0.0 and 0.0 are equal, so
                        they keep their relative order.
  argsort(a, axis=-1)   int64 indices that sort each line, equal values (NaNs among
                        themselves) in their original order.
NOTE: NumPy's default kind (quicksort, introsort/SIMD) is not stable: for ties argsort may
give other indices, and sort may order -0.0/0.0 (or NaN payloads) differently. A stable sort
has one answer, so every backend can match it bit for bit: we always return what
`np.sort/np.argsort(a, axis, kind="stable")` returns. `kind` and `stable` are accepted
(checked as NumPy checks them) and canonicalized to None; `order` (structured dtypes) is
refused by the frontend. (A scripted function cannot spell `kind="..."` yet: the frontend's
check refuses string constants outside the calls it lists; `stable=` works.) In-place `x.sort()` has no IR form (values are immutable): only
`np.sort` maps to sort, while `x.argsort()` maps to argsort.

A 0-d input: sort needs axis=None (NumPy raises otherwise); argsort treats it as a 1-D
array of one element, as NumPy does, so both canonicalize a 0-d input to axis=None.

VJP of sort: ct scattered back through the permutation p = argsort(x): grad[..., p[j]] =
ct[..., j] along the axis (the inverse of take_along_axis(x, p)), one scatter_add whose
index arrays are p and aranges over the other dims (a permutation never repeats an index,
so the add is a store). argsort is integer-valued: no gradient."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..types import TensorType
from . import defop
from .adjoint import is_float
from .opdef import normalize_axis

_KINDS = "qhms"     # NumPy's kind converter looks at the first letter only (quick, heap, ...)


def _sort(a: Any, axis: Any = -1, kind: Any = None, stable: Any = None) -> Any:
    _check_kind({"kind": kind, "stable": stable})
    return np.sort(a, axis=axis, kind="stable")


def _argsort(a: Any, axis: Any = -1, kind: Any = None, stable: Any = None) -> Any:
    _check_kind({"kind": kind, "stable": stable})
    return np.argsort(a, axis=axis, kind="stable")


def _check_kind(a: dict[str, Any]) -> None:
    """NumPy's checks of `kind` and `stable` (its words too)."""
    kind, stable = a["kind"], a["stable"]
    if kind is not None:
        if not isinstance(kind, str) or not kind or kind[0].lower() not in _KINDS:
            raise ValueError(f"sort kind must be one of 'quick', 'heap', or 'stable' "
                             f"(got {kind!r})")
        if stable is not None:
            raise ValueError("`kind` and keyword parameters can't be provided at the same "
                             "time. Use only one of them.")


def _canon(argsort: bool) -> Any:
    def rule(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
        _check_kind(a)
        ax, nd = a["axis"], ins[0].ndim
        if ax is not None:
            if nd == 0:
                # NumPy: argsort of a 0-d array is that of its 1-element ravel; sort raises
                normalize_axis(int(ax), 1 if argsort else 0)
                ax = None
            else:
                ax = normalize_axis(int(ax), nd)
        return {"axis": ax, "kind": None, "stable": None}
    return rule


def _sort_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    t = ins[0]
    assert t.shape is not None
    return (t.size,) if a["axis"] is None else t.shape


def _index_arrays(b: Any, shape: tuple[int, ...], axis: int, p: Any) -> list[Any]:
    """The index arrays of take_along_axis(., p, axis): p along the axis, an arange
    shaped to broadcast along each other dim."""
    out = []
    for d, k in enumerate(shape):
        if d == axis:
            out.append(p)
            continue
        view = [1] * len(shape)
        view[d] = k
        r = np.arange(k, dtype=np.int64).reshape(view)
        out.append(b.const(r, TensorType(np.dtype(np.int64), tuple(view))))
    return out


def _sort_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    x = n.inputs[0]
    if not is_float(x):
        return [None]
    shape, axis = x.type.shape, n.attrs["axis"]
    p = b.op("argsort", x, axis=axis)
    if axis is None:   # the flat line; back to x's shape after the scatter
        g = b.op("scatter_add", ct, p, index=(("value",),), shape=(x.type.size,))
        return [g if g.type.shape == shape else b.op("reshape", g, shape=shape)]
    idx = _index_arrays(b, shape, axis, p)
    return [b.op("scatter_add", ct, *idx, index=(("value",),) * len(shape), shape=shape)]


_ATTRS = {"axis": -1, "kind": None, "stable": None}
_PARAMS = ("a", "axis", "kind", "order", "stable")

defop("sort", _sort, nin=1, params=_PARAMS, attrs=dict(_ATTRS), py=(np.sort,),
      canon=_canon(False), shape=_sort_shape, dtype=lambda ins, a: ins[0].dtype,
      vjp=_sort_vjp)
defop("argsort", _argsort, nin=1, params=_PARAMS, attrs=dict(_ATTRS), py=(np.argsort,),
      methods=("argsort",), canon=_canon(True), shape=_sort_shape,
      dtype=lambda ins, a: np.dtype(np.int64), differentiable=False)
