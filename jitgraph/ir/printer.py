"""Graph -> text. One node per line; values named after the user's variables (`%h`,
`%h.1` for the next value of the same name, `%3` for temporaries); attrs sorted; an
optional `# file:line` comment per node. `jg.parse_ir` reads this text back.

    graph f(%x: f32[3], %n: pyint) {
      %0 = constant array([1.0, 2.0, 3.0], f32) : f32[3]
      %1 = constant 0 : pyint
      %c = gt(%n, %1) : pybool  # f.py:3
      %y = if(%c) {
        %2 = mul(%x, %0) : f32[3]
        yield %2
      } else {
        yield %x
      } : f32[3]
      return %y
    }

Structural nodes print their blocks after the opener line: `loop(...) (%k: i64, %s: f32[3]) {`
lists the body's params, `} else {` starts the next block, `} : types` closes the node.

Names are given in one pass before printing, in definition order (params, then each node's
outputs, then its blocks' params and nodes), so a well-formed graph prints exactly as if
named on the fly, and a broken one (a use before its definition) still shows which value
it uses: `verify` quotes these lines in its messages (`Listing.node_line`)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..types import short_dtype
from .graph import Block, Graph, Node, Value

INLINE_ARRAY_LIMIT = 64  # larger constants print elided: `array<f32[1000,100]>`


class Namer:
    def __init__(self) -> None:
        self.names: dict[Value, str] = {}
        self.used: set[str] = set()
        self.counter = 0

    def define(self, v: Value) -> str:
        if v.hint:
            base = _clean(v.hint)
            name, k = base, 0
            while name in self.used:
                k += 1
                name = f"{base}.{k}"
        else:
            while str(self.counter) in self.used:
                self.counter += 1
            name = str(self.counter)
            self.counter += 1
        self.used.add(name)
        self.names[v] = name
        return "%" + name

    def ref(self, v: Value) -> str:
        if v not in self.names:
            return "%<undefined>"
        return "%" + self.names[v]


def _clean(hint: str) -> str:
    # NOTE: never a '.' and never all digits, so `%x.1` and `%3` are unambiguous.
    s = "".join(c if c.isalnum() or c == "_" else "_" for c in hint)
    if not s or s[0].isdigit():
        s = "v" + s
    return s


def format_attr(x: Any, namer: Namer | None = None) -> str:
    if isinstance(x, Value):
        return namer.ref(x) if namer else "%?"
    if isinstance(x, Graph):
        # a subgraph (custom_vjp's fwd/bwd) prints by name; it reads back as that string
        return repr(f"<graph {x.name}>")
    if isinstance(x, np.dtype):
        return short_dtype(x)
    if isinstance(x, type) and (issubclass(x, np.generic) or x in (bool, int, float, complex)):
        return short_dtype(x)  # np.float32 and float name dtypes: print as f32, f64
    if isinstance(x, np.ndarray):
        # NOTE: an empty array of rank > 1 loses its shape in tolist(); the elided form is
        # exact for it, since the parser fills elided arrays with zeros.
        if x.size <= INLINE_ARRAY_LIMIT and (x.size > 0 or x.ndim <= 1):
            return f"array({format_attr(x.tolist())}, {short_dtype(x.dtype)})"
        dims = ",".join(str(d) for d in x.shape)
        return f"array<{short_dtype(x.dtype)}[{dims}]>"
    if isinstance(x, tuple):
        inner = ", ".join(format_attr(e, namer) for e in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, list):
        return "[" + ", ".join(format_attr(e, namer) for e in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{format_attr(k, namer)}: {format_attr(v, namer)}"
                               for k, v in x.items()) + "}"
    if isinstance(x, np.generic):  # NOTE: before float: np.float64 subclasses float
        return format_attr(x.item(), namer)
    if isinstance(x, str):
        return repr(x)
    if isinstance(x, float):
        return repr(x)  # 'inf', 'nan' read back by the parser
    return repr(x)


def definitions(g: Graph) -> Iterator[Value]:
    """Every value a graph defines, in printing order: params, then per node its outputs
    and then each of its blocks' params and nodes."""
    yield from g.params
    yield from _block_definitions(g.body)


def _block_definitions(b: Block) -> Iterator[Value]:
    for n in b.nodes:
        yield from n.outputs
        for blk in n.blocks:
            yield from blk.params
            yield from _block_definitions(blk)


class Listing:
    """A graph's text as lines, the names given to its values, and the 1-based line where
    each node starts (verify's messages quote them)."""

    def __init__(self, g: Graph, locations: bool = True):
        self.namer = Namer()
        self.locations = locations
        self.lines: list[str] = []
        self.node_line: dict[Node, int] = {}
        self.yield_line: dict[Block, int] = {}   # the `yield` (`return` for the graph body)
        self._defs = iter([self.namer.define(v) for v in definitions(g)])
        params = ", ".join(f"{next(self._defs)}: {p.type}" for p in g.params)
        self.lines.append(f"graph {g.name}({params}) {{")
        self._block_body(g.body, "  ")
        self.yield_line[g.body] = len(self.lines) + 1
        self.lines.append(_line("  return", self._refs(g.results)))
        self.lines.append("}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def _refs(self, vs: list[Value]) -> str:
        return ", ".join(self.namer.ref(v) for v in vs)

    def _block_body(self, b: Block, ind: str) -> None:
        for n in b.nodes:
            self._node(n, ind)

    def _node(self, n: Node, ind: str) -> None:
        self.node_line[n] = len(self.lines) + 1
        outs = ", ".join(next(self._defs) for _ in n.outputs)
        head = f"{outs} = " if n.outputs else ""
        if n.op == "constant":
            body = f"constant {format_attr(n.attrs.get('value'), self.namer)}"
        else:
            body = f"{n.op}({self._refs(n.inputs)})"
            if n.attrs:
                body += " {" + ", ".join(f"{k}={format_attr(n.attrs[k], self.namer)}"
                                         for k in sorted(n.attrs)) + "}"
        types = ", ".join(str(v.type) for v in n.outputs)
        loc = ""
        if self.locations and n.loc:
            loc = f"  # {os.path.basename(n.loc.filename)}:{n.loc.lineno}"
        if not n.blocks:
            self.lines.append(_line(f"{ind}{head}{body} :", types) + loc)
            return
        for i, blk in enumerate(n.blocks):
            params = ""
            if blk.params:
                params = " (" + ", ".join(f"{next(self._defs)}: {p.type}"
                                          for p in blk.params) + ")"
            first = f"{ind}{head}{body}" if i == 0 else f"{ind}}} else"
            self.lines.append(f"{first}{params} {{" + (loc if i == 0 else ""))
            self._block_body(blk, ind + "  ")
            self.yield_line[blk] = len(self.lines) + 1
            self.lines.append(_line(f"{ind}  yield", self._refs(blk.results)))
        self.lines.append(_line(f"{ind}}} :", types))


def _line(head: str, rest: str) -> str:
    # NOTE: no trailing space when a node has no outputs or a block yields nothing.
    return f"{head} {rest}" if rest else head


def print_graph(g: Graph, locations: bool = True) -> str:
    return Listing(g, locations).text
