"""ScriptFunction: decoration, the per-signature cache, backend choice with fallback, and
the inspection API (graph, graph_for, dump, signatures). GradFunction is a ScriptFunction
whose graph is the reverse-mode transform of another's."""
from __future__ import annotations

import functools
import inspect
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from . import config
from .errors import JitTypeError, ScriptError
from .frontend.values import DictType, ListType, sorted_keys
from .ir.graph import Block, Builder, Graph, Value
from .types import UNKNOWN, TensorType, type_of_python

log = logging.getLogger("jitgraph")
_ndarray = np.ndarray
_NONE_KEY = ("None",)
_enabled = True
STAGES = ("ir", "typed", "grad", "optimized", "llvm", "asm", "cuda")


def disable() -> None:
    """Run every scripted function eagerly (like PYTORCH_JIT=0), for debugging."""
    global _enabled
    _enabled = False


def enable() -> None:
    global _enabled
    _enabled = True


def is_enabled() -> bool:
    return _enabled and not config.DISABLE


MAX_TREE_DEPTH = 100   # pytree arguments nested deeper are refused (JitTypeError)


def _arg_key(a: Any, depth: int = 0) -> Any:
    """Signature component of one argument: (dtype, shape) for arrays, the Python type for
    Python scalars (their values are run-time inputs)."""
    t = type(a)
    if t is np.ndarray:
        return (a.dtype, a.shape)
    if t is float or t is int or t is bool:
        return t
    if a is None:  # an optional argument left out: a compile-time None
        return _NONE_KEY
    if (t is tuple or t is list or t is dict) and depth >= MAX_TREE_DEPTH:
        return None
    if t is tuple or t is list:  # a pytree of arrays/scalars: one graph param per leaf
        ks = tuple(_arg_key(e, depth + 1) for e in a)
        if a and all(k is not None and k is not _NONE_KEY for k in ks):
            return ("tree" if t is tuple else "list", ks)
        return None
    if t is dict:   # a dict pytree: its entries in sorted-key order, as JAX flattens it
        try:
            names = tuple(sorted_keys(a))
        except TypeError:
            return None
        ks = tuple(_arg_key(a[n], depth + 1) for n in names)
        if a and all(k is not None and k is not _NONE_KEY for k in ks):
            return ("dict", names, ks)
        return None
    if isinstance(a, np.generic):
        return (a.dtype, ())
    if isinstance(a, np.ndarray):   # a subclass: taken as an ndarray if it behaves as one
        return None if _refused_subclass(a, "x") else (a.dtype, a.shape)
    if isinstance(a, (bool, int, float)):   # a subclass (IntEnum, IntFlag...): by its base
        return int if isinstance(a, int) else float   # (bool cannot be subclassed)
    if isinstance(a, complex):
        return complex
    if hasattr(a, "__cuda_array_interface__") or hasattr(a, "__array_interface__"):
        arr = np.asarray(a) if not hasattr(a, "__cuda_array_interface__") else None
        if arr is not None:
            return (arr.dtype, arr.shape)
        cai = a.__cuda_array_interface__
        return (np.dtype(cai["typestr"]), tuple(cai["shape"]))
    return None


def _too_deep(a: Any) -> bool:
    """Whether a pytree is nested more than MAX_TREE_DEPTH levels (without recursing)."""
    stack = [(a, 0)]
    while stack:
        x, d = stack.pop()
        if type(x) in (tuple, list, dict):
            if d >= MAX_TREE_DEPTH:
                return True
            stack.extend((e, d + 1) for e in (x.values() if type(x) is dict else x))
    return False


