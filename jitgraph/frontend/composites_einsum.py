"""Contractions built from existing ops: np.einsum, np.tensordot, np.inner, np.vdot and
np.kron. They add no op: each operand is labelled, per-operand work (diagonals of repeated
labels, sums of labels nobody else needs) is done with transpose/reshape/getitem/sum, and
operands are contracted pairwise, left to right. A pair with labels to sum over becomes one
matmul (batch labels first, then the free labels, then the summed ones, so the matmul stays
a single fast kernel); a pair with none is a broadcasting mul.

    np.einsum("bij,bjk->bik", x, y)   x: f64[8,3,4]  y: f64[8,4,5]
    %0 = matmul(%x, %y) : f64[8,4,5]                   (no transpose or reshape needed)
    np.einsum("ii->i", x)             x: f64[3,3]
    %0 = reshape(%x) {shape=(9,)}
    %1 = getitem(%0) {index=(("slice", None, None, 4),)} : f64[3]

Result dtypes follow NumPy: every operand is an array (Python scalars become float64 /
int64 arrays, as np.einsum's asarray makes them), the result has their promoted dtype, and
sums keep it (`sum(..., dtype=...)`: einsum sums int32 into int32 and bools with `or`)."""
from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.graph import Value
from .calls import special
from .composites import _bound
from .emit import Emitter, is_scalar, is_static

Labelled = tuple[Value, list[str]]


def as_array(em: Emitter, x: Any) -> Value:
    """x as NumPy's asarray sees it: Python scalars and lists are strong arrays."""
    if isinstance(x, Value):
        if em.typed and x.type.weak:
            return em.op("cast", [x], {"dtype": x.type.dtype})
        return x
    if is_scalar(x) or isinstance(x, np.ndarray) or (isinstance(x, (list, tuple))
                                                     and is_static(x)):
        return em.as_value(np.asarray(x))
    return em.as_value(x)


def _shape(v: Value) -> tuple[int, ...]:
    return v.type.shape  # type: ignore[return-value]


def _reshape(em: Emitter, v: Value, shape: Sequence[int]) -> Value:
    shape = tuple(int(d) for d in shape)
    return v if _shape(v) == shape else em.op("reshape", [v], {"shape": shape})


def _transpose(em: Emitter, x: Labelled, order: Sequence[str]) -> Value:
    v, labels = x
    perm = tuple(labels.index(lab) for lab in order)
    return v if perm == tuple(range(len(perm))) else em.op("transpose", [v], {"axes": perm})


def _prod(xs: Sequence[int]) -> int:
    return int(np.prod(xs, dtype=np.int64))


