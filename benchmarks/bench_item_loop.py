"""Benchmark 7: a loop that fills an array element by element (`out[i] = ...`), the way
NumPy code often builds a result: an exponential moving average over 100,000 float64.
The compiled loop writes `out` in place (the IR is pure: out = setitem(out, v, i)); eager
NumPy runs the same Python loop. Each step reads the previous one, so the loop cannot
vectorize: its floor is the chain of dependent multiply-adds, not memory (a copy of the
array is printed for scale).

    python benchmarks/bench_item_loop.py
"""
from __future__ import annotations

import numpy as np
from bench_util import median_time, row

import jitgraph as jg

N = 100_000


def ema(x, alpha):
    out = np.zeros(x.shape[0])
    acc = x[0]
    for i in range(x.shape[0]):
        acc = alpha * x[i] + (1.0 - alpha) * acc
        out[i] = acc
    return out


def ema_loss(x, alpha):
    return (ema(x, alpha) ** 2).sum()


def main() -> None:
    x = np.random.default_rng(0).standard_normal(N)
    f = jg.script(ema, backend="cpu", fallback="error")
    assert np.allclose(f(x, 0.1), ema(x, 0.1), rtol=1e-12, atol=1e-12)
    grad = jg.grad(jg.script(ema_loss, backend="cpu", fallback="error"))
    small = x[:50]
    num = np.array([(ema_loss(small + e, 0.1) - ema_loss(small - e, 0.1)) / 2e-6
                    for e in np.eye(50) * 1e-6])
    assert np.allclose(grad(small, 0.1), num, rtol=1e-5, atol=1e-7)
    out = np.empty_like(x)
    t_np = median_time(lambda: ema(x, 0.1), repeat=5)
    t_jg = median_time(lambda: f(x, 0.1), repeat=50)
    t_grad = median_time(lambda: grad(x, 0.1), repeat=20)
    t_copy = median_time(lambda: np.copyto(out, x), repeat=50)
    print(f"# exponential moving average, {N} float64, one element per iteration")
    print(row("np.copyto (one pass over the data)", t_copy))
    print(row("eager NumPy (the same Python loop)", t_np, t_copy, "copy"))
    print(row("jitgraph cpu", t_jg, t_copy, "copy") + f"   {t_np / t_jg:7.0f}x eager")
    print(row("jitgraph cpu, gradient (jg.grad of the sum of squares)", t_grad, t_jg,
              "forward"))


if __name__ == "__main__":
    main()
