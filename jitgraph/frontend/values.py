"""The values the emitter computes with ("EnvVals"), apart from IR Values: what the
abstract interpretation of a function body knows statically. A name maps to an IR Value,
a static Python object (number, tuple, dtype, module, function), or `Undefined` (not
defined on every path). `ShapeTuple` and `NoneArg` are static values that remember where
they came from, for error messages; `Enumerated`, `BoundMethod` and `Returned` carry
`enumerate(x)`, `x.sum` and a `return` between the emitter's parts; `NestedFunction` is a
`def` inside the scripted function (inlined where it is called); `OutTree` rebuilds a
graph's Python result. The exceptions here steer emission: `NeedStatic` (specialize on an
argument's value), `PendingName` (a loop name read before it is assigned) and
`UnresolvedName` (a global not defined yet).
"""
from __future__ import annotations

import ast
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ScriptError, SourceLoc
from ..ir.graph import Value

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; imported only for the checker (setup.cfg: 3.10)

_SCALARS = (bool, int, float, complex, np.generic)


class Undefined:
    """A name that is not defined on every path reaching this point."""

    def __init__(self, why: str):
        self.why = why


@dataclass
class Enumerated:
    """enumerate(array, start): a for loop over it binds (start + index, row)."""
    value: Any
    start: Any = 0


class ShapeTuple(tuple):
    """`x.shape`: a tuple that remembers whose shape it is, for error messages."""

    of: str | None

    def __new__(cls, shape: tuple[int, ...], of: str | None) -> Self:
        t = super().__new__(cls, shape)
        t.of = of
        return t


class NoneArg:
    """A top-level argument passed as None: behaves as None (`b is None`, `axis=b`) but
    names the argument when it is used as an array."""

    def __init__(self, name: str):
        self.name = name

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "None"


def _unwrap_none(x: Any) -> Any:
    return None if isinstance(x, NoneArg) else x


@dataclass(eq=False)
class NestedFunction:
    """A `def` inside a scripted function. It is inlined where it is called, like a
    module-level helper; names it does not bind itself are read from `definer` (the
    emitter of the enclosing function) at call time, which is Python's late binding:
    a variable rebound between the def and the call is seen with its value at the call.
    Defaults are evaluated at the def, as Python does."""
    fdef: ast.FunctionDef
    definer: Any                       # the enclosing EmitterCore
    signature: inspect.Signature
    local_names: frozenset[str]        # what the function binds itself (params included)

    @property
    def __name__(self) -> str:  # read by error messages
        return self.fdef.name


@dataclass
class NestedGrad:
    """`jg.grad(loss_fn)` / `jg.value_and_grad(...)` of a nested def (a closure: what it
    does not bind is read from the enclosing function, as a constant of the
    differentiation); called, it is differentiated and inlined (CallEmitter)."""
    nf: NestedFunction
    argnums: int | tuple[int, ...]
    with_value: bool
    output_index: int = 0

    @property
    def argnums_tuple(self) -> tuple[int, ...]:
        return self.argnums if isinstance(self.argnums, tuple) else (self.argnums,)


@dataclass
class Returned:
    value: Any


@dataclass
class BoundMethod:
    obj: Any
    name: str


class DictType(tuple):
    """The type of a dict argument (a pytree node, as in JAX): its entries' types in
    sorted-key order, so code walking pytrees of types as tuples walks it too, and the
    keys in that order."""
    keys: tuple[Any, ...]

    def __new__(cls, keys: Sequence[Any], types: Sequence[Any]) -> Self:
        obj = super().__new__(cls, types)
        obj.keys = tuple(keys)
        return obj

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {t}" for k, t in zip(self.keys, self)) + "}"


class ListType(tuple):
    """The type of a list argument (a pytree node): its items' types. A tuple, so code
    walking pytrees of types walks it too; the function sees a list, and a gradient with
    respect to it is a list, as in JAX."""


