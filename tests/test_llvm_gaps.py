"""The CPU backend's former fallbacks, now lowered natively: cumsum / cumprod, getitem and
scatter_add with several advanced indices (the NLL idiom `logp[np.arange(n), labels]`
and its gradient), and float16 (stored as half, computed in float, rounded per op as
NumPy's float16 loops do). Every scripted function here runs with fallback="error", so a
refusal fails the test instead of quietly running the interpreter."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llvmlite")

sys.path.insert(0, os.path.dirname(__file__))
from compare import RTOL, assert_same_result

import jitgraph as jg
from jitgraph.backends.llvm_jit import LLVMBackend
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.ops import OPS
from jitgraph.types import TensorType

CPU = LLVMBackend(cache=False)
F16 = np.dtype(np.float16)
F64 = np.dtype(np.float64)


def cpu(fn: Any) -> Any:
    return jg.script(fn, backend="cpu", fallback="error")


def one_node(op: str, types: list[TensorType], **attrs: Any) -> Graph:
    ps = [Value(t, f"x{i}") for i, t in enumerate(types)]
    b = Builder(Block(ps))
    b.block.results = [b.op(op, *ps, **attrs)]
    return Graph(op, b.block)


def run_node(op: str, values: list[Any], **attrs: Any) -> Any:
    """One op node compiled by the CPU backend (which must accept it) on `values`."""
    types = [TensorType(F64, (), True) if isinstance(v, float) else
             TensorType(np.asarray(v).dtype, np.shape(v)) for v in values]
    g = one_node(op, types, **attrs)
    assert CPU.check(g) == [], CPU.check(g)
    return CPU.compile(g)(values)[0]


def run_isolated(tmp_path: Any, code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (a crash fails the test, not the run)."""
    script = tmp_path / "case.py"
    script.write_text(textwrap.dedent(code))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, str(script)], check=False, capture_output=True,
                          text=True, timeout=120, env=env, cwd=root)


# ================================================================== cumsum / cumprod
def scans(x):
    return (np.cumsum(x), np.cumsum(x, axis=0), np.cumsum(x, axis=-1),
            np.cumprod(x, axis=0), np.cumprod(x, axis=-1), np.cumprod(x))


SCAN_DTYPES = ("bool", "int8", "uint8", "int32", "int64", "float16", "float32", "float64")


@pytest.mark.parametrize("dtype", SCAN_DTYPES)
def test_scans_match_numpy(dtype: str, rng: np.random.Generator) -> None:
    f = cpu(scans)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        x = rng.random((5, 6)) < 0.7
    elif dt.kind in "iu":
        x = rng.integers(0 if dt.kind == "u" else -3, 4, (5, 6)).astype(dt)
    else:
        x = rng.uniform(0.5, 1.5, (5, 6)).astype(dt) * rng.choice([-1, 1], (5, 6)).astype(dt)
    got, want = f(x), f.eager(x)
    # sequential, as np.add.accumulate: even floats match exactly
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_scan_middle_axis_dtype_and_views(rng: np.random.Generator) -> None:
    @cpu
    def f(x, s):
        y = x[::-1, :, ::2]                                  # negative and step-2 strides
        z = np.broadcast_to(s, (3, 4))                      # every element one register
        return (np.cumsum(y, axis=1), np.cumprod(y, axis=0), np.cumsum(x, axis=1,
                dtype=np.float64), np.cumsum(z, axis=0), np.cumprod(z, axis=1))

    x = rng.uniform(0.5, 1.5, (4, 3, 6)).astype(np.float32)
    s = np.array(1.25, np.float32)
    for g, w in zip(f(x, s), f.eager(x, s), strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (1, 1), (1, 4), (4, 1), (), (7,)])