class Contraction:
    """Labelled operands and the global size of each label (size-1 dimensions broadcast,
    as np.einsum broadcasts them)."""

    def __init__(self, em: Emitter, dtype: np.dtype):
        self.em = em
        self.dtype = dtype
        self.sizes: dict[str, int] = {}

    def add_sizes(self, v: Value, labels: list[str], k: int) -> None:
        own: dict[str, int] = {}
        for lab, d in zip(labels, _shape(v), strict=True):
            if own.setdefault(lab, d) != d:
                raise self.em.type_error(
                    f"einsum: dimensions in operand {k} for collapsing index {_show(lab)} "
                    f"don't match ({own[lab]} != {d})")
        for lab, d in own.items():
            seen = self.sizes.setdefault(lab, d)
            if seen != d and 1 not in (seen, d):
                raise self.em.type_error(
                    f"einsum: operand {k} has size {d} for index {_show(lab)}, another "
                    f"operand has {seen}: they do not broadcast")
            self.sizes[lab] = max(seen, d)

    def diagonal(self, x: Labelled) -> Labelled:
        """Repeated labels on one operand: their diagonal. The repeated axes go last and
        are flattened; the diagonal is then the slice with step 1 + n + n**2 + ..."""
        v, labels = x
        for lab in dict.fromkeys(labels):
            k = labels.count(lab)
            if k == 1:
                continue
            others = [m for m in labels if m != lab]
            perm = tuple([i for i, m in enumerate(labels) if m != lab] +
                         [i for i, m in enumerate(labels) if m == lab])
            if perm != tuple(range(len(perm))):
                v = self.em.op("transpose", [v], {"axes": perm})
            n = _shape(v)[-1]
            v = _reshape(self.em, v, _shape(v)[:len(others)] + (n ** k,))
            step = max(sum(n ** j for j in range(k)), 1)
            index = (("slice", None, None, None),) * len(others) + (("slice", None, None, step),)
            v = self.em.op("getitem", [v], {"index": index})
            labels = others + [lab]
        return v, labels

    def sum_out(self, x: Labelled, drop: set[str]) -> Labelled:
        v, labels = x
        axes = tuple(i for i, lab in enumerate(labels) if lab in drop)
        if not axes:
            return x
        v = self.em.op("sum", [v], {"axis": axes, "dtype": self.dtype})
        return v, [lab for lab in labels if lab not in drop]

    def widen(self, x: Labelled, which: set[str]) -> Value:
        """x with its size-1 dimensions of `which` broadcast to the labels' sizes."""
        v, labels = x
        full = tuple(self.sizes[lab] if lab in which else d
                     for lab, d in zip(labels, _shape(v), strict=True))
        return v if full == _shape(v) else self.em.op("broadcast_to", [v], {"shape": full})

    def pair(self, a: Labelled, b: Labelled, keep: set[str]) -> Labelled:
        """a and b contracted over their shared labels that are not in `keep`."""
        em = self.em
        a = self.sum_out(a, {lab for lab in a[1] if lab not in b[1] and lab not in keep})
        b = self.sum_out(b, {lab for lab in b[1] if lab not in a[1] and lab not in keep})
        la, lb = a[1], b[1]
        batch = [lab for lab in la if lab in lb and lab in keep]
        summed = [lab for lab in la if lab in lb and lab not in keep]
        fa = [lab for lab in la if lab not in lb]
        fb = [lab for lab in lb if lab not in la]
        sa, sb = dict(zip(la, _shape(a[0]))), dict(zip(lb, _shape(b[0])))
        if not summed:
            # NOTE: an outer product over batch labels: mul broadcasts the size-1 ones
            va = _reshape(em, _transpose(em, a, batch + fa),
                          [sa[m] for m in batch + fa] + [1] * len(fb))
            vb = _reshape(em, _transpose(em, b, batch + fb),
                          [sb[m] for m in batch] + [1] * len(fa) + [sb[m] for m in fb])
            return em.op("mul", [va, vb]), batch + fa + fb
        shared = set(batch + summed)
        a = (self.widen(a, shared), la)
        b = (self.widen(b, shared), lb)
        size = self.sizes
        nb, nk = _prod([size[m] for m in batch]), _prod([size[m] for m in summed])
        na, nn = _prod([sa[m] for m in fa]), _prod([sb[m] for m in fb])
        if batch:
            va = _reshape(em, _transpose(em, a, batch + fa + summed), (nb, na, nk))
            vb = _reshape(em, _transpose(em, b, batch + summed + fb), (nb, nk, nn))
        else:  # 1-D operands where a side has no free labels: matmul's vector forms
            va = _reshape(em, _transpose(em, a, fa + summed), (na, nk) if fa else (nk,))
            vb = _reshape(em, _transpose(em, b, summed + fb), (nk, nn) if fb else (nk,))
        r = em.op("matmul", [va, vb])
        shape = [size[m] for m in batch] + [sa[m] for m in fa] + [sb[m] for m in fb]
        return _reshape(em, r, shape), batch + fa + fb

    def run(self, ops: list[Labelled], out: list[str]) -> Value:
        em = self.em
        for k, (v, labels) in enumerate(ops):
            self.add_sizes(v, labels, k)
        ops = [self.diagonal(x) for x in ops]
        # labels only one operand has and the output lacks: summed before any pairing
        for k, (v, labels) in enumerate(ops):
            elsewhere = {lab for j, o in enumerate(ops) if j != k for lab in o[1]}
            ops[k] = self.sum_out((v, labels), {lab for lab in labels
                                                if lab not in elsewhere and lab not in out})
        acc = ops[0]
        for k in range(1, len(ops)):
            keep = set(out) | {lab for o in ops[k + 1:] for lab in o[1]}
            acc = self.pair(acc, ops[k], keep)
        acc = self.sum_out(acc, {lab for lab in acc[1] if lab not in out})
        v = _transpose(em, (self.widen(acc, set(out)), acc[1]), out)
        if v.type.dtype != self.dtype:
            v = em.op("cast", [v], {"dtype": self.dtype})
        return v


def _show(lab: str) -> str:
    return "'...'" if lab.startswith(".") else repr(lab)


