"""fuse: producer-consumer fusion of elementwise chains (with the broadcasts inside them and
the reductions that consume them) into `fused` nodes, one loop nest each in a backend.

Given:
  %0 = sub(%x, %m) : f32[4,6]
  %1 = exp(%0) : f32[4,6]
  %2 = sum(%1) {axis=(1,), dtype=None, keepdims=True} : f32[4,1]
  %3 = div(%1, %2) : f32[4,6]
  return %3
Result:
  %1, %2 = fused(%x, %m) (%x.1: f32[4,6], %m.1: f32[4,1]) {
    %4 = sub(%x.1, %m.1) : f32[4,6]
    %5 = exp(%4) : f32[4,6]
    %6 = sum(%5) {axis=(1,), dtype=None, keepdims=True} : f32[4,1]
    yield %5, %6
  } : f32[4,6], f32[4,1]
  %3 = div(%1, %2) : f32[4,6]
  return %3

What a group is (backends rely on it): every elementwise member has the group's shape S
(its iteration space; inputs may be smaller and broadcast in); broadcast views may sit
inside; reductions, all over the same axes of S, come last and nothing in the group reads
them; 0-d constants are copied into the body (a fused body sees only its params). A value
used outside the group is an output; the others are never materialized. Fusion stays
inside one block: never across an if or a loop boundary (their blocks fuse on their own).
Groups merge only when no path leaves the group and comes back (that would be a cycle).
"""
from __future__ import annotations

from ..ir.graph import Block, Graph, Node, Value
from ..ops import OPS, OpDef

# NOTE: the kind of fusion an op allows is asked of its OpDef: `fusion` ("broadcast" or
# "reduce"), or "elementwise" for ops declared elementwise.

def fusion_kind(n: Node) -> str | None:
    op: OpDef | None = OPS.get(n.op)
    if op is None or not op.pure or len(n.outputs) != 1:
        return None
    t = n.outputs[0].type
    if not t.known or any(not v.type.known for v in n.inputs):
        return None
    kind = op.fusion or ("elementwise" if op.elementwise else None)
    if kind != "reduce" and (t.shape == () or t.weak):
        return None        # a 0-d value is a register already: nothing to fuse
    return kind


def fuse(g: Graph) -> Graph:
    return Graph(g.name, _fuse_block(g.body, {}), g.arg_names, g.loc)




def _fuse_block(block: Block, outer: dict[Value, Node]) -> Block:
    """`outer`: the constant nodes of the enclosing blocks (copied into bodies too)."""
    consts = dict(outer)
    consts.update((n.outputs[0], n) for n in block.nodes if n.op == "constant")
    nodes = [n if not n.blocks or n.op == "fused" else
             Node(n.op, n.inputs, n.attrs, n.outputs, [_fuse_block(b, consts) for b in n.blocks],
                  n.loc)
             for n in block.nodes]
    prod = {v: n for n in nodes for v in n.outputs}
    uses = {n: list(n.free_uses()) for n in nodes}
    parent: dict[int, int] = {}                 # union-find over group ids
    group: dict[Node, int] = {}
    shape: dict[int, tuple] = {}
    axes: dict[int, tuple | None] = {}
    deps: dict[object, set[int]] = {}           # group id or node -> groups it depends on

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def key(n: Node) -> object:
        return find(group[n]) if n in group else n

    def deps_of(n: Node) -> set[int]:
        d = {find(i) for i in deps[key(n)]}
        return d | {find(group[n])} if n in group else d

    for n in nodes:
        kind = fusion_kind(n)
        producers = [prod[v] for v in uses[n] if v in prod]
        ext_deps = set().union(*(deps_of(p) for p in producers)) if producers else set()
        cands: list[int] = []
        if kind in ("elementwise", "broadcast"):
            cands = sorted({find(group[p]) for p in producers if p in group
                            and shape[find(group[p])] == n.out.type.shape})
        elif kind == "reduce":
            p = prod.get(n.inputs[0])
            if p in group and shape[find(group[p])] == n.inputs[0].type.shape and \
                    axes[find(group[p])] in (None, tuple(n.attrs.get("axis", ()))):
                cands = [find(group[p])]
        # a node reading a group's reduction may not join it (the reduction is not done)
        cands = [c for c in cands if not any(p in group and find(group[p]) == c and
                                             fusion_kind(p) == "reduce" for p in producers)]
        merged = _mergeable(cands, producers, group, find, deps_of, deps)
        if merged:
            root = merged[0]
            for c in merged[1:]:
                parent[c] = root
                deps[root] |= deps.pop(c)
            group[n] = root
            outside = set().union(*(deps_of(p) for p in producers
                                    if not (p in group and find(group[p]) == root)))
            deps[root] = {find(i) for i in deps[root] | outside} - {root}
            if kind == "reduce":
                axes[root] = tuple(n.attrs.get("axis", ()))
        elif kind in ("elementwise", "broadcast"):
            gid = len(parent)
            parent[gid] = gid
            group[n] = gid
            shape[gid] = tuple(n.out.type.shape or ())
            axes[gid] = None
            deps[gid] = ext_deps
        else:
            deps[n] = ext_deps
    return _emit(block, nodes, prod, {n: find(g) for n, g in group.items()}, consts, uses)