def test_scan_edge_shapes(shape: tuple[int, ...], rng: np.random.Generator) -> None:
    x = rng.standard_normal(shape)
    axes = [None] + list(range(len(shape)))
    for op in ("cumsum", "cumprod"):
        for axis in axes:
            got = run_node(op, [x], axis=axis)
            want = OPS[op].impl(x, axis=axis)
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_scan_grads(rng: np.random.Generator) -> None:
    def f(x):
        return (np.cumsum(x, axis=1) * np.cumprod(x, axis=0)).sum()

    x = rng.uniform(0.5, 1.5, (3, 4))
    g = jg.grad(cpu(f))(x)
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1e-6
        fd[i] = (f(x + e) - f(x - e)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


# ================================================================== advanced indexing
def nll(logp, labels):
    n = logp.shape[0]
    return -logp[np.arange(n), labels].mean()


def central_diff(f: Any, x: np.ndarray, *rest: Any, h: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e, *rest) - f(x - e, *rest)) / (2 * h)
    return out


def test_nll_value_and_grad(rng: np.random.Generator) -> None:
    f = cpu(nll)
    logits = rng.standard_normal((7, 5))
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    labels = rng.integers(0, 5, 7)
    labels[:3] = [4, 4, 0]
    assert_same_result(f(logp, labels), nll(logp, labels))
    want = np.zeros_like(logp)
    want[np.arange(7), labels] = -1.0 / 7
    g = jg.grad(f)(logp, labels)
    assert g.dtype == logp.dtype and g.shape == logp.shape
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g, central_diff(nll, logp, labels), rtol=1e-6, atol=1e-8)
    # negative labels wrap as in NumPy; other integer dtypes index too
    assert_same_result(f(logp, labels - 5), nll(logp, labels - 5))
    assert_same_result(f(logp, labels.astype(np.int32)), nll(logp, labels.astype(np.int32)))
    assert_same_result(f(logp.astype(np.float32), labels),
                       nll(logp.astype(np.float32), labels))


def test_nll_in_one_training_step(rng: np.random.Generator) -> None:
    @cpu
    def step(w, x, labels):
        z = x @ w
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        n = logp.shape[0]
        return -logp[np.arange(n), labels].mean()

    w, x = rng.standard_normal((4, 3)), rng.standard_normal((6, 4))
    labels = rng.integers(0, 3, 6)
    g = jg.grad(step)(w, x, labels)
    np.testing.assert_allclose(g, central_diff(step.eager, w, x, labels), rtol=1e-6, atol=1e-8)


def indexings(x, i, j, k):
    return (x[i, :, j], x[:, i, j], x[i, 1, j], x[..., i, j], x[0, i], x[i, None, j],
            x[i, j], x[i, j, k], x[::-1, i, j], x[i, 2:0:-1, j], x[k, j, -1])


def test_advanced_indexing_patterns(rng: np.random.Generator) -> None:
    f = cpu(indexings)
    x = rng.standard_normal((4, 5, 6))
    i = np.array([[0, -1], [2, 3]])
    j = np.array([1, -2], np.int32)
    k = np.array([[3], [0]], np.uint8)
    for g, w in zip(f(x, i, j, k), f.eager(x, i, j, k), strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_advanced_indexing_edges(rng: np.random.Generator) -> None:
    @cpu
    def f(x, i, j):
        return x[i, 0, j], x[i, :, j], x[:, 0][i, j]

    for xs, i, j in [((3, 1, 4), np.array([], np.int64), np.array([], np.int64)),
                     ((3, 1, 4), np.array([2]), np.array([3])),       # size 1
                     ((1, 1, 1), np.array([[0, -1]]), np.array([0])),
                     ((0, 1, 4), np.zeros((0,), np.int64), np.zeros((0,), np.int64))]:
        x = rng.standard_normal(xs)
        for g, w in zip(f(x, i, j), f.eager(x, i, j), strict=True):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)


