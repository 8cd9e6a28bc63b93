"""const_fold: pure ops whose inputs are all constants become constants (computed by the
op's `impl`, as the interpreter would); `if` on a constant condition is replaced by the
chosen block's nodes; a loop that runs zero times is replaced by its initial values.

Given:
  %0 = constant 2.0 : pyfloat
  %1 = constant array(3.0, f32) : f32[]
  %2 = mul(%0, %1) : f32[]
  %3 = constant 1.0 : pyfloat
  %4 = gt(%2, %3) : bool[]
  %5 = if(%4) {
    %6 = exp(%x) : f32[4]
    yield %6
  } else {
    yield %x
  } : f32[4]
  return %5
Result (dce removes the dead constants):
  %0 = constant 2.0 : pyfloat
  %1 = constant array(3.0, f32) : f32[]
  %2 = constant array(6.0, f32) : f32[]
  %3 = constant 1.0 : pyfloat
  %4 = constant array(True, bool) : bool[]
  %5 = exp(%x) : f32[4]
  return %5

Folded values are held as the interpreter holds them (Python scalar if weak, else an ndarray
of the declared dtype), computed under np.errstate(all="ignore") as the interpreter does.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..ir.graph import Block, Graph, Node, Value
from ..ops import OPS
from ..types import conform

FOLD_LIMIT = 64          # larger results stay nodes: big arrays don't belong in the IR text
_NO = object()           # sentinel: not a constant / cannot fold


def _fold(n: Node, ins: list[Value], consts: dict[Value, Any]) -> Any:
    op = OPS.get(n.op)
    if op is None or not op.pure or n.blocks or len(n.outputs) != 1:
        return _NO
    t = n.out.type
    if not t.known or t.size > FOLD_LIMIT or any(v not in consts for v in ins):
        return _NO
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = op.impl(*[consts[v] for v in ins], **n.attrs)
    except Exception:  # noqa: BLE001  NOTE: a failing op is left to fail at run time
        return _NO
    r = conform(r, t)
    return r.copy() if isinstance(r, np.ndarray) else r  # no constant aliases another


def _emit(nodes: list[Node], sub: dict[Value, Value], consts: dict[Value, Any],
          out: list[Node]) -> None:
    for n in nodes:
        ins = [sub.get(v, v) for v in n.inputs]
        known = [consts.get(v, _NO) for v in ins]
        if n.op == "if" and known[0] is not _NO and np.size(known[0]) == 1:
            # NOTE: verify guarantees that If outputs have their blocks' result types and
            # loop outputs their init values' types, so substituting keeps every type.
            blk = n.blocks[0 if bool(np.asarray(known[0])) else 1]
            _emit(blk.nodes, sub, consts, out)
            sub.update(zip(n.outputs, [sub.get(v, v) for v in blk.results], strict=True))
            continue
        if n.op == "loop" and (
                (known[0] is not _NO and np.asarray(known[0]).item() == 0)
                or (known[1] is not _NO and not bool(np.asarray(known[1])))):
            sub.update(zip(n.outputs, ins[2:], strict=True))
            continue
        value = n.attrs["value"] if n.op == "constant" else _fold(n, ins, consts)
        if value is _NO:
            out.append(Node(n.op, ins, n.attrs, n.outputs,
                            [_block(b, sub, consts) for b in n.blocks], n.loc))
            continue
        consts[n.out] = value
        out.append(Node("constant", [], {"value": value}, n.outputs, (), n.loc))


def _block(b: Block, sub: dict[Value, Value], consts: dict[Value, Any]) -> Block:
    nodes: list[Node] = []
    _emit(b.nodes, sub, consts, nodes)
    return Block(b.params, nodes, [sub.get(v, v) for v in b.results])


def const_fold(g: Graph) -> Graph:
    return Graph(g.name, _block(g.body, {}, {}), g.arg_names, g.loc)
