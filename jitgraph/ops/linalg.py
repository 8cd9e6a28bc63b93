"""matmul with NumPy's rules for 1-D, 2-D and batched operands (`@`, np.matmul; np.dot
and x.dot(w) map here for operands of rank 1 and 2)."""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from ..errors import JitTypeError
from ..types import TensorType
from . import defop


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


defop("matmul", np.matmul, nin=2, params=("x1", "x2"), py=(np.matmul, operator.matmul),
      shape=_matmul_shape)
