"""Benchmark 1: the lecture's two-layer net, one full training step (forward, backward,
SGD update, the w2a/w2b choice on the previous loss) as ONE compiled call on the CPU
backend, vs the same step written by hand in NumPy, vs its five matmuls alone (the floor).

    python benchmarks/bench_mlp_step.py
"""
from __future__ import annotations

import numpy as np
from bench_util import ensure_fusion, median_time, row

import jitgraph as jg

N, D_IN, H, D_OUT = 64, 1000, 100, 10  # the lecture's shapes (issue 3)


def model(x, y, w1, w2a, w2b, prev_loss):
    w2 = w2a if prev_loss < 5.0 else w2b
    h = np.maximum(x @ w1, 0.0)
    y_pred = h @ w2
    return ((y_pred - y) ** 2).sum()


def step(x, y, w1, w2a, w2b, prev_loss, lr):
    loss, (g1, g2a, g2b) = jg.value_and_grad(model, argnums=(2, 3, 4))(
        x, y, w1, w2a, w2b, prev_loss)
    return loss, w1 - lr * g1, w2a - lr * g2a, w2b - lr * g2b


def numpy_step(x, y, w1, w2a, w2b, prev_loss, lr):
    """The same step by hand: what a careful NumPy user writes."""
    use_a = prev_loss < 5.0
    w2 = w2a if use_a else w2b
    a = x @ w1
    h = np.maximum(a, 0.0)
    y_pred = h @ w2
    d = y_pred - y
    loss = (d * d).sum()
    gy = 2.0 * d
    g2 = h.T @ gy
    gh = gy @ w2.T
    gh[a <= 0] = 0.0
    g1 = x.T @ gh
    zero = np.zeros_like(w2a)
    g2a, g2b = (g2, zero) if use_a else (zero, g2)
    return loss, w1 - lr * g1, w2a - lr * g2a, w2b - lr * g2b


def five_matmuls(x, y, w1, w2, gy):
    a = x @ w1
    y_pred = a @ w2
    g2 = a.T @ gy
    gh = gy @ w2.T
    g1 = x.T @ gh
    return y_pred, g2, g1


def main() -> None:
    ensure_fusion()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_IN)).astype(np.float32)
    y = rng.standard_normal((N, D_OUT)).astype(np.float32)
    w1 = (rng.standard_normal((D_IN, H)) * 0.03).astype(np.float32)
    w2a = (rng.standard_normal((H, D_OUT)) * 0.1).astype(np.float32)
    w2b = (rng.standard_normal((H, D_OUT)) * 0.1).astype(np.float32)
    lr, prev = 1e-4, 3.0
    compiled = jg.script(step, backend="cpu", fallback="error")
    args = (x, y, w1, w2a, w2b, prev, lr)
    got, want = compiled(*args), numpy_step(*args)
    for a, b in zip(got, want):
        assert np.allclose(a, b, rtol=2e-3, atol=1e-5), "compiled step != NumPy step"
    print(f"# shapes: x {x.shape}, w1 {w1.shape}, w2 {w2a.shape}; float32; "
          f"backend {compiled.backend_for(*args)!r}")
    gy = rng.standard_normal((N, D_OUT)).astype(np.float32)
    t_floor = median_time(lambda: five_matmuls(x, y, w1, w2a, gy), repeat=200)
    t_np = median_time(lambda: numpy_step(*args), repeat=200)
    t_jg = median_time(lambda: compiled(*args), repeat=200)
    print(row("five matmuls alone, NumPy (floor)", t_floor))
    print(row("training step, hand-written NumPy", t_np, t_floor, "floor"))
    print(row("training step, jitgraph cpu (one call)", t_jg, t_floor, "floor"))
    print(f"{'jitgraph vs NumPy':<44s} {t_np / t_jg:10.2f}x faster")


if __name__ == "__main__":
    main()
