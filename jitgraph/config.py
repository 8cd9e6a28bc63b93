"""Every environment knob in one place. Read at import and through `refresh()` (tests)."""
from __future__ import annotations

import os


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


DISABLE: bool = False   # JITGRAPH_DISABLE=1: every scripted function runs eagerly
VERIFY: bool = False    # JITGRAPH_VERIFY=1: run the verifier after every pass
DUMP_AFTER: tuple[str, ...] = ()  # JITGRAPH_DUMP_AFTER=cse,dce: print the graph after those passes
BACKEND: str | None = None        # JITGRAPH_BACKEND=interp: override backend="auto"
LOG: tuple[str, ...] = ()         # JITGRAPH_LOG=recompiles
NUM_THREADS: int = 0              # JITGRAPH_NUM_THREADS: cap on native threads (0 = all cores)
CACHE_DIR: str | None = None      # JITGRAPH_CACHE_DIR: on-disk compile cache


def refresh() -> None:
    global DISABLE, VERIFY, DUMP_AFTER, BACKEND, LOG, NUM_THREADS, CACHE_DIR
    DISABLE = _flag("JITGRAPH_DISABLE")
    VERIFY = _flag("JITGRAPH_VERIFY")
    DUMP_AFTER = tuple(s for s in os.environ.get("JITGRAPH_DUMP_AFTER", "").split(",") if s)
    BACKEND = os.environ.get("JITGRAPH_BACKEND") or None
    LOG = tuple(s for s in os.environ.get("JITGRAPH_LOG", "").split(",") if s)
    try:
        NUM_THREADS = int(os.environ.get("JITGRAPH_NUM_THREADS", "0"))
    except ValueError:
        NUM_THREADS = 0
    CACHE_DIR = os.environ.get("JITGRAPH_CACHE_DIR") or None


refresh()
