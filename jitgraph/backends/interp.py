"""The reference backend: a NumPy interpreter of typed graphs, control flow included.
Every op runs its registry `impl`, so this backend is the definition the others are
tested against. Weak (Python scalar) values stay Python scalars, as in eager Python."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.graph import Block, Graph, Node, Value
from ..ops import OPS
from ..types import conform
from .base import CompiledFn


def run_block(block: Block, env: dict[Value, Any]) -> list[Any]:
    for n in block.nodes:
        outs = eval_node(n, env)
        for v, r in zip(n.outputs, outs, strict=True):
            env[v] = r
    return [env[v] for v in block.results]


def eval_node(n: Node, env: dict[Value, Any]) -> list[Any]:
    if n.op == "constant":
        return [n.attrs["value"]]
    args = [env[v] for v in n.inputs]
    if n.op == "if":
        return run_block(n.blocks[0 if args[0] else 1], env)
    if n.op == "loop":
        return _run_loop(n, args, env)
    if n.op == "fused":
        body = n.blocks[0]
        env.update(zip(body.params, args, strict=True))
        return run_block(body, env)
    op = OPS[n.op]
    with np.errstate(all="ignore"):
        r = op.impl(*args, **n.attrs)
    return [conform(r, n.outputs[0].type)]


def _run_loop(n: Node, args: list[Any], env: dict[Value, Any]) -> list[Any]:
    trip, cond, carried = int(args[0]), bool(args[1]), list(args[2:])
    body = n.blocks[0]
    k = 0
    while cond and (trip < 0 or k < trip):
        env[body.params[0]] = k
        env.update(zip(body.params[1:], carried, strict=True))
        res = run_block(body, env)
        cond, carried = bool(res[0]), res[1:]
        k += 1
    return carried


class InterpBackend:
    name = "interp"

    def available(self) -> bool:
        return True

    def why_unavailable(self) -> str:
        return ""

    def check(self, g: Graph) -> list[str]:
        return [f"unknown op {n.op}" for n in g.walk()
                if n.op not in OPS and n.op not in ("constant", "if", "loop", "fused")]

    def compile(self, g: Graph, cache: bool | None = None) -> CompiledFn:
        def run(args: Sequence[Any]) -> list[Any]:
            env: dict[Value, Any] = {}
            for p, a in zip(g.params, args, strict=True):
                env[p] = a if p.type.weak else np.asarray(a)
            return run_block(g.body, env)
        return run

    def dump(self, g: Graph, stage: str) -> str:
        raise ValueError(f"the interp backend has no {stage!r} stage")
