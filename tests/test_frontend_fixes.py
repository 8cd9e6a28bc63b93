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
