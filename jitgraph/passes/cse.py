"""cse: common subexpression elimination. Pure nodes with the same op, inputs and attrs,
and constants with the same type and value (compared bit for bit), become one node.

Given:
  %0 = constant array(1.0, f32) : f32[]
  %1 = add(%x, %0) : f32[3]
  %2 = constant array(1.0, f32) : f32[]
  %3 = add(%x, %2) : f32[3]
  %4 = mul(%1, %3) : f32[3]
  return %4
Result:
  %0 = constant array(1.0, f32) : f32[]
  %1 = add(%x, %0) : f32[3]
  %2 = mul(%1, %1) : f32[3]
  return %2

A node inside an If branch or a Loop body may reuse a value from an enclosing block (it is
computed before the structural node runs), never one from a sibling block, and a fused body
(which sees only its own params) nothing from outside. Impure nodes
(OpDef.pure False) and structural if/loop/fused nodes are never merged.
"""
from __future__ import annotations

import struct
from collections.abc import Hashable
from typing import Any

import numpy as np

from ..ir.graph import Block, Graph, Node, Value
from ..ops import OPS


def freeze(x: Any) -> Hashable:
    """A hashable key equal for equal values. Floats compare by bits, so 0.0 != -0.0 and
    nan == nan (same payload); bool/int/float are tagged, since True == 1 == 1.0 in Python."""
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, np.generic):
        return ("scalar", x.dtype.str, x.tobytes())
    if isinstance(x, float):
        return ("float", struct.pack("<d", x))
    if isinstance(x, complex):
        return ("complex", struct.pack("<dd", x.real, x.imag))
    if isinstance(x, np.dtype):
        return ("dtype", x.str)
    if isinstance(x, dict):
        return ("dict", tuple(sorted((k, freeze(v)) for k, v in x.items())))
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(freeze(e) for e in x))
    if x is None or isinstance(x, (bool, int, str)):
        return (type(x).__name__, x)
    # NOTE: anything else (a Graph of custom_vjp, a Value) by identity: Graph equality is by
    # printed text, which elides big constants.
    return ("id", id(x))


def _key(n: Node, ins: list[Value]) -> Hashable | None:
    if n.op == "constant":
        return ("constant", n.out.type, freeze(n.attrs["value"]))
    op = OPS.get(n.op)
    if op is None or not op.pure or n.blocks:
        return None
    return (n.op, tuple(ins), freeze(n.attrs), tuple(v.type for v in n.outputs))


def _block(b: Block, sub: dict[Value, Value], seen: dict[Hashable, list[Value]]) -> Block:
    seen = dict(seen)  # NOTE: what this block defines stays invisible to outer and sibling blocks
    nodes = []
    for n in b.nodes:
        ins = [sub.get(v, v) for v in n.inputs]
        key = _key(n, ins)
        if key is not None and key in seen:
            sub.update(zip(n.outputs, seen[key], strict=True))
            continue
        # NOTE: a fused body sees only its own params, so it starts with an empty table.
        inner = {} if n.op == "fused" else seen
        nodes.append(Node(n.op, ins, n.attrs, n.outputs,
                          [_block(blk, sub, inner) for blk in n.blocks], n.loc))
        if key is not None:
            seen[key] = n.outputs
    return Block(b.params, nodes, [sub.get(v, v) for v in b.results])


def cse(g: Graph) -> Graph:
    return Graph(g.name, _block(g.body, {}, {}), g.arg_names, g.loc)
