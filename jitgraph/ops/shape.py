"""Shape ops. Shape rules run the NumPy op on a zero-stride view (`np.broadcast_to` of one
element), so they agree with NumPy exactly and cost nothing whatever the size."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import JitTypeError
from ..types import TensorType
from . import defop
from .adjoint import is_float
from .adjoint import unbroadcast as _ub
from .opdef import normalize_axes, normalize_axis


def ghost(t: TensorType) -> np.ndarray:
    """A read-only array of t's shape backed by one element."""
    return np.broadcast_to(np.zeros((), dtype=np.int8), t.shape)  # type: ignore[arg-type]


def _same_dtype(ins: Sequence[TensorType], a: dict[str, Any]) -> np.dtype:
    return ins[0].dtype  # type: ignore[return-value]


def _by_ghost(f: Any) -> Any:
    def rule(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
        return tuple(f(*[ghost(t) for t in ins], **a).shape)
    return rule


# VJP rules of the shape ops: each moves ct back to the input's layout.
def _reshape_back(b: Any, n: Any, ct: Any) -> list[Any]:
    """reshape, expand_dims, squeeze: the same elements in another shape."""
    return [b.op("reshape", ct, shape=n.inputs[0].type.shape) if is_float(n.inputs[0]) else None]


def _transpose_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    inverse = tuple(int(i) for i in np.argsort(n.attrs["axes"]))
    return [b.op("transpose", ct, axes=inverse) if is_float(n.inputs[0]) else None]


# transpose: axes canonical as a full permutation
def _canon_transpose(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    nd = ins[0].ndim
    axes = a["axes"]
    if axes is None:
        return {"axes": tuple(reversed(range(nd)))}
    axes = tuple(normalize_axis(int(x), nd) for x in axes)
    if sorted(axes) != list(range(nd)):
        raise JitTypeError(f"transpose: axes {a['axes']} don't match array of rank {nd}")
    return {"axes": axes}


defop("transpose", np.transpose, nin=1, params=("a", "axes"), attrs={"axes": None},
      py=(np.transpose,), canon=_canon_transpose, shape=_by_ghost(np.transpose),
      dtype=_same_dtype, vjp=_transpose_vjp)


def _canon_reshape(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    shape = a["shape"]
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    return {"shape": tuple(ghost(ins[0]).reshape(tuple(int(d) for d in shape)).shape)}


defop("reshape", np.reshape, nin=1, params=("a", "shape"), attrs={"shape": ()},
      py=(np.reshape,), canon=_canon_reshape, shape=lambda ins, a: a["shape"],
      dtype=_same_dtype, vjp=_reshape_back)


def _canon_expand(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    axis = a["axis"]
    n = 1 if isinstance(axis, (int, np.integer)) else len(axis)
    return {"axis": normalize_axes(axis, ins[0].ndim + n)}


defop("expand_dims", np.expand_dims, nin=1, params=("a", "axis"), attrs={"axis": 0},
      py=(np.expand_dims,), canon=_canon_expand, shape=_by_ghost(np.expand_dims),
      dtype=_same_dtype, vjp=_reshape_back)


def _canon_squeeze(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    shape = ins[0].shape
    assert shape is not None
    if a["axis"] is None:
        return {"axis": tuple(i for i, d in enumerate(shape) if d == 1)}
    axes = normalize_axes(a["axis"], len(shape))
    for i in axes:
        if shape[i] != 1:
            raise JitTypeError("squeeze: cannot select an axis to squeeze out "
                               "which has size not equal to one")
    return {"axis": axes}


defop("squeeze", np.squeeze, nin=1, params=("a", "axis"), attrs={"axis": None},
      py=(np.squeeze,), methods=("squeeze",), canon=_canon_squeeze,
      shape=_by_ghost(np.squeeze), dtype=_same_dtype, vjp=_reshape_back)

defop("broadcast_to", np.broadcast_to, nin=1, params=("array", "shape"), attrs={"shape": ()},
      py=(np.broadcast_to,), fusion="broadcast",
      canon=lambda ins, a: {"shape": tuple(int(d) for d in (
          (a["shape"],) if isinstance(a["shape"], (int, np.integer)) else a["shape"]))},
      shape=_by_ghost(np.broadcast_to), dtype=_same_dtype,
      vjp=lambda b, n, ct: [_ub(b, ct, n.inputs[0])])


def _sum_to_shape(x: Any, shape: tuple[int, ...]) -> Any:
    """Sum x down to `shape` (the inverse of broadcasting; what VJPs use)."""
    x = np.asarray(x)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1)
    out = x.sum(axis=axes, keepdims=True, dtype=x.dtype) if axes else x
    return out.reshape(shape)


def _sum_to_shape_rule(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    if tuple(np.broadcast_shapes(a["shape"], ins[0].shape)) != ins[0].shape:  # type: ignore
        raise JitTypeError(f"sum_to_shape: {ins[0].shape} does not broadcast from {a['shape']}")
    return tuple(a["shape"])


defop("sum_to_shape", _sum_to_shape, nin=1, params=("x", "shape"), attrs={"shape": ()},
      shape=_sum_to_shape_rule, dtype=_same_dtype,
      vjp=lambda b, n, ct: [b.op("broadcast_to", ct, shape=n.inputs[0].type.shape)
                            if is_float(n.inputs[0]) else None])

defop("copy", np.copy, nin=1, params=("a",), py=(np.copy,), methods=("copy",),
      shape=lambda ins, a: ins[0].shape, dtype=_same_dtype,
      vjp=lambda b, n, ct: [ct if is_float(n.inputs[0]) else None])


# concatenate / stack take a sequence of arrays: nin=None, impl(*arrays, axis=...)
def _concat(*xs: Any, axis: Any = 0) -> Any:
    return np.concatenate(xs, axis=axis)


def _stack(*xs: Any, axis: int = 0) -> Any:
    return np.stack(xs, axis=axis)


def _canon_concat(ins: Sequence[TensorType], a: dict[str, Any]) -> dict[str, Any]:
    if a["axis"] is None:
        return {}
    if ins[0].ndim == 0:
        raise JitTypeError("concatenate: zero-dimensional arrays cannot be concatenated")
    return {"axis": normalize_axis(int(a["axis"]), ins[0].ndim)}


def _concat_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    # each input's part of ct is a static slice along the axis (of the flat ct: axis=None)
    axis, start = n.attrs["axis"], 0
    out: list[Any] = []
    for x in n.inputs:
        shape = x.type.shape
        size = int(np.prod(shape, dtype=np.int64)) if axis is None else shape[axis]
        lead = () if axis is None else (("slice", None, None, None),) * axis
        index = lead + (("slice", start, start + size, None),)
        start += size
        if not is_float(x):
            out.append(None)
            continue
        g = b.op("getitem", ct, index=index)
        if g.type.shape != shape:
            g = b.op("reshape", g, shape=shape)
        out.append(_ub(b, g, x))
    return out


def _stack_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    lead = (("slice", None, None, None),) * n.attrs["axis"]
    return [_ub(b, b.op("getitem", ct, index=lead + (("int", i),)), x) if is_float(x) else None
            for i, x in enumerate(n.inputs)]


defop("concatenate", _concat, nin=None, params=("arrays", "axis"), attrs={"axis": 0},
      py=(np.concatenate,), canon=_canon_concat, shape=_by_ghost(_concat), vjp=_concat_vjp)
defop("stack", _stack, nin=None, params=("arrays", "axis"), attrs={"axis": 0},
      py=(np.stack,),
      canon=lambda ins, a: {"axis": normalize_axis(int(a["axis"]), ins[0].ndim + 1)},
      shape=_by_ghost(_stack), vjp=_stack_vjp)


# getitem: `index` is a tuple of entries, one per subscript element:
#   ("int", k)                 a static integer
#   ("slice", start, stop, step)  a static slice (None allowed)
#   ("none",) / ("ellipsis",)
#   ("value",)                 the next value input: an integer scalar (run-time index)
#                              or an integer array (advanced indexing)
def build_index(index: tuple, dyn: Sequence[Any]) -> tuple:
    out: list[Any] = []
    it = iter(dyn)
    for e in index:
        kind = e[0]
        if kind == "int":
            out.append(e[1])
        elif kind == "slice":
            out.append(slice(e[1], e[2], e[3]))
        elif kind == "none":
            out.append(None)
        elif kind == "ellipsis":
            out.append(Ellipsis)
        else:
            v = next(it)
            out.append(int(v) if np.ndim(v) == 0 else np.asarray(v))
    return tuple(out)


def _getitem(x: Any, *dyn: Any, index: tuple = ()) -> Any:
    return np.asarray(x)[build_index(index, dyn)]


def _getitem_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    dyn: list[Any] = []
    for t in ins[1:]:
        if t.dtype.kind not in "iub":  # type: ignore[union-attr]
            raise JitTypeError(f"index of type {t} is not an integer")
        if t.dtype.kind == "b" and t.shape != ():  # type: ignore[union-attr]
            raise JitTypeError("boolean mask indexing gives a data-dependent shape; "
                               "use np.where instead")
        assert t.shape is not None
        dyn.append(0 if t.shape == () else np.zeros(t.shape, dtype=np.int64))
    x = ghost(ins[0])
    # a run-time int index into an empty axis fails at run time, if ever (a loop over an
    # empty array never runs its body): its result's shape does not depend on that axis
    shape, axis, nth = list(x.shape), 0, 0
    for e in a["index"]:
        if e[0] == "ellipsis":
            axis += x.ndim - sum(f[0] not in ("none", "ellipsis") for f in a["index"])
        elif e[0] == "value":
            if np.ndim(dyn[nth]) == 0 and axis < len(shape) and shape[axis] == 0:
                shape[axis] = 1
            nth += 1
            axis += 1
        elif e[0] != "none":
            axis += 1
    if shape != list(x.shape):
        x = np.broadcast_to(np.zeros((), x.dtype), shape)
    return tuple(x[build_index(a["index"], dyn)].shape)


def _getitem_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    # scatter ct back into zeros of x's shape; repeated integer indices accumulate
    x, idx = n.inputs[0], n.inputs[1:]
    g = b.op("scatter_add", ct, *idx, index=n.attrs["index"], shape=x.type.shape)
    return [g if is_float(x) else None] + [None] * len(idx)


defop("getitem", _getitem, nin=None, params=("x", "index"), attrs={"index": ()},
      shape=_getitem_shape, dtype=_same_dtype, vjp=_getitem_vjp)


# setitem: x with x[index] = v, as a new value. The frontend accepts `name[...] = v` only
# where no other name can see the old array, so the copy cannot be observed; a backend may
# write in place when x has no later use. Index entries as getitem's.
def _setitem(x: Any, v: Any, *dyn: Any, index: tuple = ()) -> Any:
    out = np.array(x, copy=True)
    out[build_index(index, dyn)] = v
    return out


def _setitem_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    x, v = ins[0], ins[1]
    part = _getitem_shape([x, *ins[2:]], a)
    assert v.shape is not None and x.shape is not None
    try:
        fits = np.broadcast_shapes(v.shape, part) == part
    except ValueError:
        fits = False
    if not fits:
        raise JitTypeError(f"cannot assign a value of shape {v.shape} to x[index] of shape "
                           f"{part} (x of shape {x.shape})")
    return x.shape


def _may_repeat(idx: Sequence[Any]) -> bool:
    """Whether the index arrays among idx can name one element twice: they broadcast to
    more than one write per element position."""
    arrays = [v.type.shape for v in idx if v.type.ndim > 0]
    return bool(arrays) and int(np.prod(np.broadcast_shapes(*arrays), dtype=np.int64)) > 1


def _scratch(x: Any, idx: Sequence[Any], index: tuple) -> tuple[tuple[int, ...], tuple]:
    """A shape and index for finding repeated writes of x[index] = v at less cost: dims
    that run-time indices ("value") address keep their size; the others (static ints,
    slices, those the ellipsis or the end stand for) cannot make two writes meet, so they
    shrink to 1 (ints become 0, slices take the whole dim). Entries of the same kinds in the
    same places: x[index]'s dims come out in the same order, the shrunk ones of size 1."""
    ndim, it = x.type.ndim, iter(idx)
    width = []  # how many of x's dims each entry consumes
    for e in index:
        if e[0] == "value":
            width.append(0 if next(it).type.dtype.kind == "b" else 1)  # 0-d bool: none
        else:
            width.append(0 if e[0] in ("none", "ellipsis") else 1)
    keep: list[bool] = []
    entries: list[Any] = []
    for e, w in zip(index, width, strict=True):
        if e[0] == "ellipsis":
            keep += [False] * (ndim - sum(width))
        else:
            keep += [e[0] == "value"] * w
        entries.append(("int", 0) if e[0] == "int" else
                       ("slice", None, None, None) if e[0] == "slice" else e)
    keep += [False] * (ndim - len(keep))
    return tuple(d if k else 1 for d, k in zip(x.type.shape, keep, strict=True)), tuple(entries)


def _kept_writes(b: Any, x: Any, idx: Sequence[Any], index: tuple) -> Any:
    """A bool array that broadcasts to x[index]'s shape: whether that write is the one
    x[index] = v keeps (NumPy keeps the last of repeated integer-array indices, in C order
    of their broadcast). Found by doing the same assignment with the writes' ordinal
    numbers and reading them back: a write is kept where its own number survived, so the
    backends' setitem decides what "last" means for both."""
    i64 = np.dtype(np.int64)
    shape, index = _scratch(x, idx, index)
    part = _getitem_shape([TensorType(i64, shape), *(v.type for v in idx)], {"index": index})
    slots = b.op("zeros", shape=shape, dtype=i64)
    size = int(np.prod(part, dtype=np.int64))
    order = b.op("arange", stop=size, dtype=i64)
    if part != (size,):
        order = b.op("reshape", order, shape=part)
    slots = b.op("setitem", slots, order, *idx, index=index)
    return b.op("eq", b.op("getitem", slots, *idx, index=index), order)


def _setitem_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    # x's cotangent is ct with the overwritten region zeroed; v's is that region of ct,
    # summed over the dims v was broadcast along. Where integer-array indices repeat an
    # element, only the write NumPy keeps (the last) gets ct; the others get 0. (`+=` too:
    # x[i] += v is x[i] = x[i] + v, buffered, so the same write wins.)
    # (v's part is copied out first: then nothing reads ct, or a view of it, after x's
    # setitem, which a backend does in place, so a reverse loop does not copy the whole
    # cotangent every step; the `where` that drops the lost writes is such a copy)
    x, v, idx = n.inputs[0], n.inputs[1], n.inputs[2:]
    index = n.attrs["index"]
    gv = None
    if is_float(v):
        part = b.op("getitem", ct, *idx, index=index)
        if _may_repeat(idx):
            keep = _kept_writes(b, x, idx, index)
            part = b.op("where", keep, part, b.const(0.0))
        else:
            part = b.op("copy", part)
        gv = _ub(b, part, v)
    gx = b.op("setitem", ct, b.const(0.0), *idx, index=index) if is_float(x) else None
    return [gx, gv] + [None] * len(idx)


defop("setitem", _setitem, nin=None, params=("x", "v", "index"), attrs={"index": ()},
      shape=_setitem_shape, dtype=_same_dtype, vjp=_setitem_vjp)
