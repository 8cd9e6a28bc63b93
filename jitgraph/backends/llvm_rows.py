"""Row groups: consecutive kernels that share leading ("outer") dims, where a reduction over
the trailing dims feeds later kernels, run as ONE loop over the outer index with every
kernel's inner loops inside it. Softmax is the model:

    m = max(x, axis=1, keepdims)            # (4096, 1)
    e, s = fused(x, m) {sub, exp, sum}      # (4096, 1024), (4096, 1)
    out = div(e, s)                         # (4096, 1024)

runs as `for row: m[row] = ...; e[row], s[row] = ...; out[row] = ...`, so each row is read
from memory once and its intermediates stay in L1; values used only inside the group (e,
m, s above) live in one row-sized stack buffer per thread instead of full arrays. Rows are
split across threads when the group is big.

This is scheduling, not semantics: the graph is unchanged (fusion groups are the fuse
pass's); only kernels (elementwise rules, reductions, fused plans) join a group, and
kernel() slices every operand at the current row (Lowerer.row)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from llvmlite import ir

from ..ir.graph import Block, Node, Value
from ..ops import OPS
from .llvm_lower import I32, I64, PTR, Arr, Lowerer, contiguous_strides, kd, ks, mem_type, size_of

MAX_ROW_BYTES = 1 << 16        # a row buffer bigger than this stays a full array


def _space(n: Node) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(iteration space, reduced axes) of a kernel-only node, None for anything else."""
    from .llvm_ops import Elementwise, ReduceRule, fused_plan
    if n.op == "fused":
        plan = fused_plan(n.blocks[0])
        if plan is None:
            return None
        axes = set().union(*(set(r.attrs["axis"]) for r in plan.reds)) if plan.reds else set()
        return plan.S, tuple(sorted(axes))
    rule = OPS[n.op].llvm if n.op in OPS else None
    if isinstance(rule, Elementwise):
        return ks(n.out.type), ()
    if isinstance(rule, ReduceRule):
        return ks(n.inputs[0].type), tuple(n.attrs["axis"])
    return None


def find_group(nodes: Sequence[Node], i: int) -> tuple[int, tuple[int, ...]] | None:
    """If a row group starts at nodes[i]: (index after its last node, outer shape)."""
    first = _space(nodes[i])
    if first is None or not first[1]:
        return None
    S, axes = first
    k = min(axes)
    outer = S[:k]
    if k == 0 or size_of(outer) < 2:
        return None
    made: set[Value] = set()
    reds: set[Value] = set()
    reads_red = False
    j = i
    while j < len(nodes):
        n = nodes[j]
        if n.op == "constant":
            j += 1
            continue
        sp = _space(n)
        if sp is None or sp[0][:k] != outer or any(a < k for a in sp[1]):
            break
        if any(ks(v.type)[:k] != outer for v in n.outputs):
            break
        if any(v in made and ks(v.type)[:k] != outer for v in n.inputs):
            break
        reads_red = reads_red or any(v in reds for v in n.inputs)
        made.update(n.outputs)
        if sp[1]:
            reds.update(n.outputs)
        j += 1
    return (j, outer) if reads_red else None


def _uses(nodes: Sequence[Node], results: Sequence[Value]) -> set[Value]:
    used = set(results)
    for n in nodes:
        used.update(n.free_uses())
    return used


def lower_group(lw: Lowerer, block: Block, group: Sequence[Node], after: Sequence[Node],
                outer: tuple[int, ...]) -> None:
    """Lower `group` as one loop over outer (on threads when big); env gets full arrays for
    the values used after the group."""
    made = [v for n in group for v in n.outputs]
    outside = _uses(after, block.results)
    inputs = [v for v in dict.fromkeys(v for n in group for v in n.inputs)
              if v not in set(made)]
    for n in group:                       # constants first: splats, computed once
        if n.op == "constant":
            lw.env[n.out] = lw.lower_node(n)[0]
    dests: dict[Value, Arr] = {}
    row_temps: set[Value] = set()
    for v in made:
        if v in lw.env:
            continue
        rest = ks(v.type)[len(outer):]
        if v not in outside and size_of(rest) * kd(v.type).itemsize <= MAX_ROW_BYTES:
            row_temps.add(v)
        else:
            dests[v] = lw.new_buffer(v)   # full array, written row by row
    work = size_of(outer) * max(size_of(_space(n)[0][len(outer):]) for n in group  # type: ignore
                            if n.op != "constant")
    from .llvm_lower import PARALLEL_MIN_ELEMENTS
    outer_env = {v: lw.env[v] for v in inputs}

    def body(imp: Any, lo: ir.Value | None, hi: ir.Value | None) -> None:
        local = {v: _imported(a, imp) for v, a in outer_env.items()}
        ldests = {v: _imported(a, imp) for v, a in dests.items()}
        saved_env = {v: lw.env.get(v) for v in local}
        lw.env.update(local)
        for idx in _rows(lw, outer, lo, hi):
            _prefetch_next_row(lw, [a for v, a in local.items()
                                    if ks(v.type)[:len(outer)] == outer], outer, idx)
            lw.row = (outer, idx)
            lw.row_dest = dict(ldests)
            lw.row_temps = {v: _row_buffer(lw, v, outer) for v in row_temps}
            try:
                for n in group:
                    if n.op == "constant":
                        continue
                    outs = lw.lower_node(n)
                    for v, a in zip(n.outputs, outs, strict=True):
                        want = ldests.get(v) or lw.row_temps.get(v)
                        if want is not None and not (a.ptr is want.ptr and a.splat is None):
                            lw.copy_into(want, a)
                            a = want
                        lw.env[v] = a
            finally:
                lw.row = None
                lw.row_dest = {}
                lw.row_temps = {}
        for v, old in saved_env.items():
            if old is not None:
                lw.env[v] = old

    if lw.threads_ok and outer[0] > 1 and work >= PARALLEL_MIN_ELEMENTS:
        values = [x for a in list(outer_env.values()) + list(dests.values())
                  for x in (a.ptr, a.splat)]
        lw.outlined(outer[0], values, body)
    else:
        body(lambda v: v, None, None)
    for v in made:
        if v in dests:
            lw.env[v] = dests[v]


