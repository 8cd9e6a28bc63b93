"""The SSA IR: Value, Node, Block, Graph, and Builder (the one way to make nodes).

Structural ops, the only ones outside the op registry:
  constant  attrs {value}; no inputs.
  if        inputs [cond]; blocks [then, else], no params; outputs = either block's results.
  loop      inputs [trip_count, cond0, *init]; blocks [body] with params [k, *carried] and
            results [cond_next, *next]; runs while (trip_count < 0 or k < trip_count) and
            cond; outputs = the carried values after the last iteration (ONNX's Loop).
  fused     inputs = captured values; blocks [body] with one param per input; outputs =
            the body's results (made by the fusion pass).
Graphs are immutable by convention: passes build new ones (no use lists to keep in sync).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import SourceLoc
from ..types import UNKNOWN, TensorType, type_of_python

STRUCTURAL = ("constant", "if", "loop", "fused")


class Value:
    """An SSA value. Identity is the value; `hint` is the user's variable name, if any."""

    __slots__ = ("hint", "type")

    def __init__(self, type: TensorType = UNKNOWN, hint: str | None = None):
        self.type = type
        self.hint = hint

    def __repr__(self) -> str:
        return f"Value({self.hint or hex(id(self))}: {self.type})"


class Node:
    __slots__ = ("attrs", "blocks", "inputs", "loc", "op", "outputs")

    def __init__(self, op: str, inputs: Sequence[Value], attrs: dict[str, Any] | None,
                 outputs: Sequence[Value], blocks: Sequence[Block] = (),
                 loc: SourceLoc | None = None):
        self.op = op
        self.inputs = list(inputs)
        self.attrs = dict(attrs or {})
        self.outputs = list(outputs)
        self.blocks = list(blocks)
        self.loc = loc

    @property
    def out(self) -> Value:
        assert len(self.outputs) == 1, self.op
        return self.outputs[0]

    def free_uses(self) -> Iterator[Value]:
        """The values this node reads: its inputs, and the outer values its nested blocks
        read (a loop body's use of a value defined before the loop is a use by the loop)."""
        yield from self.inputs
        for blk in self.blocks:
            inner = set(blk.params)
            for m in blk.walk():
                inner.update(m.outputs)
                for sub in m.blocks:
                    inner.update(sub.params)
            for m in blk.walk():
                yield from (v for v in m.inputs if v not in inner)
            for sub in [blk] + [s for m in blk.walk() for s in m.blocks]:
                yield from (v for v in sub.results if v not in inner)

    def __repr__(self) -> str:
        return f"Node({self.op}, {len(self.inputs)} in, {len(self.outputs)} out)"


class Block:
    __slots__ = ("nodes", "params", "results")

    def __init__(self, params: Sequence[Value] = (), nodes: Sequence[Node] = (),
                 results: Sequence[Value] = ()):
        self.params = list(params)
        self.nodes = list(nodes)
        self.results = list(results)

    def walk(self) -> Iterator[Node]:
        """Every node of this block and of the blocks nested in it, in order."""
        for n in self.nodes:
            yield n
            for blk in n.blocks:
                yield from blk.walk()


class Graph:
    __slots__ = ("arg_names", "body", "loc", "name")

    def __init__(self, name: str, body: Block, arg_names: Sequence[str] | None = None,
                 loc: SourceLoc | None = None):
        self.name = name
        self.body = body
        self.arg_names = list(arg_names) if arg_names is not None else [
            p.hint or f"arg{i}" for i, p in enumerate(body.params)]
        self.loc = loc

    @property
    def params(self) -> list[Value]:
        return self.body.params

    @property
    def results(self) -> list[Value]:
        return self.body.results

    def walk(self) -> Iterator[Node]:
        return self.body.walk()

    def __str__(self) -> str:
        from .printer import print_graph
        return print_graph(self)

    def text(self, locations: bool = True) -> str:
        from .printer import print_graph
        return print_graph(self, locations=locations)

    def __eq__(self, other: object) -> bool:
        # Structural equality: the printer is canonical (values renumbered in order).
        if not isinstance(other, Graph):
            return NotImplemented
        return self.text(locations=False) == other.text(locations=False)

    def __hash__(self) -> int:
        return hash(self.text(locations=False))

    def to_dot(self) -> str:
        from .dot import to_dot
        return to_dot(self)


