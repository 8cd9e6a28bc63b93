"""The CUDA backend without a GPU: lowering, golden CUDA C, nvcc compiles, and execution of
the generated kernels on the host emulator (g++ and one fiber per CUDA thread).

SUITE holds small typed graphs, built with ir.graph.Builder, covering every elementwise op
of the CUDA table on float16/float32/float64/int32/int64/bool (where NumPy accepts the
dtype), reductions, matmul, shape ops, creation ops, fused groups, If and Loop, scans
(cumsum/cumprod), sort/argsort, integer-array indexing (gathers) and its adjoint (atomic
scatter_add), setitem (views, scatters, last-write-wins claims, writes in place). Every suite graph
and every corpus function (forward and gradient) must lower without problems and compile
with nvcc for sm_80 and sm_90; the suite and part of the corpus also run on the emulator
and must match the interpreter (NumPy) in dtype, shape and value.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jitgraph.backends import cuda_lower as cl
from jitgraph.backends.cuda_jit import CudaBackend, CudaFunction, DevBuf, HostEmulator
from jitgraph.backends.cuda_ops import ELEMENTWISE
from jitgraph.backends.interp import InterpBackend
from jitgraph.ir.graph import Block, Builder, Graph, Node, Value
from jitgraph.ops import OPS
from jitgraph.types import TensorType

GOLDEN = Path(__file__).parent / "golden_cuda"   # not golden/: test_golden.py owns that one
DTYPES = ("float16", "float32", "float64", "int32", "int64", "bool")


# ---------------------------------------------------------------------------------------
# the suite

@dataclass
class Case:
    name: str
    graph: Graph
    args: list[Any] = field(default_factory=list)


def T(dt: str, *shape: int) -> TensorType:
    return TensorType(np.dtype(dt), tuple(shape))


def WEAK(kind: str) -> TensorType:
    return TensorType(np.dtype({"f": "float64", "i": "int64", "b": "bool"}[kind]), (), True)


def build(name: str, types: list[TensorType], body: Callable[..., Any]) -> Graph:
    params = [Value(t, f"x{i}") for i, t in enumerate(types)]
    b = Builder(Block(params))
    res = body(b, *params)
    b.block.results = list(res) if isinstance(res, (list, tuple)) else [res]
    return Graph(name, b.block)


def sample(t: TensorType, rng: np.random.Generator, positive: bool = False) -> Any:
    dt = t.dtype
    assert dt is not None and t.shape is not None
    if t.weak:
        return {"f": 1.75, "i": 3, "b": True}[dt.kind]
    if dt.kind == "f":
        a = rng.standard_normal(t.shape) * 2
        a = np.abs(a) + 0.1 if positive else a
    elif dt.kind in "iu":
        a = rng.integers(1 if positive else -5, 6, t.shape)
    else:
        a = rng.random(t.shape) < 0.5
    return np.asarray(a, dtype=dt)


def _try(name: str, types: list[TensorType], body: Callable[..., Any]) -> Graph | None:
    """The graph, or None when NumPy's rules reject these types (or the result is a dtype
    the backend does not take, like float16 from sqrt(bool))."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = build(name, types, body)
    except (TypeError, ValueError):
        return None
    if any(v.type.dtype not in cl.SUPPORTED_DTYPES for n in g.walk() for v in n.outputs):
        return None
    return g


def _elementwise_cases() -> list[Case]:
    cases = []
    rng = np.random.default_rng(0)
    for op in sorted(ELEMENTWISE):
        nin = OPS[op].nin
        for dt in DTYPES:
            if op == "cast":
                for to in DTYPES:
                    g = _try(f"ew_cast_{dt}_{to}", [T(dt, 3, 4)],
                             lambda b, x, to=to: b.op("cast", x, dtype=np.dtype(to)))
                    if g is not None:
                        cases.append(Case(g.name, g))
                continue
            if op == "where":
                types = [T("bool", 3, 4), T(dt, 4), T(dt, 3, 1)]
            else:
                types = [T(dt, 3, 4), T(dt, 4), T(dt, 3, 1)][:nin]
            g = _try(f"ew_{op}_{dt}", types, lambda b, *xs, op=op: b.op(op, *xs))
            if g is not None:
                cases.append(Case(g.name, g))
    # weak Python scalars meet arrays: NumPy 2 keeps the array's dtype
    for op, kind in (("mul", "f"), ("add", "i"), ("lt", "f"), ("pow", "i"), ("maximum", "f"),
                     ("floordiv", "i"), ("mod", "f"), ("sub", "f")):
        for dt in ("float32", "int32"):
            g = _try(f"ew_{op}_{dt}_weak{kind}", [T(dt, 5), WEAK(kind)],
                     lambda b, x, s, op=op: b.op(op, x, s))
            if g is not None:
                cases.append(Case(g.name, g))
    for c in cases:
        # NumPy raises for negative integer exponents: keep them positive
        c.args = [sample(p.type, rng, positive="pow" in c.name and i == 1)
                  for i, p in enumerate(c.graph.params)]
    return cases


def _reduce_cases() -> list[Case]:
    out = []
    for op in ("sum", "prod", "mean", "max", "min", "any", "all", "var", "std"):
        for dt in ("float32", "int32", "bool", "float16"):
            if op in ("var", "std", "mean", "prod") and dt == "bool":
                continue
            for axis in (None, 0, 1, (0, 2), -1):
                for keep in (False, True):
                    g = _try(f"red_{op}_{dt}_{_axname(axis)}_{int(keep)}", [T(dt, 2, 3, 40)],
                             lambda b, x, op=op, axis=axis, keep=keep:
                             b.op(op, x, axis=axis, keepdims=keep))
                    if g is not None:
                        out.append(Case(g.name, g))
    for op in ("argmax", "argmin"):
        for dt in ("float32", "int32"):
            for axis in (None, 0, 2):
                for keep in (False, True):
                    g = _try(f"red_{op}_{dt}_{_axname(axis)}_{int(keep)}", [T(dt, 3, 5, 40)],
                             lambda b, x, op=op, axis=axis, keep=keep:
                             b.op(op, x, axis=axis, keepdims=keep))
                    if g is not None:
                        out.append(Case(g.name, g))
    # long rows: the two-launch split reduction; strided columns: thread per output
    out.append(Case("red_split", build("red_split", [T("float32", 2, 70000)],
                                       lambda b, x: b.op("sum", x, axis=1))))
    out.append(Case("red_split_mean", build("red_split_mean", [T("float64", 70000)],
                                            lambda b, x: b.op("mean", x))))
    out.append(Case("row_split_loss", build(
        "row_split_loss", [T("float32", 70000), T("float32", 70000)],
        lambda b, x, y: b.op("mean", b.op("square", b.op("sub", x, y))))))
    out.append(Case("row_columns", build(          # reduced axis strided: thread per column
        "row_columns", [T("float32", 300, 1100), T("float32", 1100)],
        lambda b, x, w: b.op("div", b.op("sum", b.op("mul", x, w), axis=0, keepdims=True),
                             b.op("max", b.op("exp", x), axis=0, keepdims=True)))))
    out.append(Case("row_outer_chain", build(      # per-row values computed between loops
        "row_outer_chain", [T("float64", 5, 300), T("float64", 5, 1)],
        lambda b, x, c: b.op("mul", b.op("sub", x, b.op("mean", x, axis=1, keepdims=True)),
                             b.op("reciprocal", b.op("sqrt", b.op("add", b.op(
                                 "var", x, axis=1, keepdims=True), c)))))))
    out.append(Case("red_columns", build("red_columns", [T("float32", 40, 1100)],
                                         lambda b, x: b.op("max", x, axis=0))))
    out.append(Case("red_ddof", build("red_ddof", [T("float64", 4, 6)],
                                      lambda b, x: b.op("var", x, axis=1, ddof=1))))
    out.append(Case("red_sum_dtype", build("red_sum_dtype", [T("int32", 4, 6)],
                                           lambda b, x: b.op("sum", x, dtype=np.float32))))
    out.append(Case("red_transposed", build(
        "red_transposed", [T("float32", 30, 50)],
        lambda b, x: b.op("sum", b.op("transpose", x), axis=1))))
    nan = build("red_nan", [T("float32", 4, 6)],
                lambda b, x: [b.op("max", x, axis=1), b.op("argmin", x, axis=1)])
    a = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    a[1, 3] = np.nan
    a[2, 0] = np.nan
    out.append(Case("red_nan", nan, [a]))
    return out


