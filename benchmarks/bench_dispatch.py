"""Benchmark 4: the per-call cost of a compiled function, `x + 1.0` on 1 and 1000 float64
elements: through jg.script (signature lookup + argument checks + the native call), the
backend's compiled function alone, and NumPy's own `x + 1.0` for scale.

    python benchmarks/bench_dispatch.py
"""
from __future__ import annotations

import numpy as np
from bench_util import median_time, row

import jitgraph as jg
from jitgraph.backends.llvm_jit import LLVMBackend


def inc(x):
    return x + 1.0


def main() -> None:
    f = jg.script(inc, backend="cpu", fallback="error")
    for n in (1, 1000):
        x = np.ones(n)
        assert np.array_equal(f(x), x + 1.0)
        native = LLVMBackend().compile(f.graph_for(x))
        args = [x]
        t_np = median_time(lambda: inc(x), repeat=50, number=20000)
        t_jg = median_time(lambda: f(x), repeat=50, number=20000)
        t_fn = median_time(lambda: native(args), repeat=50, number=20000)
        print(row(f"x + 1.0, {n} elements: NumPy", t_np))
        print(row(f"x + 1.0, {n} elements: jg.script call", t_jg, t_np, "NumPy"))
        print(row(f"x + 1.0, {n} elements: compiled fn alone", t_fn, t_np, "NumPy"))


if __name__ == "__main__":
    main()
