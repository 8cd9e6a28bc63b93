"""User-facing errors. Every one that points at user code carries a SourceLoc and
prints `file:line:col`, the source line and a caret, so the message alone finds the bug."""
from __future__ import annotations

import linecache
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLoc:
    filename: str
    lineno: int          # 1-based, counted in the file
    col_offset: int = 0  # 0-based, as ast gives it

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col_offset + 1}"

    def source_line(self) -> str:
        return linecache.getline(self.filename, self.lineno).rstrip("\n")

    def render(self) -> str:
        """`file:line:col`, then the source line and a caret under the column."""
        line = self.source_line()
        if not line:
            return f"  at {self}"
        return f"  at {self}\n    {line}\n    {' ' * self.col_offset}^"


class JitError(Exception):
    """Base of jitgraph's own errors."""


class ScriptError(JitError):
    """Unsupported Python in a scripted function; raised at decoration (or when a
    late-bound global is first resolved)."""

    def __init__(self, msg: str, loc: SourceLoc | None = None, construct: str | None = None):
        self.msg = msg
        self.loc = loc
        self.construct = construct
        self.filename = loc.filename if loc else None
        self.lineno = loc.lineno if loc else None
        self.col_offset = loc.col_offset if loc else None
        text = msg if loc is None else f"{loc}: {msg}\n{loc.render()}"
        super().__init__(text)


class JitTypeError(JitError, TypeError):
    """Arguments whose dtypes or shapes the graph cannot take. Raised while specializing,
    before any native code runs; names the argument (when one is to blame) and the line."""

    def __init__(self, msg: str, loc: SourceLoc | None = None, arg: str | None = None):
        self.msg = msg
        self.loc = loc
        self.arg = arg
        text = msg if loc is None else f"{loc}: {msg}\n{loc.render()}"
        super().__init__(text)


class CompileError(JitError):
    """A backend could not compile a graph and the fallback policy is "error"."""


class FallbackWarning(UserWarning):
    """A backend could not compile a graph; the next backend in the chain runs it."""
