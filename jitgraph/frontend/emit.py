"""AST -> IR. One emitter serves two modes:

- generic (`types=None`): at decoration, every argument's type unknown. Facts that only
  specialization knows (`x.shape`, `x.dtype`, a branch on `x.ndim`) become nodes, so the
  graph shows the function's whole structure. This is `f.graph`.
- typed: at call time, with each argument's dtype and shape. The emitter then works as an
  abstract interpreter: shapes, ndims, dtypes, Python literals and arithmetic on them are
  static Python values, `if` on a static condition keeps one branch, every node gets its
  type from the op registry, and a type error is raised with the source line that caused
  it, before any code runs.

The Emitter is assembled from one class per part of the language: statements, `if`,
`raise` and nested `def` (statements.py), loops (loops.py), expressions (expressions.py),
subscripts (subscripts.py), calls (dispatch.py) and comprehensions and `*x` unpacking
(comprehensions.py), over the shared state and value helpers of core.py; the EnvVals
are in values.py. This module keeps the entry points: `Emitter`, `build_graph`, and the
names other modules import from here.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..ir.graph import Block, Builder, Graph, Node, Value
from ..types import UNKNOWN, TensorType, type_of_python
from .check import _is_docstring
from .comprehensions import ComprehensionEmitter
from .dispatch import MAX_INLINE_DEPTH, CallEmitter, bind_op, bind_python_args, checked_source
from .expressions import ExpressionEmitter
from .loops import LoopEmitter
from .rewrite import lower_loop_returns, normalize_returns
from .statements import StatementEmitter
from .subscripts import SubscriptEmitter
from .values import (
    BoundMethod,
    Enumerated,
    NeedStatic,
    NoneArg,
    OutTree,
    PendingName,
    Returned,
    ShapeTuple,
    Undefined,
    UnresolvedName,
    _describe,
    flatten_result,
    is_scalar,
    is_static,
    tree_flatten,
    tree_params,
)


# --------------------------------------------------------------------------------------
class Emitter(StatementEmitter, LoopEmitter, ExpressionEmitter, SubscriptEmitter, CallEmitter,
              ComprehensionEmitter):
    """Emits one function body into a builder. Inlined calls get an Emitter of their own
    that shares the builder."""

    # ---------------------------------------------------------------- entry point
    def emit_function(self, args: Sequence[Any]) -> Any:
        fdef = self.src.tree
        params = [a.arg for a in fdef.args.posonlyargs + fdef.args.args]
        for name, val in zip(params, args, strict=True):
            self.env[name] = val
            if isinstance(val, Value):
                self.params.add(val)
        body = fdef.body[1:] if fdef.body and _is_docstring(fdef.body[0]) else fdef.body
        ret = self.emit_stmts(normalize_returns(lower_loop_returns(list(body))))
        return None if ret is None else ret.value


def build_graph(fn: Callable[..., Any], types: Sequence[TensorType] | None,
                statics: dict[int, Any] | None = None,
                param_indices: Sequence[int] | None = None,
                name: str | None = None,
                param_prov: Sequence[frozenset[int]] | None = None) -> tuple[Graph, OutTree]:
    """The IR of fn: generic when `types` is None, else typed for those parameter types.
    `statics` maps positional indices to compile-time values (static_argnums);
    `param_indices` says which positions the graph params stand for."""
    src = checked_source(fn)
    fdef = src.tree
    names = [a.arg for a in fdef.args.posonlyargs + fdef.args.args]
    statics = statics or {}
    if param_indices is None:
        param_indices = [i for i in range(len(names)) if i not in statics]
    typed = types is not None
    # A parameter's type may be a tuple of types (custom_vjp residuals): a tuple argument,
    # one graph param per leaf.
    leaves: list[Value] = []
    arg_vals = [tree_params(types[j] if typed else UNKNOWN, names[i], leaves)  # type: ignore
                for j, i in enumerate(param_indices)]
    params = list(leaves)
    b = Builder(Block(params), src.loc(fdef))
    em = Emitter(src, b, typed)
    em.dict_args = {id(v): names[i] for i, v in zip(param_indices, arg_vals)
                    if isinstance(v, dict)}
    if typed:
        for j, (i, p) in enumerate(zip(param_indices, arg_vals)):
            if not isinstance(p, Value):
                continue
            src_prov = param_prov[j] if param_prov is not None else frozenset({i})
            if src_prov and p.type.weak and p.type.dtype.kind in "bi":  # type: ignore
                em.prov[p] = src_prov
    args: list[Any] = []
    pv = dict(zip(param_indices, arg_vals))
    for i in range(len(names)):
        if i in pv:
            args.append(pv[i])
        else:
            args.append(NoneArg(names[i]) if statics[i] is None else statics[i])
    result = em.emit_function(args)
    for leaf in tree_flatten(result)[1]:
        if isinstance(leaf, Undefined):
            raise em.script_error(leaf.why)
    flat, tree = flatten_result(result)
    b.block.results = flat
    g = Graph(name or fn.__name__, b.block, [p.hint or "arg" for p in params], src.loc(fdef))
    return g, tree


__all__ = [
    "MAX_INLINE_DEPTH",
    "BoundMethod",
    "Emitter",
    "Enumerated",
    "NeedStatic",
    "Node",
    "NoneArg",
    "OutTree",
    "PendingName",
    "Returned",
    "ShapeTuple",
    "Undefined",
    "UnresolvedName",
    "_describe",
    "bind_op",
    "bind_python_args",
    "build_graph",
    "checked_source",
    "flatten_result",
    "is_scalar",
    "is_static",
    "type_of_python",
]
