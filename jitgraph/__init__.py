"""jitgraph: a JIT compiler for NumPy-style Python functions.

    @jg.script
    def f(x, w):
        return np.maximum(x @ w, 0.0).sum()

Public API (see shared/API.md): script, grad, value_and_grad, save, load, parse_ir,
enable, disable, and the errors.
"""
from typing import Any

from .api import (
    CustomVJP,
    GradFunction,
    ScriptFunction,
    custom_vjp,
    disable,
    enable,
    grad,
    is_enabled,
    script,
    value_and_grad,
)
from .errors import CompileError, FallbackWarning, JitTypeError, ScriptError, SourceLoc

__version__ = "0.1.0"


def parse_ir(text: str) -> Any:
    """Parse the IR text form back into a Graph (the printer's inverse)."""
    from .ir.parser import parse_ir as _parse
    return _parse(text)


def save(f: Any, path: Any, *example_args: Any) -> None:
    """Write f's graph specialized to these arguments (and its constants) to one file."""
    from .serialize import save as _save
    _save(f, path, *example_args)


def load(path: Any) -> Any:
    """A callable that runs a saved graph without the original Python source."""
    from .serialize import load as _load
    return _load(path)


def __getattr__(name: str) -> Any:
    if name == "cuda":  # jg.cuda imports pycuda lazily, never at `import jitgraph`
        import importlib
        return importlib.import_module(".cuda", __name__)
    raise AttributeError(f"module 'jitgraph' has no attribute {name!r}")


__all__ = ["CompileError", "CustomVJP", "FallbackWarning", "GradFunction", "JitTypeError",
           "ScriptError", "ScriptFunction", "SourceLoc", "custom_vjp", "disable", "enable",
           "grad", "is_enabled", "load", "parse_ir", "save", "script", "value_and_grad"]
