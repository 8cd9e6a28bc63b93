"""Frontend: every supported construct of issue 2 compiles and matches eager NumPy on the
interpreter (same Python/NumPy type, dtype, shape and values); every refused construct raises
ScriptError at decoration with file, line, column, construct, source line and caret; type
errors at call time name the argument and the source line."""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import jitgraph as jg
from jitgraph.errors import JitError

# ------------------------------------------------------------------------------- helpers
_TOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10,
        np.dtype(np.complex64): 1e-5, np.dtype(np.complex128): 1e-10}


def assert_same(got, want, path="result"):
    """Same kind of object (ndarray / NumPy scalar / Python scalar / tuple), same dtype,
    same shape, values equal (within a per-dtype tolerance for floats)."""
    assert type(got) is type(want), f"{path}: got {type(got).__name__} {got!r}, " \
                                    f"eager gives {type(want).__name__} {want!r}"
    if isinstance(want, tuple):
        assert len(got) == len(want), f"{path}: tuple lengths {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]")
        return
    if isinstance(want, (np.ndarray, np.generic)):
        assert got.dtype == want.dtype, f"{path}: dtype {got.dtype} != eager {want.dtype}"
        assert got.shape == want.shape, f"{path}: shape {got.shape} != eager {want.shape}"
        tol = _TOL.get(want.dtype)
        if tol is None:
            np.testing.assert_array_equal(got, want, err_msg=path)
        else:
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=path)
        return
    if isinstance(want, float):
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12) or (
            math.isnan(got) and math.isnan(want)), f"{path}: {got!r} != {want!r}"
        return
    assert got == want, f"{path}: {got!r} != {want!r}"


def check(fn, *args, **script_kw):
    """Script fn on the interpreter, run it and eagerly, compare. Returns the
    ScriptFunction."""
    f = fn if isinstance(fn, jg.ScriptFunction) else jg.script(fn, backend="interp",
                                                               **script_kw)
    want = f.eager(*_copies(args))  # `s = x; s += y` mutates x eagerly
    got = f(*_copies(args))
    assert_same(got, want)
    return f


def _copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def arr(*shape, dtype=np.float32, seed=0):
    r = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return r.standard_normal(shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return r.integers(0, 2, shape).astype(bool)
    return r.integers(-5, 6, shape).astype(dtype)


# ------------------------------------------------------------- module-level functions
# (the helper-defined-after-the-caller case needs module globals)
@jg.script(backend="interp")
def caller_before_helper(x):
    return helper_defined_later(x) + 1.0


def helper_defined_later(x):
    return x * 2.0


@jg.script(backend="interp")
def scripted_helper(x, k):
    return np.tanh(x) * k


def plain_helper(a, b=2.0):
    c = a * b
    return c - 1.0


@jg.script(backend="interp")
def uses_both_helpers(x):
    y = plain_helper(x)
    z = plain_helper(x, b=3.0)
    return scripted_helper(y + z, 0.5)


# ============================================================================ assignments
def test_assign_and_tuple_unpacking():
    def f(x, y):
        a, b = x, y
        (c, d), e = (a + b, a - b), 1.5
        a, b = b, a          # swap
        return a * c + b * d + e
    check(f, arr(3, 4), arr(3, 4, seed=1))


def test_unpack_array_rows():
    def f(x):
        a, b, c = x
        return a + b * c
    check(f, arr(3, 4))


def test_augmented_assignment():
    def f(x, y, n):
        s = x
        s += y
        s -= 1.0
        s *= 2.0
        s /= 3.0
        k = n
        k += 1
        k *= 2
        return s, k
    check(f, arr(2, 3), arr(2, 3, seed=1), 4)


def test_annotated_assignment():
    def f(x):
        y: np.ndarray = x * 2.0
        return y
    check(f, arr(3))


# ===================================================================== operators
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "%", "**"])
def test_arithmetic_float(op):
    src = {"+": lambda: _arith_add, "-": lambda: _arith_sub, "*": lambda: _arith_mul,
           "/": lambda: _arith_div, "//": lambda: _arith_floordiv, "%": lambda: _arith_mod,
           "**": lambda: _arith_pow}[op]()
    x = np.abs(arr(3, 4)) + 0.5
    y = np.abs(arr(3, 4, seed=1)) + 0.5
    check(src, x, y)
    check(src, x.astype(np.float64), y.astype(np.float64))


def _arith_add(x, y):
    return (x + y) + 1.5


def _arith_sub(x, y):
    return (x - y) - 1.5


def _arith_mul(x, y):
    return (x * y) * 1.5


def _arith_div(x, y):
    return (x / y) / 1.5


