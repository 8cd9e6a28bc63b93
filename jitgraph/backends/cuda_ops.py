"""Per-op CUDA lowering rules, attached to `OpDef.cuda` when this module is imported.

Elementwise ops get a C expression per dtype (`{0}`, `{1}` are the operands, already
converted to the op's compute dtype and bound to local variables, so an operand may appear
twice at no cost). The other ops get a rule object naming the kernel family that lowers them
and what varies inside it (combine op, view function, ...); `cuda_lower.py` dispatches on
the rule's class, never on the op's name.

Expression keys, tried in order: the dtype's name (`float32`), its family (`float`, `int`
signed, `uint`, `bool`), `integer` (signed or unsigned), then `*`. float16 values live in
registers as floats (NumPy's float16 loops compute in float and round each result to half),
so float16 tries the `float32` key right after its own name; the lowering rounds the result.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ops import OPS

_FAMILY = {"f": "float", "i": "int", "u": "uint", "b": "bool"}


@dataclass(frozen=True)
class Elementwise:
    """exprs: key -> C expression. compute: which dtype the operands are converted to
    before the expression runs (and which dtype keys the expression):
      "out"     every operand to the output dtype (arithmetic, math functions);
      "common"  every operand to NumPy's result_type of the inputs (comparisons);
      "each"    operands keep their own dtypes, keyed by the first one (isnan, logical_and);
      "where"   the condition keeps its dtype, the two branches go to the output dtype.
    from_key: the expression's value has the key dtype and needs a NumPy-style conversion to
    the output dtype (cast); otherwise a plain C cast suffices."""
    exprs: dict[str, str]
    compute: str = "out"
    from_key: bool = False

    def expr_for(self, dtype: np.dtype) -> str | None:
        for key in (dtype.name, "float32" if dtype.name == "float16" else "",
                    _FAMILY.get(dtype.kind, ""),
                    "integer" if dtype.kind in "iu" else "", "*"):
            if key in self.exprs:
                return self.exprs[key]
        return None


@dataclass(frozen=True)
class Reduce:
    """A reduction over `axis` (canonical sorted tuple). combine: the functor in
    kernels/reduce.cu; post: "mean" divides by the count, "var"/"std" run a mean first and
    reduce squared deviations. acc: "out" accumulates in the output dtype, "in" in the
    input's (max/min), "bool" in 0/1 (any/all)."""
    combine: str
    acc: str = "out"
    post: str = ""


@dataclass(frozen=True)
class ArgReduce:
    """argmax/argmin over one axis or the flattened array; the result is int64."""
    is_max: bool


@dataclass(frozen=True)
class Matmul:
    """NumPy matmul: 1-D operands promoted, batch dimensions broadcast; tiled template."""


@dataclass(frozen=True)
class View:
    """No kernel: the result is the same memory with other strides. fn applies the op to a
    ghost array (strides only, never read) and returns the view; it raises ValueError when
    the op needs a copy, and the lowering then makes the input contiguous first."""
    fn: Callable[[np.ndarray, dict[str, Any]], np.ndarray]


@dataclass(frozen=True)
class GetItem:
    """Basic indexing (static ints, slices, None, Ellipsis; run-time integer scalars) is a
    View whose offset the host computes per call, bounds-checked by NumPy itself. With
    integer-array indices (any number, broadcast together, NumPy's placement of the result
    axes) it is a gather kernel: negative indices wrap, an index out of range is recorded in
    a device error buffer (the element reads nothing) and raised as IndexError on the host."""


@dataclass(frozen=True)
class SetItem:
    """x with x[index] = v (v broadcast to x[index], cast as NumPy assignment casts). The
    output is a copy of x (a copy kernel), or x's own buffer when the lowering can prove
    nothing reads x after the node (see `_setitem_owns` in cuda_lower.py), then a kernel
    writes v into the region. Static and host-scalar indices address the region as a view
    (NumPy computes the offset per call: negative wrap, IndexError); integer arrays or
    device-resident scalar indices use the gather machinery: negative wrap, out-of-range
    indices recorded in the device error buffer (nothing written for them) and raised as
    IndexError on the host. Repeated array indices: the last write in C order of the
    broadcast index arrays wins (NumPy's order), by a claim pass (atomicMax) first."""


@dataclass(frozen=True)
class Join:
    """concatenate / stack: one strided copy kernel per input into its slice of the output."""
    new_axis: bool


@dataclass(frozen=True)
class SumToShape:
    """The VJP of broadcasting: a sum over the broadcast axes."""


