"""Comprehensions and `*` unpacking: both need the items of an iterable at compile time.

`[f(v) for v in it if cond]`, `(f(v) for v in it)` and `{k: f(v) for k, v in d.items()}`
are unrolled while specializing:
the result is a Python list of values, one per item, so `np.stack(...)`, `sum(...)`,
`max(...)` and `tuple(...)` of it work as on any list. The iterable must have a length
known at compile time: range(...) with static bounds, a tuple or list, zip / enumerate /
reversed of those, or an array's rows (its first dimension is static once its type is
known). A generator expression is unrolled the same way (it is consumed right away in
real code); its items are a list too. The `if` filters must be static, since each one
decides whether an item exists. The targets are local to the comprehension, as in
Python 3.

    ys = [x[i] * w for i in range(3)]        x: f64[3,4]  w: f64[]
    %0 = getitem(%x) {index=(("int", 0),)} : f64[4]
    %1 = mul(%0, %w) : f64[4]
    ... (i = 1, 2 the same)

In generic graphs (types unknown) an iterable of unknown length is shown by emitting the
element once, for an opaque item, as a one-element list. `*x` in a call or a tuple/list
display unpacks a tuple or list known at compile time (`np.zeros((*x.shape, 2))`).
"""
from __future__ import annotations

import ast
import builtins
from typing import Any

import numpy as np

from ..ir.graph import Value
from .core import EmitterCore
from .values import Enumerated, _describe, is_scalar, is_static

# A comprehension is unrolled into the graph: beyond this many items, a loop is the way.
MAX_UNROLL = 10000

_ITERATORS = (builtins.range, builtins.zip, builtins.enumerate, builtins.reversed)