def _axname(axis: Any) -> str:
    if axis is None:
        return "all"
    if isinstance(axis, tuple):
        return "".join(str(a) for a in axis)
    return str(axis).replace("-", "m")


def _matmul_cases() -> list[Case]:
    specs = [
        ("mm_2d", "float32", (5, 7), "float32", (7, 3)),
        ("mm_vec_mat", "float32", (7,), "float32", (7, 3)),
        ("mm_mat_vec", "float64", (5, 7), "float64", (7,)),
        ("mm_vec_vec", "float32", (7,), "float32", (7,)),
        ("mm_batched", "float32", (2, 5, 7), "float32", (7, 3)),
        ("mm_broadcast", "float64", (2, 1, 5, 7), "float64", (3, 7, 4)),
        ("mm_int", "int32", (5, 7), "int32", (7, 3)),
        ("mm_int64", "int64", (9, 4), "int64", (4, 5)),
        ("mm_bool", "bool", (5, 7), "bool", (7, 3)),
        ("mm_mixed", "float32", (5, 7), "float64", (7, 3)),
        ("mm_edges", "float32", (70, 45), "float32", (45, 90)),
        ("mm_tile4", "float32", (256, 40), "float32", (40, 260)),
        ("mm_tile8", "float32", (1030, 20), "float32", (20, 1030)),
        ("mm_f64_tile4", "float64", (300, 17), "float64", (17, 250)),
        ("mm_half", "float16", (5, 7), "float16", (7, 3)),            # float accumulators
        ("mm_half_mixed", "float16", (9, 4), "float32", (4, 5)),
        ("mm_half_edges", "float16", (70, 45), "float16", (45, 90)),
    ]
    out = []
    for name, da, sa, db, sb in specs:
        g = build(name, [T(da, *sa), T(db, *sb)], lambda b, x, y: b.op("matmul", x, y))
        out.append(Case(name, g))
    out.append(Case("mm_transposed", build(
        "mm_transposed", [T("float32", 7, 5), T("float32", 3, 7)],
        lambda b, x, y: b.op("matmul", b.op("transpose", x), b.op("transpose", y)))))
    out.append(Case("mm_sliced", build(
        "mm_sliced", [T("float32", 10, 7), T("float32", 7, 6)],
        lambda b, x, y: b.op("matmul", b.op("getitem", x, index=(("slice", None, None, 2),)),
                             b.op("getitem", y, index=(("slice", None, None, None),
                                                       ("slice", None, None, -1)))))))
    return out


def _shape_cases() -> list[Case]:
    S = ("slice",)
    cases = [
        ("sh_transpose", [T("float32", 2, 3, 4)],
         lambda b, x: b.op("exp", b.op("transpose", x, axes=(2, 0, 1)))),
        ("sh_reshape_copy", [T("float32", 3, 4)],
         lambda b, x: b.op("reshape", b.op("transpose", x), shape=(12,))),
        ("sh_reshape_view", [T("int32", 3, 4)],
         lambda b, x: b.op("add", b.op("reshape", x, shape=(2, 6)), b.const(1))),
        ("sh_expand_squeeze", [T("float64", 3, 1, 4)],
         lambda b, x: b.op("expand_dims", b.op("squeeze", x, axis=1), axis=0)),
        ("sh_broadcast_to", [T("float32", 3, 1)],
         lambda b, x: b.op("mul", b.op("broadcast_to", x, shape=(2, 3, 4)), b.const(2.0))),
        ("sh_getitem_static", [T("float32", 5, 6)],
         lambda b, x: b.op("getitem", x, index=(S + (1, None, 2), ("none",),
                                                S + (None, None, -1)))),
        ("sh_getitem_int", [T("float64", 5, 6)],
         lambda b, x: b.op("getitem", x, index=(("int", -2), ("ellipsis",)))),
        ("sh_getitem_scalar", [T("int64", 5, 6)],
         lambda b, x: b.op("getitem", x, index=(("int", 1), ("int", 2)))),
        ("sh_getitem_dynamic", [T("float32", 5, 6), WEAK("i")],
         lambda b, x, i: b.op("getitem", x, i, index=(S + (None, None, None), ("value",)))),
        ("sh_concat", [T("float32", 2, 3), T("float64", 4, 3)],
         lambda b, x, y: b.op("concatenate", x, y, axis=0)),
        ("sh_concat_axis1", [T("int32", 2, 3), T("int32", 2, 1)],
         lambda b, x, y: b.op("concatenate", x, y, axis=1)),
        ("sh_concat_flat", [T("float32", 2, 3), T("float32", 4)],
         lambda b, x, y: b.op("concatenate", x, y, axis=None)),
        ("sh_stack", [T("float32", 2, 3), T("float32", 2, 3), T("float32", 2, 3)],
         lambda b, x, y, z: b.op("stack", x, y, z, axis=1)),
        ("sh_stack_scalars", [T("float64"), T("float64")],
         lambda b, x, y: b.op("stack", x, y)),
        ("sh_sum_to_shape", [T("float32", 2, 3, 4)],
         lambda b, x: b.op("sum_to_shape", x, shape=(3, 1))),
        ("sh_copy", [T("float32", 3, 4)], lambda b, x: b.op("copy", x)),
        ("sh_identity", [T("float32", 3, 4)], lambda b, x: x),
        ("sh_scatter_add", [T("float32", 3), WEAK("i")],
         lambda b, g, i: b.op("scatter_add", g, i, index=(("slice", None, None, None),
                                                            ("value",)), shape=(3, 4))),
    ]
    out = []
    for name, types, body in cases:
        out.append(Case(name, build(name, types, body)))
    return out