@dataclass(frozen=True)
class Fill:
    """A constant or one broadcast scalar input. value: the fill for zeros/ones/empty;
    None means input `fill_input` is the fill (full, full_like)."""
    value: Any = None
    fill_input: int = 0


@dataclass(frozen=True)
class HostConstant:
    """No value inputs and an array result that only attrs decide (arange, eye, linspace):
    computed once by the op's impl at compile time and uploaded, so it is NumPy's exactly."""


@dataclass(frozen=True)
class ScatterAdd:
    """getitem's adjoint. Basic indexing: zeros, then g stored through the view (basic
    indexing never repeats an element, so add.at is a store). Integer-array indices: zeros,
    then one atomic add per element of g's broadcast (repeated indices accumulate)."""


@dataclass(frozen=True)
class Scan:
    """cumsum / cumprod along one axis (axis None: the flattened array). combine: the
    ELEMENTWISE rule of the step (add, mul), evaluated in the output dtype as NumPy's
    accumulate does: out[0] = x[0], out[i] = out[i-1] op x[i]."""
    combine: str


@dataclass(frozen=True)
class Sort:
    """sort / argsort along one axis (axis None: the flattened array), NumPy's kind="stable"
    order (NaNs last, ties in their original order) from the merge sorts of kernels/sort.cu:
    a thread per line over many short lines, a block per line over long or few lines. arg:
    the result is the int64 permutation (argsort), else the sorted values."""
    arg: bool


@dataclass(frozen=True)
class HostCall:
    """Runs on the host with device buffers as opaque handles (the loop-gradient tapes push
    and pop buffer references; buffers are immutable, so no copy is needed)."""


@dataclass(frozen=True)
class Inline:
    """The op's value is a typed graph held in attribute `attr` (custom_vjp's fwd)."""
    attr: str


@dataclass(frozen=True)
class Forward:
    """The result is input `index` (custom_vjp_call passes its forward value through)."""
    index: int = 0


@dataclass(frozen=True)
class Copy:
    """A fresh array with the same values; buffers are immutable, so it aliases."""


def _fn(name: str) -> dict[str, str]:
    """A C math function in float32 (expf) and float64 (exp) spellings."""
    return {"float32": name + "f({0})", "float64": name + "({0})"}


def _fn_or_identity(name: str) -> dict[str, str]:
    """floor/ceil/rint: NumPy 2 keeps integers as they are."""
    return {**_fn(name), "*": "{0}"}


E = Elementwise
ELEMENTWISE: dict[str, Elementwise] = {
    # arithmetic; on bool NumPy's add is `or` and multiply is `and`
    "add": E({"bool": "({0} || {1})", "*": "({0} + {1})"}),
    "sub": E({"*": "({0} - {1})"}),
    "mul": E({"bool": "({0} && {1})", "*": "({0} * {1})"}),
    "div": E({"float": "({0} / {1})"}),
    "floordiv": E({"*": "jg_floordiv({0}, {1})"}),
    "mod": E({"*": "jg_mod({0}, {1})"}),
    "pow": E({"float32": "jg_fpow({0}, {1})", "float64": "jg_fpow({0}, {1})",
              "integer": "jg_pow({0}, {1})", "bool": "({0} || !{1})"}),
    "maximum": E({"*": "jg_maximum({0}, {1})"}),
    "minimum": E({"*": "jg_minimum({0}, {1})"}),
    "arctan2": E({"float32": "atan2f({0}, {1})", "float64": "atan2({0}, {1})"}),
    "neg": E({"*": "(-{0})"}),
    "pos": E({"*": "{0}"}),
    "abs": E({"*": "jg_abs({0})"}),
    "sign": E({"*": "jg_sign({0})"}),
    "square": E({"*": "({0} * {0})"}),
    "sqrt": E(_fn("sqrt")),
    "reciprocal": E({"*": "jg_reciprocal({0})"}),
    "exp": E(_fn("exp")),
    "exp2": E(_fn("exp2")),
    "expm1": E(_fn("expm1")),
    "log": E(_fn("log")),
    "log2": E(_fn("log2")),
    "log10": E(_fn("log10")),
    "log1p": E(_fn("log1p")),
    "sin": E(_fn("sin")),
    "cos": E(_fn("cos")),
    "tan": E(_fn("tan")),
    "arcsin": E(_fn("asin")),
    "arccos": E(_fn("acos")),
    "arctan": E(_fn("atan")),
    "sinh": E(_fn("sinh")),
    "cosh": E(_fn("cosh")),
    "tanh": E(_fn("tanh")),
    "floor": E(_fn_or_identity("floor")),
    "ceil": E(_fn_or_identity("ceil")),
    "rint": E(_fn_or_identity("rint")),
    "isnan": E({"*": "jg_isnan({0})"}, compute="each"),
    "isinf": E({"*": "jg_isinf({0})"}, compute="each"),
    "isfinite": E({"*": "jg_isfinite({0})"}, compute="each"),
    # comparisons run in the promoted dtype of both operands
    "lt": E({"*": "({0} < {1})"}, compute="common"),
    "le": E({"*": "({0} <= {1})"}, compute="common"),
    "gt": E({"*": "({0} > {1})"}, compute="common"),
    "ge": E({"*": "({0} >= {1})"}, compute="common"),
    "eq": E({"*": "({0} == {1})"}, compute="common"),
    "ne": E({"*": "({0} != {1})"}, compute="common"),
    # logic on truth values of any dtype (NaN is true, as in NumPy)
    "logical_and": E({"*": "(({0} != 0) && ({1} != 0))"}, compute="each"),
    "logical_or": E({"*": "(({0} != 0) || ({1} != 0))"}, compute="each"),
    "logical_xor": E({"*": "(({0} != 0) != ({1} != 0))"}, compute="each"),
    "logical_not": E({"*": "({0} == 0)"}, compute="each"),
    "bitwise_and": E({"bool": "({0} && {1})", "integer": "({0} & {1})"}),
    "bitwise_or": E({"bool": "({0} || {1})", "integer": "({0} | {1})"}),
    "bitwise_xor": E({"bool": "({0} != {1})", "integer": "({0} ^ {1})"}),
    "invert": E({"bool": "(!{0})", "integer": "(~{0})"}),
    "where": E({"*": "(({0} != 0) ? {1} : {2})"}, compute="where"),
    # np.clip is minimum(maximum(a, lo), hi) with NaN propagating
    "clip": E({"*": "jg_minimum(jg_maximum({0}, {1}), {2})"}),
    "cast": E({"*": "{0}"}, compute="each", from_key=True),
}

