"""verify(graph): the IR's invariants, checked after every pass (JITGRAPH_VERIFY=1).

Structure:
  - every value is defined once (graph params, node outputs, block params);
  - every use (inputs, block results, Values inside attrs) sees its definition: an earlier
    node of the same block, a param of that block, or a value of an enclosing block (not
    of a sibling block, and not from inside a block after it ends). A fused body sees its
    own params only: its inputs are everything it captures;
  - ops exist in OPS (or are structural), with their number of inputs (`nin`; None means
    at least one), one output (or the OpDef's `nout`, when it has one), no blocks, and only
    the attributes they declare;
  - constant: no inputs, one output, attrs {value};
    if:    inputs [cond], two blocks without params, each yields one value per output;
    loop:  inputs [trip, cond0, *init], one body with params [k, *carried] that yields
           [cond_next, *next]; one output per init value;
    fused: one body with one param per input, yielding one value per output.
Types, where both sides are known (`typed=None`, the default), everywhere (`typed=True`:
every value must have a known type), or nowhere (`typed=False`):
  - a registry op's output type is what `OPS[op].infer` gives for its input types;
  - if/fused outputs have their blocks' result types; a loop's carried params, next values
    and outputs have the types of its init values; conditions hold one element, trip counts
    and the iteration number are integer scalars; a constant's value has its type's shape
    and dtype (only the kind for weak scalars);
  - a fully typed graph has no Values inside attrs (specialization resolves them).

Messages quote the printed line (`str(g)` numbering, without locations) and name values
as the printer does:

    graph f, line 2: input 1 of add %y is used before its definition
        %0 = add(%x, %y) : f32[3]
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import numpy as np

from ..ops import OPS
from ..types import TensorType
from .graph import STRUCTURAL, Block, Graph, Node, Value
from .printer import Listing, definitions

# Where a value is defined or a use happens: a node (its line), a block (its yield or
# return line) or None (the graph header).
Where = Node | Block | None


class VerifyError(Exception):
    """A graph breaks an invariant of the IR; the message names the line and the value."""


def verify(g: Graph, typed: bool | None = None) -> None:
    """Raise VerifyError at the first broken invariant. typed: None checks the types that
    are known, True also requires every type to be known, False checks structure only."""
    _Verifier(g, typed).run()


def attr_values(x: Any) -> Iterator[Value]:
    """The Values held in an attribute (generic graphs may name values there)."""
    if isinstance(x, Value):
        yield x
    elif isinstance(x, (tuple, list)):
        for e in x:
            yield from attr_values(e)
    elif isinstance(x, dict):
        for k, e in x.items():
            yield from attr_values(k)
            yield from attr_values(e)


class _At:
    """A message part: where a value is defined."""

    def __init__(self, value: Value):
        self.value = value


class _Verifier:
    def __init__(self, g: Graph, typed: bool | None):
        self.g = g
        self.typed = typed
        self.defined: dict[Value, Where] = {}    # value -> the node (or block owner) defining it
        self.everywhere: set[Value] = set()
        self.full = False                        # every type known: attrs must hold no Values
        self.in_fused = 0                        # depth of fused bodies around the block

    # -- messages ---------------------------------------------------------------------
    def fail(self, where: Where, *parts: Any) -> NoReturn:
        """Raise with the parts joined: strings as they are, Values by their printed names,
        _At(v) as ' on line N' of v's definition; the line of `where` is quoted."""
        try:
            lst: Listing | None = Listing(self.g, locations=False)
        except Exception:  # noqa: BLE001  NOTE: a graph too broken to print still gets a message
            lst = None
        text = "".join(self.render(p, lst) for p in parts)
        line = self.line(where, lst)
        head = f"graph {self.g.name}" + (f", line {line}" if line else "")
        quoted = f"\n    {lst.lines[line - 1].strip()}" if lst and line else ""
        raise VerifyError(f"{head}: {text}{quoted}")

    def render(self, p: Any, lst: Listing | None) -> str:
        if isinstance(p, str):
            return p
        if isinstance(p, _At):
            line = self.line(self.defined.get(p.value), lst)
            return f" on line {line}" if line else ""
        if not isinstance(p, Value):
            return f"{p!r} (not a Value)"
        if lst is not None and p in lst.namer.names:
            return "%" + lst.namer.names[p]
        hint = f" (hint {p.hint!r})" if p.hint else ""
        return f"a value that no node defines{hint}"

    def line(self, where: Where, lst: Listing | None) -> int:
        if lst is None:
            return 0
        if isinstance(where, Node):
            return lst.node_line.get(where, 0)
        if isinstance(where, Block):
            return lst.yield_line.get(where, 0)
        return 1

    # -- structure --------------------------------------------------------------------
    def run(self) -> None:
        g = self.g
        self.everywhere = set(definitions(g))
        if self.typed is not False:
            self.full = all(v.type.known for v in self.everywhere)
        scope: set[Value] = set()
        self.define(g.params, None, scope)
        self.block(g.body, scope)

    def define(self, vals: list[Value], where: Where, scope: set[Value]) -> None:
        for v in vals:
            if not isinstance(v, Value):
                self.fail(where, "defines ", v)
            if v in self.defined:
                self.fail(where, v, " is defined twice (first", _At(v), ")")
            if self.typed is True and not v.type.known:
                self.fail(where, "the type of ", v, " is unknown in a typed graph")
            self.defined[v] = where
            scope.add(v)

    def use(self, v: Any, where: Where, scope: set[Value], what: str) -> None:
        if isinstance(v, Value) and v in scope:
            return
        if not isinstance(v, Value) or v not in self.everywhere:
            self.fail(where, what, " is ", v)
        if v in self.defined:
            why = " (a fused body sees only its own params)" if self.in_fused else ""
            self.fail(where, what, " ", v, " is defined", _At(v),
                      " in a block that does not enclose this use", why)
        self.fail(where, what, " ", v, " is used before its definition")

    def block(self, b: Block, scope: set[Value]) -> None:
        for n in b.nodes:
            self.node(n, scope)
        what = "returned value" if b is self.g.body else "yielded value"
        for v in b.results:
            self.use(v, b, scope, what)

    def node(self, n: Node, scope: set[Value]) -> None:
        for i, v in enumerate(n.inputs):
            self.use(v, n, scope, f"input {i} of {n.op}")
        for k in sorted(n.attrs):
            for v in attr_values(n.attrs[k]):
                self.use(v, n, scope, f"attribute {k} of {n.op}")
                if self.full:
                    self.fail(n, f"attribute {k} of {n.op} holds the value ", v,
                              " in a fully typed graph (specialization must resolve it)")
        if n.op in STRUCTURAL:
            _STRUCTURAL_CHECKS[n.op](self, n, scope)
        elif n.op in OPS:
            self.registry_op(n)
        else:
            self.fail(n, f"unknown op {n.op!r}: not in ops.OPS and not one of {STRUCTURAL}")
        self.define(n.outputs, n, scope)

    def sub_block(self, n: Node, b: Block, scope: set[Value]) -> None:
        # NOTE: a copy, so values of this block stay invisible to its siblings and after it.
        fused = n.op == "fused"
        inner = set() if fused else set(scope)
        self.define(b.params, n, inner)
        self.in_fused += fused
        self.block(b, inner)
        self.in_fused -= fused

    def counts(self, n: Node, *, inputs: int | None = None, blocks: int,
               outputs: int | None = None) -> None:
        if inputs is not None and len(n.inputs) != inputs:
            self.fail(n, f"{n.op} takes {inputs} input(s), got {len(n.inputs)}")
        if len(n.blocks) != blocks:
            self.fail(n, f"{n.op} has {blocks} block(s), got {len(n.blocks)}")
        if outputs is not None and len(n.outputs) != outputs:
            self.fail(n, f"{n.op} has {outputs} output(s), got {len(n.outputs)}")

    # -- the structural ops -----------------------------------------------------------
    def _constant(self, n: Node, scope: set[Value]) -> None:
        self.counts(n, inputs=0, blocks=0, outputs=1)
        if "value" not in n.attrs:
            self.fail(n, "constant without a 'value' attribute")
        t, x = n.out.type, n.attrs["value"]
        if self.typed is False or not t.known or isinstance(x, Value):
            return
        if t.weak and type(x) not in (bool, int, float, complex):
            # NOTE: NumPy 2 treats NumPy scalars (np.float64 too) as strong: a weak value
            # must be a Python scalar, or backends and eager disagree on result dtypes.
            self.fail(n, f"constant of weak type {t} holds {type(x).__name__} "
                         f"{x!r}; a weak value is a Python scalar")
        try:
            a = np.asarray(x)
        except (TypeError, ValueError):
            return
        ok = a.shape == t.shape and (a.dtype.kind == t.dtype.kind if t.weak  # type: ignore
                                     else a.dtype == t.dtype)
        if not ok:
            self.fail(n, f"constant of type {t} holds a {a.dtype.name} value of shape "
                         f"{a.shape}")

    def _if(self, n: Node, scope: set[Value]) -> None:
        self.counts(n, inputs=1, blocks=2)
        self.condition(n, n.inputs[0], "condition")
        for b, name in zip(n.blocks, ("then", "else"), strict=True):
            if b.params:
                self.fail(n, f"the {name} block of if has params")
            self.sub_block(n, b, scope)
            self.results_match(n, b.results, n.outputs, f"the {name} block")

    def _loop(self, n: Node, scope: set[Value]) -> None:
        if len(n.inputs) < 2:
            self.fail(n, "loop takes [trip_count, cond, *init], got "
                         f"{len(n.inputs)} input(s)")
        self.counts(n, blocks=1)
        body, init = n.blocks[0], n.inputs[2:]
        k = len(init)
        if len(body.params) != 1 + k:
            self.fail(n, f"loop body has {len(body.params)} param(s); it needs 1 + {k}: "
                         "the iteration number and one per carried value")
        if len(body.results) != 1 + k:
            self.fail(n, f"loop body yields {len(body.results)} value(s); it needs 1 + {k}: "
                         "the next condition and one per carried value")
        if len(n.outputs) != k:
            self.fail(n, f"loop has {len(n.outputs)} output(s) but carries {k} value(s)")
        self.integer_scalar(n, n.inputs[0], "trip count")
        self.condition(n, n.inputs[1], "initial condition")
        self.integer_scalar(n, body.params[0], "iteration number")
        # NOTE: a carried value keeps its init value's type through the param, the body's
        # next value and the loop's output.
        for i, v in enumerate(init):
            self.same_type(n, body.params[1 + i].type, v.type, f"carried param {i}",
                           body.params[1 + i])
        self.sub_block(n, body, scope)
        self.condition(body, body.results[0], "next condition")
        for i, v in enumerate(init):
            self.same_type(n, body.results[1 + i].type, v.type, f"next value {i}",
                           body.results[1 + i])
            self.same_type(n, n.outputs[i].type, v.type, f"output {i}", n.outputs[i])

    def _fused(self, n: Node, scope: set[Value]) -> None:
        self.counts(n, blocks=1)
        body = n.blocks[0]
        if len(body.params) != len(n.inputs):
            self.fail(n, f"fused body has {len(body.params)} param(s) for "
                         f"{len(n.inputs)} input(s)")
        for i, (p, v) in enumerate(zip(body.params, n.inputs, strict=True)):
            self.same_type(n, p.type, v.type, f"fused param {i}", p)
        self.sub_block(n, body, scope)
        self.results_match(n, body.results, n.outputs, "the fused body")

    def results_match(self, n: Node, results: list[Value], outs: list[Value],
                      what: str) -> None:
        if len(results) != len(outs):
            self.fail(n, f"{what} yields {len(results)} value(s) for {len(outs)} output(s)")
        for r, o in zip(results, outs, strict=True):
            self.same_type(n, r.type, o.type, f"{what} yields", r)

    # -- types ------------------------------------------------------------------------
    def same_type(self, n: Node, a: TensorType, b: TensorType, what: str, v: Value) -> None:
        if self.typed is not False and a.known and b.known and a != b:
            self.fail(n, what, " ", v, f": type {a}, expected {b}")

    def condition(self, where: Where, v: Value, what: str) -> None:
        t = v.type
        if self.typed is not False and t.known and t.size != 1:
            self.fail(where, what, " ", v, f" has type {t}; it must hold one element")

    def integer_scalar(self, n: Node, v: Value, what: str) -> None:
        t = v.type
        if self.typed is not False and t.known and (
                t.shape != () or t.dtype.kind not in "iu"):  # type: ignore[union-attr]
            self.fail(n, what, " ", v, f" has type {t}; it must be an integer scalar")

    def registry_op(self, n: Node) -> None:
        opdef = OPS[n.op]
        if opdef.nin is None:
            if not n.inputs:
                self.fail(n, f"{n.op} takes at least 1 input, got 0")
        elif len(n.inputs) != opdef.nin:
            self.fail(n, f"{n.op} takes {opdef.nin} input(s), got {len(n.inputs)}")
        # NOTE: one output, unless the OpDef says otherwise: `nout` an int or a function of
        # the attrs (the generic-only `grad` node has one output per argnum, plus the value).
        nout = getattr(opdef, "nout", 1)
        if callable(nout):
            try:
                nout = nout(opdef.full_attrs(dict(n.attrs)))
            except Exception:  # noqa: BLE001  NOTE: bad attrs are reported below
                nout = len(n.outputs)
        self.counts(n, blocks=0, outputs=nout)
        unknown = sorted(set(n.attrs) - set(opdef.attrs))
        if unknown:
            self.fail(n, f"{n.op} has no attribute(s) {', '.join(unknown)} "
                         f"(it takes {sorted(opdef.attrs) or 'none'})")
        ins = [v.type for v in n.inputs]
        if len(n.outputs) != 1:
            return  # type rules give one output type
        out = n.out.type
        if self.typed is False or not out.known or not all(t.known for t in ins):
            return
        if any(True for x in n.attrs.values() for _ in attr_values(x)):
            return  # a generic graph's attr still names a value: nothing to infer from
        try:
            # NOTE: infer canonicalizes attrs in place: give it a copy.
            want = opdef.infer(ins, opdef.full_attrs(dict(n.attrs)))
        except Exception as e:  # noqa: BLE001  NOTE: rules may fail in any way on bad attrs
            types = ", ".join(str(t) for t in ins)
            self.fail(n, f"the type rule of {n.op} rejects inputs ({types}): {e}")
        if want != out:
            self.fail(n, f"{n.op} gives {want} for these inputs, but the node says {out}")


_STRUCTURAL_CHECKS: dict[str, Callable[[_Verifier, Node, set[Value]], None]] = {
    "constant": _Verifier._constant, "if": _Verifier._if, "loop": _Verifier._loop,
    "fused": _Verifier._fused,
}
