"""Arena planning (jitgraph/backends/llvm_memplan.py): temporaries whose values no later
node reads give their bytes back, and later temporaries reuse them.

Sizes come from the lowering's ABI (`lower_graph(f.graph_for(...))[1].arena_size`).
Correctness tests run with POISON on: every released range is filled with 0xFF bytes
(NaN for floats) at the point where it is given back, so a value whose temporary was
released too early reads garbage even when no later temporary happens to land on it."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitgraph as jg
from jitgraph import config
from jitgraph.backends import llvm_memplan
from jitgraph.backends.llvm_lower import ERR_INFO_BYTES, lower_graph
from jitgraph.backends.llvm_memplan import ArenaPlan

F32 = np.float32


@pytest.fixture(autouse=True)
def _poison_and_no_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(config, "CACHE_DIR", "off")
    monkeypatch.setattr(llvm_memplan, "POISON", True)
    yield


def _cpu(f: Any, *args: Any) -> Any:
    assert f.backend_for(*args) == "cpu", f.backend_for(*args)
    return f(*args)


def _arena(f: Any, *args: Any, reuse: bool = True) -> int:
    saved = llvm_memplan.REUSE
    llvm_memplan.REUSE = reuse
    try:
        return lower_graph(f.graph_for(*args), blas_int=32)[1].arena_size
    finally:
        llvm_memplan.REUSE = saved


def _rand(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(F32)


# ------------------------------------------------------------------ the allocator
def test_plan_best_fit_alignment_and_merging() -> None:
    p = ArenaPlan(ERR_INFO_BYTES)
    a = p.alloc(1, 100)             # 128 bytes
    b = p.alloc(2, 1000)            # 1024
    c = p.alloc(3, 64)
    d = p.alloc(4, 0)               # empty arrays still get a distinct range
    assert [a, b, c, d] == [64, 192, 1216, 1280]
    assert all(o % 64 == 0 for o in (a, b, c, d))
    assert p.size == 1281
    p.release(2)
    p.release(1)                    # merges with the range after it
    assert p.free == [(64, 1152)]
    assert p.alloc(5, 500) == 64    # the front of the free range, the rest stays free
    assert p.free == [(576, 640)]
    p.release(3)
    assert p.free == [(576, 704)]   # merged with the range before it
    p.release(4)                    # the arena's end: a bigger request grows that range
    assert p.alloc(6, 5000) == 576 and p.size == 5576
    p.release(5)
    p.release(6)
    assert p.free == [(64, 5568)]
    q = ArenaPlan(ERR_INFO_BYTES)   # best fit: the smallest free range that fits
    offs = [q.alloc(i, n) for i, n in enumerate((512, 64, 128, 64, 64))]
    q.release(0)
    q.release(2)
    assert q.alloc(9, 100) == offs[2]
    assert q.alloc(10, 200) == offs[0]


# ------------------------------------------------------------------ sizes
@jg.script
def mlp_chain(x, w1, w2, w3, w4, w5):
    h = x @ w1
    h = np.maximum(h, 0) @ w2
    h = np.tanh(h) @ w3
    h = np.maximum(h, 0) @ w4
    h = np.tanh(h) @ w5
    return np.tanh(h)


def _chain_args(rng: np.random.Generator, n: int = 64, d: int = 128) -> list[np.ndarray]:
    return [_rand(rng, n, d)] + [_rand(rng, d, d, scale=d ** -0.5) for _ in range(5)]


def _chain_numpy(x: np.ndarray, *ws: np.ndarray) -> np.ndarray:
    h = x @ ws[0]
    h = np.maximum(h, 0) @ ws[1]
    h = np.tanh(h) @ ws[2]
    h = np.maximum(h, 0) @ ws[3]
    h = np.tanh(h) @ ws[4]
    return np.tanh(h)


def test_matmul_chain_reuses_the_arena(rng: np.random.Generator) -> None:
    args = _chain_args(rng)
    one = 64 * 128 * 4              # every temporary of the chain has this size
    old = _arena(mlp_chain, *args, reuse=False)
    new = _arena(mlp_chain, *args)
    assert old == ERR_INFO_BYTES + 9 * one            # 5 matmuls, 4 activations
    assert new <= ERR_INFO_BYTES + 2 * one, new       # a producer and its reader
    np.testing.assert_allclose(_cpu(mlp_chain, *args), _chain_numpy(*args),
                               rtol=1e-4, atol=1e-5)


def test_mixed_sizes_reuse_freed_ranges(rng: np.random.Generator) -> None:
    @jg.script
    def f(x, a, b, c):
        big = np.tanh(x @ a)           # (64, 512)
        small = np.exp(big @ b)        # (64, 16): the big ones die here
        mid = np.sin(small @ c)        # (64, 256): fits where they were
        return np.cos(mid) * 2.0
    x, a = _rand(rng, 64, 32), _rand(rng, 32, 512, scale=0.2)
    b, c = _rand(rng, 512, 16, scale=0.02), _rand(rng, 16, 256, scale=0.2)
    old, new = _arena(f, x, a, b, c, reuse=False), _arena(f, x, a, b, c)
    assert new < old and new <= ERR_INFO_BYTES + 2 * 64 * 512 * 4 + 64 * 16 * 4 + 64
    want = np.cos(np.sin(np.exp(np.tanh(x @ a) @ b) @ c)) * 2.0
    np.testing.assert_allclose(_cpu(f, x, a, b, c), want, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ live temporaries
def test_temp_read_before_and_after_a_big_one(rng: np.random.Generator) -> None:
    @jg.script
    def f(x, w, v):
        a = np.tanh(x @ w)             # read now and at the end
        b = np.exp(np.sin(a @ v))      # bigger temporaries made while `a` is live
        c = np.cos(b @ v.T)
        d = np.maximum(c @ v, 0) @ v.T
        return d + a, a.sum()
    x, w, v = _rand(rng, 32, 48), _rand(rng, 48, 64, scale=0.2), _rand(rng, 64, 96, scale=0.1)
    got_d, got_s = _cpu(f, x, w, v)
    a = np.tanh(x @ w)
    d = np.maximum(np.cos(np.exp(np.sin(a @ v)) @ v.T) @ v, 0) @ v.T
    np.testing.assert_allclose(got_d, d + a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_s, a.sum(), rtol=1e-4, atol=1e-4)
    assert _arena(f, x, w, v) < _arena(f, x, w, v, reuse=False)


def test_views_keep_their_temporary(rng: np.random.Generator) -> None:
    @jg.script
    def f(x, w):
        t = np.tanh(x @ w)             # (16, 64): t itself is never read again, only
        tt = t.T                       # views of it (transposed, strided slices)
        s = t[:, 2:10]
        u = np.exp(x @ w)              # new temporaries while only views hold t
        v = np.sin(u @ w.T)
        return tt @ v, s + 1.0

    @jg.script
    def g(x, w):
        t = np.tanh(x @ w)
        r = t.reshape(64, 16)          # a contiguous view
        u = np.exp(np.cos(x @ w) @ w.T)
        return r * 2.0, u
    x, w = _rand(rng, 16, 32), _rand(rng, 32, 64, scale=0.2)
    t = np.tanh(x @ w)
    got = _cpu(f, x, w)
    want = (t.T @ np.sin(np.exp(x @ w) @ w.T), t[:, 2:10] + 1.0)
    for g_, w_ in zip(got, want):
        np.testing.assert_allclose(g_, w_, rtol=1e-4, atol=1e-5)
    got = _cpu(g, x, w)
    want = (t.reshape(64, 16) * 2.0, np.exp(np.cos(x @ w) @ w.T))
    for g_, w_ in zip(got, want):
        np.testing.assert_allclose(g_, w_, rtol=1e-4, atol=1e-5)


def test_temp_read_inside_a_loop_stays_live(rng: np.random.Generator) -> None:
    @jg.script
    def f(x, w, n):
        t = np.tanh(x @ w)             # made before the loop, read in every iteration
        acc = np.zeros_like(t)
        for i in range(n):
            u = np.sin(acc @ w.T)      # temporaries of the body, made after t's last
            v = np.exp(u @ w) * 0.1    # reader in the body's node order
            acc = acc + t * v + t
        return acc + t

    def ref(x, w, n):
        t = np.tanh(x @ w)
        acc = np.zeros_like(t)
        for i in range(n):
            u = np.sin(acc @ w.T)
            v = np.exp(u @ w) * 0.1
            acc = acc + t * v + t
        return acc + t
    x, w = _rand(rng, 24, 40), _rand(rng, 40, 56, scale=0.1)
    for n in (0, 1, 4):
        np.testing.assert_allclose(_cpu(f, x, w, n), ref(x, w, n), rtol=1e-4, atol=1e-5)


def test_while_loop_and_branches_read_outer_temps(rng: np.random.Generator) -> None:
    @jg.script
    def f(x, w, flag):
        t = np.tanh(x @ w)
        s = np.exp(-np.abs(t))
        if flag > 0:
            y = np.sin(t @ w.T) @ w    # the branch's temporaries vs t (read after)
        else:
            y = np.cos(s @ w.T) @ w
        k = 0
        z = y
        while k < 3:
            z = np.tanh(z @ w.T) @ w + s
            k = k + 1
        return z + t + y

    def ref(x, w, flag):
        t = np.tanh(x @ w)
        s = np.exp(-np.abs(t))
        y = (np.sin(t @ w.T) if flag > 0 else np.cos(s @ w.T)) @ w
        z = y
        for _ in range(3):
            z = np.tanh(z @ w.T) @ w + s
        return z + t + y
    x, w = _rand(rng, 20, 30), _rand(rng, 30, 44, scale=0.1)
    for flag in (1.0, -1.0):
        np.testing.assert_allclose(_cpu(f, x, w, flag), ref(x, w, flag), rtol=1e-4, atol=1e-5)


def test_big_threaded_kernels_and_row_groups(rng: np.random.Generator) -> None:
    @jg.script
    def f(x, w):
        a = np.exp(np.tanh(x @ w))     # 512 x 512: big enough for threads
        m = a.max(axis=1, keepdims=True)
        e = np.exp(a - m)
        sm = e / e.sum(axis=1, keepdims=True)   # a row group (llvm_rows)
        b = np.sin(sm * 3.0) + a
        return (b @ w.T) @ w + np.cos(a)
    x, w = _rand(rng, 512, 64), _rand(rng, 64, 512, scale=0.1)
    a = np.exp(np.tanh(x @ w))
    e = np.exp(a - a.max(axis=1, keepdims=True))
    want = ((np.sin(e / e.sum(axis=1, keepdims=True) * 3.0) + a) @ w.T) @ w + np.cos(a)
    np.testing.assert_allclose(_cpu(f, x, w), want, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ gradients
def _mlp_loss(x, y, w1, w2, w3):
    h = np.tanh(x @ w1)
    h = np.maximum(h @ w2, 0.0)
    p = h @ w3
    return ((p - y) ** 2).sum()


def test_mlp_gradient_matches_numpy(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((16, 12)), rng.standard_normal((16, 3))
    w1, w2, w3 = (rng.standard_normal(s) * 0.4 for s in ((12, 20), (20, 20), (20, 3)))
    f = jg.grad(_mlp_loss, argnums=(2, 3, 4))
    g1, g2, g3 = _cpu(f, x, y, w1, w2, w3)
    # by hand
    a1 = x @ w1
    h1 = np.tanh(a1)
    a2 = h1 @ w2
    h2 = np.maximum(a2, 0.0)
    p = h2 @ w3
    dp = 2 * (p - y)
    d3 = h2.T @ dp
    dh2 = dp @ w3.T * (a2 > 0)
    d2 = h1.T @ dh2
    d1 = x.T @ (dh2 @ w2.T * (1 - h1 ** 2))
    for got, want in ((g1, d1), (g2, d2), (g3, d3)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    # and by finite differences, a few entries of each
    eps = 1e-6
    ws = [w1, w2, w3]
    for k, g in enumerate((g1, g2, g3)):
        for idx in [(0, 0), (1, 2), tuple(s - 1 for s in ws[k].shape)]:
            wp = [w.copy() for w in ws]
            wm = [w.copy() for w in ws]
            wp[k][idx] += eps
            wm[k][idx] -= eps
            fd = (_mlp_loss(x, y, *wp) - _mlp_loss(x, y, *wm)) / (2 * eps)
            np.testing.assert_allclose(g[idx], fd, rtol=1e-5, atol=1e-6)
    old, new = _arena(f, x, y, w1, w2, w3, reuse=False), _arena(f, x, y, w1, w2, w3)
    assert new < old, (new, old)


def test_training_step_with_a_branch(rng: np.random.Generator) -> None:
    """examples/train_mlp.py's step (value_and_grad through an if), vs the eager step."""
    def model(x, y, w1, w2a, w2b, prev_loss):
        w2 = w2a if prev_loss < 5.0 else w2b
        return ((np.maximum(x @ w1, 0.0) @ w2 - y) ** 2).sum()

    def step(x, y, w1, w2a, w2b, prev_loss, lr):
        loss, (g1, g2a, g2b) = jg.value_and_grad(model, argnums=(2, 3, 4))(
            x, y, w1, w2a, w2b, prev_loss)
        return loss, w1 - lr * g1, w2a - lr * g2a, w2b - lr * g2b

    f = jg.script(step)
    x, y = _rand(rng, 64, 200), _rand(rng, 64, 10)
    w1, w2a, w2b = _rand(rng, 200, 50), _rand(rng, 50, 10), _rand(rng, 50, 10)
    for prev in (10.0, 1.0):
        args = (x, y, w1, w2a, w2b, prev, 1e-4)
        got = _cpu(f, *args)
        jg.disable()
        try:
            want = f(*args)
        finally:
            jg.enable()
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    assert _arena(f, *args) < _arena(f, *args, reuse=False)
