"""matmul with NumPy's rules for 1-D, 2-D and batched operands (`@`, np.matmul; np.dot
and x.dot(w) map here for operands of rank 1 and 2)."""
from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import JitTypeError
from ..types import TensorType
from . import defop
from .adjoint import is_float
from .adjoint import unbroadcast as _ub


def _matmul_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    s1, s2 = ins[0].shape, ins[1].shape
    assert s1 is not None and s2 is not None
    if len(s1) == 0 or len(s2) == 0:
        raise JitTypeError("matmul: input operand does not have enough dimensions")
    m = s1 if len(s1) > 1 else (1,) + s1
    n = s2 if len(s2) > 1 else s2 + (1,)
    if m[-1] != n[-2]:
        raise JitTypeError(f"matmul: shapes {s1} and {s2} not aligned: "
                           f"{m[-1]} (dim {len(s1) - 1}) != {n[-2]} (dim {max(len(s2) - 2, 0)})")
    try:
        batch = tuple(np.broadcast_shapes(m[:-2], n[:-2]))
    except ValueError:
        raise JitTypeError(f"matmul: batch dimensions of {s1} and {s2} do not broadcast") from None
    out = batch + (m[-2], n[-1])
    if len(s1) == 1:
        out = out[:-2] + out[-1:]
    if len(s2) == 1:
        out = out[:-1]
    return out


def _swap(b: Any, v: Any) -> Any:
    nd = v.type.ndim
    return b.op("transpose", v, axes=tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _matmul_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    # Rank 1 operands become matrices ((k,) -> (1,k) on the left, (k,1) on the right), ct
    # gets the matching unit axes back; then g1 = ct @ x2^T and g2 = x1^T @ ct, summed over
    # broadcast batch axes, and reshaped to the operands' own shapes.
    x1, x2 = n.inputs
    s1, s2 = x1.type.shape, x2.type.shape
    a = x1 if len(s1) > 1 else b.op("reshape", x1, shape=(1,) + s1)
    m = x2 if len(s2) > 1 else b.op("reshape", x2, shape=s2 + (1,))
    shape = tuple(np.broadcast_shapes(a.type.shape[:-2], m.type.shape[:-2])) + (
        a.type.shape[-2], m.type.shape[-1])
    c = ct if ct.type.shape == shape else b.op("reshape", ct, shape=shape)
    out: list[Any] = []
    for x, g, mat in ((x1, lambda: b.op("matmul", c, _swap(b, m)), a),
                      (x2, lambda: b.op("matmul", _swap(b, a), c), m)):
        if not is_float(x):
            out.append(None)
            continue
        gx = g()
        if gx.type.shape != mat.type.shape:
            gx = b.op("sum_to_shape", gx, shape=mat.type.shape)
        if gx.type.shape != x.type.shape:
            gx = b.op("reshape", gx, shape=x.type.shape)
        out.append(_ub(b, gx, x))
    return out


defop("matmul", np.matmul, nin=2, params=("x1", "x2"), py=(np.matmul, operator.matmul),
      shape=_matmul_shape, vjp=_matmul_vjp)
