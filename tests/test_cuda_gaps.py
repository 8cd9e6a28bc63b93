"""What the CUDA backend used to refuse: scans (cumsum/cumprod), integer-array indexing and
its atomic scatter_add adjoint, float16. No GPU needed: the kernels compile with nvcc for
sm_80/sm_90 and run on the host emulator (test_cuda_codegen.py's suite covers the kernels
case by case; this file covers the error paths, where the bounds checks go in the schedule,
bit-exact float16 conversions, and the corpus_extra functions that need these features,
forward and gradient)."""
from __future__ import annotations

import shutil
import warnings
from typing import Any

import numpy as np
import pytest
from test_cuda_codegen import (
    BY_NAME,
    WEAK,
    T,
    _if,
    _nvcc,
    assert_same,
    build,
    reference,
)

from jitgraph.backends import cuda_lower as cl
from jitgraph.backends.cuda_jit import CudaBackend, CudaFunction, HostEmulator
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.ops.shape import build_index
from jitgraph.types import TensorType

V = ("value",)


def run(emu: HostEmulator, g: Graph, args: list[Any]) -> list[Any]:
    prog = CudaBackend(emu).lower(g)
    assert prog.problems == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CudaFunction(prog, emu)(list(args))


def numpy_index_error(x: np.ndarray, index: tuple, dyn: list[Any]) -> str:
    with pytest.raises(IndexError) as ei:
        np.asarray(x)[build_index(index, dyn)]
    return str(ei.value)


# ---------------------------------------------------------------------------------------
# out-of-range indices: an IndexError worded as NumPy's, and nothing read or written

@pytest.mark.parametrize("name,bad", [
    ("gi_rows", [None, np.array([0, 5, 1, 1])]),
    ("gi_rows", [None, np.array([-6, 0, 1, 1])]),
    ("gi_nll", [None, np.array([0, 4, 2, 2, 5, 3, -1, 0])]),
    ("gi_nll", [None, np.array([0, 4, 2, 2, -6, 3, -1, 0])]),
    ("gi_nonadjacent", [None, np.array([3, 0]), None]),
    ("gi_scalar_and_array", [None, 3, None]),
    ("gi_uint", [None, np.array([6, 0, 1, 1], np.uint8)]),
    ("gi_empty_result", [None, np.array([3, 0])]),        # nothing gathered, still checked
])
def test_gather_out_of_bounds(name: str, bad: list[Any], emu: HostEmulator) -> None:
    case = BY_NAME[name]
    args = [a if b is None else b if isinstance(a, int) else b.astype(np.asarray(a).dtype)
            for a, b in zip(case.args, bad, strict=True)]
    graph = case.graph
    want = None
    try:
        reference(graph, args)
    except IndexError as e:
        want = str(e)
    assert want is not None, "the interpreter must reject these indices"
    prog = CudaBackend(emu).lower(graph)
    f = CudaFunction(prog, emu)
    with pytest.raises(IndexError) as ei:
        f(list(args))
    assert str(ei.value) == want, (str(ei.value), want)
    # the error buffer is fresh per call: good indices work right after a bad call
    assert_same(f(list(case.args)), reference(graph, case.args), name)


@pytest.mark.parametrize("name,k,bad", [
    ("sa_rows", 1, np.array([1, 3, 5, -4])),
    ("sa_nll", 1, np.array([0, 4, 2, 2, 1, 3, -6, 0])),
    ("sa_int8", 1, np.array([0, 0, 1, 1, 5, 3, 2])),
])
def test_scatter_out_of_bounds(name: str, k: int, bad: np.ndarray, emu: HostEmulator) -> None:
    case = BY_NAME[name]
    args = list(case.args)
    args[k] = bad.astype(np.asarray(args[k]).dtype)
    with pytest.raises(IndexError):
        reference(case.graph, args)
    f = CudaFunction(CudaBackend(emu).lower(case.graph), emu)
    with pytest.raises(IndexError, match="out of bounds"):
        f(args)
    assert_same(f(list(case.args)), reference(case.graph, case.args), name)


def test_message_matches_numpy_for_the_nll_idiom(emu: HostEmulator) -> None:
    logp = np.zeros((4, 3), np.float32)
    labels = np.array([0, 2, 3, 1])
    g = build("nll_msg", [T("float32", 4, 3), T("int64", 4)],
              lambda b, x, y: b.op("getitem", x, b.op("arange", stop=4), y, index=(V, V)))
    with pytest.raises(IndexError) as ei:
        run(emu, g, [logp, labels])
    assert str(ei.value) == numpy_index_error(logp, (V, V), [np.arange(4), labels])


# ---------------------------------------------------------------------------------------
# where the bounds checks run: end of the block, or before the host decides on device data

