"""Graph -> text. One node per line; values named after the user's variables (`%h`,
`%h.1` for the next value of the same name, `%3` for temporaries); attrs sorted; an
optional `# file:line` comment per node. `jg.parse_ir` reads this text back."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..types import short_dtype
from .graph import Block, Graph, Node, Value

INLINE_ARRAY_LIMIT = 16  # larger constants print elided: `array<f32[1000,100]>`


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
    s = "".join(c if c.isalnum() or c == "_" else "_" for c in hint)
    if not s or s[0].isdigit():
        s = "v" + s
    return s


def format_attr(x: Any, namer: Namer | None = None) -> str:
    if isinstance(x, Value):
        return namer.ref(x) if namer else "%?"
    if isinstance(x, np.dtype):
        return short_dtype(x)
    if isinstance(x, type) and issubclass(x, np.generic):
        return short_dtype(x)
    if isinstance(x, np.ndarray):
        if x.size <= INLINE_ARRAY_LIMIT:
            return f"array({format_attr(x.tolist())}, {short_dtype(x.dtype)})"
        dims = ",".join(str(d) for d in x.shape)
        return f"array<{short_dtype(x.dtype)}[{dims}]>"
    if isinstance(x, tuple):
        inner = ", ".join(format_attr(e, namer) for e in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, list):
        return "[" + ", ".join(format_attr(e, namer) for e in x) + "]"
    if isinstance(x, str):
        return repr(x)
    if isinstance(x, float):
        return repr(x)  # 'inf', 'nan' read back by the parser
    if isinstance(x, np.generic):
        return format_attr(x.item(), namer)
    return repr(x)


def print_graph(g: Graph, locations: bool = True) -> str:
    namer = Namer()
    params = ", ".join(f"{namer.define(p)}: {p.type}" for p in g.params)
    lines = [f"graph {g.name}({params}) {{"]
    _print_block_body(g.body, namer, lines, "  ", locations)
    lines.append("  return " + ", ".join(namer.ref(v) for v in g.results))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _print_block_body(b: Block, namer: Namer, lines: list[str], ind: str,
                      locations: bool) -> None:
    for n in b.nodes:
        _print_node(n, namer, lines, ind, locations)


def _print_node(n: Node, namer: Namer, lines: list[str], ind: str, locations: bool) -> None:
    outs = ", ".join(namer.define(v) for v in n.outputs)
    head = f"{outs} = " if n.outputs else ""
    if n.op == "constant":
        body = f"constant {format_attr(n.attrs['value'])}"
    else:
        args = ", ".join(namer.ref(v) for v in n.inputs)
        body = f"{n.op}({args})"
        attrs = {k: v for k, v in n.attrs.items()}
        if attrs:
            body += " {" + ", ".join(f"{k}={format_attr(attrs[k], namer)}"
                                     for k in sorted(attrs)) + "}"
    types = ", ".join(str(v.type) for v in n.outputs)
    loc = f"  # {os.path.basename(n.loc.filename)}:{n.loc.lineno}" if (locations and n.loc) else ""
    if not n.blocks:
        lines.append(f"{ind}{head}{body} : {types}{loc}")
        return
    opener = f"{ind}{head}{body}"
    for i, blk in enumerate(n.blocks):
        params = ""
        if blk.params:
            params = " (" + ", ".join(f"{namer.define(p)}: {p.type}" for p in blk.params) + ")"
        sep = "" if i == 0 else "} else"
        first = opener if i == 0 else f"{ind}{sep}"
        lines.append(f"{first}{params} {{" + (loc if i == 0 else ""))
        _print_block_body(blk, namer, lines, ind + "  ", locations)
        lines.append(f"{ind}  yield " + ", ".join(namer.ref(v) for v in blk.results))
    lines.append(f"{ind}}} : {types}")
