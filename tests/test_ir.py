"""The IR's text form, verifier and DOT export.

- round trip: `parse_ir(str(g)) == g` and the text prints back unchanged (with locations too)
  for graphs covering if/loop/fused, multi-output nodes, getitem, reductions, casts, weak
  types and every attribute literal the printer writes;
- the interpreter gives the same results on the parsed graph as on the original;
- verify accepts those graphs and rejects hand-broken ones with a message naming the
  line and the value; parse_ir rejects malformed text naming the line;
- to_dot names every op.
The graphs are built with Builder only (no frontend), by the helpers below.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from jitgraph.backends.interp import InterpBackend
from jitgraph.errors import SourceLoc
from jitgraph.ir.dot import to_dot
from jitgraph.ir.graph import Block, Builder, Graph, Node, Value
from jitgraph.ir.parser import parse_ir
from jitgraph.ir.printer import INLINE_ARRAY_LIMIT, print_graph
from jitgraph.ir.verify import VerifyError, verify
from jitgraph.types import UNKNOWN, TensorType, parse_type

# -- helpers --------------------------------------------------------------------------


def T(text: str) -> TensorType:
    return parse_type(text)


def params(**types: str) -> list[Value]:
    return [Value(T(t), name) for name, t in types.items()]


def build_if(b: Builder, cond: Value, then: Callable[[Builder], Sequence[Value]],
             orelse: Callable[[Builder], Sequence[Value]], hint: str | None = None
             ) -> list[Value]:
    """An if node; its output types are the then block's result types."""
    blocks = []
    for fn in (then, orelse):
        bb = Builder(Block())
        bb.block.results = list(fn(bb))
        blocks.append(bb.block)
    types = [v.type for v in blocks[0].results]
    return b.node("if", [cond], None, types, blocks, hint=hint).outputs


def build_loop(b: Builder, trip: Value, cond: Value, init: Sequence[Value],
               body: Callable[..., Sequence[Value]]) -> list[Value]:
    """A loop node; body(builder, k, *carried) returns [cond_next, *next]."""
    k = Value(T("pyint"), "k")
    carried = [Value(v.type, v.hint) for v in init]
    bb = Builder(Block([k, *carried]))
    bb.block.results = list(body(bb, k, *carried))
    outs = b.node("loop", [trip, cond, *init], None, [v.type for v in init], [bb.block]).outputs
    for o, v in zip(outs, init, strict=True):
        o.hint = v.hint
    return outs


def build_fused(b: Builder, inputs: Sequence[Value],
                body: Callable[..., Sequence[Value]]) -> list[Value]:
    ps = [Value(v.type) for v in inputs]
    bb = Builder(Block(ps))
    bb.block.results = list(body(bb, *ps))
    return b.node("fused", inputs, None, [v.type for v in bb.block.results],
                  [bb.block]).outputs


def graph(name: str, ps: list[Value], body: Callable[..., Sequence[Value]]) -> Graph:
    b = Builder(Block(ps))
    b.block.results = list(body(b, *ps))
    return Graph(name, b.block)


