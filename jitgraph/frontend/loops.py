"""Loops: `for` over range(...), reversed(range(...)), an array's first axis or
enumerate(x) and `while` become one Loop node; `for` over a tuple is unrolled. The
carried names (assigned in the body, plus names first assigned there and defined at its
end) get their types from a fixpoint, since they may widen from one iteration to the
next; break and continue arrive here already rewritten into flags (rewrite.py).
"""
from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from ..errors import ScriptError
from ..ir.graph import Block, Builder, Value
from ..types import TensorType, join_types
from .core import EmitterCore
from .rewrite import lower_jumps
from .values import (
    Enumerated,
    PendingName,
    Undefined,
    UnresolvedName,
    _carriable,
    _describe,
    _hint,
    is_static,
    is_tree,
    tree_flatten,
    tree_unflatten,
)


class LoopEmitter(EmitterCore):
    # ---------------------------------------------------------------- loops
    def emit_for(self, s: ast.For) -> None:
        """for over range(...) / reversed(range(...)) and over an array's first axis
        (`for row in x`, `enumerate(x)`) become loop nodes; over a tuple (`zip(ws, bs)`),
        the body is unrolled."""
        body, brk = lower_jumps(s)
        tnames = sorted(_assigned_names([ast.Assign(targets=[s.target], value=s.iter)]))
        rng = self._range_of(s.iter, s)
        if rng is not None:
            start, step, trip, rev = rng

            def bind_index(k: Value) -> None:
                j: Any = k if not rev else self.binop(
                    ast.Sub, self.binop(ast.Sub, trip, 1, s), k, s)
                if not (is_static(step) and step == 1):
                    j = self.binop(ast.Mult, j, step, s)
                if not (is_static(start) and start == 0):
                    j = self.binop(ast.Add, start, j, s)
                self.assign(s.target, j)
            self.emit_loop(s, body, trip, True, brk, None, bind_index, tnames)
            return
        seq = self.ev(s.iter)
        if isinstance(seq, dict):
            seq = list(seq)                  # a dict pytree: over its keys, unrolled
        if isinstance(seq, (tuple, list)):
            if brk is not None or body is not s.body:
                raise self.script_error("break/continue in a loop over a tuple or a dict "
                                        "(which is unrolled) are not supported", s, "for loop")
            for e in seq:
                self.assign(s.target, e)
                self.emit_stmts(s.body)
            return
        enum = isinstance(seq, Enumerated)
        arr = seq.value if enum else seq
        if isinstance(arr, (Value, np.ndarray)):
            x = self.as_value(arr)
            if self.typed and not x.type.shape:
                raise self.type_error("iteration over a 0-d array")
            trip = x.type.shape[0] if self.typed else self.op(  # type: ignore[index]
                "getitem", [self.op("shape", [x])], {"index": (("int", 0),)})

            start = seq.start if enum else 0

            def bind_row(k: Value) -> None:
                row = self.op("getitem", [x, k], {"index": (("value",),)})
                i = k if is_static(start) and start == 0 else self.binop(ast.Add, k, start, s)
                self.assign(s.target, (i, row) if enum else row)
            self.emit_loop(s, body, trip, True, brk, None, bind_row, tnames)
            return
        raise self.script_error("for loops iterate over range(...), an array, enumerate(...), "
                                "a tuple or a dict", s.iter, "for loop over a non-range iterable")

    def _range_of(self, it: ast.expr, s: ast.stmt) -> tuple[Any, Any, Any, bool] | None:
        """(start, step, trip count, reversed) of `range(...)` or `reversed(range(...))`."""
        rev = False
        if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id ==
                "reversed" and len(it.args) == 1 and self._is_builtin(it.func, reversed)):
            it, rev = it.args[0], True
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and self._is_builtin(it.func, range)):
            return None
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.script_error("range() takes 1 to 3 positional arguments", it)
        rargs = [self.ev(a) for a in it.args]
        for a in rargs:
            if is_static(a) and not isinstance(a, (int, np.integer)):
                raise self.type_error(f"range() arguments must be integers, got {_describe(a)}")
        step: Any   # an int, or a run-time value (then it is an error below)
        start, stop, step = (0, rargs[0], 1) if len(rargs) == 1 else (
            rargs[0], rargs[1], rargs[2] if len(rargs) == 3 else 1)
        if not is_static(step):
            self.need_static(step)
            raise self.type_error("the step of range() must be a compile-time constant")
        if step == 0:
            raise self.type_error("range() arg 3 must not be zero")
        if is_static(start) and is_static(stop):
            trip: Any = len(range(int(start), int(stop), int(step)))
        elif step == 1:
            span = stop if is_static(start) and start == 0 else self.binop(ast.Sub, stop, start, s)
            trip = self.op("maximum", [span, 0])
        else:
            span = self.binop(ast.Sub, stop, start, s) if step > 0 else self.binop(
                ast.Sub, start, stop, s)
            astep = abs(int(step))
            n = self.binop(ast.FloorDiv, self.binop(ast.Add, span, astep - 1, s), astep, s)
            trip = self.op("maximum", [n, 0])
        return start, step, trip, rev

    def _is_builtin(self, name: ast.Name, f: Any) -> bool:
        try:
            return self.lookup(name.id, name) is f
        except ScriptError:
            return False

    def emit_while(self, s: ast.While) -> None:
        c0 = self.truth(self.ev(s.test))
        if not isinstance(c0, Value) and not c0:
            return
        body, brk = lower_jumps(s)
        self.emit_loop(s, body, -1, c0, brk, s.test, None, [])

    def emit_loop(self, s: ast.stmt, body: list[ast.stmt], trip: Any, cond0: Any,
                  brk: str | None, test: ast.expr | None, bind: Callable[[Value], None] | None,
                  tnames: list[str]) -> None:
        """A loop node. Carried: names assigned in the body that exist before the loop,
        plus names first assigned in it that are defined at the end of the body (Python
        keeps the last iteration's value; before the first iteration they hold zeros).
        Their types are found by a fixpoint, since they can widen (0 -> a float32 row)."""
        assigned = _assigned_names(body)
        carried = [k for k in sorted(assigned) if k in self.env
                   and not isinstance(self.env[k], Undefined)]
        # the loop variable is fresh too: Python keeps its last value after the loop
        keep_var = {n for n in tnames if _read_outside(self.src.tree, s, n)}
        fresh = sorted(k for k in (assigned | keep_var) - set(carried)
                       if not k.startswith(("__break", "__continue")))
        # a name holding a pytree (a tuple, list or dict of run-time values) is carried leaf
        # by leaf, under slot names no Python name can spell ("t#0", "t#1", ...)
        trees: dict[str, tuple[Any, list[str]]] = {}

        # (generic graphs keep a container as one opaque value: its structure may change)
        for k in [k for k in carried if self.typed and is_tree(self.env[k])]:
            spec, leaves = tree_flatten(self.env[k])
            slots = [f"{k}#{i}" for i in range(len(leaves))]
            trees[k] = (spec, slots)
            self.env.update(zip(slots, leaves))
            carried.remove(k)
            carried += slots
        init: list[Value | None] = [self.as_value(self.env[k], what=repr(k)) for k in carried]
        types = [v.type for v in init]  # type: ignore[union-attr]
        env0 = self.env
        strict = False
        # carried arrays that `x[i] = v` may write into: fresh before the loop, fresh again
        # at the end of every iteration, and named by nothing else (ownership.py)
        shared: set[str] = set()
        # a raise in the body is decided at compile time only if the body surely runs
        # (or surely never runs: then it vanishes); see StatementEmitter.emit_raise
        runs = (not isinstance(cond0, Value) and bool(cond0) and is_static(trip)
                and (trip == -1 or trip > 0))
        never = is_static(trip) and trip == 0
        guard: list[Value | bool | None] = [] if runs else [False] if never else [
            trip if isinstance(trip, Value) else cond0 if isinstance(cond0, Value) else None]
        for _ in range(12):
            params = [Value(TensorType(np.dtype(np.int64), (), True),
                            tnames[0] if len(tnames) == 1 else "k")]
            params += [Value(t, _slot_hint(k)) for t, k in zip(types, carried)]
            blk = Builder(Block(params), self.loc)
            self.env = dict(env0)
            self.env.update(zip(carried, params[1:]))
            for k, (spec, slots) in trees.items():
                self.env[k] = tree_unflatten(spec, [self.env[q] for q in slots])
            owned = _carried_ownership(self, carried, init, params[1:], env0, shared,
                                       set(carried) | set(trees))
            for k, p in zip(carried, params[1:]):
                if k in shared:
                    self.own.why[p] = (f"the loop carries {k!r}, and at the end of an iteration "
                                       "it can be an array that another name or the caller "
                                       "shares")
            saved, self.b = self.b, blk
            saved_lenient, saved_widened = self.lenient, self.widened
            self.lenient, self.widened = (0 if strict else self.lenient + 1), False
            saved_fill, self.fillable = self.fillable, self.fillable | set(fresh)
            self.guards.extend(guard)
            try:
                if bind is not None:
                    bind(params[0])
                try:
                    self.emit_stmts(body)
                except PendingName as p:
                    t = self.pending_types.get(p.name)
                    if t is None or p.name in carried:
                        raise UnresolvedName(f"name {p.name!r} is read before it is assigned",
                                             p.loc, p.name) from None
                    carried.append(p.name)
                    init.append(None)
                    types.append(t)
                    continue
                self.at(s)
                for k, (spec, slots) in trees.items():
                    spec_now, leaves = tree_flatten(self.env[k])
                    if spec_now != spec:
                        raise self.type_error(f"{k!r} changes structure inside the loop (a "
                                              "carried tuple, list or dict must keep its "
                                              "length and keys)")
                    self.env.update(zip(slots, leaves))
                new_trees = []
                for k in fresh:
                    if k not in trees and self.typed and is_tree(self.env.get(k)):
                        spec, leaves = tree_flatten(self.env[k])
                        new_trees.append((k, spec, [self.as_value(x, repr(k)).type
                                                    for x in leaves]))
                nexts = [self.as_value(self.env[k], repr(k)) for k in carried]
                lost = {k for k, v in zip(carried, nexts)
                        if k in owned and not self.own.sole(v, self.env, k)}
                new = [k for k in fresh if k not in carried and (
                    _carriable(self.env.get(k)) or not self.typed and is_tree(self.env.get(k)))]
                new_vals = [self.as_value(self.env[k], repr(k)) for k in new]
                cont: Any = True
                if test is not None:
                    cont = self.truth(self.ev(test))
                if brk is not None:
                    nb = self.truth(self.env[brk])
                    nb = (not nb) if not isinstance(nb, Value) else self.op("logical_not", [nb])
                    cont = self._and(nb, cont)
                cont_v = self.as_value(cont) if not isinstance(cont, Value) else cont
            finally:
                del self.guards[len(self.guards) - len(guard):]
                self.b = saved
                self.env = env0
                widened = self.widened
                self.lenient, self.widened = saved_lenient, saved_widened
                self.fillable = saved_fill
            if lost:  # not fresh at the end of the body: not writable in it either
                shared |= lost
                continue
            if new_trees:  # pytrees first made in the body: carry their leaves too
                for k, spec, leaf_types in new_trees:
                    slots = [f"{k}#{i}" for i in range(len(leaf_types))]
                    trees[k] = (spec, slots)
                    carried += slots
                    init += [None] * len(slots)
                    types += leaf_types
                continue
            if new:  # names first defined in the body: carry them too, and go again
                carried += new
                init += [None] * len(new)
                types += [v.type for v in new_vals]
                continue
            joined = [join_types(t, v.type) for t, v in zip(types, nexts)]
            for k, j, t, v in zip(carried, joined, types, nexts):
                if j is None:
                    raise self.type_error(f"{k!r} changes shape inside the loop, from {t} "
                                          f"to {v.type}")
            if joined == types:
                if not widened or strict or saved_lenient:
                    break
                strict = True  # settled, but a branch was widened: emit strictly to report it
                continue
            types = joined  # type: ignore[assignment]
        else:
            raise self.type_error("loop-carried types did not settle")
        blk.block.results = [cont_v] + [self._in(blk, partial(self.coerce, v, t))
                                        for v, t in zip(nexts, types)]
        init_v = [self.zeros(t) if v is None else self.coerce(v, t)
                  for v, t in zip(init, types)]
        trip_v = self.as_value(trip)
        c0 = self.as_value(cond0)
        n = self.b.node("loop", [trip_v, c0, *init_v], None, types, [blk.block], loc=self.loc)
        self.own.owned.update(v for k, v in zip(carried, n.outputs) if k in owned)
        for k, v in zip(carried, n.outputs):
            v.hint = _slot_hint(k)
            self.env[k] = v
        for k, (spec, slots) in trees.items():
            self.env[k] = tree_unflatten(spec, [self.env.pop(q) for q in slots])
        for k in assigned - set(carried) - set(trees):
            if not k.startswith("__"):
                self.env[k] = Undefined(f"{k!r} is assigned only inside the loop at line "
                                        f"{s.lineno} (not on every path) and used after it")
        for tn in tnames:
            if tn not in carried:
                self.env[tn] = Undefined(f"the loop variable {tn!r} is used after the loop")


