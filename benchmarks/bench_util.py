"""Shared helpers for the CPU benchmarks (not a benchmark itself): medians of repeated
timings, a threads knob, and the fusion pass put into the pipeline when the pipeline does
not list it yet."""
from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def median_time(f: Callable[[], Any], repeat: int = 30, number: int = 1,
                warmup: float = 0.2) -> float:
    """Median seconds per call of f over `repeat` timings of `number` calls each, after
    `warmup` seconds of calls (caches, BLAS threads and CPU clocks settle)."""
    end = time.perf_counter() + warmup
    f()
    while time.perf_counter() < end:
        f()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            f()
        ts.append((time.perf_counter() - t) / number)
    return statistics.median(ts)


def interleaved(fns: dict[Any, Callable[[], Any]], rounds: int = 7, repeat: int = 10,
                number: int = 1, warmup: float = 0.1,
                setup: dict[Any, Callable[[], Any]] | None = None) -> dict[Any, float]:
    """Median seconds per call of each function, measured in `rounds` alternating rounds
    (each a median_time of `repeat` timings; setup[k](), if given, runs before each of
    k's, untimed): a floor and the code compared with it see the same machine state, so a
    neighbour's burst of work shifts both, not their ratio."""
    per: dict[Any, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            if setup and k in setup:
                setup[k]()
            per[k].append(median_time(f, repeat=repeat, number=number, warmup=warmup))
    return {k: statistics.median(v) for k, v in per.items()}


def ensure_fusion() -> bool:
    """True if the pipeline fuses (adding passes/fuse.py at its end if it is missing)."""
    from jitgraph.passes import PIPELINE
    if any(name == "fuse" for name, _ in PIPELINE):
        return True
    from jitgraph.passes.fuse import fuse
    PIPELINE.append(("fuse", fuse))
    print("# note: passes.PIPELINE has no 'fuse' yet; added it for this run")
    return True


def set_threads(n: int) -> None:
    """Cap the CPU backend's threads (JITGRAPH_NUM_THREADS) for the next calls."""
    from jitgraph import config
    from jitgraph.backends.llvm_jit import runtime
    config.NUM_THREADS = n
    runtime().set_threads()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def parallel_copy(dst: Any, src: Any, nthreads: int) -> None:
    """np.copyto split over threads (NumPy releases the GIL): the multi-core copy floor."""
    import numpy as np
    if nthreads <= 1:
        np.copyto(dst, src)
        return
    d, s = dst.reshape(-1), src.reshape(-1)
    n = d.size
    bounds = [n * k // nthreads for k in range(nthreads + 1)]
    ts = [threading.Thread(target=np.copyto, args=(d[a:b], s[a:b]))
          for a, b in zip(bounds[1:-1], bounds[2:])]
    for t in ts:
        t.start()
    np.copyto(d[bounds[0]:bounds[1]], s[bounds[0]:bounds[1]])
    for t in ts:
        t.join()


def row(name: str, seconds: float, ref: float | None = None, ref_name: str = "") -> str:
    unit = ("ms", 1e3) if seconds >= 1e-4 else ("us", 1e6)
    s = f"{name:<44s} {seconds * unit[1]:10.3f} {unit[0]}"
    if ref is not None:
        s += f"   {seconds / ref:6.2f}x {ref_name}"
    return s
