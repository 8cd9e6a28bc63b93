"""Each optimization pass on hand-built typed graphs: the expected structure after the pass,
the input graph unchanged, and interp(before) == interp(after) bit for bit (same Python or
NumPy type, dtype, shape and bytes) on random inputs that include -0.0, nan and inf."""
from __future__ import annotations

import dataclasses
import struct
import sys
import types
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from jitgraph import config
from jitgraph.backends.interp import InterpBackend
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.ops import OPS
from jitgraph.passes import LAST_TIMINGS, PIPELINE, run_pipeline
from jitgraph.passes.const_fold import FOLD_LIMIT, const_fold
from jitgraph.passes.cse import cse
from jitgraph.passes.dce import dce
from jitgraph.passes.simplify import simplify
from jitgraph.types import TensorType, parse_type

Pass = Callable[[Graph], Graph]
SPECIALS = np.array([-0.0, 0.0, np.nan, np.inf, -np.inf, 1.0, -1.5, 2.5])


# ---------------------------------------------------------------- building graphs

def make(*types_: str) -> tuple[Builder, list[Value]]:
    params = [Value(parse_type(t), f"a{i}") for i, t in enumerate(types_)]
    return Builder(Block(params)), params


def finish(b: Builder, *results: Value) -> Graph:
    b.block.results = list(results)
    return Graph("f", b.block)


def sub_block(fn: Callable[[Builder], Sequence[Value]], params: Sequence[Value] = ()) -> Block:
    bb = Builder(Block(params))
    bb.block.results = list(fn(bb))
    return bb.block


def if_(b: Builder, cond: Value, then: Callable[[Builder], Sequence[Value]],
        else_: Callable[[Builder], Sequence[Value]], out_types: Sequence[str]) -> list[Value]:
    blocks = [sub_block(then), sub_block(else_)]
    return b.node("if", [cond], None, [parse_type(t) for t in out_types], blocks).outputs


def loop(b: Builder, trip: Value, cond0: Value, init: Sequence[Value],
         body: Callable[[Builder, Value, list[Value]], tuple[Value, list[Value]]]) -> list[Value]:
    k = Value(parse_type("pyint"), "k")
    carried = [Value(v.type, "c") for v in init]
    bb = Builder(Block([k, *carried]))
    cond, nexts = body(bb, k, carried)
    bb.block.results = [cond, *nexts]
    return b.node("loop", [trip, cond0, *init], None, [v.type for v in init], [bb.block]).outputs


def impure_op(monkeypatch: pytest.MonkeyPatch, name: str = "noisy_exp") -> str:
    """A registry op like exp but declared impure, present only during one test."""
    monkeypatch.setitem(OPS, name, dataclasses.replace(OPS["exp"], name=name, pure=False))
    return name


# ---------------------------------------------------------------- checking passes

def counts(g: Graph) -> Counter[str]:
    return Counter(n.op for n in g.walk())


def random_args(g: Graph, rng: np.random.Generator) -> list[Any]:
    out: list[Any] = []
    for p in g.params:
        t = p.type
        assert t.dtype is not None and t.shape is not None
        kind = t.dtype.kind
        a: np.ndarray
        if kind == "b":
            a = rng.random(t.shape) < 0.5
        elif kind in "iu":
            a = rng.integers(0 if kind == "u" else -4, 5, t.shape)
        else:
            a = np.where(rng.random(t.shape) < 0.5, rng.choice(SPECIALS, t.shape),
                         rng.standard_normal(t.shape))
        a = np.asarray(a).astype(t.dtype)
        out.append({"b": bool, "i": int, "f": float}[kind](a) if t.weak else a)
    return out


def assert_same(x: Any, y: Any) -> None:
    assert type(x) is type(y), (x, y)
    if isinstance(x, np.ndarray):
        assert (x.dtype, x.shape) == (y.dtype, y.shape)
        assert x.tobytes() == y.tobytes(), (x, y)
    elif isinstance(x, float):
        assert struct.pack("<d", x) == struct.pack("<d", y), (x, y)
    else:
        assert x == y


def assert_equivalent(before: Graph, after: Graph, trials: int = 4) -> None:
    rng = np.random.default_rng(0)
    f, h = InterpBackend().compile(before), InterpBackend().compile(after)
    for _ in range(trials):
        args = random_args(before, rng)
        for x, y in zip(f(args), h(args), strict=True):
            assert_same(x, y)