def assert_same(a: Any, b: Any) -> None:
    """Same Python type, dtype, shape and values (NaN equal to NaN)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def same_attr(a: Any, b: Any) -> bool:
    """Deep equality of attribute values as the parser rebuilds them."""
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (tuple, list)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(same_attr(x, y) for x, y in zip(a, b)))
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(same_attr(a[k], b[k]) for k in a))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, complex):
        return isinstance(b, complex) and repr(a) == repr(b)
    return type(a) is type(b) and a == b


def check_round_trip(g: Graph) -> Graph:
    """Text without and with locations (`str(g)` prints them) parses back to equal text."""
    text = g.text(locations=False)
    assert parse_ir(text) == g
    assert parse_ir(text).text(locations=False) == text
    g2 = parse_ir(str(g))
    assert g2 == g
    assert str(g2) == str(g)
    return g2


# -- the graphs -----------------------------------------------------------------------

rng = np.random.default_rng(0)


def f32(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def model() -> tuple[Graph, list[Any]]:
    """STYLE.md's model: an if on a run-time scalar, matmul, reductions."""
    def body(b: Builder, x: Value, y: Value, w1: Value, w2a: Value, w2b: Value,
             prev_loss: Value) -> list[Value]:
        c = b.op("lt", prev_loss, b.const(5.0))
        (w2,) = build_if(b, c, lambda bb: [w2a], lambda bb: [w2b], hint="w2")
        h = b.op("maximum", b.op("matmul", x, w1), b.const(0.0), hint="h")
        y_pred = b.op("matmul", h, w2, hint="y_pred")
        d = b.op("pow", b.op("sub", y_pred, y), b.const(2))
        return [b.op("sum", d, hint="loss")]
    ps = params(x="f32[4,3]", y="f32[4,1]", w1="f32[3,5]", w2a="f32[5,1]", w2b="f32[5,1]",
                prev_loss="f64[]")
    args = [f32(4, 3), f32(4, 1), f32(3, 5), f32(5, 1), f32(5, 1), np.float64(3.0)]
    return graph("model", ps, body), args


def loop() -> tuple[Graph, list[Any]]:
    """A loop with two carried values (a multi-output node) and an if nested inside."""
    def body(b: Builder, s0: Value, n: Value) -> list[Value]:
        def step(bb: Builder, k: Value, s: Value, t: Value) -> list[Value]:
            even = bb.op("eq", bb.op("mod", k, bb.const(2)), bb.const(0))
            (s1,) = build_if(bb, even, lambda b2: [b2.op("mul", s, k)],
                             lambda b2: [b2.op("add", s, t)], hint="s")
            t1 = bb.op("add", t, bb.const(1.5), hint="t")
            return [bb.op("lt", t1, bb.const(100.0)), s1, t1]
        s, t = build_loop(b, n, b.const(True), [s0, b.const(0.5, hint="t")], step)
        return [s, t]
    ps = params(s="f32[3]", n="pyint")
    return graph("loop", ps, body), [f32(3), 6]


def fused() -> tuple[Graph, list[Any]]:
    """A two-output fused node, then reductions of its outputs."""
    def body(b: Builder, x: Value, y: Value) -> list[Value]:
        def inner(bb: Builder, a: Value, c: Value) -> list[Value]:
            m = bb.op("mul", a, c)
            return [bb.op("add", m, a), bb.op("tanh", m)]
        u, v = build_fused(b, [x, y], inner)
        return [b.op("sum", u, axis=(0, 1)), b.op("max", v, axis=1, keepdims=True)]
    ps = params(x="f32[2,3]", y="f32[1,3]")
    return graph("fused", ps, body), [f32(2, 3), f32(1, 3)]


def indexing() -> tuple[Graph, list[Any]]:
    """getitem with index attrs and a run-time index, reductions with tuple axes, casts."""
    def body(b: Builder, x: Value, i: Value, f: Value) -> list[Value]:
        g1 = b.op("getitem", x, i, index=(("int", 1), ("slice", None, None, 2), ("value",)))
        g2 = b.op("getitem", x, index=(("ellipsis",), ("none",), ("slice", 1, -1, None)))
        s = b.op("sum", x, axis=(0, 2), keepdims=True)
        m = b.op("mean", x, axis=(-1,), dtype=np.dtype(np.float64))
        c16 = b.op("cast", g1, dtype=np.dtype(np.float16))
        ci = b.op("cast", m, dtype=np.dtype(np.int32))
        w = b.op("cast", b.op("sum", g2), dtype=np.dtype(np.float64), weak=True, hint="w")
        fb = b.op("cast", f, dtype=np.dtype(np.bool_))
        am = b.op("argmax", x, axis=-1)
        t = b.op("transpose", x, axes=(2, 0, 1))
        r = b.op("reshape", t, shape=(-1, 4))
        cat = b.op("concatenate", r, r, r, axis=0)
        st = b.op("stack", c16, c16, axis=1)
        return [g1, s, c16, ci, w, fb, am, cat, st]
    ps = params(x="f32[4,5,6]", i="pyint", f="f64[3]")
    return graph("indexing", ps, body), [f32(4, 5, 6), 2, np.array([0.0, 1.0, -2.0])]


