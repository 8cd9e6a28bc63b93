"""jitgraph: a JIT compiler for NumPy-style Python functions."""
from .errors import CompileError, FallbackWarning, JitTypeError, ScriptError

__version__ = "0.1.0"
__all__ = ["CompileError", "FallbackWarning", "JitTypeError", "ScriptError", "__version__"]
