"""Array-building NumPy functions with static sizes, written with existing ops: np.split /
np.array_split (static slices), np.take (getitem), np.pad, np.repeat and np.tile (slices,
broadcast_to, reshape, concatenate).

A static index map along one axis (np.pad's edge/reflect/symmetric/wrap, np.repeat with a
list, np.take with a static list) is cut into runs of step -1, 0 or +1, each one slice
(step 0: a one-element slice broadcast), joined by concatenate; a map with many runs is a
gather (getitem with a constant index array). So

    np.pad(x, 2, mode="reflect")      x: f64[5]
    %0 = getitem(%x) {index=(("slice", 2, None, -1),)} : f64[3]      x[2], x[1], x[0]
    %1 = getitem(%x) {index=(("slice", 1, 5, None),)} : f64[4]       x[1] ... x[4]
    %2 = getitem(%x) {index=(("slice", 3, 1, -1),)} : f64[2]         x[3], x[2]
    %3 = concatenate(%0, %1, %2) {axis=0} : f64[9]

and the gradient is the getitem/concatenate VJPs: no new op anywhere."""
from __future__ import annotations

import ast
from itertools import pairwise
from typing import Any, cast

import numpy as np

from ..ir.graph import Value
from .calls import special
from .composites import _bound
from .composites_einsum import _reshape, _shape, as_array
from .emit import Emitter, is_static

_ALL = ("slice", None, None, None)
_MAX_RUNS = 8  # more runs than this: one gather instead of many slices


def _axis(em: Emitter, axis: Any, nd: int, fname: str) -> int:
    a = em.static_attr(axis, "axis")
    if not isinstance(a, int):
        raise em.type_error(f"{fname}: axis must be an integer, got {a!r}")
    if not -nd <= a < nd:
        raise em.type_error(f"{fname}: axis {a} is out of bounds for an array of dimension "
                            f"{nd}")
    return a % nd


def _slice(em: Emitter, v: Value, axis: int, start: int | None, stop: int | None,
           step: int | None = None) -> Value:
    n = _shape(v)[axis]
    if (start in (None, 0) and (stop is None or stop >= n) and step in (None, 1)):
        return v
    index = (_ALL,) * axis + (("slice", start, stop, step),)
    return em.op("getitem", [v], {"index": index})


def _runs(idx: np.ndarray) -> list[tuple[int, int, int]]:
    """idx as (first, step, length) runs with step -1, 0 or +1."""
    out: list[tuple[int, int, int]] = []
    p = 0
    while p < len(idx):
        step = int(idx[p + 1] - idx[p]) if p + 1 < len(idx) else 1
        if step not in (-1, 0, 1):
            step = 1
        q = p + 1
        while q < len(idx) and idx[q] - idx[q - 1] == step:
            q += 1
        out.append((int(idx[p]), step, q - p))
        p = q
    return out


def take_static(em: Emitter, v: Value, axis: int, idx: np.ndarray) -> Value:
    """v's elements idx (a static 1-D array of non-negative indices) along axis."""
    runs = _runs(idx)
    if len(runs) > _MAX_RUNS:
        index = (_ALL,) * axis + (("value",),)
        return em.op("getitem", [v, em.as_value(idx.astype(np.int64))], {"index": index})
    parts = []
    for first, step, length in runs:
        if step == 0:
            p = _slice(em, v, axis, first, first + 1)
            shape = _shape(p)[:axis] + (length,) + _shape(p)[axis + 1:]
            parts.append(p if length == 1 else em.op("broadcast_to", [p], {"shape": shape}))
        elif step == 1:
            parts.append(_slice(em, v, axis, first, first + length))
        else:
            stop = first - length
            parts.append(_slice(em, v, axis, first, stop if stop >= 0 else None, -1))
    if len(parts) == 1:
        return parts[0] if parts[0] is not v else em.op("copy", [v])
    return em.op("concatenate", parts, {"axis": axis})