def _creation_cases() -> list[Case]:
    cases = [
        ("cr_zeros", [], lambda b: b.op("zeros", shape=(3, 4), dtype=np.float32)),
        ("cr_ones", [], lambda b: b.op("ones", shape=(5,), dtype=np.int64)),
        ("cr_full", [WEAK("f")], lambda b, v: b.op("full", v, shape=(2, 3), dtype=np.float32)),
        ("cr_full_like", [T("int32", 2, 2), T("float64")],
         lambda b, a, v: b.op("full_like", a, v)),
        ("cr_zeros_like", [T("float32", 4)], lambda b, a: b.op("zeros_like", a)),
        ("cr_arange", [], lambda b: b.op("arange", start=0.5, stop=7.0, step=0.75,
                                          dtype=np.float32)),
        ("cr_eye", [], lambda b: b.op("eye", N=3, M=4, k=1)),
        ("cr_linspace", [], lambda b: b.op("linspace", start=-1.0, stop=1.0, num=7)),
        ("cr_const_array", [T("float32", 3)],
         lambda b, x: b.op("add", x, b.const(np.array([1.0, 2.0, 3.0], np.float32)))),
    ]
    return [Case(name, build(name, types, body)) for name, types, body in cases]


def _fused(b: Builder, inputs: list[Value], chain: Callable[[Builder, list[Value]], list[Value]]
           ) -> list[Value]:
    """A `fused` node the way passes/fuse.py makes one: one block param per input."""
    params = [Value(v.type, "p") for v in inputs]
    inner = Builder(Block(params))
    results = chain(inner, params)
    inner.block.results = results
    n = b.node("fused", inputs, {}, [r.type for r in results], blocks=[inner.block])
    return n.outputs


def _gelu(b: Builder, xs: list[Value]) -> list[Value]:
    (x,) = xs
    x3 = b.op("mul", b.op("mul", x, x), x)
    inner = b.op("mul", b.op("add", x, b.op("mul", x3, b.const(0.044715))), b.const(0.7978845608))
    return [b.op("mul", b.op("mul", x, b.const(0.5)), b.op("add", b.op("tanh", inner),
                                                           b.const(1.0)))]


def _control_cases() -> list[Case]:
    out = []
    # If on a host scalar (no device sync) and on a device-computed condition
    def if_host(b: Builder, x: Value, s: Value) -> Value:
        c = b.op("lt", s, b.const(5.0))
        return _if(b, c, lambda t: [t.op("exp", x)], lambda e: [e.op("neg", x)])[0]
    out.append(Case("ctl_if_host", build("ctl_if_host", [T("float32", 4), WEAK("f")], if_host)))

    def if_dev(b: Builder, x: Value) -> Value:
        c = b.op("gt", b.op("sum", x), b.const(0.0))
        return _if(b, c, lambda t: [t.op("mul", x, t.const(2.0))],
                   lambda e: [e.op("broadcast_to", e.const(np.float32(7.0), T("float32")),
                                   shape=(4,))])[0]
    out.append(Case("ctl_if_device", build("ctl_if_device", [T("float32", 4)], if_dev)))

    # Loop: k-th power by repeated multiplication, with a counter and an early exit
    def loop(b: Builder, x: Value, n: Value) -> list[Value]:
        body_k = Value(WEAK("i"), "k")
        acc = Value(T("float64", 3), "acc")
        cnt = Value(WEAK("i"), "cnt")
        ib = Builder(Block([body_k, acc, cnt]))
        acc2 = ib.op("mul", acc, x)
        cnt2 = ib.op("add", cnt, ib.const(1))
        cond = ib.op("lt", ib.op("max", acc2), ib.const(1e6))
        ib.block.results = [cond, acc2, cnt2]
        node = b.node("loop", [n, b.const(True), b.op("ones", shape=(3,), dtype=np.float64),
                               b.const(0)], {}, [acc.type, cnt.type], blocks=[ib.block])
        return node.outputs
    c = Case("ctl_loop", build("ctl_loop", [T("float64", 3), WEAK("i")], loop))
    c.args = [np.array([1.5, -2.0, 3.0]), 6]
    out.append(c)

    def loop_index(b: Builder, x: Value) -> Value:
        k = Value(WEAK("i"), "k")
        s = Value(T("float32", 4), "s")
        ib = Builder(Block([k, s]))
        row = ib.op("getitem", x, k, index=(("value",),))
        ib.block.results = [ib.const(True), ib.op("add", s, row)]
        node = b.node("loop", [b.const(3), b.const(True), b.op("zeros", shape=(4,),
                                                              dtype=np.float32)],
                      {}, [s.type], blocks=[ib.block])
        return node.out
    out.append(Case("ctl_loop_index", build("ctl_loop_index", [T("float32", 3, 4)], loop_index)))

    out.append(Case("fu_gelu", build("fu_gelu", [T("float32", 1000)],
                                     lambda b, x: _fused(b, [x], _gelu))))

    def multi(b: Builder, xs: list[Value]) -> list[Value]:
        a, r = xs
        e = b.op("exp", a)                       # (3,1)
        return [e, b.op("sub", b.op("mul", e, r), b.const(1.0))]   # (3,1), (3,5)
    out.append(Case("fu_multi_shape", build(
        "fu_multi_shape", [T("float32", 3, 1), T("float32", 5)],
        lambda b, a, r: _fused(b, [a, r], multi))))

    def mixed(b: Builder, xs: list[Value]) -> list[Value]:
        (x,) = xs
        return [b.op("sum", b.op("exp", x), axis=1)]
    out.append(Case("fu_not_elementwise", build("fu_not_elementwise", [T("float64", 3, 4)],
                                                lambda b, x: _fused(b, [x], mixed))))
    out.append(Case("fu_scalars_host", build(
        "fu_scalars_host", [WEAK("f"), T("float64")],
        lambda b, s, t: _fused(b, [s, t], lambda ib, ps: [ib.op("mul", ps[0], ps[1])]))))
    return out


def _if(b: Builder, cond: Value, then: Callable[[Builder], list[Value]],
        other: Callable[[Builder], list[Value]]) -> list[Value]:
    tb, eb = Builder(Block()), Builder(Block())
    tb.block.results = then(tb)
    eb.block.results = other(eb)
    types = [r.type for r in tb.block.results]
    return b.node("if", [cond], {}, types, blocks=[tb.block, eb.block]).outputs


def _softmax_mlp_cases() -> list[Case]:
    def softmax(b: Builder, x: Value) -> Value:
        m = b.op("max", x, axis=1, keepdims=True)
        e = b.op("exp", b.op("sub", x, m))
        return b.op("div", e, b.op("sum", e, axis=1, keepdims=True))

    def mlp(b: Builder, x: Value, y: Value, w1: Value, w2a: Value, w2b: Value,
            prev: Value) -> Value:
        c = b.op("lt", prev, b.const(5.0))
        w2 = _if(b, c, lambda t: [w2a], lambda e: [w2b])[0]
        h = b.op("maximum", b.op("matmul", x, w1), b.const(0.0))
        d = b.op("sub", b.op("matmul", h, w2), y)
        return b.op("sum", b.op("pow", d, b.const(2)))
    return [
        Case("softmax", build("softmax", [T("float32", 6, 33)], softmax)),
        Case("model", build("model", [T("float32", 64, 10), T("float32", 64, 1),
                                      T("float32", 10, 32), T("float32", 32, 1),
                                      T("float32", 32, 1), WEAK("f")], mlp)),
    ]


