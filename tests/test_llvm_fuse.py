"""passes/fuse.py: the groups it forms, that it never changes a graph's meaning (interp
before == interp after), and that the CPU backend runs fused graphs like the interpreter."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from jitgraph import config
from jitgraph.backends.interp import InterpBackend
from jitgraph.ir.graph import Block, Builder, Graph, Node, Value
from jitgraph.passes.fuse import fuse
from jitgraph.types import TensorType

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
INTERP = InterpBackend()


def T(dt: Any, *shape: int) -> TensorType:
    return TensorType(np.dtype(dt), tuple(shape))


def build(params: list[TensorType], body: Callable[..., Any]) -> Graph:
    b = Builder()
    vs = [Value(t, f"p{i}") for i, t in enumerate(params)]
    b.block.params.extend(vs)
    outs = body(b, *vs)
    b.block.results.extend(outs if isinstance(outs, (list, tuple)) else [outs])
    return Graph("g", b.block)


def fused_nodes(g: Graph) -> list[Node]:
    return [n for n in g.walk() if n.op == "fused"]


def run(g: Graph, args: list[Any]) -> list[Any]:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return INTERP.compile(g)(args)


def same_meaning(g: Graph, args: list[Any], rtol: float = 2e-5) -> Graph:
    fg = fuse(g)
    try:
        from jitgraph.ir.verify import verify
    except ImportError:  # pragma: no cover
        pass
    else:
        verify(fg)
    for a, b in zip(run(g, args), run(fg, args), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6)
    cpu = _cpu()
    if cpu is not None:
        for a, b in zip(run(g, args), cpu.compile(fg)(args), strict=True):
            assert np.asarray(b).dtype == np.asarray(a).dtype
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=rtol, atol=1e-6)
    return fg


def _cpu() -> Any:
    try:
        from jitgraph.backends.llvm_jit import LLVMBackend
    except ImportError:  # pragma: no cover
        return None
    config.CACHE_DIR = "off"
    be = LLVMBackend(cache=False)
    return be if be.available() else None


def softmax(b: Builder, x: Value) -> Value:
    m = b.op("max", x, axis=1, keepdims=True)
    e = b.op("exp", b.op("sub", x, m))
    return b.op("div", e, b.op("sum", e, axis=1, keepdims=True))


def test_softmax_groups(rng: np.random.Generator) -> None:
    g = build([T(F32, 5, 7)], softmax)
    fg = same_meaning(g, [rng.standard_normal((5, 7)).astype(np.float32)])
    (f,) = fused_nodes(fg)
    assert [n.op for n in f.blocks[0].nodes] == ["sub", "exp", "sum"]
    assert len(f.outputs) == 2          # e (read by div) and its row sums
    assert "max" in [n.op for n in fg.body.nodes]


def test_chain_is_one_group_and_intermediates_vanish(rng: np.random.Generator) -> None:
    t = T(F64, 6, 3)

    def body(b: Builder, a: Value, x: Value, c: Value) -> Value:
        return b.op("sub", b.op("add", b.op("mul", a, x),
                                b.op("mul", b.op("mul", c, x), x)), b.const(1.5))

    fg = same_meaning(build([t, t, t], body), [rng.standard_normal((6, 3)) for _ in range(3)])
    assert [n.op for n in fg.body.nodes] == ["fused"]
    (f,) = fused_nodes(fg)
    assert len(f.outputs) == 1 and len(f.inputs) == 3
    assert sum(n.op == "constant" for n in f.blocks[0].nodes) == 1   # copied inside


def test_broadcast_inputs_and_reduction_to_scalar(rng: np.random.Generator) -> None:
    def body(b: Builder, x: Value, y: Value) -> Value:
        d = b.op("sub", x, y)
        return b.op("sum", b.op("mul", d, d))

    fg = same_meaning(build([T(F32, 4, 5), T(F32, 5)], body),
                      [rng.standard_normal((4, 5)).astype(np.float32),
                       rng.standard_normal(5).astype(np.float32)])
    (f,) = fused_nodes(fg)
    assert f.outputs[0].type.shape == ()


def test_no_cycle_through_an_outside_node(rng: np.random.Generator) -> None:
    """a = exp(x); s = sum(a) (joins a); b = a * s must not join: it reads the group's
    reduction. c = a + matmul(a, w) must not join a's group either (the matmul sits between)."""
    def body(b: Builder, x: Value, w: Value) -> list[Value]:
        a = b.op("exp", x)
        s = b.op("sum", a, axis=1, keepdims=True)
        c = b.op("mul", a, s)
        d = b.op("add", a, b.op("matmul", a, w))
        return [c, d]

    fg = same_meaning(build([T(F64, 3, 3), T(F64, 3, 3)], body),
                      [rng.standard_normal((3, 3)), rng.standard_normal((3, 3))])
    ops = [n.op for n in fg.body.nodes]
    assert ops.index("matmul") < len(ops) - 1


