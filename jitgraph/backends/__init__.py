"""Backend registry and the fallback chain cuda -> cpu -> interp."""
from __future__ import annotations

from .base import Backend, CompiledFn, Unsupported
from .interp import InterpBackend

BACKENDS: dict[str, Backend] = {"interp": InterpBackend()}


def get_backend(name: str) -> Backend:
    """Backends other than interp are imported lazily so `import jitgraph` needs NumPy only."""
    if name not in BACKENDS:
        if name == "cpu":
            from .llvm_jit import LLVMBackend
            BACKENDS["cpu"] = LLVMBackend()
        elif name == "cuda":
            from .cuda_jit import CudaBackend
            BACKENDS["cuda"] = CudaBackend()
        else:
            raise ValueError(f"unknown backend {name!r}; use 'auto', 'cpu', 'cuda' or 'interp'")
    return BACKENDS[name]


__all__ = ["BACKENDS", "Backend", "CompiledFn", "Unsupported", "get_backend"]
