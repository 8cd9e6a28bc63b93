"""Benchmark 6: the gradient of a data-dependent while loop, float64. Newton-like steps
`x = x - 0.1*(x**3 - 2)` until `abs(x**3 - 2).max() <= 1e-6` (at most 100), then `x.sum()`;
jg.grad builds the reverse loop (forward pushes onto tapes, backward pops), compiled to one
native call. Compared with the same gradient written by hand in NumPy (forward loop keeping
every iterate in a list, backward loop multiplying the local derivatives).

    python benchmarks/bench_while_grad.py
"""
from __future__ import annotations

import numpy as np
from bench_util import ensure_fusion, median_time, row

import jitgraph as jg

N = 10_000


def newton(x):
    i = 0
    while np.abs(x ** 3 - 2).max() > 1e-6 and i < 100:
        x = x - 0.1 * (x ** 3 - 2)
        i += 1
    return x.sum()


def numpy_grad(x):
    xs = []
    i = 0
    while np.abs(x ** 3 - 2).max() > 1e-6 and i < 100:
        xs.append(x)
        x = x - 0.1 * (x ** 3 - 2)
        i += 1
    g = np.ones_like(x)
    for xk in reversed(xs):
        g = g * (1.0 - 0.3 * xk * xk)
    return g


def main() -> None:
    ensure_fusion()
    rng = np.random.default_rng(0)
    x = rng.uniform(0.8, 1.6, N)
    f = jg.grad(jg.script(newton, backend="cpu", fallback="error"))
    got, want = f(x), numpy_grad(x)
    assert np.allclose(got, want, rtol=1e-10, atol=1e-14), "gradient differs from NumPy"
    t_np = median_time(lambda: numpy_grad(x), repeat=50)
    t_jg = median_time(lambda: f(x), repeat=50)
    print(f"# x: {N} float64 in [0.8, 1.6]; "
          f"{sum(1 for _ in _iterates(x))} iterations; backend {f.backend_for(x)!r}")
    print(row("gradient, hand-written NumPy", t_np))
    print(row("gradient, jg.grad on cpu (one call)", t_jg, t_np, "NumPy"))


def _iterates(x):
    i = 0
    while np.abs(x ** 3 - 2).max() > 1e-6 and i < 100:
        x = x - 0.1 * (x ** 3 - 2)
        i += 1
        yield x


if __name__ == "__main__":
    main()