def check(fn: Pass, g: Graph) -> Graph:
    """Run one pass; the input must be unchanged, the output well formed (when the verifier
    exists) and computing the same."""
    before = str(g)
    out = fn(g)
    assert out is not g
    assert str(g) == before, "the pass mutated its input"
    try:
        from jitgraph.ir.verify import verify
    except ImportError:
        pass
    else:
        verify(g)
        verify(out)
    assert_equivalent(g, out)
    return out


def returns_param(g: Graph) -> bool:
    return g.results[0] is g.params[0]


# ---------------------------------------------------------------- simplify

def binop(op: str, xt: str, c: Any, ct: str | None = None, swap: bool = False) -> Graph:
    b, (x,) = make(xt)
    k = b.const(c, parse_type(ct) if ct else None)
    return finish(b, b.op(op, k, x) if swap else b.op(op, x, k))


FIRES = [
    ("mul", "f32[3]", 1.0, None, False),
    ("mul", "f32[3]", 1.0, None, True),
    ("mul", "i32[2,3]", 1, None, False),
    ("mul", "f32[2,3]", np.ones(3, np.float32), None, False),   # broadcasts to x's shape
    ("mul", "pyfloat", 1.0, None, True),
    ("mul", "bool[3]", True, "bool[]", False),
    ("add", "i32[3]", 0, None, False),
    ("add", "i32[3]", 0, None, True),
    ("add", "f32[3]", -0.0, None, False),
    ("add", "f64[3]", np.full(3, -0.0), None, True),
    ("sub", "f32[3]", 0.0, None, False),
    ("sub", "i64[3]", 0, None, False),
    ("div", "f32[3]", 1.0, None, False),
    ("pow", "f32[3]", 1, None, False),
    ("pow", "i32[3]", 1, None, False),
]

NO_FIRE = [
    ("mul", "i32[3]", 1.0, None, False),          # int32 * 1.0 is float64
    ("div", "i32[3]", 1, None, False),            # true division gives float64
    ("mul", "f32[3]", 1.0, "f64[]", False),       # a strong f64 one promotes
    ("mul", "pyfloat", 1.0, "f32[]", False),      # a weak x times a strong one is strong
    ("add", "f32[3]", np.zeros((2, 3), np.float32), None, False),  # shape grows
    ("add", "f32[3]", 0.0, None, False),          # -0.0 + 0.0 is +0.0
    ("add", "f32[3]", 0, None, True),             # same with an int zero
    ("sub", "f32[3]", -0.0, None, False),         # -0.0 - -0.0 is +0.0
    ("mul", "c64[3]", 1.0, None, False),          # (inf+0j)*(1+0j) has a nan part
    ("mul", "f32[3]", np.array([1, 2, 1], np.float32), None, False),
    ("mul", "f32[3]", 2.0, None, False),
    ("sub", "f32[3]", 0.0, None, True),           # 0 - x
    ("div", "f32[3]", 1.0, None, True),           # 1 / x
    ("pow", "f32[3]", 1.0, None, True),           # 1 ** x
]


@pytest.mark.parametrize("op,xt,c,ct,swap", FIRES)
def test_simplify_identity_fires(op: str, xt: str, c: Any, ct: str | None, swap: bool) -> None:
    out = check(simplify, binop(op, xt, c, ct, swap))
    assert returns_param(out) and counts(out)[op] == 0


@pytest.mark.parametrize("op,xt,c,ct,swap", NO_FIRE)
def test_simplify_identity_must_not_fire(op: str, xt: str, c: Any, ct: str | None,
                                         swap: bool) -> None:
    out = check(simplify, binop(op, xt, c, ct, swap))
    assert not returns_param(out) and counts(out)[op] == 1