def test_never_across_if_or_loop(rng: np.random.Generator) -> None:
    t = T(F32, 8)

    def body(b: Builder, x: Value, c: Value) -> Value:
        e = b.op("exp", x)
        blocks = []
        for k in range(2):
            bb = Builder(Block())
            y = bb.op("mul", bb.op("add", e, bb.const(1.0 + k)), e)
            bb.block.results.append(y)
            blocks.append(bb.block)
        (r,) = b.node("if", [c], {}, [t], blocks).outputs
        return b.op("neg", r)

    g = build([t, T(np.bool_)], body)
    for c in (True, False):
        fg = same_meaning(g, [rng.standard_normal(8).astype(np.float32), np.array(c)])
    top = [n.op for n in fg.body.nodes]
    assert top == ["exp", "if", "neg"]                  # nothing pulled across the if
    branch_ops = [[n.op for n in blk.nodes] for blk in fg.body.nodes[1].blocks]
    assert all(ops == ["fused"] for ops in branch_ops)  # each branch fused on its own


def test_fused_node_with_small_outputs_and_passthrough(rng: np.random.Generator) -> None:
    """A group's small member (shape != S) is not grouped; outputs used twice stay once."""
    def body(b: Builder, x: Value, y: Value) -> list[Value]:
        e = b.op("exp", y)                    # (1, 4): its own shape, not the (3, 4) group
        z = b.op("add", b.op("mul", x, e), x)
        return [z, e, z]

    same_meaning(build([T(F32, 3, 4), T(F32, 1, 4)], body),
                 [rng.standard_normal((3, 4)).astype(np.float32),
                  rng.standard_normal((1, 4)).astype(np.float32)])


def test_idempotent_on_fused_graph(rng: np.random.Generator) -> None:
    g = build([T(F32, 5, 7)], softmax)
    once = fuse(g)
    assert fuse(once) == once


@pytest.mark.parametrize("axis", [0, 1, (0, 1)])
def test_reduction_axes(axis: Any, rng: np.random.Generator) -> None:
    def body(b: Builder, x: Value) -> list[Value]:
        sq = b.op("square", b.op("sub", x, b.const(0.25)))
        return [b.op("mean", sq, axis=axis), b.op("max", b.op("abs", sq), axis=axis)]

    same_meaning(build([T(F32, 6, 9)], body), [rng.standard_normal((6, 9)).astype(np.float32)])


# ------------------------------------------------------------------ row groups (llvm_rows)
def _layernorm(b: Builder, x: Value) -> list[Value]:
    mu = b.op("mean", x, axis=-1, keepdims=True)
    d = b.op("sub", x, mu)
    var = b.op("mean", b.op("mul", d, d), axis=-1, keepdims=True)
    y = b.op("div", d, b.op("sqrt", b.op("add", var, b.const(1e-5))))
    return [y, b.op("sum", b.op("mul", y, y), axis=-1)]   # well conditioned, unlike sum(y)


@pytest.mark.parametrize("shape", [(300, 64), (7, 5, 33), (2, 40000)])
@pytest.mark.parametrize("body", [softmax, _layernorm])
def test_row_groups_match_interp(shape: tuple, body: Any, rng: np.random.Generator) -> None:
    from jitgraph.backends.llvm_rows import find_group
    if body is softmax and len(shape) != 2:
        pytest.skip("softmax reduces axis 1")
    g = build([T(F32, *shape)], body)
    fg = fuse(g)
    assert any(find_group(fg.body.nodes, i) for i in range(len(fg.body.nodes)))
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    # NOTE: NumPy sums a strided float32 row of 40000 one by one (~1e-5 relative error)
    rtol = 1e-4 if max(shape) > 10000 else 2e-5
    same_meaning(g, [x], rtol)
    same_meaning(g, [np.asfortranarray(x)], rtol)    # strided input, copied


def test_row_group_values_used_after_it(rng: np.random.Generator) -> None:
    """e (the exp) is both inside the group and a result: it stays a full array."""
    def body(b: Builder, x: Value, w: Value) -> list[Value]:
        m = b.op("max", x, axis=1, keepdims=True)
        e = b.op("exp", b.op("sub", x, m))
        s = b.op("div", e, b.op("sum", e, axis=1, keepdims=True))
        return [s, e, b.op("matmul", s, w)]

    same_meaning(build([T(F64, 50, 20), T(F64, 20, 3)], body),
                 [rng.standard_normal((50, 20)), rng.standard_normal((20, 3))])


@pytest.mark.parametrize("rows,cols,threads", [(4096, 1024, True), (64, 1024, False),
                                               (64, 8, False)])
def test_row_groups_prefetch_the_next_row(rows: int, cols: int, threads: bool,
                                          rng: np.random.Generator) -> None:
    """Rows of at least PREFETCH_MIN_ROW_BYTES get a software prefetch of the next row
    (also in the outlined, threaded form); the last row's prefetch points past the
    array, which must be harmless."""
    from jitgraph.backends.llvm_rows import PREFETCH_MIN_ROW_BYTES
    cpu = _cpu()
    if cpu is None:
        pytest.skip("no llvmlite")
    g = fuse(build([T(F32, rows, cols)], softmax))
    text = cpu.dump(g, "llvm-unopt")
    assert ("llvm.prefetch" in text) == (cols * 4 >= PREFETCH_MIN_ROW_BYTES)
    assert (".par" in text) == threads
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    same_meaning(build([T(F32, rows, cols)], softmax), [x])
