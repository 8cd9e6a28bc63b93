"""Subscripts: indexing a static tuple (`x.shape[-1]`) gives a static value; indexing an
array gives one getitem node (ints, slices, None, Ellipsis, array indices). A slice with
run-time bounds is allowed when its length is static (`x[i:i + n]`, found by reading the
bounds as affine expressions), so every shape stays static.
"""
from __future__ import annotations

import ast
from typing import Any

import numpy as np

from ..errors import JitTypeError, ScriptError
from ..ir.graph import Value
from .core import EmitterCore


class SubscriptEmitter(EmitterCore):
    # ---------------------------------------------------------------- subscripts
    def subscript(self, e: ast.Subscript) -> Any:
        obj = self.ev(e.value)
        if isinstance(obj, dict):
            return self.dict_item(obj, self.ev(e.slice), e.value)
        if isinstance(obj, Value) and not self.typed and isinstance(e.slice, ast.Constant) \
                and isinstance(e.slice.value, str):
            return self.opaque(f"[{e.slice.value!r}]", [obj])   # generic graph: a dict entry
        if isinstance(obj, (tuple, list)):
            idx = self.ev(e.slice) if not isinstance(e.slice, ast.Slice) else slice(
                *[None if x is None else self.static_attr(self.ev(x), "slice bound")
                  for x in (e.slice.lower, e.slice.upper, e.slice.step)])
            if isinstance(idx, Value):
                if not self.typed:
                    return self.op("getitem", [self.as_value(obj), idx],
                                   {"index": (("value",),)})
                raise self.type_error("indexing a tuple needs a compile-time index")
            try:
                return obj[idx]
            except (IndexError, TypeError) as ex:
                of = getattr(obj, "of", None)
                if of is not None:
                    raise self.type_error(f"{of}.shape[{idx}]: {of} has {len(obj)} dimension(s) "
                                          f"(shape {tuple(obj)})", arg=of) from None
                raise self.type_error(str(ex)) from None
        x = self.as_value(obj)
        index, dyn, windows = self.index_entries(e.slice)
        r = self.op("getitem", [x, *dyn], {"index": index})
        for axis, start, length in windows:
            # x[i:i+L] is x[i + arange(L)] along that axis: a static shape, bounds-checked
            full = (("slice", None, None, None),) * axis
            r = self.op("getitem", [r, self.window_index(start, length, r, axis)],
                        {"index": full + (("value",),)})
        return r

    def dict_item(self, d: dict[Any, Any], key: Any, node: ast.expr) -> Any:
        """d[key] of a dict pytree: the key must be known at compile time."""
        if isinstance(key, Value) and not self.typed:
            return self.opaque("dict entry", [key])
        try:
            return d[key]
        except (KeyError, TypeError):
            if not self.typed:                  # generic graph: keys not all known yet
                return self.opaque(f"[{key!r}]", list(d.values())[:1])
            raise self.type_error(f"{ast.unparse(node)}[{key!r}]: no such key; the dict has "
                                  f"{', '.join(map(repr, d)) or 'no keys'}") from None

    def window_index(self, start: Value, length: int, of: Value, axis: int) -> Value:
        """The indices of x[start:start + length] along axis. A negative start would wrap
        as an array index (NumPy's slice gives fewer items there, a shape jitgraph cannot
        give): it becomes the axis length, so the bounds check raises IndexError, as it
        does for a window past the end."""
        if self.typed and of.type.shape is not None:
            n = self.b.const(of.type.shape[axis])
            start = self.op("where", [self.op("lt", [start, self.b.const(0)]), n, start])
        return self.op("add", [start, self.op("arange", [], {"stop": length})])

    def index_entries(self, sl: ast.expr) -> tuple[tuple[tuple[Any, ...], ...], list[Value],
                                                   list[tuple[int, Value, int]]]:
        """A subscript as getitem's index entries, its run-time index values, and its
        windows: (axis, start, length) of each `i:i+L` slice (entered as a full slice)."""
        parts = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        index: list[tuple[Any, ...]] = []
        dyn: list[Value] = []
        windows: list[tuple[int, Value, int]] = []  # (axis, start, length) of x[i:i+L]
        for p in parts:
            if isinstance(p, ast.Starred):  # x[*idx, 0]: a static tuple's entries
                for v in self.starred(p)[0]:
                    self._index_entry(v, index, dyn)
                continue
            if isinstance(p, ast.Slice):
                bounds = []
                for bnd in (p.lower, p.upper, p.step):
                    v = None if bnd is None else self.ev(bnd)
                    bounds.append(v.item() if isinstance(v, np.generic) else v)
                if self.typed and any(isinstance(v, Value) for v in bounds):
                    window = self.window(p, bounds)
                    windows.append((len(index), window[0], window[1]))
                    index.append(("slice", None, None, None))
                    continue
                index.append(("slice", *bounds))
                continue
            v = self.ev(p)
            if isinstance(v, tuple) and len(parts) == 1:  # x[idx], idx a static tuple
                for item in v:
                    self._index_entry(item, index, dyn)
                continue
            self._index_entry(v, index, dyn)
        if windows and any(e[0] != "slice" for e in index):
            raise self.type_error("a slice with run-time bounds can only be combined with "
                                  "other slices in one subscript")
        return tuple(index), dyn, windows

    def _index_entry(self, v: Any, index: list[tuple[Any, ...]], dyn: list[Value]) -> None:
        """One evaluated index entry (not a slice written with `:`)."""
        if v is None:
            index.append(("none",))
        elif v is Ellipsis:
            index.append(("ellipsis",))
        elif isinstance(v, slice):
            index.append(("slice", *[self.static_attr(b, "slice bound")
                                     for b in (v.start, v.stop, v.step)]))
        elif isinstance(v, (bool, np.bool_)) or isinstance(v, Value) and self.typed and \
                v.type.shape == () and v.type.dtype.kind == "b":  # type: ignore[union-attr]
            # NumPy reads x[True] as x[None] and x[False] as an empty axis (not as 1 / 0)
            raise self.type_error("indexing with a boolean scalar is not supported (NumPy "
                                  "adds an axis for it, whose length depends on the value)")
        elif isinstance(v, (int, np.integer)):
            index.append(("int", int(v)))
        else:
            index.append(("value",))
            dyn.append(self.as_value(v))

    def window(self, p: ast.Slice, bounds: list[Any]) -> tuple[Value, int]:
        """A slice with run-time bounds whose length is static (`x[i:i+L]`, `x[t-w:t]`):
        (start, length). Anything else would give a data-dependent shape."""
        lo_b, _hi_b, step = bounds
        lo_base, lo_c = self._affine(p.lower)
        hi_base, hi_c = self._affine(p.upper)
        if step not in (None, 1) or lo_base is None or lo_base != hi_base or hi_c < lo_c:
            for v in bounds:
                if isinstance(v, Value):
                    self.need_static(v)
            raise self.type_error("slice bounds must be compile-time constants, or a run-time "
                                  "start with a fixed length (x[i:i + n]): other run-time bounds "
                                  "would make the shape dynamic")
        return self.as_value(lo_b), hi_c - lo_c

    def _affine(self, e: ast.expr | None) -> tuple[str | None, int]:
        """e as (the text of its run-time part, a static integer offset): `i + 2` ->
        ("i", 2), `t - w` with w static -> ("t", -w)."""
        if e is None:
            return None, 0
        if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
            r = self._static_int(e.right)
            if r is not None:
                base, c = self._affine(e.left)
                return base, c + (r if isinstance(e.op, ast.Add) else -r)
            left = self._static_int(e.left)
            if left is not None and isinstance(e.op, ast.Add):
                base, c = self._affine(e.right)
                return base, c + left
        return ast.dump(e), 0

    def _static_int(self, e: ast.expr) -> int | None:
        if not isinstance(e, (ast.Constant, ast.Name, ast.Attribute, ast.Subscript,
                              ast.BinOp, ast.UnaryOp)):
            return None
        try:
            v = self.ev(e)
        except (ScriptError, JitTypeError):
            return None
        return int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else None
