"""Benchmark 3: row softmax on a (4096, 1024) float32 array, vs NumPy and vs np.copyto
over the same array (the memory floor), on one thread and on every core.

    python benchmarks/bench_softmax.py
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
    f = jg.script(softmax, backend="cpu", fallback="error")
    assert np.allclose(f(x), softmax(x), rtol=1e-5, atol=1e-7)
    t_np = median_time(lambda: softmax(x))
    fns = {"floor1": lambda: np.copyto(out, x), "floorn": lambda: parallel_copy(out, x, ncores)}
    setup = {}
    for n in (1, ncores):
        fns[f"jg{n}"] = lambda: f(x)
        setup[f"jg{n}"] = lambda n=n: set_threads(n)
    t = interleaved(fns, setup=setup)
    set_threads(0)
    print(f"# x {x.shape} float32; {ncores} cores; timed in rounds alternating with the floors")
    print(row("np.copyto, one thread (floor)", t["floor1"]))
    print(row(f"np.copyto, {ncores} threads (floor)", t["floorn"]))
    print(row("softmax: NumPy", t_np, t["floor1"], "1-thread floor"))
    for n in (1, ncores):
        ref, ref_name = ((t["floor1"], "1-thread floor") if n == 1
                         else (t["floorn"], f"{n}-thread floor"))
        print(row(f"softmax: jitgraph cpu, {n} thread(s)", t[f"jg{n}"], ref, ref_name)
              + f"   {t_np / t[f'jg{n}']:5.1f}x NumPy")


if __name__ == "__main__":
    main()
