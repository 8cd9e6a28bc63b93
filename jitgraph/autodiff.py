"""Reverse-mode autodiff as a graph transform: `vjp_graph(typed graph, argnums)` returns a
new typed graph with the same params that returns the original results followed by one
gradient per argnum (JAX's `backward_pass`, autodidax's `eval_jaxpr_transposed`).

Given (f(x) = sum(exp(x) * w)):

    graph f(%x: f32[3], %w: f32[3]) {
      %0 = exp(%x) : f32[3]
      %1 = mul(%0, %w) : f32[3]
      %2 = sum(%1) {axis=(0,), dtype=None, keepdims=False} : f32[]
      return %2
    }

Result of `vjp_graph(f, (0,))`:

    graph f(%x: f32[3], %w: f32[3]) {
      %0 = exp(%x) : f32[3]
      %1 = mul(%0, %w) : f32[3]
      %2 = sum(%1) {axis=(0,), dtype=None, keepdims=False} : f32[]
      %ct = constant array(1.0, f32) : f32[]
      %3 = reshape(%ct) {shape=(1,)} : f32[1]
      %4 = broadcast_to(%3) {shape=(3,)} : f32[3]
      %5 = mul(%4, %w) : f32[3]
      %6 = mul(%5, %0) : f32[3]
      return %2, %6
    }

How:
  1. The forward nodes are copied (custom_vjp nodes become their fwd graph, inlined, and a
     `custom_vjp_call` node whose VJP is their bwd graph).
  2. Activity: a value is active when it is float and depends on a differentiated param
     through differentiable ops. Only active values get cotangents.
  3. The nodes are walked backwards with a cotangent dict; each op's `OpDef.vjp` rule gives
     its inputs' cotangents, summed with `add`. A value without an entry is a symbolic zero:
     it is never materialized unless a structural node must yield something.
  4. `if`: the backward is an `if` on the same condition value; each branch is the VJP of
     the forward branch and yields the cotangents of the outer values the branches use.
     Forward values of a branch that its VJP needs become extra outputs of the forward if
     (the other branch yields zeros of that type in their place).
  5. `loop`: the backward is a loop run as many times as the forward ran (the forward
     counts iterations in an extra carried value); its body is the VJP of the forward body.
     Forward body values that the VJP needs are pushed on tapes (`tape_push`, one stack per
     value) by the forward loop and popped in reverse (`tape_pop`). Cotangents of values
     the body captures from outside accumulate in extra carried values.
Nested if/loop compose: a nested structure's residuals are values of the enclosing block,
which that block's own rule exports or pushes in turn.

The residual rule (steps 4 and 5) works on the *generated* backward block: whatever it
references that the forward block defines is a residual. The transform mutates only the
nodes it made (the copy), never the input graph.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .errors import JitTypeError
from .ir.graph import Block, Builder, Graph, Node, Value
from .ops import OPS
from .ops.adjoint import is_float, zeros_of
from .types import TensorType

_PYINT = TensorType(np.dtype(np.int64), (), True)
_TAPE_OPS = ("tape_new", "tape_push", "tape_pop")


def vjp_graph(g: Graph, argnums: Sequence[int], output_index: int = 0) -> Graph:
    """A graph computing `[*g.results, *grads]`: grads[i] is the gradient of
    `g.results[output_index]` (a 0-d float) with respect to param `argnums[i]`, with that
    param's exact type (zeros when the output does not depend on it)."""
    argnums = tuple(int(i) for i in argnums)
    _check(g, argnums, output_index)
    params = [Value(p.type, p.hint) for p in g.params]
    b = Builder(Block(params), g.loc)
    env: dict[Value, Value] = dict(zip(g.params, params, strict=True))
    _clone(b, g.body, env)
    results = [env[v] for v in g.results]

    active = {params[i] for i in argnums}
    _activity(b.block, active)
    out = results[output_index]
    cts: dict[Value, Value] = {}
    if out in active:
        cts[out] = b.const(np.ones((), out.type.dtype), _ct_type(out.type), hint="ct")
    _Backward(active).block(b.block, b, cts)

    grads = []
    for i in argnums:
        p = params[i]
        gi = cts.get(p)
        grads.append(zeros_of(b, p.type) if gi is None else _fit(b, gi, p.type, exact=True))
    b.block.results = [*results, *grads]
    return Graph(g.name, b.block, g.arg_names, g.loc)


