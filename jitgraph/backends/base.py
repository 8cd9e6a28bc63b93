"""The Backend protocol. A backend lists why it cannot compile a graph (`check`), or
compiles it into a CompiledFn: a callable from the argument list (NumPy arrays and Python
scalars whose types match the graph's params, already checked by the runtime) to the list
of result values."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..ir.graph import Graph

CompiledFn = Callable[[Sequence[Any]], list[Any]]


class Unsupported(Exception):
    """Raised by a backend's compile() for a reason check() did not foresee."""


class Backend(Protocol):
    name: str

    def available(self) -> bool: ...
    def why_unavailable(self) -> str: ...
    def check(self, g: Graph) -> list[str]: ...
    def compile(self, g: Graph, cache: bool | None = None) -> CompiledFn: ...
    def dump(self, g: Graph, stage: str) -> str: ...