def _arith_floordiv(x, y):
    return (x // y) // 1.5


def _arith_mod(x, y):
    return (x % y) % 1.5


def _arith_pow(x, y):
    return (x ** y) ** 1.5


def test_arithmetic_int():
    def f(a, b):
        return a + b, a - b, a * b, a // b, a % b, a / b, -a
    a = arr(5, dtype=np.int32)
    b = np.array([1, 2, -3, 4, 7], dtype=np.int32)
    check(f, a, b)
    check(f, a.astype(np.int64), b.astype(np.int64))


def test_comparisons_and_chained():
    def f(x, y):
        return x < y, x <= y, x > y, x >= y, x == y, x != y, (0.0 < x) & (x < 1.0)
    check(f, arr(4), arr(4, seed=1))


def test_chained_comparison_scalars():
    def f(x, a):
        if 0 < a < 10:
            return x + a
        return x - a
    f = check(f, arr(3), 5)
    assert_same(f(arr(3), 20), f.eager(arr(3), 20))


def test_boolean_ops_on_scalars():
    def f(x, a, b):
        if a > 0 and b > 0:
            return x + 1.0
        elif a > 0 or b > 0:
            return x + 2.0
        else:
            return x + 3.0
    f = jg.script(f, backend="interp")
    for a, b in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)]:
        assert_same(f(arr(3), a, b), f.eager(arr(3), a, b))
    assert len(f.signatures()) == 1


def test_unary_minus_plus_not():
    def f(x, flag):
        y = -x
        z = +y
        if not flag:
            z = z * 2.0
        return z, not flag
    f = jg.script(f, backend="interp")
    for flag in (True, False):
        assert_same(f(arr(3), flag), f.eager(arr(3), flag))


def test_not_on_data_dependent_value():
    def f(x):
        if not (x.sum() > 0):
            return x - 1.0
        return x + 1.0
    f = jg.script(f, backend="interp")
    assert_same(f(np.ones(3, np.float32)), f.eager(np.ones(3, np.float32)))
    assert_same(f(-np.ones(3, np.float32)), f.eager(-np.ones(3, np.float32)))
    assert len(f.signatures()) == 1


@pytest.mark.parametrize("p", [2, 3, 0.5, -1, 2.0, 0])
def test_pow_scalar_exponents(p):
    def f(x, q):
        return x ** 2, x ** 0.5, x ** q, 2.0 ** x
    check(f, np.abs(arr(3, 2)) + 0.1, p)


def test_matmul_variants():
    def f(a, b, v, c, d):
        return a @ b, a @ v, v @ v, c @ d
    check(f, arr(3, 4), arr(4, 5, seed=1), arr(4, seed=2), arr(2, 3, 4, seed=3),
          arr(2, 4, 5, seed=4))


# ============================================================ calls and array methods
def test_numpy_function_calls():
    def f(x, y):
        a = np.exp(x) + np.log(np.abs(y) + 1.0) + np.sqrt(np.abs(x))
        b = np.maximum(x, y) - np.minimum(x, 0.0)
        c = np.where(x > y, x, y)
        d = np.tanh(x) * np.sin(y) + np.cos(x) + np.square(y) + np.sign(x)
        e = np.log1p(np.abs(x)) + np.expm1(y)
        return a, b, c, d, e
    check(f, arr(3, 4), arr(3, 4, seed=1))


def test_numpy_keywords():
    def f(x):
        a = np.sum(x, axis=1)
        b = np.sum(x, axis=0, keepdims=True)
        c = np.mean(x, axis=-1, keepdims=True)
        d = np.sum(x, dtype=np.float64)
        e = np.max(x, axis=1)
        g = np.argmax(x, axis=0)
        return a, b, c, d, e, g
    check(f, arr(3, 4))


def test_array_methods():
    def f(x, w):
        a = x.sum(axis=1)
        b = x.T
        c = x.reshape(4, 3)
        d = x.reshape((2, -1))
        e = x.astype(np.float64)
        g = x.dot(w)
        h = x.clip(0)
        i = x.clip(-0.5, 0.5)
        j = x.mean(axis=0, keepdims=True)
        k = x.max(), x.min(axis=1), x.argmin(axis=1), x.prod(axis=0)
        m = x.sum(axis=(0, 1), keepdims=True)
        return a, b, c, d, e, g, h, i, j, k, m
    check(f, arr(3, 4), arr(4, 2, seed=1))


def test_astype_float32_from_float64():
    def f(x):
        return x.astype(np.float32) * 2.0
    check(f, arr(3, dtype=np.float64))


def test_reduction_dtype_keyword():
    def f(x):
        return x.sum(dtype=np.float64), x.sum(axis=0, dtype=np.float32)
    check(f, arr(3, 2, dtype=np.int32))


def test_numpy_dot_clip_functions():
    def f(x, w, v):
        return np.dot(x, w), np.dot(v, v), np.clip(x, -1.0, 1.0), np.transpose(x)
    check(f, arr(3, 4), arr(4, 2, seed=1), arr(4, seed=2))


def test_creation_functions():
    def f(x):
        a = np.zeros_like(x) + np.ones_like(x)
        b = np.zeros((2, 3)) + np.ones((2, 3), dtype=np.float32)
        c = np.full((3,), 2.5)
        d = np.arange(4)
        return a, b, c, d
    check(f, arr(2, 3))


def test_indexing_read_only():
    def f(x, i):
        return x[0], x[1:, ::2], x[:, -1], x[i], x[None, 0]
    check(f, arr(3, 4), 2)


def test_concatenate_stack():
    def f(x, y):
        return np.concatenate([x, y], axis=0), np.stack((x, y), axis=1)
    check(f, arr(2, 3), arr(2, 3, seed=1))