def weak() -> tuple[Graph, list[Any]]:
    """Python scalars: pyfloat/pyint/pybool params and constants stay weak; inf/nan attrs."""
    def body(b: Builder, a: Value, n: Value, flag: Value) -> list[Value]:
        s = b.op("add", a, n, hint="s")
        big = b.op("minimum", s, b.const(float("inf")))
        neg = b.op("maximum", big, b.const(float("-inf")))
        ok = b.op("logical_and", flag, b.op("lt", n, b.const(3)))
        w = b.op("where", ok, neg, b.const(float("nan")))
        return [w, ok, b.op("mul", n, b.const(-7)), b.op("logical_not", b.const(True))]
    ps = params(a="pyfloat", n="pyint", flag="pybool")
    return graph("weak", ps, body), [1.25, 2, True]


def constants() -> tuple[Graph, list[Any]]:
    """Inline arrays of several dtypes and ranks (0-d included), NaN/inf inside arrays."""
    arrays = [np.array([[1.0, -np.inf], [np.nan, 0.1]], np.float32),
              np.arange(6, dtype=np.int64).reshape(2, 3), np.array([True, False]),
              np.array([1 + 2j, -0.5j], np.complex64), np.array(2.5, np.float32),
              np.array([], np.float64), np.zeros((0, 3), np.float32),
              np.array([np.iinfo(np.uint64).max], np.uint64)]

    def body(b: Builder, x: Value) -> list[Value]:
        vs = [b.const(a) for a in arrays]
        return [b.op("add", x, vs[0]), *vs[1:], b.const(1 - 2j), b.const(-0.0)]
    return graph("constants", params(x="f32[2,2]"), body), [f32(2, 2)]


GRAPHS: dict[str, Callable[[], tuple[Graph, list[Any]]]] = {
    "model": model, "loop": loop, "fused": fused, "indexing": indexing, "weak": weak,
    "constants": constants,
}


def generic() -> Graph:
    """A generic graph (types `?`) with Values inside attrs, repeated and odd hints, and
    source locations: what the frontend makes before specialization."""
    x, n = Value(UNKNOWN, "x"), Value(UNKNOWN, "n")
    b = Builder(Block([x, n]), loc=SourceLoc("/home/user/proj/model.py", 7, 4))
    h = b.op("exp", x, hint="h")
    h = b.op("mul", h, h, hint="h")
    h2 = b.op("add", h, b.const(1.0), hint="h")
    r = b.node("reshape", [h2], {"shape": (n, 3)}, hint="3d").out
    s = b.node("sum", [r], {"axis": [n, -1], "keepdims": False}, hint="a.b").out
    b.block.results = [s, h]
    return Graph("generic", b.block)


BIG = INLINE_ARRAY_LIMIT + 1  # arrays this big print elided


def attrs_graph() -> tuple[Graph, dict[str, Any]]:
    """One node holding every attribute literal the printer writes (parse-only: the op is
    not in the registry)."""
    x = Value(T("f32[3]"), "x")
    attrs: dict[str, Any] = {
        "i": -3, "big": 2**70, "f": 0.1, "e": 1e-300, "inf": float("inf"),
        "ninf": float("-inf"), "nan": float("nan"), "negzero": -0.0, "t": True, "n": None,
        "s": "it's a \"str\" # not a comment {}", "empty": (), "one": (3,),
        "nested": ((1, 2), [3, (4,)], []), "dt": np.dtype(np.float32),
        "dts": (np.dtype(np.bool_), np.dtype(np.int8), np.dtype(np.complex128)),
        "arr": np.array([[1, 2]], np.int16), "big_arr": np.ones((1, BIG), np.float64),
        "c": 1 - 2j, "cj": -1j, "cz": complex(-0.0, 1.0), "cn": complex(float("nan"), -1),
        "d": {"k": 1, 2: (x,)}, "v": x, "sl": slice(1, None, -1), "ell": Ellipsis,
    }
    b = Builder(Block([x]))
    y = b.node("custom", [x], attrs, (T("f32[3]"),)).out
    b.block.results = [y]
    return Graph("attrs", b.block), attrs


