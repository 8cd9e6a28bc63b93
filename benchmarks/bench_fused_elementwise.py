"""Benchmark 2: fused elementwise code on 4,194,304 float32: GELU (tanh form) and
`a*x + b*x*x - c` (a, b, c Python floats), vs NumPy and vs np.copyto over the same arrays
(the memory floor), on one thread and on every core.

    python benchmarks/bench_fused_elementwise.py
"""
from __future__ import annotations

import numpy as np
from bench_util import (cores, ensure_fusion, median_time, parallel_copy, row,
                        set_threads)

import jitgraph as jg

N = 4_194_304


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def chain(x, a, b, c):
    return a * x + b * x * x - c


def main() -> None:
    ensure_fusion()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N).astype(np.float32)
    out = np.empty_like(x)
    ncores = cores()
    floor1 = median_time(lambda: np.copyto(out, x))
    floorn = median_time(lambda: parallel_copy(out, x, ncores))
    print(f"# {N} float32 elements; {ncores} cores")
    print(row("np.copyto, one thread (floor)", floor1))
    print(row(f"np.copyto, {ncores} threads (floor)", floorn))
    cases = [("gelu", gelu, (x,)), ("a*x + b*x*x - c", chain, (x, 1.5, -0.25, 3.0))]
    for name, fn, args in cases:
        f = jg.script(fn, backend="cpu", fallback="error")
        with np.errstate(all="ignore"):
            want = fn(*args)
        got = f(*args)
        assert got.dtype == want.dtype and np.allclose(got, want, rtol=1e-5, atol=1e-6)
        t_np = median_time(lambda: fn(*args))
        print(row(f"{name}: NumPy", t_np, floor1, "1-thread floor"))
        for n in (1, ncores):
            set_threads(n)
            t = median_time(lambda: f(*args))
            ref, ref_name = (floor1, "1-thread floor") if n == 1 else (floorn, f"{n}-thread floor")
            print(row(f"{name}: jitgraph cpu, {n} thread(s)", t, ref, ref_name)
                  + f"   {t_np / t:5.1f}x NumPy")
        set_threads(0)


if __name__ == "__main__":
    main()
