"""np.sort, np.argsort and x.argsort() (jitgraph/ops/sort.py) against NumPy.

The ops declare NumPy's kind="stable" semantics (NaNs last, ties -- NaNs and -0.0/0.0
among them -- in their original order), so every backend must give exactly what
`np.sort/np.argsort(x, axis, kind="stable")` gives: same dtype, same shape, same bytes.
Scripted functions run on interp and on cpu compiled with fallback="error" (the native
merge sort of llvm_ops.py); the CUDA lowering runs on the host emulator (kernels/sort.cu,
thread-per-line and block-per-line kernels). Gradients: sort's VJP scatters the cotangent
back through the permutation; argsort carries none."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import jitgraph as jg
from jitgraph.errors import JitTypeError, ScriptError

BACKENDS = ("interp", "cpu")
ALL_REAL = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            "float16", "float32", "float64")


# ---------------------------------------------------------------------------------------
# scripted functions and what NumPy says they give

def sort_last(x: Any) -> Any:
    return np.sort(x)


def sort_axis0(x: Any) -> Any:
    return np.sort(x, axis=0)


def sort_neg2(x: Any) -> Any:
    return np.sort(x, axis=-2)


def sort_flat(x: Any) -> Any:
    return np.sort(x, axis=None)


def argsort_last(x: Any) -> Any:
    return np.argsort(x)


def argsort_method(x: Any) -> Any:
    return x.argsort()


def argsort_method_axis0(x: Any) -> Any:
    return x.argsort(axis=0)


def argsort_flat(x: Any) -> Any:
    return np.argsort(x, axis=None)


def sort_kinds(x: Any) -> Any:
    # stable=False lets NumPy pick any algorithm: the result is the stable one all the same
    return np.sort(x, stable=False), np.argsort(x, stable=False), np.argsort(x, stable=True)


def sort_views(x: Any) -> Any:
    # non-contiguous inputs: a strided slice, a transpose, a reversed view
    return np.sort(x[:, ::2], axis=0), np.argsort(x.T), np.sort(x[::-1], axis=None)


# fn -> (NumPy function, axis) per result, the reference of each scripted function
SPEC: dict[Callable[..., Any], list[tuple[Callable[..., Any], Any]]] = {
    sort_last: [(np.sort, -1)],
    sort_axis0: [(np.sort, 0)],
    sort_neg2: [(np.sort, -2)],
    sort_flat: [(np.sort, None)],
    argsort_last: [(np.argsort, -1)],
    argsort_method: [(np.argsort, -1)],
    argsort_method_axis0: [(np.argsort, 0)],
    argsort_flat: [(np.argsort, None)],
    sort_kinds: [(np.sort, -1), (np.argsort, -1), (np.argsort, -1)],
}


def expected(fn: Callable[..., Any], x: np.ndarray) -> list[np.ndarray]:
    if fn is sort_views:
        return [np.sort(x[:, ::2], axis=0, kind="stable"), np.argsort(x.T, kind="stable"),
                np.sort(x[::-1], axis=None, kind="stable")]
    return [f(x, axis=axis, kind="stable") for f, axis in SPEC[fn]]


def run(fn: Callable[..., Any], backend: str, *args: Any) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", jg.FallbackWarning)
        out = jg.script(fn, backend=backend, fallback="error")(*args)
    return list(out) if isinstance(out, tuple) else [out]


def assert_same_bits(got: Any, want: np.ndarray, what: str = "") -> None:
    """Same dtype, shape and bytes: -0.0 vs 0.0 and NaN positions count."""
    got = np.asarray(got)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if got.tobytes() != want.tobytes():
        pytest.fail(f"{what}: got\n{got!r}\nNumPy (kind='stable') gives\n{want!r}")


def check(fn: Callable[..., Any], backend: str, x: np.ndarray) -> None:
    for k, (g, w) in enumerate(zip(run(fn, backend, x), expected(fn, x), strict=True)):
        assert_same_bits(g, w, f"{fn.__name__}[{k}] on {backend}, {x.dtype}{x.shape}")


def sample(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Values with many ties; floats also get NaN, +-inf, -0.0 and 0.0."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind == "u":
        return rng.integers(0, 7, shape).astype(dt)
    if dt.kind == "i":
        return rng.integers(-4, 5, shape).astype(dt)
    x = np.round(rng.standard_normal(shape) * 2, 1).astype(dt)
    flat = x.reshape(-1)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, np.nan], dtype=dt)
    pos = rng.choice(flat.size, size=min(flat.size, 3 * len(specials)), replace=False)
    flat[pos] = np.resize(specials, len(pos))
    return x


# ---------------------------------------------------------------------------------------
# values vs NumPy

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ALL_REAL)
@pytest.mark.parametrize("fn", [sort_last, argsort_last, sort_flat, argsort_method_axis0],
                         ids=lambda f: f.__name__)
def test_every_real_dtype(fn: Callable[..., Any], dtype: str, backend: str) -> None:
    check(fn, backend, sample(dtype, (6, 37)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", list(SPEC) + [sort_views], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
def test_axes_and_views(fn: Callable[..., Any], dtype: str, backend: str) -> None:
    check(fn, backend, sample(dtype, (5, 4, 6) if fn is sort_neg2 else (9, 20), seed=3))


EDGE = {
    "empty": np.zeros((0,)),
    "empty-rows": np.zeros((0, 4)),
    "empty-lines": np.zeros((3, 0), dtype=np.int32),
    "one": np.array([2.5]),
    "one-per-line": np.array([[3], [1], [2]], dtype=np.int64),
    "all-equal": np.full((3, 40), 7.0),
    "all-nan": np.full(20, np.nan, dtype=np.float32),
    "zeros-signed": np.array([0.0, -0.0, 0.0, -0.0, -0.0, 0.0]),
    "inf-nan": np.array([np.nan, np.inf, -np.inf, 1.0, np.nan, -np.inf, 0.0, np.inf]),
    "sorted": np.arange(50.0),
    "reversed": np.arange(50, 0, -1, dtype=np.int16),
    "3d": sample("float64", (3, 5, 33), seed=4),
    "3d-int": sample("int64", (4, 3, 17), seed=5),
    "bool-ties": np.array([True, False, True, True, False, False, True]),
    "int-extremes": np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min, 0, -1, 1]),
    "uint-high": np.array([2**63 + 5, 3, 2**64 - 1, 0], dtype=np.uint64),
    "half-subnormal": np.array([6e-8, -6e-8, 0.0, -0.0, 65504, -65504], dtype=np.float16),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_cases(name: str, backend: str) -> None:
    x = EDGE[name]
    for fn in (sort_last, argsort_last, sort_flat, argsort_flat, argsort_method):
        check(fn, backend, x)
    if x.ndim >= 2:
        for fn in (sort_axis0, argsort_method_axis0):
            check(fn, backend, x)
    if x.ndim >= 2 and x.size:
        check(sort_views, backend, x)
    if x.ndim >= 3:
        check(sort_neg2, backend, x)


def test_all_equal_argsort_is_the_identity() -> None:
    (got,) = run(argsort_last, "cpu", np.full((4, 100), -3, dtype=np.int8))
    np.testing.assert_array_equal(got, np.broadcast_to(np.arange(100), (4, 100)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_d(backend: str) -> None:
    x = np.array(1.5)
    check(sort_flat, backend, x)
    check(argsort_last, backend, x)          # NumPy: the 1-element ravel's argsort
    with pytest.raises(JitTypeError, match="out of bounds"):
        run(sort_last, backend, x)           # NumPy: AxisError


def test_long_lines_are_n_log_n() -> None:
    """A 2M-element line and 200k short lines through the compiled merge sort: an
    O(n^2) sort could not finish either in the time allowed."""
    rng = np.random.default_rng(11)
    x = np.round(rng.standard_normal(2_000_000), 3)   # many ties
    x[::1000] = np.nan
    for fn in (sort_last, argsort_last):
        f = jg.script(fn, backend="cpu", fallback="error")
        f(x[:10])
        t = time.perf_counter()
        got = f(x)
        assert time.perf_counter() - t < 10.0
        assert_same_bits(got, expected(fn, x)[0], fn.__name__)
    rows = rng.integers(0, 5, (200_000, 9)).astype(np.int32)
    check(argsort_last, "cpu", rows)
    check(sort_axis0, "cpu", rows[:5000])


# ---------------------------------------------------------------------------------------
# gradients

def top3_weighted(x: Any, w: Any) -> Any:
    return (np.sort(x)[:, -3:] * w).sum()


def sort_cols(x: Any) -> Any:
    return (np.sort(x, axis=0) * np.arange(x.size).reshape(x.shape)).sum()


def sort_flat_weighted(x: Any) -> Any:
    return (np.sort(x, axis=None) ** 2 * np.linspace(-1.0, 1.0, x.size)).sum()


def central_diff(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
                 ) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_top3_sum(backend: str) -> None:
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 7)), rng.standard_normal((4, 3))
    gx = jg.grad(top3_weighted, backend=backend, fallback="error")(x, w)
    assert gx.dtype == np.float64 and gx.shape == x.shape
    np.testing.assert_allclose(gx, central_diff(lambda v: float(top3_weighted(v, w)), x),
                               rtol=1e-6, atol=1e-8)
    # exactly: w lands on the positions of each row's three largest values
    want = np.zeros_like(x)
    np.put_along_axis(want, np.argsort(x, axis=1, kind="stable")[:, -3:], w, axis=1)
    np.testing.assert_array_equal(gx, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [sort_cols, sort_flat_weighted], ids=lambda f: f.__name__)
def test_gradient_other_axes(fn: Callable[..., Any], backend: str) -> None:
    x = np.random.default_rng(6).standard_normal((5, 3))
    gx = jg.grad(fn, backend=backend, fallback="error")(x)
    np.testing.assert_allclose(gx, central_diff(lambda v: float(fn(v)), x), rtol=1e-6,
                               atol=1e-7)


def argsort_weighted(x: Any) -> Any:
    return (x * np.argsort(x).astype(np.float64)).sum()


def test_argsort_carries_no_gradient() -> None:
    x = np.array([0.3, -1.2, 2.0, 0.7])
    gx = jg.grad(argsort_weighted, backend="interp")(x)
    np.testing.assert_array_equal(gx, np.argsort(x).astype(np.float64))


# ---------------------------------------------------------------------------------------
# a scripted top-k, natively compiled

def topk(x: Any) -> Any:
    idx = np.argsort(-x, axis=1)[:, :3]
    rows = np.arange(x.shape[0])[:, None]
    return x[rows, idx], idx


def topk_by_sort(x: Any) -> Any:
    return np.sort(x, axis=-1)[:, ::-1][:, :3], x.argsort(axis=-1)[:, -3:][:, ::-1]


@pytest.mark.parametrize("fn", [topk, topk_by_sort], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_topk_compiles_on_cpu(fn: Callable[..., Any], dtype: str) -> None:
    x = sample(dtype, (6, 11), seed=8)
    if x.dtype.kind == "f":
        x = np.where(np.isnan(x), 0, x).astype(x.dtype)
    f = jg.script(fn, backend="cpu", fallback="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error", jg.FallbackWarning)
        got = f(x)
    if fn is topk:
        order = np.argsort(-x, axis=1, kind="stable")[:, :3]
        want = (np.take_along_axis(x, order, axis=1), order)
    else:
        want = (np.sort(x, axis=-1, kind="stable")[:, ::-1][:, :3],
                np.argsort(x, axis=-1, kind="stable")[:, -3:][:, ::-1])
    for g, w in zip(got, want, strict=True):
        assert_same_bits(g, np.ascontiguousarray(w), fn.__name__)
    ops = {n.op for n in f.graph_for(x).walk()}
    assert "argsort" in ops


# ---------------------------------------------------------------------------------------
# the frontend

def in_place_sort(x: Any) -> Any:
    x.sort()
    return x


def sort_order(x: Any) -> Any:
    return np.sort(x, order="a")


def test_frontend_refusals() -> None:
    x = np.arange(3.0)
    with pytest.raises(ScriptError):
        jg.script(in_place_sort, backend="interp")(x)
    with pytest.raises(ScriptError):
        jg.script(sort_order, backend="interp")(x)


def test_kind_is_checked_and_canonical() -> None:
    """`kind` (a string, so written in IR rather than in a scripted function) is checked as
    NumPy checks it and dropped: every kind means the stable sort."""
    from jitgraph.ir.graph import Block, Builder, Value
    from jitgraph.types import TensorType
    x = Value(TensorType(np.dtype(np.float64), (4,)), "x")
    b = Builder(Block([x]))
    for kind in ("quicksort", "heap", "Stable", "m"):
        b.op("argsort", x, kind=kind)
        assert b.block.nodes[-1].attrs["kind"] is None
    with pytest.raises(JitTypeError, match="sort kind must be one of"):
        b.op("sort", x, kind="bogus")
    with pytest.raises(JitTypeError, match="can't be provided at the same time"):
        b.op("sort", x, kind="stable", stable=True)


def test_graph_spelling() -> None:
    x = np.zeros((2, 3), np.float32)
    text = str(jg.script(sort_kinds, backend="interp").graph_for(x))
    assert "sort(%x) {axis=1, kind=None, stable=None} : f32[2,3]" in text
    assert "argsort(%x) {axis=1, kind=None, stable=None} : i64[2,3]" in text


# ---------------------------------------------------------------------------------------
# CUDA: the generated kernels on the host emulator, and nvcc

def _cuda_graph(name: str, shape: tuple[int, ...], dtype: str, axis: Any) -> Any:
    from jitgraph.ir.graph import Block, Builder, Graph, Value
    from jitgraph.types import TensorType
    x = Value(TensorType(np.dtype(dtype), shape), "x")
    b = Builder(Block([x]))
    b.block.results = [b.op("sort", x, axis=axis), b.op("argsort", x, axis=axis)]
    return Graph(name, b.block)


CUDA_CASES = [
    # (shape, dtype, axis): thread per line (many short lines) and block per line
    ((300, 9), "float64", -1),
    ((9, 300), "float32", 0),
    ((3, 1500), "float64", 1),           # long lines: a block each
    ((4, 100), "float16", 1),            # few lines: a block each
    ((2, 3, 70), "int8", None),
    ((50, 40), "bool", 1),
    ((17,), "uint64", 0),
]


@pytest.fixture(scope="module")
def emulator() -> Any:
    from jitgraph.backends.cuda_jit import HostEmulator
    why = HostEmulator.available()
    if why:
        pytest.skip(f"host emulator unavailable: {why}")
    return HostEmulator()


def test_cuda_emulated_bits(emulator: Any) -> None:
    from jitgraph.backends.cuda_jit import CudaBackend, CudaFunction
    be = CudaBackend(emulator)
    graphs = [_cuda_graph(f"srt{i}", *c) for i, c in enumerate(CUDA_CASES)]
    progs = [be.lower(g) for g in graphs]
    assert all(not p.problems for p in progs)
    kinds = {("block" if "jg_block_merge_sort" in k.text else "thread")
             for p in progs for k in p.kernels}
    assert kinds == {"block", "thread"}
    emulator.compile_many(progs)
    for i, ((shape, dtype, axis), prog) in enumerate(zip(CUDA_CASES, progs)):
        x = sample(dtype, shape, seed=20 + i)
        if dtype == "uint64":
            x[::3] = np.uint64(2**64 - 2)
        got = CudaFunction(prog, emulator)([x])
        assert_same_bits(got[0], np.sort(x, axis=axis, kind="stable"), f"cuda sort {i}")
        assert_same_bits(got[1], np.argsort(x, axis=axis, kind="stable"), f"cuda argsort {i}")


def test_cuda_nvcc_compiles() -> None:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH")
    from jitgraph.backends import cuda_lower as cl
    src = "".join(f"namespace p{i} {{\n{cl.lower(_cuda_graph(f'srt{i}', *c)).source}\n}}\n"
                  .replace('extern "C" ', "") for i, c in enumerate(CUDA_CASES))
    with tempfile.TemporaryDirectory() as d:
        cu = Path(d) / "sort.cu"
        cu.write_text(src)
        r = subprocess.run(["nvcc", "-cubin", "-arch=sm_80", "-o", str(cu.with_suffix(".cubin")),
                            str(cu)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