# -- round trip -------------------------------------------------------------------------


@pytest.mark.parametrize("name", GRAPHS)
def test_round_trip(name: str) -> None:
    g, _ = GRAPHS[name]()
    check_round_trip(g)


@pytest.mark.parametrize("name", GRAPHS)
def test_interp_of_parsed_equals_original(name: str) -> None:
    g, args = GRAPHS[name]()
    g2 = parse_ir(str(g))
    want = InterpBackend().compile(g)(args)
    got = InterpBackend().compile(g2)(args)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert_same(a, b)


@pytest.mark.parametrize("name", GRAPHS)
def test_verify_accepts_typed_graphs(name: str) -> None:
    g, _ = GRAPHS[name]()
    verify(g, typed=True)
    verify(parse_ir(str(g)), typed=True)


def test_model_text() -> None:
    """The text users see (STYLE.md section 3), pinned."""
    g, _ = model()
    assert str(g) == """\
graph model(%x: f32[4,3], %y: f32[4,1], %w1: f32[3,5], %w2a: f32[5,1], %w2b: f32[5,1], \
%prev_loss: f64[]) {
  %0 = constant 5.0 : pyfloat
  %1 = lt(%prev_loss, %0) : bool[]
  %w2 = if(%1) {
    yield %w2a
  } else {
    yield %w2b
  } : f32[5,1]
  %2 = matmul(%x, %w1) : f32[4,5]
  %3 = constant 0.0 : pyfloat
  %h = maximum(%2, %3) : f32[4,5]
  %y_pred = matmul(%h, %w2) : f32[4,1]
  %4 = sub(%y_pred, %y) : f32[4,1]
  %5 = constant 2 : pyint
  %6 = pow(%4, %5) : f32[4,1]
  %loss = sum(%6) {axis=(0, 1), dtype=None, keepdims=False} : f32[]
  return %loss
}
"""


def test_loop_text_has_block_params_and_multiple_outputs() -> None:
    g, _ = loop()
    text = str(g)
    assert "%s.1, %t.1 = loop(%n, %0, %s, %t) (%k: pyint, %s.2: f32[3], %t.2: pyfloat) {" in text
    assert "} else {" in text
    g2 = check_round_trip(g)
    (node,) = [n for n in g2.body.nodes if n.op == "loop"]
    assert [v.hint for v in node.outputs] == ["s", "t"]
    assert [str(p.type) for p in node.blocks[0].params] == ["pyint", "f32[3]", "pyfloat"]


def test_generic_graph_round_trip_and_hints() -> None:
    g = generic()
    g2 = check_round_trip(g)
    verify(g2)  # types unknown: structure only
    text = str(g)
    assert "%h.1 = mul(%h, %h) : ?" in text and "%h.2 = add(%h.1, %0) : ?" in text
    assert "%v3d = reshape(%h.2) {shape=(%n, 3)} : ?" in text
    assert "%a_b = sum(%v3d) {axis=[%n, -1], keepdims=False} : ?" in text
    hints = [v.hint for n in g2.walk() for v in n.outputs]
    assert hints == ["h", "h", None, "h", "v3d", "a_b"]
    # attrs hold the parsed graph's own Values
    reshape = next(n for n in g2.walk() if n.op == "reshape")
    assert reshape.attrs["shape"][0] is g2.params[1]


def test_locations_restore_basename_and_line() -> None:
    g = generic()
    text = g.text(locations=True)
    assert "  # model.py:7" in text
    g2 = parse_ir(text)
    assert all(n.loc == SourceLoc("model.py", 7) for n in g2.walk())
    assert g2.text(locations=True) == text
    assert all(n.loc is None for n in parse_ir(g.text(locations=False)).walk())