def _scan_cases() -> list[Case]:
    """cumsum / cumprod on every axis and the flattened array, NumPy's dtype rules (small
    integers and bool accumulate in int64), the thread-per-line and block-per-line kernels."""
    out = []
    for op in ("cumsum", "cumprod"):
        for dt in ("float32", "float64", "int32", "int8", "bool", "float16"):
            for axis in (0, 1, 2, None):
                name = f"scan_{op}_{dt}_{_axname(axis)}"
                g = _try(name, [T(dt, 3, 4, 5)],
                         lambda b, x, op=op, axis=axis: b.op(op, x, axis=axis))
                if g is not None:
                    out.append(Case(name, g))
    rng = np.random.default_rng(3)
    near_one = lambda *shape: (1.0 + 0.01 * rng.standard_normal(shape))
    specs = [
        # block per line: long unit-stride rows; few long strided columns; the flat array
        ("scan_rows_long", [T("float64", 3, 1000)], lambda b, x: b.op("cumsum", x, axis=1),
         None),
        ("scan_cols_long", [T("float64", 300, 4)], lambda b, x: b.op("cumsum", x, axis=0),
         None),
        ("scan_flat_long", [T("int32", 2, 500)], lambda b, x: b.op("cumsum", x), None),
        ("scan_prod_long", [T("float32", 2, 700)], lambda b, x: b.op("cumprod", x, axis=1),
         [near_one(2, 700).astype(np.float32)]),
        ("scan_bool_long", [T("bool", 600)],
         lambda b, x: [b.op("cumsum", x), b.op("cumprod", x, dtype=np.bool_)], None),
        ("scan_half_long", [T("float16", 2, 300)],           # NumPy's rounding at every step
         lambda b, x: b.op("cumsum", x, axis=1), None),
        # strided and reversed views (the cumsum VJP scans a flipped view)
        ("scan_reversed", [T("float32", 4, 6)],
         lambda b, x: b.op("cumsum", b.op("getitem", x, index=(("slice", None, None, -1),)),
                           axis=0), None),
        ("scan_transposed", [T("float32", 150, 3)],
         lambda b, x: b.op("cumsum", b.op("transpose", x), axis=1), None),
        ("scan_dtype", [T("int8", 3, 5)],
         lambda b, x: [b.op("cumsum", x, axis=1, dtype=np.float32),
                       b.op("cumprod", x, axis=0, dtype=np.int8)], None),
        ("scan_0d", [T("float32")], lambda b, x: b.op("cumsum", x), None),
    ]
    for name, types, body, args in specs:
        out.append(Case(name, build(name, types, body), args or []))
    return out


def _sort_cases() -> list[Case]:
    """sort / argsort (NumPy's kind="stable" order) on every axis and the flattened array:
    a thread per line for many short lines, a block per line for long or few lines; NaN,
    inf and -0.0 among the keys; strided views; empty lines."""
    out = []
    for op in ("sort", "argsort"):
        for dt in ("float32", "float64", "int32", "int8", "bool", "float16"):
            for axis in (0, 2, None):
                name = f"sort_{op}_{dt}_{_axname(axis)}"
                out.append(Case(name, build(name, [T(dt, 3, 4, 5)],
                                            lambda b, x, op=op, axis=axis: b.op(op, x, axis=axis))))
    rng = np.random.default_rng(5)
    special = rng.choice(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.0, 1.0]),
                         (3, 1500))
    both = lambda axis: (lambda b, x: [b.op("sort", x, axis=axis), b.op("argsort", x, axis=axis)])
    specs = [
        # block per line: long rows (with special values and ties); few shorter lines
        ("sort_rows_long", [T("float64", 3, 1500)], both(1), [special]),
        ("sort_few_lines", [T("float32", 4, 100)], both(1), None),
        ("sort_flat_long", [T("int32", 2, 700)], both(None),
         [rng.integers(-20, 20, (2, 700)).astype(np.int32)]),
        ("sort_half_long", [T("float16", 2, 300)], both(-1), None),
        # a thread per line with ties and specials; strided and transposed inputs
        ("sort_special_cols", [T("float64", 8, 3)], both(0),
         [rng.choice(np.array([np.nan, 0.0, -0.0, 1.0, -np.inf]), (8, 3))]),
        ("sort_reversed", [T("float32", 4, 6)],
         lambda b, x: b.op("sort", b.op("getitem", x, index=(("slice", None, None, -1),)),
                           axis=0), None),
        ("sort_transposed", [T("int64", 5, 70)],
         lambda b, x: b.op("argsort", b.op("transpose", x), axis=1),
         [rng.integers(0, 4, (5, 70))]),
        ("sort_empty", [T("float32", 0, 3)], both(0), None),
        ("sort_argsort_0d", [T("float32")], lambda b, x: b.op("argsort", x), None),
    ]
    for name, types, body, args in specs:
        out.append(Case(name, build(name, types, body), args or []))
    return out


