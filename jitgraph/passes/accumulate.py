"""accumulate: `a + scatter_add(g, idx)` -> `setitem(a, a[idx] + g, idx)` for basic
indices (static ints and slices, run-time integer scalars).

The gradient of `x[i]` is a zeros array of x's shape with g at [i] (getitem's VJP), and a
loop's reverse pass adds one such array per iteration to the running cotangent of x: a
whole-array zero fill and add for every element read. With basic indices the region is a
view and no element repeats, so adding g to that region alone is the same sum; setitem
then writes it back in place when the running cotangent has no other reader, and a
reverse loop costs about what the forward one does (`out[i] = out[i - 1] + x[i]` over
2000x50 float64: gradient 175 -> 0.15 ms). Integer-array indices stay
as they are: repeated indices must accumulate, which setitem would not. The one
difference from the dense sum: outside the region a -0.0 stays -0.0 (the dense form adds
+0.0 to it), which no gradient consumer can tell.

Given:
  %s = scatter_add(%g, %i) {index=(('value',),), shape=(4, 3)} : f64[4,3]
  %r = add(%acc, %s) : f64[4,3]
Result:
  %0 = getitem(%acc, %i) {index=(('value',),)} : f64[3]
  %1 = add(%0, %g) : f64[3]
  %r = setitem(%acc, %1, %i) {index=(('value',),)} : f64[4,3]
"""
from __future__ import annotations

from ..ir.graph import Block, Builder, Graph, Node, Value


def accumulate(g: Graph) -> Graph:
    return Graph(g.name, _block(g.body, {}), g.arg_names, g.loc)


def _basic(scatter: Node) -> bool:
    return all(v.type.shape == () for v in scatter.inputs[1:])


def _block(b: Block, defs: dict[Value, Node]) -> Block:
    out = Builder(Block(b.params))
    sub: dict[Value, Value] = {}
    for n in b.nodes:
        m = Node(n.op, [sub.get(v, v) for v in n.inputs], n.attrs, n.outputs,
                 [_block(blk, defs) for blk in n.blocks], n.loc)
        new = _rewrite(m, defs, out) if m.op == "add" else None
        if new is not None:
            sub[n.out] = new
            continue
        out.add(m)
        defs.update((v, m) for v in m.outputs)
    out.block.results = [sub.get(v, v) for v in b.results]
    return out.block


def _rewrite(n: Node, defs: dict[Value, Node], out: Builder) -> Value | None:
    for acc, s in (n.inputs, n.inputs[::-1]):
        sc = defs.get(s)
        if sc is None or sc.op != "scatter_add" or not _basic(sc):
            continue
        g, idx = sc.inputs[0], sc.inputs[1:]
        if not (acc.type.shape == s.type.shape == n.out.type.shape
                and acc.type.dtype == g.type.dtype == n.out.type.dtype
                and not acc.type.weak):
            continue
        out.loc = n.loc
        index = sc.attrs["index"]
        region = out.op("getitem", acc, *idx, index=index)
        summed = out.op("add", region, g)
        if summed.type.dtype != acc.type.dtype:
            continue
        r = out.op("setitem", acc, summed, *idx, index=index)
        if r.type != n.out.type:
            continue
        r.hint = n.out.hint
        return r
    return None