def _check(g: Graph, argnums: tuple[int, ...], output_index: int) -> None:
    if not all(p.type.known for p in g.params) or not all(r.type.known for r in g.results):
        raise JitTypeError(f"vjp_graph needs a typed graph; {g.name} has unknown types",
                           g.loc)
    if not -len(g.results) <= output_index < len(g.results):
        raise JitTypeError(f"{g.name} has {len(g.results)} output(s); cannot differentiate "
                           f"output {output_index}", g.loc)
    out = g.results[output_index]
    if out.type.shape != () or not is_float(out):
        which = "" if len(g.results) == 1 else f" (output {output_index})"
        raise JitTypeError(
            f"grad requires a scalar float output, but {g.name} returns {out.type}{which}; "
            "reduce it first, e.g. with .sum()", g.loc)
    for i in argnums:
        if not -len(g.params) <= i < len(g.params):
            raise JitTypeError(f"argnums {i} is out of range: {g.name} takes "
                               f"{len(g.params)} argument(s)", g.loc)
        p = g.params[i]
        if not is_float(p):
            name = g.arg_names[i]
            raise JitTypeError(
                f"cannot differentiate {g.name} with respect to argument '{name}' of type "
                f"{p.type}: gradients need a float argument", g.loc, arg=name)


# -- copying ------------------------------------------------------------------------------
def _clone(b: Builder, src: Block, env: dict[Value, Value]) -> None:
    """Append copies of src's nodes to b, renaming through env (extended in place)."""
    for n in src.nodes:
        ins = [env[v] for v in n.inputs]
        if n.op == "custom_vjp":
            # NOTE: fwd runs once, in the forward pass; custom_vjp_call keeps its value and
            # hands its residuals to bwd (the VJP rule of custom_vjp_call).
            fwd = inline(b, n.attrs["fwd"], ins)
            env[n.out] = b.op("custom_vjp_call", fwd[0], *ins, *fwd[1:],
                              bwd=n.attrs["bwd"], nargs=len(ins), hint=n.out.hint)
            continue
        blocks = []
        for blk in n.blocks:
            params = [Value(p.type, p.hint) for p in blk.params]
            env.update(zip(blk.params, params, strict=True))
            inner = Builder(Block(params), b.loc)
            _clone(inner, blk, env)
            inner.block.results = [env[v] for v in blk.results]
            blocks.append(inner.block)
        outs = [Value(v.type, v.hint) for v in n.outputs]
        env.update(zip(n.outputs, outs, strict=True))
        b.add(Node(n.op, ins, n.attrs, outs, blocks, n.loc))


def inline(b: Builder, g: Graph, args: Sequence[Value]) -> list[Value]:
    """Append g's body to b with its params bound to args; returns g's results."""
    env = dict(zip(g.params, args, strict=True))
    _clone(b, g.body, env)
    return [env[v] for v in g.results]


# -- activity -----------------------------------------------------------------------------
def _activity(block: Block, active: set[Value]) -> None:
    """Add to `active` every float value of block that depends on an active value."""
    for n in block.nodes:
        if n.op == "constant":
            continue
        if n.op == "if":
            for blk in n.blocks:
                _activity(blk, active)
            for i, o in enumerate(n.outputs):
                if is_float(o) and any(blk.results[i] in active for blk in n.blocks):
                    active.add(o)
        elif n.op == "loop":
            body = n.blocks[0]
            changed = True
            while changed:  # NOTE: carried values become active along the back edge
                changed = False
                for p, v, nxt in zip(body.params[1:], n.inputs[2:], body.results[1:],
                                     strict=True):
                    if p not in active and is_float(p) and (v in active or nxt in active):
                        active.add(p)
                        changed = True
                _activity(body, active)
                changed = changed or any(
                    p not in active and is_float(p) and nxt in active
                    for p, nxt in zip(body.params[1:], body.results[1:], strict=True))
            for p, o in zip(body.params[1:], n.outputs, strict=True):
                if p in active:
                    active.add(o)
        elif n.op == "fused":
            raise JitTypeError("autodiff runs before fusion: cannot differentiate a fused "
                               "node", n.loc)
        else:
            hot = any(v in active for v in n.inputs)
            if hot and n.op in _TAPE_OPS:
                raise JitTypeError(
                    "differentiating a loop's gradient (a second derivative through a loop) "
                    "is not supported", n.loc)
            if hot and OPS[n.op].differentiable and is_float(n.out):
                active.add(n.out)