def test_multi_index_scatter_add_grad(rng: np.random.Generator) -> None:
    def f(x, i, j, w):
        return (x[i, :, j] * w).sum() + (x[1, i] ** 2).sum()

    x = rng.standard_normal((3, 4, 5))
    i = np.array([[0, 2, 2], [1, 0, 2]])          # repeated pairs accumulate
    j = np.array([4, 4, -1])
    w = rng.standard_normal((2, 3, 4))
    g = jg.grad(cpu(f))(x, i, j, w)
    np.testing.assert_allclose(g, central_diff(f, x, i, j, w), rtol=1e-6, atol=1e-8)
    ct = rng.standard_normal((2, 3))
    for dt in (np.float64, np.float32, np.float16):
        got = run_node("scatter_add", [ct.astype(dt), i, j],
                       index=(("value",), ("value",)), shape=(3, 5))
        want = OPS["scatter_add"].impl(ct.astype(dt), i, j,
                                       index=(("value",), ("value",)), shape=(3, 5))
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case", [
    "f(x, np.array([0, 1]), np.array([0, 4]))",            # column 4 of 4
    "f(x, np.array([0, -4]), np.array([0, 1]))",           # row -4 of 3
    "f(x, np.array([[0], [1]]), np.array([1, 2, 9]))",     # broadcast, then out of range
    "g(x, np.array([0, 1]), np.array([5, 0]))",            # scatter_add (the VJP)
    "h(x, 7, np.array([0]))",                              # run-time integer among arrays
])
def test_out_of_range_index_raises(case: str, tmp_path: Any) -> None:
    r = run_isolated(tmp_path, f"""
        import warnings
        import numpy as np
        import jitgraph as jg
        from jitgraph.backends.llvm_jit import LLVMBackend
        from jitgraph.ir.graph import Block, Builder, Graph, Value
        from jitgraph.types import TensorType

        @jg.script(backend="cpu", fallback="error")
        def f(x, i, j):
            return x[i, j]

        @jg.script(backend="cpu", fallback="error")
        def h(x, k, j):
            return x[k, j]

        def g(x, i, j):
            ps = [Value(TensorType(np.dtype(np.float64), (2,)), "ct"),
                  Value(TensorType(np.dtype(np.int64), (2,)), "i"),
                  Value(TensorType(np.dtype(np.int64), (2,)), "j")]
            b = Builder(Block(ps))
            b.block.results = [b.op("scatter_add", *ps, index=(("value",), ("value",)),
                                    shape=(3, 4))]
            fn = LLVMBackend(cache=False).compile(Graph("s", b.block))
            return fn([np.ones(2), i, j])

        x = np.arange(12.0).reshape(3, 4)
        warnings.simplefilter("error")
        try:
            {case}
        except IndexError as e:
            print("IndexError:", e)
        """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "IndexError:" in r.stdout and "out of bounds" in r.stdout, r.stdout + r.stderr


# ================================================================== float16
def assert_f16(got: Any, want: Any, where: str) -> None:
    """A one-node graph's result vs NumPy: dtype and shape exactly, values within
    compare.py's float16 tolerance (about one float16 ulp) or exactly."""
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype and g.shape == w.shape, (where, g.dtype, w.dtype, g.shape, w.shape)
    tol = RTOL.get(w.dtype, 0.0)
    np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True, err_msg=where)


UNARY = ("neg", "abs", "sign", "square", "sqrt", "reciprocal", "exp", "exp2", "expm1", "log",
         "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh",
         "cosh", "tanh", "floor", "ceil", "rint", "isnan", "isinf", "isfinite")
BINARY = ("add", "sub", "mul", "div", "floordiv", "mod", "pow", "maximum", "minimum",
          "arctan2", "lt", "le", "eq", "ne", "logical_and")


