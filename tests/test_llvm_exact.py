"""The CPU backend gives eager NumPy's exact bits where NumPy's result is exactly defined:
integer power over every integer dtype pair (wrapping, large and unsigned exponents,
negative exponents raising), and IEEE division, multiply and add (no reciprocal
approximation, no FMA contraction). Each case also runs on the interpreter."""
from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llvmlite")

import jitgraph as jg

INTS = [np.dtype(t) for t in ("int8", "int16", "int32", "int64",
                              "uint8", "uint16", "uint32", "uint64")]
FLOATS = [np.dtype(t) for t in ("float16", "float32", "float64")]
NEGPOW = "Integers to negative integer powers are not allowed."


def _eager(f: Callable[..., Any], *args: Any) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return f(*args)


def _backends(f: Callable[..., Any]) -> dict[str, Any]:
    return {be: jg.script(f, backend=be, fallback="error") for be in ("cpu", "interp")}


def _run(fn: Any, *args: Any) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def _same(got: Any, want: Any, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if np.array_equal(got, want, equal_nan=want.dtype.kind == "f"):
        return
    bad = np.flatnonzero(~((got == want) | (np.isnan(got) & np.isnan(want))
                           if want.dtype.kind == "f" else got == want))
    raise AssertionError(f"{what}: {bad.size} of {want.size} differ, first at flat index "
                         f"{bad[0]}: got {got.flat[bad[0]]!r}, NumPy {want.flat[bad[0]]!r}")


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units of want's last place (0 where both are the same
    non-finite value)."""
    g, w = got.astype(np.float64), want.astype(np.float64)
    same = (g == w) | (np.isnan(g) & np.isnan(w))
    fin = np.isfinite(w) & np.isfinite(g)
    with np.errstate(all="ignore"):
        spacing = np.spacing(np.abs(want)).astype(np.float64)
        u = np.where(fin, np.abs(g - w) / spacing, np.inf)
    return np.where(same, 0.0, u)


# ------------------------------------------------------------------ integer power
def _bases(dt: np.dtype) -> np.ndarray:
    info = np.iinfo(dt)
    vals = [0, 1, 2, 3, 5, 7, 16, 255, info.max, info.max - 1, info.max // 2 + 1]
    if dt.kind == "i":
        vals += [-1, -2, -3, -16, info.min, info.min + 1]
    return np.array(sorted({v for v in vals if info.min <= v <= info.max}), dtype=dt)


def _exps(dt: np.dtype) -> np.ndarray:
    info = np.iinfo(dt)
    vals = [0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 63, 64, 65, 127, 128, 254, 255,
            info.max, info.max - 1, info.max // 2, info.max // 2 + 1, 2 ** 63 - 1]
    return np.array(sorted({v for v in vals if 0 <= v <= info.max}), dtype=dt)


def _pow(a: Any, b: Any) -> Any:
    return a ** b


POW = _backends(_pow)


def _check_pow(a: np.ndarray, e: np.ndarray) -> None:
    want = _eager(_pow, a, e)
    what = f"{a.dtype} ** {e.dtype}"
    for be, fn in POW.items():
        got = _run(fn, a, e)
        if want.dtype.kind in "iub":
            _same(got, want, f"{be}: {what}")
        else:
            # an integer pair NumPy promotes to float64 (int64 ** uint64): float pow, a
            # few ulp where not exact; inf, 0 and the signs must match
            assert got.dtype == want.dtype, (be, what, got.dtype)
            u = _ulps(got, want)
            assert u.max() <= 2, (be, what, u.max(), np.flatnonzero(u > 2)[:5])
            assert np.array_equal(np.signbit(got), np.signbit(want)), (be, what)


@pytest.mark.parametrize("tb,te", list(itertools.product(INTS, INTS)),
                         ids=lambda t: str(t))
def test_int_power_all_pairs(tb: np.dtype, te: np.dtype) -> None:
    """Every base against every non-negative exponent (0, 1, large, the dtype's max),
    as an outer product: wrapping results equal NumPy's exactly."""
    a, e = _bases(tb), _exps(te)
    _check_pow(a[:, None], e[None, :])
    # the same elements as two flat contiguous arrays (the plain elementwise loop)
    A, E = np.broadcast_arrays(a[:, None], e[None, :])
    _check_pow(np.ascontiguousarray(A).ravel(), np.ascontiguousarray(E).ravel())


@pytest.mark.parametrize("tb,te", [(b, e) for b in INTS for e in INTS if e.kind == "i"],
                         ids=lambda t: str(t))
def test_int_power_negative_exponent(tb: np.dtype, te: np.dtype) -> None:
    """A negative element in a signed exponent array: NumPy raises ValueError for an
    integer result (and computes a float power where the pair promotes to float)."""
    a = _bases(tb)
    e = np.zeros(a.shape, te)
    e[len(e) // 2] = -1
    e[-1] = np.iinfo(te).min
    try:
        want = _eager(_pow, a, e)
    except ValueError as err:
        assert str(err) == NEGPOW
        for fn in POW.values():
            with pytest.raises(ValueError, match=re.escape(NEGPOW)):
                _run(fn, a, e)
        return
    assert want.dtype.kind == "f", (tb, te, want.dtype)   # uint64 ** signed
    _check_pow(a, e)


def _pow_k(x: Any, k: Any) -> Any:
    return x ** k


POW_CONST = {be: jg.script(_pow_k, backend=be, fallback="error", static_argnums=1)
             for be in ("cpu", "interp")}


@pytest.mark.parametrize("exp", [0, 1, 2, 7, 8, 9, 31, 63, 64, 127, 128, 255])
@pytest.mark.parametrize("tb", INTS, ids=str)
def test_int_power_python_int_exponent(tb: np.dtype, exp: int) -> None:
    """x ** k for a Python int k that fits the array's dtype (a weak scalar), both as a
    compile-time constant (static_argnums) and as a run-time argument."""
    if exp > np.iinfo(tb).max:
        pytest.skip("exponent does not fit the dtype")
    a = _bases(tb)
    want = _eager(_pow_k, a, exp)
    for be in ("cpu", "interp"):
        _same(_run(POW_CONST[be], a, exp), want, f"{be}: {tb} ** constant {exp}")
        _same(_run(POW[be], a, exp), want, f"{be}: {tb} ** run-time {exp}")


@pytest.mark.parametrize("tb", [t for t in INTS if t.kind == "i"], ids=str)
def test_int_power_negative_python_int_raises(tb: np.dtype) -> None:
    a = _bases(tb)
    with pytest.raises(ValueError, match=re.escape(NEGPOW)):
        _eager(_pow_k, a, -1)
    for be in ("cpu", "interp"):
        for fn in (POW_CONST[be], POW[be]):
            with pytest.raises(ValueError, match=re.escape(NEGPOW)):
                _run(fn, a, -1)


def test_int_power_reported_cases() -> None:
    # uint8: 2 ** 255 wraps to 0 (the exponent's top bit is set)
    _check_pow(np.array([2], np.uint8), np.array([255], np.uint8))
    a, e = np.array([2, 3, 1, 0], np.uint8), np.array([128, 255, 255, 255], np.uint8)
    got = POW["cpu"](a, e)
    assert got.tolist() == [0, 3 ** 255 % 256, 1, 0]
    # int8 ** uint64 promotes to float64 (NumPy 2): 3.0 ** 1.8e19 == inf, not 3 ** -1
    a8, big = np.array([3, -3, 1, -1, 0, 2], np.int8), np.full(6, 2 ** 64 - 1, np.uint64)
    assert _eager(_pow, a8, big).dtype == np.float64
    _check_pow(a8, big)
    _check_pow(a8.astype(np.int64), big)
    _check_pow(np.array([3, 2, 1, 0], np.uint64), np.full(4, 2 ** 64 - 1, np.uint64))
    _check_pow(np.array([3], np.int32), np.array([2 ** 31 - 1], np.uint32))


@pytest.mark.parametrize("te", INTS, ids=str)
@pytest.mark.parametrize("tb", FLOATS, ids=str)
def test_float_power_integer_exponent(tb: np.dtype, te: np.dtype) -> None:
    """float ** integer array, exponents up to the integer dtype's max: uint64 exponents
    with the top bit set are huge, not negative."""
    x = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1.0000001, 0.999, 3.0,
                  np.inf, -np.inf, np.nan], tb)
    e = _exps(te)
    if te.kind == "i":
        e = np.concatenate([e, np.array([-1, -2, -3, -15, -16, -17, np.iinfo(te).min], te)])
    X, E = (np.ascontiguousarray(v).ravel() for v in np.broadcast_arrays(x[:, None],
                                                                          e[None, :]))
    want = _eager(_pow, X, E)
    for be, fn in POW.items():
        got = _run(fn, X, E)
        assert got.dtype == want.dtype, (be, got.dtype, want.dtype)
        u = _ulps(got, want)
        # exact where NumPy gives 0, +-1, inf or nan; a few ulp elsewhere (llvm_math's pow)
        assert u.max() <= 4, (be, tb, te, u.max(), X[u > 4][:4], E[u > 4][:4],
                              got[u > 4][:4], want[u > 4][:4])
        special = ~np.isfinite(want) | (want == 0) | (np.abs(want) == 1)
        _same(got[special], want[special], f"{be}: {tb} ** {te} special values")


