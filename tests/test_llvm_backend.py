"""CPU backend (LLVM) vs the interpreter: every lowered op across dtypes, broadcasting,
empty / size-1 / non-contiguous inputs, control flow, fused nodes, bounds checks."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from jitgraph import config
from jitgraph.backends.interp import InterpBackend
from jitgraph.backends.llvm_jit import LLVMBackend
from jitgraph.errors import JitTypeError
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.types import TensorType

CPU = LLVMBackend(cache=False)
INTERP = InterpBackend()
F32, F64, I32, I64, B = (np.dtype(x) for x in ("float32", "float64", "int32", "int64", "bool"))
ALL = (F32, F64, I32, I64, B)


def T(dt: Any, *shape: int) -> TensorType:
    return TensorType(np.dtype(dt), tuple(shape))


WEAK_F, WEAK_I = TensorType(F64, (), True), TensorType(I64, (), True)


def build(params: Sequence[TensorType], body: Callable[..., Any], name: str = "g") -> Graph:
    b = Builder()
    vs = [Value(t, f"p{i}") for i, t in enumerate(params)]
    b.block.params.extend(vs)
    outs = body(b, *vs)
    b.block.results.extend(outs if isinstance(outs, (list, tuple)) else [outs])
    return Graph(name, b.block)


def sample(t: TensorType, rng: np.random.Generator) -> Any:
    dt, shape = t.dtype, t.shape
    if t.weak:
        return {"f": 1.75, "i": 3, "b": True}[dt.kind]
    if dt.kind == "f":
        x = rng.standard_normal(shape) * 3
        if x.size > 4:
            x.flat[:4] = [0.0, -0.0, 1.0, -2.5]
    elif dt.kind == "b":
        x = rng.random(shape) > 0.5
    elif dt.kind == "u":
        x = rng.integers(0, 20, shape)
    else:
        x = rng.integers(-9, 10, shape)
    return np.asarray(x, dtype=dt)


def tol(dt: np.dtype) -> dict[str, float]:
    return {"rtol": 2e-5, "atol": 1e-6} if dt == F32 else {"rtol": 1e-12, "atol": 1e-300}


def assert_same(got: Any, want: Any, where: str = "") -> None:
    if isinstance(want, (bool, int, float)):
        assert type(got) is type(want), (where, type(got), type(want))
        np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True, err_msg=where)
        return
    assert isinstance(got, np.ndarray), (where, type(got))
    assert got.dtype == want.dtype, (where, got.dtype, want.dtype)
    assert got.shape == want.shape, (where, got.shape, want.shape)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, equal_nan=True, err_msg=where, **tol(want.dtype))
    else:
        np.testing.assert_array_equal(got, want, err_msg=where)


def check(g: Graph, args: Sequence[Any]) -> list[Any]:
    assert CPU.check(g) == [], CPU.check(g)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = INTERP.compile(g)(list(args))
    got = CPU.compile(g)(list(args))
    assert len(got) == len(want)
    for i, (a, w) in enumerate(zip(got, want)):
        assert_same(a, w, f"{g.name} result {i}")
    return got


def try_build(params: Sequence[TensorType], body: Callable[..., Any], name: str = "g"
              ) -> Graph | None:
    try:
        g = build(params, body, name)
    except JitTypeError:
        return None
    # float16 (NumPy's answer for e.g. sqrt of bool) is lowered too; test_llvm_gaps.py
    # compares it with NumPy at float16's tolerance
    if any(v.type.dtype == np.float16 for v in g.results):
        assert CPU.check(g) == [], CPU.check(g)
        return None
    return g


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "CACHE_DIR", "off")


UNARY = ["neg", "pos", "abs", "sign", "square", "sqrt", "reciprocal", "exp", "exp2", "expm1",
         "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
         "sinh", "cosh", "tanh", "floor", "ceil", "rint", "isnan", "isinf", "isfinite",
         "logical_not", "invert"]
BINARY = ["add", "sub", "mul", "div", "floordiv", "mod", "pow", "maximum", "minimum",
          "arctan2", "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or",
          "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor"]


@pytest.mark.parametrize("op", UNARY)
def test_unary(op: str, rng: np.random.Generator) -> None:
    ran = 0
    for dt in ALL:
        t = T(dt, 5, 7)
        g = try_build([t], lambda b, x: b.op(op, x), f"{op}_{dt}")
        if g is None:
            continue
        x = sample(t, rng)
        if op == "reciprocal" and dt.kind in "iub":
            x[x == 0] = 3         # integer 1/0 differs between NumPy's own loops
        check(g, [x])
        ran += 1
    assert ran


@pytest.mark.parametrize("op", BINARY)
def test_binary(op: str, rng: np.random.Generator) -> None:
    ran = 0
    pairs = [(F32, F32), (F64, F32), (I32, I64), (I64, F32), (B, B), (I32, B), (F32, WEAK_F),
             (I32, WEAK_I), (I64, WEAK_F)]
    for a, c in pairs:
        ta = T(a, 4, 1, 3)
        tc = c if isinstance(c, TensorType) else T(c, 5, 1)
        g = try_build([ta, tc], lambda b, x, y: b.op(op, x, y), f"{op}")
        if g is None:
            continue
        x, y = sample(ta, rng), sample(tc, rng)
        if op == "pow" and a.kind in "iub":
            y = abs(y) if isinstance(y, int) else np.abs(y)
        check(g, [x, y])
        ran += 1
    assert ran


def test_int_division_edge_cases() -> None:
    x = np.array([7, -7, 7, -7, 0, -2**63, 5, -5], np.int64)
    y = np.array([2, 2, -2, -2, 0, -1, 0, -1], np.int64)
    for op in ("floordiv", "mod"):
        check(build([T(I64, 8), T(I64, 8)], lambda b, p, q, op=op: b.op(op, p, q)), [x, y])
    u = np.array([7, 0, 255], np.uint8)
    for op in ("floordiv", "mod"):
        check(build([T("uint8", 3), T("uint8", 3)], lambda b, p, q, op=op: b.op(op, p, q)),
              [u, np.array([2, 0, 0], np.uint8)])


def test_float_division_edge_cases() -> None:
    x = np.array([5.0, -5.0, 5.0, -5.0, 0.0, np.nan, np.inf, -7.5, 1e300, -0.0])
    y = np.array([0.0, 0.0, np.inf, np.inf, -3.0, 2.0, 2.0, 2.0, 1e-300, 3.0])
    for op in ("floordiv", "mod", "div"):
        check(build([T(F64, 10), T(F64, 10)], lambda b, p, q, op=op: b.op(op, p, q)), [x, y])


def test_maximum_propagates_nan() -> None:
    x = np.array([np.nan, 1.0, 2.0, -np.inf], np.float32)
    y = np.array([1.0, np.nan, 3.0, np.nan], np.float32)
    for op in ("maximum", "minimum"):
        check(build([T(F32, 4), T(F32, 4)], lambda b, p, q, op=op: b.op(op, p, q)), [x, y])


def test_negative_integer_power_raises() -> None:
    g = build([T(I64, 3), T(I64, 3)], lambda b, p, q: b.op("pow", p, q))
    f = CPU.compile(g)
    np.testing.assert_array_equal(f([np.array([2, 3, 0]), np.array([3, 0, 0])])[0], [8, 1, 1])
    with pytest.raises(ValueError, match="negative integer powers"):
        f([np.array([2, 3, 4]), np.array([1, -1, 2])])


@pytest.mark.parametrize("dt", ["float32", "float64", "int8", "int32", "int64", "uint8",
                                "uint64", "bool"])
def test_cast(dt: str, rng: np.random.Generator) -> None:
    for src in ALL:
        t = T(src, 3, 4)
        g = build([t], lambda b, x: b.op("cast", x, dtype=np.dtype(dt)))
        x = sample(t, rng)
        if src.kind == "f":
            x = (x * 10).astype(src)
        check(g, [x])


def test_where_clip_compare_mixed(rng: np.random.Generator) -> None:
    c, x, y = T(B, 3, 1), T(F32, 1, 4), T(I32, 3, 4)
    check(build([c, x, y], lambda b, p, q, r: b.op("where", p, q, r)),
          [sample(c, rng), sample(x, rng), sample(y, rng)])
    check(build([x, y, WEAK_F], lambda b, p, q, r: b.op("clip", q, p, r)),
          [sample(x, rng), sample(y, rng), 2.5])
    # comparisons in exact integer arithmetic: uint8 vs a Python int out of its range
    u = T("uint8", 4)
    check(build([u], lambda b, p: b.op("lt", p, b.const(300))), [np.array([0, 5, 200, 255],
                                                                           np.uint8)])
    check(build([T("uint64", 2), T(I64, 2)], lambda b, p, q: b.op("lt", p, q)),
          [np.array([1, 2**63], np.uint64), np.array([-1, 5])])


# ------------------------------------------------------------------ reductions
@pytest.mark.parametrize("op", ["sum", "prod", "mean", "max", "min", "any", "all", "var",
                                "std"])
def test_reductions(op: str, rng: np.random.Generator) -> None:
    for dt in (F32, F64, I32, B):
        t = T(dt, 3, 4, 5)
        for axis in (None, 0, 1, 2, (0, 2), (1, 2)):
            for keepdims in (False, True):
                g = try_build([t], lambda b, x, axis=axis, keepdims=keepdims:
                              b.op(op, x, axis=axis, keepdims=keepdims))
                if g is None:
                    continue
                x = sample(t, rng)
                if op == "prod" and dt.kind == "f":
                    x = (x / 3 + 1).astype(dt)
                check(g, [x])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argextrema(op: str, rng: np.random.Generator) -> None:
    for dt in (F32, I64, B):
        t = T(dt, 4, 6)
        for axis in (None, 0, 1):
            for keepdims in (False, True):
                g = build([t], lambda b, x, axis=axis, keepdims=keepdims:
                          b.op(op, x, axis=axis, keepdims=keepdims))
                check(g, [sample(t, rng)])
    x = np.array([1.0, np.nan, 5.0, np.nan])
    check(build([T(F64, 4)], lambda b, p: b.op(op, p)), [x])


def test_reductions_empty_and_nan() -> None:
    t = T(F64, 0, 3)
    for op in ("sum", "prod", "mean", "any", "all"):
        check(build([t], lambda b, x, op=op: b.op(op, x, axis=0)), [np.zeros((0, 3))])
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    for op in ("max", "min", "sum"):
        check(build([T(F64, 2, 3)], lambda b, p, op=op: b.op(op, p, axis=1)), [x])


@pytest.mark.parametrize("dt", [F32, F64])
def test_long_row_max_min_propagate_nan(dt: np.dtype, rng: np.random.Generator) -> None:
    """Rows long enough for the vector loop (max/min accumulate with maxnum/minnum and a
    NaN flag): a NaN anywhere (first lane, middle, vector tail, scalar tail) wins; infs
    and all-(-inf) rows keep their values."""
    n = 1003
    x = rng.standard_normal((9, n)).astype(dt)
    x[0, 0] = x[1, 517] = x[2, n - 1] = x[3, n - 20] = np.nan
    x[4, 7] = np.inf
    x[5, :] = -np.inf
    x[6, 300] = -np.inf
    x[7, ::2] = np.nan
    for op in ("max", "min"):
        for axis, keep in ((1, True), (1, False), (None, False), (0, False)):
            g = build([T(dt, 9, n)], lambda b, p, op=op, axis=axis, keep=keep:
                      b.op(op, p, axis=axis, keepdims=keep))
            check(g, [x])
        check(build([T(dt, 9, n)], lambda b, p, op=op: b.op(op, p, axis=1)), [x[::-1].copy()])


def test_sum_large_float32_is_accurate(rng: np.random.Generator) -> None:
    x = rng.random(1 << 20).astype(np.float32)
    g = build([T(F32, 1 << 20)], lambda b, p: b.op("sum", p))
    got = CPU.compile(g)([x])[0]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, x.astype(np.float64).sum(), rtol=1e-6)


# ------------------------------------------------------------------ matmul
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)),
                                   ((4,), (4,)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
                                   ((1, 4), (4, 1)), ((3, 0), (0, 2)), ((0, 3), (3, 2))])
def test_matmul_shapes(sa: tuple, sb: tuple, rng: np.random.Generator) -> None:
    for da, db in ((F32, F32), (F64, F64), (F32, F64), (I64, I64), (I32, F32), (B, B)):
        ta, tb = T(da, *sa), T(db, *sb)
        g = build([ta, tb], lambda b, x, y: b.op("matmul", x, y))
        check(g, [sample(ta, rng), sample(tb, rng)])


def test_matmul_transposed_operands_use_blas_flags(rng: np.random.Generator) -> None:
    ta, tb = T(F64, 6, 5), T(F64, 7, 6)
    g = build([ta, tb], lambda b, x, y: b.op("matmul", b.op("transpose", x),
                                               b.op("transpose", y)))
    check(g, [sample(ta, rng), sample(tb, rng)])
    text = CPU.dump(g, "llvm-unopt")
    assert text.count("call void @\"jg_dgemm\"") == 1
    assert "loop" not in text.split("jg_dgemm")[0].split("ok.")[-1]   # no transpose copy


# ------------------------------------------------------------------ shape ops
def test_shape_ops(rng: np.random.Generator) -> None:
    t = T(F32, 2, 3, 4)
    x = sample(t, rng)
    cases: list[Callable[..., Any]] = [
        lambda b, p: b.op("transpose", p),
        lambda b, p: b.op("transpose", p, axes=(1, 0, 2)),
        lambda b, p: b.op("reshape", p, shape=(4, 6)),
        lambda b, p: b.op("reshape", b.op("transpose", p), shape=(24,)),
        lambda b, p: b.op("expand_dims", p, axis=(0, 3)),
        lambda b, p: b.op("squeeze", b.op("expand_dims", p, axis=1)),
        lambda b, p: b.op("broadcast_to", b.op("sum", p, axis=0), shape=(5, 3, 4)),
        lambda b, p: b.op("sum_to_shape", p, shape=(3, 1)),
        lambda b, p: b.op("sum_to_shape", p, shape=(1, 4)),
        lambda b, p: b.op("sum_to_shape", p, shape=()),
        lambda b, p: b.op("copy", b.op("transpose", p)),
        lambda b, p: b.op("concatenate", p, b.op("mul", p, p), axis=1),
        lambda b, p: b.op("concatenate", p, p, axis=None),
        lambda b, p: b.op("stack", p, b.op("neg", p), axis=2),
        lambda b, p: b.op("add", b.op("transpose", p), b.const(1.0)),
    ]
    for k, case in enumerate(cases):
        check(build([t], case, f"shape{k}"), [x])


def test_getitem_static(rng: np.random.Generator) -> None:
    t = T(F64, 5, 6)
    x = sample(t, rng)
    for index in [(("int", 2),), (("int", -1), ("slice", None, None, 2)),
                  (("slice", 1, 4, None), ("slice", None, None, -1)),
                  (("none",), ("ellipsis",), ("int", 0)),
                  (("slice", 4, 1, -2), ("none",), ("int", 3)),
                  (("slice", 3, 3, None),), (("int", 1), ("int", 2))]:
        check(build([t], lambda b, p, index=index: b.op("getitem", p, index=index)), [x])


def test_getitem_dynamic_bounds_checked(rng: np.random.Generator) -> None:
    t = T(F64, 5, 6)
    x = sample(t, rng)
    g = build([t, WEAK_I, T(I32)], lambda b, p, i, j: b.op(
        "getitem", p, i, j, index=(("value",), ("value",))))
    f = CPU.compile(g)
    for i, j in ((0, 0), (4, 5), (-1, -6), (-5, 2)):
        assert_same(f([x, i, np.array(j, np.int32)])[0], np.asarray(x[i, j]))
    for i, j in ((5, 0), (-6, 0), (0, 6), (0, -7), (2**40, 0)):
        with pytest.raises(IndexError, match="out of bounds"):
            f([x, i, np.array(j, np.int32)])
    # an integer array index gathers, bounds-checked per element
    g2 = build([t, T(I64, 2, 3)], lambda b, p, ix: b.op(
        "getitem", p, ix, index=(("slice", None, None, None), ("value",))))
    idx = np.array([[0, -1, 2], [5, 5, 1]])
    check(g2, [x, idx])
    with pytest.raises(IndexError):
        CPU.compile(g2)([x, np.array([[0, 1, 2], [6, 0, 0]])])


# ------------------------------------------------------------------ creation
def test_creation(rng: np.random.Generator) -> None:
    t = T(F32, 3, 4)
    x = sample(t, rng)
    cases: list[Callable[..., Any]] = [
        lambda b, p: b.op("add", p, b.op("zeros", shape=(3, 4), dtype=np.float32)),
        lambda b, p: b.op("ones", shape=(2, 2), dtype=np.int32),
        lambda b, p: b.op("full", b.op("sum", p), shape=(2, 3)),
        lambda b, p: b.op("full_like", p, b.const(7)),
        lambda b, p: b.op("zeros_like", p),
        lambda b, p: b.op("mul", p, b.op("arange", start=4, dtype=np.float32)),
        lambda b, p: b.op("eye", N=3, M=4, k=1),
        lambda b, p: b.op("linspace", start=0.0, stop=1.0, num=7),
    ]
    for k, case in enumerate(cases):
        check(build([t], case, f"create{k}"), [x])


# ------------------------------------------------------------------ layouts, edge shapes
def test_noncontiguous_and_negative_strides(rng: np.random.Generator) -> None:
    t = T(F64, 4, 3)
    g = build([t, t], lambda b, p, q: [b.op("add", p, q), b.op("sum", p, axis=0)])
    base = rng.standard_normal((8, 6))
    x = base[::2, ::-2]               # strided and reversed
    y = np.asfortranarray(base[:4, :3])
    got = check(g, [x, y])
    assert got[0].flags.c_contiguous
    # a wrong shape never reaches native code
    with pytest.raises(ValueError, match="shape"):
        CPU.compile(g)([np.zeros((3, 4)), np.zeros((4, 3))])


def test_empty_and_size_one(rng: np.random.Generator) -> None:
    for shape in ((0,), (0, 3), (1,), (1, 1), ()):
        t = T(F32, *shape)
        g = build([t], lambda b, p: [b.op("exp", p), b.op("mul", p, b.const(2.0)),
                                     b.op("sum", p)])
        check(g, [sample(t, rng)])


def test_weak_scalars_in_and_out() -> None:
    g = build([WEAK_F, WEAK_I], lambda b, x, n: [b.op("mul", x, n), b.op("add", n, n),
                                                  b.op("lt", x, n)])
    out = check(g, [2.5, 4])
    assert out == [10.0, 8, True]


def test_zero_d_results_are_arrays() -> None:
    g = build([T(F32, 3)], lambda b, p: b.op("sum", p))
    out = CPU.compile(g)([np.ones(3, np.float32)])[0]
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float32


def test_result_is_param_or_view_is_a_fresh_array() -> None:
    g = build([T(F64, 2, 3)], lambda b, p: [p, b.op("transpose", p), p])
    x = np.arange(6.0).reshape(2, 3)
    out = check(g, [x])
    assert out[0] is not x and not np.shares_memory(out[0], x)
    assert not np.shares_memory(out[0], out[2])


# ------------------------------------------------------------------ control flow
def _if(b: Builder, cond: Value, then: Callable[[Builder], list[Value]],
        other: Callable[[Builder], list[Value]], types: list[TensorType]) -> list[Value]:
    blocks = []
    for f in (then, other):
        bb = Builder(Block())
        bb.block.results.extend(f(bb))
        blocks.append(bb.block)
    return b.node("if", [cond], {}, types, blocks).outputs


def test_if_scalars_and_arrays(rng: np.random.Generator) -> None:
    tx = T(F32, 3, 2)

    def body(b: Builder, x: Value, w1: Value, w2: Value, loss: Value) -> list[Value]:
        c = b.op("lt", loss, b.const(5.0))
        w, s = _if(b, c, lambda bb: [w1, bb.op("sum", x)],
                   lambda bb: [bb.op("mul", w2, bb.const(2.0)), bb.const(np.float32(0.5),
                                                                          T(F32))],
                   [tx, T(F32)])
        return [b.op("add", w, s), w]

    g = build([tx, tx, tx, TensorType(F64, (), True)], body)
    args = [sample(tx, rng) for _ in range(3)]
    for loss in (1.0, 9.0):
        check(g, args + [loss])


def test_if_branches_with_different_layouts(rng: np.random.Generator) -> None:
    t = T(F64, 3, 3)
    g = build([t, T(B)], lambda b, x, c: _if(b, c, lambda bb: [bb.op("transpose", x)],
                                             lambda bb: [x], [t]))
    x = sample(t, rng)
    for c in (True, False):
        check(g, [x, np.array(c)])


def _loop(b: Builder, trip: Value, cond0: Value, init: list[Value],
          body: Callable[[Builder, Value, list[Value]], list[Value]]) -> list[Value]:
    bb = Builder(Block())
    k = Value(TensorType(I64, ()), "k")
    carried = [Value(v.type, "c") for v in init]
    bb.block.params.extend([k] + carried)
    bb.block.results.extend(body(bb, k, carried))
    return b.node("loop", [trip, cond0] + init, {}, [v.type for v in init], [bb.block]).outputs


def test_for_loop_with_array_carry(rng: np.random.Generator) -> None:
    t = T(F64, 4)

    def body(b: Builder, x: Value) -> list[Value]:
        def step(bb: Builder, k: Value, c: list[Value]) -> list[Value]:
            acc, s = c
            nxt = bb.op("add", bb.op("mul", acc, bb.const(0.5)), bb.op("cast", k,
                                                                        dtype=np.float64))
            return [bb.const(True), nxt, bb.op("add", s, bb.op("sum", acc))]
        return _loop(b, b.const(5), b.const(True), [x, b.const(np.float64(0.0), T(F64))], step)

    check(build([t], body), [sample(t, rng)])


def test_while_loop_newton() -> None:
    """x = x - 0.1*(x**3 - 2) until max|x**3 - 2| <= 1e-6, at most 100 iterations."""
    t = T(F64, 3)

    def body(b: Builder, x0: Value) -> list[Value]:
        def step(bb: Builder, k: Value, c: list[Value]) -> list[Value]:
            (x,) = c
            r = bb.op("sub", bb.op("pow", x, bb.const(3)), bb.const(2.0))
            x1 = bb.op("sub", x, bb.op("mul", bb.const(0.1), r))
            r1 = bb.op("sub", bb.op("pow", x1, bb.const(3)), bb.const(2.0))
            go = bb.op("gt", bb.op("max", bb.op("abs", r1)), bb.const(1e-6))
            return [go, x1]
        (x,) = _loop(b, b.const(100), b.const(True), [x0], step)
        return [x, b.op("sum", x)]

    check(build([t], body), [np.array([1.0, 1.2, 1.3])])


def test_loop_swapping_carried_arrays(rng: np.random.Generator) -> None:
    t = T(F64, 2, 2)

    def body(b: Builder, x: Value, y: Value) -> list[Value]:
        def step(bb: Builder, k: Value, c: list[Value]) -> list[Value]:
            p, q = c
            return [bb.const(True), bb.op("transpose", q), bb.op("add", p, q)]
        return _loop(b, b.const(3), b.const(True), [x, y], step)

    check(build([t, t], body), [sample(t, rng), sample(t, rng)])


def test_loop_zero_trips_and_runtime_trip_count(rng: np.random.Generator) -> None:
    t = T(F32, 3)

    def body(b: Builder, x: Value, n: Value) -> list[Value]:
        def step(bb: Builder, k: Value, c: list[Value]) -> list[Value]:
            return [bb.const(True), bb.op("add", c[0], bb.const(1.0))]
        return _loop(b, n, b.const(True), [x], step)

    g = build([t, WEAK_I], body)
    for n in (0, 1, 7):
        check(g, [sample(t, rng), n])


# ------------------------------------------------------------------ fused nodes
def _fused(b: Builder, inputs: list[Value], body: Callable[..., list[Value]]) -> list[Value]:
    bb = Builder(Block())
    ps = [Value(v.type, "q") for v in inputs]
    bb.block.params.extend(ps)
    bb.block.results.extend(body(bb, *ps))
    return b.node("fused", inputs, {}, [v.type for v in bb.block.results], [bb.block]).outputs


def test_fused_elementwise_and_reduction(rng: np.random.Generator) -> None:
    tx, tm = T(F32, 4, 6), T(F32, 4, 1)

    def body(b: Builder, x: Value, m: Value) -> list[Value]:
        def fb(bb: Builder, q: Value, r: Value) -> list[Value]:
            e = bb.op("exp", bb.op("sub", q, r))
            return [e, bb.op("sum", e, axis=1, keepdims=True)]
        e, s = _fused(b, [x, m], fb)
        return [e, s, b.op("div", e, s)]

    check(build([tx, tm], body), [sample(tx, rng), sample(tm, rng)])


def test_fused_total_reduction_and_passthrough(rng: np.random.Generator) -> None:
    t = T(F64, 5, 3)

    def body(b: Builder, x: Value, y: Value) -> list[Value]:
        def fb(bb: Builder, q: Value, r: Value) -> list[Value]:
            d = bb.op("sub", q, r)
            return [bb.op("sum", bb.op("mul", d, d)), q, bb.op("max", d, axis=(0, 1))]
        return _fused(b, [x, y], fb)

    check(build([t, t], body), [sample(t, rng), sample(t, rng)])
