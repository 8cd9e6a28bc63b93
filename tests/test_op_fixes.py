"""Regression tests for op rules in jitgraph/ops that were wrong:

  * cumprod's VJP divided by x, so its gradient was NaN where an input is exactly 0;
  * arange's dtype rule ignored `stop` (np.arange(5.0) came out int64);
  * setitem's VJP gave every write of a repeated integer-array index the cotangent, while
    NumPy keeps only the last write (in C order of the broadcast index arrays).

Gradients are checked against central differences in float64, on the interpreter and on
the compiled CPU backend (fallback="error": every op of the gradient graph is lowered)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import jitgraph as jg

BACKENDS = ["interp", "cpu"]


def central_diff(f: Callable[..., Any], args: Sequence[Any], k: int,
                 eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f(*args) with respect to args[k], in float64."""
    x = np.array(args[k], dtype=np.float64)
    out = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        vals = []
        for s in (1.0, -1.0):
            xx = x.copy()
            xx[i] += s * eps
            a = list(args)
            a[k] = xx
            vals.append(float(f(*a)))
        out[i] = (vals[0] - vals[1]) / (2 * eps)
    return out


def check_grads(f: Callable[..., Any], args: Sequence[Any], argnums: Sequence[int],
                backend: str, rtol: float = 1e-6, atol: float = 1e-7) -> None:
    got = jg.grad(f, argnums=tuple(argnums), backend=backend, fallback="error")(*args)
    for g, k in zip(got, argnums, strict=True):
        assert g.shape == np.shape(args[k]) and g.dtype == np.asarray(args[k]).dtype
        assert np.all(np.isfinite(g)), f"d/darg{k}: {g}"
        np.testing.assert_allclose(g, central_diff(f, args, k), rtol=rtol, atol=atol,
                                   err_msg=f"d/darg{k} on {backend}")


# ====================================================================== cumprod at zeros
def cumprod_sum(x):
    return np.cumprod(x).sum()


@pytest.mark.parametrize("backend", BACKENDS)
def test_cumprod_grad_at_an_exact_zero(backend: str) -> None:
    g = jg.grad(cumprod_sum, backend=backend, fallback="error")(np.array([0.5, 0.0, 2.0]))
    np.testing.assert_allclose(g, [1.0, 1.5, 0.0], rtol=1e-15, atol=0)


W34 = np.cos(np.arange(12.0) * 1.7).reshape(3, 4)


def cumprod_flat(x):
    return (np.cumprod(x) * W34.ravel()).sum()


def cumprod_ax0(x):
    return (np.cumprod(x, axis=0) * W34).sum()


def cumprod_ax1(x):
    return (np.cumprod(x, axis=1) * W34).sum()


def cumprod_axm1(x):
    return (x.cumprod(axis=-1) * W34).sum()


# lines with no zero, one zero (first, middle, last), two and three zeros, all zeros
ZEROS = {
    "none": [],
    "scattered": [(0, 1), (1, 0), (2, 3)],
    "several-per-line": [(0, 1), (0, 3), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)],
    "all": [(i, j) for i in range(3) for j in range(4)],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("zeros", list(ZEROS), ids=str)
@pytest.mark.parametrize("f", [cumprod_flat, cumprod_ax0, cumprod_ax1, cumprod_axm1],
                         ids=lambda f: f.__name__)
def test_cumprod_grad_with_zeros_any_axis(f: Callable[..., Any], zeros: str,
                                          backend: str) -> None:
    x = np.random.default_rng(len(zeros)).uniform(-2.0, 2.0, (3, 4))
    for ij in ZEROS[zeros]:
        x[ij] = 0.0
    check_grads(f, [x], [0], backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cumprod_grad_with_zeros_float32(backend: str) -> None:
    x = np.array([[0.5, 0.0, 2.0, -1.5], [0.0, 1.25, 0.0, 3.0], [1.5, -0.75, 2.5, 0.0]],
                 dtype=np.float32)
    g = jg.grad(cumprod_ax1, backend=backend, fallback="error")(x)
    assert g.dtype == np.float32 and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, central_diff(cumprod_ax1, [x], 0), rtol=1e-5, atol=1e-5)


R34 = np.sin(np.arange(12.0) * 0.9).reshape(3, 4)
_d_cumprod_ax1 = jg.grad(cumprod_ax1, backend="interp")


