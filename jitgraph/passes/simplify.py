"""simplify: algebraic peephole rules (x*1, x+0, neg(neg(x)), double transpose ...), run
to a fixed point.

Given:
  %0 = constant 1.0 : pyfloat
  %1 = mul(%x, %0) : f32[3]
  %2 = neg(%1) : f32[3]
  %3 = neg(%2) : f32[3]
  %4 = reshape(%3) {shape=(3,)} : f32[3]
  return %4
Result:
  %0 = constant 1.0 : pyfloat
  return %x
(dead constants are left for dce.)

A rule sees a node whose inputs are already rewritten and returns the value that replaces
its output, or None. Every rule demands that the replacement has exactly the node's type
(dtype, shape, weakness), so no consumer can tell. Rules are keyed by op name here, and
only fire on ops whose OpDef says they are pure.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.graph import Block, Graph, Node, Value
from ..ops import OPS

MAX_ROUNDS = 10
Defs = dict[Value, Node]          # value -> the (already rewritten) node that makes it


def _const(v: Value, defs: Defs) -> np.ndarray | None:
    n = defs.get(v)
    return np.asarray(n.attrs["value"]) if n is not None and n.op == "constant" else None


def _zeros(c: np.ndarray, signed: bool) -> bool:
    """Every element (both parts if complex) is a zero whose sign bit is `signed`."""
    parts = (c.real, c.imag) if c.dtype.kind == "c" else (c,)
    return all(bool(np.all(p == 0) and np.all(np.signbit(p) == signed)) for p in parts)


def _keep_type(n: Node, x: Value) -> Value | None:
    return x if x.type == n.out.type else None


def _identity(x: Value, c: np.ndarray, n: Node, elem: str) -> Value | None:
    kind = x.type.dtype.kind  # type: ignore[union-attr]
    if elem == "one":  # NOTE: complex x*(1+0j) is not exact (inf*0 = nan in the cross term)
        ok = kind != "c" and bool(np.all(c == 1))
    elif elem == "add0":  # NOTE: -0.0 + +0.0 = +0.0, so a float x only absorbs -0.0
        ok = _zeros(c, signed=kind in "fc")
    else:  # "sub0": x - +0.0 == x for every x, -0.0 included
        ok = _zeros(c, signed=False)
    return _keep_type(n, x) if ok else None


def _unit(elem: str, commutes: bool) -> Callable[[Node, Defs], Value | None]:
    def rule(n: Node, defs: Defs) -> Value | None:
        x, y = n.inputs
        pairs = [(x, y), (y, x)] if commutes else [(x, y)]
        for a, b in pairs:
            c = _const(b, defs)
            r = None if c is None else _identity(a, c, n, elem)
            if r is not None:
                return r
        return None
    return rule


def _transpose(n: Node, defs: Defs) -> Value | None:
    q = n.attrs["axes"]
    if tuple(q) == tuple(range(len(q))):
        return _keep_type(n, n.inputs[0])
    inner = defs.get(n.inputs[0])
    if inner is None or inner.op != "transpose":
        return None
    p = inner.attrs["axes"]  # output axis i is input axis p[q[i]]
    return _keep_type(n, inner.inputs[0]) if all(p[a] == i for i, a in enumerate(q)) else None


def _involution(n: Node, defs: Defs) -> Value | None:
    inner = defs.get(n.inputs[0])
    return _keep_type(n, inner.inputs[0]) if inner is not None and inner.op == n.op else None


# NOTE: for these ops, output type == input type means the op returns its input unchanged.
_SAME = {op: lambda n, defs: _keep_type(n, n.inputs[0]) for op in (
    "reshape", "broadcast_to", "cast", "sum_to_shape", "squeeze", "copy", "pos")}
RULES: dict[str, Callable[[Node, Defs], Value | None]] = {
    **_SAME, "transpose": _transpose, "neg": _involution, "logical_not": _involution,
    "invert": _involution, "mul": _unit("one", True), "div": _unit("one", False),
    "pow": _unit("one", False), "add": _unit("add0", True), "sub": _unit("sub0", False),
}


def _block(b: Block, sub: dict[Value, Value], defs: Defs, fired: list[str]) -> Block:
    nodes = []
    for n in b.nodes:
        m = Node(n.op, [sub.get(v, v) for v in n.inputs], n.attrs, n.outputs,
                 [_block(blk, sub, defs, fired) for blk in n.blocks], n.loc)
        rule = RULES.get(n.op)
        new = rule(m, defs) if rule is not None and OPS[n.op].pure else None
        if new is not None:
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
