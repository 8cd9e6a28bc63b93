"""Array creation with static shapes: zeros, ones, full, *_like, arange, eye, linspace.
The fill value of `full`/`full_like` is a value input, so it may be a run-time scalar."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..types import TensorType
from . import defop
from .adjoint import unbroadcast as _ub
from .opdef import dtype_attr


def _shape_attr(s: Any) -> tuple[int, ...]:
    return (int(s),) if isinstance(s, (int, np.integer)) else tuple(int(d) for d in s)


def _canon_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    return {"shape": _shape_attr(a["shape"]), "dtype": dtype_attr(a["dtype"])}


def _check_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    if any(d < 0 for d in a["shape"]):
        raise ValueError("negative dimensions are not allowed")
    return a["shape"]


_f: Any  # the loops below bind NumPy functions of different types
for _name, _f in (("zeros", np.zeros), ("ones", np.ones), ("empty", np.zeros)):
    defop(_name, _f, nin=0, params=("shape", "dtype"), attrs={"shape": (), "dtype": None},
          py=(getattr(np, _name),), canon=_canon_shape, shape=_check_shape,
          dtype=lambda ins, a: np.dtype(a["dtype"] or np.float64))


def _like_dtype(ins: Sequence[TensorType], a: dict[str, Any]) -> np.dtype:
    return np.dtype(a["dtype"]) if a["dtype"] is not None else ins[0].dtype  # type: ignore


def _full(fill_value: Any, shape: tuple[int, ...] = (), dtype: Any = None) -> Any:
    return np.full(shape, fill_value, dtype=dtype)


defop("full", _full, nin=1, params=("shape", "fill_value", "dtype"),
      attrs={"shape": (), "dtype": None}, py=(np.full,), canon=_canon_shape,
      shape=_check_shape,
      dtype=lambda ins, a: _like_dtype(ins, a),
      vjp=lambda b, n, ct: [_ub(b, ct, n.inputs[0])])  # the fill value, summed over all


def _canon_dtype(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    return {"dtype": dtype_attr(a["dtype"])}


for _name, _f in (("zeros_like", np.zeros_like), ("ones_like", np.ones_like),
                  ("empty_like", np.zeros_like)):
    defop(_name, _f, nin=1, params=("a", "dtype"), attrs={"dtype": None},
          py=(getattr(np, _name),), canon=_canon_dtype,
          shape=lambda ins, a: ins[0].shape, dtype=_like_dtype, differentiable=False)


def _full_like(a: Any, fill_value: Any, dtype: Any = None) -> Any:
    return np.full_like(a, fill_value, dtype=dtype)


defop("full_like", _full_like, nin=2, params=("a", "fill_value", "dtype"),
      attrs={"dtype": None}, py=(np.full_like,), canon=_canon_dtype,
      shape=lambda ins, a: ins[0].shape, dtype=_like_dtype,
      vjp=lambda b, n, ct: [None, _ub(b, ct, n.inputs[1])])  # `a` gives only a shape


def _arange(start: Any = 0, stop: Any = None, step: Any = 1, dtype: Any = None) -> Any:
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, step, dtype=dtype)


def _canon_arange(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    start, stop = a["start"], a["stop"]
    if stop is None:
        start, stop = 0, start
    return {"start": start, "stop": stop, "dtype": dtype_attr(a["dtype"])}


@functools.lru_cache(maxsize=1024, typed=True)  # typed: arange(3) and arange(3.0) differ
def _arange_type(start: Any, stop: Any, step: Any, dtype: Any) -> tuple[tuple[int, ...],
                                                                         np.dtype]:
    """NumPy's own answer: the result dtype comes from start, stop and step together
    (np.arange(5.0) is float64) and may depend on their values (past int64)."""
    out = _arange(start, stop, step, dtype)
    return out.shape, out.dtype


def _arange_rule(i: int) -> Any:
    def rule(ins: Sequence[TensorType], a: dict[str, Any]) -> Any:
        args = (a["start"], a["stop"], a["step"], a["dtype"])
        try:
            hash(args)
        except TypeError:  # an unhashable attribute (a 0-d array): no cache
            return _arange_type.__wrapped__(*args)[i]
        return _arange_type(*args)[i]
    return rule


defop("arange", _arange, nin=0, params=("start", "stop", "step", "dtype"),
      attrs={"start": 0, "stop": None, "step": 1, "dtype": None}, py=(np.arange,),
      canon=_canon_arange, shape=_arange_rule(0), dtype=_arange_rule(1))


def _eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    return np.eye(N, M, k, dtype=dtype or np.float64)


defop("eye", _eye, nin=0, params=("N", "M", "k", "dtype"),
      attrs={"N": 1, "M": None, "k": 0, "dtype": None}, py=(np.eye,),
      canon=_canon_dtype, shape=lambda ins, a: (a["N"], a["N"] if a["M"] is None else a["M"]),
      dtype=lambda ins, a: np.dtype(a["dtype"] or np.float64))


def _linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
              dtype: Any = None) -> Any:
    return np.linspace(start, stop, num, endpoint, dtype=dtype)


defop("linspace", _linspace, nin=0, params=("start", "stop", "num", "endpoint", "dtype"),
      attrs={"start": 0.0, "stop": 1.0, "num": 50, "endpoint": True, "dtype": None},
      py=(np.linspace,), canon=_canon_dtype, shape=lambda ins, a: (a["num"],),
      dtype=lambda ins, a: np.dtype(a["dtype"] or np.float64))
