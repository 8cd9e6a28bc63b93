"""Ops that only gradient graphs use, and the helpers every VJP rule shares.

VJP rules (`OpDef.vjp`) have the shape `vjp(b: Builder, node, ct) -> [Value | None, ...]`:
one entry per input of `node`, the cotangent of that input, or None where the input takes
no gradient (integers, bools, conditions, indices). `ct` has the type of `node.out`. Rules
build typed nodes with `b.op`; `unbroadcast` finishes every rule whose input may have been
broadcast or promoted, so a gradient always has its primal's shape and dtype.

Ops declared here:
  scatter_add(g, *idx) {index, shape}   zeros(shape) with g added at x[index] (np.add.at):
                                        getitem's VJP; repeated integer indices accumulate.
  tape_new() : i64[]                    a fresh, empty stack; the value is its handle.
  tape_push(h, x) {} : i64[]            push x onto h's stack; returns h (the next handle).
  tape_pop(h) {shape, dtype, weak}      pop the top of h's stack (a value of that type).
  custom_vjp(*args) {fwd, bwd, name}    a user op defined by two graphs (see autodiff.py):
                                        fwd(*args) -> (out, *residuals),
                                        bwd(*residuals, ct) -> (ct_arg, ...).
  custom_vjp_call(out, *args, *res) {bwd, nargs}   what autodiff turns custom_vjp into: the
                                        value `out` (fwd inlined before it) whose VJP is bwd.

Tapes are how a loop's forward pass hands each iteration's values to the reverse loop (the
reverse loop pops them in reverse order). The interpreter keeps stacks in `_TAPES`, keyed
by handle; a stack is created by its first push and deleted by the pop that empties it, so
a forward and backward run leave nothing behind. Native backends will implement the same
three ops with a growable buffer per handle.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import JitTypeError
from ..types import TensorType
from . import defop


# -- helpers for VJP rules -----------------------------------------------------------------
def is_float(v: Any) -> bool:
    """Whether v (a Value) can carry a gradient: a real floating-point dtype."""
    t = v.type
    return t.dtype is not None and t.dtype.kind == "f"


def unbroadcast(b: Any, g: Any, x: Any) -> Any:
    """g (a cotangent of a value that x was broadcast or promoted into) brought back to x's
    shape and dtype; None when x takes no gradient."""
    if g is None or not is_float(x):
        return None
    if g.type.shape != x.type.shape:
        g = b.op("sum_to_shape", g, shape=x.type.shape)
    if g.type.dtype != x.type.dtype:
        g = b.op("cast", g, dtype=x.type.dtype)
    return g


def zeros_of(b: Any, t: TensorType) -> Any:
    """A zero value of type t (a Python scalar constant when t is weak)."""
    assert t.dtype is not None and t.shape is not None
    if t.weak:
        zero = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}[t.dtype.kind]
        return b.const(zero, t)
    return b.op("zeros", shape=t.shape, dtype=t.dtype)


def const_like(b: Any, value: float) -> Any:
    """A weak Python-float constant: it keeps the other operand's float dtype."""
    return b.const(float(value))


# -- scatter_add: getitem's adjoint ---------------------------------------------------------
def _scatter_add(g: Any, *dyn: Any, index: tuple = (), shape: tuple[int, ...] = ()) -> Any:
    from .shape import build_index  # NOTE: lazy, so importing this module registers no shape ops
    g = np.asarray(g)
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, build_index(index, dyn), g)
    return out


def _scatter_add_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    g = b.op("getitem", ct, *n.inputs[1:], index=n.attrs["index"])
    return [g] + [None] * (len(n.inputs) - 1)


def _scatter_add_shape(ins: Sequence[TensorType], a: dict[str, Any]) -> tuple[int, ...]:
    from .shape import _getitem_shape
    shape = tuple(int(d) for d in a["shape"])
    part = _getitem_shape([TensorType(ins[0].dtype, shape), *ins[1:]], {"index": a["index"]})
    g = ins[0].shape
    assert g is not None
    if tuple(np.broadcast_shapes(g, part)) != part:
        raise JitTypeError(f"scatter_add: a value of shape {g} does not fit x[index] of shape "
                           f"{part} (x of shape {shape})")
    return shape


