"""lower_custom: after autodiff has used them, `custom_vjp` nodes are just their forward
graph and `custom_vjp_call` nodes are the identity on their first input; backends never
see either.

Given:
  %y = custom_vjp(%x) {bwd=@sigmoid_bwd, fwd=@sigmoid_fwd, name='sigmoid'} : f32[8]
Result (sigmoid_fwd's body, inlined):
  %0 = neg(%x) : f32[8]
  %1 = exp(%0) : f32[8]
  ...
"""
from __future__ import annotations

from ..ir.graph import Block, Builder, Graph, Node, Value, inline_graph


def lower_custom(g: Graph) -> Graph:
    if not any(n.op in ("custom_vjp", "custom_vjp_call") for n in g.walk()):
        return Graph(g.name, g.body, g.arg_names, g.loc)  # nothing to do: same body
    mapping: dict[Value, Value] = {}
    body = _lower_block(g.body, mapping, list(g.params))
    return Graph(g.name, body, g.arg_names, g.loc)


def _lower_block(src: Block, m: dict[Value, Value], params: list[Value]) -> Block:
    b = Builder(Block(params))
    for n in src.nodes:
        ins = [m.get(v, v) for v in n.inputs]
        if n.op == "custom_vjp":
            b.loc = n.loc
            m[n.out] = inline_graph(b, n.attrs["fwd"], ins)[0]
            continue
        if n.op == "custom_vjp_call":
            m[n.out] = ins[0]
            continue
        blocks = [_lower_block(blk, m, list(blk.params)) for blk in n.blocks]
        b.add(Node(n.op, ins, n.attrs, n.outputs, blocks, n.loc))
    b.block.results = [m.get(v, v) for v in src.results]
    return b.block