def _index_cases() -> list[Case]:
    """Integer-array indexing (NumPy's rules: arrays and integers broadcast together; their
    axes where the first one was when adjacent, else in front; negative indices wrap) and
    scatter_add, its adjoint (repeated indices accumulate through atomics)."""
    V, S, N, E = ("value",), ("slice", None, None, None), ("none",), ("ellipsis",)
    i64 = lambda *a: np.array(a, dtype=np.int64)        
    x345 = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    rng = np.random.default_rng(5)
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    specs = [
        ("gi_rows", [T("float32", 5, 6), T("int64", 4)],
         lambda b, x, i: b.op("getitem", x, i, index=(V,)), [f(5, 6), i64(4, -1, 0, 4)]),
        ("gi_nll", [T("float32", 8, 5), T("int64", 8)],      # logp[np.arange(n), labels]
         lambda b, x, y: b.op("getitem", x, b.op("arange", stop=8), y, index=(V, V)),
         [f(8, 5), i64(0, 4, 2, 2, 1, 3, -1, 0)]),
        ("gi_cols_2d", [T("float64", 4, 7), T("int32", 2, 3)],
         lambda b, x, i: b.op("getitem", x, i, index=(S, V)),
         [rng.standard_normal((4, 7)), np.array([[0, 6, -7], [3, 3, 1]], np.int32)]),
        ("gi_nonadjacent", [T("float32", 3, 4, 5), T("int64", 2), T("int64", 2)],
         lambda b, x, i, j: b.op("getitem", x, i, j, index=(V, S, V)),
         [x345, i64(2, 0), i64(4, -5)]),
        ("gi_none_between", [T("float32", 3, 4, 5), T("int64", 2), T("int64", 2)],
         lambda b, x, i, j: b.op("getitem", x, i, j, index=(V, N, V)),
         [x345, i64(1, -1), i64(3, 0)]),
        ("gi_int_front", [T("float32", 3, 4, 5), T("int64", 3)],
         lambda b, x, j: b.op("getitem", x, j, index=(("int", 1), S, V)), [x345, i64(0, 4, 2)]),
        ("gi_int_adjacent", [T("float32", 3, 4, 5), T("int64", 3)],
         lambda b, x, j: b.op("getitem", x, j, index=(S, ("int", -1), V)),
         [x345, i64(0, 4, 2)]),
        ("gi_scalar_and_array", [T("float32", 3, 4, 5), WEAK("i"), T("int64", 2, 2)],
         lambda b, x, k, j: b.op("getitem", x, k, j, index=(V, V)),
         [x345, -2, np.array([[0, 1], [3, -4]], np.int64)]),
        ("gi_device_scalar", [T("float32", 3, 4, 5), T("float32", 3), T("int64", 2)],
         lambda b, x, v, j: b.op("getitem", x, b.op("argmax", v), j, index=(V, V)),
         [x345, np.array([0.5, 2.0, -1.0], np.float32), i64(3, 1)]),
        ("gi_uint", [T("int32", 6), T("uint8", 4)],
         lambda b, x, i: b.op("getitem", x, i, index=(V,)),
         [np.arange(6, dtype=np.int32) * 3, np.array([5, 0, 2, 2], np.uint8)]),
        ("gi_broadcast", [T("float32", 5, 6), T("int64", 3, 1), T("int32", 4)],
         lambda b, x, i, j: b.op("getitem", x, i, j, index=(V, V)),
         [f(5, 6), np.array([[0], [4], [-2]], np.int64), np.array([5, 0, -6, 2], np.int32)]),
        ("gi_ellipsis", [T("float64", 2, 3, 4), T("int64", 5)],
         lambda b, x, j: b.op("getitem", x, j, index=(E, V)),
         [rng.standard_normal((2, 3, 4)), i64(0, 3, -1, 1, 1)]),
        ("gi_transposed", [T("float32", 4, 6), T("int64", 3)],
         lambda b, x, i: b.op("getitem", b.op("transpose", x), i, index=(V, ("slice", 1, None, 2))),
         [f(4, 6), i64(5, 0, -3)]),
        ("gi_half", [T("float16", 4, 3), T("int64", 5)],
         lambda b, x, i: b.op("getitem", x, i, index=(V,)),
         [f(4, 3).astype(np.float16), i64(3, 0, -4, 1, 1)]),
        ("gi_bool_data", [T("bool", 6), T("int64", 2, 2)],
         lambda b, x, i: b.op("getitem", x, i, index=(V,)),
         [np.array([1, 0, 0, 1, 1, 0], bool), np.array([[0, 1], [-1, 3]], np.int64)]),
        ("gi_empty_result", [T("float32", 3, 0), T("int64", 2)],
         lambda b, x, i: b.op("getitem", x, i, index=(V,)),
         [np.zeros((3, 0), np.float32), i64(2, -3)]),
        ("sa_rows", [T("float32", 4, 6), T("int64", 4)],
         lambda b, g, i: b.op("scatter_add", g, i, index=(V,), shape=(5, 6)),
         [f(4, 6), i64(1, 3, 1, -4)]),
        ("sa_nll", [T("float64", 8), T("int64", 8)],
         lambda b, g, y: b.op("scatter_add", g, b.op("arange", stop=8), y, index=(V, V),
                              shape=(8, 5)),
         [rng.standard_normal(8), i64(0, 4, 2, 2, 1, 3, -1, 0)]),
        ("sa_broadcast_g", [T("float32", 6), T("int64", 4)],
         lambda b, g, i: b.op("scatter_add", g, i, index=(V,), shape=(3, 6)),
         [f(6), i64(0, 2, 0, 0)]),
        ("sa_scalar_g", [WEAK("f"), T("int64", 2, 3)],
         lambda b, g, i: b.op("scatter_add", g, i, index=(S, V), shape=(2, 4)),
         [1.5, np.array([[0, 1, 1], [3, 3, -1]], np.int64)]),
        ("sa_nonadjacent", [T("float32", 2, 4), T("int64", 2), T("int64", 2)],
         lambda b, g, i, j: b.op("scatter_add", g, i, j, index=(V, S, V), shape=(3, 4, 5)),
         [f(2, 4), i64(2, 2), i64(4, 4)]),
        ("sa_half", [T("float16", 5), T("int64", 5)],
         lambda b, g, i: b.op("scatter_add", g, i, index=(V,), shape=(3,)),
         [f(5).astype(np.float16), i64(0, 1, 1, 2, 1)]),
        ("sa_int8", [T("int8", 7), T("int64", 7)],           # 8-bit: compare-and-swap
         lambda b, g, i: b.op("scatter_add", g, i, index=(V,), shape=(5,)),
         [np.array([100, 100, 7, -3, 1, 2, 3], np.int8), i64(0, 0, 1, 1, 4, 3, 2)]),
        ("sa_int64", [T("int64", 5), T("int32", 5)],
         lambda b, g, i: b.op("scatter_add", g, i, index=(V,), shape=(3,)),
         [i64(1, 2, 3, 4, 5), np.array([0, 2, 2, 0, 0], np.int32)]),
        ("sa_bool", [T("bool", 4), T("int64", 4)],
         lambda b, g, i: b.op("scatter_add", g, i, index=(V,), shape=(3,)),
         [np.array([1, 0, 0, 1], bool), i64(0, 1, 1, 0)]),
    ]
    return [Case(name, build(name, types, body), args) for name, types, body, args in specs]


