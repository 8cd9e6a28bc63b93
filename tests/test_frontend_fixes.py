"""Python semantics the corpora found missing: `and`/`or` run their right side only when
Python does, `not` gives a Python bool, isinstance sees a Python number argument's type,
zip over tuple arguments, enumerate with a start, `y[mask] op= v`, and NumPy 2's
OverflowError for an integer literal that does not fit the array's dtype. Each compared
with eager NumPy on interp and cpu."""
from __future__ import annotations

import numpy as np
import pytest

import jitgraph as jg

BACKENDS = ["interp", "cpu"]


def positive_at(x, i):
    return i < x.shape[0] and x[i] > 0


def missing_or_positive(x, i):
    return i >= x.shape[0] or x[i] > 0


def insertion_sort(x):
    a = x.copy()
    for i in range(1, a.shape[0]):
        key = a[i]
        j = i - 1
        while j >= 0 and a[j] > key:     # a[-1] must not be read when j < 0
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = key
    return a


def not_positive(x):
    return not (x.min() > 0)


def scale_or_shift(x, k):
    return x * k if isinstance(k, int) else x + k


def layers(ws, bs, x):
    for w, b in zip(ws, bs):
        x = np.tanh(x * w + b)
    return x


def weighted_rows(x):
    s = 0.0
    for i, r in enumerate(x, 1):
        s = s + i * r.sum()
    return s, sum(i * r for i, r in enumerate(x, 2))