def f16_operand(op: str, rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    if op in ("arcsin", "arccos"):
        x = rng.uniform(-1, 1, n)
    elif op in ("sqrt", "log", "log2", "log10", "log1p", "reciprocal"):
        x = rng.uniform(0.01, 50, n)
    else:
        x = rng.standard_normal(n) * 4
    x[:4] = [0.0, -0.0, np.inf, np.nan] if op not in ("arcsin", "arccos") else [0, -0.0, 1, -1]
    return x.astype(F16)


@pytest.mark.parametrize("op", UNARY)
def test_f16_unary(op: str, rng: np.random.Generator) -> None:
    x = f16_operand(op, rng)
    with np.errstate(all="ignore"):
        assert_f16(run_node(op, [x]), OPS[op].impl(x), op)


@pytest.mark.parametrize("op", BINARY)
def test_f16_binary(op: str, rng: np.random.Generator) -> None:
    x, y = f16_operand(op, rng), f16_operand(op, rng)[::-1].copy()
    if op == "pow":
        x, y = np.abs(x), (y / np.float16(4)).astype(F16)
    with np.errstate(all="ignore"):
        assert_f16(run_node(op, [x, y]), OPS[op].impl(x, y), op)
        # a Python float meets float16: NumPy rounds it to float16 first (NEP 50)
        if op not in ("logical_and",):
            assert_f16(run_node(op, [x, 0.1]), OPS[op].impl(x, 0.1), f"{op} weak")


def test_f16_casts_round_once(rng: np.random.Generator) -> None:
    # float64 values just past a float16 tie: narrowing through float32 would round to
    # the tie and then to even; NumPy (and round_half's round-to-odd step) round once
    h = np.arange(1024, 2048, dtype=np.float64)[::7] / 1024     # float16s in [1, 2)
    near_tie = h + 2.0 ** -11 + 2.0 ** -40
    below_tie = h + 2.0 ** -11 - 2.0 ** -40
    wide = rng.standard_normal(2000) * 10.0 ** rng.uniform(-10, 6, 2000)
    for d in (near_tie, below_tie, wide, np.array([7e4, -7e4, 65519.0, 65520.0, 6e-8, 2e-8,
                                                    np.nan, -0.0])):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(run_node("cast", [d], dtype=F16), d.astype(F16))
            f = d.astype(np.float32)
            np.testing.assert_array_equal(run_node("cast", [f], dtype=F16), f.astype(F16))
    ints = np.array([0, 1, -1, 2049, 65504, 65520, 70000, -70000, 2 ** 40], np.int64)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(run_node("cast", [ints], dtype=F16), ints.astype(F16))
    x = f16_operand("add", rng)
    for dt in ("bool", "int8", "uint8", "int32", "int64", "float32", "float64"):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(run_node("cast", [x], dtype=np.dtype(dt)),
                                          x.astype(dt))


@pytest.mark.parametrize("op", ("sum", "prod", "mean", "max", "min", "var", "std",
                                "argmax", "any"))
def test_f16_reductions(op: str, rng: np.random.Generator) -> None:
    x = rng.uniform(0.7, 1.3, (37, 53)).astype(F16)
    for axis in (None, 0, 1):
        with np.errstate(all="ignore"):
            assert_f16(run_node(op, [x], axis=axis), OPS[op].impl(x, axis=axis), f"{op} {axis}")


def test_f16_scripted(rng: np.random.Generator) -> None:
    @cpu
    def f(x, y, w, s):
        z = np.tanh(x * 0.5) + np.exp(-x) * y - s            # fused, rounded op by op
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)                 # softmax over rows
        return z, p, (x @ w), np.where(x > 0, x, y * 2.0), np.concatenate([x, y]).mean()

    x, y = rng.standard_normal((2, 64, 33)).astype(F16)
    w = rng.standard_normal((33, 8)).astype(F16)
    s = 0.3
    got, want = f(x, y, w, s), f.eager(x, y, w, s)
    assert_same_result(got, want, "f16 script")
    xs = x[::-2, 1::2]                                       # non-contiguous float16 input
    assert_same_result(f(xs, xs, w[1::2], s), f.eager(xs, xs, w[1::2], s), "f16 strided")


@pytest.mark.parametrize("shape", [(0, 3), (1, 1), ()])
def test_f16_edge_shapes(shape: tuple[int, ...], rng: np.random.Generator) -> None:
    @cpu
    def f(x):
        return np.exp(x) * 2.0 + x, x.sum(), np.cumsum(x)

    x = rng.standard_normal(shape).astype(F16)
    assert_same_result(f(x), f.eager(x), f"f16 {shape}")


def test_f16_grad(rng: np.random.Generator) -> None:
    def loss(w, x):
        return (np.tanh(x @ w) ** 2).sum()

    w = rng.standard_normal((6, 3)).astype(F16)
    x = rng.standard_normal((5, 6)).astype(F16)
    g = jg.grad(cpu(loss))(w, x)
    want = jg.grad(jg.script(loss, backend="interp"))(w, x)
    assert g.dtype == F16 and g.shape == w.shape
    np.testing.assert_allclose(g.astype(np.float64), want.astype(np.float64),
                               rtol=4 * RTOL[F16], atol=4 * RTOL[F16])