def _setitem_cases() -> list[Case]:
    """setitem (x with x[index] = v): the view path (static and host-scalar indices), the
    scatter path (integer arrays, device scalars; repeated positions: the last write wins,
    as in NumPy), casts of v into x's dtype, writes in place where nothing reads x after,
    and every case of tests/test_ops.py's setitem_cases that NumPy accepts."""
    V, S, N, E = ("value",), ("slice", None, None, None), ("none",), ("ellipsis",)
    i64 = lambda *a: np.array(a, dtype=np.int64)
    rng = np.random.default_rng(11)
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)

    def argmax_index(b: Builder, x: Value, v: Value, w: Value) -> Value:
        return b.op("setitem", x, v, b.op("argmax", w), index=(V,))

    def inplace_chain(b: Builder, x: Value, v: Value) -> list[Value]:
        y = b.op("exp", x)
        s = b.op("sum", y)                                # a read before the writes
        y2 = b.op("setitem", y, b.const(0.0), index=(("int", 1),))
        return [b.op("setitem", y2, v, index=(S, ("int", 0))), s]

    def inplace_refused(b: Builder, x: Value) -> list[Value]:
        y = b.op("exp", x)
        return [b.op("setitem", y, b.const(1.0), index=(("int", 0),)), y]   # y read after

    def overlap(b: Builder, x: Value) -> Value:           # x[1:] = x[:-1] on a fresh array
        y = b.op("neg", x)
        return b.op("setitem", y, b.op("getitem", y, index=(("slice", None, -1, None),)),
                    index=(("slice", 1, None, None),))

    specs = [
        ("si_row_host_index", [T("float32", 5, 4), T("float32", 4), WEAK("i")],
         lambda b, x, v, i: b.op("setitem", x, v, i, index=(V,)), [f(5, 4), f(4), -2]),
        ("si_reverse_weak", [T("float64", 4, 5, 3), WEAK("f")],
         lambda b, x, v: b.op("setitem", x, v, index=(("slice", None, None, -1), ("int", 2))),
         None),
        ("si_float_to_int", [T("int32", 4, 5), T("float64", 5)],
         lambda b, x, v: b.op("setitem", x, v, index=(("int", 2),)),
         [np.arange(20, dtype=np.int32).reshape(4, 5), np.array([2.7, -2.7, 0.2, -9.9, 1e3])]),
        ("si_bool_from_float", [T("bool", 3, 4), T("float32", 3, 1)],
         lambda b, x, v: b.op("setitem", x, v, index=(S, ("slice", 1, 3, None))),
         [np.zeros((3, 4), bool), np.array([[0.0], [0.5], [-0.0]], np.float32)]),
        ("si_none_axis", [T("float32", 3, 4), T("float32", 4)],
         lambda b, x, v: b.op("setitem", x, v, index=(("int", 1), N)), None),
        ("si_half_array", [T("float16", 4, 3), T("float64", 3), T("int64", 2)],
         lambda b, x, v, i: b.op("setitem", x, v, i, index=(V,)),
         [f(4, 3).astype(np.float16), np.array([1.0001, -3.14159, 65519.0]), i64(0, -1)]),
        ("si_repeats_last_wins", [T("float32", 6), T("float32", 5), T("int64", 5)],
         lambda b, x, v, i: b.op("setitem", x, v, i, index=(V,)),
         [f(6), f(5), i64(1, 3, 1, -5, 3)]),
        ("si_broadcast_arrays", [T("float32", 4, 5), T("float32", 4), T("int64", 3, 1),
                                 T("int32", 4)],
         lambda b, x, v, i, j: b.op("setitem", x, v, i, j, index=(V, V)),
         [f(4, 5), f(4), np.array([[0], [3], [-4]], np.int64),
          np.array([4, 0, -1, 2], np.int32)]),
        ("si_rows_repeat_bcast", [T("float64", 5, 3), T("float64", 4, 1), T("int64", 4)],
         lambda b, x, v, i: b.op("setitem", x, v, i, index=(V,)),
         [rng.standard_normal((5, 3)), rng.standard_normal((4, 1)), i64(2, 0, 2, -3)]),
        ("si_nonadjacent", [T("float32", 3, 4, 5), T("float32", 2, 4), T("int64", 2),
                            T("int64", 2)],
         lambda b, x, v, i, j: b.op("setitem", x, v, i, j, index=(V, S, V)),
         [f(3, 4, 5), f(2, 4), i64(2, -1), i64(4, 4)]),
        ("si_ellipsis_array", [T("float64", 2, 3, 4), T("float64", 5), T("int64", 5)],
         lambda b, x, v, j: b.op("setitem", x, v, j, index=(E, V)),
         [rng.standard_normal((2, 3, 4)), rng.standard_normal(5), i64(0, 3, -1, 1, 1)]),
        ("si_uint_index", [T("int64", 6), WEAK("i"), T("uint8", 4)],
         lambda b, x, v, i: b.op("setitem", x, v, i, index=(V,)),
         [np.arange(6, dtype=np.int64), 7, np.array([5, 0, 2, 2], np.uint8)]),
        ("si_device_scalar", [T("float32", 3, 4), T("float32", 4), T("float32", 3)],
         argmax_index, [f(3, 4), f(4), np.array([0.5, 2.0, -1.0], np.float32)]),
        ("si_scalar_and_array", [T("float32", 3, 4, 5), T("float32"), WEAK("i"),
                                 T("int64", 2)],
         lambda b, x, v, k, j: b.op("setitem", x, v, k, j, index=(V, S, V)),
         [f(3, 4, 5), np.float32(2.5), -1, i64(0, -5)]),
        ("si_empty_region", [T("float64", 4, 5, 3), T("float64")],
         lambda b, x, v: b.op("setitem", x, v, index=(("slice", 3, 1, None),)), None),
        ("si_empty_array_region", [T("float32", 3, 0), WEAK("f"), T("int64", 2)],
         lambda b, x, v, i: b.op("setitem", x, v, i, index=(V,)),
         [np.zeros((3, 0), np.float32), 1.0, i64(2, -3)]),
        ("si_zero_d", [T("float32"), T("float32", 3)],
         lambda b, x, w: b.op("setitem", x, b.op("sum", w), index=()),
         [np.float32(4.0), f(3)]),
        ("si_inplace_chain", [T("float32", 4, 3), T("float32", 4)], inplace_chain, None),
        ("si_inplace_refused", [T("float32", 2, 3)], inplace_refused, None),
        ("si_overlap", [T("float32", 6)], overlap, None),
    ]
    out = [Case(name, build(name, types, body), args or [])
           for name, types, body, args in specs]
    # the op table's cases (tests/test_ops.py), those NumPy accepts in supported dtypes
    import test_ops
    for k, (op, args, attrs) in enumerate(test_ops.setitem_cases()):
        c = test_ops._finish(op, args, attrs)
        if c.error is not None or any(a.dtype not in cl.SUPPORTED_DTYPES for a in args):
            continue
        name = f"op_setitem_{k}"
        g = test_ops.one_node_graph(c)
        g.name = name
        out.append(Case(name, g, list(c.values)))
    return out


def _half_cases() -> list[Case]:
    """float16 beyond the elementwise table: host scalars passed as float, a row group
    (softmax), creation, casts through every dtype."""
    def softmax(b: Builder, x: Value) -> Value:
        m = b.op("max", x, axis=1, keepdims=True)
        e = b.op("exp", b.op("sub", x, m))
        return b.op("div", e, b.op("sum", e, axis=1, keepdims=True))
    specs = [
        ("h_softmax", [T("float16", 6, 33)], softmax),
        ("h_host_scalar", [T("float16", 5), T("float16")],
         lambda b, x, s: b.op("add", b.op("mul", x, s), b.const(0.1))),
        ("h_zeros_full", [WEAK("f")],
         lambda b, v: [b.op("zeros", shape=(2, 3), dtype=np.float16),
                       b.op("full", v, shape=(3,), dtype=np.float16)]),
        ("h_mean_long", [T("float16", 2, 70000)], lambda b, x: b.op("mean", x, axis=1)),
    ]
    return [Case(name, build(name, types, body)) for name, types, body in specs]


def make_suite() -> list[Case]:
    cases = (_elementwise_cases() + _reduce_cases() + _matmul_cases() + _shape_cases()
             + _creation_cases() + _control_cases() + _softmax_mlp_cases()
             + _scan_cases() + _sort_cases() + _index_cases() + _setitem_cases()
             + _half_cases())
    rng = np.random.default_rng(7)
    for c in cases:
        if not c.args:
            c.args = [sample(p.type, rng) for p in c.graph.params]
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "suite names must be unique (kernel names)"
    return cases


