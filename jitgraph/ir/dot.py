"""Graph -> Graphviz DOT (`graph.to_dot()`), for pictures: `dot -Tsvg g.dot -o g.svg`.

One box per node, labeled with its outputs, op and output types (names as the printer gives
them); params as ellipses; one cluster per block of an if/loop/fused node, holding the
block's params, its nodes and a `yield` box whose dashed edge goes to the owning node.
Edges run from the node defining a value to each node using it, labeled with the value's
name when the producer has several outputs; a Value held in an attr gives a dotted edge.
A value that nothing defines (a broken graph) gets a red box, so the picture still draws.
"""
from __future__ import annotations

from .graph import Block, Graph, Node, Value
from .printer import Listing, format_attr
from .verify import attr_values


def _q(s: str) -> str:
    """A DOT string literal; `\\n` stays a DOT line break."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Dot:
    def __init__(self, g: Graph):
        self.g = g
        self.namer = Listing(g, locations=False).namer
        self.lines: list[str] = []
        self.ids: dict[Value, str] = {}        # value -> the DOT node defining it
        self.multi: set[Value] = set()          # outputs of nodes with several outputs
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def name(self, v: Value) -> str:
        return self.namer.ref(v)

    def source(self, v: Value, ind: str) -> str:
        if v not in self.ids:  # NOTE: defined nowhere visible; draw it rather than fail
            self.ids[v] = self.fresh("u")
            label = f"{self.name(v)} (undefined)"
            self.lines.append(f"{ind}{self.ids[v]} [label={_q(label)}, color=red];")
        return self.ids[v]

    def edge(self, v: Value, dst: str, ind: str, style: str = "") -> None:
        attrs = []
        if v in self.multi:
            attrs.append(f"label={_q(self.name(v))}")
        if style:
            attrs.append(f"style={style}")
        tail = f" [{', '.join(attrs)}]" if attrs else ""
        self.lines.append(f"{ind}{self.source(v, ind)} -> {dst}{tail};")

    def params(self, ps: list[Value], ind: str) -> None:
        for p in ps:
            self.ids[p] = self.fresh("p")
            self.lines.append(f"{ind}{self.ids[p]} [label={_q(f'{self.name(p)}: {p.type}')}, "
                              "shape=ellipse];")

    def render(self) -> str:
        self.lines.append(f"digraph {_q(self.g.name)} {{")
        self.lines.append('  node [shape=box, fontname="monospace"];')
        self.params(self.g.params, "  ")
        self.block(self.g.body, "  ")
        ret = self.fresh("r")
        self.lines.append(f"  {ret} [label=\"return\", shape=doublecircle];")
        for v in self.g.results:
            self.edge(v, ret, "  ")
        self.lines.append("}")
        return "\n".join(self.lines) + "\n"

    def block(self, b: Block, ind: str) -> None:
        for n in b.nodes:
            self.node(n, ind)

    def node(self, n: Node, ind: str) -> None:
        nid = self.fresh("n")
        outs = ", ".join(self.name(v) for v in n.outputs)
        types = ", ".join(str(v.type) for v in n.outputs)
        op = f"constant {_short(format_attr(n.attrs.get('value'), self.namer))}" \
            if n.op == "constant" else n.op
        label = (f"{outs} = " if outs else "") + op + (f"\n{types}" if types else "")
        self.lines.append(f"{ind}{nid} [label={_q(label)}];")
        for v in n.inputs:
            self.edge(v, nid, ind)
        for x in n.attrs.values():
            for v in attr_values(x):
                self.edge(v, nid, ind, style="dotted")
        for i, blk in enumerate(n.blocks):
            self.cluster(n, i, blk, nid, ind)
        for v in n.outputs:
            self.ids[v] = nid
            if len(n.outputs) > 1:
                self.multi.add(v)

    def cluster(self, n: Node, i: int, blk: Block, nid: str, ind: str) -> None:
        which = ("then", "else")[i] if n.op == "if" and i < 2 else f"block {i}"
        which = "body" if n.op in ("loop", "fused") and i == 0 else which
        self.lines.append(f"{ind}subgraph cluster_{nid}_{i} {{")
        inner = ind + "  "
        self.lines.append(f"{inner}label={_q(f'{n.op} {which}')}; style=rounded;")
        self.params(blk.params, inner)
        self.block(blk, inner)
        yid = self.fresh("y")
        self.lines.append(f"{inner}{yid} [label=\"yield\", shape=box, style=dashed];")
        for v in blk.results:
            self.edge(v, yid, inner)
        self.lines.append(f"{ind}}}")
        self.lines.append(f"{ind}{yid} -> {nid} [style=dashed];")


def _short(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[:limit - 3] + "..."


def to_dot(g: Graph) -> str:
    """Graphviz DOT text of a graph."""
    return _Dot(g).render()


__all__ = ["to_dot"]