def contract(em: Emitter, ops: list[Labelled], out: list[str]) -> Value:
    dtype = np.result_type(*[v.type.dtype for v, _ in ops])
    return Contraction(em, dtype).run(ops, out)


# ---------------------------------------------------------------------- np.einsum
def parse_einsum(em: Emitter, subscripts: str, ndims: list[int]
                 ) -> tuple[list[list[str]], list[str]]:
    """Subscripts -> one label list per operand and the output's labels. '...' stands for
    labels ".0", ".1", ... aligned from the right, as broadcasting aligns dimensions."""
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    if "->" in rhs:
        raise em.type_error("einsum: subscripts may contain '->' only once")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise em.type_error(f"einsum: {len(terms)} operand subscripts for {len(ndims)} "
                            "operands")

    def split(term: str, what: str) -> tuple[list[str], list[str] | None]:
        head, dots, tail = term.partition("...")
        for c in head + tail:
            if not (c.isascii() and c.isalpha()):
                raise em.type_error(f"einsum: invalid subscript {c!r} in {what}")
        return list(head), (list(tail) if dots else None)

    parsed = [split(t, f"operand {k}") for k, t in enumerate(terms)]
    widths = []
    for k, ((head, tail), nd) in enumerate(zip(parsed, ndims, strict=True)):
        named = len(head) + len(tail or [])
        if (named > nd) or (tail is None and named != nd):
            raise em.type_error(f"einsum: operand {k} has {nd} dimensions but its subscripts "
                                f"{terms[k]!r} name {named}")
        widths.append(nd - named if tail is not None else 0)
    ell = [f".{i}" for i in range(max(widths, default=0))]
    labels = [head + ell[len(ell) - w:] + tail if tail is not None else head
              for (head, tail), w in zip(parsed, widths, strict=True)]
    if arrow:
        head, tail = split(rhs, "the output")
        if tail is None and ell:
            raise em.type_error("einsum: the operands' '...' stand for dimensions, so the "
                                "output needs '...' too")
        out = head + ell + (tail or [])
        letters = {c for t in labels for c in t}
        for c in out:
            if out.count(c) > 1 or c not in letters:
                raise em.type_error(f"einsum: output subscript {c!r} appears more than once "
                                    "or in no operand")
        return labels, out
    count: dict[str, int] = {}
    for t in labels:
        for c in t:
            count[c] = count.get(c, 0) + 1
    return labels, ell + sorted(c for c, n in count.items() if n == 1 and c not in ell)