# ================================================================ if / elif / else
def test_if_on_python_scalar_reuses_code():
    def f(x, a):
        if a > 0.5:
            y = x * 2.0
        else:
            y = x - 1.0
        return y
    f = jg.script(f, backend="interp")
    for a in (0.0, 1.0, 0.25, 3.0):
        assert_same(f(arr(3), a), f.eager(arr(3), a))
    assert len(f.signatures()) == 1


def test_if_elif_else_chain():
    def f(x, a):
        if a < 0:
            y = -x
        elif a == 0:
            y = x * 0.0
        elif a < 10:
            y = x * 2.0
        else:
            y = x + 100.0
        return y
    f = jg.script(f, backend="interp")
    for a in (-3, 0, 5, 50):
        assert_same(f(arr(4), a), f.eager(arr(4), a))
    assert len(f.signatures()) == 1


def test_if_on_zero_d_array():
    def f(x, c):
        if c:
            return x + 1.0
        return x - 1.0
    f = jg.script(f, backend="interp")
    for c in (np.array(True), np.array(False)):
        assert_same(f(arr(3), c), f.eager(arr(3), c))
    for c in (np.array(0.0), np.array(2.5)):
        assert_same(f(arr(3), c), f.eager(arr(3), c))
    assert len(f.signatures()) == 2  # bool[] and f64[]


def test_if_on_data_dependent_reduction_one_compilation():
    def f(x):
        if x.sum() > 0:
            y = x * 2.0
        else:
            y = -x
        return y
    f = jg.script(f, backend="interp")
    pos = np.abs(arr(5)) + 0.1
    assert_same(f(pos), f.eager(pos))
    assert_same(f(-pos), f.eager(-pos))
    assert len(f.signatures()) == 1


def test_if_on_numpy_scalar_value():
    def f(x, t):
        if x.max() > t:
            return x - t
        return x + t
    f = jg.script(f, backend="interp")
    assert_same(f(arr(4), np.float32(0.1)), f.eager(arr(4), np.float32(0.1)))
    assert_same(f(arr(4), np.float32(10.0)), f.eager(arr(4), np.float32(10.0)))
    assert len(f.signatures()) == 1


def test_ternary():
    def f(x, a, b, p):
        w = a if p < 5.0 else b
        return x @ w, (1.0 if p > 0 else -1.0) * x.sum()
    f = jg.script(f, backend="interp")
    args = arr(2, 3), arr(3, 4, seed=1), arr(3, 4, seed=2)
    for p in (1.0, 10.0, -1.0):
        assert_same(f(*args, p), f.eager(*args, p))
    assert len(f.signatures()) == 1


def test_return_inside_branches():
    def f(x, a):
        if a > 0:
            if a > 10:
                return x * 10.0
            return x + 1.0
        y = x - 1.0
        return y * 2.0
    f = jg.script(f, backend="interp")
    for a in (-1.0, 1.0, 20.0):
        assert_same(f(arr(3), a), f.eager(arr(3), a))
    assert len(f.signatures()) == 1


def test_return_tuple_inside_branches():
    def f(x):
        if x.mean() > 0:
            return x, x.sum()
        else:
            return -x, x.max()
    f = jg.script(f, backend="interp")
    assert_same(f(np.ones(3)), f.eager(np.ones(3)))
    assert_same(f(-np.ones(3)), f.eager(-np.ones(3)))


def test_branch_only_variable_unused_after_is_fine():
    def f(x, a):
        if a > 0:
            tmp = x * 2.0
            y = tmp + 1.0
        else:
            y = x
        return y
    f = jg.script(f, backend="interp")
    for a in (1.0, -1.0):
        assert_same(f(arr(3), a), f.eager(arr(3), a))


def test_static_branch_on_ndim_with_different_shapes():
    def f(x):
        if x.ndim == 2:
            y = x.sum(axis=1)
        else:
            y = x * 2.0
        return y
    f = jg.script(f, backend="interp")
    assert_same(f(arr(3, 4)), f.eager(arr(3, 4)))
    assert_same(f(arr(5)), f.eager(arr(5)))


def test_static_attributes_shape_size_dtype():
    def f(x):
        n, m = x.shape
        a = x.reshape(m, n)
        b = x.size
        c = x.ndim
        if x.dtype == np.float32:
            d = x.astype(np.float64)
        else:
            d = x
        return a, b, c, d, x.shape[0] * 2, len(x), np.zeros(x.shape, dtype=x.dtype)
    check(f, arr(2, 3))
    check(f, arr(2, 3, dtype=np.float64))


# ============================================================================ loops
def test_for_static_trip_count():
    def f(x):
        s = x * 0.0
        for i in range(4):
            s = s + x * i
        return s
    check(f, arr(3))


def test_for_argument_trip_count_reuses_code():
    def f(x, n):
        s = x
        for i in range(n):
            s = s * 0.5 + i
        return s
    f = jg.script(f, backend="interp")
    for n in (0, 1, 5):
        assert_same(f(arr(3), n), f.eager(arr(3), n))
    assert len(f.signatures()) == 1


@pytest.mark.parametrize("start,stop,step", [(1, 7, 2), (7, 1, -2), (10, 0, -3), (0, 5, 1),
                                             (3, 3, 1), (5, 2, 1), (2, 9, 3)])