OTHER: dict[str, Any] = {
    "sum": Reduce("jg_sum_op"),
    "prod": Reduce("jg_prod_op"),
    "mean": Reduce("jg_sum_op", post="mean"),
    "var": Reduce("jg_sum_op", post="var"),
    "std": Reduce("jg_sum_op", post="std"),
    "max": Reduce("jg_max_op", acc="in"),
    "min": Reduce("jg_min_op", acc="in"),
    "any": Reduce("jg_or_op", acc="bool"),
    "all": Reduce("jg_and_op", acc="bool"),
    "argmax": ArgReduce(True),
    "argmin": ArgReduce(False),
    "matmul": Matmul(),
    "transpose": View(lambda g, a: np.transpose(g, a["axes"])),
    "reshape": View(lambda g, a: np.reshape(g, a["shape"], copy=False)),
    "expand_dims": View(lambda g, a: np.expand_dims(g, a["axis"])),
    "squeeze": View(lambda g, a: np.squeeze(g, a["axis"])),
    "broadcast_to": View(lambda g, a: np.broadcast_to(g, a["shape"])),
    "copy": Copy(),
    "getitem": GetItem(),
    "setitem": SetItem(),
    "concatenate": Join(new_axis=False),
    "stack": Join(new_axis=True),
    "sum_to_shape": SumToShape(),
    "zeros": Fill(0),
    "ones": Fill(1),
    "empty": Fill(0),
    "zeros_like": Fill(0),
    "ones_like": Fill(1),
    "empty_like": Fill(0),
    "full": Fill(None, 0),
    "full_like": Fill(None, 1),
    "arange": HostConstant(),
    "eye": HostConstant(),
    "linspace": HostConstant(),
    "scatter_add": ScatterAdd(),
    "cumsum": Scan("add"),
    "cumprod": Scan("mul"),
    "sort": Sort(False),
    "argsort": Sort(True),
    "tape_new": HostCall(),
    "tape_push": HostCall(),
    "tape_pop": HostCall(),
    "custom_vjp": Inline("fwd"),
    "custom_vjp_call": Forward(0),
}

RULES: dict[str, Any] = {**ELEMENTWISE, **OTHER}


@dataclass
class Coverage:
    """Which registry ops have a CUDA rule (printed by the coverage test)."""
    covered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def attach() -> Coverage:
    """Set OpDef.cuda for every op this table knows; ops declared later stay None and the
    backend's check() reports them."""
    cov = Coverage()
    for name, op in OPS.items():
        rule = RULES.get(name)
        if rule is not None:
            op.cuda = rule
            cov.covered.append(name)
        else:
            cov.missing.append(name)
    return cov


COVERAGE = attach()
