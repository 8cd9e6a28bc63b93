"""dce: dead code elimination, walking each block backwards from its results.

Drops pure nodes whose outputs are unused; If outputs that are unused (and their block
results); If and Loop nodes with no used outputs whose blocks hold no impure node; and loop-
carried values that feed nothing but their own next value.

Given:
  %0 = exp(%x) : f32[3]
  %1, %2 = if(%c) {
    %3 = log(%x) : f32[3]
    yield %x, %3
  } else {
    yield %0, %x
  } : f32[3], f32[3]
  %4 = neg(%x) : f32[3]
  return %1
Result:
  %0 = exp(%x) : f32[3]
  %1 = if(%c) {
    yield %x
  } else {
    yield %0
  } : f32[3]
  return %1

Values are unique, so one `live` set serves every block: a value used inside a nested
block becomes live in the enclosing one before the backward walk reaches its definition.
"""
from __future__ import annotations

from ..ir.graph import STRUCTURAL, Block, Graph, Node, Value
from ..ops import OPS


def is_pure(n: Node) -> bool:
    """Removable: a pure registry op, or a structural node whose blocks hold only such."""
    if n.op in STRUCTURAL:
        return all(is_pure(m) for blk in n.blocks for m in blk.nodes)
    op = OPS.get(n.op)
    return op is not None and op.pure  # NOTE: an unknown op is kept: it may have effects


def _block(b: Block, live: set[Value], results: list[Value], params: list[Value]) -> Block:
    live.update(results)
    kept = []
    for n in reversed(b.nodes):
        m = _node(n, live)
        if m is not None:
            kept.append(m)
            live.update(m.inputs)
    return Block(params, kept[::-1], results)


def _pick(xs: list, keep: list[bool]) -> list:
    return [x for x, k in zip(xs, keep, strict=True) if k]


def _loop(n: Node, live: set[Value], used: list[bool]) -> Node:
    # NOTE: a carried value is needed if its output is used or the kept body reads its param;
    # grow that set to a fixed point (the live set only grows, so earlier rounds are subsumed).
    body, keep = n.blocks[0], used
    while True:
        new = _block(body, live, body.results[:1] + _pick(body.results[1:], keep), [])
        grown = [k or p in live for k, p in zip(keep, body.params[1:], strict=True)]
        if grown == keep:
            break
        keep = grown
    new.params = body.params[:1] + _pick(body.params[1:], keep)
    return Node("loop", n.inputs[:2] + _pick(n.inputs[2:], keep), n.attrs,
                _pick(n.outputs, keep), [new], n.loc)


def _node(n: Node, live: set[Value]) -> Node | None:
    used = [v in live for v in n.outputs]
    if not any(used) and is_pure(n):
        return None
    if n.op == "loop":
        return _loop(n, live, used)
    if n.op == "if":
        blocks = [_block(b, live, _pick(b.results, used), b.params) for b in n.blocks]
        return Node("if", n.inputs, n.attrs, _pick(n.outputs, used), blocks, n.loc)
    # NOTE: other nodes (fused included) keep every output, so every block result stays live.
    return Node(n.op, n.inputs, n.attrs, n.outputs,
                [_block(b, live, b.results, b.params) for b in n.blocks], n.loc)


def dce(g: Graph) -> Graph:
    return Graph(g.name, _block(g.body, set(), g.results, g.params), g.arg_names, g.loc)