def test_attribute_literals() -> None:
    g, attrs = attrs_graph()
    g2 = check_round_trip(g)
    got = g2.body.nodes[0].attrs
    for k, v in attrs.items():
        if k == "big_arr":  # elided in the text: zeros of the same dtype and shape
            assert same_attr(got[k], np.zeros((1, BIG))), k
        elif k == "d":
            assert got[k]["k"] == 1 and got[k][2][0] is g2.params[0]
        elif k == "v":
            assert got[k] is g2.params[0]
        else:
            assert same_attr(got[k], v), (k, got[k], v)
    assert f"big_arr=array<f64[1,{BIG}]>" in str(g)


def test_empty_outputs_yields_and_returns() -> None:
    text = """\
graph nothing() {
  %0 = constant 3 : pyint
  %1 = constant True : pybool
  loop(%0, %1) (%k: pyint) {
    yield %1
  } :
  return
}
"""
    g = parse_ir(text)
    assert str(g) == text
    verify(g)
    assert g.body.nodes[2].outputs == [] and g.results == []


def test_strong_scalar_constant_keeps_its_dtype() -> None:
    g = parse_ir("graph f() {\n  %0 = constant 2.5 : f32[]\n  return %0\n}\n")
    (out,) = InterpBackend().compile(g)([])
    assert np.asarray(out).dtype == np.float32
    verify(g, typed=True)


def test_forward_reference_parses_and_verify_reports_it() -> None:
    text = """\
graph f(%x: f32[3]) {
  %0 = add(%x, %1) : f32[3]
  %1 = neg(%x) : f32[3]
  return %0
}
"""
    g = parse_ir(text)
    assert str(g) == text
    with pytest.raises(VerifyError, match=r"line 2: input 1 of add %1 is used before its "
                                          r"definition\n    %0 = add\(%x, %1\)"):
        verify(g)


# -- parse errors -----------------------------------------------------------------------

GOOD = "graph f(%x: f32[3]) {\n  %0 = neg(%x) : f32[3]\n  return %0\n}\n"


@pytest.mark.parametrize("text, line, msg", [
    ("", 1, "expected 'graph NAME"),
    ("func f() {\n}\n", 1, "expected 'graph NAME"),
    ("graph f(%x f32[3]) {\n  return %x\n}\n", 1, "expected ':'"),
    ("graph f(%x: f99[3]) {\n  return %x\n}\n", 1, "bad type 'f99"),
    (GOOD.replace("neg(%x)", "neg(%x"), 2, "expected ')', got ':'"),
    (GOOD.replace("neg(%x) :", "neg(%x) {axis=1 :"), 2, "expected '}'"),
    (GOOD.replace(": f32[3]\n  return", ": f32[3], f32[3]\n  return"), 2,
     "1 output(s) but 2 type(s)"),
    (GOOD.replace("neg(%x)", "neg(%y)"), 2, "%y is used but never defined"),
    (GOOD.replace("neg(%x)", "neg(%<undefined>)"), 2, "not defined when printed"),
    (GOOD.replace("%0 = neg", "%x = neg"), 2, "%x is defined twice"),
    (GOOD.replace("%0 = neg(%x)", "%0 = constant array(1, f99)"), 2, "unknown dtype"),
    (GOOD.replace("%0 = neg(%x)", "%0 = constant foo"), 2, "unknown name 'foo'"),
    (GOOD.replace("%0 = neg(%x)", "%0 = constant (1)"), 2, "trailing comma"),
    (GOOD.replace("neg(%x)", "neg(%x) {a=1, a=2}"), 2, "attribute a given twice"),
    (GOOD.replace("neg(%x)", "neg(%x) $"), 2, "unexpected character"),
    (GOOD.replace("  return %0\n", ""), 3, "block ends without 'return'"),
    (GOOD.replace("  return %0\n", "  yield %0\n"), 3, "'yield' outside of a block"),
    (GOOD.replace("}\n", ""), 3, "missing '}'"),
    (GOOD + "graph g() {\n", 5, "text after the end"),
    (GOOD.replace("  return %0\n", "  return %0\n  %1 = neg(%0) : f32[3]\n"), 4,
     "only a closing brace"),
    ("graph f(%c: bool[]) {\n  %0 = if(%c) {\n    yield %c\n  }\n  return %0\n}\n", 4,
     "expected ':'"),
])
def test_parse_errors(text: str, line: int, msg: str) -> None:
    with pytest.raises(ValueError, match=rf"^line {line}: (.|\n)*{re.escape(msg)}"):
        parse_ir(text)