def _carried_ownership(self: Any, carried: list[str], init: list[Value | None],
                       params: list[Value], env0: dict[str, Any], shared: set[str],
                       loop_names: set[str]) -> set[str]:
    """The carried names whose arrays `x[i] = v` may write into in the body: fresh when
    the loop starts, and named there only by other carried names (each iteration may
    rebind those first: `prev = u.copy(); u[0] = 1.0`). Carried names that hold the same
    array when the loop starts may be one array in the body: their params are recorded
    as maybe the same, so a write is refused while the other still holds it."""
    own = self.own
    owned: set[str] = set()
    for k, v, p in zip(carried, init, params):
        if k in shared:
            continue
        if v is None:
            owned.add(k)
            continue
        if v not in own.owned:
            continue
        outside = [o for o in own.holders(v, env0, k) if o not in loop_names]
        if outside:
            who = ", ".join(repr(o) for o in outside)
            own.why[p] = (f"the loop carries {k!r}, and {who} "
                          f"{'refers' if len(outside) == 1 else 'refer'} to the same array "
                          "(or a view of it) when the loop starts")
            continue
        owned.add(k)
    own.owned.update(p for k, p in zip(carried, params) if k in owned)
    for k1, v1, p1 in zip(carried, init, params):
        for k2, v2, p2 in zip(carried, init, params):
            if k1 != k2 and isinstance(v1, Value) and isinstance(v2, Value) \
                    and own.holders(v1, {k2: v2}, k1):
                own.maybe.setdefault(p2, set()).add(p1)
                own.maybe.setdefault(p1, set()).add(p2)
    return owned


def _slot_hint(k: str) -> str:
    return _hint(k.replace("#", "_"))


def _read_outside(tree: ast.AST, loop: ast.AST, name: str) -> bool:
    """Whether `name` is read anywhere in the function outside this loop statement."""
    inside = {id(n) for n in ast.walk(loop)}
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
               and id(n) not in inside for n in ast.walk(tree))


def _assigned_names(stmts: Sequence[ast.stmt]) -> set[str]:
    out: set[str] = set()
    stack: list[ast.AST] = list(stmts)
    while stack:
        n = stack.pop()
        if isinstance(n, ast.FunctionDef):
            out.add(n.name)  # a nested def binds its name; its body is its own scope
            continue
        if isinstance(n, (ast.ListComp, ast.GeneratorExp)):
            stack.append(n.generators[0].iter)  # the targets do not leak (Python 3)
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) \
                and isinstance(n.value, ast.Name):
            out.add(n.value.id)        # out[i] = v rebinds out (to a setitem)
        stack.extend(ast.iter_child_nodes(n))
    return out
