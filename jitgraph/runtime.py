"""Backend choice and the fallback chain (cuda -> cpu -> interp). Each backend that is
skipped for a reason the user should know about warns once per (function, backend,
reason) with FallbackWarning, or raises CompileError under fallback="error"."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from . import config
from .errors import CompileError, FallbackWarning
from .ir.graph import Graph

_warned: set[tuple[str, str, str]] = set()

CHAINS = {
    "auto": ("cuda", "cpu", "interp"),
    "cuda": ("cuda", "cpu", "interp"),
    "cpu": ("cpu", "interp"),
    "interp": ("interp",),
}


def _reasons(name: str, g: Graph) -> tuple[Any, list[str], bool]:
    """(backend or None, reasons it cannot run g, whether it is absent from the machine)."""
    from .backends import get_backend
    try:
        b = get_backend(name)
    except ImportError as e:
        return None, [f"the {name} backend is not available ({e})"], True
    if not b.available():
        return None, [b.why_unavailable() or f"the {name} backend is not available"], True
    return b, b.check(g), False


def compile_graph(g: Graph, backend: str, fallback: str, fname: str,
                  cache: bool | None = None
                  ) -> tuple[Callable[[Sequence[Any]], list[Any]], str]:
    """The first backend of the chain that compiles g; `cache=False` skips any on-disk
    compile cache."""
    requested = backend
    if backend == "auto" and config.BACKEND:
        requested = config.BACKEND
        if requested not in CHAINS:
            raise ValueError(f"JITGRAPH_BACKEND={requested!r} is not a backend; use "
                             + ", ".join(repr(b) for b in CHAINS) + " (or leave it unset)")
    if requested not in CHAINS:
        raise ValueError(f"unknown backend {requested!r}; use "
                         + ", ".join(repr(b) for b in CHAINS))
    if fallback not in ("eager", "error"):
        raise ValueError(f"unknown fallback {fallback!r}; fallback must be 'eager' or 'error'")
    chain = CHAINS[requested]
    for name in chain:
        b, reasons, absent = _reasons(name, g)
        if b is not None and not reasons:
            try:
                return b.compile(g, cache=cache), name
            except Exception as e:  # noqa: BLE001  (a backend bug or limit must not fail the call)
                reasons = [f"{type(e).__name__}: {e}"]
        if name == "interp":
            raise CompileError(f"{fname}: the interpreter cannot run this graph: "
                               + "; ".join(reasons))
        # Under "auto", a missing GPU or backend is not news; anything else is.
        quiet = requested == "auto" and absent
        if quiet:
            continue
        why = "; ".join(reasons)
        if fallback == "error":
            raise CompileError(f"{fname}: backend {name!r} cannot compile this graph: {why}")
        key = (fname, name, why)
        if key not in _warned:
            _warned.add(key)
            nxt = chain[chain.index(name) + 1]
            warnings.warn(f"{fname}: backend {name!r} cannot compile this graph ({why}); "
                          f"running it on {nxt!r}", FallbackWarning, stacklevel=4)
    raise AssertionError("unreachable")