def _refused_subclass(a: np.ndarray, name: str) -> str | None:
    """Why an ndarray subclass cannot be taken as the plain ndarray it holds (None: it
    can, e.g. np.memmap): compiled code computes with ndarray semantics, so a subclass
    whose operations mean something else would give silently different results."""
    t = type(a)
    if isinstance(a, np.matrix):
        return (f"np.matrix is not supported (its * and ** are matrix products and its "
                f"results stay 2-D); pass np.asarray({name}) and use @ for a matrix "
                "product")
    if isinstance(a, np.ma.MaskedArray):
        return (f"a masked array (np.ma.MaskedArray) is not supported: compiled code would "
                f"ignore its mask; pass {name}.filled(value) (masked entries replaced) or "
                f"np.asarray({name}) (the data without the mask)")
    if (t.__array_ufunc__ is not _ndarray.__array_ufunc__
            or t.__array_function__ is not _ndarray.__array_function__):
        return (f"{t.__module__}.{t.__qualname__} (an ndarray subclass) overrides NumPy's "
                f"operations, which compiled code would not follow; pass np.asarray({name})")
    return None


def _key_type(k: Any) -> Any:
    """The type of one argument: a TensorType, or a tuple of them for a pytree."""
    if isinstance(k, tuple) and k[0] == "tree":
        return tuple(_key_type(e) for e in k[1])
    if isinstance(k, tuple) and k[0] == "list":
        return ListType(_key_type(e) for e in k[1])
    if isinstance(k, tuple) and k[0] == "dict":
        return DictType(k[1], [_key_type(e) for e in k[2]])
    if isinstance(k, tuple):
        return TensorType(np.dtype(k[0]), tuple(k[1]))
    return type_of_python(k())


def _leaves(t: Any) -> list[Any]:
    """The leaves of a pytree of types or values, in order (a non-tuple is one leaf)."""
    if isinstance(t, (tuple, list)):
        return [leaf for e in t for leaf in _leaves(e)]
    if isinstance(t, dict):
        return [leaf for n in sorted_keys(t) for leaf in _leaves(t[n])]
    return [t]


def _describe_key(k: Any) -> str:
    if k is _NONE_KEY:
        return "None"
    if isinstance(k, tuple) and k and k[0] == "tree":
        return "(" + ", ".join(_describe_key(e) for e in k[1]) + ")"
    if isinstance(k, tuple) and k and k[0] == "list":
        return "[" + ", ".join(_describe_key(e) for e in k[1]) + "]"
    if isinstance(k, tuple) and k and k[0] == "dict":
        return "{" + ", ".join(f"{n!r}: {_describe_key(e)}" for n, e in zip(k[1], k[2])) + "}"
    if isinstance(k, tuple) and len(k) == 2 and isinstance(k[0], np.dtype):
        return str(_key_type(k))
    if isinstance(k, tuple) and k and k[0] == "static":
        return f"static {k[1]!r}"
    if isinstance(k, type):
        return str(type_of_python(k()))
    return repr(k)


class Specialization:
    """Everything compiled for one signature: the stages and the native callable."""

    def __init__(self, key: tuple, typed: Graph, optimized: Graph, tree: Any,
                 run: Callable[[Sequence[Any]], list[Any]], backend: str,
                 param_idx: list[int], grad: Graph | None = None):
        self.key = key
        self.typed = typed
        self.grad = grad
        self.optimized = optimized
        self.tree = tree
        self.run = run
        self.backend = backend
        self.param_idx = param_idx
        self.out_types = [v.type for v in optimized.results]
        # A result that is a parameter or a constant would hand the caller's own array (or
        # the graph's constant) back; eager NumPy returns a new array, so copy those. The
        # CPU backend already writes every result into a fresh array of its own.
        made = {v for n in optimized.body.nodes if n.op != "constant" for v in n.outputs}
        convs = [_converter(t, v not in made and backend != "cpu")
                 for v, t in zip(optimized.results, self.out_types)]
        self.finish = _finisher(tree, convs)
        # one result returned as it is: the call's fast path indexes the outputs directly
        self.single: int | None = tree.spec[1] if tree.spec[0] == "v" and \
            convs[tree.spec[1]] is None else None
        # a pytree argument is passed as its leaves
        self.trees = any(isinstance(k, tuple) and k and k[0] in ("tree", "list", "dict")
                         for k in key)
        self.all_params = list(param_idx) == list(range(len(key))) and not self.trees

    def inputs(self, args: Sequence[Any]) -> list[Any]:
        """The native call's inputs: the non-static arguments, pytrees as their leaves."""
        picked = [args[i] for i in self.param_idx]
        return _leaves(picked) if self.trees else picked

    def __call__(self, args: Sequence[Any]) -> Any:
        # NOTE: the hot path of every compiled call; keep it to one native call and a
        # precomputed conversion of the results.
        outs = self.run(args if self.all_params else self.inputs(args))
        return self.finish(outs)