def _mergeable(cands: list[int], producers: list[Node], group: dict[Node, int], find,
               deps_of, deps: dict[object, set[int]]) -> list[int]:
    """The candidate groups (largest prefix) that the node can join without a cycle."""
    for k in range(len(cands), 0, -1):
        m = set(cands[:k])
        if any(m & {find(i) for i in deps[c]} for c in m):
            continue
        if any(m & deps_of(p) for p in producers if not (p in group and find(group[p]) in m)):
            continue
        return cands[:k]
    return []


def _emit(block: Block, nodes: list[Node], prod: dict[Value, Node], group: dict[Node, int],
          consts: dict[Value, Node], uses: dict[Node, list[Value]]) -> Block:
    members: dict[int, list[Node]] = {}
    for n in nodes:
        if n in group:
            members.setdefault(group[n], []).append(n)
    fused: dict[int, Node] = {}
    for gid, ms in members.items():
        kinds = [fusion_kind(m) for m in ms]
        if kinds.count("elementwise") + kinds.count("reduce") >= 2 and "elementwise" in kinds:
            fused[gid] = _make_fused(ms, nodes, block, consts, uses)
    unit = {n: fused[group[n]] if n in group and group[n] in fused else n for n in nodes}
    new = set(fused.values())

    def before(u: Node) -> list[Node]:
        ins = list(u.inputs) if u in new else uses[u]
        return [unit[prod[v]] for v in ins if v in prod and unit[prod[v]] is not u]
    out: list[Node] = []
    state: dict[Node, int] = {}         # 1: on the current path, 2: emitted
    for n in nodes:                     # topological order of units, iteratively
        if state.get(unit[n]) == 2:
            continue
        state[unit[n]] = 1
        stack = [(unit[n], iter(before(unit[n])))]
        while stack:
            u, pending = stack[-1]
            for w in pending:
                if state.get(w) == 1:
                    # two groups ended up needing each other (the dependency sets the
                    # merge test reads are not transitive): fuse nothing in this block
                    # rather than emit a cycle
                    return Block(block.params, nodes, block.results)
                if w not in state:
                    state[w] = 1
                    stack.append((w, iter(before(w))))
                    break
            else:
                state[u] = 2
                out.append(u)
                stack.pop()
    # constants whose every user went into a body (which holds its own copy) are dropped
    used = set(block.results).union(*(set(u.inputs if u in new else uses[u]) for u in out))
    out = [u for u in out if u.op != "constant" or u.outputs[0] in used]
    return Block(block.params, out, block.results)


def _make_fused(ms: list[Node], nodes: list[Node], block: Block, consts: dict[Value, Node],
                uses: dict[Node, list[Value]]) -> Node:
    inside = set(ms)
    made = {v for m in ms for v in m.outputs}
    used_out = set(block.results)
    for n in nodes:
        if n not in inside:
            used_out.update(uses[n])
    inputs: list[Value] = []
    body_nodes: list[Node] = []
    remap: dict[Value, Value] = {}
    params: list[Value] = []
    for m in ms:
        for v in m.inputs:
            if v in remap or v in made:
                continue
            p = consts.get(v)
            if p is not None and v.type.shape == ():
                c = Value(v.type, v.hint)     # a scalar constant is copied into the body
                body_nodes.append(Node("constant", [], p.attrs, [c], loc=p.loc))
                remap[v] = c
                continue
            q = Value(v.type, v.hint)
            inputs.append(v)
            params.append(q)
            remap[v] = q
        outs = [Value(v.type, v.hint) for v in m.outputs]
        remap.update(zip(m.outputs, outs, strict=True))
        body_nodes.append(Node(m.op, [remap[v] for v in m.inputs], m.attrs, outs, loc=m.loc))
    results = [v for m in ms for v in m.outputs if v in used_out]
    body = Block(params, body_nodes, [remap[v] for v in results])
    return Node("fused", inputs, {}, results, [body], ms[-1].loc)
