"""Call sites: what the callee is decides what a call emits. An op from the table (np.exp,
operator.add) is one node, bound by `bind_op`; functions in calls.py's SPECIAL table
and array methods have handlers there; a plain Python function or a ScriptFunction is
inlined (its own Emitter over the shared builder); jg.grad(f)(...) and jg.custom_vjp
functions inline transformed graphs; math.f folds on static values. A nested `def`
(values.NestedFunction) is inlined the same way, its free names read from the enclosing
function's emitter at the call (Python's late binding); recursion among nested defs is
refused. `f(*t)` unpacks a tuple known at compile time. An exception class called with
static arguments makes the exception a `raise` raises at compile time (statements.py).
np.random is refused: random numbers are arguments of a pure compiled function.
"""
from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import JitTypeError, ScriptError
from ..ir.graph import Block, Builder, Graph, Value, clone_block_into, inline_graph
from ..ops import OpDef, lookup_py
from ..types import UNKNOWN, TensorType
from .check import check_function
from .core import EmitterCore
from .source import FunctionSource, function_source
from .values import (
    BoundMethod,
    DictType,
    ListType,
    NestedFunction,
    NestedGrad,
    _describe,
    _unwrap_none,
    flatten_result,
    is_static,
    sorted_keys,
    tree_params,
)

if TYPE_CHECKING:
    from .emit import Emitter

MAX_INLINE_DEPTH = 32


