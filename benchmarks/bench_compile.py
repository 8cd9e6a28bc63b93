"""Benchmark 5: compile latency of benchmark 1's training step in a fresh process: the
first call minus a steady-state call, with a cold disk cache and then a warm one (a new
process that finds the object code on disk skips LLVM). The imports (NumPy, jitgraph and
its CPU backend), BLAS's thread start and LLVM's start-up (llvmlite's library, the target
machine, the MCJIT engine) are timed apart: every process pays them once, whatever it
compiles. NOTE: with PYTHONDONTWRITEBYTECODE=1 the imports
also recompile jitgraph's own modules each time.

    python benchmarks/bench_compile.py
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {here!r})
import numpy as np
import jitgraph as jg
from bench_util import ensure_fusion
import bench_mlp_step as B
import jitgraph.backends.llvm_jit, jitgraph.backends.llvm_ops  # lazily imported otherwise
ensure_fusion()
t_import = time.perf_counter() - t0
np.ones((2, 2)) @ np.ones((2, 2))   # BLAS starts its threads once per process
t = time.perf_counter()
jitgraph.backends.llvm_jit.runtime()   # llvmlite's library, LLVM's target machine, MCJIT
t_llvm = time.perf_counter() - t
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 1000)).astype(np.float32)
y = rng.standard_normal((64, 1)).astype(np.float32)
w1 = rng.standard_normal((1000, 100)).astype(np.float32)
w2a = rng.standard_normal((100, 1)).astype(np.float32)
args = (x, y, w1, w2a, w2a.copy(), 3.0, 1e-4)
f = jg.script(B.step, backend="cpu", fallback="error")
t = time.perf_counter(); f(*args); first = time.perf_counter() - t
t = time.perf_counter(); f(*args); steady = time.perf_counter() - t
print(json.dumps({{"import": t_import, "llvm": t_llvm, "first": first, "steady": steady}}))
"""


def run(cache: str) -> dict:
    env = dict(os.environ, JITGRAPH_CACHE_DIR=cache)
    r = subprocess.run([sys.executable, "-c", CHILD.format(here=HERE)], env=env,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    cold, warm = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as d:
            cold.append(run(d))
            warm.append(run(d))
    for name, rs in (("cold cache", cold), ("warm cache", warm)):
        lat = statistics.median(r["first"] - r["steady"] for r in rs)
        imp = statistics.median(r["import"] for r in rs)
        llvm = statistics.median(r["llvm"] for r in rs)
        print(f"training step, first call, {name:<10s} {lat * 1e3:9.1f} ms"
              f"   (+ once per process: imports {imp * 1e3:.0f} ms, LLVM start-up "
              f"{llvm * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
