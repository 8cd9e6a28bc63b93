"""Benchmark 2: fused elementwise code on 4,194,304 float32: GELU (tanh form) and
`a*x + b*x*x - c` (a, b, c Python floats), vs NumPy and vs np.copyto over the same arrays
(the memory floor), on one thread and on every core; then the same on a mid-size array
(262,144 float32, in cache), where threads pay only if handing work to them is cheap
(the CPU backend's worker pool).

    python benchmarks/bench_fused_elementwise.py
"""
from __future__ import annotations

import numpy as np
from bench_util import (
    cores,
    ensure_fusion,
    interleaved,
    median_time,
    parallel_copy,
    row,
    set_threads,
)

import jitgraph as jg

N = 4_194_304
MID = 262_144


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
    print(f"# {N} float32 elements; {ncores} cores; each case timed in rounds alternating "
          "with its floors")
    cases = [("gelu", gelu, (x,)), ("a*x + b*x*x - c", chain, (x, 1.5, -0.25, 3.0))]
    for name, fn, args in cases:
        f = jg.script(fn, backend="cpu", fallback="error")
        with np.errstate(all="ignore"):
            want = fn(*args)
        got = f(*args)
        assert got.dtype == want.dtype and np.allclose(got, want, rtol=1e-5, atol=1e-6)
        t_np = median_time(lambda: fn(*args))
        fns = {"floor1": lambda: np.copyto(out, x),
               "floorn": lambda: parallel_copy(out, x, ncores)}
        setup = {}
        for n in (1, ncores):
            fns[f"jg{n}"] = lambda f=f, args=args: f(*args)
            setup[f"jg{n}"] = lambda n=n: set_threads(n)
        t = interleaved(fns, setup=setup)
        set_threads(0)
        print(row("np.copyto, one thread (floor)", t["floor1"]))
        print(row(f"np.copyto, {ncores} threads (floor)", t["floorn"]))
        print(row(f"{name}: NumPy", t_np, t["floor1"], "1-thread floor"))
        for n in (1, ncores):
            ref, ref_name = ((t["floor1"], "1-thread floor") if n == 1
                             else (t["floorn"], f"{n}-thread floor"))
            print(row(f"{name}: jitgraph cpu, {n} thread(s)", t[f"jg{n}"], ref, ref_name)
                  + f"   {t_np / t[f'jg{n}']:5.1f}x NumPy")
    xm = x[:MID].copy()
    print(f"# mid-size: {MID} float32 elements")
    for name, fn, args in [("gelu", gelu, (xm,)), ("a*x + b*x*x - c", chain,
                                                   (xm, 1.5, -0.25, 3.0))]:
        f = jg.script(fn, backend="cpu", fallback="error")
        t = interleaved({n: lambda f=f, args=args: f(*args) for n in (1, ncores)},
                        setup={n: lambda n=n: set_threads(n) for n in (1, ncores)},
                        number=10)
        set_threads(0)
        for n in (1, ncores):
            print(row(f"{name}, mid-size: jitgraph cpu, {n} thread(s)", t[n], t[1],
                      "1 thread"))


if __name__ == "__main__":
    main()
