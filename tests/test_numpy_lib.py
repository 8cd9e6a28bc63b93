"""The NumPy functions built from ops in frontend/composites.py and the for-loop forms
(reversed(range), enumerate, zip, iterating an array), on every backend, vs eager NumPy."""
from __future__ import annotations

import numpy as np
import pytest

import jitgraph as jg
from jitgraph.backends import get_backend

BACKENDS = ["interp"]
try:
    if get_backend("cpu").available():
        BACKENDS.append("cpu")
except ImportError:
    pass


def f_round(x):
    return np.round(x, 2), x.round(1), np.around(x), np.round(x.astype(np.int32), -1)


def f_stack(x, y):
    return np.hstack([x, y]), np.vstack([x[0], y[0]]), np.column_stack([x[0], y[0]])


def f_flip(x):
    return np.flip(x), np.flip(x, 1), np.fliplr(x), np.flipud(x), np.triu(x, 1), np.tril(x)


def f_diff(x):
    return np.diff(x), np.diff(x, 2, axis=0), np.moveaxis(x[None], 0, -1)


def f_logaddexp(x, y):
    return np.logaddexp(x, y), np.count_nonzero(x > 0), np.count_nonzero(x > 0, axis=1)


def f_nan(x):
    return np.nansum(x), np.nanmax(x, axis=1), np.nanmean(x), np.nanmin(x), np.nanprod(x)


def f_fmax(x, y):
    return np.fmax(x, y), np.fmin(x, y), np.hypot(x, y)


def f_diag(x, y):
    return np.trace(x), np.diag(x), np.diag(x[0]), np.isclose(x, x + 1e-9), np.allclose(y, y)


def f_loops(x, n):
    acc = np.zeros(x.shape[1])
    for t in reversed(range(n)):
        acc = acc * 0.5 + x[t]
    for i, row in enumerate(x):
        acc = acc + row * i
    for row in x:
        acc = acc - row
    for a, b in zip((1.0, 2.0), (3.0, 4.0)):
        acc = acc + a * b
    for t in reversed(range(1, 6, 2)):
        acc = acc + t
    return acc, t


def f_strings(x):
    best = float("inf")
    y = x.astype("float32") + np.zeros(x.shape, dtype="float32")
    return np.minimum(best, y.sum()), y


CASES = [(f_round, 1), (f_stack, 2), (f_flip, 1), (f_diff, 1), (f_logaddexp, 2), (f_nan, 1),
         (f_fmax, 2), (f_diag, 2), (f_strings, 1)]


def _same(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for p, q in zip(a, b):
            _same(p, q)
        return
    assert type(a) is type(b), (type(a), type(b))
    assert np.asarray(a).dtype == np.asarray(b).dtype
    assert np.shape(a) == np.shape(b)
    assert np.allclose(a, b, equal_nan=True, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,nargs", CASES, ids=[f.__name__ for f, _ in CASES])
def test_composite_matches_numpy(fn, nargs, backend) -> None:
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((4, 5)) for _ in range(nargs)]
    args[0][0, 1] = np.nan
    if fn in (f_diag, f_strings, f_round):
        args[0][0, 1] = 0.5
    _same(jg.script(fn, backend=backend, fallback="error")(*args), fn(*args))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [0, 1, 3])
def test_for_loop_forms(n, backend) -> None:
    x = np.arange(12.0).reshape(4, 3)
    _same(jg.script(f_loops, backend=backend)(x, n), f_loops(x, n))


def test_composites_differentiate() -> None:
    def loss(x, y):
        return (np.logaddexp(x, y) + np.hypot(x, y) + np.diff(np.flip(x, 0), axis=0).sum()
                + np.triu(x).sum()).sum()
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    g = jg.grad(loss, argnums=0, backend="interp")(x, y)
    eps, fd = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        fd[i] = (loss(x + e, y) - loss(x - e, y)) / (2 * eps)
    assert np.allclose(g, fd, atol=1e-6)


def conv1d(x, w):
    k = w.shape[0]
    acc = 0.0
    for i in range(x.shape[0] - k + 1):
        acc = acc + (x[i:i + k] * w).sum() * (i + 1)
    return acc


def moving_average(x, w):
    s = np.zeros(x.shape[1])
    for t in range(w, x.shape[0] + 1):
        s = s + x[t - w:t].mean(axis=0)
    return s


@pytest.mark.parametrize("backend", BACKENDS)
def test_sliding_windows(backend) -> None:
    x, w = np.arange(10.0), np.array([1.0, -2.0, 0.5])
    _same(jg.script(conv1d, backend=backend)(x, w), conv1d(x, w))
    xs = np.arange(20.0).reshape(5, 4)
    _same(jg.script(moving_average, backend=backend)(xs, 2), moving_average(xs, 2))
    g = jg.grad(conv1d, argnums=1, backend=backend)(x, w)
    eps = 1e-6
    fd = [(conv1d(x, w + e) - conv1d(x, w - e)) / (2 * eps) for e in np.eye(3) * eps]
    assert np.allclose(g, fd, atol=1e-5)


def test_window_with_a_run_time_length_is_refused() -> None:
    def f(x, n):
        s = 0.0
        for i in range(n):
            s = s + x[i:2 * i].sum()
        return s
    with pytest.raises(jg.JitTypeError, match="fixed length"):
        jg.script(f, backend="interp")(np.ones(5), 2)


def test_cumsum_cumprod_values_and_gradients() -> None:
    def f(x):
        return np.cumsum(x, axis=1), x.cumprod(axis=0), np.cumsum(x), np.cumsum(
            x.astype(np.int32), 0)

    def loss(x):
        return ((np.cumsum(x, axis=1) ** 2).sum() + np.cumprod(x, axis=0).sum()
                + (np.cumsum(x) * np.arange(12)).sum())
    x = np.random.default_rng(0).uniform(0.5, 1.5, (3, 4))
    _same(jg.script(f, backend="interp")(x), f(x))
    g = jg.grad(loss, backend="interp")(x)
    eps, fd = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        fd[i] = (loss(x + e) - loss(x - e)) / (2 * eps)
    assert np.allclose(g, fd, atol=1e-5)