# -- verify rejects broken graphs -------------------------------------------------------


def simple() -> tuple[Graph, list[Node]]:
    """x -> neg -> add(neg, x) -> exp, typed f32[3]."""
    x = Value(T("f32[3]"), "x")
    b = Builder(Block([x]))
    a = b.op("neg", x, hint="a")
    c = b.op("add", a, x, hint="c")
    d = b.op("exp", c, hint="d")
    b.block.results = [d]
    return Graph("simple", b.block), b.block.nodes


def broken(fix: Callable[[Graph, list[Node]], None]) -> Graph:
    g, nodes = simple()
    fix(g, nodes)
    return g


def if_graph(then_uses_else: bool = False, escape: bool = False) -> Graph:
    x = Value(T("f32[3]"), "x")
    b = Builder(Block([x]))
    c = b.op("gt", b.op("sum", x), b.const(0.0), hint="c")
    then, orelse = Builder(Block()), Builder(Block())
    t = then.op("neg", x, hint="t")
    e = orelse.op("exp", x, hint="e")
    then.block.results = [t]
    orelse.block.results = [t if then_uses_else else e]
    (y,) = b.node("if", [c], None, [t.type], [then.block, orelse.block], hint="y").outputs
    b.block.results = [t if escape else y]
    return Graph("cond", b.block)


def loop_graph() -> tuple[Graph, Node]:
    g, _ = loop()
    (node,) = [n for n in g.body.nodes if n.op == "loop"]
    return g, node


def fused_graph() -> tuple[Graph, Node]:
    g, _ = fused()
    (node,) = [n for n in g.body.nodes if n.op == "fused"]
    return g, node


def test_verify_use_before_def() -> None:
    g = broken(lambda g, ns: ns.reverse())
    with pytest.raises(VerifyError, match=r"graph simple, line 2: input 0 of exp %c is used "
                                          r"before its definition\n    %d = exp\(%c\)"):
        verify(g)
    assert "%d = exp(%c)" in str(g)  # the printer names forward references


def test_verify_value_from_sibling_block() -> None:
    with pytest.raises(VerifyError, match=r"yielded value %t is defined on line 6 in a "
                                          r"block that does not enclose this use"):
        verify(if_graph(then_uses_else=True))
    verify(if_graph())


def test_verify_value_escaping_its_block() -> None:
    with pytest.raises(VerifyError, match=r"line 12: returned value %t is defined on line 6"
                                          r"(.|\n)*return %t"):
        verify(if_graph(escape=True))


def test_verify_value_defined_nowhere() -> None:
    def fix(g: Graph, ns: list[Node]) -> None:
        ns[1].inputs[1] = Value(T("f32[3]"), "ghost")
    with pytest.raises(VerifyError, match="input 1 of add is a value that no node defines "
                                          r"\(hint 'ghost'\)"):
        verify(broken(fix))


def test_verify_defined_twice() -> None:
    def fix(g: Graph, ns: list[Node]) -> None:
        ns[2].outputs = ns[1].outputs
    with pytest.raises(VerifyError, match=r"line 4: %c.1 is defined twice \(first on line 3\)"):
        verify(broken(fix))