def test_for_start_stop_step(start, stop, step):
    def f(x, a, b):
        acc = x * 0.0
        for i in range(a, b, STEP):
            acc = acc + i * x
        return acc
    # step must be static; bake it in via a closure constant
    STEP = step
    f2 = jg.script(f, backend="interp")
    assert_same(f2(arr(2), start, stop), f2.eager(arr(2), start, stop))

    def g(x):
        acc = 0
        for i in range(START, STOP, STEP):
            acc += i
        return x * acc
    START, STOP = start, stop
    check(g, arr(2))


def test_for_negative_step_literal():
    def f(x, n):
        out = x
        for i in range(n, -1, -1):
            out = out * 2.0 - i
        return out
    f = jg.script(f, backend="interp")
    for n in (3, 0, -2):
        assert_same(f(arr(2), n), f.eager(arr(2), n))


def test_loop_variable_used_in_body_only():
    def f(x):
        s = 0.0
        for i in range(3):
            j = i * 2
            s = s + j
        return x + s
    check(f, arr(3))


def test_while_data_dependent():
    def f(x):
        s = x
        n = 0
        while s.sum() < 100.0:
            s = s * 2.0
            n += 1
        return s, n
    f = jg.script(f, backend="interp")
    assert_same(f(np.full(3, 1.0)), f.eager(np.full(3, 1.0)))
    assert_same(f(np.full(3, 0.25)), f.eager(np.full(3, 0.25)))
    assert_same(f(np.full(3, 100.0)), f.eager(np.full(3, 100.0)))  # zero iterations
    assert len(f.signatures()) == 1


def test_while_scalar_counter():
    def f(x, n):
        i = 0
        acc = x
        while i < n:
            acc = acc + i
            i += 1
        return acc
    f = jg.script(f, backend="interp")
    for n in (0, 3):
        assert_same(f(arr(2), n), f.eager(arr(2), n))


def test_break_and_continue():
    def f(x, n):
        acc = x * 0.0
        for i in range(n):
            if i % 2 == 0:
                continue
            if acc.sum() > 20.0:
                break
            acc = acc + x * i
        return acc
    f = jg.script(f, backend="interp")
    x = np.abs(arr(3)) + 1.0
    for n in (0, 4, 30):
        assert_same(f(x, n), f.eager(x, n))
    assert len(f.signatures()) == 1


def test_while_with_break():
    def f(x):
        k = 0
        while True:
            x = x * 1.5
            k += 1
            if x.max() > 10.0:
                break
        return x, k
    check(f, np.array([1.0, 2.0]))


def test_nested_loops():
    def f(x, n, m):
        acc = x * 0.0
        for i in range(n):
            for j in range(m):
                acc = acc + x * (i * j)
            acc = acc - 1.0
        return acc
    f = jg.script(f, backend="interp")
    for n, m in ((3, 2), (0, 4), (2, 0)):
        assert_same(f(arr(3), n, m), f.eager(arr(3), n, m))


