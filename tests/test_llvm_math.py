"""The CPU backend's polynomial math (llvm_math.py): error bounds in ulp against a more
precise reference over the whole range, NumPy's answers on the special values, and that
the loops using it vectorize."""
from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from jitgraph import config
from jitgraph.backends.llvm_jit import LLVMBackend, runtime
from jitgraph.ir.graph import Builder, Graph, Value
from jitgraph.types import TensorType

CPU = LLVMBackend(cache=False)
MAX_ULP = {"float64": 4.0, "float32": 4.0}
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 5e-324, -5e-324,
                    1e-310, 2.2250738585072014e-308, 1.7976931348623157e308, -1e308, 0.5,
                    -0.5, 710.0, 709.7, -745.2, -746.0, 88.8, -104.0, 1e-20, -1e-20, 3e300])


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "CACHE_DIR", "off")


def compiled(op: str, dt: np.dtype, n: int, nin: int = 1, name: str = "") -> Any:
    b = Builder()
    ps = [Value(TensorType(np.dtype(dt), (n,)), f"x{i}") for i in range(nin)]
    b.block.params.extend(ps)
    b.block.results.append(b.op(op, *ps))
    g = Graph(name or op, b.block)
    return CPU.compile(g), g


def ulp_error(got: np.ndarray, ref: np.ndarray, dt: np.dtype) -> np.ndarray:
    """|got - ref| in units of the spacing of dtype at ref (0 where both agree exactly,
    inf where one is special and the other not)."""
    with np.errstate(all="ignore"):
        r = ref.astype(dt).astype(np.longdouble)
        err = np.abs(got.astype(np.longdouble) - ref.astype(np.longdouble))
        sp = np.spacing(np.abs(r).astype(dt)).astype(np.longdouble)
        out = (err / sp).astype(np.float64)
    with np.errstate(all="ignore"):
        same = (got == ref.astype(dt)) | (np.isnan(got) & np.isnan(ref))
    out[same] = 0.0
    return out


def reference(op: str, args: list[np.ndarray], dt: np.dtype) -> np.ndarray:
    """float64: long double; float32: float64."""
    hi = np.longdouble if np.dtype(dt) == np.float64 else np.float64
    fn = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
          "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "pow": np.power}[op]
    with np.errstate(all="ignore"):
        return fn(*[a.astype(hi) for a in args])