def cumprod_hvp(x):
    return (_d_cumprod_ax1(x) * R34).sum()


@pytest.mark.parametrize("backend", BACKENDS)
def test_cumprod_second_derivative_at_zeros(backend: str) -> None:
    """The gradient is a polynomial in x: its own gradient (a Hessian-vector product) is
    exact at zeros too, including d g_i / d x_z for i after a zero z."""
    x = np.array([[0.5, 0.0, 2.0, 0.0], [0.0, 1.5, -0.5, 0.0], [1.1, 0.7, 0.0, -1.2]])
    got = jg.grad(cumprod_hvp, backend=backend, fallback="error")(x)
    want = central_diff(lambda z: (_d_cumprod_ax1(z) * R34).sum(), [x], 0)
    assert np.all(np.isfinite(got)) and np.all(np.isfinite(want))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# ====================================================================== arange's dtype
def ar_float_stop():
    return np.arange(5.0)


def ar_int_start_float_stop():
    return np.arange(0, 3.0)


def ar_float_start():
    return np.arange(0.5, 3)


def ar_float_step():
    return np.arange(0, 3, 0.5)


def ar_int():
    return np.arange(4)


def ar_int_dtype_f32():
    return np.arange(3, dtype=np.float32)


def ar_float_dtype_int():
    return np.arange(0.0, 6.0, 2.0, dtype=np.int32)


def ar_empty_float():
    return np.arange(5, 0.0)


def ar_negative_float_step():
    return np.arange(5, 0, -1.5)


def ar_float32_scalar():
    return np.arange(np.float32(3.0))


def ar_float_of_shape(x):
    return x * np.arange(float(x.shape[0]))


ARANGES = [ar_float_stop, ar_int_start_float_stop, ar_float_start, ar_float_step, ar_int,
           ar_int_dtype_f32, ar_float_dtype_int, ar_empty_float, ar_negative_float_step,
           ar_float32_scalar]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("f", ARANGES, ids=lambda f: f.__name__)
def test_arange_dtype_is_numpys(f: Callable[[], Any], backend: str) -> None:
    got, want = jg.script(f, backend=backend, fallback="error")(), f()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def ar_float_of_static(n):
    return np.arange(float(n))


@pytest.mark.parametrize("backend", BACKENDS)
def test_arange_of_a_float_inside_a_function(backend: str) -> None:
    got = jg.script(ar_float_of_static, backend=backend, fallback="error",
                    static_argnums=0)(4)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.arange(4.0))
    x = np.array([1.5, 2.0, 3.0], dtype=np.float32)
    got = jg.script(ar_float_of_shape, backend=backend, fallback="error")(x)
    want = ar_float_of_shape(x)
    assert got.dtype == want.dtype == np.float64
    np.testing.assert_array_equal(got, want)


# ================================================ setitem with repeated array indices
C3 = np.array([1.0, 2.0, 3.0])
W345 = np.cos(np.arange(60.0)).reshape(3, 4, 5)


def si_vector(v, idx):
    out = np.zeros(3)
    out[idx] = v
    return (out * C3).sum()


def si_plain_sum(v, idx):
    out = np.zeros(3)
    out[idx] = v
    return out.sum()


def si_broadcast_scalar(s, idx):
    out = np.zeros(3)
    out[idx] = s
    return (out * C3).sum()


def si_two_arrays(x, v, i, j):
    out = x * 1.0
    out[i, j] = v
    return (out * out).sum()


def si_slice_then_array(x, v, idx):
    out = x * 1.0
    out[:, idx] = v
    return (out * np.cos(out)).sum()


def si_split_arrays(x, v, i, j):   # advanced indices apart: their dims come first
    out = x * 1.0
    out[i, :, j] = v
    return (out * W345).sum()


def si_ellipsis(x, v, idx):
    out = x * 1.0
    out[..., idx] = v
    return (out * W345).sum()


def si_mixed(x, v, idx, k):
    out = x * 1.0
    out[idx, 1:3, k] = v
    return (out * W345).sum()


def si_add(x, v, idx):   # buffered, as NumPy: x[idx] = x[idx] + v, the last write wins
    out = x * 1.0
    out[idx] += v
    return (out * out * np.array([1.0, 2.0, 3.0, 4.0])).sum()


def si_int_then_array_add(x, v, idx):
    out = x * 1.0
    out[1, idx] += v
    return (out ** 3).sum()