def test_loop_carried_widening():
    def f(x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + x[i]
        return s
    check(f, arr(4, 3))


def test_return_inside_loop():
    # (issue 2 first refused this; the frontend now lowers it to a flag + break)
    def f(x, n):
        for i in range(n):
            if x.sum() > 10.0:
                return x, i
            x = x * 2.0
        return x, -1
    f = jg.script(f, backend="interp")
    x = np.abs(arr(3)) + 0.5
    for n in (0, 2, 20):
        assert_same(f(x, n), f.eager(x, n))
    assert len(f.signatures()) == 1


def test_return_inside_while():
    def f(x):
        k = 0
        while k < 100:
            if x.max() > 5.0:
                return x
            x = x + 1.0
            k += 1
        return -x
    check(f, np.zeros(2))


def test_loop_with_if_inside():
    def f(x, n):
        y = x
        for i in range(n):
            if y.sum() > 0:
                y = y - 1.0
            else:
                y = y + 0.5
        return y
    f = jg.script(f, backend="interp")
    for n in (0, 1, 6):
        assert_same(f(arr(4), n), f.eager(arr(4), n))


# ======================================================================== helper calls
def test_helper_plain_and_scripted():
    x = arr(3, 2)
    assert_same(uses_both_helpers(x), uses_both_helpers.eager(x))


def test_helper_defined_after_caller_module_level():
    x = arr(3)
    assert_same(caller_before_helper(x), caller_before_helper.eager(x))


def test_helper_defined_after_caller_closure():
    def f(x):
        return inner(x) * 3.0

    def inner(x):
        return np.exp(x) - 1.0
    check(f, arr(3))


def test_helper_returning_tuple_and_nested():
    def pair(a):
        return a + 1.0, a * 2.0

    def deeper(a):
        p, q = pair(a)
        return p * q

    def f(x):
        u, v = pair(x)
        return deeper(u) + v
    check(f, arr(4))


def test_helper_with_control_flow():
    def relu_or_neg(a, t):
        if t > 0:
            return np.maximum(a, 0.0)
        return -a

    def f(x, t):
        return relu_or_neg(x, t) + relu_or_neg(x * 2.0, -t)
    f = jg.script(f, backend="interp")
    for t in (1.0, -1.0):
        assert_same(f(arr(4), t), f.eager(arr(4), t))


# ============================================================================ builtins
def test_builtins_abs_min_max():
    def f(x, a, b):
        # (not max(x.sum(), a): Python's max returns one of its operands, so the eager
        # result's type would depend on the values)
        return abs(x), abs(a), min(a, b), max(a, b), max(a, 0.5, b), min(3, 4), \
            max(x.sum(), x.min()), min(x.max(), np.float32(a))
    f = jg.script(f, backend="interp")
    for a, b in ((1.5, -2.0), (-3.0, 4.0)):
        assert_same(f(arr(3), a, b), f.eager(arr(3), a, b))


def test_builtins_float_int_bool():
    def f(x, n):
        s = float(x.sum())
        k = int(n)
        b = bool(x.max() > 0)
        return s, k, b, float(n) * 2.0, int(x.shape[0])
    check(f, arr(3), 4)


def test_builtins_len_range():
    def f(x):
        acc = 0
        for i in range(len(x)):
            acc = acc + i
        return x * acc, len(x), len(range(2, 10, 3))
    check(f, arr(5, 2))


def test_float_of_array_used_as_scalar():
    def f(x, y):
        s = float(x.mean())
        return y * s
    check(f, arr(3), arr(2, seed=1))


# =========================================================== NumPy constants and dtypes
def test_numpy_constants_and_dtypes():
    def f(x):
        a = x * np.pi
        b = x + np.e
        c = np.minimum(x, np.inf)
        d = np.float32(2.0) * x
        e = x.astype(np.float32)
        g = np.float64(x.sum())
        return a, b, c, d, e, g, -np.inf < x.min()
    check(f, arr(3))
    check(f, arr(3, dtype=np.float64))


# ====================================================================== tuple returns
def test_tuple_and_nested_returns():
    def f(x, n):
        return x, (x.sum(), n + 1), 2.5
    check(f, arr(3), 7)


def test_scalar_results_types():
    def f(x, a, n):
        return x.sum(), a * 2.0, n + 1, a > 1.0, x.sum() > 0, x.astype(np.int32).sum()
    check(f, arr(3), 1.5, 3)


# ========================================================= NumPy 2 weak promotion
def test_weak_scalar_promotion():
    def f(x, i, a, n):
        return x * 2.0, i + 1, x * np.float32(2), i * 2.5, x * a, i + n, x + n, i * True
    x = arr(3)
    i = np.arange(3, dtype=np.int32)
    f = check(f, x, i, 0.5, 2)
    out = f(x, i, 0.5, 2)
    assert out[0].dtype == np.float32
    assert out[1].dtype == np.int32
    assert out[2].dtype == np.float32
    assert out[3].dtype == np.float64
    assert out[4].dtype == np.float32   # a Python float argument is weak too
    assert out[5].dtype == np.int32


def test_numpy_float64_literal_is_strong():
    def f(x):
        return x * np.float64(2), x + np.complex128(1)
    out = check(f, arr(3))(arr(3))
    assert out[0].dtype == np.float64


def test_numpy_scalar_arguments_are_strong():
    def f(x, s):
        return x * s
    check(f, arr(3), np.float64(2.0))
    check(f, arr(3), np.float32(2.0))
    check(f, arr(3, dtype=np.int16), np.int64(3))


# ======================================================================= static_argnums
def test_static_argnums():
    def f(x, shape, k):
        y = x.reshape(shape)
        for i in range(k):
            y = y + 1.0
        return y
    f = jg.script(f, backend="interp", static_argnums=(1, 2))
    x = arr(6)
    assert_same(f(x, (2, 3), 2), f.eager(x, (2, 3), 2))
    assert_same(f(x, (3, 2), 1), f.eager(x, (3, 2), 1))
    assert len(f.signatures()) == 2
    f(x, (3, 2), 1)
    assert len(f.signatures()) == 2


def test_static_argnums_int():
    def f(x, axis):
        return x.sum(axis=axis)
    f = jg.script(f, backend="interp", static_argnums=1)
    assert_same(f(arr(2, 3), 0), f.eager(arr(2, 3), 0))
    assert_same(f(arr(2, 3), 1), f.eager(arr(2, 3), 1))


def test_docstring_and_pass():
    def f(x):
        """A docstring is fine."""
        if x.sum() > 0:
            pass
        return x
    check(f, arr(2))


def test_method_decorator_forms():
    @jg.script
    def a(x):
        return x + 1.0

    @jg.script(backend="interp")
    def b(x):
        return x + 1.0
    assert isinstance(a, jg.ScriptFunction) and isinstance(b, jg.ScriptFunction)
    assert_same(b(arr(2)), b.eager(arr(2)))


# ======================================================================= refused syntax
def _marker_loc(fn, marker="# ERR"):
    lines, first = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if marker in line:
            return first + i, line.rstrip("\n")
    raise AssertionError("marker not found")


def _refused_try(x):
    try:  # ERR
        y = x
    except ValueError:
        y = x
    return y


def _refused_with(x):
    with x:  # ERR
        pass
    return x


def _refused_yield(x):
    yield x  # ERR


def _refused_lambda(x):
    g = lambda t: t + 1  # ERR
    return g(x)


def _refused_setcomp(x):
    ys = {i for i in range(3)}  # ERR  # noqa: F841
    return x


def _refused_class(x):
    class A:  # ERR
        pass
    return x


_G = 1.0


def _refused_global(x):
    global _G  # ERR  # noqa: PLW0602
    return x * _G


def _refused_args(x, *args):  # ERR
    return x


def _refused_kwargs(x, **kwargs):  # ERR
    return x


def _refused_string(x):
    s = "hello"  # ERR  # noqa: F841
    return x


def _refused_attr_assign(x):
    x.foo = 1  # ERR
    return x


def _refused_item_assign(x):
    x[0][1] = 1  # ERR
    return x


def _refused_decorated_nested_def(x):
    @staticmethod  # ERR
    def g(t):
        return t
    return g(x)


def _refused_import(x):
    import math as m  # ERR  # noqa: F401
    return x


def _refused_import_from(x):
    from math import pi  # ERR  # noqa: F401
    return x


def _refused_del(x):
    y = x
    del y  # ERR
    return x


def _refused_fstring(x):
    s = f"{x}"  # ERR  # noqa: F841
    return x


def _refused_walrus(x):
    if (y := x.sum()) > 0:  # ERR
        return y
    return x


def _refused_starred_assign(x):
    n, *rest = x.shape  # ERR  # noqa: RUF059
    return x * n


def _refused_bare_raise(x):
    raise  # ERR  # noqa: PLE0704


def _make_nonlocal():
    z = 1.0

    def _refused_nonlocal(x):
        nonlocal z  # ERR
        return x * z
    return _refused_nonlocal


# (function, expected substring of the construct name, token whose column the error points at)
REFUSED = [
    (_refused_try, "try", "try"),
    (_refused_with, "with", "with"),
    (_refused_yield, "yield", "yield"),
    (_refused_lambda, "lambda", "lambda"),
    (_refused_setcomp, "set comprehension", "{"),
    (_refused_class, "class", "class"),
    (_refused_global, "global", "global"),
    (_refused_nonlocal := _make_nonlocal(), "nonlocal", "nonlocal"),
    (_refused_args, "*args", "*args"),
    (_refused_kwargs, "**kwargs", "**kwargs"),
    (_refused_string, "string", '"hello"'),
    (_refused_attr_assign, "attribute assignment", "x.foo"),
    (_refused_item_assign, "item assignment into an expression", "x[0][1]"),
    (_refused_decorated_nested_def, "decorated nested function", "staticmethod"),
    (_refused_import, "import", "import"),
    (_refused_import_from, "import", "from"),
    (_refused_del, "del", "del"),
    (_refused_fstring, "f-string", 'f"'),
    (_refused_walrus, ":=", "y :="),
    (_refused_starred_assign, "starred assignment", "*rest"),
    (_refused_bare_raise, "bare raise", "raise"),
]


@pytest.mark.parametrize("fn,construct,token", REFUSED,
                         ids=[r[0].__name__.replace("_refused_", "") for r in REFUSED])
def test_refused_construct(fn, construct, token):
    lineno, line = _marker_loc(fn)
    with pytest.raises(jg.ScriptError) as ei:
        jg.script(fn, backend="interp")
    e = ei.value
    assert e.filename == __file__
    assert e.lineno == lineno, str(e)
    col = line.index(token)
    if token in ("*args", "**kwargs"):  # the star or the name
        assert e.col_offset in (col, col + token.count("*")), str(e)
    else:
        assert e.col_offset == col, str(e)
    msg = str(e)
    assert construct.lower() in msg.lower(), msg
    assert line.strip() in msg, msg
    # the caret sits under the column
    rendered = msg.splitlines()
    i = next(k for k, ln in enumerate(rendered) if ln.strip() == line.strip())
    caret = rendered[i + 1]
    assert caret.strip() == "^", msg
    src_line = rendered[i]
    assert caret.index("^") - (len(src_line) - len(src_line.lstrip())) \
        == e.col_offset - (len(line) - len(line.lstrip())), msg
    assert f"{__file__.rsplit('/', 1)[-1]}:{lineno}" in msg


def test_lambda_as_function():
    # a lambda is scripted as the equivalent def (more cases in test_lambdas.py)
    f = check(lambda x: x + 1, arr(3))
    assert f.graph.name == "<lambda>"


def test_refused_inside_helper_reported_at_helper_line():
    def bad_helper(x):
        return {x for i in range(2)}  # ERR

    def f(x):
        return bad_helper(x)
    lineno, _ = _marker_loc(bad_helper)
    with pytest.raises(jg.ScriptError) as ei:
        jg.script(f, backend="interp")(arr(2))
    assert ei.value.lineno == lineno
    assert "comprehension" in str(ei.value)


# ============================================================= one-branch assignments
def test_variable_assigned_in_one_branch_used_after_is_error():
    def f(x, a):
        if a > 0:
            y = x * 2.0
        return y  # ERR
    lineno, _ = _marker_loc(f)
    with pytest.raises((jg.ScriptError, jg.JitTypeError)) as ei:
        jg.script(f, backend="interp")(arr(2), 1.0)
    msg = str(ei.value)
    assert "'y'" in msg or "y" in msg.split("\n")[0]
    assert f"{__file__.rsplit('/', 1)[-1]}:{lineno}" in msg, msg
    assert "return y" in msg


def test_variable_assigned_in_one_branch_data_dependent():
    def f(x):
        if x.sum() > 0:
            y = x
        else:
            z = x
        return y + z  # ERR
    lineno, _ = _marker_loc(f)
    with pytest.raises((jg.ScriptError, jg.JitTypeError)) as ei:
        jg.script(f, backend="interp")(arr(2))
    assert f":{lineno}" in str(ei.value)


def test_variable_assigned_in_one_branch_unused_is_fine():
    def f(x, a):
        if a > 0:
            unused = x * 2.0  # noqa: F841
            y = x + 1.0
        else:
            y = x - 1.0
        return y
    f = jg.script(f, backend="interp")
    for a in (1.0, -1.0):
        assert_same(f(arr(2), a), f.eager(arr(2), a))


# ============================================================ type errors at call time
def _matmul_fn(x, w):
    h = x @ w  # ERR
    return h.sum()


def test_matmul_shape_mismatch_names_argument_and_line():
    f = jg.script(_matmul_fn, backend="interp")
    lineno, line = _marker_loc(_matmul_fn)
    with pytest.raises(jg.JitTypeError) as ei:
        f(arr(3, 4), arr(5, 2))
    msg = str(ei.value)
    assert ei.value.arg in ("x", "w")
    assert "x" in msg and "w" in msg
    assert "(3, 4)" in msg or "[3,4]" in msg, msg
    assert line.strip() in msg
    assert f":{lineno}" in msg
    assert ei.value.loc is not None and ei.value.loc.lineno == lineno


def _broadcast_fn(x, y):
    z = np.exp(x)
    return z + y  # ERR


def test_broadcast_failure():
    f = jg.script(_broadcast_fn, backend="interp")
    lineno, line = _marker_loc(_broadcast_fn)
    with pytest.raises(jg.JitTypeError) as ei:
        f(arr(3), arr(4))
    msg = str(ei.value)
    assert "y" in msg and line.strip() in msg and f":{lineno}" in msg


def test_bad_dtype_argument():
    def f(x):
        return x + 1
    f = jg.script(f, backend="interp")
    with pytest.raises(jg.JitTypeError) as ei:
        f(np.array(["a", "b"]))
    assert ei.value.arg == "x" and "'x'" in str(ei.value)
    with pytest.raises(jg.JitTypeError) as ei:
        f(np.array([np.datetime64("2020-01-01")]))
    assert "'x'" in str(ei.value)


def _invert_fn(x):
    return ~x  # ERR


def test_op_dtype_refused_names_line():
    # ~ on a float array: NumPy raises TypeError; jitgraph must say so before running
    with pytest.raises(TypeError):
        _invert_fn(arr(3))
    f = jg.script(_invert_fn, backend="interp")
    lineno, _ = _marker_loc(_invert_fn)
    with pytest.raises(jg.JitTypeError) as ei:
        f(arr(3))
    assert f":{lineno}" in str(ei.value)
    # and bool/int are fine
    check(_invert_fn, np.array([True, False]))
    check(_invert_fn, np.arange(3, dtype=np.int32))


def test_none_argument_is_a_compile_time_none():
    """An optional argument left as None specializes on None (like `b=None` defaults);
    computing with it is a JitTypeError, as eager NumPy raises a TypeError."""
    def f(x, y):
        return x + y
    f = jg.script(f, backend="interp")
    with pytest.raises(jg.JitTypeError, match="None"):
        f(arr(2), None)


@pytest.mark.parametrize("bad", [range(2), "abc", {"a": 1}, ("a", 1.0), []])
def test_non_array_argument(bad):
    def f(x, y):
        return x + y
    f = jg.script(f, backend="interp")
    with pytest.raises(jg.JitTypeError) as ei:
        f(arr(2), bad)
    assert ei.value.arg == "y"
    assert "'y'" in str(ei.value)


@pytest.mark.parametrize("args", [(), (1,), (1, 2, 3)])
def test_wrong_number_of_arguments_is_plain_type_error(args):
    def f(x, y):
        return x + y
    f = jg.script(f, backend="interp")
    with pytest.raises(TypeError) as ei:
        f(*args)
    assert not isinstance(ei.value, JitError), type(ei.value)


def test_unknown_keyword_argument_is_plain_type_error():
    def f(x, y):
        return x + y
    f = jg.script(f, backend="interp")
    with pytest.raises(TypeError) as ei:
        f(1.0, z=2.0)
    assert not isinstance(ei.value, JitError)
    assert_same(f(1.0, y=2.0), 3.0)


def test_truth_of_array_is_type_error():
    def f(x):
        if x > 0:  # ERR
            return x
        return -x
    f = jg.script(f, backend="interp")
    lineno, _ = _marker_loc(f.eager)
    with pytest.raises(jg.JitTypeError) as ei:
        f(arr(3))
    assert f":{lineno}" in str(ei.value)


def test_branches_with_different_shapes_is_type_error():
    def f(x, a):
        if a > 0:
            y = x.sum(axis=0)
        else:
            y = x
        return y
    with pytest.raises(jg.JitTypeError):
        jg.script(f, backend="interp")(arr(2, 3), 1.0)


def test_unknown_name_is_script_error():
    def f(x):
        return x + no_such_name  # ERR  # noqa: F821
    lineno, _ = _marker_loc(f)
    sf = jg.script(f, backend="interp")  # may be defined later: checked at first call
    with pytest.raises(jg.ScriptError) as ei:
        sf(arr(2))
    assert ei.value.lineno == lineno
    assert "no_such_name" in str(ei.value)


def _bad_reshape(x):
    return x.reshape(5, 5)  # ERR


def _bad_axis(x):
    return x.sum(axis=2)  # ERR


def _bad_index(x):
    return x[5]  # ERR


def _bad_concat(x, y):
    return np.concatenate([x, y], axis=1)  # ERR


def _bad_float(x):
    return float(x)  # ERR


def _bad_unpack(x):
    a, b = x  # ERR
    return a + b


@pytest.mark.parametrize("fn,args", [
    (_bad_reshape, (np.ones((3, 4)),)),
    (_bad_axis, (np.ones((3, 4)),)),
    (_bad_index, (np.ones(3),)),
    (_bad_concat, (np.ones((2, 3)), np.ones((3, 3)))),
    (_bad_float, (np.ones(3),)),
    (_bad_unpack, (np.ones(3),)),
], ids=lambda v: getattr(v, "__name__", "")[5:] if callable(v) else "")
def test_call_time_type_errors_carry_line(fn, args):
    with pytest.raises((ValueError, IndexError, TypeError)):
        fn(*args)  # eager NumPy refuses these too
    f = jg.script(fn, backend="interp")
    lineno, line = _marker_loc(fn)
    with pytest.raises(jg.JitTypeError) as ei:
        f(*args)
    msg = str(ei.value)
    assert f"{__file__.rsplit('/', 1)[-1]}:{lineno}" in msg, msg
    assert line.split("#")[0].strip() in msg, msg


# ====================================================== known gaps (xfail until fixed)
def _shift(x):
    return x << 1, x >> 1


def test_shift_operators_compile_or_refuse_cleanly():
    try:
        f = jg.script(_shift, backend="interp")
    except jg.ScriptError as e:
        assert "<<" in str(e) or "LShift" in str(e)
        return
    check(f, np.arange(4, dtype=np.int32))


def test_names_first_assigned_in_loop_used_after_it():
    def f(x, n):
        for i in range(3):
            y = x * i
        for j in range(n):
            z = y + j
        return y, z
    check(f, arr(3), 2)


def test_loop_variable_used_after_loop():
    def f(x):
        for i in range(3):
            x = x + i
        return x * i
    check(f, arr(3))


def test_assert_on_static_shape():
    def f(x):
        assert x.ndim == 2
        assert x.shape[1] == 3
        return x.T
    check(f, arr(2, 3))


def test_assert_with_message():
    checks_on = True

    def f(x):
        assert checks_on, "a message"
        return x
    check(f, arr(2))


# ================================================================= more refusals
def _refused_for_else(x):
    for i in range(3):  # ERR
        x = x + i
    else:  # noqa: PLW0120
        x = x - 1.0
    return x


def _refused_while_else(x):
    while x.sum() > 0:  # ERR
        x = x - 1.0
    else:  # noqa: PLW0120
        x = x + 1.0
    return x


def _refused_match(x):
    match x:  # ERR
        case _:
            return x


def _refused_kwonly(x, *, k=1):  # ERR
    return x * k


@pytest.mark.parametrize("fn,construct", [
    (_refused_for_else, "for ... else"), (_refused_while_else, "while ... else"),
    (_refused_match, "match"), (_refused_kwonly, "keyword-only"),
], ids=["for_else", "while_else", "match", "kwonly"])
def test_more_refused_constructs(fn, construct):
    lineno, line = _marker_loc(fn)
    with pytest.raises(jg.ScriptError) as ei:
        jg.script(fn)
    assert ei.value.lineno == lineno and ei.value.filename == __file__
    assert construct in str(ei.value) and line.split("#")[0].strip() in str(ei.value)


def test_function_without_source_is_script_error():
    ns: dict = {}
    exec("def f(x):\n    return x\n", ns)  # noqa: S102
    with pytest.raises(jg.ScriptError) as ei:
        jg.script(ns["f"])
    assert "source" in str(ei.value)


def test_name_first_assigned_on_one_path_of_a_loop_body():
    """`if i == 0: acc = ... else: acc = acc + ...`: the loop carries acc, its type taken
    from the branch that assigns it first."""
    def running(x):
        for i in range(x.shape[0]):
            if i == 0:
                acc = x[i]
            else:
                acc = acc + x[i] * 2.0
        return acc
    check(running, np.array([3.0, 1.0, 5.0, 2.0]))

    def unbound(x):
        for i in range(3):
            acc = acc + x  # noqa: F821 - read before any assignment, as Python refuses
        return acc
    with pytest.raises(jg.ScriptError, match="read before it is assigned"):
        jg.script(unbound, backend="interp")(np.ones(2))
