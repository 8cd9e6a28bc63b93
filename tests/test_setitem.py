"""Item assignment in scripted functions: `out[i] = v`, `out[a:b] += v`, `y[y < 0] = 0.0`
on arrays the function made itself compile to setitem (or where), equal to eager NumPy
on every backend, with gradients; assignments NumPy would make visible elsewhere (into an
argument, an alias, a view) are refused before anything runs."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import jitgraph as jg

BACKENDS = ["interp", "cpu"]


def fill(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = np.tanh(x[i]).sum() * 2.0
    return out


def rows_and_slices(x):
    b = x.copy()
    b[0] = 0.0
    b[:, 1:3] = x[:, 1:3] * 10
    b[-1, -1] += 5.0
    b[1, ::-2] -= x[2, :2]
    return b


def masked(x):
    y = x * 1.0
    y[y < 0] = 0.0
    return y


def window(x):
    out = np.zeros((x.shape[0] + 1, x.shape[1]))
    for i in range(x.shape[0]):
        out[i:i + 2] += x[i]
    return out


def branchy(x, c):
    out = np.ones(4)
    if c > 0:
        out[0] = c
    else:
        out[1] = -c
    out[2] = x[0, 0]
    return out


def int_target(x):
    counts = np.zeros(3, dtype=np.int32)
    for i in range(x.shape[0]):
        counts[i % 3] += 1.7          # cast to int32 on the way in, as NumPy does
    return counts


def run_index(x, k):
    out = np.zeros_like(x)
    out[k] = x[k] * 3.0
    out[-1, k] = 9.0
    return out


def helper_result(x):
    y = _twice(x)
    y[0] = 3.0
    return y


def _twice(x):
    return x * 2


def from_copies(x):
    t = TABLE.copy()
    t[0] = x[0, 0]
    u = np.array(TABLE)
    u[1] = x[1, 1]
    v = np.array([1.0, 2.0, 3.0])
    v[2] = x[2, 2]
    w = np.array(x[0, :3])
    w[0] = 7.0
    return t + u + v + w


CASES = [(from_copies, ()), (fill, ()), (rows_and_slices, ()), (masked, ()), (window, ()), (branchy, (2.0,)),
         (branchy, (-1.0,)), (int_target, ()), (run_index, (1,)), (run_index, (-2,)),
         (helper_result, ())]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("fn", "extra"), CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_matches_eager_and_leaves_inputs_alone(fn, extra, backend: str) -> None:
    x = np.random.default_rng(0).standard_normal((5, 4))
    before = x.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jg.FallbackWarning)
        got = jg.script(fn, backend=backend, fallback="error")(x, *extra)
    want = fn(before.copy(), *extra)
    np.testing.assert_array_equal(x, before)            # the argument was not written
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _loss(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = np.tanh(x[i]).sum() * 2.0
    out[1:3] += x[0, :2]
    y = x * 1.0
    y[:, 0] = out[:4]
    return (out ** 2).sum() + (y * y).sum()


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_matches_central_differences(backend: str) -> None:
    x = np.random.default_rng(1).standard_normal((4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jg.FallbackWarning)
        g = jg.grad(jg.script(_loss, backend=backend, fallback="error"))(x)
    num = np.zeros_like(x)
    eps = 1e-6
    for idx in np.ndindex(x.shape):
        a, b = x.copy(), x.copy()
        a[idx] += eps
        b[idx] -= eps
        num[idx] = (_loss(a) - _loss(b)) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def into_argument(x):
    x[0] = 1.0
    return x


def into_alias(x):
    a = np.zeros(3)
    b = a
    b[0] = 1.0
    return a


def into_viewed(x):
    a = np.zeros((3, 3))
    r = a[0]
    a[0, 1] = 2.0
    return r


def into_view(x):
    a = np.zeros((3, 3))
    r = a.T
    r[0, 1] = 2.0
    return a


def rebound_in_loop(x):
    out = np.zeros(4)
    for i in range(3):
        out[i] = 1.0
        out = x[0]
    return out


def _write_first(b):
    b[0] = 5.0
    return b


def into_helper_argument(x):
    z = np.zeros(3)
    w = _write_first(z)
    return z, w


def into_global(x):
    TABLE[0] = x[0, 0]
    return TABLE


TABLE = np.zeros(3)


def mask_with_array(x):
    y = x * 1.0
    y[y < 0] = x[0]
    return y


@pytest.mark.parametrize(("fn", "words"), [
    (into_argument, "argument of the function"),
    (into_alias, "'a' refers to the same array"),
    (into_viewed, "'r' refers to the same array"),
    (into_view, "view of another array"),
    (rebound_in_loop, "the loop carries 'out'"),
    (into_helper_argument, "argument of the function"),
    (into_global, "cannot track"),
    (mask_with_array, "boolean-mask assignment"),
])
def test_assignments_numpy_would_show_elsewhere_are_refused(fn, words: str) -> None:
    x = np.random.default_rng(0).standard_normal((5, 4))
    f = jg.script(fn)
    with pytest.raises(jg.JitTypeError) as ei:
        f(x)
    msg = str(ei.value)
    assert words in msg and "test_setitem.py" in msg, msg


def test_nested_subscript_target_is_refused_at_decoration() -> None:
    def f(x):
        y = x * 1.0
        y[0][1] = 2.0
        return y
    with pytest.raises(jg.ScriptError, match="a\\[i, j\\] = v"):
        jg.script(f)


def test_ir_shows_setitem_and_round_trips() -> None:
    f = jg.script(fill)
    text = str(f.graph)
    assert "setitem(" in text and "loop(" in text
    assert str(jg.parse_ir(text)) == text