# -- the backward pass -------------------------------------------------------------------
class _Backward:
    def __init__(self, active: set[Value]):
        self.active = active

    def block(self, fwd: Block, b: Builder, cts: dict[Value, Value]) -> None:
        """Append to b the reverse sweep over fwd's nodes: cotangents of the values those
        nodes define, flowing to their inputs (and to values they capture)."""
        for n in reversed(list(fwd.nodes)):
            outs = [cts.get(o) for o in n.outputs]
            if n.op == "constant" or all(c is None for c in outs):
                continue
            if n.op == "if":
                self.if_(n, b, cts, outs)
            elif n.op == "loop":
                self.loop(fwd, n, b, cts, outs)
            else:
                self.op(n, b, cts, outs[0])

    def accum(self, b: Builder, cts: dict[Value, Value], v: Value, g: Value) -> None:
        """cts[v] += g (micrograd's `+=`); only active values take cotangents."""
        if v not in self.active:
            return
        g = _fit(b, g, _ct_type(v.type))
        cts[v] = g if v not in cts else b.op("add", cts[v], g)

    def op(self, n: Node, b: Builder, cts: dict[Value, Value], ct: Value | None) -> None:
        opdef = OPS[n.op]
        if ct is None or not any(v in self.active for v in n.inputs):
            return
        if opdef.vjp is None:
            raise JitTypeError(f"no gradient rule (vjp) for op '{n.op}'", n.loc)
        # NOTE: rules build every input's cotangent; only the active ones are kept.
        scratch = Builder(Block(), n.loc)
        gs = list(opdef.vjp(scratch, n, ct))
        if len(gs) != len(n.inputs):
            raise AssertionError(f"vjp of {n.op} gave {len(gs)} cotangents for "
                                 f"{len(n.inputs)} inputs")
        want = [(x, g) for x, g in zip(n.inputs, gs) if g is not None and x in self.active]
        _emit_needed(b, scratch.block, [g for _, g in want])
        for x, g in want:
            self.accum(b, cts, x, g)

    def if_(self, n: Node, b: Builder, cts: dict[Value, Value],
            outs: list[Value | None]) -> None:
        branches: list[tuple[Block, Builder, dict[Value, Value]]] = []
        for blk in n.blocks:
            bb = Builder(Block(), n.loc)
            bcts: dict[Value, Value] = {}
            for r, c in zip(blk.results, outs, strict=True):
                if c is not None:
                    self.accum(bb, bcts, r, c)
            self.block(blk, bb, bcts)
            branches.append((blk, bb, bcts))
        inner = [_defined(blk) for blk in n.blocks]
        caps = _unique(v for (_, _, bcts), defs in zip(branches, inner) for v in bcts
                       if v not in defs)
        if not caps and not any(_has_effects(bb.block) for _, bb, _ in branches):
            return  # NOTE: a branch that pops a nested loop's tapes must run even if no
            # cotangent leaves the if, or the stacks its forward pushed would stay behind
        for j, (blk, bb, bcts) in enumerate(branches):
            bb.block.results = [_fit(bb, bcts[c], _ct_type(c.type)) if c in bcts
                                else zeros_of(bb, _ct_type(c.type)) for c in caps]
            res = [v for v in _refs(bb.block) if v in inner[j]]
            _substitute(bb.block, self.export(n, j, res))
        back = b.node("if", [n.inputs[0]], types=[_ct_type(c.type) for c in caps],
                      blocks=[bb.block for _, bb, _ in branches], loc=n.loc)
        for c, g in zip(caps, back.outputs, strict=True):
            self.accum(b, cts, c, g)

    def export(self, n: Node, j: int, res: list[Value]) -> dict[Value, Value]:
        """Make the forward if `n` also output res (values of its branch j); the other
        branch yields zeros of their types. Returns {residual: new output of n}."""
        subst = {}
        for r in res:
            for i, blk in enumerate(n.blocks):
                blk.results.append(r if i == j else zeros_of(Builder(blk), r.type))
            o = Value(r.type, r.hint)
            n.outputs.append(o)
            subst[r] = o
        return subst

    def loop(self, fwd: Block, n: Node, b: Builder, cts: dict[Value, Value],
             outs: list[Value | None]) -> None:
        body = n.blocks[0]
        carried, init = body.params[1:], n.inputs[2:]
        act = [i for i, p in enumerate(carried) if p in self.active]
        # the reverse body: params [k, *ct of carried, *acc of captures]
        rb = Builder(Block(), n.loc)
        ct_in = [Value(_ct_type(carried[i].type), "ct") for i in act]
        bcts: dict[Value, Value] = {}
        for i, c in zip(act, ct_in, strict=True):
            self.accum(rb, bcts, body.results[1 + i], c)
        self.block(body, rb, bcts)
        inner = _defined(body)
        ct_next = [_fit(rb, bcts[carried[i]], _ct_type(carried[i].type)) if carried[i] in bcts
                   else zeros_of(rb, _ct_type(carried[i].type)) for i in act]
        caps = [v for v in bcts if v not in inner]
        acc_in = [Value(_ct_type(c.type), "acc") for c in caps]
        acc_next = [rb.op("add", a, _fit(rb, bcts[c], _ct_type(c.type)))
                    for a, c in zip(acc_in, caps, strict=True)]
        again = rb.const(True)
        rb.block.params = [Value(_PYINT, "k"), *ct_in, *acc_in]
        rb.block.results = [again, *ct_next, *acc_next]
        res = [v for v in _refs(rb.block) if v in inner]
        # residuals that only depend on values from before the loop are computed once,
        # before it, instead of being pushed every iteration (`1.0 - alpha` in a body)
        hoisted = _invariants(body, res, inner)
        res = [v for v in res if v not in hoisted]

        # the forward loop counts its iterations and pushes the residuals
        pre = Builder(Block(), n.loc)
        count0 = pre.const(0)
        tapes0 = [pre.op("tape_new") for _ in res]
        moved = [m for m in body.nodes if m.outputs and m.outputs[0] in hoisted]
        body.nodes = [m for m in body.nodes if not (m.outputs and m.outputs[0] in hoisted)]
        at = fwd.nodes.index(n)
        fwd.nodes[at:at] = moved + pre.block.nodes
        count, tapes = Value(_PYINT, "count"), [Value(t.type, "tape") for t in tapes0]
        fb = Builder(body, n.loc)
        body.params += [count, *tapes]
        body.results += [fb.op("add", count, fb.const(1)),
                         *(fb.op("tape_push", h, r) for h, r in zip(tapes, res, strict=True))]
        n.inputs += [count0, *tapes0]
        trips, handles = Value(_PYINT, "trips"), [Value(t.type, "tape") for t in tapes0]
        n.outputs += [trips, *handles]

        # the reverse loop pops the residuals first, in every iteration
        pops = Builder(Block(), n.loc)
        popped = [pops.op("tape_pop", h, shape=r.type.shape, dtype=r.type.dtype,
                          weak=r.type.weak, hint=r.hint) for h, r in zip(handles, res)]
        rb.block.nodes[:0] = pops.block.nodes
        _substitute(rb.block, dict(zip(res, popped, strict=True)))
        seeds = []
        for i in act:
            seed, t = outs[i], _ct_type(carried[i].type)
            seeds.append(zeros_of(b, t) if seed is None else _fit(b, seed, t))
        acc0 = [zeros_of(b, _ct_type(c.type)) for c in caps]
        types = [v.type for v in (*ct_in, *acc_in)]
        back = b.node("loop", [trips, b.const(True), *seeds, *acc0], types=types,
                      blocks=[rb.block], loc=n.loc)
        for i, g in zip(act, back.outputs[:len(act)], strict=True):
            self.accum(b, cts, init[i], g)
        for c, g in zip(caps, back.outputs[len(act):], strict=True):
            self.accum(b, cts, c, g)