def samples(op: str, dt: np.dtype, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    def mag(lo: float, hi: float) -> np.ndarray:
        return 10.0 ** rng.uniform(lo, hi, n)

    def sign() -> np.ndarray:
        return rng.choice([-1.0, 1.0], n)

    f32 = np.dtype(dt) == np.float32
    top = 38.0 if f32 else 307.0
    if op == "exp":
        lim = (-104.0, 89.0) if f32 else (-746.0, 710.0)
        x = np.concatenate([rng.uniform(*lim, n // 2), sign()[: n // 2] * mag(-30, 1)[: n // 2]])
    elif op == "expm1":
        x = np.concatenate([rng.uniform(-60, 89 if f32 else 710, n // 2),
                            sign()[: n // 2] * mag(-30, 0.5)[: n // 2]])
    elif op in ("log", "log1p"):
        x = mag(-37 if f32 else -307, top)
        if op == "log1p":
            x = np.concatenate([x[: n // 2], rng.uniform(-1, 1, n // 2)])
    elif op == "tanh":
        x = sign() * mag(-30, 1.5)
    elif op in ("sin", "cos"):
        x = np.concatenate([rng.uniform(-1e4, 1e4, n // 2),
                            sign()[: n // 2] * mag(-20, 6)[: n // 2]])
    else:  # pow
        x = mag(-20, 20) * np.where(rng.random(n) < 0.2, -1.0, 1.0)
        y = np.where(rng.random(n) < 0.5, rng.integers(-40, 40, n).astype(float),
                     rng.uniform(-30, 30, n))
        x[x < 0] = -np.abs(x[x < 0])
        y[x < 0] = np.round(y[x < 0])
        return [x.astype(dt), y.astype(dt)]
    return [x.astype(dt)]


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("op", ["exp", "expm1", "log", "log1p", "tanh", "sin", "cos", "pow"])
def test_error_bound(op: str, dt: str, rng: np.random.Generator) -> None:
    n = 20000
    args = samples(op, np.dtype(dt), rng, n)
    f, _ = compiled(op, np.dtype(dt), n, len(args))
    got = f(args)[0]
    err = ulp_error(got, reference(op, args, np.dtype(dt)), np.dtype(dt))
    worst = int(np.argmax(err))
    assert err.max() <= MAX_ULP[dt], (op, dt, err.max(), [a[worst] for a in args], got[worst])


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("op", ["exp", "expm1", "log", "log1p", "tanh", "sin", "cos"])
def test_special_values_match_numpy(op: str, dt: str) -> None:
    x = SPECIAL.astype(dt)
    f, _ = compiled(op, np.dtype(dt), x.size)
    with np.errstate(all="ignore"):
        want = getattr(np, op)(x)
    got = f([x])[0]
    exact = ~np.isfinite(want) | (want == 0) | ~np.isfinite(x) | (x == 0)
    np.testing.assert_array_equal(got[exact], want[exact], err_msg=f"{op} {dt} on {x[exact]}")
    np.testing.assert_array_equal(np.signbit(got[exact & (want == 0)]),
                                  np.signbit(want[exact & (want == 0)]))
    assert ulp_error(got[~exact], want[~exact].astype(np.longdouble), np.dtype(dt)).max() <= 4


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_pow_special_values(dt: str) -> None:
    with np.errstate(over="ignore"):
        v = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, np.inf, -np.inf, np.nan,
                      3.0, -3.0, 1e-300, 1e300], dtype=dt)
    x, y = (a.ravel().astype(dt) for a in np.meshgrid(v, v))
    f, _ = compiled("pow", np.dtype(dt), x.size, 2)
    with np.errstate(all="ignore"):
        want = np.power(x, y)
    got = f([x, y])[0]
    exact = ~np.isfinite(want) | (want == 0) | (np.abs(want) == 1)
    np.testing.assert_array_equal(got[exact], want[exact],
                                  err_msg=f"{list(zip(x[exact], y[exact], got[exact]))}")
    num = exact & ~np.isnan(want)          # the sign of a NaN is not specified
    np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]))
    assert ulp_error(got[~exact], want[~exact].astype(np.longdouble), np.dtype(dt)).max() <= 4


def test_huge_sin_arguments_take_the_exact_path() -> None:
    x = np.array([1.0, 1e7, 1e22, -3e300, 2.0, np.inf])
    f, _ = compiled("sin", np.dtype(np.float64), x.size)
    with np.errstate(all="ignore"):
        want = np.sin(x)
    np.testing.assert_allclose(f([x])[0], want, rtol=1e-15, equal_nan=True)


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sin", "expm1", "log1p", "cos"])
def test_loops_vectorize(op: str) -> None:
    _, g = compiled(op, np.dtype(np.float32), 4096)
    text = CPU.dump(g, "llvm")
    assert "x float>" in text, f"{op}: no vector code"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not any(f"@{n}f(" in text for n in ("exp", "log", "tanh", "expm1", "log1p"))


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_integer_exponent_at_run_time(dt: str, rng: np.random.Generator) -> None:
    """x ** n with n an integer array: square-and-multiply for small |n|, C99 pow for the
    rest and for results near overflow/underflow (the kernel's exact rerun)."""
    n = 4000
    x = (10.0 ** rng.uniform(-25, 25, n) * rng.choice([-1.0, 1.0], n)).astype(dt)
    kdt = np.int64 if dt == "float64" else np.int16     # float32 ** int16 stays float32
    k = rng.integers(-40, 41, n).astype(kdt)
    x[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e21, 1e-21, -2.0]
    k[:8] = [-3, -3, 2, 3, 0, -15, 15, 15]
    b = Builder()
    ps = [Value(TensorType(np.dtype(dt), (n,)), "x"), Value(TensorType(np.dtype(kdt), (n,)), "k")]
    b.block.params.extend(ps)
    b.block.results.append(b.op("pow", *ps))
    got = CPU.compile(Graph("powi", b.block))([x, k])[0]
    assert got.dtype == np.dtype(dt)
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.longdouble), k).astype(dt)
    special = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special], want[special])
    assert ulp_error(got[~special], want[~special].astype(np.longdouble), np.dtype(dt)).max() <= 8


@pytest.mark.parametrize("ldexp", [False, True])
@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("op", ["exp", "expm1", "tanh"])
def test_both_scaling_paths(op: str, dt: str, ldexp: bool, rng: np.random.Generator,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """exp's 2^k scaling: llvm.ldexp (AVX-512's vscalef) where the CPU has it, else two
    exact factors; both within the bound, with NumPy's special values."""
    rt = runtime()
    if ldexp and not rt.vector_ldexp:
        pytest.skip("this CPU has no vector ldexp")
    monkeypatch.setattr(rt, "vector_ldexp", ldexp)
    x = np.concatenate([samples(op, np.dtype(dt), rng, 4000)[0], SPECIAL.astype(dt)])
    f, g = compiled(op, np.dtype(dt), x.size, name=f"{op}_scaling_{int(ldexp)}")
    got = f([x])[0]
    with np.errstate(all="ignore"):
        want = getattr(np, op)(x)
    err = ulp_error(got, reference(op, [x], np.dtype(dt)), np.dtype(dt))
    assert err.max() <= MAX_ULP[dt], (op, dt, err.max(), x[int(np.argmax(err))])
    exact = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[exact], want[exact])
    np.testing.assert_array_equal(np.signbit(got[exact & (want == 0)]),
                                  np.signbit(want[exact & (want == 0)]))
    asm = CPU.dump(g, "asm")
    assert not re.search(r"call\w*\s+\S*ldexp", asm), "ldexp became a library call"


def test_heavy_loops_ask_for_interleaving() -> None:
    """A long elementwise body (tanh) gets llvm.loop interleave metadata; a short one
    is left to LLVM."""
    _, g = compiled("tanh", np.dtype(np.float32), 4096, name="tanh_interleave")
    assert "llvm.loop.interleave.count" in CPU.dump(g, "llvm-unopt")
    _, g = compiled("neg", np.dtype(np.float32), 4096, name="neg_interleave")
    assert "llvm.loop.interleave.count" not in CPU.dump(g, "llvm-unopt")