def _gather_then_if(b: Builder, x: Value, i: Value) -> Value:
    g = b.op("getitem", x, i, index=(V,))
    c = b.op("gt", b.op("sum", g), b.const(0.0))
    return _if(b, c, lambda t: [t.op("mul", g, t.const(2.0))], lambda e: [e.op("neg", g)])[0]


def test_checks_run_before_control_flow(emu: HostEmulator) -> None:
    g = build("gather_if", [T("float32", 5), T("int64", 3)], _gather_then_if)
    prog = cl.lower(g)
    kinds = [type(s).__name__ for s in prog.steps]
    assert "DynView" in kinds and "If" in kinds
    assert kinds.index("DynView") < kinds.index("If")
    assert "host bounds check" in prog.schedule
    x = np.arange(5, dtype=np.float32) - 1.0
    assert_same(run(emu, g, [x, np.array([4, -1, 0])]), reference(g, [x, np.array([4, -1, 0])]))
    with pytest.raises(IndexError):
        run(emu, g, [x, np.array([4, 7, 0])])


def test_checks_deferred_past_launches() -> None:
    # two gathers and arithmetic: both checks after the last launch (no sync in between)
    g = build("two_gathers", [T("float32", 6), T("int64", 3), T("int64", 3)],
              lambda b, x, i, j: b.op("add", b.op("getitem", x, i, index=(V,)),
                                      b.op("getitem", x, j, index=(V,))))
    steps = cl.lower(g).steps
    kinds = [type(s).__name__ for s in steps]
    last_launch = max(k for k, s in enumerate(kinds) if s == "Launch")
    assert kinds.count("DynView") == 2
    assert all(k > last_launch for k, s in enumerate(kinds) if s == "DynView")


def test_gather_in_a_loop_body(emu: HostEmulator) -> None:
    def loop(b: Builder, x: Value, idx: Value) -> Value:
        k = Value(WEAK("i"), "k")
        acc = Value(T("float32", 3), "acc")
        ib = Builder(Block([k, acc]))
        row = ib.op("getitem", x, k, idx, index=(V, V))
        ib.block.results = [ib.const(True), ib.op("add", acc, row)]
        node = b.node("loop", [b.const(4), b.const(True),
                               b.op("zeros", shape=(3,), dtype=np.float32)],
                      {}, [acc.type], blocks=[ib.block])
        return node.out
    g = build("gather_loop", [T("float32", 4, 6), T("int64", 3)], loop)
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    assert_same(run(emu, g, [x, np.array([5, 0, -1])]), reference(g, [x, np.array([5, 0, -1])]))
    with pytest.raises(IndexError, match="axis 1 with size 6"):
        run(emu, g, [x, np.array([5, 6, -1])])


# ---------------------------------------------------------------------------------------
# float16: conversions round to nearest even, exactly as NumPy's

def _half_midpoints() -> tuple[np.ndarray, np.ndarray]:
    """Every positive finite half value, the midpoints between neighbours and the doubles
    just around them, the overflow edge, tiny values, signs, inf and NaN."""
    h = np.arange(0, 0x7c00, dtype=np.uint16).view(np.float16).astype(np.float64)
    mid = (h[:-1] + h[1:]) / 2                           # exact in float32 and float64
    near = np.concatenate([mid, np.nextafter(mid, 0), np.nextafter(mid, np.inf)])
    edge = np.array([65504.0, 65519.99, 65520.0, 65536.0, 1e6, 2.0 ** -25, 2.0 ** -26,
                     2.0 ** -25 * (1 + 2 ** -30), 1e-30, 5e-324, 0.0, np.inf, np.nan])
    vals = np.concatenate([h, near, edge])
    vals = np.concatenate([vals, -vals])
    return vals, vals.astype(np.float32)


def test_half_conversions_bit_exact(emu: HostEmulator) -> None:
    d, f = _half_midpoints()
    allh = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    g = build("half_cvt", [T("float64", d.size), T("float32", f.size), T("float16", 1 << 16)],
              lambda b, x, y, z: [b.op("cast", x, dtype=np.float16),
                                  b.op("cast", y, dtype=np.float16),
                                  b.op("cast", z, dtype=np.float32),
                                  b.op("cast", z, dtype=np.float64)])
    with np.errstate(all="ignore"):
        want = [d.astype(np.float16), f.astype(np.float16), allh.astype(np.float32),
                allh.astype(np.float64)]
    got = run(emu, g, [d, f, allh])
    for k in range(2):
        same = (got[k].view(np.uint16) == want[k].view(np.uint16)) | (
            np.isnan(got[k]) & np.isnan(want[k]))
        assert same.all(), (k, d[~same][:5] if k == 0 else f[~same][:5])
    for k in (2, 3):
        np.testing.assert_array_equal(got[k], want[k])