@special(np.einsum)
def _einsum(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if not args or not isinstance(args[0], str):
        raise em.script_error("np.einsum needs its subscripts as a string constant first "
                              "(the sublist form einsum(a, [0, 1], ...) is not supported)",
                              node, "np.einsum")
    for k in kwargs:
        if k != "optimize":  # contraction order only: the values are the same
            raise em.script_error(f"np.einsum() does not support the keyword {k!r}", node,
                                  "np.einsum")
    if len(args) < 2:
        raise em.type_error("np.einsum needs at least one operand")
    vals = [as_array(em, x) for x in args[1:]]
    if not em.typed:
        return em.opaque("np.einsum", vals)
    labels, out = parse_einsum(em, args[0], [v.type.ndim for v in vals])
    return contract(em, [(v, lab) for v, lab in zip(vals, labels, strict=True)], out)


# ---------------------------------------------------------------------- tensordot, inner
def _axis(em: Emitter, a: Any, nd: int, what: str) -> int:
    a = int(em.static_attr(a, what))
    if not -nd <= a < nd:
        raise em.type_error(f"{what}: axis {a} is out of bounds for an array of dimension {nd}")
    return a % nd


def _dot_axes(em: Emitter, va: Value, vb: Value, ax: list[int], bx: list[int],
              fname: str) -> Value:
    """Sum over a's axes `ax` paired with b's axes `bx`; the result's axes are a's other
    axes, then b's (np.tensordot's order). Sizes must match exactly: no broadcasting."""
    la = [f"a{i}" for i in range(va.type.ndim)]
    lb = [f"b{i}" for i in range(vb.type.ndim)]
    if len(set(ax)) != len(ax) or len(set(bx)) != len(bx):
        raise em.type_error(f"{fname}: repeated axis")
    for i, j in zip(ax, bx, strict=True):
        if _shape(va)[i] != _shape(vb)[j]:
            raise em.type_error(f"{fname}: shape-mismatch for sum: a has size "
                                f"{_shape(va)[i]} on axis {i}, b has {_shape(vb)[j]} on "
                                f"axis {j} (shapes {_shape(va)} and {_shape(vb)})")
        lb[j] = la[i]
    out = [m for m in la if m not in lb] + [m for m in lb if m not in la]
    return contract(em, [(va, la), (vb, lb)], out)


@special(np.tensordot)
def _tensordot(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = _bound(("a", "b", "axes"), {"axes": 2}, args, kwargs, em, "tensordot")
    va, vb = as_array(em, b["a"]), as_array(em, b["b"])
    axes = em.static_attr(b["axes"], "axes")
    if not em.typed:
        return em.opaque("np.tensordot", [va, vb])
    na, nb = va.type.ndim, vb.type.ndim
    if isinstance(axes, int):
        if axes < 0 or axes > min(na, nb):
            raise em.type_error(f"tensordot: axes={axes} for arrays of {na} and {nb} "
                                "dimensions")
        ax, bx = list(range(na - axes, na)), list(range(axes))
    elif isinstance(axes, tuple) and len(axes) == 2:
        ax_, bx_ = ([a] if isinstance(a, int) else list(a) for a in axes)
        if len(ax_) != len(bx_):
            raise em.type_error("tensordot: shape-mismatch for sum: the two axes lists "
                                "differ in length")
        ax = [_axis(em, i, na, "tensordot") for i in ax_]
        bx = [_axis(em, i, nb, "tensordot") for i in bx_]
    else:
        raise em.type_error(f"tensordot: axes must be an int or a pair of axis lists, got "
                            f"{axes!r}")
    return _dot_axes(em, va, vb, ax, bx, "tensordot")


@special(np.inner)
def _inner(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if len(args) != 2 or kwargs:
        raise em.type_error("np.inner takes two arguments")
    va, vb = as_array(em, args[0]), as_array(em, args[1])
    if not em.typed:
        return em.opaque("np.inner", [va, vb])
    na, nb = va.type.ndim, vb.type.ndim
    if na == 0 or nb == 0:
        return contract(em, [(va, [f"a{i}" for i in range(na)]),
                             (vb, [f"b{i}" for i in range(nb)])],
                        [f"a{i}" for i in range(na)] + [f"b{i}" for i in range(nb)])
    return _dot_axes(em, va, vb, [na - 1], [nb - 1], "inner")


@special(np.vdot)
def _vdot(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if len(args) != 2 or kwargs:
        raise em.type_error("np.vdot takes two arguments")
    va, vb = as_array(em, args[0]), as_array(em, args[1])
    if not em.typed:
        return em.opaque("np.vdot", [va, vb])
    if "c" in (va.type.dtype.kind, vb.type.dtype.kind):  # type: ignore[union-attr]
        raise em.type_error("np.vdot of complex arrays (it conjugates the first) is not "
                            "supported")
    if va.type.size != vb.type.size:
        raise em.type_error(f"vdot: vectors have different lengths ({va.type.size} and "
                            f"{vb.type.size}; shapes {_shape(va)} and {_shape(vb)})")
    va, vb = _reshape(em, va, (va.type.size,)), _reshape(em, vb, (vb.type.size,))
    return contract(em, [(va, ["i"]), (vb, ["i"])], [])


# ---------------------------------------------------------------------- kron
@special(np.kron)
def _kron(em: Emitter, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """kron(a, b)[i*n + j, ...] = a[i, ...] * b[j, ...]: a as (a0, 1, a1, 1, ...) times b
    as (1, b0, 1, b1, ...), merged pairwise."""
    if len(args) != 2 or kwargs:
        raise em.type_error("np.kron takes two arguments")
    va, vb = as_array(em, args[0]), as_array(em, args[1])
    if not em.typed:
        return em.opaque("np.kron", [va, vb])
    nd = max(va.type.ndim, vb.type.ndim)
    sa = (1,) * (nd - va.type.ndim) + _shape(va)
    sb = (1,) * (nd - vb.type.ndim) + _shape(vb)
    ra = [d for p in zip(sa, (1,) * nd) for d in p]
    rb = [d for p in zip((1,) * nd, sb) for d in p]
    r = em.op("mul", [_reshape(em, va, ra), _reshape(em, vb, rb)])
    return _reshape(em, r, [p * q for p, q in zip(sa, sb)])