def _converter(t: TensorType, copy: bool) -> Callable[[Any], Any] | None:
    """How one raw backend result becomes what eager NumPy returns (None: as it is)."""
    if t.weak:
        kind = {"b": bool, "i": int, "f": float, "c": complex}[t.dtype.kind]  # type: ignore
        return lambda r: kind(r.item() if hasattr(r, "item") else r)
    if t.shape == ():
        scalar = t.dtype.type  # type: ignore[union-attr]
        return lambda r: r[()] if isinstance(r, np.ndarray) else scalar(r)
    if copy:
        return lambda r: np.array(r) if isinstance(r, np.ndarray) else r
    return None


def _finisher(tree: Any, convs: list[Callable[[Any], Any] | None]) -> Callable[[Any], Any]:
    spec = tree.spec
    if spec[0] == "v":
        i, c = spec[1], convs[spec[1]]
        if c is None:
            return lambda outs: outs[i]
        return lambda outs: c(outs[i])

    def finish(outs: Sequence[Any]) -> Any:
        return tree.build([r if c is None else c(r) for r, c in zip(outs, convs)])
    return finish


def _to_result(r: Any, t: TensorType) -> Any:
    """NumPy's return conventions: a 0-d result is a NumPy scalar, a weak one a Python
    scalar."""
    if t.weak:
        return {"b": bool, "i": int, "f": float, "c": complex}[t.dtype.kind](  # type: ignore
            np.asarray(r).item())
    if t.shape == ():
        if isinstance(r, np.ndarray):
            return r[()]
        return t.dtype.type(r)  # type: ignore[union-attr]
    return r


def _check_options(backend: str, fallback: str) -> None:
    """jg.script / jg.grad options, checked at decoration as Python APIs check theirs."""
    from .runtime import CHAINS
    if not isinstance(fallback, str) or fallback not in ("eager", "error"):
        raise ValueError(f"unknown fallback {fallback!r}; fallback must be 'eager' or 'error'")
    if not isinstance(backend, str) or backend not in CHAINS:
        raise ValueError(f"unknown backend {backend!r}; use "
                         + ", ".join(repr(b) for b in list(CHAINS)[:-1])
                         + f" or {list(CHAINS)[-1]!r}")


def _qualname(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _argnums(value: Any, what: str, nargs: int, fname: str) -> tuple[int, ...]:
    """static_argnums (an int or a sequence of ints, negative ones counted from the end
    as Python indexes) as a sorted tuple of parameter positions."""
    items = value if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) \
        else (value,)
    out = set()
    for i in items:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"{what} must be an int or a sequence of ints, got "
                            f"{type(value).__name__ if i is value else type(i).__name__}"
                            f" {i!r}")
        i = int(i)
        if not -nargs <= i < nargs:
            raise ValueError(f"{what}: {i} is out of range for {fname} with {nargs} "
                             "parameter(s)")
        out.add(i % nargs)
    return tuple(sorted(out))


