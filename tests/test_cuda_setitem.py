"""setitem on the CUDA backend without a GPU: loop-carried fills (`out = zeros; for i:
out[i] = ...`, built by hand with Builder), writes in place and where they must not happen,
last-write-wins among repeated integer-array indices, and out-of-range indices raising
IndexError (worded as NumPy's) on the host emulator. The graphs compile with nvcc for
sm_80/sm_90 too. test_cuda_codegen.py's suite runs the single-node cases."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from test_cuda_codegen import (
    BY_NAME,
    WEAK,
    T,
    _nvcc,
    assert_same,
    build,
    reference,
)
from test_cuda_gaps import run

from jitgraph.backends import cuda_lower as cl
from jitgraph.backends.cuda_jit import CudaBackend, CudaFunction, HostEmulator
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.ops.shape import build_index

V = ("value",)


def check(emu: HostEmulator, g: Graph, args: list[Any]) -> None:
    assert_same(run(emu, g, args), reference(g, args), g.name)


def body_kernels(prog: cl.Program) -> list[str]:
    """Kernel names launched inside the (first) loop body."""
    loop = next(s for s in prog.steps if isinstance(s, cl.Loop))
    return [s.kernel for s in loop.body if isinstance(s, cl.Launch)]


def top_kernels(prog: cl.Program) -> list[str]:
    return [s.kernel for s in prog.steps if isinstance(s, cl.Launch)]


# ---------------------------------------------------------------------------------------
# loop-carried fills

Body = Callable[[Builder, Value, Value, Value], list[Value]]


def loop_graph(name: str, init: str, body: Body, trip: int = 5, shape: tuple = (5, 4),
               extra: list[tuple] | None = None) -> Graph:
    """x: float32 `shape`; out starts as zeros (init "zeros"), the argument `y` ("arg"),
    or a constant array ("const"); more carried float32 values of the `extra` shapes start
    as zeros; the body (b, k, out, x, *more) returns [out', *more']."""
    def make(b: Builder, x: Value, *ys: Value) -> list[Value]:
        k = Value(WEAK("i"), "k")
        out = Value(T("float32", *shape), "out")
        carried = [out] + [Value(T("float32", *s), "c") for s in extra or []]
        ib = Builder(Block([k, *carried]))
        res = body(ib, k, out, x) if not extra else body(ib, k, out, x, *carried[1:])
        ib.block.results = [ib.const(True), *res]
        if init == "zeros":
            start = b.op("zeros", shape=shape, dtype=np.float32)
        elif init == "arg":
            start = ys[0]
        else:
            start = b.const(np.full(shape, 7.0, np.float32))
        more = [b.op("zeros", shape=s, dtype=np.float32) for s in extra or []]
        node = b.node("loop", [b.const(trip), b.const(True), start, *more], {},
                      [v.type for v in carried], blocks=[ib.block])
        return node.outputs
    types = [T("float32", *shape)] + ([T("float32", *shape)] if init == "arg" else [])
    return build(name, types, make)


def fill_body(b: Builder, k: Value, out: Value, x: Value) -> list[Value]:
    row = b.op("getitem", x, k, index=(V,))                # out[k] = x[k] * k
    return [b.op("setitem", out, b.op("mul", row, k), k, index=(V,))]


def recurrence_body(b: Builder, k: Value, out: Value, x: Value) -> list[Value]:
    # out[k] = out[k - 1] * 0.5 + x[k]: a read of out before the write (k = 0 reads out[-1])
    prev = b.op("getitem", out, b.op("sub", k, b.const(1)), index=(V,))
    row = b.op("add", b.op("mul", prev, b.const(0.5)), b.op("getitem", x, k, index=(V,)))
    return [b.op("setitem", out, row, k, index=(V,))]


X = np.arange(20, dtype=np.float32).reshape(5, 4) / 4 - 1


def test_loop_fill_writes_in_place(emu: HostEmulator) -> None:
    g = loop_graph("fill_zeros", "zeros", fill_body)
    prog = cl.lower(g)
    assert prog.problems == []
    # zeros is fresh and only the loop uses it: no copy before the loop nor per iteration
    assert not any("setitem_copy" in k for k in top_kernels(prog) + body_kernels(prog))
    assert any(k.endswith("_setitem") for k in body_kernels(prog))
    check(emu, g, [X])


def test_loop_fill_argument_is_copied_once(emu: HostEmulator) -> None:
    from jitgraph.cuda import DeviceArray
    g = loop_graph("fill_arg", "arg", fill_body, trip=3)
    prog = cl.lower(g)
    assert not any("copy" in k for k in body_kernels(prog))
    assert any("copy" in k for k in top_kernels(prog))     # the argument is not written
    y = np.full((5, 4), -3.0, np.float32)
    check(emu, g, [X, y])
    buf = emu.alloc(y.nbytes)
    emu.htod(buf.ptr, y)
    dy = DeviceArray(buf.ptr, y.shape, y.dtype, buf.owner, emu)
    (got,) = run(emu, g, [X, dy])
    assert_same([got.get()], reference(g, [X, y]))
    np.testing.assert_array_equal(dy.get(), y)            # the caller's array is untouched


def test_loop_fill_constant_init_survives_calls(emu: HostEmulator) -> None:
    g = loop_graph("fill_const", "const", fill_body, trip=2)
    prog = cl.lower(g)
    assert prog.consts and any("copy" in k for k in top_kernels(prog))
    f = CudaFunction(prog, emu)
    want = reference(g, [X])
    for _ in range(2):                                     # the uploaded constant stays 7.0
        assert_same(f([X]), want)


def test_argument_is_never_written(emu: HostEmulator) -> None:
    from jitgraph.cuda import DeviceArray
    case = BY_NAME["si_row_host_index"]
    prog = cl.lower(case.graph)
    assert any("setitem_copy" in k for k in top_kernels(prog))
    x = np.asarray(case.args[0])
    buf = emu.alloc(x.nbytes)
    emu.htod(buf.ptr, x)
    dx = DeviceArray(buf.ptr, x.shape, x.dtype, buf.owner, emu)
    (got,) = run(emu, case.graph, [dx, *case.args[1:]])
    assert_same([got.get()], reference(case.graph, case.args))
    np.testing.assert_array_equal(dx.get(), x)


def test_in_place_only_where_nothing_reads_after() -> None:
    def kinds(name: str) -> list[str]:
        return top_kernels(cl.lower(BY_NAME[name].graph))
    assert not any("setitem_copy" in k for k in kinds("si_inplace_chain"))   # sum before
    assert any("setitem_copy" in k for k in kinds("si_inplace_refused"))     # y returned
    assert any("setitem_copy" in k for k in kinds("si_overlap"))             # v views y


def test_loop_recurrence_reads_before_writing(emu: HostEmulator) -> None:
    g = loop_graph("recurrence", "zeros", recurrence_body)
    assert not any("setitem_copy" in k for k in body_kernels(cl.lower(g)))
    check(emu, g, [X])


def test_loop_keeps_old_value_copies(emu: HostEmulator) -> None:
    # prev = out (carried): the body's setitem must not overwrite what prev still holds
    def body(b: Builder, k: Value, out: Value, x: Value, prev: Value) -> list[Value]:
        return [fill_body(b, k, out, x)[0], out]
    g = loop_graph("keep_old", "zeros", body, extra=[(5, 4)], trip=4)
    prog = cl.lower(g)
    assert any("setitem_copy" in k for k in body_kernels(prog))
    check(emu, g, [X])


def test_loop_reader_scheduled_after_write_copies(emu: HostEmulator) -> None:
    # sum(out) and `s * 2` form one row group whose kernel runs after the setitem node
    def body(b: Builder, k: Value, out: Value, x: Value, s: Value) -> list[Value]:
        tot = b.op("sum", out, axis=1, keepdims=True)
        new = fill_body(b, k, out, x)[0]
        return [new, b.op("mul", tot, b.const(2.0))]
    g = loop_graph("late_reader", "zeros", body, extra=[(5, 1)], trip=3)
    prog = cl.lower(g)
    kernels = body_kernels(prog)
    if any("_row_" in k for k in kernels):                 # the group spans the setitem
        assert any("setitem_copy" in k for k in kernels)
    check(emu, g, [X])


def test_loop_carried_buffer_on_tape_is_not_overwritten(emu: HostEmulator) -> None:
    # a tape keeps buffer references: out pushed each iteration must keep its values
    def make(b: Builder, x: Value) -> list[Value]:
        tape = b.op("tape_new")
        k = Value(WEAK("i"), "k")
        out = Value(T("float32", 5, 4), "out")
        ib = Builder(Block([k, out]))
        new = fill_body(ib, k, out, x)[0]
        ib.op("tape_push", tape, new)
        ib.block.results = [ib.const(True), new]
        node = b.node("loop", [b.const(3), b.const(True),
                               b.op("zeros", shape=(5, 4), dtype=np.float32)], {},
                      [out.type], blocks=[ib.block])
        # pop all three pushes (last first): a tape left holding values would leak into
        # later tests' live_tapes() checks
        pops = [b.op("tape_pop", tape, shape=(5, 4), dtype=np.float32) for _ in range(3)]
        return [node.out, *pops]
    g = build("tape_fill", [T("float32", 5, 4)], make)
    prog = cl.lower(g)
    if prog.problems:
        pytest.skip(f"tapes do not lower here: {prog.problems}")
    check(emu, g, [X])


# ---------------------------------------------------------------------------------------
# repeated indices: the last write wins, in C order of the broadcast index arrays

def test_last_write_wins_many_repeats(emu: HostEmulator) -> None:
    rng = np.random.default_rng(3)
    idx = rng.integers(-7, 7, 600)
    v = rng.standard_normal((600, 3))
    g = build("many_repeats", [T("float64", 7, 3), T("float64", 600, 3), T("int64", 600)],
              lambda b, x, v, i: b.op("setitem", x, v, i, index=(V,)))
    x = np.zeros((7, 3))
    (got,) = run(emu, g, [x, v, idx])
    want = x.copy()
    want[idx] = v
    np.testing.assert_array_equal(got, want)


def test_last_write_wins_broadcast_pairs(emu: HostEmulator) -> None:
    i = np.array([[0], [2], [0]])
    j = np.array([1, 1, 3, 1])
    v = np.arange(12, dtype=np.int32).reshape(3, 4)
    g = build("pair_repeats", [T("int32", 3, 4), T("int32", 3, 4), T("int64", 3, 1),
                               T("int64", 4)],
              lambda b, x, v, i, j: b.op("setitem", x, v, i, j, index=(V, V)))
    x = np.full((3, 4), -1, np.int32)
    (got,) = run(emu, g, [x, v, i, j])
    want = x.copy()
    want[i, j] = v
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------
# out-of-range indices: IndexError as NumPy words it, nothing written out of bounds

def numpy_message(x: np.ndarray, index: tuple, dyn: list[Any]) -> str:
    with pytest.raises(IndexError) as ei:
        x.copy()[build_index(index, dyn)] = 0
    return str(ei.value)


def test_loop_fill_past_the_end_raises(emu: HostEmulator) -> None:
    g = loop_graph("fill_past_end", "zeros", fill_body, trip=6)
    with pytest.raises(IndexError) as want:
        reference(g, [X])
    with pytest.raises(IndexError) as got:
        run(emu, g, [X])
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("name,k,bad", [
    ("si_row_host_index", 2, 5),                            # host scalar: NumPy's own check
    ("si_row_host_index", 2, -6),
    ("si_repeats_last_wins", 2, np.array([1, 3, 6, 0, 3])),  # array: the error buffer
    ("si_repeats_last_wins", 2, np.array([1, -7, 0, 0, 3])),
    ("si_uint_index", 2, np.array([6, 0, 1, 1], np.uint8)),
    ("si_empty_array_region", 2, np.array([3, 0])),         # nothing written, still checked
    ("si_scalar_and_array", 2, 3),                          # host scalar among arrays
    ("si_broadcast_arrays", 3, np.array([4, 0, -6, 2], np.int32)),
])
def test_out_of_range_raises(name: str, k: int, bad: Any, emu: HostEmulator) -> None:
    case = BY_NAME[name]
    args = list(case.args)
    args[k] = bad
    with pytest.raises(IndexError) as want:
        reference(case.graph, args)
    f = CudaFunction(CudaBackend(emu).lower(case.graph), emu)
    with pytest.raises(IndexError) as got:
        f(args)
    assert str(got.value) == str(want.value)
    # the error buffer is fresh per call: good indices work right after a bad call
    assert_same(f(list(case.args)), reference(case.graph, case.args), name)


def test_device_scalar_index_out_of_range(emu: HostEmulator) -> None:
    # x[argmax(w) + 2] = v: the index lives on the device, so the kernel checks it
    g = build("dev_index_oob", [T("float32", 3, 4), T("float32", 4), T("float32", 3)],
              lambda b, x, v, w: b.op("setitem", x, v,
                                      b.op("add", b.op("argmax", w), b.const(2)),
                                      index=(V,)))
    prog = cl.lower(g)
    assert "DynView" in [type(s).__name__ for s in prog.steps]   # the deferred check
    x = np.zeros((3, 4), np.float32)
    v = np.arange(4, dtype=np.float32)
    check(emu, g, [x, v, np.array([3.0, 1.0, 0.0], np.float32)])   # argmax 0 -> row 2
    with pytest.raises(IndexError) as got:
        run(emu, g, [x, v, np.array([0.0, 1.0, 0.0], np.float32)])  # row 3 of 3
    assert str(got.value) == numpy_message(x, (V,), [3])


# ---------------------------------------------------------------------------------------
# nvcc: the loop graphs compile for sm_80 and sm_90

def _loop_graphs() -> list[Graph]:
    def keep_old(b: Builder, k: Value, out: Value, x: Value, prev: Value) -> list[Value]:
        return [fill_body(b, k, out, x)[0], out]
    return [loop_graph("nv_fill", "zeros", fill_body),
            loop_graph("nv_fill_arg", "arg", fill_body),
            loop_graph("nv_recurrence", "zeros", recurrence_body),
            loop_graph("nv_keep_old", "zeros", keep_old, extra=[(5, 4)]),
            BY_NAME["si_repeats_last_wins"].graph, BY_NAME["si_device_scalar"].graph]


@pytest.mark.nvcc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_loop_graphs_compile_with_nvcc(arch: str) -> None:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH")
    for g in _loop_graphs():
        prog = cl.lower(g)
        assert prog.problems == [], prog.problems
        ok, log = _nvcc(arch, prog.source)
        assert ok, log[-4000:]