def shrink_negatives(x):
    y = x.copy()
    y[y < 0] *= 0.5
    y[y > 1] += 1.0
    return y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,args", [
    (positive_at, lambda: (np.array([3.0, -1.0, 2.0]), 1)),
    (positive_at, lambda: (np.array([3.0, -1.0, 2.0]), 2)),
    (missing_or_positive, lambda: (np.array([3.0, -1.0, 2.0]), 1)),
    (insertion_sort, lambda: (np.array([3.0, 1.0, 2.0, 5.0, 0.5]),)),
    (not_positive, lambda: (np.array([3.0, 1.0]),)),
    (not_positive, lambda: (np.array([3.0, -1.0]),)),
    (scale_or_shift, lambda: (np.array([1.0, 4.0]), 3)),
    (scale_or_shift, lambda: (np.array([1.0, 4.0]), 3.0)),
    (scale_or_shift, lambda: (np.array([1.0, 4.0]), True)),
    (layers, lambda: ((np.ones(2), np.full(2, 0.5)), (np.zeros(2), np.ones(2)),
                      np.array([0.1, -0.2]))),
    (weighted_rows, lambda: (np.arange(6.0).reshape(3, 2),)),
    (shrink_negatives, lambda: (np.array([-2.0, 0.5, 3.0, -1.0]),)),
])
def test_matches_eager(backend, fn, args):
    got = jg.script(fn, backend=backend, fallback="error")(*args())
    want = fn(*args())
    if isinstance(want, tuple):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w)
    else:
        assert type(got) is type(want), (type(got), type(want))
        np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_circuit_skips_an_out_of_range_index(backend):
    # eager: `3 < 3` is False, and x[3] is never read; compiled, x[3] would raise
    x = np.array([3.0, -1.0, 2.0])
    assert not jg.script(positive_at, backend=backend)(x, 3)
    assert jg.script(missing_or_positive, backend=backend)(x, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_masked_augmented_assignment_gradient(backend):
    x = np.array([-2.0, 0.5, 3.0, -1.0])
    g = jg.grad(lambda x: (shrink_negatives(x) ** 2).sum(), backend=backend)(x)
    h = 1e-6
    fd = [((shrink_negatives(x + h * e) ** 2).sum() - (shrink_negatives(x - h * e) ** 2).sum())
          / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def add_300(x):
    return x + 300


def mod_minus_3(x):
    return x % -3


def compare_300(x):
    return x < 300


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_literal_out_of_dtype_range(backend):
    u8 = np.array([1, 2], np.uint8)
    for fn in (add_300, mod_minus_3):
        with pytest.raises(OverflowError, match="out of bounds for uint8"):
            fn(u8)                                  # what eager NumPy 2 does
        with pytest.raises(OverflowError, match="out of bounds for uint8"):
            jg.script(fn, backend=backend)(u8)
    np.testing.assert_array_equal(jg.script(compare_300, backend=backend)(u8),
                                  compare_300(u8))
    i64 = np.array([1, 2])
    np.testing.assert_array_equal(jg.script(add_300, backend=backend)(i64), add_300(i64))


def closure_step(w, b, x, y, lr):
    def loss_fn(w, b):
        return ((x @ w + b - y) ** 2).mean()
    loss, (gw, gb) = jg.value_and_grad(loss_fn, argnums=(0, 1))(w, b)
    return loss, w - lr * gw, b - lr * gb


def closure_dict_step(p, x, y):
    scale = 2.0

    def loss_fn(p):
        return (scale * (np.tanh(x @ p["w"]) - y) ** 2).sum()
    g = jg.grad(loss_fn)(p)
    return {k: p[k] - 0.1 * g[k] for k in p}


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_of_a_nested_closure(backend):
    # JAX's closure pattern: the loss reads x, y from the enclosing function
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal(3), rng.standard_normal(1)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal(5)
    got = jg.script(closure_step, backend=backend, fallback="error")(w, b, x, y, 0.1)
    h = 1e-6

    def loss(w, b):
        return ((x @ w + b - y) ** 2).mean()
    gw = [(loss(w + h * e, b) - loss(w - h * e, b)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(got[0], loss(w, b), rtol=1e-12)
    np.testing.assert_allclose(got[1], w - 0.1 * np.array(gw), rtol=1e-8)
    p = {"w": rng.standard_normal((3, 2))}
    y2 = rng.standard_normal((5, 2))
    got = jg.script(closure_dict_step, backend=backend, fallback="error")(p, x, y2)
    assert isinstance(got, dict)
    np.testing.assert_allclose(got["w"], closure_dict_step(p, x, y2)["w"], rtol=1e-12)


def sum_rows(x):
    t = x.sum()
    for v in x:
        t = t + v
    return t


def sum_first(x, k):
    s = 0.0
    for i in range(k):
        s = s + x[i]
    return s


@pytest.mark.parametrize("backend", BACKENDS)
def test_loops_over_empty_arrays(backend):
    # the body indexes an empty axis but never runs; running it is NumPy's IndexError
    assert jg.script(sum_rows, backend=backend)(np.zeros(0)) == 0.0
    f = jg.script(sum_first, backend=backend)
    assert f(np.zeros(0), 0) == 0.0
    with pytest.raises(IndexError):
        f(np.zeros(0), 1)


def window(x, i):
    return x[i:i + 3]


def window_add(x, i):
    out = x.copy()
    out[i:i + 2] += 1.0
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_window_with_a_negative_start_raises(backend):
    # NumPy's x[-1:2] is shorter (a shape jitgraph cannot give); x[i + arange(3)] used to
    # wrap around to [9, 0, 1]: a negative start is now IndexError, as a window past the end
    x = np.arange(10.0)
    np.testing.assert_array_equal(jg.script(window, backend=backend)(x, 2), x[2:5])
    for fn in (window, window_add):
        with pytest.raises(IndexError):
            jg.script(fn, backend=backend)(x, -1)


def bool_index(x, n):
    return x[n]


def nan_extremes(x):
    return np.nanmax(x, axis=1), np.nanmin(x, axis=0), np.nanmax(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_numpy_edge_cases(backend):
    with pytest.raises(jg.JitTypeError, match="boolean scalar"):
        jg.script(bool_index, backend=backend)(np.arange(3.0), True)
    x = np.array([[np.nan, np.nan], [1.0, np.nan]])
    got = jg.script(nan_extremes, backend=backend, fallback="error")(x)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = nan_extremes(x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def _axis_cases():
    return [
        (lambda x: np.moveaxis(x, 0, 5), "axis 5 is out of bounds"),
        (lambda x: np.swapaxes(x, 0, 2), "axis 2 is out of bounds"),
        (lambda x: np.flip(x, axis=2), "axis 2 is out of bounds"),
        (lambda x: np.diff(x, axis=3), "axis 3 is out of bounds"),
        (lambda x: np.diff(x, n=-1), "order must be non-negative"),
        (lambda x: np.fliplr(x[0]), ">= 2-d"),
        (lambda x: np.flipud(x.sum()), ">= 1-d"),
        (lambda x: np.trace(x, axis1=0, axis2=0), "axis1=0, axis2=1"),
        (lambda x: np.concatenate([]), "need at least one array"),
    ]


@pytest.mark.parametrize("k", range(9))
def test_bad_axes_are_refused(k):
    # these returned a result (axes wrapped modulo ndim) where NumPy raises
    fn, msg = _axis_cases()[k]
    x = np.ones((2, 3))
    with pytest.raises(Exception):        # noqa: B017 - eager NumPy raises too
        fn(x)
    with pytest.raises(jg.JitTypeError, match=msg):
        jg.script(fn, backend="interp")(x)
