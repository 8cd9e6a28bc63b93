"""Benchmark 3: row softmax on a (4096, 1024) float32 array, vs NumPy and vs np.copyto
over the same array (the memory floor), on one thread and on every core.

    python benchmarks/bench_softmax.py
"""
from __future__ import annotations

import numpy as np
from bench_util import (cores, ensure_fusion, median_time, parallel_copy, row,
                        set_threads)

import jitgraph as jg


def softmax(x):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=1, keepdims=True)


def main() -> None:
    ensure_fusion()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 1024)).astype(np.float32)
    out = np.empty_like(x)
    ncores = cores()
    floor1 = median_time(lambda: np.copyto(out, x))
    floorn = median_time(lambda: parallel_copy(out, x, ncores))
    f = jg.script(softmax, backend="cpu", fallback="error")
    assert np.allclose(f(x), softmax(x), rtol=1e-5, atol=1e-7)
    t_np = median_time(lambda: softmax(x))
    print(f"# x {x.shape} float32; {ncores} cores")
    print(row("np.copyto, one thread (floor)", floor1))
    print(row(f"np.copyto, {ncores} threads (floor)", floorn))
    print(row("softmax: NumPy", t_np, floor1, "1-thread floor"))
    for n in (1, ncores):
        set_threads(n)
        t = median_time(lambda: f(x))
        ref, ref_name = (floor1, "1-thread floor") if n == 1 else (floorn, f"{n}-thread floor")
        print(row(f"softmax: jitgraph cpu, {n} thread(s)", t, ref, ref_name)
              + f"   {t_np / t:5.1f}x NumPy")
    set_threads(0)


if __name__ == "__main__":
    main()