SUITE = make_suite()
BY_NAME = {c.name: c for c in SUITE}


# ---------------------------------------------------------------------------------------
# helpers shared with test_cuda_exec.py

def assert_same(got: list[Any], want: list[Any], what: str = "") -> None:
    """Same dtype, same shape, values close (per-dtype tolerance, NaN == NaN)."""
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        if isinstance(w, (bool, int, float)):
            assert type(g) is type(w), (what, type(g), type(w))
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype, (what, g.dtype, w.dtype)
        assert g.shape == w.shape, (what, g.shape, w.shape)
        if w.dtype.kind == "f":
            # float16: 2 units in the last place (NumPy's float16 loops use the platform's
            # float math; a half rounding may land on the other side)
            tol = {np.dtype(np.float32): 2e-5, np.dtype(np.float16): 2e-3}.get(w.dtype, 1e-12)
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)


def reference(g: Graph, args: list[Any]) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return InterpBackend().compile(g)(list(args))


def corpus_graphs() -> list[tuple[str, Graph, Any, list[int]]]:
    """(id, typed optimized graph, make_args, param positions) for the corpus functions
    and their gradients (those that have one), each also after passes/fuse.py (whether or
    not the pipeline runs it yet, the backend must take its fused groups)."""
    from corpus import ENTRIES

    import jitgraph as jg
    try:
        from jitgraph.passes.fuse import fuse
    except ImportError:
        fuse = None
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, (fn, make) in ENTRIES.items():
            for kind in ("fwd", "grad"):
                f = jg.script(fn, backend="interp") if kind == "fwd" else jg.grad(
                    fn, backend="interp")
                args = make(np.random.default_rng(1), 0)
                try:
                    g = f.graph_for(*args)
                except Exception:   # noqa: BLE001, S112 - gradient of a non-scalar function
                    continue
                idx = f._entry_for(args).param_idx
                out.append((f"{key}:{kind}", g, make, idx))
                if fuse is not None:
                    out.append((f"{key}:{kind}:fused", fuse(g), make, idx))
    return out


# ---------------------------------------------------------------------------------------
# lowering

@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_suite_lowers(name: str) -> None:
    prog = cl.lower(BY_NAME[name].graph)
    assert prog.problems == []
    assert 'extern "C" __global__' in prog.source or not prog.kernels


def test_suite_covers_every_elementwise_rule() -> None:
    seen = {n.op for c in SUITE for n in c.graph.walk()}
    missing = set(ELEMENTWISE) - seen
    assert not missing


def test_coverage_table() -> None:
    from jitgraph.backends.cuda_ops import COVERAGE
    # generic-only ops never reach a backend; everything else has a rule
    generic_only = {"shape", "ndim", "size", "dtype_of", "grad", "pycall"}
    assert set(COVERAGE.missing) <= generic_only, COVERAGE.missing


def test_check_lists_what_it_cannot_lower() -> None:
    cplx = build("cplx", [T("complex64", 3)], lambda b, x: b.op("exp", x))
    assert any("complex64" in r for r in CudaBackend().check(cplx))
    # float16, integer-array indexing, the scans and setitem lower now
    for name in ("h_softmax", "gi_nll", "sa_nll", "scan_cumsum_float32_1",
                 "si_row_host_index", "si_repeats_last_wins"):
        assert CudaBackend().check(BY_NAME[name].graph) == [], name
    unknown = build("unknown", [T("float32", 2)], lambda b, x: x)
    unknown.body.nodes.append(Node("no_such_op", [unknown.params[0]], {},
                                   [Value(T("float32", 2))]))
    assert any("no_such_op" in r for r in CudaBackend().check(unknown))
    ok = BY_NAME["softmax"].graph
    assert CudaBackend().check(ok) == []


def test_host_scalars_need_no_kernel() -> None:
    # `prev_loss < 5.0` is decided on the host: no kernel, no device read back
    prog = cl.lower(BY_NAME["model"].graph)
    assert "host lt(" in prog.schedule
    assert not any("_lt" in k.name for k in prog.kernels)


def test_views_cost_no_kernel() -> None:
    prog = cl.lower(BY_NAME["sh_transpose"].graph)
    assert [k.name.split("_k")[1] for k in prog.kernels] == ["0_exp"]
    assert "view" in prog.schedule


def test_kernel_templates_found() -> None:
    d = cl.kernels_dir()
    for name in ("common.cu", "elementwise.cu", "reduce.cu", "matmul.cu", "sort.cu"):
        assert (d / name).is_file()
    assert "${body}" in cl.read_template("elementwise.cu")


@pytest.mark.parametrize("name", ["model", "softmax", "fu_gelu", "ctl_loop", "sh_concat"])
def test_golden_cuda(name: str, update_golden: bool) -> None:
    text = cl.render(BY_NAME[name].graph, templates=False)
    path = GOLDEN / f"cuda_{name}.cu"
    if update_golden or not path.exists():
        path.write_text(text)
    want = path.read_text()
    if text != want:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                            str(path), "generated"))
        pytest.fail(f"generated CUDA differs from {path} (pytest --update-golden):\n{diff}")


def test_dump_shows_source() -> None:
    text = CudaBackend().dump(BY_NAME["softmax"].graph, "cuda")
    assert text.startswith("// schedule of softmax")
    assert "jg_block_reduce" in text and 'extern "C" __global__' in text
    with pytest.raises(ValueError):
        CudaBackend().dump(BY_NAME["softmax"].graph, "llvm")


# ---------------------------------------------------------------------------------------
# nvcc: every generated kernel compiles for sm_80 and sm_90

def _nvcc_cache() -> Path:
    d = Path(tempfile.gettempdir()) / f"jitgraph-nvcc-{os.getuid()}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _nvcc(arch: str, source: str) -> tuple[bool, str]:
    key = hashlib.sha256((arch + source).encode()).hexdigest()[:24]
    ok = _nvcc_cache() / f"{key}.ok"
    if ok.exists():
        return True, ""
    cu = _nvcc_cache() / f"{key}.cu"
    cu.write_text(source)
    r = subprocess.run(["nvcc", "-cubin", f"-arch={arch}", "-o", str(cu.with_suffix(".cubin")),
                        str(cu)], check=False, capture_output=True, text=True)
    if r.returncode == 0:
        ok.write_text("")
    return r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def nvcc_results() -> dict[str, tuple[bool, str]]:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH")
    progs = [cl.lower(c.graph) for c in SUITE]
    progs += [cl.lower(g) for _, g, _, _ in corpus_graphs()]
    for p in progs:
        assert not p.problems, p.problems
    # one translation unit per arch: each program in its own namespace (kernel names repeat
    # between a function and its gradient, so the batch drops extern "C")
    unit = "".join(f"namespace p{i} {{\n{p.source}\n}}\n".replace('extern "C" ', "")
                   for i, p in enumerate(progs))
    # and one program verbatim, exactly as pycuda compiles it (extern "C" names)
    single = cl.lower(BY_NAME["model"].graph).source
    jobs = {f"{arch}:{what}": (arch, src) for arch in ("sm_80", "sm_90")
            for what, src in (("batch", unit), ("single", single))}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        futs = {k: ex.submit(_nvcc, *v) for k, v in jobs.items()}
        return {k: f.result() for k, f in futs.items()}