def test_half_arithmetic_rounds_every_operation(emu: HostEmulator) -> None:
    # (a * b) + c in float16 differs from a fused float computation rounded once
    a = np.array([1.0009766, 3.1415, 1000.5, 0.33325195], np.float16)
    b_ = np.array([1.0009766, 2.718, 64.1, 3.0], np.float16)
    c = np.array([-1.0, -8.5, 0.5, 1e-4], np.float16)
    g = build("half_chain", [T("float16", 4)] * 3,
              lambda bb, x, y, z: bb.op("add", bb.op("mul", x, y), z))
    got = run(emu, g, [a, b_, c])[0]
    np.testing.assert_array_equal(got.view(np.uint16), ((a * b_) + c).view(np.uint16))


def test_half_scan_matches_numpy_exactly(emu: HostEmulator) -> None:
    x = np.random.default_rng(2).standard_normal(3000).astype(np.float16)
    g = build("half_cumsum", [T("float16", 3000)], lambda b, v: b.op("cumsum", v))
    got = run(emu, g, [x])[0]
    np.testing.assert_array_equal(got.view(np.uint16), np.cumsum(x).view(np.uint16))


# ---------------------------------------------------------------------------------------
# the corpus_extra functions these features serve, forward and gradient

EXTRA_NAMES = ["nll_fancy_index", "label_smoothing_xent", "cumulative_returns"]


def extra_graphs() -> list[tuple[str, Graph, Any, list[int]]]:
    from corpus_extra import EXTRA

    import jitgraph as jg
    from jitgraph.passes.fuse import fuse
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in EXTRA_NAMES:
            fn, make, argnums = EXTRA[name]
            args = make(np.random.default_rng(1), 0)
            kinds = [("fwd", jg.script(fn, backend="interp"))]
            if argnums is not None:
                kinds.append(("grad", jg.grad(fn, argnums, backend="interp")))
            for kind, f in kinds:
                g = f.graph_for(*args)
                idx = f._entry_for(args).param_idx
                out.append((f"{name}:{kind}", g, make, idx))
                out.append((f"{name}:{kind}:fused", fuse(g), make, idx))
    return out


EXTRA_GRAPHS = extra_graphs()


def test_extra_functions_lower() -> None:
    for key, g, _, _ in EXTRA_GRAPHS:
        assert cl.lower(g).problems == [], key
    ops = {n.op for _, g, _, _ in EXTRA_GRAPHS for n in g.walk()}
    assert {"cumsum", "cumprod", "getitem", "scatter_add"} <= ops


def test_extra_functions_on_emulator(emu: HostEmulator) -> None:
    be = CudaBackend(emu)
    progs = [be.lower(g) for _, g, _, _ in EXTRA_GRAPHS]
    emu.compile_many(progs)
    for (key, g, make, idx), prog in zip(EXTRA_GRAPHS, progs):
        for variant in (0, 1):
            args = make(np.random.default_rng(11 + variant), variant)
            ins = [args[i] for i in idx]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = CudaFunction(prog, emu)(list(ins))
            assert_same(got, reference(g, ins), f"{key} variant {variant}")


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_extra_functions_compile_with_nvcc(arch: str) -> None:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH")
    progs = [cl.lower(g) for _, g, _, _ in EXTRA_GRAPHS]
    progs += [cl.lower(build("half_cvt_nvcc", [T("float64", 8), T("float16", 8)],
                             lambda b, x, z: [b.op("cast", x, dtype=np.float16),
                                              b.op("cast", z, dtype=np.float64)]))]
    unit = "".join(f"namespace q{i} {{\n{p.source}\n}}\n".replace('extern "C" ', "")
                   for i, p in enumerate(progs))
    ok, log = _nvcc(arch, unit)
    assert ok, log[-6000:]
    # and one verbatim, as pycuda compiles a single program (extern "C" names)
    ok, log = _nvcc(arch, cl.lower(BY_NAME["sa_half"].graph).source)
    assert ok, log[-6000:]


# ---------------------------------------------------------------------------------------
# x ** 0.5 is sqrt, as NumPy's scalar fast path: -0.0 -> -0.0 and -inf -> nan

@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_half_power_is_sqrt(dt: Any, emu: HostEmulator) -> None:
    t = TensorType(np.dtype(dt), (6,))
    b = Builder(Block([Value(t, "x")]))
    half = b.const(0.5)
    b.block.results = [b.op("pow", b.block.params[0], half)]
    g = Graph("half_pow", b.block, ["x"])
    x = np.array([-np.inf, -0.0, 0.0, 2.0, np.inf, 9.0], dt)
    got = run(emu, g, [x])[0]
    with np.errstate(invalid="ignore"):
        want = x ** 0.5
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got[1:]), np.signbit(want[1:]))