def test_verify_wrong_arity() -> None:
    def one_input(g: Graph, ns: list[Node]) -> None:
        ns[1].inputs.pop()
    with pytest.raises(VerifyError, match=r"line 3: add takes 2 input\(s\), got 1\n"
                                          r"    %c = add\(%a\) : f32\[3\]"):
        verify(broken(one_input))

    def concat(g: Graph, ns: list[Node]) -> None:
        ns[1].op, ns[1].inputs, ns[1].attrs = "concatenate", [], {"axis": 0}
    with pytest.raises(VerifyError, match="concatenate takes at least 1 input, got 0"):
        verify(broken(concat))

    def two_outputs(g: Graph, ns: list[Node]) -> None:
        ns[0].outputs.append(Value(T("f32[3]")))
    with pytest.raises(VerifyError, match=r"neg has 1 output\(s\), got 2"):
        verify(broken(two_outputs))


def test_verify_unknown_op_and_attr() -> None:
    def op(g: Graph, ns: list[Node]) -> None:
        ns[0].op = "frobnicate"
    with pytest.raises(VerifyError, match="unknown op 'frobnicate'"):
        verify(broken(op))

    def attr(g: Graph, ns: list[Node]) -> None:
        ns[0].attrs["axis"] = 1
    with pytest.raises(VerifyError, match=r"neg has no attribute\(s\) axis"):
        verify(broken(attr))


def test_verify_wrong_type() -> None:
    def fix(g: Graph, ns: list[Node]) -> None:
        ns[1].outputs[0].type = T("f64[3]")
    g = broken(fix)
    with pytest.raises(VerifyError, match=r"line 3: add gives f32\[3\] for these inputs, but "
                                          r"the node says f64\[3\]"):
        verify(g)
    verify(g, typed=False)

    def bad_shapes(g: Graph, ns: list[Node]) -> None:
        g.params[0].type = T("f32[2]")  # neg still says f32[3]
    with pytest.raises(VerifyError, match=r"line 2: neg gives f32\[2\] for these inputs"):
        verify(broken(bad_shapes))

    def no_rule(g: Graph, ns: list[Node]) -> None:
        g.params[0].type = T("f32[2]")
        del ns[0]  # add(%a, %x) sees f32[3] and f32[2]: broadcasting fails
        g.params.append(ns[0].inputs[0])
    with pytest.raises(VerifyError, match=r"line 2: the type rule of add rejects inputs "
                                          r"\(f32\[3\], f32\[2\]\): shapes"):
        verify(broken(no_rule))


def test_verify_typed_requires_known_types_and_no_value_attrs() -> None:
    g = generic()
    verify(g)
    with pytest.raises(VerifyError, match=r"line 1: the type of %x is unknown in a typed graph"):
        verify(g, typed=True)

    def value_attr(g: Graph, ns: list[Node]) -> None:
        ns[2].op, ns[2].attrs = "sum", {"axis": g.params[0], "keepdims": False}
    with pytest.raises(VerifyError, match="attribute axis of sum holds the value %x in a "
                                          "fully typed graph"):
        verify(broken(value_attr))


def test_verify_if_shape() -> None:
    g = if_graph()
    (node,) = [n for n in g.body.nodes if n.op == "if"]
    node.blocks[1].results.append(node.blocks[1].results[0])
    with pytest.raises(VerifyError, match=r"line 5: the else block yields 2 value\(s\) for 1 "
                                          r"output\(s\)"):
        verify(g)

    g = if_graph()
    (node,) = [n for n in g.body.nodes if n.op == "if"]
    node.outputs[0].type = T("f64[3]")
    with pytest.raises(VerifyError, match=r"the then block yields %t: type f32\[3\], expected "
                                          r"f64\[3\]"):
        verify(g)

    g = if_graph()
    (node,) = [n for n in g.body.nodes if n.op == "if"]
    node.inputs[0] = g.params[0]
    with pytest.raises(VerifyError, match=r"condition %x has type f32\[3\]; it must hold one"):
        verify(g)