# ---------------------------------------------------------------------- split
def _split(em: Emitter, args: list[Any], kwargs: dict[str, Any], fname: str,
           strict: bool) -> Any:
    b = _bound(("ary", "indices_or_sections", "axis"), {"axis": 0}, args, kwargs, em, fname)
    v = as_array(em, b["ary"])
    sections = em.static_attr(b["indices_or_sections"], "indices_or_sections")
    if isinstance(sections, int):
        if sections <= 0:
            raise em.type_error(f"{fname}: number sections must be larger than 0")
        count = sections
    elif isinstance(sections, tuple) and all(isinstance(i, int) for i in sections):
        count = len(sections) + 1
    else:
        raise em.type_error(f"{fname}: indices_or_sections must be an int or a list of ints, "
                            f"got {sections!r}")
    if not em.typed:
        return [em.opaque(f"np.{fname}", [v]) for _ in range(count)]
    nd = v.type.ndim
    if nd == 0:
        raise em.type_error(f"{fname}: a 0-d array cannot be split")
    axis = _axis(em, b["axis"], nd, fname)
    n = _shape(v)[axis]
    if isinstance(sections, int):
        if strict and n % sections:
            raise em.type_error(f"{fname}: array split does not result in an equal division "
                                f"({n} along axis {axis} into {sections})")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = [0] + list(np.cumsum(sizes))
    else:
        bounds = [0, *sections, n]
    # NOTE: Python slice semantics, as NumPy's split slices ary[st:end] (negatives count
    # from the end, st > end gives an empty piece)
    return [_slice(em, v, axis, int(s), int(e)) if (s, e) != (0, n) else em.op("copy", [v])
            for s, e in pairwise(bounds)]


@special(np.split)
def _np_split(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return _split(em, args, kwargs, "split", strict=True)


@special(np.array_split)
def _np_array_split(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST
                    ) -> Any:
    return _split(em, args, kwargs, "array_split", strict=False)


# ---------------------------------------------------------------------- take
@special(np.take)
def _take(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "indices", "axis", "out", "mode"),
               {"axis": None, "out": None, "mode": "raise"}, args, kwargs, em, "take")
    if b["out"] is not None or b["mode"] != "raise":
        raise em.script_error("np.take: only out=None and mode='raise' are supported", node,
                              "np.take")
    v = as_array(em, b["a"])
    ind = b["indices"]
    axis = em.static_attr(b["axis"], "axis")
    if not em.typed:
        return em.opaque("np.take", [v, ind])
    if axis is None:
        v = _reshape(em, v, (v.type.size,))
        axis = 0
    else:
        axis = _axis(em, axis, v.type.ndim, "take")
    n = _shape(v)[axis]
    lead = (_ALL,) * axis
    if is_static(ind):
        arr = np.asarray(ind)
        if arr.dtype.kind == "b":
            arr = arr.astype(np.int64)  # take casts booleans to indices (not a mask)
        if arr.dtype.kind not in "iu":
            raise em.type_error(f"take: indices must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise em.type_error(f"take: index {int(arr.max() if arr.max() >= n else arr.min())}"
                                f" is out of bounds for axis {axis} with size {n}")
        if arr.ndim == 0:
            return em.op("getitem", [v], {"index": lead + (("int", int(arr)),)})
        if arr.ndim == 1:
            return take_static(em, v, axis, arr % max(n, 1))
        return em.op("getitem", [v, em.as_value(arr)], {"index": lead + (("value",),)})
    iv = em.as_value(ind)
    if iv.type.dtype.kind == "b":  # type: ignore[union-attr]
        iv = em.op("cast", [iv], {"dtype": np.dtype(np.int64)})
    return em.op("getitem", [v, iv], {"index": lead + (("value",),)})


# ---------------------------------------------------------------------- pad
def _pairs(em: Emitter, x: Any, nd: int, what: str, integral: bool) -> np.ndarray:
    """NumPy's _as_pairs: a scalar, (before, after), or one pair per axis -> (nd, 2)."""
    arr = np.asarray(x)
    if integral and arr.dtype.kind not in "iu":
        raise em.type_error(f"pad: `{what}` must be of integral type, got {arr.dtype}")
    try:
        out = np.broadcast_to(arr, (nd, 2))
    except ValueError:
        raise em.type_error(f"pad: `{what}` of shape {arr.shape} does not fit an array of "
                            f"dimension {nd}") from None
    if integral and (out < 0).any():
        raise em.type_error(f"pad: `{what}` can't contain negative values")
    return out


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