# ------------------------------------------------------------------ exact division
def _div(x: Any, y: Any) -> Any:
    return x / y


def _divc(x: Any) -> Any:
    return x / 0.7


def _div255(x: Any) -> Any:
    return x / 255.0


def _div_rows(x: Any) -> Any:
    return x / x.sum(axis=1, keepdims=True)


def _softmax(x: Any) -> Any:
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=1, keepdims=True)


def _axpb(a: Any, x: Any, b: Any) -> Any:
    return a * x + b


def _xymz(x: Any, y: Any, z: Any) -> Any:
    return x * y - z


def _poly(a: Any, x: Any, c: Any) -> Any:
    return a * x + c * x * x - a


def _data(dt: np.dtype, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * np.exp(rng.uniform(-8, 8, shape))
    return x.astype(dt)


def _check_exact(f: Callable[..., Any], *args: Any) -> None:
    want = _eager(f, *args)
    for be, fn in _backends(f).items():
        _same(_run(fn, *args), want, f"{be}: {f.__name__}")


def _div_trunc(x: Any) -> Any:
    return (x / 0.7).astype(np.int64)


def test_division_reported_case() -> None:
    x = np.array([4.8999999999999995])
    g = _div_trunc
    assert _eager(g, x).tolist() == [7]
    for be, fn in _backends(g).items():
        assert fn(x).tolist() == [7], be


@pytest.mark.parametrize("dt", FLOATS, ids=str)
def test_division_exact(dt: np.dtype) -> None:
    x, y = _data(dt, (4099,), 1), _data(dt, (4099,), 2)
    _check_exact(_div, x, y)
    _check_exact(_divc, x)
    _check_exact(_div255, np.arange(256 * 16, dtype=dt) / dt.type(16))
    _check_exact(_div255, x)
    _check_exact(_div, x, dt.type(0.7))            # a 0-d divisor, invariant in the loop
    _check_exact(_div, x, 0.7)                     # a run-time Python float
    _check_exact(_div, x, 3)
    _check_exact(_div, 1.0, x)
    X = _data(dt, (37, 515), 3)
    _check_exact(_div, X, X[:1])                   # broadcast divisor rows
    _check_exact(_div, X, X[:, :1])                # a divisor constant along the row
    # row sums of small integers are exact in any order (the sum is reassociated), so
    # the quotient must be NumPy's to the bit
    _check_exact(_div_rows, np.random.default_rng(9).integers(1, 60, (37, 515)).astype(dt))


@pytest.mark.parametrize("dt", FLOATS, ids=str)
def test_softmax_division_exact(dt: np.dtype) -> None:
    """softmax's e / sum: the division by the row sum is a true division (the sum itself
    is reassociated, so compare the division given the same numerator and sum)."""
    x = _data(dt, (64, 1000), 4) / dt.type(1e3)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    s = e.sum(axis=1, keepdims=True)
    _check_exact(_div, e, s)
    got = jg.script(_softmax, backend="cpu", fallback="error")(x)
    np.testing.assert_allclose(got, _eager(_softmax, x),
                               rtol=1e-5 if dt != FLOATS[0] else 2e-3, atol=0)


@pytest.mark.parametrize("dt", FLOATS, ids=str)
@pytest.mark.parametrize("f", [_axpb, _xymz, _poly], ids=lambda f: f.__name__)
def test_multiply_add_rounds_twice(dt: np.dtype, f: Callable[..., Any]) -> None:
    """a*x + b rounds after the multiply and after the add, as NumPy does: no FMA."""
    a, x, b = (_data(dt, (4099,), s) for s in (5, 6, 7))
    _check_exact(f, a, x, b)
    _check_exact(f, a[:1], x, b)                   # broadcast (loop-invariant) factor
    _check_exact(f, dt.type(1.1), x, b)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_no_reciprocal_or_fma_in_asm(dt: str) -> None:
    x = _data(np.dtype(dt), (1000,), 8)
    f = jg.script(_divc, backend="cpu", fallback="error")
    f(x)
    asm = f.dump(x, stage="asm")
    assert re.search(r"\bv?div[ps][sd]\b", asm), "x / 0.7 must divide"
    assert not re.search(r"\bv?rcp", asm)
    for fn in (_axpb, _xymz, _poly):
        g = jg.script(fn, backend="cpu", fallback="error")
        g(x, x, x)
        asm = g.dump(x, x, x, stage="asm")
        assert not re.search(r"\bv?f(n)?m(add|sub)", asm), fn.__name__


def _sqrt_half(x):
    return x ** 0.5


def _power_p(x, p):
    return np.power(x, p)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_scalar_half_power_is_sqrt(dt):
    # NumPy takes a scalar exponent of 0.5 as sqrt (-0.0 -> -0.0, -inf -> nan, where C's
    # pow gives 0.0 and inf); an array of 0.5s goes through pow
    x = np.array([-np.inf, -0.0, 0.0, 2.0, 4.0, np.inf, np.nan, -1.0], dt)
    with np.errstate(all="ignore"):
        for be in ("interp", "cpu"):
            got = jg.script(_sqrt_half, backend=be, fallback="error")(x)
            np.testing.assert_array_equal(got, x ** 0.5)
            got = jg.script(_power_p, backend=be, fallback="error")(x, 0.5)
            np.testing.assert_array_equal(got, np.power(x, 0.5))
            got = jg.script(_power_p, backend=be, fallback="error")(x, np.full(8, 0.5, dt))
            want = np.power(x, np.full(8, 0.5, dt))     # pow: a few ulp, same specials
            np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dt).eps)
            ok = ~np.isnan(want)                        # (a NaN's sign is not a value)
            np.testing.assert_array_equal(np.signbit(got[ok]), np.signbit(want[ok]))