def shape_case(name: str) -> tuple[Graph, bool]:
    """Graphs of one or two shape-like ops; the flag says whether the result is %a0."""
    xt = {"tt_square": "f32[3,3]", "tt_cube": "f32[3,3,3]", "cast_weak": "pyfloat", "cast_i32": "i32[4]",
          "not2": "bool[4]", "invert2": "i32[4]", "neg3": "f32[4]"}.get(name, "f32[2,3,4]")
    b, (x,) = make(xt)
    fire = True
    if name == "tt_identity":
        y = b.op("transpose", b.op("transpose", x, axes=(1, 2, 0)), axes=(2, 0, 1))
    elif name == "tt_other":
        y, fire = b.op("transpose", b.op("transpose", x, axes=(1, 0, 2)), axes=(0, 2, 1)), False
    elif name == "tt_cube":                        # same type, but (2,0,1) overall
        y, fire = b.op("transpose", b.op("transpose", x, axes=(1, 2, 0)), axes=(1, 2, 0)), False
    elif name == "t_identity":
        y = b.op("transpose", x, axes=(0, 1, 2))
    elif name == "tt_square":                      # same type, but not the identity
        y, fire = b.op("transpose", x), False
    elif name == "reshape_same":
        y = b.op("reshape", x, shape=(2, 3, 4))
    elif name == "reshape_other":
        y, fire = b.op("reshape", x, shape=(6, 4)), False
    elif name == "broadcast_same":
        y = b.op("broadcast_to", x, shape=(2, 3, 4))
    elif name == "broadcast_bigger":
        y, fire = b.op("broadcast_to", x, shape=(5, 2, 3, 4)), False
    elif name == "cast_same":
        y = b.op("cast", x, dtype=np.float32)
    elif name == "cast_other":
        y, fire = b.op("cast", x, dtype=np.float64), False
    elif name == "cast_i32":
        y = b.op("cast", x, dtype="int32")
    elif name == "cast_weak":                      # pyfloat -> f64[]: weakness changes
        y, fire = b.op("cast", x, dtype=np.float64), False
    elif name == "sum_to_same":
        y = b.op("sum_to_shape", x, shape=(2, 3, 4))
    elif name == "squeeze_none":
        y = b.op("squeeze", x)
    elif name == "neg2":
        y = b.op("neg", b.op("neg", x))
    elif name == "neg3":
        y, fire = b.op("neg", b.op("neg", b.op("neg", x))), False
    elif name == "not2":
        y = b.op("logical_not", b.op("logical_not", x))
    elif name == "invert2":
        y = b.op("invert", b.op("invert", x))
    else:
        raise AssertionError(name)
    return finish(b, y), fire


SHAPE_CASES = ["tt_identity", "tt_other", "tt_cube", "t_identity", "tt_square", "reshape_same",
               "reshape_other", "broadcast_same", "broadcast_bigger", "cast_same", "cast_other",
               "cast_i32", "cast_weak", "sum_to_same", "squeeze_none", "neg2", "neg3", "not2",
               "invert2"]


@pytest.mark.parametrize("name", SHAPE_CASES)
def test_simplify_shape_and_involution_rules(name: str) -> None:
    g, fire = shape_case(name)
    out = check(simplify, g)
    assert returns_param(out) == fire
    if name == "neg3":                             # -(-(-x)) -> -x (the dead inner neg stays)
        assert counts(dce(out))["neg"] == 1
    elif not fire:
        assert len(list(out.walk())) == len(list(g.walk()))


def test_simplify_reaches_fixed_point_through_chains() -> None:
    b, (x,) = make("f32[2,3]")
    y = b.op("mul", x, b.const(1.0))
    y = b.op("neg", b.op("neg", b.op("neg", b.op("neg", y))))
    y = b.op("transpose", b.op("transpose", b.op("reshape", y, shape=(2, 3))))
    y = b.op("add", b.op("div", y, b.const(1)), b.const(-0.0))
    out = check(simplify, finish(b, y))
    assert returns_param(out)
    assert set(counts(dce(out))) == set()          # what is left is dead


def test_simplify_rewrites_inside_blocks() -> None:
    b, (x, c) = make("f32[3]", "bool[]")
    (r,) = if_(b, c, lambda bb: [bb.op("mul", x, bb.const(1.0))],
               lambda bb: [bb.op("neg", bb.op("neg", x))], ["f32[3]"])
    (s,) = loop(b, b.const(3), b.const(True), [r],
                lambda bb, k, cs: (bb.const(True), [bb.op("sub", cs[0], bb.const(0.0))]))
    out = dce(check(simplify, finish(b, s)))
    text = str(out)
    assert "mul" not in text and "neg" not in text and "sub" not in text
    assert counts(out)["if"] == counts(out)["loop"] == 1


# ---------------------------------------------------------------- const_fold