class Builder:
    """Appends nodes to a block. Typed building (`op`) infers output types through the
    op registry's rules, so autodiff and the passes never compute types by hand."""

    def __init__(self, block: Block | None = None, loc: SourceLoc | None = None):
        self.block = block if block is not None else Block()
        self.loc = loc

    def add(self, node: Node) -> Node:
        self.block.nodes.append(node)
        return node

    def node(self, op: str, inputs: Sequence[Value], attrs: dict[str, Any] | None = None,
             types: Sequence[TensorType] = (UNKNOWN,), blocks: Sequence[Block] = (),
             loc: SourceLoc | None = None, hint: str | None = None) -> Node:
        outs = [Value(t, hint) for t in types]
        return self.add(Node(op, inputs, attrs, outs, blocks, loc or self.loc))

    def op(self, op: str, *inputs: Value, loc: SourceLoc | None = None,
           hint: str | None = None, **attrs: Any) -> Value:
        """A registry op; its output type comes from the op's rules when inputs are typed."""
        from ..ops import OPS
        opdef = OPS[op]
        attrs = opdef.full_attrs(attrs)
        if all(v.type.known for v in inputs) and not _holds_value(attrs):
            t = opdef.infer([v.type for v in inputs], attrs)
        else:
            t = UNKNOWN
        return self.node(op, inputs, attrs, (t,), loc=loc, hint=hint).out

    def const(self, value: Any, type: TensorType | None = None, hint: str | None = None,
              loc: SourceLoc | None = None) -> Value:
        if type is None:
            type = type_of_python(value)
        if not type.weak:
            value = np.asarray(value, dtype=type.dtype)
        return self.node("constant", (), {"value": value}, (type,), loc=loc, hint=hint).out


def _holds_value(x: Any) -> bool:
    """Generic graphs may hold Values in attributes (a shape not known before
    specialization); no type can be inferred for such a node."""
    if isinstance(x, Value):
        return True
    if isinstance(x, dict):
        return any(_holds_value(v) for v in x.values())
    if isinstance(x, (tuple, list)):
        return any(_holds_value(v) for v in x)
    return False


def constant_value(v: Value, block_nodes: dict[Value, Node]) -> Any:
    """The value of v if it is made by a constant node in `block_nodes`, else None."""
    n = block_nodes.get(v)
    if n is not None and n.op == "constant":
        return n.attrs["value"]
    return None


def clone_block_into(b: Builder, src: Block, mapping: dict[Value, Value]) -> None:
    """Copy src's nodes into b, renaming values through `mapping` (extended in place)."""
    for n in src.nodes:
        blocks = []
        for blk in n.blocks:
            params = [Value(p.type, p.hint) for p in blk.params]
            mapping.update(zip(blk.params, params))
            inner = Builder(Block(params), b.loc)
            clone_block_into(inner, blk, mapping)
            inner.block.results = [mapping.get(v, v) for v in blk.results]
            blocks.append(inner.block)
        outs = [Value(v.type, v.hint) for v in n.outputs]
        mapping.update(zip(n.outputs, outs))
        attrs = {k: (mapping.get(v, v) if isinstance(v, Value) else v) for k, v in n.attrs.items()}
        b.add(Node(n.op, [mapping.get(v, v) for v in n.inputs], attrs, outs, blocks, n.loc))


def inline_graph(b: Builder, g: Graph, args: Sequence[Value]) -> list[Value]:
    """Inline g's body into b with its params bound to args; returns g's results."""
    mapping: dict[Value, Value] = dict(zip(g.params, args, strict=True))
    clone_block_into(b, g.body, mapping)
    return [mapping.get(v, v) for v in g.results]