@pytest.mark.nvcc
@pytest.mark.parametrize("job", ["sm_80:batch", "sm_90:batch", "sm_80:single", "sm_90:single"])
def test_nvcc_compiles(job: str, nvcc_results: dict[str, tuple[bool, str]]) -> None:
    ok, log = nvcc_results[job]
    assert ok, log[-6000:]


# ---------------------------------------------------------------------------------------
# execution on the host emulator

EMU_WHY = HostEmulator.available()


# `emu` (the stand-in itself) is a fixture in conftest.py


@pytest.fixture(scope="module")
def emu_suite(emu: HostEmulator) -> dict[str, tuple[Any, Any]]:
    be = CudaBackend(emu)
    progs = {c.name: be.lower(c.graph) for c in SUITE}
    emu.compile_many(list(progs.values()))
    return {name: (p, be) for name, p in progs.items()}


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_emulated_matches_numpy(name: str, emu: HostEmulator,
                                emu_suite: dict[str, tuple[Any, Any]]) -> None:
    case = BY_NAME[name]
    prog, _ = emu_suite[name]
    want = reference(case.graph, case.args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = CudaFunction(prog, emu)(list(case.args))
    assert_same(got, want, name)


# a spread of the corpus: losses, layers, control flow, loops with tapes, indexing
CORPUS_RUN = ["mse_loss", "cross_entropy", "mlp_model", "layer_norm", "softmax", "gelu_f32",
              "attention", "piecewise", "early_exit", "power_iteration", "newton_sqrt",
              "sum_until_negative", "running_stats", "column_loop", "first_last",
              "concat_features", "int_ops", "accuracy", "argmax_as_int", "half_slices",
              "matrix_entries", "running_max", "first_above", "creation_mix"]


def test_emulated_corpus(emu: HostEmulator) -> None:
    be = CudaBackend(emu)
    graphs = [(k, g, make, idx) for k, g, make, idx in corpus_graphs()
              if k.split(":")[0] in CORPUS_RUN]
    progs = [be.lower(g) for _, g, _, _ in graphs]
    emu.compile_many(progs)
    assert len(graphs) >= len(CORPUS_RUN)
    for (key, g, make, idx), prog in zip(graphs, progs):
        for variant in (0, 1):
            args = make(np.random.default_rng(1), variant)
            ins = [args[i] for i in idx]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = CudaFunction(prog, emu)(list(ins))
            assert_same(got, reference(g, ins), f"{key} variant {variant}")


def test_emulated_index_out_of_bounds(emu: HostEmulator,
                                      emu_suite: dict[str, tuple[Any, Any]]) -> None:
    prog, _ = emu_suite["sh_getitem_dynamic"]
    f = CudaFunction(prog, emu)
    x = np.arange(30, dtype=np.float32).reshape(5, 6)
    assert_same(f([x, -1]), [x[:, -1]])
    with pytest.raises(IndexError):
        f([x, 6])


def test_emulated_device_arrays(emu: HostEmulator,
                                emu_suite: dict[str, tuple[Any, Any]]) -> None:
    """Device arrays in -> device arrays out; a result that is an argument is a copy;
    `__cuda_array_interface__` objects are used in place."""
    from jitgraph.cuda import DeviceArray

    def upload(a: np.ndarray) -> DeviceArray:
        buf = emu.alloc(a.nbytes)
        emu.htod(buf.ptr, a)
        return DeviceArray(buf.ptr, a.shape, a.dtype, buf.owner, emu)

    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    prog, _ = emu_suite["sh_identity"]
    dx = upload(x)
    (out,) = CudaFunction(prog, emu)([dx])
    assert isinstance(out, DeviceArray) and out.ptr != dx.ptr
    np.testing.assert_array_equal(out.get(), x)
    np.testing.assert_array_equal(np.asarray(out), x)
    assert out.__cuda_array_interface__["shape"] == (3, 4)

    class Foreign:   # what CuPy or PyTorch would hand over
        def __init__(self, buf: DevBuf, a: np.ndarray):
            self.buf = buf
            self.__cuda_array_interface__ = {"shape": a.shape, "typestr": a.dtype.str,
                                             "data": (buf.ptr, False), "version": 3,
                                             "strides": None}
    y = np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)
    buf = emu.alloc(y.nbytes)
    emu.htod(buf.ptr, y)
    prog, _ = emu_suite["sh_transpose"]
    (got,) = CudaFunction(prog, emu)([Foreign(buf, y)])
    assert_same([got.get()], reference(BY_NAME["sh_transpose"].graph, [y]))
    with pytest.raises(ValueError, match="expected"):
        CudaFunction(prog, emu)([np.zeros((3, 3), np.float32)])


# ---------------------------------------------------------------------------------------
# no GPU here: unavailable, said why, never imported by `import jitgraph`

def test_unavailable_says_why() -> None:
    import jitgraph as jg
    if jg.cuda.is_available():
        pytest.skip("a GPU is usable here")
    why = jg.cuda.why_unavailable()
    assert why and any(w in why for w in ("pycuda", "driver", "device", "nvcc"))
    with pytest.raises(RuntimeError, match="not available"):
        jg.cuda.to_device(np.zeros(3))


def test_import_never_loads_pycuda() -> None:
    code = ("import sys, jitgraph, jitgraph.cuda, jitgraph.backends.cuda_lower, "
            "jitgraph.backends.cuda_jit; jitgraph.cuda.DeviceArray; "
            "assert 'pycuda' not in sys.modules, 'pycuda imported'")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                       cwd=Path(__file__).parents[1])
    assert r.returncode == 0, r.stderr


def test_cuda_backend_falls_back_without_gpu() -> None:
    import jitgraph as jg
    if jg.cuda.is_available():
        pytest.skip("a GPU is usable here")

    def f(x: Any) -> Any:
        return np.exp(x).sum()
    x = np.arange(4, dtype=np.float32)
    sf = jg.script(f, backend="cuda")
    with pytest.warns(jg.FallbackWarning):
        r = sf(x)
    assert r.dtype == np.float32 and np.isclose(r, np.exp(x).sum())
    with pytest.raises(jg.CompileError):
        jg.script(f, backend="cuda", fallback="error")(x)
    assert "expf(" in sf.dump(x, stage="cuda")


@pytest.mark.parametrize("name", ["softmax", "row_split_loss", "row_columns",
                                  "row_outer_chain", "model"])
def test_emulated_without_row_fusion(name: str, emu: HostEmulator,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The node-by-node lowering of what row groups fuse gives the same results."""
    monkeypatch.setattr(cl, "ROW_FUSION", False)
    case = BY_NAME[name]
    prog = CudaBackend(emu).lower(case.graph)
    assert not any("_row_" in k.name for k in prog.kernels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = CudaFunction(prog, emu)(list(case.args))
    assert_same(got, reference(case.graph, case.args), name)