class ScriptFunction:
    """A function compiled per argument signature. See shared/API.md."""

    fn: Callable[..., Any]
    __name__: str   # set by functools.update_wrapper (GradFunction: by __init__)

    def __init__(self, fn: Callable[..., Any], backend: str = "auto", fallback: str = "eager",
                 static_argnums: int | Sequence[int] = (), cache: bool = True):
        _check_options(backend, fallback)
        if isinstance(fn, ScriptFunction):
            fn = fn.fn
        if inspect.ismethod(fn):
            raise ScriptError(
                f"{_qualname(fn)} is a bound method, which jitgraph cannot compile (its "
                "`self` is a Python object, not an array or a number); script the function "
                "itself (a plain function, or the method taken from the class) and pass the "
                "object's arrays to it as arguments")
        self.fn = fn
        self.backend = backend
        self.fallback = fallback
        self.cache = cache
        functools.update_wrapper(self, fn)
        self._sig = inspect.signature(fn)
        self._nargs = len(self._sig.parameters)
        self._names = list(self._sig.parameters)
        self.static_argnums = _argnums(static_argnums, "static_argnums", self._nargs,
                                       getattr(fn, "__name__", "the function"))
        self._cache: dict[tuple, Specialization] = {}
        self._last_key: tuple | None = None
        # the last signature: (arity, dtypes (None: Python scalar), shapes or scalar types,
        # its Specialization)
        self._fast: tuple[int, tuple, tuple, Specialization] | None = None
        self._graph: Graph | None = None
        self._check()

    def _check(self) -> None:
        """At decoration: the syntax check, then the generic graph (deferred if it names a
        global that may be defined later in the module)."""
        from .frontend.emit import UnresolvedName, checked_source
        checked_source(self.fn)
        try:
            self._graph = self._build_generic()
        except UnresolvedName:
            self._graph = None
        except ScriptError:
            raise
        except Exception:  # noqa: BLE001 - not a syntax problem: report it at f.graph / call
            self._graph = None

    def _build_generic(self) -> Graph:
        from .frontend.emit import build_graph
        g, _ = build_graph(self.fn, None)
        return g

    # ------------------------------------------------------------------ calling
    @property
    def eager(self) -> Callable[..., Any]:
        return self.fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # NOTE: the dispatch hot path (benchmarks/bench_dispatch.py): arrays are keyed
        # inline, everything else through _arg_key.
        if not _enabled or config.DISABLE:
            return self._call_disabled(*args, **kwargs)
        fast = self._fast
        if fast is not None and not kwargs and len(args) == fast[0]:
            # the last signature again (a training loop's every step): argument by
            # argument, an array's dtype (by identity: it can only miss, falling through
            # to the full lookup) and shape, a Python scalar's type; no key built or hashed
            dts, kinds = fast[1], fast[2]
            for i, a in enumerate(args):
                if type(a) is _ndarray:
                    if a.dtype is not dts[i] or a.shape != kinds[i]:
                        break
                elif type(a) is not kinds[i] or dts[i] is not None:
                    break
            else:
                hit = fast[3]
                outs = hit.run(args if hit.all_params else hit.inputs(args))
                return outs[hit.single] if hit.single is not None else hit.finish(outs)
        if kwargs or len(args) != self._nargs:
            args = self._bind(args, kwargs)
        key = tuple([(a.dtype, a.shape) if type(a) is _ndarray else _arg_key(a)
                     for a in args])
        if self.static_argnums:
            key = self._static_key(key, args)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._specialize(args, key)
        if not self.static_argnums and all(
                k in (float, int, bool) or (k.__class__ is tuple and len(k) == 2
                                            and isinstance(k[0], np.dtype)) for k in key):
            self._fast = (len(key), tuple(k[0] if k.__class__ is tuple else None for k in key),
                          tuple(k[1] if k.__class__ is tuple else k for k in key), entry)
        return entry.finish(entry.run(args if entry.all_params else entry.inputs(args)))

    def _call_disabled(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def _bind(self, args: tuple, kwargs: dict[str, Any]) -> tuple:
        try:
            ba = self._sig.bind(*args, **kwargs)
        except TypeError as e:  # a plain TypeError, as Python gives, naming the function
            raise TypeError(f"{self.__name__}(): {e}") from None
        ba.apply_defaults()
        return tuple(ba.arguments.values())

    def _static_key(self, key: tuple, args: Sequence[Any]) -> tuple:
        k = list(key)
        for i in self.static_argnums:
            try:
                hash(args[i])
            except TypeError:
                raise JitTypeError(f"static argument {self._names[i]!r} must be hashable",
                                   arg=self._names[i]) from None
            k[i] = ("static", args[i], type(args[i]))
        return tuple(k)

    def _arg_types(self, args: Sequence[Any], key: tuple) -> tuple[dict[int, Any], list[int],
                                                                   list[TensorType]]:
        statics: dict[int, Any] = {}
        idx: list[int] = []
        types: list[TensorType] = []
        for i, (a, k) in enumerate(zip(args, key)):
            if i in self.static_argnums or k is _NONE_KEY:
                statics[i] = a
                continue
            if k is None:
                why = _refused_subclass(a, self._names[i]) \
                    if isinstance(a, np.ndarray) else None
                if isinstance(a, (tuple, list, dict)) and _too_deep(a):
                    why = (f"a pytree nested more than {MAX_TREE_DEPTH} levels deep is not "
                           "supported")
                if why:
                    raise JitTypeError(f"argument {self._names[i]!r}: {why}",
                                       arg=self._names[i])
                what = ("a dict whose keys are not all of one sortable type (a pytree's "
                        "entries are ordered by key, as JAX orders them), or has an entry "
                        "that is not an array, a number or a pytree"
                        if isinstance(a, dict) else type(a).__name__)
                raise JitTypeError(f"argument {self._names[i]!r}: expected a NumPy array or a "
                                   f"Python/NumPy scalar, got {what}", arg=self._names[i])
            t = _key_type(k)
            for leaf in _leaves(t):
                if leaf.dtype.kind not in "biufc":  # type: ignore[union-attr]
                    raise JitTypeError(f"argument {self._names[i]!r}: dtype {leaf.dtype} is "
                                       "not supported", arg=self._names[i])
            idx.append(i)
            types.append(t)
        return statics, idx, types

    def function_graph(self, types: Sequence[TensorType], statics: dict[int, Any],
                       param_idx: Sequence[int], param_prov: Sequence[frozenset[int]] | None
                       = None) -> tuple[Graph, Any, Graph | None]:
        """(graph, out tree, graph it was differentiated from or None) for these argument
        types; the tree rebuilds this function's Python result from the graph's results."""
        from .frontend.emit import build_graph
        g, tree = build_graph(self.fn, types, statics=statics, param_indices=param_idx,
                              param_prov=param_prov)
        return g, tree, None

    def _typed_graph(self, args: Sequence[Any], key: tuple
                     ) -> tuple[Graph, Any, list[int], Graph | None]:
        statics, idx, types = self._arg_types(args, key)
        g, tree, source = self.function_graph(types, statics, idx)
        if source is None:
            return g, tree, idx, None
        return source, tree, idx, g

    def _specialize(self, args: Sequence[Any], key: tuple) -> Specialization:
        from .frontend.emit import NeedStatic
        from .passes import run_pipeline
        from .runtime import compile_graph
        self._log_recompile(key)
        while True:
            try:
                typed, tree, idx, grad = self._typed_graph(args, key)
                break
            except NeedStatic as e:
                # a Python int used as an axis or shape: specialize on its value
                more = tuple(sorted(set(self.static_argnums) | e.indices))
                if more == self.static_argnums:
                    raise
                self.static_argnums = more
                self._fast = None
                key = self._static_key(tuple(map(_arg_key, args)), args)
                if key in self._cache:
                    return self._cache[key]
        optimized = run_pipeline(grad or typed)
        run, backend = compile_graph(optimized, self.backend, self.fallback, self.__name__,
                                     cache=None if self.cache else False)
        entry = Specialization(key, typed, optimized, tree, run, backend, idx, grad)
        self._cache[key] = entry
        self._last_key = key
        return entry

    def _log_recompile(self, key: tuple) -> None:
        last = self._last_key
        if last is None or "recompiles" not in config.LOG:
            return
        changed = [f"{self._names[i]}: {_describe_key(a)} -> {_describe_key(b)}"
                   for i, (a, b) in enumerate(zip(last, key)) if a != b]
        log.warning("jitgraph: recompiling %s for a new signature (%s)", self.__name__,
                    "; ".join(changed) or "same types")

    # ------------------------------------------------------------------ inspecting
    @property
    def graph(self) -> Graph:
        """The generic IR built from the AST (types unknown)."""
        if self._graph is None:
            self._graph = self._build_generic()
        return self._graph

    def _entry_for(self, args: Sequence[Any], kwargs: dict[str, Any] | None = None
                   ) -> Specialization:
        if kwargs or len(args) != self._nargs:
            args = self._bind(tuple(args), kwargs or {})
        key = tuple(map(_arg_key, args))
        if self.static_argnums:
            key = self._static_key(key, args)
        return self._cache.get(key) or self._specialize(args, key)

    def graph_for(self, *args: Any, **kwargs: Any) -> Graph:
        """The graph specialized to these arguments, after the optimization passes."""
        return self._entry_for(args, kwargs).optimized

    def dump(self, *args: Any, stage: str = "optimized", **kwargs: Any) -> str:
        """Text of one compilation stage for these arguments (see STAGES)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")
        if stage == "ir":
            return str(self.graph)
        e = self._entry_for(args, kwargs)
        if stage == "typed":
            return str(e.typed)
        if stage == "grad":
            return str(e.grad or e.typed)
        if stage == "optimized":
            return str(e.optimized)
        from .backends import get_backend
        backend = {"llvm": "cpu", "asm": "cpu", "cuda": "cuda"}[stage]
        return get_backend(backend).dump(e.optimized, stage)

    def signatures(self) -> list[tuple[str, ...]]:
        """The argument signatures compiled so far, e.g. [('f32[64,10]', 'pyfloat')]."""
        return [tuple(_describe_key(k) for k in key) for key in self._cache]

    def backend_for(self, *args: Any) -> str:
        """Which backend runs these arguments (after any fallback)."""
        return self._entry_for(args).backend

    def __repr__(self) -> str:
        return f"<jitgraph.ScriptFunction {self.__name__} backend={self.backend}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)


class GradFunction(ScriptFunction):
    """`jg.grad(f, argnums)` / `jg.value_and_grad(f, argnums)`: compiled gradients by the
    reverse-mode transform of f's typed graph."""

    def __init__(self, target: Callable[..., Any], argnums: int | Sequence[int] = 0,
                 with_value: bool = False, output_index: int = 0,
                 backend: str | None = None, fallback: str | None = None):
        if backend is not None or fallback is not None:
            _check_options(backend or "auto", fallback or "eager")
        if not isinstance(target, ScriptFunction):
            target = ScriptFunction(target)
        self.target = target
        for a in argnums if isinstance(argnums, (list, tuple)) else (argnums,):
            if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
                raise TypeError(f"argnums must be an int or a tuple of ints, got "
                                f"{type(a).__name__} {a!r}")
        if isinstance(argnums, (list, tuple)):
            argnums = tuple(int(a) for a in argnums)
            self.argnums_tuple = argnums
        else:
            argnums = int(cast(int, argnums))   # not a list or tuple: an int (or np.integer)
            self.argnums_tuple = (argnums,)
        self.argnums = argnums
        self.with_value = with_value
        self.output_index = output_index
        self.fn = target.fn
        self.backend = backend or target.backend
        self.fallback = fallback or target.fallback
        self.cache = target.cache
        self.static_argnums = target.static_argnums
        self._sig = target._sig
        self._nargs = target._nargs
        self._names = target._names
        self._cache = {}
        self._last_key = None
        self._fast = None
        self._graph = None
        prefix = "value_and_grad" if with_value else "grad"
        self.__name__ = f"{prefix}_{target.__name__}"
        self.__qualname__ = self.__name__
        self.__doc__ = target.__doc__
        for i in self.argnums_tuple:
            if not -self._nargs <= i < self._nargs:
                raise ValueError(f"argnums {i} is out of range for {target.__name__} with "
                                 f"{self._nargs} parameters")

    def _call_disabled(self, *args: Any, **kwargs: Any) -> Any:
        # There is no eager gradient: with jitgraph disabled, interpret the gradient graph.
        args = self._bind(args, kwargs)
        key = tuple(map(_arg_key, args))
        entry = self._cache.get(("interp",) + key)
        if entry is None:
            saved, self.backend = self.backend, "interp"
            try:
                entry = self._specialize(args, key)
            finally:
                self.backend = saved
            del self._cache[key]
            self._cache[("interp",) + key] = entry
        return entry(args)

    @property
    def eager(self) -> Callable[..., Any]:
        return self

    def _build_generic(self) -> Graph:
        params = [Value(UNKNOWN, n) for n in self._names]
        b = Builder(Block(params))
        n = len(self.argnums_tuple) + (1 if self.with_value else 0)
        node = b.node("grad", params, {"fn": self.target.__name__, "argnums": self.argnums_tuple,
                                       "value": self.with_value}, [UNKNOWN] * n)
        b.block.results = node.outputs
        return Graph(self.__name__, b.block, self._names)

    def function_graph(self, types: Sequence[TensorType], statics: dict[int, Any],
                       param_idx: Sequence[int], param_prov: Sequence[frozenset[int]] | None
                       = None) -> tuple[Graph, Any, Graph | None]:
        """The target's graph (itself a gradient for grad of grad), transformed."""
        g, tree, _ = self.target.function_graph(types, statics, param_idx, param_prov)
        argnums = tuple(i % self._nargs for i in self.argnums_tuple)
        gg, out = differentiate(g, tree, types, param_idx, argnums,
                                isinstance(self.argnums, tuple), self.with_value,
                                self.output_index, self._names, self.__name__)
        return gg, out, g


def differentiate(g: Graph, tree: Any, types: Sequence[Any], param_idx: Sequence[int],
                  argnums: tuple[int, ...], as_tuple: bool, with_value: bool,
                  output_index: int, names: Sequence[str], fname: str) -> tuple[Graph, Any]:
    """g's reverse-mode transform with respect to the arguments `argnums` (positions
    among the function's parameters; param_idx says which of those g's leading params
    stand for, types their pytree types; params after them, if any, are constants of
    the differentiation): the gradient graph and the tree that rebuilds its result."""
    from .autodiff import vjp_graph
    from .frontend.emit import OutTree
    for i in argnums:
        if i not in param_idx:
            raise JitTypeError(f"cannot differentiate with respect to static argument "
                               f"{names[i]!r}", arg=names[i])
    # graph params are the arguments' leaves (a pytree argument has several): the
    # gradient of a pytree argument is a pytree of the same shape
    offsets, off = [], 0
    for t in types:
        offsets.append(off)
        off += len(_leaves(t))
    nres = len(g.results)
    local: list[int] = []

    def spec_of(t: Any, start: int) -> tuple[Any, int]:
        if isinstance(t, tuple):
            parts = []
            for e in t:
                sp, start = spec_of(e, start)
                parts.append(sp)
            if isinstance(t, DictType):
                return ("d", list(t.keys), parts), start
            return ("l" if isinstance(t, ListType) else "t", parts), start
        local.append(start)
        return ("v", nres + len(local) - 1), start + 1

    grads = []
    for i in argnums:
        j = list(param_idx).index(i)
        grads.append(spec_of(types[j], offsets[j])[0])
    leaves = tree.value_leaves()
    if not 0 <= output_index < len(leaves):
        raise JitTypeError(f"{fname}: output_index {output_index} is out of "
                           f"range: the function has {len(leaves)} array output(s)")
    gg = vjp_graph(g, tuple(local), output_index=leaves[output_index])
    gspec = ("t", grads) if as_tuple else grads[0]
    spec = ("t", [tree.spec, gspec]) if with_value else gspec
    return gg, OutTree(spec)


class CustomVJP:
    """`jg.custom_vjp(f)`, then `f.defvjp(f_fwd, f_bwd)` (JAX's convention): f_fwd(*args)
    returns (out, residuals) and f_bwd(residuals, ct) a tuple with one cotangent per
    argument. Inside a scripted function the call is one `custom_vjp` node, and the
    autodiff transform uses f_bwd instead of differentiating f. Called from Python, it
    runs f eagerly."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        functools.update_wrapper(self, fn)

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        from .frontend.emit import checked_source
        checked_source(fwd)
        checked_source(bwd)
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def custom_vjp(fn: Callable[..., Any]) -> CustomVJP:
    """Define an op by its forward function and, with .defvjp, its backward function."""
    return CustomVJP(fn)


def script(fn: Callable[..., Any] | None = None, *, backend: str = "auto",
           fallback: str = "eager", static_argnums: int | Sequence[int] = (),
           cache: bool = True) -> Any:
    """Compile fn (decorator, with or without arguments). Unsupported syntax raises
    ScriptError here, at decoration."""
    if fn is None:
        _check_options(backend, fallback)
        return lambda f: ScriptFunction(f, backend, fallback, static_argnums, cache)
    return ScriptFunction(fn, backend, fallback, static_argnums, cache)


def grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0, *, output_index: int = 0,
         backend: str | None = None, fallback: str | None = None) -> GradFunction:
    """Gradient of fn's scalar output (its first output, or `output_index`) with respect to
    the arguments `argnums`, by transforming fn's IR (JAX's conventions)."""
    return _grad_function(fn, argnums, False, output_index, backend, fallback)


_GRADS: weakref.WeakKeyDictionary[Any, dict[tuple, GradFunction]]


def _grad_function(fn: Callable[..., Any], argnums: int | Sequence[int], with_value: bool,
                   output_index: int, backend: str | None, fallback: str | None
                   ) -> GradFunction:
    """One GradFunction per (function, options), so code that calls jg.grad(f) on every
    step (an eager training loop, a script run with jitgraph disabled) compiles once."""
    key = (tuple(argnums) if isinstance(argnums, (list, tuple)) else argnums, with_value,
           output_index, backend, fallback)
    try:
        per_fn = _GRADS.setdefault(fn, {})
    except TypeError:  # not weak-referenceable
        return GradFunction(fn, argnums, with_value, output_index, backend, fallback)
    gf = per_fn.get(key)
    if gf is None:
        gf = per_fn[key] = GradFunction(fn, argnums, with_value, output_index, backend,
                                        fallback)
    return gf


_GRADS = weakref.WeakKeyDictionary()


def value_and_grad(fn: Callable[..., Any], argnums: int | Sequence[int] = 0, *,
                   output_index: int = 0, backend: str | None = None,
                   fallback: str | None = None) -> GradFunction:
    """Like grad, returning (fn's value, gradient)."""
    return _grad_function(fn, argnums, True, output_index, backend, fallback)


__all__ = ["CustomVJP", "GradFunction", "ScriptError", "ScriptFunction", "custom_vjp", "disable",
           "enable", "grad", "script", "value_and_grad"]