def test_verify_loop_arity() -> None:
    g, node = loop_graph()
    node.blocks[0].params.pop()
    with pytest.raises(VerifyError, match=r"loop body has 2 param\(s\); it needs 1 \+ 2"):
        verify(g)

    g, node = loop_graph()
    node.blocks[0].results.pop(0)
    with pytest.raises(VerifyError, match=r"loop body yields 2 value\(s\); it needs 1 \+ 2"):
        verify(g)

    g, node = loop_graph()
    node.outputs.pop()
    with pytest.raises(VerifyError, match=r"loop has 1 output\(s\) but carries 2 value\(s\)"):
        verify(g)

    g, node = loop_graph()
    node.inputs = node.inputs[:1]
    with pytest.raises(VerifyError, match=r"loop takes \[trip_count, cond, \*init\], got 1"):
        verify(g)


def test_verify_loop_types() -> None:
    g, node = loop_graph()
    node.blocks[0].params[2].type = T("f64[]")
    with pytest.raises(VerifyError, match=r"carried param 1 %t.2: type f64\[\], expected "
                                          r"pyfloat"):
        verify(g)

    g, node = loop_graph()
    node.blocks[0].params[0].type = T("f32[]")
    with pytest.raises(VerifyError, match=r"iteration number %k has type f32\[\]; it must be "
                                          r"an integer scalar"):
        verify(g)


def test_verify_fused() -> None:
    g, node = fused_graph()
    node.blocks[0].params.pop()
    with pytest.raises(VerifyError, match=r"fused body has 1 param\(s\) for 2 input\(s\)"):
        verify(g)

    g, node = fused_graph()
    node.blocks[0].nodes[0].inputs[1] = g.params[1]  # captures %y instead of its param
    with pytest.raises(VerifyError, match="input 1 of mul %y is defined on line 1 in a block "
                                          r"that does not enclose this use \(a fused body"):
        verify(g)


def test_verify_constant() -> None:
    def fix(g: Graph, ns: list[Node]) -> None:
        b = Builder(Block())
        c = b.const(np.ones(3, np.float64))
        c.type = T("f32[3]")
        ns.insert(0, b.block.nodes[0])
    with pytest.raises(VerifyError, match=r"constant of type f32\[3\] holds a float64 value"):
        verify(broken(fix))


# -- dot --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GRAPHS)
def test_to_dot_names_every_op(name: str) -> None:
    g, _ = GRAPHS[name]()
    dot = g.to_dot()
    assert dot == to_dot(g)
    assert dot.startswith(f'digraph "{name}" {{') and dot.rstrip().endswith("}")
    for n in g.walk():
        assert re.search(rf'label="[^"]*{n.op}', dot), n.op
    blocks = sum(len(n.blocks) for n in g.walk())
    assert dot.count("subgraph cluster_") == blocks
    assert dot.count("{") == dot.count("}")


def test_to_dot_draws_broken_graphs() -> None:
    def fix(g: Graph, ns: list[Node]) -> None:
        ns[1].inputs[1] = Value(T("f32[3]"), "ghost")
    dot = to_dot(broken(fix))
    assert "(undefined)" in dot and "color=red" in dot


def test_print_graph_signature() -> None:
    g = generic()
    assert print_graph(g) == g.text(locations=True)
    assert print_graph(g, locations=False) == g.text(locations=False)


def test_verify_output_count_of_registry_ops() -> None:
    """One output per registry op, unless its OpDef declares `nout` (the generic `grad`
    node: one output per argnum, plus the value)."""
    x, y = Value(UNKNOWN, "x"), Value(UNKNOWN, "y")
    b = Builder(Block([x, y]))
    node = b.node("grad", [x, y], {"fn": "f", "argnums": (0, 1), "value": False},
                  [UNKNOWN, UNKNOWN])
    b.block.results = node.outputs
    g = Graph("grad_f", b.block)
    check_round_trip(g)
    verify(g)
    b2 = Builder(Block([x, y]))
    bad = b2.node("grad", [x, y], {"fn": "f", "argnums": (0, 1), "value": False},
                  [UNKNOWN, UNKNOWN, UNKNOWN])
    b2.block.results = bad.outputs
    with pytest.raises(VerifyError, match=r"grad has 2 output\(s\), got 3"):
        verify(Graph("grad_f", b2.block))