class CallEmitter(EmitterCore):
    # ---------------------------------------------------------------- calls
    def call(self, e: ast.Call) -> Any:
        f = self.ev(e.func)
        args, _ = self.elements(e.args)  # f(*t): t's items (generic graphs: maybe one node)
        kwargs = {}
        for k in e.keywords:
            if k.arg is None:
                raise self.script_error("**kwargs in calls are not supported", k, "**kwargs")
            kwargs[k.arg] = self.ev(k.value)
        self.at(e)
        return self.call_value(f, args, kwargs, e)

    def call_value(self, f: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        from .calls import SPECIAL, call_method
        em = cast("Emitter", self)  # NOTE: calls.py's handlers take the whole Emitter
        if isinstance(f, NestedFunction):
            return self.inline_nested(f, args, kwargs, node)
        if isinstance(f, NestedGrad):
            return self.call_grad_nested(f, args, kwargs, node)
        random = _random_name(f)
        if random is not None:
            raise self.script_error(f"{random}(): random numbers cannot be drawn inside a "
                                    "scripted function (it is compiled as a pure function of "
                                    "its arguments); draw them outside and pass them in as "
                                    "arguments", node, "np.random")
        if isinstance(f, type) and issubclass(f, BaseException):
            return self.make_exception(f, args, kwargs)
        if inspect.isbuiltin(f) and isinstance(getattr(f, "__self__", None), str):
            # "...".format(...) / .join in a raise's message (strings appear only there)
            if not all(is_static(a) for a in [*args, *kwargs.values()]):
                raise self.type_error(f"str.{f.__name__}() of run-time values: a raise's "
                                      "message is built at compile time")
            return f(*args, **kwargs)
        owner = getattr(f, "__self__", None)
        if inspect.isbuiltin(f) and isinstance(owner, dict):
            return self.dict_method(owner, f.__name__, args, kwargs)
        if isinstance(f, BoundMethod):
            return call_method(em, f.obj, f.name, args, kwargs, node)
        special = SPECIAL.get(id(f))
        if special is not None:
            return special(em, args, kwargs, node)
        opdef = lookup_py(f)
        if opdef is not None:
            return self.call_op(opdef, args, kwargs, f, node)
        from ..api import CustomVJP, GradFunction, ScriptFunction
        if isinstance(f, CustomVJP):
            return self.call_custom(f, args, kwargs, node)
        if isinstance(f, GradFunction):
            return self.call_grad(f, args, kwargs, node)
        if isinstance(f, ScriptFunction):
            return self.inline(f.fn, args, kwargs, node)
        if isinstance(f, type) and issubclass(f, np.generic):
            from .calls import dtype_call
            return dtype_call(em, np.dtype(f), args, kwargs)
        if inspect.isfunction(f):
            mod = getattr(f, "__module__", "") or ""
            if mod.split(".")[0] in ("numpy", "scipy", "math", "jitgraph"):
                raise self.script_error(f"{mod}.{f.__name__} is not supported in scripted "
                                        "functions", node, "call")
            return self.inline(f, args, kwargs, node)
        if getattr(f, "__module__", None) == "math" and callable(f):
            return self.call_math(f, args, kwargs, node)
        raise self.script_error(f"call to {_describe(f)} is not supported", node, "call")

    def dict_method(self, d: dict[Any, Any], name: str, args: list[Any],
                    kwargs: dict[str, Any]) -> Any:
        """The read-only methods of a dict pytree, evaluated now (its keys are static);
        views come back as lists, which loops and comprehensions unroll."""
        if kwargs or not all(is_static(a) for a in args[:1]):
            raise self.type_error(f"dict.{name}(): the key must be known at compile time")
        if name in ("keys", "values", "items") and not args:
            return list(getattr(d, name)())
        if name == "get" and 1 <= len(args) <= 2:
            return d.get(args[0], args[1] if len(args) == 2 else None)
        if name == "copy" and not args:
            return dict(d)
        raise self.type_error(f"dict.{name}() is not supported in scripted functions (a dict "
                              "is a pytree of values: read it with d[k], d.get, d.keys(), "
                              "d.values(), d.items(); build a new one with {...})")

    def call_math(self, f: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST
                  ) -> Any:
        """math.f: evaluated now on compile-time values (math.sqrt(x.shape[-1])); on a
        run-time scalar, the NumPy ufunc of the same name, giving a Python float."""
        if all(is_static(a) for a in args) and all(is_static(v) for v in kwargs.values()):
            try:
                return f(*args, **kwargs)
            except (ValueError, TypeError, OverflowError) as e:
                raise self.type_error(f"math.{f.__name__}: {e}") from None
        if not self.typed:
            return self.opaque(f"math.{f.__name__}", args)
        opdef = lookup_py(getattr(np, f.__name__, None))
        vals = [self.as_value(a) for a in args]
        if opdef is None or kwargs or any(v.type.shape != () for v in vals):
            raise self.script_error(f"math.{f.__name__} of a run-time value is not supported; "
                                    "use the NumPy function", node, "call")
        r = self.op(opdef.name, vals)
        return self.op("cast", [r], {"dtype": np.dtype(np.float64), "weak": True})

    def call_op(self, opdef: OpDef, args: list[Any], kwargs: dict[str, Any], f: Any,
                node: ast.AST) -> Any:
        inputs, attrs = bind_op(self, opdef, args, kwargs)
        if opdef.elementwise and not attrs:
            r = self.apply(opdef, inputs, None, pyfunc=f)
        else:
            r = self.op(opdef.name, inputs, attrs)
        if isinstance(r, Value) and r.type.weak:
            # np.f(python_scalar) is a NumPy scalar, which NumPy 2 promotes strongly
            r = self.op("cast", [r], {"dtype": r.type.dtype})
        return r

    def inline(self, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
               node: ast.AST) -> Any:
        if self.depth >= MAX_INLINE_DEPTH:
            raise self.script_error(f"calls nested deeper than {MAX_INLINE_DEPTH} (recursion is "
                                    "not supported)", node, "recursion")
        from .emit import Emitter  # NOTE: emit.py imports this module
        src = checked_source(fn)
        bound = bind_python_args(fn, args, kwargs, self)
        sub = Emitter(src, self.b, self.typed, self.depth + 1, self.prov, self.own)
        return self._run_inlined(sub, bound, str(getattr(fn, "__name__", fn)))

    def inline_nested(self, nf: NestedFunction, args: list[Any], kwargs: dict[str, Any],
                      node: ast.AST) -> Any:
        """A nested def, inlined: its own emitter over the shared builder, reading the
        names it does not bind from the enclosing function's emitter, now."""
        name = nf.fdef.name
        if id(nf.fdef) in self.active or self.depth >= MAX_INLINE_DEPTH:
            raise self.script_error(f"the nested function {name!r} calls itself: recursion "
                                    "is not supported (write a loop)", node, "recursion")
        try:
            ba = nf.signature.bind(*args, **kwargs)
        except TypeError as ex:
            raise self.type_error(f"{name}(): {ex}") from None
        ba.apply_defaults()
        from .emit import Emitter  # NOTE: emit.py imports this module
        definer = nf.definer
        src = FunctionSource(definer.src.fn, nf.fdef, definer.src.filename)
        sub = Emitter(src, self.b, self.typed, self.depth + 1, self.prov, self.own)
        sub.outer, sub.local_names = definer, nf.local_names
        sub.active = frozenset({id(nf.fdef)})
        return self._run_inlined(sub, list(ba.arguments.values()), name)

    def _run_inlined(self, sub: EmitterCore, bound: list[Any], name: str) -> Any:
        # a raise in the callee depends on the caller's run-time conditions too
        sub.guards = list(self.guards)
        sub.active = sub.active | self.active
        call_loc = self.loc
        try:
            return cast("Emitter", sub).emit_function(bound)
        except (JitTypeError, ScriptError) as e:
            if e.args and isinstance(e.args[0], str) and "called from" not in e.args[0]:
                e.args = (f"{e.args[0]}\n  (in {name}, called from {call_loc})",) + e.args[1:]
            raise

    def make_exception(self, cls: type[BaseException], args: list[Any],
                       kwargs: dict[str, Any]) -> BaseException:
        """`ValueError(...)`, for a raise: built now, from compile-time values."""
        for a in [*args, *kwargs.values()]:
            if not is_static(a):
                for leaf in (a if isinstance(a, (tuple, list)) else [a]):
                    if isinstance(leaf, Value):
                        self.need_static(leaf)
                raise self.type_error(f"the arguments of {cls.__name__}(...) must be known at "
                                      "compile time (shapes, dtypes, literals, static "
                                      "arguments): a raise happens while compiling")
        return cls(*[_unwrap_none(a) for a in args],
                   **{k: _unwrap_none(v) for k, v in kwargs.items()})

    def call_grad(self, gf: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        """`jg.grad(f)(...)` inside a scripted function: build f's typed graph for these
        arguments, transform it, and inline the result."""
        target = gf.target
        bound = bind_python_args(target.fn, args, kwargs, self)
        argnums = gf.argnums_tuple
        if not self.typed:
            vals = [self.as_value(a) for a in bound]
            n = self.b.node("grad", vals, {"fn": target.fn.__name__, "argnums": argnums,
                                           "value": gf.with_value},
                            [UNKNOWN] * (len(argnums) + (1 if gf.with_value else 0)),
                            loc=self.loc)
            grads = tuple(n.outputs[-len(argnums):])
            g = grads if isinstance(gf.argnums, tuple) else grads[0]
            return (n.outputs[0], g) if gf.with_value else g
        for i in argnums:
            if i >= len(bound):
                raise self.type_error(f"argnums {i} is out of range for {len(bound)} arguments")
        # Static arguments stay static unless differentiated; tuples, lists and dicts of
        # values are pytrees (one graph parameter per leaf), as at the top level.
        param_idx = [i for i, a in enumerate(bound) if not is_static(a) or i in argnums]
        types, vals, provs = [], [], []
        for i in param_idx:
            t, leaves = self.tree_of(bound[i])
            types.append(t)
            vals += leaves
            provs.append(self.prov.get(leaves[0], frozenset()) if len(leaves) == 1 and
                         isinstance(t, TensorType) else frozenset())
        statics = {i: a for i, a in enumerate(bound) if i not in param_idx}
        gg, tree, _ = gf.function_graph(types, statics, param_idx, provs)
        return tree.build(inline_graph(self.b, gg, vals))

    def call_grad_nested(self, ng: NestedGrad, args: list[Any], kwargs: dict[str, Any],
                         node: ast.AST) -> Any:
        """`jg.grad(loss_fn)(w)` of a nested def: its body is built over fresh params in a
        graph of its own, the values it reads from the enclosing function become extra
        params (constants of the differentiation), and the transform is inlined here."""
        from ..api import differentiate
        from .emit import Emitter  # NOTE: emit.py imports this module
        nf = ng.nf
        name = nf.fdef.name
        try:
            ba = nf.signature.bind(*args, **kwargs)
        except TypeError as ex:
            raise self.type_error(f"{name}(): {ex}") from None
        ba.apply_defaults()
        bound = list(ba.arguments.values())
        names = list(ba.arguments)
        if not self.typed:
            shown = [self.as_value(a) for a in bound if not is_static(a)]
            k = len(ng.argnums_tuple)
            n = self.b.node("grad", shown, {"fn": name, "argnums": ng.argnums_tuple,
                                           "value": ng.with_value},
                            [UNKNOWN] * (k + (1 if ng.with_value else 0)), loc=self.loc)
            grads = tuple(n.outputs[-k:])
            g = grads if isinstance(ng.argnums, tuple) else grads[0]
            return (n.outputs[0], g) if ng.with_value else g
        argnums = tuple(i % len(bound) for i in ng.argnums_tuple)
        param_idx = [i for i, a in enumerate(bound) if not is_static(a) or i in argnums]
        types: list[Any] = []
        vals: list[Value] = []
        params: list[Value] = []
        sub_args = list(bound)
        for i in param_idx:
            t, leaves = self.tree_of(bound[i])
            types.append(t)
            vals += leaves
            sub_args[i] = tree_params(t, names[i], params)
        tb = Builder(Block(list(params)), self.loc)
        definer = nf.definer
        sub = Emitter(FunctionSource(definer.src.fn, nf.fdef, definer.src.filename), tb,
                      True, self.depth + 1, self.prov, self.own)
        sub.outer, sub.local_names = definer, nf.local_names
        sub.active = frozenset({id(nf.fdef)})
        flat, tree = flatten_result(self._run_inlined(sub, sub_args, name))
        defined = set(params) | {o for m in tb.block.nodes for o in m.outputs}
        free = list(dict.fromkeys(v for m in tb.block.nodes for v in m.free_uses()
                                  if v not in defined))
        free += [v for v in dict.fromkeys(flat) if v not in defined and v not in free]
        caps = [Value(v.type, v.hint) for v in free]
        cb = Builder(Block(params + caps), self.loc)
        mapping: dict[Value, Value] = dict(zip(free, caps))
        clone_block_into(cb, tb.block, mapping)
        cb.block.results = [mapping.get(v, v) for v in flat]
        closed = Graph(name, cb.block, [p.hint or "arg" for p in params + caps])
        gg, out = differentiate(closed, tree, types, param_idx, argnums,
                                isinstance(ng.argnums, tuple), ng.with_value,
                                ng.output_index, names, name)
        return out.build(inline_graph(self.b, gg, vals + free))

    def tree_of(self, x: Any) -> tuple[Any, list[Value]]:
        """(type, leaves) of an argument: a tuple/list/dict holding run-time values is a
        pytree (DictType for a dict, its leaves in sorted-key order), anything else one
        value."""
        if isinstance(x, dict) and not is_static(x):
            keys = sorted_keys(x)
            parts = [self.tree_of(x[k]) for k in keys]
            return DictType(keys, [p[0] for p in parts]), [v for p in parts for v in p[1]]
        if isinstance(x, (tuple, list)) and x and not is_static(x):
            parts = [self.tree_of(e) for e in x]
            kind = ListType if isinstance(x, list) else tuple
            return kind(p[0] for p in parts), [v for p in parts for v in p[1]]
        v = self.as_value(x)
        return v.type, [v]

    def call_custom(self, cv: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST
                    ) -> Any:
        """A jg.custom_vjp function: one node holding its typed fwd and bwd graphs."""
        bound = bind_python_args(cv.fn, args, kwargs, self)
        vals = [self.as_value(a) for a in bound]
        name = getattr(cv.fn, "__name__", "custom")
        if cv.fwd is None or cv.bwd is None:
            raise self.script_error(f"custom_vjp function {name!r} has no .defvjp(fwd, bwd)",
                                    node, "custom_vjp")
        if not self.typed:
            return self.b.node("custom_vjp", vals, {"fwd": None, "bwd": None, "name": name},
                               [UNKNOWN], loc=self.loc).out
        from .emit import build_graph
        fwd, ftree = build_graph(cv.fwd, [v.type for v in vals])
        spec = ftree.spec
        if not (spec[0] == "t" and len(spec[1]) == 2 and spec[1][0][0] == "v"):
            raise self.type_error(f"custom_vjp: {cv.fwd.__name__} must return (out, residuals)"
                                  " with out one array")
        out_t = fwd.results[0].type
        res_types = _spec_types(spec[1][1], fwd)
        ct_t = TensorType(out_t.dtype, out_t.shape)
        bwd, btree = build_graph(cv.bwd, [res_types, ct_t])
        leaves = btree.value_leaves()
        if len(leaves) != len(vals) or leaves != list(range(len(leaves))):
            raise self.type_error(f"custom_vjp: {cv.bwd.__name__} must return one array "
                                  f"cotangent per argument of {name} ({len(vals)})")
        from ..autodiff import custom_vjp
        return custom_vjp(self.b, fwd, bwd, vals, name=name)


def _random_name(f: Any) -> str | None:
    """`np.random.rand` / a Generator's method, as the user spelled it; else None."""
    owner = getattr(f, "__self__", None)
    if isinstance(owner, np.random.Generator):
        return f"Generator.{getattr(f, '__name__', '?')}"
    mod = getattr(f, "__module__", None)
    if isinstance(mod, str) and mod.startswith("numpy.random") and callable(f):
        return f"np.random.{getattr(f, '__name__', '?')}"
    return None


def _spec_types(spec: Any, g: Graph) -> Any:
    """The types of an out-tree's leaves, in the tree's own tuple structure."""
    if spec[0] == "v":
        return g.results[spec[1]].type
    if spec[0] in ("t", "l"):
        return tuple(_spec_types(e, g) for e in spec[1])
    raise JitTypeError("custom_vjp residuals must be arrays or numbers computed from the "
                       "arguments")


def bind_op(em: EmitterCore, opdef: OpDef, args: list[Any], kwargs: dict[str, Any]
            ) -> tuple[list[Any], dict[str, Any]]:
    """Bind a NumPy-style call to an op: value inputs and static attributes."""
    params = opdef.params
    if len(args) > len(params):
        raise em.type_error(f"{opdef.name}() takes at most {len(params)} positional "
                            f"arguments ({len(args)} given)")
    bound = dict(zip(params, args))
    for k, v in kwargs.items():
        if k in bound:
            raise em.type_error(f"{opdef.name}() got multiple values for argument {k!r}")
        if k not in params:
            raise em.script_error(f"{opdef.name}() does not support the keyword {k!r}")
        bound[k] = v
    in_names = [p for p in params if p not in opdef.attrs and p != "out"]
    if opdef.nin is not None:
        in_names = in_names[:opdef.nin]
    else:
        in_names = in_names[:1]
    inputs: list[Any] = []
    for p in in_names:
        if p not in bound:
            raise em.type_error(f"{opdef.name}() missing required argument {p!r}")
        if opdef.nin is None:
            seq = bound[p]
            if not isinstance(seq, (tuple, list)):
                raise em.type_error(f"{opdef.name}() expects a sequence of arrays")
            if not seq and opdef.name in ("concatenate", "stack"):
                raise em.type_error(f"need at least one array to {opdef.name}")
            inputs.extend(seq)
        else:
            inputs.append(bound[p])
    attrs: dict[str, Any] = {}
    for p, v in bound.items():
        if p in in_names:
            continue
        if p in opdef.attrs:
            attrs[p] = em.static_attr(v, p)
        elif v is not None:
            raise em.script_error(f"{opdef.name}(): argument {p!r} is not supported")
    return inputs, attrs


def bind_python_args(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
                     em: EmitterCore | None = None) -> list[Any]:
    """Positional list for fn's parameters, defaults filled, as Python binds them."""
    try:
        ba = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as ex:
        if em is not None:
            raise em.type_error(f"{getattr(fn, '__name__', fn)}(): {ex}") from None
        raise
    ba.apply_defaults()
    return list(ba.arguments.values())


def checked_source(fn: Callable[..., Any]) -> FunctionSource:
    src = function_source(fn)
    if not getattr(src, "_checked", False):
        check_function(src)
        src._checked = True  # type: ignore[attr-defined]
    return src