defop("scatter_add", _scatter_add, nin=None, params=("g", "index", "shape"),
      attrs={"index": (), "shape": ()}, shape=_scatter_add_shape,
      dtype=lambda ins, a: ins[0].dtype, vjp=_scatter_add_vjp)


# -- tapes: per-iteration stacks for loop gradients -------------------------------------------
_TAPES: dict[int, list[Any]] = {}
_TAPE_IDS = itertools.count(1)


def live_tapes() -> int:
    """How many stacks hold values now (0 after every complete forward+backward run)."""
    return len(_TAPES)


def _tape_new() -> Any:
    # NOTE: no entry yet: a loop that runs zero times must leave nothing behind.
    return np.int64(next(_TAPE_IDS))


def _tape_push(h: Any, x: Any) -> Any:
    _TAPES.setdefault(int(h), []).append(x)
    return h


def _tape_pop(h: Any, shape: tuple[int, ...] = (), dtype: Any = None, weak: bool = False) -> Any:
    stack = _TAPES[int(h)]
    x = stack.pop()
    if not stack:
        del _TAPES[int(h)]
    return x


def _HANDLE(ins: Sequence[TensorType], a: dict[str, Any]) -> np.dtype:
    return np.dtype(np.int64)


defop("tape_new", _tape_new, nin=0, shape=lambda ins, a: (), dtype=_HANDLE,
      pure=False, differentiable=False)
defop("tape_push", _tape_push, nin=2, params=("h", "x"), shape=lambda ins, a: (),
      dtype=_HANDLE, pure=False, differentiable=False)
defop("tape_pop", _tape_pop, nin=1, params=("h", "shape", "dtype", "weak"),
      attrs={"shape": (), "dtype": None, "weak": False},
      canon=lambda ins, a: {"dtype": np.dtype(a["dtype"]), "shape": tuple(a["shape"])},
      shape=lambda ins, a: a["shape"], dtype=lambda ins, a: np.dtype(a["dtype"]),
      weak=lambda ins, a: bool(a["weak"]), pure=False, differentiable=False)


# -- custom_vjp: a user op with its own backward ------------------------------------------------
def _run_graph(g: Any, args: Sequence[Any]) -> list[Any]:
    from ..backends.interp import InterpBackend  # NOTE: lazy: backends import ops
    return InterpBackend().compile(g)(list(args))


def _custom_impl(*args: Any, fwd: Any = None, bwd: Any = None, name: str = "") -> Any:
    return _run_graph(fwd, args)[0]


def _custom_type(ins: Sequence[TensorType], a: dict[str, Any]) -> TensorType:
    fwd = a["fwd"]
    if fwd is None or not fwd.results or not fwd.results[0].type.known:
        raise TypeError("custom_vjp needs its fwd graph specialized to the argument types")
    return fwd.results[0].type  # type: ignore[no-any-return]


defop("custom_vjp", _custom_impl, nin=None, params=("args",),
      attrs={"fwd": None, "bwd": None, "name": ""},
      shape=lambda ins, a: _custom_type(ins, a).shape,
      dtype=lambda ins, a: _custom_type(ins, a).dtype,
      weak=lambda ins, a: _custom_type(ins, a).weak)


def _custom_call_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    from ..autodiff import inline  # NOTE: lazy: autodiff imports ops
    nargs = n.attrs["nargs"]
    args, res = n.inputs[1:1 + nargs], n.inputs[1 + nargs:]
    cts = inline(b, n.attrs["bwd"], [*res, ct])
    return [None, *(unbroadcast(b, g, x) for g, x in zip(cts, args, strict=True)),
            *([None] * len(res))]


defop("custom_vjp_call", lambda out, *rest, bwd=None, nargs=0: out, nin=None,
      params=("out", "args"), attrs={"bwd": None, "nargs": 0},
      shape=lambda ins, a: ins[0].shape, dtype=lambda ins, a: ins[0].dtype,
      weak=lambda ins, a: ins[0].weak, vjp=_custom_call_vjp)
