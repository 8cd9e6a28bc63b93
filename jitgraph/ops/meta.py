"""Ops that only generic (not yet specialized) graphs hold: `x.shape`, `x.ndim`, `x.size`,
`x.dtype`, and a `grad` call. Specialization replaces them with static values, so typed
graphs and backends never see them."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import defop


def _generic_only(*args: Any, **kw: Any) -> Any:
    raise TypeError("a generic-graph op cannot run; specialize the graph first")


defop("shape", lambda x: np.asarray(np.shape(x), dtype=np.int64), nin=1, params=("a",),
      shape=lambda ins, a: (ins[0].ndim,), dtype=lambda ins, a: np.dtype(np.int64),
      differentiable=False)
defop("ndim", lambda x: np.int64(np.ndim(x)), nin=1, params=("a",),
      shape=lambda ins, a: (), dtype=lambda ins, a: np.dtype(np.int64), differentiable=False)
defop("size", lambda x: np.int64(np.size(x)), nin=1, params=("a",),
      shape=lambda ins, a: (), dtype=lambda ins, a: np.dtype(np.int64), differentiable=False)
defop("dtype_of", _generic_only, nin=1, params=("a",), differentiable=False)
defop("grad", _generic_only, nin=None, params=("args",),
      attrs={"fn": "", "argnums": (0,), "value": False}, differentiable=False, pure=False,
      nout=lambda a: len(a["argnums"]) + bool(a["value"]))
defop("pycall", _generic_only, nin=None, params=("args",), attrs={"fn": ""},
      differentiable=False, pure=False)