# -- helpers ------------------------------------------------------------------------------
def _ct_type(t: TensorType) -> TensorType:
    """Cotangents have their primal's dtype and shape and are never weak."""
    return TensorType(t.dtype, t.shape)


def _fit(b: Builder, g: Value, t: TensorType, exact: bool = False) -> Value:
    """g in type t: summed or broadcast to t's shape, cast to t's dtype (and weakness when
    exact)."""
    shape = t.shape
    assert shape is not None and g.type.shape is not None
    if g.type.shape != shape:
        if tuple(np.broadcast_shapes(g.type.shape, shape)) == g.type.shape:
            g = b.op("sum_to_shape", g, shape=shape)
        else:
            g = b.op("broadcast_to", g, shape=shape)
    if g.type.dtype != t.dtype or (exact and g.type.weak != t.weak):
        g = b.op("cast", g, dtype=t.dtype, weak=t.weak and exact)
    return g


def _unique(vs: Iterable[Value]) -> list[Value]:
    return list(dict.fromkeys(vs))


def _invariants(body: Block, res: list[Value], inner: set[Value]) -> set[Value]:
    """The residuals (and what they are computed from) that a loop body computes from
    values defined before the loop only: constants and pure float elementwise ops, which
    cannot fail, so running them once before the loop (even one that runs zero times)
    changes nothing."""
    defs = {v: m for m in body.nodes for v in m.outputs}
    ok: set[Value] = set()
    no: set[Value] = set()

    def can(v: Value) -> bool:
        if v in ok or v not in inner:
            return True
        m = defs.get(v)
        if v in no or m is None or m.blocks or len(m.outputs) != 1:
            no.add(v)
            return False
        if m.op != "constant" and not (m.op in OPS and OPS[m.op].pure
                                       and OPS[m.op].elementwise
                                       and m.out.type.dtype is not None
                                       and m.out.type.dtype.kind == "f"):
            no.add(v)
            return False
        if not all(can(i) for i in m.inputs):
            no.add(v)
            return False
        ok.add(v)
        return True

    for r in res:
        can(r)
    return ok


