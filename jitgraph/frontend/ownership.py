"""Which arrays an item assignment (`out[i] = v`) may write into.

The IR is pure: `x[idx] = v` becomes `x = setitem(x, v, idx)`, a new value. That equals
NumPy's in-place write only when nothing else can see the old array: no other name bound
to it or to a view of it, and not a function argument (the caller's array). This module
keeps the facts the frontend needs for that: the values made by ops that return fresh
arrays ("owned"), and the root of every view (basic indexing, reshape, transpose, ...).
Anything not known to be owned is refused with a JitTypeError that says to copy first, so
a compiled function never differs from eager NumPy by a missing side effect.
"""
from __future__ import annotations

from typing import Any

from ..ir.graph import Value
from .values import tree_flatten

# ops whose result may share memory with their first input, as NumPy's views do
VIEW_OPS = frozenset({"getitem", "reshape", "transpose", "expand_dims", "squeeze",
                      "broadcast_to"})


class Ownership:
    """Shared by a function's emitter and the emitters of the helpers it inlines."""

    def __init__(self) -> None:
        self.owned: set[Value] = set()
        self.view_of: dict[Value, Value] = {}
        # values a run-time `if` chose (or a loop carries) that may be, or be views of,
        # these roots: `b = a if c else a + 1` makes b maybe a
        self.maybe: dict[Value, set[Value]] = {}
        self.why: dict[Value, str] = {}     # why a value that looks fresh is not owned

    def made(self, op: str, inputs: list[Value], out: Value) -> None:
        """Record what an op's result is: a view of its first input, or a fresh array.
        An element (a 0-d getitem) is a copy, as NumPy's scalars are."""
        if op in VIEW_OPS and inputs and not (
                op == "getitem" and (out.type.shape == () or any(
                    v.type.shape not in ((), None) for v in inputs[1:]))):
            self.view_of[out] = self.view_of.get(inputs[0], inputs[0])
        else:
            self.owned.add(out)

    def merged(self, outs: list[Value], sides: list[tuple[list[Any], set[Value]]]) -> None:
        """outs are the values of a run-time if; each side gives its list of values for
        them and the values made inside that branch. An out may be what either side gave:
        a side's value made in its branch is fresh unless it is a view; any other is an
        array from before the if, which out may now be. Outs given the same value by a
        side may be the same array. An out that is fresh on both sides is owned."""
        for j, out in enumerate(outs):
            roots: set[Value] = set()
            fresh = True
            for vals, inner in sides:
                x = vals[j]
                if not isinstance(x, Value):
                    continue
                roots |= self.maybe.get(x, set())
                if x not in inner or x in self.view_of:
                    roots.add(self.root(x))
                fresh = fresh and x in self.owned
                roots |= {outs[i] for i, y in enumerate(vals) if y is x and i != j}
            if roots:
                self.maybe[out] = roots
                self.why.setdefault(out, "it may be the same array as another variable (a "
                                         "run-time if chose between them), which would "
                                         "change too")
            elif fresh:
                self.owned.add(out)

    def root(self, v: Value) -> Value:
        return self.view_of.get(v, v)

    def holders(self, v: Value, env: dict[str, Any], but: str) -> list[str]:
        """Names other than `but` whose value is v, a view of v, maybe one of those, or
        holds one (in a tuple, list or dict)."""
        return [k for k, x in env.items() if k != but and any(
            leaf is v or self.view_of.get(leaf) is v or v in self.maybe.get(leaf, ())
            for leaf in tree_flatten(x)[1] if isinstance(leaf, Value))]

    def sole(self, v: Any, env: dict[str, Any], name: str) -> bool:
        """v is a fresh array that only `name` refers to in env."""
        return isinstance(v, Value) and v in self.owned and not self.holders(v, env, name)

