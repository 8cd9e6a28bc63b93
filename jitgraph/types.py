"""TensorType: what specialization knows about a value (dtype + static shape), and the
NumPy 2 promotion helpers the op rules share.

`weak` marks Python scalars (int, float, bool literals and arguments). NumPy 2 lets them
take the dtype of the array they meet (`float32_array * 2.0` stays float32); a value is
weak only while every input that made it was weak."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_SHORT = {
    "bool": "bool", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "float16": "f16", "float32": "f32", "float64": "f64",
    "complex64": "c64", "complex128": "c128",
}
_LONG = {v: k for k, v in _SHORT.items()}
_WEAK_NAMES = {"bool": "pybool", "int64": "pyint", "float64": "pyfloat", "complex128": "pycomplex"}
_WEAK_LONG = {v: k for k, v in _WEAK_NAMES.items()}


@dataclass(frozen=True)
class TensorType:
    dtype: np.dtype | None = None            # None: not known yet (generic graph)
    shape: tuple[int, ...] | None = None     # None: not known yet
    weak: bool = False

    @property
    def known(self) -> bool:
        return self.dtype is not None and self.shape is not None

    @property
    def ndim(self) -> int:
        assert self.shape is not None
        return len(self.shape)

    @property
    def size(self) -> int:
        assert self.shape is not None
        return int(np.prod(self.shape, dtype=np.int64))

    def __str__(self) -> str:
        if self.dtype is None:
            return "?"
        if self.weak and self.shape == () and self.dtype.name in _WEAK_NAMES:
            return _WEAK_NAMES[self.dtype.name]
        dims = "?" if self.shape is None else ",".join(str(d) for d in self.shape)
        return f"{short_dtype(self.dtype)}[{dims}]"

    def with_shape(self, shape: tuple[int, ...]) -> TensorType:
        return TensorType(self.dtype, tuple(shape), self.weak and shape == ())

    def with_dtype(self, dtype: Any) -> TensorType:
        return TensorType(np.dtype(dtype), self.shape, False)


UNKNOWN = TensorType()


def known_dtype(t: TensorType) -> np.dtype:
    """t's dtype, where it must be known (typed graphs, after specialization)."""
    assert t.dtype is not None, "dtype not known yet"
    return t.dtype


def parse_type(text: str) -> TensorType:
    """Inverse of `str(TensorType)`: `f32[64,10]`, `pyfloat`, `?`."""
    text = text.strip()
    if text == "?":
        return UNKNOWN
    if text in _WEAK_LONG:
        return TensorType(np.dtype(_WEAK_LONG[text]), (), True)
    name, _, dims = text.partition("[")
    dims = dims.rstrip("]")
    try:                    # f32...; other dtypes print by their NumPy name (float128)
        dtype = dtype_from_short(name)
    except TypeError:
        raise ValueError(f"unknown dtype {name!r}") from None
    if dims == "?":
        return TensorType(dtype, None)
    shape = tuple(int(d) for d in dims.split(",") if d.strip())
    return TensorType(dtype, shape)


def short_dtype(dtype: Any) -> str:
    """f32, i64...; a dtype the table lacks (float128, str, object...) by its NumPy name,
    so that a type is always printable (an error message or fallback reason names it)."""
    name = np.dtype(dtype).name
    return _SHORT.get(name, name)


def dtype_from_short(name: str) -> np.dtype:
    return np.dtype(_LONG.get(name, name))


def type_of_python(value: Any) -> TensorType:
    """Type of a run-time argument or constant: arrays and NumPy scalars are strong,
    Python scalars weak."""
    if isinstance(value, (np.ndarray, np.generic)):
        return TensorType(value.dtype, tuple(value.shape), False)
    if isinstance(value, bool):
        return TensorType(np.dtype(np.bool_), (), True)
    if isinstance(value, int):
        return TensorType(np.dtype(np.int64), (), True)
    if isinstance(value, float):
        return TensorType(np.dtype(np.float64), (), True)
    if isinstance(value, complex):
        return TensorType(np.dtype(np.complex128), (), True)
    if isinstance(value, (np.ndarray, np.generic)):
        return TensorType(value.dtype, tuple(value.shape), False)
    raise TypeError(f"not an array or scalar: {type(value).__name__}")


def example_value(t: TensorType) -> Any:
    """A tiny value of type t's dtype and rank, for dtype rules computed by NumPy itself:
    Python scalars for weak types so NumPy applies its weak-scalar promotion."""
    assert t.dtype is not None and t.shape is not None
    if t.weak and t.shape == ():
        return {"b": True, "i": 1, "f": 1.0, "c": 1.0 + 0j}[t.dtype.kind]
    return np.ones((1,) * len(t.shape), dtype=t.dtype)


def to_weak_python(value: Any, t: TensorType) -> Any:
    """The interpreter keeps weak values as Python scalars, as eager Python does."""
    return {"b": bool, "i": int, "f": float, "c": complex}[t.dtype.kind](value)  # type: ignore[union-attr]


def conform(value: Any, t: TensorType) -> Any:
    """Hold a value in its declared type: a Python scalar if weak, else an ndarray (0-d
    included) of the declared dtype. Used by the interpreter and constant folding."""
    if t.dtype is None:
        return value
    if t.weak:
        return to_weak_python(np.asarray(value).item(), t)
    a = np.asarray(value)
    if a.dtype != t.dtype:
        a = a.astype(t.dtype)
    return a


def join_types(a: TensorType, b: TensorType, broadcast: bool = True) -> TensorType | None:
    """Type that both branches of an If (or a loop's entry and back edge) can share;
    None if the shapes are incompatible. Loops may widen a shape by broadcasting
    (`s = 0.0` then `s = s + row`); branches may not (`broadcast=False`), since the
    eager result would have a different shape on one path."""
    if a == b:
        return a
    if not (a.known and b.known):
        return UNKNOWN
    assert a.shape is not None and b.shape is not None
    if a.shape != b.shape and not broadcast:
        return None
    if a.shape != b.shape:
        try:
            shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        except ValueError:
            return None
    else:
        shape = a.shape
    weak = a.weak and b.weak and shape == ()
    if weak:
        dtype = np.result_type(example_value(a), example_value(b))
    else:
        ea = example_value(a) if a.weak else np.dtype(a.dtype)
        eb = example_value(b) if b.weak else np.dtype(b.dtype)
        dtype = np.result_type(ea, eb)
    return TensorType(np.dtype(dtype), shape, weak)
