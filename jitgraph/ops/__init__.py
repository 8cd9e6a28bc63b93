"""The op registry: OPS maps an op's IR name to its OpDef. Every op is one `defop` call in
one of this package's modules; nothing outside ops/ names an op except the structural
nodes (constant, if, loop, fused)."""
from __future__ import annotations

from typing import Any

from .opdef import OpDef

OPS: dict[str, OpDef] = {}
BY_PY: dict[int, OpDef] = {}        # id(np.exp) -> exp
BY_METHOD: dict[str, OpDef] = {}    # "sum" -> sum


def defop(name: str, impl: Any, **kw: Any) -> OpDef:
    if name in OPS:
        raise ValueError(f"op {name!r} declared twice")
    op = OpDef(name, impl, **kw)
    OPS[name] = op
    for f in op.py:
        BY_PY.setdefault(id(f), op)
    for m in op.methods:
        BY_METHOD.setdefault(m, op)
    return op


def lookup_py(f: Any) -> OpDef | None:
    return BY_PY.get(id(f))


# Registration order matters (BY_PY/BY_METHOD keep the first op), so not sorted.
from . import elementwise, reduce, linalg, shape, creation, meta, adjoint, sort  # noqa: F401, I001

__all__ = ["BY_METHOD", "OPS", "OpDef", "defop", "lookup_py"]
