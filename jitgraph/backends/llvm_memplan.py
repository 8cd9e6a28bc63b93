"""Arena planning for the CPU backend: temporaries that must exist reuse each other's bytes
within a call.

Every temporary (Lowerer.temp) gets a 64-byte aligned range of the per-call arena from an
`ArenaPlan`: best fit among the freed ranges (smallest that fits, lowest offset first;
the rest of the range stays free), else the range that ends the arena, grown as needed,
else fresh bytes at its end. `abi.arena_size` is the high-water mark.

When a range goes back (`BlockLiveness`), decided at node boundaries only, never inside a
node: while a node is lowered, everything it reads and every temporary its rule made
(scratch buffers, accumulators, staging copies, the loops of threaded outlined functions,
which join before the node's rule returns) stays where it is, so a node's output never
shares bytes with its own inputs. After nodes[:j] of a block were lowered, a temporary is
given back when

- it was made while this block was being lowered (its id is above the block's mark):
  temporaries of enclosing blocks, among them everything a loop body or branch reads from
  outside it, a loop's carried buffers and a custom_vjp's converted arguments, stay until
  the enclosing block's own boundaries free them, so a value defined before a loop and
  read inside it is live for the whole loop (every iteration); and
- no value of this block that a later node reads (its inputs and whatever its nested
  blocks read from outside them) or that the block yields holds it: a value holds the
  temporaries named by the ("temp", id) tags of its Arr's `base`, so views (reshape,
  transpose, slices, a branch's pointer phi) keep their storage alive.

Values only flow out of a nested block through its results, which the node turns into its
outputs (copied, or tagged with the results' bases), so a branch's or a loop body's dead
temporaries are free for the rest of the body, for the other branch (which never runs in
the same call), and after the node. A body's temporaries are rewritten every iteration in
the same order, so reusing them within the body is sound too. Tapes live in malloc'd
buffers and error details in the arena's first ERR_INFO_BYTES, outside the plan."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..ir.graph import Block, Value

if TYPE_CHECKING:
    from .llvm_lower import Lowerer

ALIGN = 64
REUSE = True     # False: every temporary gets fresh bytes (the old bump allocation)
# a checking aid: fill every range with 0xFF bytes (NaN, -1, True) where it is given back,
# so a value read after its bytes were released comes out wrong (JITGRAPH_ARENA_POISON=1)
POISON = os.environ.get("JITGRAPH_ARENA_POISON", "") == "1"


def _up(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class ArenaPlan:
    """Ranges of the arena from `start` on: live ones by temporary id, free ones sorted by
    offset and merged with their neighbours. `size` is the arena's high-water mark."""

    def __init__(self, start: int):
        self.size = start
        self.top = _up(start)                        # end of every range handed out
        self.free: list[tuple[int, int]] = []        # (offset, bytes), sorted, coalesced
        self.live: dict[int, tuple[int, int]] = {}   # temporary id -> (offset, bytes)

    def alloc(self, tid: int, nbytes: int) -> int:
        need = _up(max(nbytes, 1))
        best = -1
        for k, (off, n) in enumerate(self.free):
            if n >= need and (best < 0 or n < self.free[best][1]):
                best = k
        if best >= 0:
            off, n = self.free[best]
            if n == need:
                del self.free[best]
            else:
                self.free[best] = (off + need, n - need)
        elif self.free and sum(self.free[-1]) == self.top:
            off = self.free.pop()[0]                 # the arena's last range: grow it
            self.top = off + need
        else:
            off = self.top
            self.top += need
        self.live[tid] = (off, need)
        self.size = max(self.size, off + max(nbytes, 1))
        return off

    def release(self, tid: int) -> None:
        off, n = self.live.pop(tid)
        free = self.free
        k = 0
        while k < len(free) and free[k][0] < off:
            k += 1
        if k < len(free) and off + n == free[k][0]:         # merge with the next range
            n += free.pop(k)[1]
        if k > 0 and sum(free[k - 1]) == off:               # and with the previous one
            off, n = free[k - 1][0], free[k - 1][1] + n
            k -= 1
            del free[k]
        free.insert(k, (off, n))




class BlockLiveness:
    """Which temporaries made while lowering one block are still held (module docstring);
    `advance(lw, i, j)` after nodes[i:j] were lowered gives the others back."""

    def __init__(self, lw: Lowerer, block: Block):
        self.mark = lw._buffers
        self.nodes = block.nodes
        end = len(self.nodes)
        self.last: dict[Value, int] = {}             # value -> index of its last reader
        for i, n in enumerate(self.nodes):
            for v in n.free_uses():
                self.last[v] = i
        for v in block.results:
            self.last[v] = end                       # yielded: held past the last node
        self.held: dict[Value, list[int]] = {}       # live value -> temporaries it holds
        self.refs: dict[int, int] = {}               # temporary -> live values holding it
        self.dies: dict[int, list[Value]] = {}       # node index -> values it reads last

    def advance(self, lw: Lowerer, i: int, j: int) -> None:
        if not REUSE:
            return
        for n in self.nodes[i:j]:
            for v in n.outputs:
                at = self.last.get(v, -1)
                a = lw.env.get(v)
                if at < j or a is None or v in self.held:
                    continue
                ids = [t[1] for t in a.base if t[0] == "temp" and t[1] > self.mark]
                self.held[v] = ids
                for t in ids:
                    self.refs[t] = self.refs.get(t, 0) + 1
                self.dies.setdefault(at, []).append(v)
        for k in range(i, j):
            for v in self.dies.pop(k, ()):
                for t in self.held.pop(v):
                    self.refs[t] -= 1
        plan = lw.mem
        for t in [t for t in plan.live if t > self.mark and not self.refs.get(t)]:
            if POISON:
                off, nbytes = plan.live[t]
                _poison(lw, off, min(nbytes, plan.size - off))   # the last range may be short
            plan.release(t)
            self.refs.pop(t, None)


def _poison(lw: Lowerer, off: int, nbytes: int) -> None:
    from llvmlite import ir

    from .llvm_lower import I1, I8, I64, PTR
    if lw.b.block.is_terminated:
        return
    memset = lw.declare("llvm.memset.p0.i64", ir.VoidType(), [PTR, I8, I64, I1])
    ptr = lw.b.gep(lw.arena, [ir.Constant(I64, off)], source_etype=I8)
    lw.b.call(memset, [ptr, ir.Constant(I8, 0xFF), ir.Constant(I64, nbytes),
                       ir.Constant(I1, 0)])

