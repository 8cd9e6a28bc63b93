"""The optimization pipeline: one flat, ordered list of (name, pass); every pass is a pure
function Graph -> Graph that never mutates its input.

`run_pipeline` runs the passes in order, verifies the graph before the first and after each
one (when `config.VERIFY` or `verify=True`), prints it after the passes named in
`config.DUMP_AFTER` (`JITGRAPH_DUMP_AFTER=cse,dce`, or `all`), and records the seconds
spent per pass name in `LAST_TIMINGS` (a name that appears twice adds up).

Order: const_fold first (it folds If conditions and exposes constants such as `2 - 1`),
then simplify (x*1, double transposes ...), cse (merges what the first two made equal), and
dce last (every earlier pass leaves dead nodes behind). On the graphs in tests/ a second run
of the pipeline changes nothing.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

from .. import config
from ..ir.graph import Graph
from .accumulate import accumulate
from .const_fold import const_fold
from .cse import cse
from .dce import dce
from .fuse import fuse
from .lower_custom import lower_custom
from .simplify import simplify

Pass = Callable[[Graph], Graph]

PIPELINE: list[tuple[str, Pass]] = [
    ("lower_custom", lower_custom),
    ("const_fold", const_fold),
    ("simplify", simplify),
    ("accumulate", accumulate),
    ("cse", cse),
    ("dce", dce),
    ("fuse", fuse),
]

LAST_TIMINGS: dict[str, float] = {}   # pass name -> seconds, for the last run_pipeline call


def _verifier() -> Callable[[Graph], object] | None:
    # NOTE: imported lazily: ir/verify.py may be absent (it is written separately).
    try:
        from ..ir.verify import verify
    except ImportError:
        return None
    return verify


def _verify(check: Callable[[Graph], object], g: Graph, note: str) -> None:
    try:
        check(g)
    except Exception as e:
        e.add_note("jitgraph: " + note)
        raise


def run_pipeline(g: Graph, pipeline: Sequence[tuple[str, Pass]] | None = None,
                 verify: bool | None = None,
                 dump_after: Sequence[str] | None = None) -> Graph:
    """Run `pipeline` (default PIPELINE) on g and return the optimized graph."""
    passes = PIPELINE if pipeline is None else pipeline
    check = _verifier() if (config.VERIFY if verify is None else verify) else None
    dumps = set(config.DUMP_AFTER if dump_after is None else dump_after)
    LAST_TIMINGS.clear()
    if check is not None:  # NOTE: so a broken input is not blamed on the first pass
        _verify(check, g, "the graph given to run_pipeline failed verification")
    for name, fn in passes:
        start = time.perf_counter()
        g = fn(g)
        LAST_TIMINGS[name] = LAST_TIMINGS.get(name, 0.0) + time.perf_counter() - start
        if check is not None:
            _verify(check, g, f"the graph failed verification after pass {name!r}")
        if name in dumps or "all" in dumps:
            print(f"# after {name}\n{g}", end="", file=sys.stdout, flush=True)
    return g


__all__ = ["LAST_TIMINGS", "PIPELINE", "const_fold", "cse", "dce", "run_pipeline", "simplify"]