def test_const_fold_weak_and_strong() -> None:
    b, (x,) = make("f32[3]")
    w = b.op("mul", b.const(2.0), b.const(3.0))                     # pyfloat
    s = b.op("add", b.const(np.arange(3, dtype=np.float32)), b.const(1))  # f32[3]
    i = b.op("floordiv", b.const(7), b.const(2))                    # pyint
    y = b.op("mul", b.op("add", x, s), w)
    out = check(const_fold, finish(b, y, i, s))
    assert counts(out) == Counter({"constant": 9, "add": 1, "mul": 1})
    consts = {n.outputs[0]: n.attrs["value"] for n in out.walk() if n.op == "constant"}
    assert type(consts[w]) is float and consts[w] == 6.0
    assert type(consts[i]) is int and consts[i] == 3
    assert consts[s].dtype == np.float32 and consts[s].tolist() == [1.0, 2.0, 3.0]


def test_const_fold_follows_declared_dtype_and_ignores_fp_errors() -> None:
    b, _ = make("f32[3]")
    z = b.op("div", b.const(np.ones(2, np.float32)), b.const(np.zeros(2, np.float32)))
    n = b.op("sqrt", b.const(np.array(-1.0, np.float32)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = check(const_fold, finish(b, z, n))
    assert set(counts(out)) == {"constant"}


@pytest.mark.parametrize("size,folds", [(10, True), (FOLD_LIMIT, True), (FOLD_LIMIT + 1, False)])
def test_const_fold_size_limit(size: int, folds: bool) -> None:
    b, _ = make("f32[3]")
    r = b.op("arange", stop=size)
    z = b.op("zeros", shape=(size,), dtype=np.float32)
    out = check(const_fold, finish(b, r, z))
    assert (counts(out)["arange"] == 0) == folds and (counts(out)["zeros"] == 0) == folds


def test_const_fold_leaves_impure_and_failing_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    name = impure_op(monkeypatch)
    def boom(*a: Any, **k: Any) -> Any:
        raise ValueError("boom")
    monkeypatch.setitem(OPS, "boom", dataclasses.replace(
        OPS["exp"], name="boom", impl=boom, dtype=lambda ins, a: np.dtype(ins[0].dtype)))
    b, _ = make("f32[3]")
    y = b.op(name, b.const(np.ones(3, np.float32)))
    z = b.op("boom", b.const(np.ones(3, np.float32)))
    out = const_fold(finish(b, y, z))
    assert counts(out)[name] == 1 and counts(out)["boom"] == 1


@pytest.mark.parametrize("cond", [True, False])
def test_const_fold_inlines_if_on_constant_condition(cond: bool) -> None:
    b, (x,) = make("f32[4]")
    c = b.op("lt", b.const(1.0 if cond else 3.0), b.const(2.0))     # folds first
    (r,) = if_(b, c, lambda bb: [bb.op("exp", x)], lambda bb: [bb.op("neg", x)], ["f32[4]"])
    out = check(const_fold, finish(b, r))
    assert counts(out)["if"] == 0
    assert counts(out)["exp" if cond else "neg"] == 1 and counts(out)["neg" if cond else "exp"] == 0


@pytest.mark.parametrize("trip,cond0,folds", [(0, True, True), (3, False, True), (3, True, False),
                                              (-1, False, True), (-1, True, False)])
def test_const_fold_zero_trip_loops(trip: int, cond0: bool, folds: bool) -> None:
    b, (x,) = make("f32[4]")

    def body(bb: Builder, k: Value, cs: list[Value]) -> tuple[Value, list[Value]]:
        two = bb.op("add", bb.const(1.0), bb.const(1.0))
        return bb.op("lt", k, bb.const(2)), [bb.op("mul", cs[0], two)]
    (r,) = loop(b, b.const(trip), b.const(cond0), [x], body)
    out = check(const_fold, finish(b, r))
    assert (counts(out)["loop"] == 0) == folds
    assert returns_param(out) == folds
    if not folds:
        assert counts(out)["add"] == 0  # folded inside the body


# ---------------------------------------------------------------- cse

def test_cse_merges_pure_nodes_and_constants() -> None:
    b, (x, y) = make("f32[3]", "f32[3]")
    a1 = b.op("add", b.op("mul", x, b.const(np.float32(2))), y)
    a2 = b.op("add", b.op("mul", x, b.const(np.float32(2))), y)
    s1 = b.op("sum", a1, axis=0)
    s2 = b.op("sum", a2, axis=(0,))               # the same after canonicalization
    out = check(cse, finish(b, b.op("sub", a1, a2), s1, s2))
    assert counts(out) == Counter({"constant": 1, "mul": 1, "add": 1, "sub": 1, "sum": 1})


@pytest.mark.parametrize("c1,c2,t,merged", [
    (0.0, -0.0, None, False),
    (float("nan"), float("nan"), None, True),
    (1, 1.0, None, False),
    (True, 1, None, False),
    (1.5, 1.5, None, True),
    (np.array([1, 2], np.float32), np.array([1, 2], np.float64), None, False),
    (np.array([1, 2], np.float32), np.array([2, 1], np.float32), None, False),
    (np.array([-0.0, 1]), np.array([0.0, 1]), None, False),
    (np.array([np.nan, 1]), np.array([np.nan, 1]), None, True),
    (np.array([[1, 2]]), np.array([1, 2]), None, False),
    (2.0, 2.0, "f32[]", True),
])
def test_cse_constants_compare_by_type_and_bits(c1: Any, c2: Any, t: str | None,
                                                merged: bool) -> None:
    b, (x,) = make("f64[2]")
    tt = parse_type(t) if t else None
    r1 = b.op("add", x, b.const(c1, tt))
    r2 = b.op("add", x, b.const(c2, tt))
    out = check(cse, finish(b, r1, r2))
    assert counts(out)["constant"] == (1 if merged else 2)
    assert counts(out)["add"] == (1 if merged else 2)


def test_cse_scopes_blocks() -> None:
    b, (x, c) = make("f32[3]", "bool[]")
    e = b.op("exp", x)
    (r1, r2) = if_(b, c, lambda bb: [bb.op("exp", x), bb.op("log", x)],
                   lambda bb: [bb.op("log", x), bb.op("exp", x)], ["f32[3]", "f32[3]"])
    after = b.op("log", x)                         # must not reuse a branch's log
    (s,) = loop(b, b.const(2), b.const(True), [x],
                lambda bb, k, cs: (bb.const(True), [bb.op("add", cs[0], bb.op("exp", x))]))
    out = check(cse, finish(b, e, r1, r2, after, s))
    assert counts(out)["exp"] == 1 and counts(out)["log"] == 3


def test_cse_never_merges_impure_or_structural(monkeypatch: pytest.MonkeyPatch) -> None:
    name = impure_op(monkeypatch)
    b, (x, c) = make("f32[3]", "bool[]")
    n1, n2 = b.op(name, x), b.op(name, x)
    (i1,) = if_(b, c, lambda bb: [x], lambda bb: [n1], ["f32[3]"])
    (i2,) = if_(b, c, lambda bb: [x], lambda bb: [n1], ["f32[3]"])
    out = check(cse, finish(b, n1, n2, i1, i2))
    assert counts(out)[name] == 2 and counts(out)["if"] == 2


def fused_graph() -> Graph:
    """exp(x) + 2 twice outside and once as a fused node, whose body sees only its params."""
    b, (x,) = make("f32[3]")
    outer = b.op("add", b.op("exp", x), b.const(2.0))

    def fused() -> Value:
        p = Value(x.type, "p")
        body = sub_block(lambda bb: [bb.op("add", bb.op("exp", p), bb.const(2.0))], [p])
        return b.node("fused", [x], None, [x.type], [body]).out
    f = fused()
    fused()                                        # unused: dce drops it
    return finish(b, b.op("mul", outer, f))


def test_cse_and_dce_respect_fused_bodies() -> None:
    out = check(dce, check(cse, fused_graph()))
    assert counts(out) == Counter({"fused": 1, "exp": 2, "add": 2, "constant": 2, "mul": 1})


# ---------------------------------------------------------------- dce

def test_dce_drops_unused_nodes_keeps_params_and_impure(monkeypatch: pytest.MonkeyPatch) -> None:
    name = impure_op(monkeypatch)
    b, (x, _) = make("f32[3]", "f32[3]")
    b.op("exp", b.op("log", x))
    b.op(name, x)
    r = b.op("neg", x)
    out = check(dce, finish(b, r))
    assert counts(out) == Counter({"neg": 1, name: 1})
    assert len(out.params) == 2


def test_dce_prunes_if_outputs_and_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    name = impure_op(monkeypatch)
    b, (x, c) = make("f32[3]", "bool[]")
    outer = b.op("exp", x)                         # used only inside the else block
    (r1, _) = if_(b, c, lambda bb: [x, bb.op("log", x)], lambda bb: [outer, x],
                   ["f32[3]", "f32[3]"])
    if_(b, c, lambda bb: [bb.op("sin", x)], lambda bb: [x], ["f32[3]"])   # dead: removed
    if_(b, c, lambda bb: [bb.op(name, x)], lambda bb: [x], ["f32[3]"])    # kept, no outputs
    out = check(dce, finish(b, r1))
    ifs = [n for n in out.walk() if n.op == "if"]
    assert len(ifs) == 2
    assert len(ifs[0].outputs) == 1 and [len(blk.results) for blk in ifs[0].blocks] == [1, 1]
    assert ifs[1].outputs == [] and counts(out)[name] == 1
    assert counts(out)["exp"] == 1 and counts(out)["log"] == 0 and counts(out)["sin"] == 0


def test_dce_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    name = impure_op(monkeypatch)
    b, (x, y) = make("f32[3]", "f32[3]")
    trip, true = b.const(3), b.const(True)

    def body(bb: Builder, k: Value, cs: list[Value]) -> tuple[Value, list[Value]]:
        acc, junk, step = cs                       # junk only feeds itself; step feeds acc
        return true, [bb.op("add", acc, step), bb.op("mul", junk, junk), bb.op("neg", step)]
    (acc, _junk, _step) = loop(b, trip, true, [x, y, x], body)
    loop(b, trip, true, [x], lambda bb, k, cs: (true, [bb.op("exp", cs[0])]))        # dead
    loop(b, trip, true, [x], lambda bb, k, cs: (true, [bb.op(name, cs[0])]))         # impure
    out = check(dce, finish(b, acc))
    loops = [n for n in out.walk() if n.op == "loop"]
    assert len(loops) == 2
    assert len(loops[0].outputs) == 2 and len(loops[0].blocks[0].params) == 3
    assert len(loops[0].inputs) == 4 and len(loops[0].blocks[0].results) == 3
    assert counts(out)["mul"] == 0 and counts(out)["exp"] == 0 and counts(out)[name] == 1


# ---------------------------------------------------------------- the pipeline

def pipeline_graph() -> Graph:
    """A constant If, a run-time If, a loop and redundancies of every kind."""
    b, (x, w, c, n) = make("f32[4]", "f32[4]", "bool[]", "pyint")
    one = b.op("sub", b.const(2.0), b.const(1.0))              # folds to 1.0
    small = b.op("lt", b.op("mul", b.const(3), b.const(4)), b.const(10))  # folds to False
    (h,) = if_(b, small, lambda bb: [bb.op("exp", x)], lambda bb: [bb.op("mul", x, one)],
               ["f32[4]"])
    (g1, _) = if_(b, c, lambda bb: [bb.op("add", h, w), bb.op("exp", h)],
                   lambda bb: [bb.op("sub", h, w), bb.op("log", h)], ["f32[4]", "f32[4]"])
    a1, a2 = b.op("tanh", g1), b.op("tanh", g1)

    def body(bb: Builder, k: Value, cs: list[Value]) -> tuple[Value, list[Value]]:
        acc, unused = cs
        t = bb.op("transpose", bb.op("transpose", bb.op("mul", acc, bb.const(np.float32(0.5)))))
        return bb.op("lt", k, bb.const(5)), [bb.op("add", t, a2), bb.op("neg", unused)]
    (acc, _) = loop(b, n, b.const(True), [a1, w], body)
    b.op("exp", acc)                                             # dead
    return finish(b, b.op("add", acc, b.const(0)), a1)


def test_pipeline_optimizes_and_reaches_fixed_point() -> None:
    g = pipeline_graph()
    out = check(run_pipeline, g)
    c = counts(out)
    assert c["if"] == 1 and c["loop"] == 1 and c["tanh"] == 1 and c["transpose"] == 0
    assert c["exp"] == 0 and c["log"] == 0 and c["mul"] == 1  # body mul by 0.5 stays
    assert c["add"] == 3                           # acc + 0 stays: -0.0 + 0 is +0.0
    loop_node = next(n for n in out.walk() if n.op == "loop")
    assert len(loop_node.outputs) == 1
    assert list(LAST_TIMINGS) == [name for name, _ in PIPELINE]
    assert run_pipeline(out) == out


def test_pipeline_runs_each_pass_on_graphs_with_if_and_loop() -> None:
    g = pipeline_graph()
    for _, fn in PIPELINE:
        check(fn, g)


def fake_verify(monkeypatch: pytest.MonkeyPatch, fail_after: int | None = None) -> list[Graph]:
    seen: list[Graph] = []

    def verify(g: Graph) -> None:
        seen.append(g)
        if fail_after is not None and len(seen) > fail_after:
            raise ValueError("broken graph")
    monkeypatch.setitem(sys.modules, "jitgraph.ir.verify", types.SimpleNamespace(verify=verify))
    return seen


def test_pipeline_verifies_after_each_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fake_verify(monkeypatch)
    n = len(PIPELINE) + 1                          # the input, then after each pass
    run_pipeline(pipeline_graph(), verify=True)
    assert len(seen) == n
    monkeypatch.setattr(config, "VERIFY", False)
    run_pipeline(pipeline_graph())
    assert len(seen) == n
    monkeypatch.setattr(config, "VERIFY", True)
    run_pipeline(pipeline_graph())
    assert len(seen) == 2 * n


def test_pipeline_names_the_pass_that_broke_the_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_verify(monkeypatch, fail_after=2)
    with pytest.raises(ValueError) as info:
        run_pipeline(pipeline_graph(), verify=True)
    assert f"after pass {PIPELINE[1][0]!r}" in "".join(getattr(info.value, "__notes__", []))
    fake_verify(monkeypatch, fail_after=0)
    with pytest.raises(ValueError) as info:
        run_pipeline(pipeline_graph(), verify=True)
    assert "given to run_pipeline" in "".join(getattr(info.value, "__notes__", []))


def test_pipeline_skips_verification_without_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jitgraph.ir.verify", None)   # import raises ImportError
    assert run_pipeline(pipeline_graph(), verify=True) is not None


def test_pipeline_dumps(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    run_pipeline(pipeline_graph(), dump_after=["cse"], verify=False)
    text = capsys.readouterr().out
    assert text.count("# after ") == 1 and "# after cse\ngraph f(" in text
    monkeypatch.setattr(config, "DUMP_AFTER", ("simplify", "dce"))
    run_pipeline(pipeline_graph(), verify=False)
    text = capsys.readouterr().out
    assert "# after simplify\n" in text and "# after dce\n" in text and "# after cse" not in text


def test_types_are_never_changed_by_the_pipeline() -> None:
    g = pipeline_graph()
    out = run_pipeline(g)
    assert [v.type for v in out.results] == [v.type for v in g.results]
    assert all(isinstance(v.type, TensorType) and v.type.known
               for n in out.walk() for v in n.outputs)


# ---------------------------------------------------------------- accumulate
def _accumulate_graph(index: tuple, gshape: str, *extra: str) -> Graph:
    b, (acc, g, *dyn) = make("f64[4,3]", gshape, *extra)
    s = b.op("scatter_add", g, *dyn, index=index, shape=(4, 3))
    return finish(b, b.op("add", s, acc))


@pytest.mark.parametrize(("index", "gshape"), [
    ((("int", 2),), "f64[3]"),
    ((("slice", None, None, None), ("int", -1)), "f64[4]"),
    ((("slice", 1, None, 2),), "f64[1,3]"),                  # broadcast along the rows
])
def test_accumulate_adds_into_the_region(index: tuple, gshape: str) -> None:
    from jitgraph.ir.verify import verify
    from jitgraph.passes.accumulate import accumulate
    g = _accumulate_graph(index, gshape)
    out = dce(accumulate(g))
    verify(out)
    assert counts(out)["scatter_add"] == 0 and counts(out)["setitem"] == 1
    f, h = InterpBackend().compile(g), InterpBackend().compile(out)
    rng = np.random.default_rng(0)
    for _ in range(4):
        args = random_args(g, rng)
        # equal as numbers: outside the region the dense sum turns -0.0 into +0.0
        np.testing.assert_array_equal(f(args)[0], h(args)[0])


def test_accumulate_leaves_array_indices_alone() -> None:
    from jitgraph.passes.accumulate import accumulate
    g = _accumulate_graph((("value",),), "f64[2,3]", "i64[2]")   # repeats must add up
    assert counts(accumulate(g))["scatter_add"] == 1