PREFETCH_MIN_ROW_BYTES = 1024   # shorter rows stream well on the hardware prefetchers


def _prefetch_next_row(lw: Lowerer, reads: Sequence[Arr], outer: tuple[int, ...],
                       idx: list[ir.Value]) -> None:
    """Software prefetch of the next row of every full-size input whose rows are
    contiguous, one prefetch per cache line, issued as this row starts. The hardware
    prefetchers run ahead of demand loads only, and while a row's passes work in L1
    there are none: without this, each row's first pass waits on memory (softmax on
    (4096, 1024) float32: 1.5 -> 1.2 ms on one Zen 5 core). Prefetching the output rows
    too (prefetchw) measured slower. A prefetch never faults, so the address may lie past
    the end of the array (a GEP without inbounds: no poison)."""
    b = lw.b
    k = len(outer)
    for a in reads:
        if a.splat is not None or a.ptr is None or len(a.shape) <= k or not a.strides[k - 1]:
            continue
        nbytes = size_of(a.shape[k:]) * a.dtype.itemsize
        if not Arr(a.dtype, a.shape[k:], a.strides[k:]).is_contig() \
                or nbytes < PREFETCH_MIN_ROW_BYTES:
            continue
        off: ir.Value = ir.Constant(I64, a.strides[k - 1])       # one step of the last
        for i, st in zip(idx, a.strides[:k]):                      # outer index on
            if st:
                off = b.add(off, b.mul(i, ir.Constant(I64, st)))
        base = b.gep(a.ptr, [off], source_etype=mem_type(a.dtype))
        pf = lw.declare("llvm.prefetch.p0", ir.VoidType(), [PTR, I32, I32, I32])
        with lw.loop((nbytes + 63) // 64, name="pf") as j:
            p = b.gep(base, [b.mul(j, ir.Constant(I64, 64))], source_etype=ir.IntType(8))
            b.call(pf, [p, ir.Constant(I32, 0), ir.Constant(I32, 3), ir.Constant(I32, 1)])


def _imported(a: Arr, imp: Any) -> Arr:
    return Arr(a.dtype, a.shape, a.strides, imp(a.ptr), imp(a.splat), a.base)


def _row_buffer(lw: Lowerer, v: Value, outer: tuple[int, ...]) -> Arr:
    """A row-sized buffer on this thread's stack, seen as the full shape with zero
    strides along outer (every row of it is the same memory)."""
    rest = ks(v.type)[len(outer):]
    dt = kd(v.type)
    nbytes = max(size_of(rest) * dt.itemsize, 1)
    ptr = lw.alloca(ir.ArrayType(ir.IntType(8), (nbytes + 63) // 64 * 64))
    ptr.align = 64
    return Arr(dt, ks(v.type), (0,) * len(outer) + contiguous_strides(rest), ptr=ptr)


def _rows(lw: Lowerer, outer: tuple[int, ...], lo: ir.Value | None,
          hi: ir.Value | None) -> Iterator[list[ir.Value]]:
    """Loops over outer (the first one over [lo, hi) when given); yields the indices once,
    inside the innermost loop."""
    def rec(d: int, idx: list[ir.Value]) -> Iterator[list[ir.Value]]:
        if d == len(outer):
            yield idx
            return
        rng = (lo, hi) if d == 0 and lo is not None else (None, None)
        with lw.loop(outer[d], start=rng[0], end=rng[1]) as i:
            yield from rec(d + 1, idx + [i])
    yield from rec(0, [])


__all__ = ["I64", "find_group", "lower_group", "np"]