IDX_IN_LOOP = np.array([0, 2, 0])


def si_loop(x, v):
    out = x * 1.0
    for i in range(3):
        out[IDX_IN_LOOP + i] = v * (i + 1.0) + out[IDX_IN_LOOP + i]
    return (out * out).sum()


_R = np.random.default_rng(5)
SETITEM_CASES = [
    ("repeat-pair", si_vector, [_R.standard_normal(2), np.array([1, 1])], [0]),
    ("repeat-first-and-last", si_vector, [_R.standard_normal(4), np.array([2, 0, 2, -1])],
     [0]),
    ("negative-alias", si_vector, [_R.standard_normal(3), np.array([1, -2, 0])], [0]),
    ("scalar-value", si_broadcast_scalar, [np.array(0.7), np.array([1, 1, 2])], [0]),
    ("two-arrays-2d", si_two_arrays, [_R.standard_normal((4, 3)), _R.standard_normal((2, 3)),
                                      np.array([[1], [1]]), np.array([[0, 2, 0]])], [0, 1]),
    ("two-arrays-bcast-value", si_two_arrays,
     [_R.standard_normal((4, 3)), _R.standard_normal(3), np.array([[1], [3]]),
      np.array([[0, 2, 0]])], [0, 1]),
    ("slice-then-array", si_slice_then_array,
     [_R.standard_normal((4, 3)), _R.standard_normal((4, 4)), np.array([2, 0, 2, 2])], [0, 1]),
    ("split-arrays", si_split_arrays,
     [_R.standard_normal((3, 4, 5)), _R.standard_normal((2, 2, 4)), np.array([[0, 1], [0, 1]]),
      np.array([4, 4])], [0, 1]),
    ("ellipsis", si_ellipsis,
     [_R.standard_normal((3, 4, 5)), _R.standard_normal((3, 4, 3)), np.array([0, -5, 2])],
     [0, 1]),
    ("array-slice-runtime-int", si_mixed,
     [_R.standard_normal((3, 4, 5)), _R.standard_normal((3, 2)), np.array([2, 0, 2]),
      np.array(-1)], [0, 1]),
    ("add-repeats", si_add, [_R.standard_normal(4), _R.standard_normal(3), np.array([1, 3, 1])],
     [0, 1]),
    ("add-repeats-bcast", si_add,
     [_R.standard_normal(4), _R.standard_normal(1), np.array([1, 3, 1])], [0, 1]),
    ("int-then-array-add", si_int_then_array_add,
     [_R.standard_normal((3, 4)), _R.standard_normal(5), np.array([3, 0, 3, 3, 0])], [0, 1]),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_setitem_repeated_index_gradient_example(backend: str) -> None:
    g = jg.grad(si_plain_sum, backend=backend, fallback="error")(np.array([5.0, 7.0]),
                                                                np.array([1, 1]))
    np.testing.assert_array_equal(g, [0.0, 1.0])   # NumPy keeps the last write


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "f", "args", "argnums"), SETITEM_CASES,
                         ids=[c[0] for c in SETITEM_CASES])
def test_setitem_repeated_indices_gradients(name: str, f: Callable[..., Any],
                                            args: list[Any], argnums: list[int],
                                            backend: str) -> None:
    before = [np.copy(a) for a in args]
    got = jg.script(f, backend=backend, fallback="error")(*args)
    np.testing.assert_allclose(got, f(*before), rtol=1e-12)   # last write wins forward too
    check_grads(f, args, argnums, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_setitem_repeated_indices_in_a_loop(backend: str) -> None:
    rng = np.random.default_rng(11)
    check_grads(si_loop, [rng.standard_normal(6), rng.standard_normal(3)], [0, 1], backend)


def si_float32(x, v, idx):
    out = x * np.float32(1.0)
    out[idx] = v
    return (out * out).sum()


@pytest.mark.parametrize("backend", BACKENDS)
def test_setitem_repeated_indices_float32(backend: str) -> None:
    x = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)
    v = np.array([0.25, -1.5, 2.0], dtype=np.float32)
    gx, gv = jg.grad(si_float32, argnums=(0, 1), backend=backend, fallback="error")(
        x, v, np.array([3, 1, 3]))
    assert gx.dtype == gv.dtype == np.float32
    np.testing.assert_allclose(gx, [2.0, 0.0, 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(gv, [0.0, -3.0, 4.0], rtol=1e-6)
