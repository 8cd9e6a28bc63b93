"""Reductions over axes. `axis` is canonicalized to a sorted tuple of non-negative axes
once the input's rank is known (None -> every axis), so backends never see None."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..types import TensorType
from . import defop
from .opdef import dtype_attr, normalize_axes, normalize_axis


def _canon_axes(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    out = {"axis": normalize_axes(a["axis"], ins[0].ndim)}
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
               differentiable: bool = True, extra: dict[str, Any] | None = None) -> None:
    params = ("a", "axis", "dtype", "out", "keepdims") if dtype_param else (
        "a", "axis", "out", "keepdims")
    attrs: dict[str, Any] = {"axis": None, "keepdims": False}
    if dtype_param:
        attrs["dtype"] = None
    if extra:
        attrs.update(extra)
        params = params + tuple(extra)
    defop(name, f, nin=1, params=params, attrs=attrs, py=(f,), methods=(name,),
          canon=_canon_axes, shape=_reduced_shape if empty_ok else _check_nonempty,
          differentiable=differentiable)


_reduction("sum", np.sum, dtype_param=True)
_reduction("prod", np.prod, dtype_param=True)
_reduction("mean", np.mean, dtype_param=True)
_reduction("max", np.max, dtype_param=False, empty_ok=False)
_reduction("min", np.min, dtype_param=False, empty_ok=False)
_reduction("any", np.any, dtype_param=False, differentiable=False)
_reduction("all", np.all, dtype_param=False, differentiable=False)
_reduction("var", np.var, dtype_param=True, extra={"ddof": 0})
_reduction("std", np.std, dtype_param=True, extra={"ddof": 0})
from . import BY_PY  # noqa: E402
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


for _name, _f in (("argmax", np.argmax), ("argmin", np.argmin)):
    defop(_name, _f, nin=1, params=("a", "axis", "out", "keepdims"),
          attrs={"axis": None, "keepdims": False}, py=(_f,), methods=(_name,),
          canon=_canon_arg, shape=_arg_shape, dtype=lambda ins, a: np.dtype(np.int64),
          differentiable=False)
