"""OpDef: everything an op means, declared once. Shared shape and dtype rules live here.

`impl` is the only definition of an op's semantics: the interpreter runs it, constant
folding calls it, and every backend is tested against it. Rules receive the input types
and the op's attributes (with defaults filled in)."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import JitTypeError
from ..types import TensorType, example_value

_PY_DTYPES = ("bool", "int64", "float64", "complex128")
ShapeRule = Callable[[Sequence[TensorType], dict[str, Any]], tuple[int, ...]]
DTypeRule = Callable[[Sequence[TensorType], dict[str, Any]], np.dtype]
CanonRule = Callable[[Sequence[TensorType], dict[str, Any]], dict[str, Any]]


@dataclass(eq=False)
class OpDef:
    name: str                                   # IR spelling
    impl: Callable[..., Any]                    # eager NumPy semantics
    nin: int | None = 1                         # value inputs; None = a sequence (concatenate)
    nout: int | Callable[[dict[str, Any]], int] = 1   # outputs (a rule for `grad`)
    params: tuple[str, ...] = ()                # NumPy's call order: inputs first, then attrs
    attrs: dict[str, Any] = field(default_factory=dict)   # attribute defaults
    py: tuple[Any, ...] = ()                    # NumPy / operator callables the frontend maps here
    methods: tuple[str, ...] = ()               # ndarray method names mapped here
    shape: ShapeRule | None = None              # None: broadcast of the inputs
    dtype: DTypeRule | None = None              # None: what impl gives on tiny examples
    canon: CanonRule | None = None              # normalizes attrs once types are known
    elementwise: bool = False                   # fusable; weak if every input is weak
    fusion: str | None = None                   # "reduce" / "broadcast": how fuse.py may
                                                # take it into a group (elementwise: implied)
    weak: Callable[[Sequence[TensorType], dict[str, Any]], bool] | None = None  # overrides
    pure: bool = True                           # CSE and DCE may remove or merge it
    differentiable: bool = True                 # False: carries no gradient (compare, argmax)
    vjp: Callable[..., Any] | None = None       # (b, node, ct) -> one Value | None per input
    llvm: Any = None                            # CPU lowering (scalar rule or kernel emitter)
    cuda: Any = None                            # CUDA lowering (C expression template or kernel)

    def full_attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(attrs) - set(self.attrs)
        if unknown:
            raise TypeError(f"{self.name}: unknown attribute(s) {sorted(unknown)}")
        return {**self.attrs, **attrs}

    def infer(self, ins: Sequence[TensorType], attrs: dict[str, Any]) -> TensorType:
        """Output type from input types; raises JitTypeError (without location: the
        caller adds it) when NumPy would refuse these inputs."""
        try:
            if self.canon is not None:
                attrs.update(self.canon(ins, attrs))
            shape = (self.shape or broadcast_shape)(ins, attrs)
            dtype = (self.dtype or dtype_by_example(self))(ins, attrs)
        except JitTypeError:
            raise
        except (ValueError, TypeError, IndexError, ZeroDivisionError,
                np.exceptions.AxisError) as e:
            types = ", ".join(str(t) for t in ins)
            raise JitTypeError(f"{self.name}({types}): {e}") from None
        if self.weak is not None:
            weak = self.weak(ins, attrs) and shape == ()
        else:
            weak = self.elementwise and bool(ins) and all(t.weak for t in ins) and shape == ()
        # A weak value is a Python scalar: only Python's own number types qualify.
        weak = weak and np.dtype(dtype).name in _PY_DTYPES
        return TensorType(np.dtype(dtype), tuple(int(d) for d in shape), weak)


def broadcast_shape(ins: Sequence[TensorType], attrs: dict[str, Any]) -> tuple[int, ...]:
    shapes = [t.shape for t in ins]
    try:
        return tuple(np.broadcast_shapes(*shapes))  # type: ignore[arg-type]
    except ValueError:
        raise JitTypeError("shapes " + ", ".join(str(s) for s in shapes)
                           + " cannot be broadcast together") from None


def dtype_by_example(op: OpDef) -> DTypeRule:
    """NumPy decides: run impl on one-element inputs of the right dtypes and ranks
    (Python scalars for weak inputs). Memoized, so it costs once per signature."""
    def rule(ins: Sequence[TensorType], attrs: dict[str, Any]) -> np.dtype:
        key = tuple((t.dtype.str, t.weak, len(t.shape)) for t in ins)  # type: ignore
        return _example_dtype(op, key, _freeze(attrs))
    return rule


def _freeze(x: Any) -> Any:
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    return x


@functools.lru_cache(maxsize=4096)
def _example_dtype(op: OpDef, key: tuple, frozen_attrs: tuple) -> np.dtype:
    ins = [TensorType(np.dtype(d), (1,) * nd, w and nd == 0) for d, w, nd in key]
    attrs = dict(frozen_attrs)
    for k, v in attrs.items():
        if isinstance(v, tuple) and len(v) == 4 and v[0] == "array":
            attrs[k] = np.frombuffer(v[3], dtype=v[1]).reshape(v[2])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = op.impl(*[example_value(t) for t in ins], **attrs)
    return np.asarray(out).dtype if not isinstance(out, np.generic) else out.dtype


def same_shape(ins: Sequence[TensorType], attrs: dict[str, Any]) -> tuple[int, ...]:
    return ins[0].shape  # type: ignore[return-value]


def normalize_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise JitTypeError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """None -> every axis; int or tuple -> sorted non-negative tuple."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    out = tuple(sorted(normalize_axis(int(a), ndim) for a in axis))
    if len(set(out)) != len(out):
        raise JitTypeError(f"repeated axis in {axis}")
    return out


def dtype_attr(x: Any) -> np.dtype | None:
    return None if x is None else np.dtype(x)
