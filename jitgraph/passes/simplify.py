"""simplify: algebraic peephole rules (x*1, x+0, neg(neg(x)), double transpose ...), run
to a fixed point.

Given:
  %0 = constant 1.0 : pyfloat
  %1 = mul(%x, %0) : f32[3]
  %2 = neg(%1) : f32[3]
  %3 = neg(%2) : f32[3]
  %4 = reshape(%3) {shape=(3,)} : f32[3]
  return %4
Result (dce removes the dead nodes):
  %0 = constant 1.0 : pyfloat
  %1 = neg(%x) : f32[3]
  return %x

A rule sees a node whose inputs are already rewritten and proposes the value that replaces
its output, or None. The proposal is taken only if its type is exactly the node's (dtype,
shape, weakness), so no consumer can tell: int32 x * 1.0 stays, as does f32[3] x + a zero
of shape [2,3]. Rules are keyed by op name here and only fire on ops whose OpDef is pure.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.graph import Block, Graph, Node, Value
from ..ops import OPS

MAX_ROUNDS = 10
Defs = dict[Value, Node]          # value -> the (already rewritten) node that makes it
Rule = Callable[[Node, Defs], "Value | None"]


def _const(v: Value, defs: Defs) -> np.ndarray | None:
    n = defs.get(v)
    return np.asarray(n.attrs["value"]) if n is not None and n.op == "constant" else None


def _zeros(c: np.ndarray, signed: bool) -> bool:
    """Every element (both parts if complex) is a zero whose sign bit is `signed`."""
    parts = (c.real, c.imag) if c.dtype.kind == "c" else (c,)
    return all(bool(np.all(p == 0) and np.all(np.signbit(p) == signed)) for p in parts)


def _unit(absorbs: Callable[[str, np.ndarray], bool], commutes: bool) -> Rule:
    """x op c -> x (and c op x -> x if commutes) when the constant c leaves x unchanged."""
    def rule(n: Node, defs: Defs) -> Value | None:
        x, y = n.inputs
        for a, b in [(x, y), (y, x)] if commutes else [(x, y)]:
            c, dt = _const(b, defs), a.type.dtype
            if c is not None and dt is not None and absorbs(dt.kind, c):
                return a
        return None
    return rule


def _transpose(n: Node, defs: Defs) -> Value | None:
    q, inner = n.attrs["axes"], defs.get(n.inputs[0])
    if list(q) == sorted(q):
        return n.inputs[0]
    if inner is not None and inner.op == "transpose":  # output axis i is x's axis p[q[i]]
        p = inner.attrs["axes"]
        return inner.inputs[0] if all(p[a] == i for i, a in enumerate(q)) else None
    return None


def _involution(n: Node, defs: Defs) -> Value | None:
    inner = defs.get(n.inputs[0])
    return inner.inputs[0] if inner is not None and inner.op == n.op else None


def _one(kind: str, c: np.ndarray) -> bool:
    # NOTE: x*(1+0j) is not exact for complex x: inf*0 gives a nan part.
    return kind != "c" and bool(np.all(c == 1))


def _copy(n: Node, defs: Defs) -> Value | None:
    # a copy of a slice stays: it frees the sliced array's buffer for an in-place setitem
    # after it (setitem's VJP reads the region, then zeroes it)
    inner = defs.get(n.inputs[0])
    return None if inner is not None and inner.op == "getitem" else n.inputs[0]


RULES: dict[str, Rule] = {
    # NOTE: for these ops, output type == input type means the output is the input.
    **{op: lambda n, defs: n.inputs[0] for op in (
        "reshape", "broadcast_to", "cast", "sum_to_shape", "squeeze", "pos")},
    "copy": _copy,
    "transpose": _transpose, "neg": _involution, "logical_not": _involution,
    "invert": _involution, "mul": _unit(_one, True), "div": _unit(_one, False),
    "pow": _unit(_one, False),
    # NOTE: -0.0 + 0.0 is +0.0, so a float x absorbs only a -0.0 addend; x - (+0.0) == x.
    "add": _unit(lambda kind, c: _zeros(c, signed=kind in "fc"), True),
    "sub": _unit(lambda kind, c: _zeros(c, signed=False), False),
}


def _block(b: Block, sub: dict[Value, Value], defs: Defs, fired: list[str]) -> Block:
    nodes = []
    for n in b.nodes:
        m = Node(n.op, [sub.get(v, v) for v in n.inputs], n.attrs, n.outputs,
                 [_block(blk, sub, defs, fired) for blk in n.blocks], n.loc)
        rule = RULES.get(n.op)
        new = rule(m, defs) if rule is not None and OPS[n.op].pure else None
        if new is not None and new.type == n.out.type:  # NOTE: no consumer sees a change
            sub[n.out] = new
            fired.append(n.op)
            continue
        nodes.append(m)
        defs.update((v, m) for v in m.outputs)
    return Block(b.params, nodes, [sub.get(v, v) for v in b.results])


def simplify(g: Graph) -> Graph:
    for _ in range(MAX_ROUNDS):
        fired: list[str] = []
        g = Graph(g.name, _block(g.body, {}, {}, fired), g.arg_names, g.loc)
        if not fired:
            break
    return g