class ComprehensionEmitter(EmitterCore):
    # ---------------------------------------------------------------- comprehensions
    def comprehension(self, e: ast.ListComp | ast.GeneratorExp | ast.DictComp
                      ) -> list[Any] | dict[Any, Any]:
        saved = self.env
        self.env = dict(saved)  # the comprehension's own scope: its targets do not leak
        out: list[Any] = []
        try:
            self._unroll(e, 0, out)
        finally:
            self.env = saved
        if isinstance(e, ast.DictComp):     # {k: v for ...}: the pairs, last one wins
            return dict(out)
        return out

    def _unroll(self, e: ast.ListComp | ast.GeneratorExp | ast.DictComp, k: int,
                out: list[Any]) -> None:
        if k == len(e.generators):
            if isinstance(e, ast.DictComp):
                out.append((self.dict_key(self.ev(e.key), e.key), self.ev(e.value)))
            else:
                out.append(self.ev(e.elt))
            if len(out) > MAX_UNROLL:
                raise self.type_error(f"this comprehension unrolls to more than {MAX_UNROLL} "
                                      "items; write a for loop or a vectorized expression")
            return
        g = e.generators[k]
        items = self.static_items(g.iter, "a comprehension")
        if items is None:  # generic graph, length unknown: one opaque item
            self.at(g.iter)
            self.assign(g.target, self.opaque("item of an iterable", []))
            before = len(out)
            self._unroll(e, k + 1, out)
            out[before:] = [self.opaque("each item of a comprehension", [v]) if isinstance(
                v, Value) else v for v in out[before:]]
            return
        for item in items:
            self.assign(g.target, item)
            if all(self._static_filter(c) for c in g.ifs):
                self._unroll(e, k + 1, out)

    def _static_filter(self, c: ast.expr) -> bool:
        t = self.truth(self.ev(c))
        if isinstance(t, Value):
            if not self.typed:
                return True  # generic graph: show the item
            self.need_static(t)
            raise self.type_error("the `if` of a comprehension must be known at compile time "
                                  "(it decides how many items there are); this one depends "
                                  "on run-time values: select with np.where instead")
        return t

    # ---------------------------------------------------------------- static items
    def static_items(self, it: ast.expr, user: str) -> list[Any] | None:
        """The items of an iterable, known at compile time; None in a generic graph when
        the length is not known yet. `user` names what needs them, for errors."""
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.args \
                and not any(isinstance(a, ast.Starred) for a in it.args):
            f = self._builtin(it.func)
            kw = {k.arg for k in it.keywords}
            if f is builtins.range and not kw:
                return self._range_items(it, user)
            if f is builtins.zip and not kw or f is builtins.reversed and not kw and len(
                    it.args) == 1 or f is builtins.enumerate and kw <= {"start"}:
                parts = [self.static_items(a, user) for a in it.args[
                    :None if f is builtins.zip else 1]]
                if any(p is None for p in parts):
                    return None
                if f is builtins.zip:
                    return list(zip(*parts))  # type: ignore[misc]
                if f is builtins.reversed:
                    return list(reversed(parts[0]))  # type: ignore[arg-type]
                starts = it.args[1:] + [k.value for k in it.keywords]
                start = self.ev(starts[0]) if starts else 0
                if not isinstance(start, (int, np.integer)):
                    raise self.type_error("enumerate(): the start must be a compile-time int")
                return list(enumerate(parts[0], int(start)))  # type: ignore[arg-type]
        return self.items_of(self.ev(it), user)

    def _builtin(self, name: ast.Name) -> Any:
        try:
            f = self.lookup(name.id, name)
        except Exception:  # noqa: BLE001 - an unknown name is reported when evaluated
            return None
        return f if any(f is b for b in _ITERATORS) else None

    def _range_items(self, call: ast.Call, user: str) -> list[Any] | None:
        args = [self.ev(a) for a in call.args]
        if all(is_static(a) for a in args):
            for a in args:
                if not isinstance(a, (int, np.integer)):
                    raise self.type_error(f"range() arguments must be integers, got "
                                          f"{_describe(a)}")
            try:
                r = range(*[int(a) for a in args])
            except (TypeError, ValueError) as ex:
                raise self.type_error(f"range(): {ex}") from None
            if len(r) > MAX_UNROLL:
                raise self.type_error(f"{user} over range() of {len(r)} items is unrolled at "
                                      f"compile time (at most {MAX_UNROLL}); write a for loop")
            return list(r)
        if not self.typed:
            return None
        for a in args:
            if isinstance(a, Value):
                self.need_static(a)  # range(n) with n a Python int argument: specialize on n
        raise self.type_error(f"{user} is unrolled at compile time, so its iterable needs a "
                              "length known at compile time, but these range() bounds are "
                              "run-time values; use shapes, literals or static arguments "
                              "(static_argnums), or write a for loop")

    def items_of(self, x: Any, user: str) -> list[Any] | None:
        """The items of an evaluated iterable: a tuple or list, a static array's rows, or
        (typed) an array's rows, one getitem each."""
        if isinstance(x, (tuple, list)):
            return list(x)
        if isinstance(x, dict):
            return list(x)         # a dict pytree's keys, as Python iterates it
        enum = isinstance(x, Enumerated)
        arr = x.value if enum else x
        if isinstance(arr, np.ndarray):
            if arr.ndim == 0:
                raise self.type_error("iteration over a 0-d array")
            rows: list[Any] = list(arr)
        elif isinstance(arr, Value):
            if not self.typed:
                return None
            shape = arr.type.shape
            assert shape is not None
            if not shape:
                raise self.type_error(f"iteration over a 0-d array ({arr.hint or 'value'}: "
                                      f"{arr.type})", arg=arr.hint)
            if shape[0] > MAX_UNROLL:
                raise self.type_error(f"{user} over the {shape[0]} rows of an array is unrolled "
                                      f"at compile time (at most {MAX_UNROLL}); write a for "
                                      "loop", arg=arr.hint)
            rows = [self.op("getitem", [arr], {"index": (("int", i),)})
                    for i in range(shape[0])]
        elif is_scalar(arr) or arr is None:
            raise self.type_error(f"{_describe(arr)} is not iterable")
        else:
            raise self.type_error(f"{user} cannot iterate over {_describe(arr)}")
        if enum and not isinstance(x.start, (int, np.integer)):
            raise self.type_error("enumerate(): the start must be a compile-time int")
        return list(enumerate(rows, int(x.start))) if enum else rows

    # ---------------------------------------------------------------- * unpacking
    def starred(self, e: ast.Starred) -> tuple[list[Any], bool]:
        """The items `*x` stands for (a call's arguments, a display's elements, an
        index's entries), and whether they are unknown yet: in a generic graph, one
        opaque node then stands for them all."""
        x = self.ev(e.value)
        if isinstance(x, (tuple, list)):
            return list(x), False
        if isinstance(x, np.ndarray) and x.ndim > 0:
            return list(x), False
        if isinstance(x, Value):
            if not self.typed:
                return [self.opaque("*", [x])], True
            raise self.type_error(
                f"*{ast.unparse(e.value)} unpacks a run-time value ({x.type}); only tuples "
                "and lists known at compile time can be unpacked (x.shape, a tuple of arrays): "
                "index the items instead (x[0], x[1], ...)", arg=x.hint)
        raise self.type_error(f"*{ast.unparse(e.value)}: {_describe(x)} is not iterable")

    def elements(self, elts: list[ast.expr]) -> tuple[list[Any], bool]:
        """A display's or a call's items with `*x` expanded; the flag says some `*x` was
        not known yet (generic graphs: the list then holds one opaque value for it)."""
        out: list[Any] = []
        unknown = False
        for x in elts:
            if isinstance(x, ast.Starred):
                items, unknown_here = self.starred(x)
                out.extend(items)
                unknown = unknown or unknown_here
            else:
                out.append(self.ev(x))
        return out, unknown