def _defined(block: Block) -> set[Value]:
    """Values defined in block: its params, node outputs, and those of nested blocks."""
    out = set(block.params)
    for n in block.walk():
        out.update(n.outputs)
        for blk in n.blocks:
            out.update(blk.params)
    return out


def _has_effects(block: Block) -> bool:
    return any(n.op in OPS and not OPS[n.op].pure for n in block.walk())


def _uses(n: Node) -> list[Value]:
    """Values a node reads: its inputs and what its blocks read (nested included)."""
    out = list(n.inputs)
    for blk in n.blocks:
        out += _refs(blk)
    return out


def _refs(block: Block) -> list[Value]:
    """Every value block reads (inputs and results, nested blocks included), in order."""
    out: list[Value] = []
    for n in block.nodes:
        out += _uses(n)
    out += block.results
    return _unique(out)


def _substitute(block: Block, subst: dict[Value, Value]) -> None:
    if not subst:
        return
    for n in block.nodes:
        n.inputs = [subst.get(v, v) for v in n.inputs]
        for blk in n.blocks:
            _substitute(blk, subst)
    block.results = [subst.get(v, v) for v in block.results]


def _emit_needed(b: Builder, scratch: Block, roots: list[Value]) -> None:
    """Append to b the nodes of scratch that roots depend on (a rule's unused work is
    dropped here, so the gradient graph holds only what it needs)."""
    need = set(roots)
    keep = []
    for n in reversed(scratch.nodes):
        if any(o in need for o in n.outputs):
            keep.append(n)
            need.update(_uses(n))
    b.block.nodes.extend(reversed(keep))


# -- custom_vjp -----------------------------------------------------------------------------
def custom_vjp(b: Builder, fwd: Graph, bwd: Graph, args: Sequence[Value],
               name: str = "") -> Value:
    """A `custom_vjp` node: fwd(*args) -> (out, *residuals) gives its value, and
    bwd(*residuals, ct) -> (ct_arg, ...) (one per arg, None-free) its VJP. Both graphs must be
    typed for these args; checked here."""
    check_custom_vjp(fwd, bwd, [a.type for a in args])
    return b.op("custom_vjp", *args, fwd=fwd, bwd=bwd, name=name)


def check_custom_vjp(fwd: Graph, bwd: Graph, arg_types: Sequence[TensorType]) -> None:
    """Raise JitTypeError unless fwd and bwd fit together and these argument types."""
    where = fwd.loc
    if [p.type for p in fwd.params] != list(arg_types):
        raise JitTypeError(f"custom_vjp: fwd {fwd.name} is typed for "
                           f"({', '.join(str(p.type) for p in fwd.params)}), not "
                           f"({', '.join(str(t) for t in arg_types)})", where)
    if not fwd.results:
        raise JitTypeError(f"custom_vjp: fwd {fwd.name} must return (out, *residuals)", where)
    want = [r.type for r in fwd.results[1:]] + [_ct_type(fwd.results[0].type)]
    got = [p.type for p in bwd.params]
    if [(t.dtype, t.shape) for t in got] != [(t.dtype, t.shape) for t in want]:
        raise JitTypeError(f"custom_vjp: bwd {bwd.name} must take (*residuals, ct) of types "
                           f"({', '.join(str(t) for t in want)}), got "
                           f"({', '.join(str(t) for t in got)})", bwd.loc)
    if len(bwd.results) != len(arg_types):
        raise JitTypeError(f"custom_vjp: bwd {bwd.name} returns {len(bwd.results)} "
                           f"cotangent(s) for {len(arg_types)} argument(s)", bwd.loc)


__all__ = ["check_custom_vjp", "custom_vjp", "inline", "vjp_graph"]