@special(np.pad)
def _pad(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """Axis by axis, each on the array padded so far, as NumPy pads: the corners come from
    the last axis (constant) or from the already padded edges (the other modes)."""
    b = _bound(("array", "pad_width", "mode", "constant_values"),
               {"mode": "constant", "constant_values": 0}, args, kwargs, em, "pad")
    mode = b["mode"]
    if not isinstance(mode, str) or mode not in _PAD_MODES:
        raise em.script_error(f"np.pad: mode {mode!r} is not supported (supported: "
                              f"{', '.join(_PAD_MODES)})", node, "np.pad")
    if mode != "constant" and "constant_values" in kwargs:
        raise em.type_error(f"pad: unsupported keyword 'constant_values' for mode {mode!r}")
    v = as_array(em, b["array"])
    width = em.static_attr(b["pad_width"], "pad_width")
    if not em.typed:
        return em.opaque("np.pad", [v])
    nd = v.type.ndim
    pairs = _pairs(em, width, nd, "pad_width", integral=True)
    cv = b["constant_values"]
    if isinstance(cv, Value):
        if cv.type.shape != ():
            raise em.type_error("pad: run-time constant_values must be a scalar")
        values: Any = np.full((nd, 2), None, dtype=object)
        values[...] = cv
    else:
        values = _pairs(em, cv, nd, "constant_values", integral=False)
    for axis in range(nd):
        before, after = (int(w) for w in pairs[axis])
        if before == after == 0:
            continue
        n = _shape(v)[axis]
        if mode == "constant":
            parts = []
            for w, c in ((before, values[axis][0]), (after, values[axis][1])):
                shape = _shape(v)[:axis] + (w,) + _shape(v)[axis + 1:]
                fill = c if isinstance(c, Value) else c.item() if isinstance(c, np.generic) \
                    else c
                parts.append(em.op("full", [fill], {"shape": shape, "dtype": v.type.dtype})
                             if w else None)
            v = em.op("concatenate", [p for p in (parts[0], v, parts[1]) if p is not None],
                      {"axis": axis})
            continue
        if n == 0:
            raise em.type_error(f"pad: can't extend empty axis {axis} using modes other than "
                                "'constant'")
        # the source index of each padded position: NumPy's own answer on an arange
        idx = np.pad(np.arange(n), (before, after), mode=cast(Any, mode))
        v = take_static(em, v, axis, idx)
    return v if v is not b["array"] else em.op("copy", [v])


# ---------------------------------------------------------------------- repeat, tile
@special(np.repeat)
def _repeat(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "repeats", "axis"), {"axis": None}, args, kwargs, em, "repeat")
    v = as_array(em, b["a"])
    reps = em.static_attr(b["repeats"], "repeats")
    axis = em.static_attr(b["axis"], "axis")
    if not em.typed:
        return em.opaque("np.repeat", [v])
    if axis is None:
        v = _reshape(em, v, (v.type.size,))
        axis = 0
    else:
        axis = _axis(em, axis, v.type.ndim, "repeat")
    s = _shape(v)
    if isinstance(reps, tuple) and len(reps) == 1:
        reps = reps[0]
    if isinstance(reps, tuple):
        if len(reps) != s[axis] or not all(isinstance(r, int) and r >= 0 for r in reps):
            raise em.type_error(f"repeat: repeats {reps} do not fit axis {axis} of size "
                                f"{s[axis]} (one non-negative int per element)")
        return take_static(em, v, axis, np.repeat(np.arange(s[axis]), reps))
    if not isinstance(reps, int) or reps < 0:
        raise em.type_error(f"repeat: repeats must be a non-negative int, got {reps!r}")
    # (.., n, ..) -> (.., n, 1, ..) -> broadcast (.., n, r, ..) -> (.., n*r, ..)
    e = em.op("reshape", [v], {"shape": s[:axis + 1] + (1,) + s[axis + 1:]})
    e = em.op("broadcast_to", [e], {"shape": s[:axis + 1] + (reps,) + s[axis + 1:]})
    return em.op("reshape", [e], {"shape": s[:axis] + (s[axis] * reps,) + s[axis + 1:]})


@special(np.tile)
def _tile(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("A", "reps"), {}, args, kwargs, em, "tile")
    v = as_array(em, b["A"])
    reps = em.static_attr(b["reps"], "reps")
    if not em.typed:
        return em.opaque("np.tile", [v])
    reps = (reps,) if isinstance(reps, int) else reps
    if not isinstance(reps, tuple) or not all(isinstance(r, int) and r >= 0 for r in reps):
        raise em.type_error(f"tile: reps must be non-negative ints, got {reps!r}")
    nd = max(v.type.ndim, len(reps))
    s = (1,) * (nd - v.type.ndim) + _shape(v)
    reps = (1,) * (nd - len(reps)) + reps
    # A as (1, a0, 1, a1, ...), broadcast to (r0, a0, r1, a1, ...), merged pairwise
    e = _reshape(em, v, [d for a in s for d in (1, a)])
    e = em.op("broadcast_to", [e], {"shape": tuple(d for r, a in zip(reps, s) for d in (r, a))})
    return em.op("reshape", [e], {"shape": tuple(r * a for r, a in zip(reps, s))})