def key_ident(k: Any) -> str:
    """A dict key as part of a value's name in the IR text."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in str(k)) or "k"


def tree_params(t: Any, name: str, leaves: list[Value]) -> Any:
    """The argument a function body sees for a parameter of pytree type t (DictType,
    ListType, tuple, or one TensorType): containers of new Values, appended to leaves
    in flattening order and named after the parameter (`params_w1`, `ps0`)."""
    if isinstance(t, DictType):
        return {k: tree_params(e, f"{name}_{key_ident(k)}", leaves) for k, e in zip(t.keys, t)}
    if isinstance(t, ListType):
        return [tree_params(e, f"{name}{k}", leaves) for k, e in enumerate(t)]
    if isinstance(t, tuple):
        return tuple(tree_params(e, f"{name}{k}", leaves) for k, e in enumerate(t))
    leaves.append(Value(t, name))
    return leaves[-1]


def sorted_keys(d: dict[Any, Any]) -> list[Any]:
    """A dict's keys in pytree order (JAX's: sorted)."""
    return sorted(d)


@dataclass
class OutTree:
    """How the flat result list of a graph rebuilds the function's Python result:
    ("v", i) is result i, ("s", x) a static Python value, ("t", [...]) a tuple, ("l", [...])
    a list, ("d", keys, [...]) a dict."""
    spec: Any

    def value_leaves(self) -> list[int]:
        """Indices of the graph results, in the order the Python result lists them."""
        out: list[int] = []

        def go(s: Any) -> None:
            if s[0] == "v":
                out.append(s[1])
            elif s[0] in ("t", "l", "d"):
                for e in s[-1]:
                    go(e)
        go(self.spec)
        return out

    def build(self, flat: Sequence[Any]) -> Any:
        def go(s: Any) -> Any:
            kind = s[0]
            if kind == "v":
                return flat[s[1]]
            if kind == "s":
                return s[1]
            if kind == "l":
                return [go(e) for e in s[1]]
            if kind == "d":
                return {k: go(e) for k, e in zip(s[1], s[2])}
            return tuple(go(e) for e in s[1])
        return go(self.spec)


def flatten_result(x: Any) -> tuple[list[Value], OutTree]:
    flat: list[Value] = []

    def go(e: Any) -> Any:
        if isinstance(e, Value):
            flat.append(e)
            return ("v", len(flat) - 1)
        if isinstance(e, (tuple, list)):
            return ("t" if isinstance(e, tuple) else "l", [go(i) for i in e])
        if isinstance(e, dict):
            return ("d", list(e), [go(i) for i in e.values()])
        return ("s", _unwrap_none(e))
    return flat, OutTree(go(x))


def tree_flatten(x: Any) -> tuple[Any, list[Any]]:
    """(structure, leaves) of a tuple/list/dict pytree; anything else is one leaf."""
    if isinstance(x, (tuple, list)) and not isinstance(x, ShapeTuple):
        parts = [tree_flatten(e) for e in x]
        return ("t" if isinstance(x, tuple) else "l", [p[0] for p in parts]), \
            [v for p in parts for v in p[1]]
    if isinstance(x, dict):
        parts = [tree_flatten(e) for e in x.values()]
        return ("d", list(x), [p[0] for p in parts]), [v for p in parts for v in p[1]]
    return ("*",), [x]


def tree_unflatten(spec: Any, leaves: Sequence[Any]) -> Any:
    it = iter(leaves)

    def go(s: Any) -> Any:
        if s[0] == "*":
            return next(it)
        if s[0] == "d":
            return {k: go(e) for k, e in zip(s[1], s[2])}
        items = [go(e) for e in s[1]]
        return tuple(items) if s[0] == "t" else items
    return go(spec)


def is_tree(x: Any) -> bool:
    """A tuple, list or dict (not an array's shape): carried through loops leaf by leaf,
    so it stays a container (a Python number in it becomes a run-time one, as a carried
    number does)."""
    return isinstance(x, (tuple, list, dict)) and not isinstance(x, ShapeTuple)


def is_scalar(x: Any) -> bool:
    return isinstance(x, _SCALARS)


def is_static(x: Any) -> bool:
    if isinstance(x, (Value, Undefined)):
        return False
    if isinstance(x, (tuple, list)):
        return all(is_static(e) for e in x)
    if isinstance(x, dict):
        return all(is_static(e) for e in x.values())
    return True


def _carriable(x: Any) -> bool:
    return isinstance(x, Value) or is_scalar(x)


class NeedStatic(Exception):
    """Raised while specializing: these argument positions must be compile-time values."""

    def __init__(self, indices: frozenset[int]):
        super().__init__(f"arguments {sorted(indices)} are needed at compile time")
        self.indices = indices


class PendingName(Exception):
    """A loop-body name read before its first assignment on some path."""

    def __init__(self, name: str, loc: SourceLoc):
        super().__init__(name)
        self.name = name
        self.loc = loc


class UnresolvedName(ScriptError):
    """A global that does not exist (yet): at decoration it may be defined later in the
    module, so the check is repeated at the first call."""

    def __init__(self, msg: str, loc: SourceLoc, name: str):
        super().__init__(msg, loc, "name")
        self.name = name


def _static_eq(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return bool(np.array_equal(a, b)) and np.asarray(a).dtype == np.asarray(b).dtype
        if isinstance(a, float) and isinstance(b, float):
            if math.isnan(a) or math.isnan(b):
                return math.isnan(a) and math.isnan(b)
            return a == b and math.copysign(1, a) == math.copysign(1, b)
        return bool(a == b)
    except Exception:  # noqa: BLE001  (objects that cannot be compared are not equal)
        return False


def _describe(x: Any) -> str:
    if isinstance(x, Value):
        return f"a value of type {x.type}"
    if inspect.ismodule(x):
        return f"module {x.__name__}"
    if isinstance(x, NestedFunction):
        return f"nested function {x.fdef.name!r}"
    name = getattr(x, "__qualname__", None) or getattr(x, "__name__", None)
    if name:
        mod = getattr(x, "__module__", None)
        return f"{mod}.{name}" if mod and mod != "builtins" else name
    return f"{type(x).__name__} {x!r}"[:80]


def _hint(name: str) -> str:
    """Value names for the IR text: the rewrites' flags (`__break3`) print as `break`."""
    if name.startswith("__"):
        return name.strip("_").rstrip("0123456789_").replace("retval", "ret") or name
    return name
