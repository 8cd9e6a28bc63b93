"""Typed Graph -> CUDA C source + a host-side schedule (pure: no pycuda, no GPU needed).

A `Program` is what `cuda_jit.py` runs: one CUDA C translation unit holding every kernel of
the graph (branch and loop bodies included) and a list of host steps -- allocate, launch,
alias a view, evaluate a scalar node on the host, If, Loop -- in graph order.

Placement. A value is *host* when it is a 0-d scalar that the host can know without asking
the device: a 0-d argument, a scalar constant, the loop counter, or a 0-d result of an op
whose inputs are all host values (evaluated by the op's NumPy impl, exactly as the
interpreter would). Everything else lives on the device. Host scalars reach kernels as
by-value arguments (constants as literals), so `if prev_loss < 5.0` costs no device sync; a
condition computed on the device is read back as one scalar (one sync per decision).

Layouts. A device value is (buffer, static strides in elements, element offset). Buffers are
never written after their producing kernel (except by a setitem in place, once nothing can
read the old contents; see "setitem" below), so transpose, reshape, expand_dims, squeeze,
broadcast_to, copy and basic indexing are views: no kernel, and consumers fold the strides
into their index arithmetic. Kernels always write fresh contiguous buffers; If/Loop
outputs and graph results are contiguous (a copy kernel is added where a view would leak).

Kernels, one per: elementwise node or fused group (grid-stride, kernels/elementwise.cu),
row group -- reductions with the elementwise work before and after them, as in softmax or
layer norm, or a fused group that ends in reductions (see "row groups" below) --,
reduction (block per output with warp shuffles, or thread per output when the reduced axes
are strided, split in two launches when few outputs reduce many elements; kernels/reduce.cu),
matmul (tiled, kernels/matmul.cu), concatenate/stack input, materialized scalar or copy,
scan (cumsum/cumprod: thread per line, or block per long line via jg_block_scan), gather
(integer-array getitem), atomic scatter (its adjoint scatter_add), and setitem (a copy of x
unless written in place, then a store of v through a view or, with integer-array or device
indices, a scatter after a last-write-wins claim pass).

Index errors. A kernel cannot raise, so a gather or scatter records an out-of-range index in
a device error buffer (and touches no memory for it); the host reads the buffer back at the
end of the block, or before an If/Loop/run-time index decides on device data, and raises
NumPy's IndexError (see "integer-array indexing" below).

float16 is IEEE half bits in memory (`unsigned short`; common.cu converts with PTX cvt.rn)
and float in registers, every result rounded to half as NumPy's float16 loops do; sums and
means accumulate in float, matmul too.

`check()` is `lower(g).problems`: a node that cannot be lowered (unknown op, no rule,
unsupported dtype such as complex) is listed, and the runtime falls back.
"""
from __future__ import annotations

import hashlib
import re
import string
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..ir.graph import Block, Graph, Node, Value
from ..ops import OPS
from ..ops.shape import build_index
from ..types import TensorType, example_value, known_dtype
from . import cuda_ops
from .cuda_ops import (
    ArgReduce,
    Copy,
    Elementwise,
    Fill,
    Forward,
    GetItem,
    HostCall,
    HostConstant,
    Inline,
    Join,
    Matmul,
    Reduce,
    Scan,
    ScatterAdd,
    SetItem,
    Sort,
    SumToShape,
    View,
)

BLOCK = 256                  # threads per block for every kernel family
MAX_GRID = 8192              # grid-stride kernels: enough blocks to fill any current GPU
SPLIT_MIN_R = 1 << 16        # a reduction this long over few outputs runs in two launches


class LowerError(Exception):
    """This node cannot be lowered; check() lists the message and the runtime falls back."""


# ---------------------------------------------------------------------------------------
# kernels/ templates

def kernels_dir() -> Path:
    """kernels/ sits beside the package in a checkout; an install puts it under
    <prefix>/share/jitgraph/kernels (setup.cfg data_files)."""
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "kernels",
                  Path(sys.prefix) / "share" / "jitgraph" / "kernels",
                  here.parents[1] / "kernels"]
    for c in candidates:
        if (c / "elementwise.cu").is_file():
            return c
    raise FileNotFoundError("jitgraph CUDA kernel templates not found; looked in "
                            + ", ".join(str(c) for c in candidates))


@cache
def read_template(name: str) -> str:
    return (kernels_dir() / name).read_text()


def _strip_comments(text: str) -> str:
    """A template without its leading `//` header (the header documents the placeholders)."""
    lines = text.splitlines()
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# dtypes and C spellings

_CTYPES: dict[str, tuple[str, str]] = {    # dtype -> (C type, struct/pycuda format char)
    "bool": ("bool", "?"),
    "int8": ("signed char", "b"), "int16": ("short", "h"),
    "int32": ("int", "i"), "int64": ("long long", "q"),
    "uint8": ("unsigned char", "B"), "uint16": ("unsigned short", "H"),
    "uint32": ("unsigned int", "I"), "uint64": ("unsigned long long", "Q"),
    "float32": ("float", "f"), "float64": ("double", "d"),
    # float16: IEEE half bits in memory; a float in registers and by-value arguments
    "float16": ("unsigned short", "f"),
}
SUPPORTED_DTYPES = tuple(np.dtype(d) for d in _CTYPES)
HALF = np.dtype(np.float16)


def _known_shape(t: TensorType) -> tuple[int, ...]:
    """t's shape, where it must be known (the counterpart of known_dtype)."""
    assert t.shape is not None, "shape not known yet"
    return t.shape


def ctype(dt: np.dtype) -> str:
    """The C type of dt in memory (pointers, buffers)."""
    if dt.name not in _CTYPES:
        raise LowerError(f"dtype {dt.name} is not supported by the cuda backend")
    return _CTYPES[dt.name][0]


def rtype(dt: np.dtype) -> str:
    """The C type of a dt value in registers and by-value arguments: float16 computes in
    float (its values rounded to half after every operation, like NumPy's float16 loops)."""
    return "float" if dt == HALF else ctype(dt)


def load(expr: str, dt: np.dtype) -> str:
    """A memory element (expr: an lvalue of ctype(dt)) in its register form."""
    return f"jg_h2f({expr})" if dt == HALF else expr


def store(expr: str, dt: np.dtype) -> str:
    """A register value of dtype dt in its memory form."""
    return f"jg_f2h({expr})" if dt == HALF else expr


def fmt_char(dt: np.dtype) -> str:
    ctype(dt)
    return _CTYPES[dt.name][1]


def acc_dtype(dt: np.dtype) -> np.dtype:
    """Warp shuffles move 32 or 64 bits: narrow types accumulate in int / unsigned int;
    float16 in float (NumPy's float16 sums and means accumulate in float too)."""
    if dt == HALF:
        return np.dtype(np.float32)
    if dt.kind in "bi" and dt.itemsize < 4:
        return np.dtype(np.int32)
    if dt.kind == "u" and dt.itemsize < 4:
        return np.dtype(np.uint32)
    return dt


def literal(value: Any, dt: np.dtype) -> str:
    """A C literal of dtype dt with exactly NumPy's value (value converted by NumPy)."""
    with np.errstate(all="ignore"):
        v = np.asarray(value).astype(dt)[()]
    if dt == HALF:               # a float literal of the half value (exact in float)
        return literal(np.float32(v), np.dtype(np.float32))
    if dt.kind == "b":
        return "true" if v else "false"
    if dt.kind == "f":
        suffix, fn = ("f", "f") if dt == np.float32 else ("", "")
        if np.isnan(v):
            return f'__builtin_nan{fn}("")'
        if np.isinf(v):
            return f"__builtin_inf{fn}()" if v > 0 else f"(-__builtin_inf{fn}())"
        text = str(v) if dt == np.float32 else repr(float(v))
        if "e" not in text and "." not in text and "inf" not in text:
            text += ".0"
        return f"{text}{suffix}" if v >= 0 else f"({text}{suffix})"
    iv = int(v)
    info = np.iinfo(dt)
    if dt.itemsize == 8:
        suffix = "ULL" if dt.kind == "u" else "LL"
        if iv == info.min and dt.kind == "i":
            return f"(-{info.max}LL - 1)"
        return f"{iv}{suffix}" if iv >= 0 else f"({iv}{suffix})"
    if dt.itemsize == 4:
        if dt.kind == "u":
            return f"{iv}U"
        if iv == info.min:
            return f"(-{info.max} - 1)"
        return str(iv) if iv >= 0 else f"({iv})"
    return f"(({ctype(dt)}){iv})"


def convert(expr: str, src: np.dtype, dst: np.dtype) -> str:
    """NumPy's astype on a C expression (an identifier or literal: repeated freely)."""
    if src == dst:
        return expr
    if dst.kind == "b":
        return f"({expr} != 0)"
    if dst == HALF:              # one rounding to half (from double too); bool is exact
        if src.kind == "b":
            return f"((float){expr})"
        return f"jg_round_half({expr if src.kind == 'f' else f'(float){expr}'})"
    if dst.kind in "iu" and src.kind == "f":
        return f"jg_f2i<{ctype(dst)}>({expr})"
    return f"(({ctype(dst)}){expr})"


# ---------------------------------------------------------------------------------------
# layouts: shapes and strides in elements; ghosts apply NumPy's own view logic to them

@dataclass(frozen=True)
class Layout:
    shape: tuple[int, ...]
    strides: tuple[int, ...]

    @staticmethod
    def contiguous(shape: Sequence[int]) -> Layout:
        strides, acc = [], 1
        for d in reversed(shape):
            strides.append(acc)
            acc *= max(int(d), 1)
        return Layout(tuple(int(d) for d in shape), tuple(reversed(strides)))

    @property
    def is_contiguous(self) -> bool:
        want = Layout.contiguous(self.shape).strides
        return all(s == w or d == 1 for s, w, d in zip(self.strides, want, self.shape))


_GHOST_BASE = np.zeros(1, dtype=np.uint8)


def ghost(layout: Layout) -> np.ndarray:
    """A uint8 array with the layout's strides (so byte strides are element strides) over
    one real byte. Only views are ever taken of it; nothing reads its memory."""
    return as_strided(_GHOST_BASE, shape=layout.shape, strides=layout.strides, writeable=False)


def ghost_index(g: np.ndarray, index: tuple) -> np.ndarray:
    """g[index] as a view even when every axis gets an integer (NumPy would return a scalar
    copy then; a trailing Ellipsis keeps it a 0-d view)."""
    if not any(i is Ellipsis for i in index):
        index = tuple(index) + (Ellipsis,)
    return g[index]


def ghost_view(g: np.ndarray, v: np.ndarray) -> tuple[Layout, int]:
    """Layout of view v of ghost g, and its element offset from g's start."""
    if not isinstance(v, np.ndarray):
        raise LowerError("internal: a ghost index gave a copy, not a view")
    off = v.__array_interface__["data"][0] - g.__array_interface__["data"][0]
    return Layout(tuple(v.shape), tuple(v.strides)), int(off)


# ---------------------------------------------------------------------------------------
# the program: kernels plus host steps

@dataclass(frozen=True)
class KParam:
    ctype: str
    name: str
    fmt: str            # struct/pycuda format char; "P" for pointers


@dataclass
class Kernel:
    name: str
    params: list[KParam]
    text: str

    @property
    def arg_format(self) -> str:
        return "".join(p.fmt for p in self.params)


@dataclass(frozen=True)
class Ptr:
    """Device address of a value (plus `offset` elements: a slice of a Join output)."""
    value: Value
    offset: int = 0


@dataclass(frozen=True)
class Scalar:
    """A host value passed by value, in its own dtype."""
    value: Value


Arg = Ptr | Scalar


@dataclass
class Alloc:
    values: list[Value]


@dataclass
class Launch:
    kernel: str
    grid: int
    block: int
    args: list[Arg]
    allocs: list[Value]           # fresh contiguous buffers this launch writes


@dataclass
class HostOp:
    node: Node                    # run by the interpreter's eval_node on host values


@dataclass
class HostImpl:
    node: Node                    # the op's impl on host values and device handles
    inputs: list[Value]           # node.inputs, device ones made contiguous


@dataclass
class HostConform:
    out: Value                    # host value src converted to out's type
    src: Value


@dataclass
class Alias:
    out: Value                    # same buffer as src, `offset` elements further
    src: Value
    offset: int = 0


@dataclass
class DynView:
    """Basic indexing with run-time scalar indices: NumPy computes the offset (and raises
    IndexError) on a ghost of the source layout, per call."""
    out: Value
    src: Value
    index: tuple
    dyn: list[Value]
    layout: Layout


@dataclass
class If:
    cond: Value
    then: list[Step]
    then_results: list[Value]
    else_: list[Step]
    else_results: list[Value]
    outputs: list[Value]


@dataclass
class Loop:
    trip: Value
    cond0: Value
    init: list[Value]
    counter: Value
    params: list[Value]
    body: list[Step]
    cond_next: Value
    nexts: list[Value]
    outputs: list[Value]


Step = Alloc | Launch | HostOp | HostImpl | HostConform | Alias | DynView | If | Loop


@dataclass
class Program:
    name: str
    source: str
    kernels: list[Kernel]
    steps: list[Step]
    params: list[Value]
    results: list[Value]
    consts: list[tuple[Value, np.ndarray]]
    host: set[Value]
    layouts: dict[Value, Layout]
    problems: list[str]
    schedule: str = ""            # the host steps as text (dump and golden files)
    brief: str = ""               # source with the kernels/ templates named, not pasted

    @property
    def key(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------
# index arithmetic shared by the kernel families

def align(layout: Layout, domain: Sequence[int]) -> tuple[int, ...]:
    """Strides of `layout` read over `domain` (NumPy broadcasting: right-aligned, size-1 or
    missing dimensions get stride 0)."""
    nd, ns = len(domain), len(layout.shape)
    if ns > nd:
        raise LowerError(f"cannot broadcast {layout.shape} to {tuple(domain)}")
    out = []
    for j, d in enumerate(domain):
        jj = j - (nd - ns)
        if jj < 0 or layout.shape[jj] == 1:
            out.append(0)
        elif layout.shape[jj] == d:
            out.append(layout.strides[jj])
        else:
            raise LowerError(f"cannot broadcast {layout.shape} to {tuple(domain)}")
    return tuple(out)


def coalesce(dims: Sequence[int], vecs: Sequence[Sequence[int]]
             ) -> tuple[list[int], list[list[int]]]:
    """Drop size-1 dimensions and merge neighbours that every stride vector walks as one
    (s[j] == s[j+1] * d[j+1]), so index arithmetic does fewer divisions."""
    keep = [j for j, d in enumerate(dims) if d != 1]
    ds = [int(dims[j]) for j in keep]
    vs = [[int(v[j]) for j in keep] for v in vecs]
    if not ds:
        return [], [[] for _ in vecs]
    out_d = [ds[-1]]
    out_v = [[v[-1]] for v in vs]
    for j in range(len(ds) - 2, -1, -1):
        if all(v[j] == ov[0] * out_d[0] for v, ov in zip(vs, out_v)):
            out_d[0] *= ds[j]
        else:
            out_d.insert(0, ds[j])
            for v, ov in zip(vs, out_v):
                ov.insert(0, v[j])
    return out_d, out_v


def index_lines(var: str, dims: Sequence[int], prefix: str, idx: str, ind: str,
                used: set[int] | None = None) -> list[str]:
    """Multi-index of linear index `var` over dims (C order): `prefix0`, `prefix1`, ...
    (only the components in `used`, when given)."""
    if used is not None and not used:
        return []
    if len(dims) <= 1:
        return [f"{ind}const {idx} {prefix}0 = {var};"] if dims else []
    last = min(used) if used is not None else 0
    if all(d == 1 for d in dims[last + 1:]):
        mod = f" % {dims[last]}" if last > 0 else ""
        return [f"{ind}const {idx} {prefix}{last} = {var}{mod};"]
    lines = [f"{ind}{idx} {prefix}_r = {var};"]
    for j in range(len(dims) - 1, last, -1):
        if dims[j] == 1:
            continue
        if used is None or j in used:
            lines.append(f"{ind}const {idx} {prefix}{j} = {prefix}_r % {dims[j]};")
        lines.append(f"{ind}{prefix}_r /= {dims[j]};")
    if last == 0:
        lines.append(f"{ind}const {idx} {prefix}0 = {prefix}_r;")
    else:
        lines.append(f"{ind}const {idx} {prefix}{last} = {prefix}_r % {dims[last]};")
    return lines


def offset_expr(prefix: str, strides: Sequence[int], base: str = "") -> str:
    terms = [base] if base else []
    for j, s in enumerate(strides):
        if s == 1:
            terms.append(f"{prefix}{j}")
        elif s != 0:
            terms.append(f"{prefix}{j} * {s}")
    return " + ".join(terms) if terms else "0"


def extent(dims: Sequence[int], strides: Sequence[int], offset: int = 0) -> int:
    return abs(offset) + sum(abs(s) * (d - 1) for d, s in zip(dims, strides) if d > 0)


def index_type(*extents: int) -> str:
    return "int" if max(extents, default=0) < (1 << 30) else "long long"


def grid_stride_kernel(low: Lowering, tag: str, idx: str, n: int, params: list[KParam],
                       args: list[Any], body: list[str], scalars: Sequence[tuple[Value, str]],
                       allocs: list[Value]) -> None:
    """One kernel from kernels/elementwise.cu (a grid-stride loop of `idx` over n running
    `body`), with the run-time scalars appended to its parameters, and its launch, which
    allocates `allocs` first."""
    for v, var in scalars:
        params.append(KParam(rtype(known_dtype(v.type)), var, fmt_char(known_dtype(v.type))))
        args.append(Scalar(v))
    name = low.kernel_name(tag)
    text = string.Template(_strip_comments(read_template("elementwise.cu"))).substitute(
        name=name, block=BLOCK, idx=idx, n=str(n),
        params=", ".join(f"{p.ctype} {p.name}" for p in params), body="\n".join(body))
    low.add_kernel(Kernel(name, params, text))
    low.steps.append(Launch(name, grid_for(n, BLOCK, low.max_grid), BLOCK, args, allocs))


def grid_for(n: int, per_block: int, cap: int) -> int:
    return max(1, min(-(-n // per_block), cap))


# ---------------------------------------------------------------------------------------
# elementwise kernel builder (loads, scalar statements, stores over one domain)

@dataclass
class _Load:
    value: Value
    var: str
    dtype: np.dtype
    strides: tuple[int, ...]


@dataclass
class _Store:
    value: Value
    var: str
    src_dtype: np.dtype
    strides: tuple[int, ...]
    offset: int


def ew_expr(n: Node, rule: Elementwise, operand: Callable[[Value, np.dtype], str]) -> str:
    """The C expression of elementwise node n: operands converted to the compute dtype the
    rule names (NumPy 2 promotion, weak scalars included), the result in n's dtype."""
    od = known_dtype(n.out.type)
    ctype(od)
    ins = [v.type for v in n.inputs]
    if rule.compute == "common":
        cd = np.result_type(*[example_value(t) for t in ins])
        cds, key = [cd] * len(ins), cd
    elif rule.compute == "each":
        cds, key = [known_dtype(t) for t in ins], known_dtype(ins[0])
    elif rule.compute == "where":
        cds, key = [known_dtype(ins[0]), od, od], od
    else:
        cds, key = [od] * len(ins), od
    expr = rule.expr_for(key)
    if expr is None:
        raise LowerError(f"no cuda rule for {n.op} on {key.name}")
    text = expr.format(*[operand(v, cd) for v, cd in zip(n.inputs, cds, strict=True)])
    if od == HALF and rule.compute == "out":
        text = f"jg_round_half({text})"      # computed in float, rounded like NumPy's loop
    return convert(text, key, od) if rule.from_key else text


class _Ew:
    """Collects one elementwise kernel. Values resolve to local variables: loads of device
    operands, by-value host scalars, literals, or statements defined earlier."""

    def __init__(self, low: Lowering, domain: Sequence[int]):
        self.low = low
        self.domain = tuple(int(d) for d in domain)
        self.local: dict[Value, tuple[str, np.dtype]] = {}
        self.subst: dict[Value, Value] = {}
        self.loads: list[_Load] = []
        self.scalars: list[tuple[Value, str]] = []
        self.stmts: list[str] = []
        self.stores: list[_Store] = []
        self.ntemp = 0

    def resolve(self, v: Value) -> Value:
        while v in self.subst:
            v = self.subst[v]
        return v

    def operand(self, v: Value, want: np.dtype) -> str:
        v = self.resolve(v)
        if v in self.local:
            var, dt = self.local[v]
            return convert(var, dt, want)
        if v in self.low.literal:
            return literal(self.low.literal[v], want)
        dt = known_dtype(v.type)
        if v in self.low.host:
            var = f"s{len(self.scalars)}"
            self.scalars.append((v, var))
        else:
            var = f"a{len(self.loads)}"
            lay = self.low.layout_of(v)
            self.loads.append(_Load(v, var, dt, align(lay, self.domain)))
        ctype(dt)
        self.local[v] = (var, dt)
        return convert(var, dt, want)

    def define(self, v: Value, dt: np.dtype, expr: str) -> str:
        var = f"t{self.ntemp}"
        self.ntemp += 1
        self.stmts.append(f"const {rtype(dt)} {var} = {expr};")
        self.local[v] = (var, dt)
        return var

    def store(self, v: Value, dst: Value, layout: Layout | None = None, offset: int = 0) -> None:
        """Store the value v into buffer dst (contiguous, or a strided slice of it)."""
        dt = known_dtype(dst.type)
        src = self.operand(v, dt)
        lay = layout or Layout.contiguous(_known_shape(dst.type))
        # a store over a broadcast dimension (stride 0) is guarded to its index 0
        self.stores.append(_Store(dst, src, dt, align(lay, self.domain), offset))

    def elementwise_node(self, n: Node, rule: Elementwise) -> None:
        """The statement for one registry elementwise node (NumPy's promotion rules)."""
        self.define(n.out, known_dtype(n.out.type), ew_expr(n, rule, self.operand))

    def emit(self, tag: str, allocs: Sequence[Value] = ()) -> None:
        """Render the kernel and append its launch to the lowering's current steps."""
        low = self.low
        n = int(np.prod(self.domain, dtype=np.int64))
        if n == 0:
            if allocs:
                low.steps.append(Alloc(list(allocs)))
            return
        vecs = [ld.strides for ld in self.loads] + [st.strides for st in self.stores]
        dims, cvecs = coalesce(self.domain, vecs)
        contiguous = Layout.contiguous(dims).strides
        exts = [n] + [extent(self.domain, ld.strides) for ld in self.loads] + [
            extent(self.domain, st.strides, st.offset) for st in self.stores]
        idx = index_type(*exts)
        ind = " " * 8
        body: list[str] = []
        used = {j for v in cvecs if list(v) != list(contiguous)
                for j, st in enumerate(v) if st != 0}
        used |= {j for v in cvecs[len(self.loads):] for j, st in enumerate(v) if st == 0}
        body += index_lines("i", dims, "i", idx, ind, used)
        params: list[KParam] = []
        args: list[Arg] = []
        for ld, vec in zip(self.loads, cvecs):
            p = "p" + ld.var[1:]
            params.append(KParam(f"const {ctype(ld.dtype)}* __restrict__", p, "P"))
            args.append(Ptr(ld.value))
            off = "i" if list(vec) == list(contiguous) else offset_expr("i", vec)
            body.append(f"{ind}const {rtype(ld.dtype)} {ld.var} = {load(f'{p}[{off}]', ld.dtype)};")
        body += [ind + s for s in self.stmts]
        for k, (st, vec) in enumerate(zip(self.stores, cvecs[len(self.loads):])):
            p = f"o{k}"
            params.append(KParam(f"{ctype(known_dtype(st.value.type))}* __restrict__", p, "P"))
            args.append(Ptr(st.value, st.offset))
            guard = [f"i{j} == 0" for j, s in enumerate(vec) if s == 0]
            off = "i" if list(vec) == list(contiguous) else offset_expr("i", vec)
            line = f"{p}[{off}] = {store(st.var, known_dtype(st.value.type))};"
            body.append(f"{ind}if ({' && '.join(guard)}) {line}" if guard else ind + line)
        grid_stride_kernel(low, tag, idx, n, params, args, body, self.scalars, list(allocs))


# ---------------------------------------------------------------------------------------
# the lowering

class Lowering:
    def __init__(self, g: Graph, max_grid: int | None = None):
        self.g = g
        self.max_grid = max_grid or MAX_GRID
        self.gname = re.sub(r"\W", "_", g.name or "graph")
        self.kernels: list[Kernel] = []
        self.problems: list[str] = []
        self.host: set[Value] = set()
        self.layout: dict[Value, Layout] = {}
        self.literal: dict[Value, Any] = {}
        self.consts: list[tuple[Value, np.ndarray]] = []
        self.steps: list[Step] = []
        self.uses: set[str] = set()       # templates the source needs
        self.checks: list[Step] = []      # bounds checks of gathers, run at the block's end
        # setitem in place (see "setitem" below): uses of every value in the graph, loop
        # params whose buffer a given setitem node may overwrite, and the outputs of
        # setitems that did write in place (their buffer is owned like a fresh one)
        self.nuses: dict[Value, int] = {}
        self.inplace_param: dict[Value, Node] = {}
        self.inplace_out: set[Value] = set()
        self.cur_block: Block = g.body
        self.row_plans: dict[int, tuple[Block, dict[Node, RowGroup]]] = {}

    # -- helpers ------------------------------------------------------------------------
    def kernel_name(self, tag: str) -> str:
        return f"{self.gname}_k{len(self.kernels)}_{tag}"

    def add_kernel(self, k: Kernel) -> None:
        self.kernels.append(k)

    def layout_of(self, v: Value) -> Layout:
        if v not in self.layout:
            self.layout[v] = Layout.contiguous(self.shape(v))
        return self.layout[v]

    @staticmethod
    def shape(v: Value) -> tuple[int, ...]:
        if v.type.shape is None or v.type.dtype is None:
            raise LowerError("the graph is not typed (run specialization first)")
        return v.type.shape

    def new_value(self, t: TensorType, hint: str = "t") -> Value:
        return Value(TensorType(t.dtype, t.shape, False), hint)

    def dev(self, v: Value) -> Value:
        """v on the device (a host scalar is written into a fresh 0-d buffer)."""
        if v not in self.host:
            return v
        out = self.new_value(v.type)
        ew = _Ew(self, ())
        ew.store(v, out)
        ew.emit("scalar", [out])
        return out

    def contiguous(self, v: Value, dtype: np.dtype | None = None) -> Value:
        """v as a fresh contiguous buffer of `dtype` unless it already is one."""
        v = self.dev(v)
        dt = dtype or v.type.dtype
        if self.layout_of(v).is_contiguous and dt == v.type.dtype:
            return v
        return self.copy(v, TensorType(dt, self.shape(v)))

    def copy(self, v: Value, t: TensorType) -> Value:
        """A new contiguous device value of type t holding v (cast and broadcast)."""
        out = self.new_value(t)
        ew = _Ew(self, _known_shape(t))
        ew.store(v, out)
        ew.emit("copy", [out])
        return out

    def conform(self, src: Value, dst: Value) -> Value:
        """src in dst's representation (for If/Loop joins): host scalar of dst's type, or a
        contiguous device buffer of dst's dtype and shape."""
        if dst in self.host:
            if src.type == dst.type:
                return src
            out = Value(dst.type, "t")
            self.host.add(out)
            self.steps.append(HostConform(out, src))
            return out
        if (src not in self.host and src.type.dtype == dst.type.dtype
                and self.shape(src) == self.shape(dst) and self.layout_of(src).is_contiguous):
            return src
        return self.copy(src, dst.type)

    # -- placement ----------------------------------------------------------------------
    def place(self, blk: Block) -> None:
        for n in blk.nodes:
            if n.op == "constant":
                host = n.out.type.shape == ()
                outs = [host]
            elif n.op == "if":
                for b in n.blocks:
                    self.place(b)
                outs = [a in self.host and b in self.host
                        for a, b in zip(n.blocks[0].results, n.blocks[1].results)]
            elif n.op == "loop":
                body = n.blocks[0]
                self.host.add(body.params[0])
                carried = [v in self.host for v in n.inputs[2:]]
                for _ in range(len(carried) + 1):
                    for p, h in zip(body.params[1:], carried):
                        (self.host.add if h else self.host.discard)(p)
                    self.place(body)
                    new = [c and r in self.host for c, r in zip(carried, body.results[1:])]
                    if new == carried:
                        break
                    carried = new
                outs = carried
            else:
                scalar = all(o.type.shape == () for o in n.outputs)
                host = scalar and all(v in self.host for v in n.inputs)
                if isinstance(getattr(OPS.get(n.op), "cuda", None), HostCall):
                    host = scalar          # runs on the host whatever its inputs
                if n.op == "fused":
                    body = n.blocks[0]
                    for p, v in zip(body.params, n.inputs):
                        (self.host.add if v in self.host else self.host.discard)(p)
                    self.place(body)
                outs = [host] * len(n.outputs)
            for o, h in zip(n.outputs, outs):
                (self.host.add if h else self.host.discard)(o)

    # -- driver -------------------------------------------------------------------------
    def run(self) -> Program:
        for p in self.g.params:
            if p.type.shape == ():
                self.host.add(p)
        self.place(self.g.body)
        for p in self.g.params:
            try:
                if p not in self.host:
                    self.shape(p)
                    ctype(known_dtype(p.type))
            except LowerError as e:
                self.problems.append(f"argument {p.hint or '?'}: {e}")
        _count_uses(self.g.body, self.nuses)
        self.block(self.g.body)
        results = []
        for v in self.g.results:
            try:
                results.append(v if v in self.host else self.contiguous(v))
            except LowerError as e:
                self.problems.append(f"result: {e}")
                results.append(v)
        source = self.render_source()
        prog = Program(self.g.name, source, self.kernels, self.steps, list(self.g.params),
                       results, self.consts, self.host, self.layout, self.problems)
        prog.brief = self.render_source(templates=False)
        return prog

    def groups_of(self, blk: Block) -> dict[Node, RowGroup]:
        """The row groups of blk (planned once: setitem's in-place test reads them)."""
        key = id(blk)
        if key not in self.row_plans:
            self.row_plans[key] = (blk, plan_rows(self, blk) if ROW_FUSION else {})
        return self.row_plans[key][1]

    def block(self, blk: Block) -> None:
        groups = self.groups_of(blk)
        saved, self.checks = self.checks, []
        saved_blk, self.cur_block = self.cur_block, blk
        try:
            for n in blk.nodes:
                g = groups.get(n)
                if g is not None:
                    if n is g.nodes[-1]:
                        self.row_group(g)
                    continue
                self.node_or_problem(n)
            self.flush_checks()
        finally:
            self.checks = saved
            self.cur_block = saved_blk

    def flush_checks(self) -> None:
        """The pending bounds checks of integer-array indexing (each reads its error buffer
        back: one sync) go here: at the end of a block, and before anything the host decides
        on device data (If, Loop, a run-time scalar index), so a bad index raises before
        values gathered as zeros can steer control flow."""
        self.steps += self.checks
        self.checks = []

    def node_or_problem(self, n: Node) -> None:
        try:
            self.node(n)
        except LowerError as e:
            where = f" at {n.loc}" if n.loc else ""
            self.problems.append(f"{n.op}{where}: {e}")

    def row_group(self, g: RowGroup, fallback: bool = True) -> bool:
        """One kernel for the group; on any trouble, its nodes one by one instead (or
        False, when fallback is off)."""
        saved = (len(self.kernels), len(self.steps), dict(self.literal))
        try:
            for n in g.nodes:
                for v in (*n.inputs, *n.outputs):
                    if v not in self.host:
                        ctype(known_dtype(v.type))
            _Row(self, g).emit()
            return True
        except LowerError:
            del self.kernels[saved[0]:]
            del self.steps[saved[1]:]
            self.literal = saved[2]
            if not fallback:
                return False
            for n in g.nodes:
                self.node_or_problem(n)
            return True

    def node(self, n: Node) -> None:
        if n.op == "constant":
            return self.constant(n)
        if n.op == "if":
            self.flush_checks()
            return self.if_(n)
        if n.op == "loop":
            self.flush_checks()
            return self.loop(n)
        if n.op != "fused" and n.op not in OPS:
            raise LowerError(f"unknown op {n.op}")
        if n.op != "fused" and isinstance(OPS[n.op].cuda, HostCall):
            # before HostOp: inputs may be device buffers, handed over as contiguous ones
            # (what a tape pops back is read as contiguous)
            ins = [v if v in self.host else self.contiguous(v) for v in n.inputs]
            self.steps.append(HostImpl(n, ins))
            return None
        if all(o in self.host for o in n.outputs):
            self.steps.append(HostOp(n))    # 0-d from host scalars: NumPy on the host
            return None
        for v in (*n.inputs, *n.outputs):
            self.shape(v)
            if v not in self.host:
                ctype(known_dtype(v.type))
        if n.op == "fused":
            return self.fused(n)
        op = OPS.get(n.op)
        if op is None:
            raise LowerError(f"unknown op {n.op}")
        if op.cuda is None:
            raise LowerError(f"no cuda lowering for {n.op}")
        lower = _DISPATCH.get(type(op.cuda))
        if lower is None:
            raise LowerError(f"no cuda lowering for rule {type(op.cuda).__name__}")
        return lower(self, n, op.cuda)

    # -- structural nodes ---------------------------------------------------------------
    def constant(self, n: Node) -> None:
        v = n.out
        value = n.attrs["value"]
        if v in self.host:
            self.literal[v] = value          # kernels inline it; host ops read it from env
            self.steps.append(HostOp(n))
            return
        arr = np.ascontiguousarray(np.asarray(value, dtype=v.type.dtype))
        ctype(arr.dtype)
        self.consts.append((v, arr))

    def sub_block(self, blk: Block, outputs: Sequence[Value]) -> tuple[list[Step], list[Value]]:
        saved, self.steps = self.steps, []
        try:
            self.block(blk)
            results = [self.conform(r, o) for r, o in zip(blk.results, outputs, strict=True)]
            return self.steps, results
        finally:
            self.steps = saved

    def if_(self, n: Node) -> None:
        then, then_res = self.sub_block(n.blocks[0], n.outputs)
        els, else_res = self.sub_block(n.blocks[1], n.outputs)
        self.steps.append(If(n.inputs[0], then, then_res, els, else_res, list(n.outputs)))

    def loop(self, n: Node) -> None:
        trip, cond0, *init = n.inputs
        body = n.blocks[0]
        counter, *params = body.params
        for o, p in zip(n.outputs, params, strict=True):
            if o.type != p.type:
                raise LowerError(f"loop output type {o.type} differs from carried {p.type}")
        slots = _inplace_slots(self, n)
        init_c: list[Value] = []
        for v, p in zip(init, params):
            c = self.conform(v, p)
            if p in slots:
                # the body's setitem overwrites this carried buffer in place: it must belong
                # to the loop alone (a fresh value read by nothing after the loop starts,
                # else a copy)
                if c is v and not (self.fresh_here(v) and _overwritable(
                        self, self.cur_block, n, v, 2 + len(init_c))):
                    c = self.copy(v, p.type)
                self.inplace_param[p] = slots[p]
            init_c.append(c)
        saved, self.steps = self.steps, []
        try:
            self.block(body)
            nexts = [self.conform(r, p) for r, p in zip(body.results[1:], params)]
            steps = self.steps
        finally:
            self.steps = saved
        self.steps.append(Loop(trip, cond0, init_c, counter, params, steps, body.results[0],
                               nexts, list(n.outputs)))

    def fused(self, n: Node) -> None:
        body = n.blocks[0]
        if _sig_of(n) is not None:       # elementwise chain ending in reductions
            g = RowGroup(*_sig_of(n))    # type: ignore[misc]
            g.nodes = [n]
            g.outputs = list(n.outputs)
            inner = {r: m for m in body.nodes if _reduce_rule(m) for r in m.outputs}
            for o, r in zip(n.outputs, body.results):
                g.values[o] = (g.result_level(inner[r], o) if r in inner
                               else g.level(_known_shape(o.type)) or "sealed")
            if self.row_group(g, fallback=False):
                return
        if not _ew_node(n):              # anything else: its nodes one by one
            for p, v in zip(body.params, n.inputs, strict=True):
                self.alias(p, v)
            self.block(body)
            for o, r in zip(n.outputs, body.results, strict=True):
                self.alias(o, r)
            return
        domain = np.broadcast_shapes(*[self.shape(o) for o in n.outputs],
                                     *[self.shape(m.out) for m in body.nodes])
        ew = _Ew(self, domain)
        for p, v in zip(body.params, n.inputs, strict=True):
            ew.subst[p] = v
        tags = []
        for m in body.nodes:
            if m.op == "constant":
                self.literal[m.out] = m.attrs["value"]
            elif _is_broadcast_view(m):
                ew.subst[m.out] = m.inputs[0]
            else:
                ew.elementwise_node(m, OPS[m.op].cuda)
                tags.append(m.op)
        for o, r in zip(n.outputs, body.results, strict=True):
            ew.store(r, o)
        ew.emit(_tag(tags), n.outputs)

    def fresh_here(self, v: Value) -> bool:
        """v's buffer is v's own: allocated contiguous by a step of the current block (or
        written in place there by a setitem that owned it), not an argument, a constant or
        a view. (Whether anything still reads it is `_overwritable`'s question.)"""
        if v in self.host:
            return False
        lay = self.layout_of(v)
        if lay != Layout.contiguous(lay.shape):
            return False
        for s in self.steps:
            if isinstance(s, Launch) and any(a is v for a in s.allocs):
                return True
            if isinstance(s, Alloc) and any(a is v for a in s.values):
                return True
            if isinstance(s, Alias) and s.out is v and v in self.inplace_out:
                return True
        return False

    def alias(self, out: Value, src: Value) -> None:
        if src in self.host:
            self.host.add(out)
            if src in self.literal:
                self.literal[out] = self.literal[src]
        else:
            self.host.discard(out)
            self.layout[out] = self.layout_of(src)
        self.steps.append(Alias(out, src))

    # -- rendering ----------------------------------------------------------------------
    def render_source(self, templates: bool = True) -> str:
        """The translation unit; templates=False names the kernels/ files instead of
        pasting them (golden files then change only when generated code does)."""
        parts = [f"// jitgraph cuda: graph {self.g.name}",
                 "// generated by jitgraph/backends/cuda_lower.py from kernels/*.cu", ""]
        for t in ("common.cu", "reduce.cu", "matmul.cu", "sort.cu"):
            if t == "common.cu" or t in self.uses:
                parts.append(read_template(t) if templates else f"// <kernels/{t}>")
        parts += [k.text for k in self.kernels]
        return "\n".join(parts)


def _tag(ops: Sequence[str]) -> str:
    if len(ops) == 1:
        return ops[0]
    return "fused_" + "_".join(ops[:3]) + ("_etc" if len(ops) > 3 else "")


# ---------------------------------------------------------------------------------------
# per-rule lowering

def _lower_elementwise(low: Lowering, n: Node, rule: Elementwise) -> None:
    ew = _Ew(low, low.shape(n.out))
    ew.elementwise_node(n, rule)
    ew.store(n.out, n.out)
    ew.emit(n.op, [n.out])


def _lower_fill(low: Lowering, n: Node, rule: Fill) -> None:
    od = known_dtype(n.out.type)
    ew = _Ew(low, low.shape(n.out))
    if rule.value is None:
        ew.define(n.out, od, ew.operand(n.inputs[rule.fill_input], od))
    else:
        ew.define(n.out, od, literal(rule.value, od))
    ew.store(n.out, n.out)
    ew.emit(n.op, [n.out])


def _lower_host_constant(low: Lowering, n: Node, rule: HostConstant) -> None:
    arr = np.ascontiguousarray(np.asarray(OPS[n.op].impl(**n.attrs), dtype=n.out.type.dtype))
    ctype(arr.dtype)
    low.consts.append((n.out, arr))


def _lower_copy(low: Lowering, n: Node, rule: Copy) -> None:
    low.alias(n.out, n.inputs[0])


def _lower_view(low: Lowering, n: Node, rule: View) -> None:
    x = low.dev(n.inputs[0])
    try:
        g = ghost(low.layout_of(x))
        lay, off = ghost_view(g, rule.fn(g, n.attrs))
    except ValueError:           # reshape of a non-contiguous view: copy first
        x = low.contiguous(x)
        g = ghost(low.layout_of(x))
        lay, off = ghost_view(g, rule.fn(g, n.attrs))
    if lay.shape != low.shape(n.out):
        raise LowerError(f"view shape {lay.shape} != {low.shape(n.out)}")
    low.layout[n.out] = lay
    low.steps.append(Alias(n.out, x, off))


def _lower_getitem(low: Lowering, n: Node, rule: GetItem) -> None:
    x, *dyn = n.inputs
    if any(low.shape(v) != () for v in dyn):
        return _lower_gather(low, n)
    x = low.dev(x)
    src = low.layout_of(x)
    g = ghost(src)
    index = n.attrs["index"]
    lay, off = ghost_view(g, ghost_index(g, build_index(index, [0] * len(dyn))))
    low.layout[n.out] = lay
    if dyn:
        low.flush_checks()
        low.steps.append(DynView(n.out, x, index, list(dyn), src))
    else:
        low.steps.append(Alias(n.out, x, off))
    return None


# ---------------------------------------------------------------------------------------
# integer-array indexing: gather (getitem) and atomic scatter (scatter_add)
#
# NOTE: an index out of range must raise IndexError as NumPy does, but a kernel cannot
# raise. Each such kernel gets a fresh int64 error buffer (zeroed by a tiny kernel), one slot
# per run-time index input; a thread whose index is out of range stores the raw index in its
# slot and reads or writes nothing. The host check is a DynView over a ghost of x's shape
# indexed by the slots read back: zeros pass, a recorded index raises NumPy's own IndexError
# ("index 7 is out of bounds for axis 1 with size 5"). The checks are deferred to the end
# of the block (see Lowering.flush_checks) so a launch does not wait on the read back.

@dataclass
class _AdvIndex:
    """x[index] with integer arrays, as index arithmetic over its result (NumPy's rules:
    the integer entries, static or run-time, broadcast together; their result axes sit
    where the first one was when they are adjacent, else in front)."""
    shape: tuple[int, ...]                  # the result's shape
    base: int                               # static element offset into x
    xstr: list[int]                         # x's stride per result axis (0: broadcast axes)
    pos: int                                # where the broadcast axes start
    bshape: tuple[int, ...]                 # the broadcast shape of the integer entries
    dyn: list[tuple[Value, int, int]]       # per run-time index: (value, axis size, x stride)
    check_index: tuple                      # the index with full slices (host bounds check)
    xshape: tuple[int, ...]


def _adv_plan(low: Lowering, xlay: Layout, index: tuple, dyn: Sequence[Value]) -> _AdvIndex:
    xshape, xstrides = xlay.shape, xlay.strides
    nd = len(xshape)
    used = sum(1 for e in index if e[0] in ("int", "slice", "value"))
    if used > nd:
        raise LowerError(f"too many indices for an array of rank {nd}")
    full = ("slice", None, None, None)
    entries: list[tuple] = []
    ellipsis = False
    for e in index:
        if e[0] == "ellipsis":
            if ellipsis:
                raise LowerError("an index can only have a single ellipsis")
            ellipsis = True
            entries += [full] * (nd - used)
            used = nd
        else:
            entries.append(e)
    entries += [full] * (nd - used)
    basic: list[tuple[int, int]] = []       # (size, x stride) of the sliced / new axes
    adv_at: list[int] = []                  # entry positions of the integer entries
    first = 0
    base, d = 0, 0
    infos: list[tuple[Value, int, int]] = []
    it = iter(dyn)
    for k, e in enumerate(entries):
        kind = e[0]
        if kind == "slice":
            D = xshape[d]
            start, stop, step = slice(e[1], e[2], e[3]).indices(D)
            size = len(range(start, stop, step))
            basic.append((size, xstrides[d] * step))
            base += start * xstrides[d] if size else 0
            d += 1
        elif kind == "none":
            basic.append((1, 0))
        elif kind in ("int", "value"):
            if not adv_at:
                first = len(basic)
            adv_at.append(k)
            D = xshape[d]
            if kind == "int":
                i = int(e[1])
                if not -D <= i < D:
                    raise LowerError(f"index {i} is out of bounds for axis {d} with size {D}")
                base += (i + D if i < 0 else i) * xstrides[d]
            else:
                infos.append((next(it), D, xstrides[d]))
            d += 1
        else:
            raise LowerError(f"unknown index entry {e!r}")
    adjacent = adv_at == list(range(adv_at[0], adv_at[-1] + 1))
    pos = first if adjacent else 0
    try:
        bshape = tuple(int(b) for b in np.broadcast_shapes(*[low.shape(v) for v, _, _ in infos]))
    except ValueError as e:
        raise LowerError(f"index arrays do not broadcast: {e}") from None
    shape = tuple(s for s, _ in basic[:pos]) + bshape + tuple(s for s, _ in basic[pos:])
    xstr = [st for _, st in basic[:pos]] + [0] * len(bshape) + [st for _, st in basic[pos:]]
    check = tuple(full if e[0] == "slice" else e for e in index)
    return _AdvIndex(shape, base, xstr, pos, bshape, infos, check, tuple(xshape))


def _index_errors(low: Lowering, plan: _AdvIndex) -> Value:
    """A zeroed int64 error buffer, one slot per run-time index."""
    err = low.new_value(TensorType(np.dtype(np.int64), (len(plan.dyn),)), "err")
    ew = _Ew(low, (len(plan.dyn),))
    ew.define(err, known_dtype(err.type), literal(0, known_dtype(err.type)))
    ew.store(err, err)
    ew.emit("index_err", [err])
    return err


def _index_check(low: Lowering, plan: _AdvIndex, err: Value) -> None:
    """The pending host check of err (see the note above)."""
    slots = []
    for k in range(len(plan.dyn)):
        slot = low.new_value(TensorType(np.dtype(np.int64), ()), "bad")
        low.layout[slot] = Layout((), ())
        low.checks.append(Alias(slot, err, k))
        slots.append(slot)
    probe = low.new_value(TensorType(np.dtype(np.int64), ()), "checked")
    low.checks.append(DynView(probe, err, plan.check_index, slots,
                              Layout(plan.xshape, (0,) * len(plan.xshape))))


def _index_kernel(low: Lowering, tag: str, plan: _AdvIndex, err: Value, mode: str,
                  x: Value | None = None, out: Value | None = None,
                  g: Value | None = None, win: Value | None = None) -> None:
    """One thread per element of x[index]: mode "gather" copies x's element into the
    contiguous `out`, "scatter" atomically adds g's element (broadcast) at out's element,
    "set" stores g's element (broadcast, cast to out's dtype) at out's element -- when `win`
    is given, only the thread whose index position won the claim pass does --, "check"
    (x[index] is empty) only bounds-checks the indices, over their broadcast shape, and
    "claim" (over the same shape) records in `win` the last position (plus one) of the
    index arrays that lands on each combination of indexed positions."""
    over_b = mode in ("check", "claim")
    domain = plan.bshape if over_b else plan.shape
    nb = len(plan.bshape)
    lead = 0 if over_b else plan.pos
    tail = len(domain) - lead - nb
    vecs: list[list[int]] = [[0] * len(domain) if over_b else list(plan.xstr)]
    devs: list[int] = []                    # which run-time indices are device loads
    for k, (v, _, _) in enumerate(plan.dyn):
        if v not in low.host:
            devs.append(k)
            vecs.append([0] * lead + list(align(low.layout_of(v), plan.bshape)) + [0] * tail)
    if mode == "gather":
        assert out is not None
        vecs.append(list(Layout.contiguous(domain).strides))
    g_host = g is not None and g in low.host
    gpos = bpos = -1
    if mode in ("scatter", "set"):
        assert g is not None
        gpos = len(vecs)
        vecs.append([0] * len(domain) if g_host else list(align(low.layout_of(g), domain)))
    if mode == "set" and win is not None:   # the position in the index arrays' broadcast
        bpos = len(vecs)
        vecs.append([0] * lead + list(Layout.contiguous(plan.bshape).strides) + [0] * tail)
    n = int(np.prod(domain, dtype=np.int64))
    dims, cvecs = coalesce(domain, vecs)
    contiguous = list(Layout.contiguous(dims).strides)
    exts = [n] + [extent(domain, v) for v in vecs[1:]]
    idx = index_type(*exts)
    used = {j for v in cvecs if list(v) != contiguous for j, st in enumerate(v) if st != 0}
    ind = " " * 8
    body = index_lines("i", dims, "i", idx, ind, used)

    def at(vec: Sequence[int]) -> str:
        return "i" if list(vec) == contiguous else offset_expr("i", vec)
    params: list[KParam] = []
    args: list[Arg] = []
    if not over_b:
        assert out is not None
        if mode == "gather":
            assert x is not None
            params.append(KParam(f"const {ctype(known_dtype(x.type))}* __restrict__", "x", "P"))
            args.append(Ptr(x))
        terms = [str(plan.base)] if plan.base else []
        if list(cvecs[0]) == contiguous:
            terms.append("(long long)i")
        else:
            terms += [f"(long long)i{j} * {s}" if s != 1 else f"(long long)i{j}"
                      for j, s in enumerate(cvecs[0]) if s != 0]
        body.append(f"{ind}long long off = {' + '.join(terms) if terms else '0'};")
    body.append(f"{ind}bool bad = false;")
    scalars: list[tuple[Value, str]] = []
    dev_of = {k: j for j, k in enumerate(devs)}
    for k, (v, D, S) in enumerate(plan.dyn):
        dt = known_dtype(v.type)
        if k in dev_of:
            p = f"p{k}"
            params.append(KParam(f"const {ctype(dt)}* __restrict__", p, "P"))
            args.append(Ptr(v))
            raw = f"{p}[{at(cvecs[1 + dev_of[k]])}]"
        else:
            raw = f"s{k}"
            scalars.append((v, raw))
        if dt.kind == "u":
            body += [f"{ind}const unsigned long long r{k} = (unsigned long long){raw};",
                     f"{ind}const long long j{k} = (long long)r{k};",
                     f"{ind}if (r{k} >= {D}ULL) {{ err[{k}] = j{k}; bad = true; }}"]
        else:
            body += [f"{ind}const long long r{k} = (long long){raw};",
                     f"{ind}const long long j{k} = r{k} < 0 ? r{k} + {D}LL : r{k};",
                     (f"{ind}if ((unsigned long long)j{k} >= {D}ULL) {{ err[{k}] = r{k}; "
                      "bad = true; }")]
        if not over_b and S != 0:
            body.append(f"{ind}off += j{k} * {S}LL;" if S != 1 else f"{ind}off += j{k};")
    wt = ""
    if win is not None:                     # which combination of indexed positions
        wt = ctype(known_dtype(win.type))
        terms, mul = [], 1
        for k in reversed(_claim_axes(low, plan)):
            terms.append(f"j{k}" if mul == 1 else f"j{k} * {mul}LL")
            mul *= plan.dyn[k][1]
        body.append(f"{ind}const long long a = {' + '.join(reversed(terms)) or '0'};")
    if mode == "gather":
        assert out is not None
        od = known_dtype(out.type)
        params.append(KParam(f"{ctype(od)}* __restrict__", "o", "P"))
        args.append(Ptr(out))
        zero = "false" if od.kind == "b" else f"({ctype(od)})0"
        body.append(f"{ind}o[{at(cvecs[-1])}] = bad ? {zero} : x[off];")
    elif mode in ("scatter", "set"):
        assert out is not None and g is not None
        od, gdt = known_dtype(out.type), known_dtype(g.type)
        params.append(KParam(f"{ctype(od)}* __restrict__", "o", "P"))
        args.append(Ptr(out))
        if g_host:
            gv = "sg"
            scalars.append((g, gv))
        else:
            params.insert(0, KParam(f"const {ctype(gdt)}* __restrict__", "g", "P"))
            args.insert(0, Ptr(g))
            gv = load(f"g[{at(cvecs[gpos])}]", gdt)
        if mode == "scatter":
            gv = convert(gv, gdt, od)
            add = "jg_atomic_add_half" if od == HALF else "jg_atomic_add"
            body.append(f"{ind}if (!bad) {add}(o + off, {gv});")
        else:
            cond = "!bad"
            if win is not None:
                params.append(KParam(f"const {wt}* __restrict__", "win", "P"))
                args.append(Ptr(win))
                cond += f" && win[a] == ({wt})({at(cvecs[bpos])}) + 1"
            if not g_host:
                body.append(f"{ind}const {rtype(gdt)} gv = {gv};")
                gv = "gv"
            body.append(f"{ind}if ({cond}) o[off] = {store(convert(gv, gdt, od), od)};")
    elif mode == "claim":
        assert win is not None
        params.append(KParam(f"{wt}* __restrict__", "win", "P"))
        args.append(Ptr(win))
        body.append(f"{ind}if (!bad) atomicMax(win + a, ({wt})i + 1);")
    params.append(KParam("long long* __restrict__", "err", "P"))
    args.append(Ptr(err))
    grid_stride_kernel(low, tag, idx, n, params, args, body, scalars,
                       [out] if mode == "gather" and out is not None else [])


def _lower_gather(low: Lowering, n: Node) -> None:
    x, *dyn = n.inputs
    x = low.dev(x)
    plan = _adv_plan(low, low.layout_of(x), n.attrs["index"], dyn)
    if plan.shape != low.shape(n.out):
        raise LowerError(f"internal: gather shape {plan.shape} != {low.shape(n.out)}")
    if int(np.prod(plan.shape, dtype=np.int64)) == 0:
        low.steps.append(Alloc([n.out]))
        if int(np.prod(plan.bshape, dtype=np.int64)) == 0:
            return                           # no index to check (NumPy reads none either)
        err = _index_errors(low, plan)
        _index_kernel(low, "getitem_check", plan, err, "check")
    else:
        err = _index_errors(low, plan)
        _index_kernel(low, "gather", plan, err, "gather", x=x, out=n.out)
    _index_check(low, plan, err)


# ---------------------------------------------------------------------------------------
# setitem: a copy of x (or x's own buffer), then v written into the indexed region
#
# NOTE: the graph's values are immutable, so setitem's output is normally a fresh copy of
# x (a copy kernel; the schedule has no device-to-device memcpy step) into which a second
# kernel writes v. The copy is skipped, and v written into x's buffer, when nothing can
# read x's buffer afterwards: x was allocated by a kernel of the same block
# (`Lowering.fresh_here`: not an argument, a constant, a view or an outer value) and
# `_overwritable` finds every other read of x, direct or through views of x, in a kernel
# scheduled before the setitem (row groups included), no view of x among the block's
# results, nothing that keeps a reference (tapes, If, Loop, inlined graphs) and no use
# of x outside the block. A loop-carried `out` (`out[i] = ...`, also `out[i] = out[i-1]`)
# qualifies when the body's setitem of it passes the same test, the value carried into
# its slot derives from the setitem's output by views or setitems only, and nothing else
# carried or kept aliases it (`_inplace_slots`); the loop then gets a buffer of its own on
# entry (the init when it passes the test at the loop node, else one copy before the
# loop) and every iteration writes in place.
#
# Indexing: static entries and run-time integer scalars known on the host make the region
# a view of the output (a DynView: NumPy computes the offset per call, wraps negative
# indices and raises IndexError); v is stored through it by an elementwise kernel
# (broadcast, cast as NumPy's assignment casts). Integer arrays, or scalar indices living
# on the device, go through the gather machinery (`_adv_plan`, `_index_kernel` mode "set"):
# negative indices wrap, a bad index is recorded in the error buffer, writes nothing, and
# raises IndexError at the block's end. Repeated positions among the index arrays: NumPy
# keeps the last assignment in C order of the broadcast index arrays; threads race on the
# GPU, so a claim pass first records, per combination of indexed positions, the largest
# broadcast position that lands there (atomicMax), and only that thread stores.

def _count_uses(blk: Block, counts: dict[Value, int]) -> None:
    for n in blk.nodes:
        for v in n.inputs:
            counts[v] = counts.get(v, 0) + 1
        for b in n.blocks:
            _count_uses(b, counts)
    for v in blk.results:
        counts[v] = counts.get(v, 0) + 1


_FRESH_RULES = (Elementwise, Reduce, ArgReduce, Matmul, Scan, Join, Fill, HostConstant,
                ScatterAdd)


def _alias_input(n: Node) -> int | None:
    """How n's outputs relate to its inputs' buffers: -1 fresh buffers only, k >= 0 they
    may be views of input k (and fresh otherwise), None anything else (If, Loop, tapes,
    inlined graphs: treated as keeping a reference)."""
    if n.op == "fused":
        return -1 if _ew_node(n) else None
    rule = getattr(OPS.get(n.op), "cuda", None)
    if isinstance(rule, _FRESH_RULES):
        return -1
    if isinstance(rule, (View, Copy, GetItem, SumToShape, SetItem)):
        return 0
    return None


def _nested_uses(blk: Block, v: Value) -> int:
    """Occurrences of v as an input or result in blk and the blocks nested in it."""
    counts: dict[Value, int] = {}
    _count_uses(blk, counts)
    return counts.get(v, 0)


def _overwritable(low: Lowering, blk: Block, m: Node, root: Value, slot: int) -> bool:
    """May node m (of block blk) overwrite root's buffer, root being its input `slot`?
    Yes when every other read of root -- directly or through views of it -- is done by a
    kernel (or host step) of blk scheduled before m, no view of root is a result of blk or
    escapes (If, Loop, tapes, inlined graphs), and root is used nowhere outside blk."""
    if sum(1 for v in m.inputs if v is root) != 1 or m.inputs[slot] is not root:
        return False
    if any(_nested_uses(b, root) for b in m.blocks):
        return False
    if low.nuses.get(root, 0) != _nested_uses(blk, root):
        return False
    pos = {id(u): i for i, u in enumerate(blk.nodes)}
    if id(m) not in pos:
        return False
    at = pos[id(m)]
    groups = low.groups_of(blk)
    users: dict[Value, list[Node]] = {}
    for u in blk.nodes:
        for v in _uses_in(u):
            users.setdefault(v, []).append(u)
    results = set(blk.results)
    seen, todo = {root}, [root]
    while todo:
        w = todo.pop()
        if w in results:
            return False
        for u in users.get(w, ()):
            if u is m:
                if w is root:
                    continue
                return False                 # m reads a view of what it overwrites
            g = groups.get(u)
            last = g.nodes[-1] if g is not None else u
            if pos[id(u)] > at or pos[id(last)] > at:
                return False
            k = _alias_input(u)
            if k is None:
                return False
            if k >= 0 and u.inputs[k] is w:
                for o in u.outputs:
                    if o not in seen:
                        seen.add(o)
                        todo.append(o)
    return True


def _inplace_slots(low: Lowering, n: Node) -> dict[Value, Node]:
    """The carried params of loop n that a setitem of the body may overwrite in place
    (see the note above), each with that setitem node."""
    body = n.blocks[0]
    users: dict[Value, list[Node]] = {}
    for m in body.nodes:
        for v in _uses_in(m):
            users.setdefault(v, []).append(m)
    out: dict[Value, Node] = {}
    carried = body.results[1:]
    for j, p in enumerate(body.params[1:]):
        if p in low.host or j >= len(carried):
            continue
        sets = [u for u in users.get(p, ()) if u.op == "setitem" and u.inputs[0] is p]
        if len(sets) != 1 or not _overwritable(low, body, sets[0], p, 0):
            continue
        m = sets[0]
        # what the iteration carries into slot j must be m's output or derive from it by
        # views and setitems, and nothing else carried (or kept) may alias that buffer
        seen, todo, ok = {m.out}, [m.out], True
        while todo and ok:
            w = todo.pop()
            for u in users.get(w, ()):
                k = _alias_input(u)
                if k is None:
                    ok = False
                    break
                if k >= 0 and u.inputs[k] is w:
                    for o in u.outputs:
                        if o not in seen:
                            seen.add(o)
                            todo.append(o)
        if (ok and carried[j] in seen and body.results[0] not in seen
                and not any(r in seen for i, r in enumerate(carried) if i != j)):
            out[p] = m
    return out


def _claim_axes(low: Lowering, plan: _AdvIndex) -> list[int]:
    """The run-time indices that vary between threads (the arrays)."""
    return [k for k, (v, _, _) in enumerate(plan.dyn) if low.shape(v) != ()]


def _lower_setitem(low: Lowering, n: Node, rule: SetItem) -> None:
    x, v, *dyn = n.inputs
    out = n.out
    index = n.attrs["index"]
    shape = low.shape(out)
    if x in low.host:                        # a 0-d x known on the host: a fresh buffer
        x = low.dev(x)
        inplace = True
    elif low.inplace_param.get(x) is n:      # a loop-carried buffer (see _inplace_slots)
        inplace = True
    else:
        inplace = low.fresh_here(x) and _overwritable(low, low.cur_block, n, x, 0)
    if inplace:
        low.layout[out] = Layout.contiguous(shape)
        low.steps.append(Alias(out, x))
        low.inplace_out.add(out)
    else:
        cp = _Ew(low, shape)
        cp.store(x, out)
        cp.emit("setitem_copy", [out])
    if all(d in low.host for d in dyn):
        # the region as a view of out: NumPy's offset (and IndexError) per call
        src = low.layout_of(out)
        gh = ghost(src)
        lay, off = ghost_view(gh, ghost_index(gh, build_index(index, [0] * len(dyn))))
        part = low.new_value(TensorType(out.type.dtype, lay.shape), "part")
        low.layout[part] = lay
        if dyn:
            low.steps.append(DynView(part, out, index, list(dyn), src))
        else:
            low.steps.append(Alias(part, out, off))
        put = _Ew(low, lay.shape)
        put.store(v, part, lay)
        put.emit("setitem")
        return
    plan = _adv_plan(low, Layout.contiguous(shape), index, dyn)
    if v not in low.host:
        align(low.layout_of(v), plan.shape)          # v must broadcast to x[index]
    if int(np.prod(plan.bshape, dtype=np.int64)) == 0:
        return                                       # no index to check, nothing written
    err = _index_errors(low, plan)
    if int(np.prod(plan.shape, dtype=np.int64)) == 0:
        _index_kernel(low, "setitem_check", plan, err, "check")
    else:
        win = None
        if int(np.prod(plan.bshape, dtype=np.int64)) > 1:
            win = _claims(low, plan, err)
        _index_kernel(low, "setitem", plan, err, "set", out=out, g=v, win=win)
    _index_check(low, plan, err)


def _claims(low: Lowering, plan: _AdvIndex, err: Value) -> Value:
    """The claim pass of a setitem with index arrays: per combination of indexed positions,
    1 + the last position of the broadcast index arrays that lands there (0: none)."""
    size = 1
    for k in _claim_axes(low, plan):
        size *= plan.dyn[k][1]
    nb = int(np.prod(plan.bshape, dtype=np.int64))
    wdt = np.dtype(np.uint32 if nb < (1 << 32) - 1 else np.uint64)
    win = low.new_value(TensorType(wdt, (size,)), "win")
    zero = _Ew(low, (size,))
    zero.define(win, wdt, literal(0, wdt))
    zero.store(win, win)
    zero.emit("setitem_zero", [win])
    _index_kernel(low, "setitem_claim", plan, err, "claim", win=win)
    return win


def _lower_join(low: Lowering, n: Node, rule: Join) -> None:
    out = n.out
    od = out.type.dtype
    shape = low.shape(out)
    full = Layout.contiguous(shape)
    low.steps.append(Alloc([out]))
    axis = n.attrs["axis"]
    start = 0
    for i, v in enumerate(n.inputs):
        vs = low.shape(v)
        if rule.new_axis:
            lay = Layout(tuple(d for j, d in enumerate(shape) if j != axis),
                         tuple(s for j, s in enumerate(full.strides) if j != axis))
            off = i * full.strides[axis]
            src = v
        elif axis is None:       # np.concatenate(axis=None): ravel every input
            size = int(np.prod(vs, dtype=np.int64))
            lay, off = Layout((size,), (1,)), start
            start += size
            src = low.contiguous(v)
            src_flat = low.new_value(TensorType(v.type.dtype, (size,)))
            low.layout[src_flat] = Layout((size,), (1,))
            low.steps.append(Alias(src_flat, src))
            src = src_flat
        else:
            lay = Layout(vs, full.strides)
            off = start * full.strides[axis]
            start += vs[axis]
            src = v
        ew = _Ew(low, lay.shape)
        ew.store(src, out, lay, off)
        ew.emit(n.op)
    del od


def _lower_sum_to_shape(low: Lowering, n: Node, rule: SumToShape) -> None:
    x = n.inputs[0]
    xs, target = low.shape(x), tuple(n.attrs["shape"])
    lead = len(xs) - len(target)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(target)
                                      if d == 1 and xs[lead + i] != 1)
    if not axes:
        x = low.dev(x)
        g = ghost(low.layout_of(x))
        try:
            lay, off = ghost_view(g, np.reshape(g, target, copy=False))
        except ValueError:
            x = low.contiguous(x)
            lay, off = Layout.contiguous(target), 0
        low.layout[n.out] = lay
        low.steps.append(Alias(n.out, x, off))
        return
    _reduce(low, "sum_to_shape", low.dev(x), axes, n.out, "jg_sum_op", known_dtype(n.out.type))


def _lower_reduce(low: Lowering, n: Node, rule: Reduce) -> None:
    x = low.dev(n.inputs[0])
    od = known_dtype(n.out.type)
    axes = tuple(n.attrs["axis"])
    acc = {"out": od, "in": known_dtype(x.type), "bool": np.dtype(np.bool_)}[rule.acc]
    if rule.post in ("var", "std"):
        kept = tuple(d for j, d in enumerate(low.shape(x)) if j not in axes)
        mean = low.new_value(TensorType(od, kept), "mean")
        _reduce(low, "mean", x, axes, mean, "jg_sum_op", od, post="mean")
        _reduce(low, n.op, x, axes, n.out, "jg_sum_op", od, post=rule.post, center=mean,
                ddof=int(n.attrs.get("ddof", 0)))
        return
    _reduce(low, n.op, x, axes, n.out, rule.combine, acc, post=rule.post)


def _identity(combine: str, dt: np.dtype) -> str:
    if combine == "jg_sum_op" or combine == "jg_or_op":
        return literal(0, dt)
    if combine == "jg_prod_op" or combine == "jg_and_op":
        return literal(1, dt)
    lowest = combine == "jg_max_op"
    if dt.kind == "f":
        return literal(-np.inf if lowest else np.inf, dt)
    if dt.kind == "b":
        return literal(not lowest, dt)
    info = np.iinfo(dt)
    return literal(info.min if lowest else info.max, dt)


def _split_dims(lay: Layout, axes: Sequence[int]) -> tuple[list[int], list[int], list[int],
                                                          list[int]]:
    kd = [d for j, d in enumerate(lay.shape) if j not in axes]
    ks = [s for j, s in enumerate(lay.strides) if j not in axes]
    rd = [d for j, d in enumerate(lay.shape) if j in axes]
    rs = [s for j, s in enumerate(lay.strides) if j in axes]
    (kd2, (ks2,)), (rd2, (rs2,)) = coalesce(kd, [ks]), coalesce(rd, [rs])
    return kd2, ks2, rd2, rs2


def _reduce(low: Lowering, tag: str, x: Value, axes: Sequence[int], out: Value,
            combine: str, acc: np.dtype, post: str = "", center: Value | None = None,
            ddof: int = 0, arg: bool | None = None) -> None:
    """Reduce device value x over `axes` into the contiguous buffer `out`.
    post: "" (cast), "mean", "var", "std" (with `center` the per-output mean), or the
    argmax/argmin index when arg is not None."""
    low.uses.add("reduce.cu")
    lay = low.layout_of(x)
    kd, ks, rd, rs = _split_dims(lay, axes)
    nout = int(np.prod(kd, dtype=np.int64))
    R = int(np.prod(rd, dtype=np.int64))
    if nout == 0:
        low.steps.append(Alloc([out]))
        return
    in_dt = known_dtype(x.type)
    adt = acc_dtype(acc)
    act = ctype(adt)
    ident = _identity(combine, adt) if arg is None else _identity(
        "jg_max_op" if arg else "jg_min_op", adt)
    idx = index_type(nout * max(R, 1), extent(lay.shape, lay.strides))
    ind = " " * 8

    def premap(a: str) -> str:
        if acc.kind == "b":
            return f"({act})({a} != 0)"
        v = convert(a, in_dt, adt)
        if center is not None:
            return f"(({v} - c) * ({v} - c))"
        return v

    def finish(a: str) -> str:
        if post == "mean":
            return f"{a} / ({act}){R}"
        if post in ("var", "std"):
            d = literal(max(R - ddof, 0), adt)
            return f"sqrt({a} / {d})" if post == "std" else f"{a} / {d}"
        return a

    # strategy: thread per output when the reduced axes are few or strided (coalesced across
    # outputs), else a block per output, split over S blocks when few outputs reduce a lot
    inner_unit = bool(rs) and rs[-1] == 1
    per_thread = R <= 32 or (not inner_unit and nout >= 1024)
    S = 1
    if not per_thread and arg is None and nout < 256 and R >= SPLIT_MIN_R:
        S = max(1, min(1024, R // (BLOCK * 16)))
    partial = out if S == 1 else low.new_value(TensorType(adt, (nout * S,)), "partial")
    params = [KParam(f"const {ctype(in_dt)}* __restrict__", "x", "P")]
    args: list[Arg] = [Ptr(x)]
    if center is not None:
        params.append(KParam(f"const {ctype(known_dtype(center.type))}* __restrict__", "center",
                             "P"))
        args.append(Ptr(center))
    params.append(KParam(f"{ctype(known_dtype(partial.type))}* __restrict__", "out", "P"))
    args.append(Ptr(partial))
    body: list[str] = []
    kbase = offset_expr("k", ks)
    roff = offset_expr("r", rs, "base")
    center_line = [] if center is None else [
        f"{ind}const {act} c = ({act}){load('center[o]', known_dtype(center.type))};"]
    if per_thread:
        o_loop = (f"for ({idx} o = ({idx})blockIdx.x * {BLOCK} + threadIdx.x; o < ({idx}){nout};"
                  f" o += ({idx})gridDim.x * {BLOCK})")
        r_loop = f"for ({idx} rr = 0; rr < ({idx}){R}; ++rr)"
        grid = grid_for(nout, BLOCK, low.max_grid)
    else:
        o_loop = (f"for ({idx} b = blockIdx.x; b < ({idx}){nout * S}; b += gridDim.x)")
        r_loop = (f"for ({idx} rr = {'(b % ' + str(S) + ') * ' + str(BLOCK) + ' + ' if S > 1 else ''}"
                  f"threadIdx.x; rr < ({idx}){R}; rr += {S * BLOCK})")
        grid = max(1, min(nout * S, low.max_grid))
    body.append(f"    {o_loop} {{")
    if not per_thread:
        body.append(f"{ind}const {idx} o = b{' / ' + str(S) if S > 1 else ''};")
    body += index_lines("o", kd, "k", idx, ind)
    body.append(f"{ind}const {idx} base = {kbase};")
    body += center_line
    if arg is None:
        body.append(f"{ind}{act} acc = {ident};")
    else:
        body.append(f"{ind}{act} acc = {ident};")
        body.append(f"{ind}long long at = 0x7fffffffffffffffLL;")
    body.append(f"{ind}{r_loop} {{")
    body += index_lines("rr", rd, "r", idx, ind + "    ")
    body.append(f"{ind}    const {rtype(in_dt)} a = {load(f'x[{roff}]', in_dt)};")
    if arg is None:
        body.append(f"{ind}    acc = {combine}()(acc, {premap('a')});")
    else:
        body.append(f"{ind}    jg_arg_combine<{str(arg).lower()}>(acc, at, "
                    f"{convert('a', in_dt, adt)}, (long long)rr);")
    body.append(f"{ind}}}")
    if per_thread:
        store_line = ind + "out[o] = {};"
        tail: list[str] = []
    else:
        if arg is None:
            body.append(f"{ind}acc = jg_block_reduce<{BLOCK}>(acc, {combine}(), ({act}){ident});")
        else:
            body.append(f"{ind}jg_block_argreduce<{BLOCK}, {str(arg).lower()}>(acc, at, "
                        f"({act}){ident});")
        store_line = ind + "if (threadIdx.x == 0) out[b] = {};"
        tail = []
    if arg is not None:
        body.append(store_line.format("at"))
    elif S > 1:
        body.append(store_line.format("acc"))
    else:
        body.append(store_line.format(_store_acc(finish("acc"), adt, known_dtype(out.type))))
    body += tail
    body.append("    }")
    name = low.kernel_name(tag + ("_partial" if S > 1 else ""))
    text = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) {name}("
            + ", ".join(f"{p.ctype} {p.name}" for p in params) + ") {\n"
            + "\n".join(body) + "\n}\n")
    low.add_kernel(Kernel(name, params, text))
    low.steps.append(Launch(name, grid, BLOCK, args, [partial]))
    if S > 1:   # second stage: reduce the S partials of every output
        _reduce_partials(low, tag, partial, nout, S, out, combine, adt, finish)


def _reduce_partials(low: Lowering, tag: str, partial: Value, nout: int, S: int, out: Value,
                     combine: str, adt: np.dtype, finish: Callable[[str], str]) -> None:
    act = ctype(adt)
    odt = known_dtype(out.type)
    ident = _identity(combine, adt)
    name = low.kernel_name(tag + "_final")
    params = [KParam(f"const {act}* __restrict__", "x", "P"),
              KParam(f"{ctype(odt)}* __restrict__", "out", "P")]
    text = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) {name}("
            + ", ".join(f"{p.ctype} {p.name}" for p in params) + ") {\n"
            f"    for (int o = blockIdx.x; o < {nout}; o += gridDim.x) {{\n"
            f"        {act} acc = {ident};\n"
            f"        for (int r = threadIdx.x; r < {S}; r += {BLOCK})\n"
            f"            acc = {combine}()(acc, x[(long long)o * {S} + r]);\n"
            f"        acc = jg_block_reduce<{BLOCK}>(acc, {combine}(), ({act}){ident});\n"
            f"        if (threadIdx.x == 0) out[o] = {_store_acc(finish('acc'), adt, odt)};\n"
            f"    }}\n}}\n")
    low.add_kernel(Kernel(name, params, text))
    low.steps.append(Launch(name, max(1, min(nout, low.max_grid)), BLOCK,
                            [Ptr(partial), Ptr(out)], [out]))


def _store_acc(expr: str, adt: np.dtype, od: np.dtype) -> str:
    """An accumulator value as stored into an `od` buffer (C converts it implicitly, except
    into float16, which rounds once from the accumulator)."""
    return store(convert(expr, adt, od), od) if od == HALF else expr


def _lower_argreduce(low: Lowering, n: Node, rule: ArgReduce) -> None:
    x = low.dev(n.inputs[0])
    ax = n.attrs["axis"]
    axes = tuple(range(len(low.shape(x)))) if ax is None else (ax,)
    _reduce(low, n.op, x, axes, n.out, "jg_max_op" if rule.is_max else "jg_min_op",
            known_dtype(x.type), arg=rule.is_max)


def _lower_matmul(low: Lowering, n: Node, rule: Matmul) -> None:
    low.uses.add("matmul.cu")
    a, b = (low.dev(v) for v in n.inputs)
    la, lb = low.layout_of(a), low.layout_of(b)
    sa, ta = la.shape, la.strides
    sb, tb = lb.shape, lb.strides
    if len(sa) == 1:
        sa, ta = (1,) + sa, (0,) + ta
    if len(sb) == 1:
        sb, tb = sb + (1,), tb + (0,)
    M, K, N = sa[-2], sa[-1], sb[-1]
    batch = tuple(np.broadcast_shapes(sa[:-2], sb[:-2]))
    nb = int(np.prod(batch, dtype=np.int64))
    out = n.out
    if M * N * nb == 0:
        low.steps.append(Alloc([out]))
        return
    ba = align(Layout(sa[:-2], ta[:-2]), batch)
    bb = align(Layout(sb[:-2], tb[:-2]), batch)
    bdims, (bva, bvb) = coalesce(batch, [ba, bb])
    od = known_dtype(out.type)
    accdt = acc_dtype(od) if od.kind == "b" or od == HALF else od
    big = 8 if od.itemsize <= 4 else 4
    tm = big if M * N * nb >= (16 * big) ** 2 * 64 else (4 if M * N * nb >= 64 ** 2 * 16 else 2)
    bm = 16 * tm
    tiles_m, tiles_n = -(-M // bm), -(-N // bm)
    per = tiles_m * tiles_n
    group = 8
    name = low.kernel_name("matmul")
    params = [KParam(f"const {ctype(known_dtype(a.type))}* __restrict__", "A", "P"),
              KParam(f"const {ctype(known_dtype(b.type))}* __restrict__", "B", "P"),
              KParam(f"{ctype(od)}* __restrict__", "C", "P")]
    ll = "long long"
    lines = [f"    for ({ll} t = blockIdx.x; t < {per * nb}LL; t += gridDim.x) {{",
             f"        const {ll} z = t / {per}, tt = t % {per};",
             # grouped order: GROUP tile rows walk the columns together (L2 reuse of B)
             f"        const {ll} first = (tt / ({group} * {tiles_n})) * {group};",
             f"        const {ll} gsize = {tiles_m} - first < {group} ? {tiles_m} - first : {group};",
             f"        const {ll} tm = first + (tt % ({group} * {tiles_n})) % gsize;",
             f"        const {ll} tn = (tt % ({group} * {tiles_n})) / gsize;"]
    lines += index_lines("z", bdims, "z", ll, " " * 8)
    aoff, boff = offset_expr("z", bva), offset_expr("z", bvb)
    # float16 operands enter the template as jg_half (its casts convert, its bits don't)
    def mm(dt: np.dtype) -> str:
        return "jg_half" if dt == HALF else ctype(dt)

    def ptr(p: str, dt: np.dtype, const: str = "const ") -> str:
        return f"(({const}jg_half*){p})" if dt == HALF else p
    targs = ", ".join([mm(known_dtype(a.type)), mm(known_dtype(b.type)), mm(od), ctype(accdt),
                       str(tm), "8", f"{M}LL", f"{N}LL", f"{K}LL", f"{ta[-2]}LL", f"{ta[-1]}LL",
                       f"{tb[-2]}LL", f"{tb[-1]}LL"])
    lines.append(f"        jg_matmul_tile<{targs}>({ptr('A', known_dtype(a.type))} + ({aoff}), "
                 f"{ptr('B', known_dtype(b.type))} + ({boff}), "
                 f"{ptr('C', od, '')} + z * {M * N}LL, tm * {bm}, tn * {bm});")
    lines.append("    }")
    text = (f"extern \"C\" __global__ void __launch_bounds__({BLOCK}) {name}("
            + ", ".join(f"{p.ctype} {p.name}" for p in params) + ") {\n"
            + "\n".join(lines) + "\n}\n")
    low.add_kernel(Kernel(name, params, text))
    grid = per * nb if low.max_grid == MAX_GRID else min(per * nb, low.max_grid)
    low.steps.append(Launch(name, max(1, min(grid, 2 ** 31 - 1)), BLOCK,
                            [Ptr(a), Ptr(b), Ptr(out)], [out]))


def _lower_scatter_add(low: Lowering, n: Node, rule: ScatterAdd) -> None:
    g, *dyn = n.inputs
    out = n.out
    if any(low.shape(v) != () for v in dyn):
        plan = _adv_plan(low, Layout.contiguous(low.shape(out)), n.attrs["index"], dyn)
        align(low.layout_of(g), plan.shape)          # g must broadcast to x[index]
        zero = _Ew(low, low.shape(out))
        zero.define(out, known_dtype(out.type), literal(0, known_dtype(out.type)))
        zero.store(out, out)
        zero.emit("zeros", [out])                    # (an Alloc when out is empty)
        if int(np.prod(plan.bshape, dtype=np.int64)) == 0:
            return
        err = _index_errors(low, plan)
        if int(np.prod(plan.shape, dtype=np.int64)) == 0:
            _index_kernel(low, "scatter_check", plan, err, "check")
        else:
            _index_kernel(low, "scatter_add", plan, err, "scatter", out=out, g=g)
        _index_check(low, plan, err)
        return
    zero = _Ew(low, low.shape(out))
    zero.define(out, known_dtype(out.type), literal(0, known_dtype(out.type)))
    zero.store(out, out)
    zero.emit("zeros", [out])
    src = low.layout_of(out)
    gh = ghost(src)
    index = n.attrs["index"]
    lay, off = ghost_view(gh, ghost_index(gh, build_index(index, [0] * len(dyn))))
    part = low.new_value(TensorType(out.type.dtype, lay.shape), "part")
    low.layout[part] = lay
    if dyn:
        low.flush_checks()
        low.steps.append(DynView(part, out, index, list(dyn), src))
    else:
        low.steps.append(Alias(part, out, off))
    put = _Ew(low, lay.shape)
    put.store(g, part, lay)
    put.emit("scatter")


SCAN_BLOCK_MIN = 128         # a line this long scans with a block (when that reads coalesced)


def _lines(low: Lowering, n: Node, x: Value, xdt: np.dtype, what: str
           ) -> tuple[Value, tuple[tuple[int, ...], int, int, int, list[int], list[int],
                                   list[int], int]]:
    """The independent lines along n's axis (axis=None: the flattened array, in C order)
    that a scan or a sort walks: x (flattened if need be) and (shape, line length, x's and
    the contiguous output's strides along the axis, the other dims coalesced with x's and
    the output's strides, how many lines)."""
    axis = n.attrs["axis"]
    if axis is None:
        size = int(np.prod(low.shape(x), dtype=np.int64))
        if len(low.shape(x)) != 1:
            x = low.contiguous(x)
            flat = low.new_value(TensorType(xdt, (size,)), "flat")
            low.layout[flat] = Layout((size,), (1,))
            low.steps.append(Alias(flat, x))
            x = flat
        axis = 0
    lay = low.layout_of(x)
    shape = lay.shape
    if shape != low.shape(n.out):
        raise LowerError(f"internal: {what} of {shape} into {low.shape(n.out)}")
    ostr = Layout.contiguous(shape).strides
    keep = [j for j in range(len(shape)) if j != axis]
    kdims, (kx, ko) = coalesce([shape[j] for j in keep],
                               [[lay.strides[j] for j in keep], [ostr[j] for j in keep]])
    NO = int(np.prod(kdims, dtype=np.int64))
    return x, (shape, shape[axis], lay.strides[axis], ostr[axis], kdims, kx, ko, NO)


def _lower_scan(low: Lowering, n: Node, rule: Scan) -> None:
    """cumsum / cumprod: NumPy's accumulate (out[0] = x[0], out[i] = out[i-1] op x[i], in
    the output dtype; float16 rounds every step). Short or strided lines, and float16: a
    thread per line (neighbouring threads read neighbouring lines). Long lines along a unit
    stride, or few long lines: a block per line, BLOCK elements at a time through
    jg_block_scan (floats then combine in another order than NumPy's sequential loop, like
    any parallel sum)."""
    x = low.dev(n.inputs[0])
    xdt, od = known_dtype(x.type), known_dtype(n.out.type)
    out = n.out
    step = OPS[rule.combine].cuda
    expr = step.expr_for(od) if isinstance(step, Elementwise) else None
    if expr is None:
        raise LowerError(f"no cuda rule for {n.op} on {od.name}")
    x, geo = _lines(low, n, x, xdt, "scan")
    shape, L, xs, os_, kdims, kx, ko, NO = geo
    if NO * L == 0:
        low.steps.append(Alloc([out]))
        return
    R = rtype(od)
    idx = index_type(NO * L, extent(shape, low.layout_of(x).strides))

    def comb(a: str, b: str) -> str:
        text = expr.format(a, b)
        return f"jg_round_half({text})" if od == HALF else text

    def elem(off: str) -> str:
        return convert(load(f"x[{off}]", xdt), xdt, od)
    # float16 rounds every step, so only NumPy's order gives NumPy's values: always a thread
    # per line (a block scan would be far more accurate than NumPy, i.e. different)
    block_mode = L >= SCAN_BLOCK_MIN and (abs(xs) == 1 or NO < 1024) and od != HALF
    name = low.kernel_name(n.op)
    params = [KParam(f"const {ctype(xdt)}* __restrict__", "x", "P"),
              KParam(f"{ctype(od)}* __restrict__", "out", "P")]
    ind = " " * 8
    head = index_lines("o", kdims, "k", idx, ind)
    head += [f"{ind}const {idx} xb = {offset_expr('k', kx)};",
             f"{ind}const {idx} ob = {offset_expr('k', ko)};"]
    B = BLOCK
    prelude = ""
    if block_mode:
        low.uses.add("reduce.cu")
        op = f"{name}_op"
        prelude = (f"struct {op} {{\n    __device__ __forceinline__ {R} operator()({R} a, {R} b) "
                   f"const {{ return {comb('a', 'b')}; }}\n}};\n")
        zero = literal(0, od)
        loop = [f"    for ({idx} o = blockIdx.x; o < ({idx}){NO}; o += gridDim.x) {{"] + head + [
            f"{ind}{R} carry = {zero};",
            f"{ind}for ({idx} c = 0; c < ({idx}){L}; c += {B}) {{",
            f"{ind}    const {idx} r = c + ({idx})threadIdx.x;",
            f"{ind}    {R} v = r < ({idx}){L} ? {elem(f'xb + r * ({xs})')} : {zero};",
            f"{ind}    {R} total;",
            f"{ind}    v = jg_block_scan<{B}>(v, {op}(), total);",
            f"{ind}    if (c > 0) v = {op}()(carry, v);",
            f"{ind}    if (r < ({idx}){L}) out[ob + r * ({os_})] = {store('v', od)};",
            f"{ind}    carry = c > 0 ? {op}()(carry, total) : total;",
            f"{ind}}}",
            "    }"]
        grid = max(1, min(NO, low.max_grid))
    else:
        loop = [(f"    for ({idx} o = ({idx})blockIdx.x * {B} + threadIdx.x; o < ({idx}){NO}; "
                 f"o += ({idx})gridDim.x * {B}) {{")] + head + [
            f"{ind}{R} acc = {elem('xb')};",
            f"{ind}out[ob] = {store('acc', od)};",
            f"{ind}for ({idx} r = 1; r < ({idx}){L}; ++r) {{",
            f"{ind}    const {R} a = {elem(f'xb + r * ({xs})')};",
            f"{ind}    acc = {comb('acc', 'a')};",
            f"{ind}    out[ob + r * ({os_})] = {store('acc', od)};",
            f"{ind}}}",
            "    }"]
        grid = grid_for(NO, B, low.max_grid)
    text = (prelude + f"extern \"C\" __global__ void __launch_bounds__({B}) {name}("
            + ", ".join(f"{p.ctype} {p.name}" for p in params) + ") {\n"
            + "\n".join(loop) + "\n}\n")
    low.add_kernel(Kernel(name, params, text))
    low.steps.append(Launch(name, grid, B, [Ptr(x), Ptr(out)], [out]))


SORT_BLOCK_MIN = 1024        # a line this long sorts with a block of threads
SORT_FEW_LINES = 2048        # fewer lines than this (each SORT_SHORT or longer): a block each
SORT_SHORT = 64


def _lower_sort(low: Lowering, n: Node, rule: Sort) -> None:
    """sort / argsort along one axis (NumPy's kind="stable" order; kernels/sort.cu). Each
    line is copied into scratch keys (float16 as float; argsort: and its indices 0..L-1),
    merge-sorted there (ping-pong with a second scratch buffer), and its keys or indices
    written to the output's line. Many short lines: a thread per line, the scratch of
    line o interleaved (element r at r * NO + o) so neighbouring threads touch
    neighbouring addresses. Long lines, or too few lines to fill the device: a block per
    line (jg_block_merge_sort, every merge pass placing all elements at once by binary
    search), the line's scratch contiguous."""
    x = low.dev(n.inputs[0])
    xdt, od = x.type.dtype, n.out.type.dtype
    assert xdt is not None and od is not None
    out = n.out
    x, geo = _lines(low, n, x, xdt, "sort")
    shape, L, xs, os_, kdims, kx, ko, NO = geo
    if NO * L == 0:
        low.steps.append(Alloc([out]))
        return
    low.uses.add("sort.cu")
    kdt = np.dtype(np.float32) if xdt == HALF else xdt
    K, arg = ctype(kdt), "true" if rule.arg else "false"
    I64 = np.dtype(np.int64)
    scratch = [low.new_value(TensorType(kdt, (NO * L,)), "keys") for _ in range(2)]
    if rule.arg:
        scratch += [low.new_value(TensorType(I64, (NO * L,)), "perm") for _ in range(2)]
    idx = index_type(NO * L, extent(shape, low.layout_of(x).strides))
    block_mode = L >= SORT_SHORT and (L >= SORT_BLOCK_MIN or NO < SORT_FEW_LINES)
    name = low.kernel_name(n.op)
    params = [KParam(f"const {ctype(xdt)}* __restrict__", "x", "P"),
              KParam(f"{ctype(od)}* __restrict__", "out", "P"),
              KParam(f"{K}* __restrict__", "keys", "P"), KParam(f"{K}* __restrict__", "keys2", "P")]
    if rule.arg:
        params += [KParam("long long* __restrict__", "perm", "P"),
                   KParam("long long* __restrict__", "perm2", "P")]
    ind = " " * 8
    head = index_lines("o", kdims, "k", idx, ind)
    head += [f"{ind}const {idx} xb = {offset_expr('k', kx)};",
             f"{ind}const {idx} ob = {offset_expr('k', ko)};"]
    B = BLOCK
    key = load(f"x[xb + r * ({xs})]", xdt)

    def body(first: str, step: str, at: str, call: str, sync: bool) -> list[str]:
        """Fill the scratch, sort, write the line; `at`: scratch position of element r."""
        fill = [f"{ind}    keys[{at}] = {key};"] + ([f"{ind}    perm[{at}] = r;"] if rule.arg
                                                    else [])
        res = (f"(in2 ? perm2 : perm)[{at}]" if rule.arg
               else store(f"(in2 ? keys2 : keys)[{at}]", od))
        return ([f"{ind}for ({idx} r = {first}; r < ({idx}){L}; r += {step}) {{"] + fill
                + [f"{ind}}}"] + ([f"{ind}__syncthreads();"] if sync else [])
                + [f"{ind}const bool in2 = {call};",
                   f"{ind}for ({idx} r = {first}; r < ({idx}){L}; r += {step})",
                   f"{ind}    out[ob + r * ({os_})] = {res};"])

    def ptrs(off: str) -> str:
        ks = f"keys{off}, keys2{off}"
        return ks + (f", perm{off}, perm2{off}" if rule.arg else ", nullptr, nullptr")

    if block_mode:
        # each block's line sits at [o * L, (o + 1) * L) of the scratch buffers
        rebase = [f"{ind}const long long base = (long long)o * {L};"]
        call = f"jg_block_merge_sort<{K}, {arg}>({ptrs(' + base')}, {L})"
        lines = ([f"    for ({idx} o = blockIdx.x; o < ({idx}){NO}; o += gridDim.x) {{"] + head
                 + rebase + body("threadIdx.x", f"{B}", "base + r", call, True) + ["    }"])
        grid = max(1, min(NO, low.max_grid))
    else:
        call = f"jg_thread_merge_sort<{K}, {arg}>({ptrs(' + o')}, {L}, {NO})"
        lines = ([(f"    for ({idx} o = ({idx})blockIdx.x * {B} + threadIdx.x; o < ({idx}){NO}; "
                   f"o += ({idx})gridDim.x * {B}) {{")] + head
                 + body("0", "1", f"r * {NO} + o", call, False) + ["    }"])
        grid = grid_for(NO, B, low.max_grid)
    text = (f"extern \"C\" __global__ void __launch_bounds__({B}) {name}("
            + ", ".join(f"{p.ctype} {p.name}" for p in params) + ") {\n"
            + "\n".join(lines) + "\n}\n")
    low.add_kernel(Kernel(name, params, text))
    args: list[Arg] = [Ptr(v) for v in (x, out, *scratch)]
    low.steps.append(Launch(name, grid, B, args, [out, *scratch]))


def _lower_inline(low: Lowering, n: Node, rule: Inline) -> None:
    sub = n.attrs[rule.attr]
    if not isinstance(sub, Graph):
        raise LowerError(f"{n.op}: attribute {rule.attr} is not a graph")
    for p, v in zip(sub.params, n.inputs, strict=True):
        low.alias(p, v)
    low.place(sub.body)
    low.block(sub.body)
    for o, r in zip(n.outputs, sub.results, strict=True):
        low.alias(o, r)


def _lower_forward(low: Lowering, n: Node, rule: Forward) -> None:
    low.alias(n.out, n.inputs[rule.index])


_DISPATCH: dict[type, Callable[[Lowering, Node, Any], None]] = {
    ScatterAdd: _lower_scatter_add,
    Scan: _lower_scan,
    Sort: _lower_sort,
    Inline: _lower_inline,
    Forward: _lower_forward,
    Elementwise: _lower_elementwise,
    Reduce: _lower_reduce,
    ArgReduce: _lower_argreduce,
    Matmul: _lower_matmul,
    View: _lower_view,
    GetItem: _lower_getitem,
    SetItem: _lower_setitem,
    Join: _lower_join,
    SumToShape: _lower_sum_to_shape,
    Fill: _lower_fill,
    HostConstant: _lower_host_constant,
    Copy: _lower_copy,
}


# ---------------------------------------------------------------------------------------
# row groups: reductions over trailing axes fused with the elementwise work around them
#
# NOTE: softmax, layer norm and log-sum-exp are reductions over the last axis surrounded by
# elementwise ops on the full rows and on the per-row results. Lowered node by node they
# make ~6 passes over memory; a row group is one kernel with a block per row that runs one
# loop per reduction and a last loop for the full-row results, recomputing the elementwise
# chain from the inputs in every loop (the second and later reads of a row hit the cache),
# so DRAM sees about one read of each input and one write of each output.

ROW_FUSION = True            # tests switch it off to compare both lowerings


def _is_broadcast_view(n: Node) -> bool:
    """A view whose result is NumPy broadcasting of its input (broadcast_to, expand_dims at
    the front): inside an elementwise kernel it is the input itself."""
    if not isinstance(getattr(OPS.get(n.op), "cuda", None), View) or len(n.inputs) != 1:
        return False
    a, b = n.inputs[0].type.shape, n.out.type.shape
    try:
        return a is not None and b is not None and tuple(np.broadcast_shapes(a, b)) == b
    except ValueError:
        return False


def _reduce_rule(n: Node) -> Reduce | None:
    rule = getattr(OPS.get(n.op), "cuda", None)
    return rule if isinstance(rule, Reduce) and rule.post in ("", "mean") else None


def _scalar_node(m: Node) -> bool:
    return (m.op == "constant" and m.out.type.shape == ()) or _is_broadcast_view(m) or \
        isinstance(getattr(OPS.get(m.op), "cuda", None), Elementwise)


def _ew_node(n: Node) -> bool:
    """n computes elementwise: a registry elementwise op, or a fused chain of them."""
    if n.op == "fused":
        return all(_scalar_node(m) for m in n.blocks[0].nodes)
    return isinstance(getattr(OPS.get(n.op), "cuda", None), Elementwise)


def _sig_of(n: Node) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(input shape, axes) of a reduction, or of the reductions ending a fused group (all
    over the same axes of the same shape, as passes/fuse.py makes them)."""
    if n.op == "fused":
        body = n.blocks[0].nodes
        reds = [m for m in body if _reduce_rule(m) is not None]
        if not reds or not all(_scalar_node(m) or m in reds for m in body):
            return None
        sigs = {_sig_of(m) for m in reds}
        return sigs.pop() if len(sigs) == 1 else None
    if _reduce_rule(n) is None:
        return None
    shape = n.inputs[0].type.shape
    axes = tuple(sorted(n.attrs["axis"]))
    if shape is None or not axes:
        return None
    return tuple(shape), axes


def _uses_in(n: Node) -> set[Value]:
    """Values node n reads, its nested blocks included."""
    out = set(n.inputs)
    for b in n.blocks:
        out |= set(b.results)
        for m in b.nodes:
            out |= _uses_in(m)
    return out


@dataclass(eq=False)
class RowGroup:
    """Nodes computed by one kernel: reductions of shape `full` over `axes`, and the
    elementwise work on full-shape values and on per-output ("outer") values around them."""
    full: tuple[int, ...]
    axes: tuple[int, ...]
    nodes: list[Node] = field(default_factory=list)
    values: dict[Value, str] = field(default_factory=dict)   # "full" | "outer" | "sealed"
    outputs: list[Value] = field(default_factory=list)

    def level(self, shape: tuple[int, ...]) -> str | None:
        """How a value of this shape varies: "outer" (constant along the reduced axes),
        "full" (exactly the full shape), "partial" (broadcast along some other axes: only
        as a load), None (does not broadcast to the full shape)."""
        S = self.full
        if len(shape) > len(S):
            return None
        al = (1,) * (len(S) - len(shape)) + tuple(shape)
        if any(a != 1 and a != d for a, d in zip(al, S)):
            return None
        if all(al[j] == 1 for j in self.axes):
            return "outer"
        return "full" if al == S else "partial"

    def result_level(self, n: Node, v: Value) -> str:
        """Level of a reduction's result: keepdims results broadcast back ("outer");
        others cannot be read inside the group ("sealed") unless nothing is kept."""
        if n.attrs.get("keepdims") or len(self.axes) == len(self.full):
            return "outer"
        return "sealed"


def plan_rows(low: Lowering, blk: Block) -> dict[Node, RowGroup]:
    """Row groups of this block (see the note above), as node -> group."""
    uses: dict[Value, set[Node | None]] = {}
    for n in blk.nodes:
        for v in _uses_in(n):
            uses.setdefault(v, set()).add(n)
    for v in blk.results:
        uses.setdefault(v, set()).add(None)
    producer = {o: n for n in blk.nodes for o in n.outputs}
    member: dict[Node, RowGroup] = {}

    def add(g: RowGroup, n: Node) -> None:
        g.nodes.append(n)
        inner_reds = {}
        if n.op == "fused":
            body = n.blocks[0]
            inner_reds = {r: m for m in body.nodes if _reduce_rule(m) for r in m.outputs}
            results = dict(zip(n.outputs, body.results))
        for o in n.outputs:
            if _reduce_rule(n) is not None:
                g.values[o] = g.result_level(n, o)
            elif n.op == "fused" and results[o] in inner_reds:
                g.values[o] = g.result_level(inner_reds[results[o]], o)
            else:
                g.values[o] = g.level(_known_shape(o.type)) or "sealed"

    def dev_ok(n: Node) -> bool:
        return not any(o in low.host for o in n.outputs) and all(
            o.type.dtype in SUPPORTED_DTYPES and o.type.shape is not None for o in n.outputs)

    def loadable(g: RowGroup, n: Node) -> bool:
        return all(v in g.values or v in low.host or (
            v.type.shape is not None and g.level(v.type.shape) is not None) for v in n.inputs)

    def joinable(g: RowGroup, n: Node) -> bool:
        inside = [v for v in n.inputs if v in g.values]
        if not inside or not dev_ok(n) or any(g.values[v] == "sealed" for v in inside):
            return False
        if _ew_node(n):
            return loadable(g, n) and all(g.level(_known_shape(o.type)) in ("full", "outer")
                                          for o in n.outputs)
        if _sig_of(n) != (g.full, g.axes):
            return False
        if n.op == "fused":
            return loadable(g, n)
        return g.values.get(n.inputs[0]) == "full"

    def pull(g: RowGroup, v: Value) -> None:
        """Take in the elementwise producers that only this group uses."""
        p = producer.get(v)
        if (p is None or p in member or p in g.nodes or not _ew_node(p) or not dev_ok(p)
                or g.level(_known_shape(v.type)) != "full" or not loadable(g, p)):
            return
        if any(u not in g.nodes for o in p.outputs for u in uses.get(o, ())):
            return
        add(g, p)
        for w in p.inputs:
            pull(g, w)

    cur: RowGroup | None = None

    def close() -> None:
        nonlocal cur
        g, cur = cur, None
        if g is None:
            return
        if len(g.nodes) < 2 and g.nodes[0].op != "fused":
            return
        order = {id(n): i for i, n in enumerate(blk.nodes)}
        g.nodes.sort(key=lambda n: order[id(n)])
        inside = set(g.nodes)
        g.outputs = [o for n in g.nodes for o in n.outputs
                     if any(u not in inside for u in uses.get(o, ()))]
        for n in g.nodes:
            member[n] = g

    for n in blk.nodes:
        if n in member:
            continue
        if cur is not None and joinable(cur, n):
            add(cur, n)
            continue
        if cur is not None and _uses_in(n) & set(cur.values):
            close()
        sig = _sig_of(n)
        if sig is None or not dev_ok(n):
            continue
        close()
        g = RowGroup(*sig)
        if n.op == "fused" and not loadable(g, n):
            continue
        add(g, n)
        if n.op != "fused":
            x = n.inputs[0]
            pull(g, x)
            if x not in g.values and (x in low.host or g.level(_known_shape(x.type)) != "full"):
                continue
        cur = g
    close()
    return member


class _Row:
    """Emits one row-group kernel (see the note above)."""

    def __init__(self, low: Lowering, g: RowGroup):
        self.low, self.g = low, g
        S, axes = g.full, g.axes
        self.kept = [j for j in range(len(S)) if j not in axes]
        self.kdims = [S[j] for j in self.kept]
        self.rdims = [S[j] for j in axes]
        self.NO = int(np.prod(self.kdims, dtype=np.int64))
        self.RW = int(np.prod(self.rdims, dtype=np.int64))
        if (len(S) - 1) in axes:     # the reduced axes are innermost: a block per output
            self.block_mode = self.RW >= 128 or self.NO < 1024
        else:                        # strided: a thread per output reads coalesced
            self.block_mode = self.NO < 256
        self.defs: dict[Value, Node] = {}
        self.subst: dict[Value, Value] = {}
        self.phases: list[Node] = []
        for n in g.nodes:
            self._define(n)
        self.outer_vars: dict[Value, tuple[str, np.dtype]] = {}
        self.olines: list[str] = []
        self.loads: list[tuple[Value, str]] = []
        self.scalars: list[tuple[Value, str]] = []
        self.param_of: dict[Value, int] = {}
        self.row_used: set[int] = set()     # reduced axes the current loop's loads index
        self.count = 0
        self.idx = "long long"

    def _define(self, n: Node) -> None:
        if n.op == "fused":
            body = n.blocks[0]
            for p, v in zip(body.params, n.inputs, strict=True):
                self.subst[p] = v
            for m in body.nodes:
                if m.op == "constant":
                    self.low.literal[m.out] = m.attrs["value"]
                elif _is_broadcast_view(m):
                    self.subst[m.out] = m.inputs[0]
                else:
                    self._define(m)
            for o, r in zip(n.outputs, body.results, strict=True):
                self.subst[o] = r
            return
        if _reduce_rule(n) is not None:
            self.phases.append(n)
        for o in n.outputs:
            self.defs[o] = n

    def resolve(self, v: Value) -> Value:
        while v in self.subst:
            v = self.subst[v]
        return v

    def var(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def split(self, strides: Sequence[int]) -> tuple[list[int], list[int]]:
        """Strides over the kept and the reduced axes (0 where an axis has size 1)."""
        S = self.g.full
        return ([strides[j] if S[j] != 1 else 0 for j in self.kept],
                [strides[j] if S[j] != 1 else 0 for j in self.g.axes])

    def operand(self, v: Value, want: np.dtype, scope: dict[Value, Any] | None,
                lines: list[str] | None) -> str:
        v = self.resolve(v)
        if v in self.low.literal:
            return literal(self.low.literal[v], want)
        var, dt = self.ref(v, scope, lines)
        return convert(var, dt, want)

    def ref(self, v: Value, scope: dict[Value, Any] | None, lines: list[str] | None
            ) -> tuple[str, np.dtype]:
        """The variable holding v: per output (o-scope) or per element (the loop `scope`)."""
        v = self.resolve(v)
        if v in self.outer_vars:
            return self.outer_vars[v]
        if scope is not None and v in scope:
            return scope[v]
        level = self.g.level(self.low.shape(v))
        dt = known_dtype(v.type)
        if v in self.defs:
            n = self.defs[v]
            if _reduce_rule(n) is not None:
                raise LowerError("internal: a reduction read before its loop")
            outer = level == "outer"
            if not outer and scope is None:
                raise LowerError("internal: a full-shape value needed per output")
            tgt_scope, tgt_lines = (None, self.olines) if outer else (scope, lines)
            text = ew_expr(n, OPS[n.op].cuda,
                           lambda w, d: self.operand(w, d, tgt_scope, tgt_lines))
            name = self.var("u" if outer else "f")
            assert tgt_lines is not None
            tgt_lines.append(f"const {rtype(dt)} {name} = {text};")
        elif v in self.low.host:
            name = f"s{len(self.scalars)}"
            self.scalars.append((v, name))
            outer = True
        else:
            if level is None:
                raise LowerError(f"{self.low.shape(v)} does not broadcast to {self.g.full}")
            outer = level == "outer"
            if not outer and scope is None:
                raise LowerError("internal: a full-shape load needed per output")
            kstr, rstr = self.split(align(self.low.layout_of(v), self.g.full))
            k = self.param_of.get(v)
            if k is None:        # one pointer per input, its per-output offset computed once
                k = self.param_of[v] = len(self.loads)
                self.loads.append((v, f"p{k}"))
                self.olines.append(f"const {self.idx} ob{k} = {offset_expr('q', kstr)};")
            name = self.var("b" if outer else "a")
            if outer:
                self.olines.append(f"const {rtype(dt)} {name} = {load(f'p{k}[ob{k}]', dt)};")
            else:
                assert lines is not None
                self.row_used |= {j for j, st in enumerate(rstr) if st}
                src = f"p{k}[{offset_expr('r', rstr, f'ob{k}')}]"
                lines.append(f"const {rtype(dt)} {name} = {load(src, dt)};")
        entry = (name, dt)
        if outer:
            self.outer_vars[v] = entry
        else:
            assert scope is not None
            scope[v] = entry
        return entry

    def emit(self) -> None:
        low, g = self.low, self.g
        low.uses.add("reduce.cu")
        outputs = g.outputs
        if self.NO == 0:
            low.steps.append(Alloc(list(outputs)))
            return
        exts = [self.NO * max(self.RW, 1)] + [
            extent(low.layout_of(v).shape, low.layout_of(v).strides)
            for n in g.nodes for v in n.inputs if v not in low.host and v.type.shape]
        self.idx = idx = index_type(*exts)
        B = BLOCK
        # few outputs over very long reductions (a loss over a big array): S blocks share each
        # output and a second launch adds up their partial results
        only = self.phases[0].out if len(self.phases) == 1 else None
        S = 1
        if (self.block_mode and self.NO < 256 and self.RW >= SPLIT_MIN_R
                and outputs == [only]):
            S = max(1, min(1024, self.RW // (B * 16)))
        self.split_parts = S
        if S > 1:
            r_loop = (f"for ({idx} rr = (b % {S}) * {B} + threadIdx.x; rr < ({idx}){self.RW}; "
                      f"rr += {S * B})")
        elif self.block_mode:
            r_loop = f"for ({idx} rr = threadIdx.x; rr < ({idx}){self.RW}; rr += {B})"
        else:
            r_loop = f"for ({idx} rr = 0; rr < ({idx}){self.RW}; ++rr)"
        tags = []
        for j, n in enumerate(self.phases):
            rule = _reduce_rule(n)
            assert rule is not None
            x = n.inputs[0]
            od = known_dtype(n.out.type)
            acc = {"out": od, "in": known_dtype(x.type), "bool": np.dtype(np.bool_)}[rule.acc]
            adt = acc_dtype(acc)
            act = ctype(adt)
            ident = _identity(rule.combine, adt)
            scope: dict[Value, Any] = {}
            body: list[str] = []
            self.row_used = set()
            xv, xdt = self.ref(x, scope, body)
            row_idx = index_lines("rr", self.rdims, "r", idx, "    ", self.row_used)
            pre = f"({act})({xv} != 0)" if acc.kind == "b" else convert(xv, xdt, adt)
            loop = [f"{act} acc{j} = {ident};", f"{r_loop} {{"]
            loop += row_idx + ["    " + line for line in body]
            loop.append(f"    acc{j} = {rule.combine}()(acc{j}, {pre});")
            loop.append("}")
            fin = f"acc{j}"
            if self.block_mode:
                loop += [(f"acc{j} = jg_block_reduce<{B}>(acc{j}, {rule.combine}(), "
                          f"({act}){ident});"),
                         f"__shared__ {act} sh{j};",
                         f"if (threadIdx.x == 0) sh{j} = acc{j};",
                         "__syncthreads();"]
                fin = f"sh{j}"
            tags.append(n.op)
            if S > 1:            # partial results; the final launch divides for a mean
                partial = low.new_value(TensorType(adt, (self.NO * S,)), "partial")
                loop.append(f"if (threadIdx.x == 0) o0[b] = acc{j};")
                self.olines += loop
                split = (n, rule, partial, adt)
                break
            if rule.post == "mean":
                fin = f"{fin} / ({act}){self.RW}"
            name = self.var("u")
            if od == HALF:
                fin = convert(fin, adt, od)
            loop.append(f"const {rtype(od)} {name} = {fin};")
            self.olines += loop
            self.outer_vars[n.out] = (name, od)
        stores: list[tuple[Value, str]] = []
        if S > 1:
            stores.append((partial, "o0"))
            outputs = []
        full_out = [v for v in outputs if g.values.get(v) == "full"]
        if full_out:
            kstr, rstr = self.split(Layout.contiguous(g.full).strides)
            self.olines.append(f"const {idx} os = {offset_expr('q', kstr)};")
            scope = {}
            body = []
            self.row_used = {j for j, st in enumerate(rstr) if st}
            refs = [self.ref(v, scope, body)[0] for v in full_out]
            row_idx = index_lines("rr", self.rdims, "r", idx, "    ", self.row_used)
            self.olines.append(f"{r_loop} {{")
            self.olines += row_idx + ["    " + line for line in body]
            for v, r in zip(full_out, refs):
                k = len(stores)
                self.olines.append(f"    o{k}[{offset_expr('r', rstr, 'os')}] = "
                                   f"{store(r, known_dtype(v.type))};")
                stores.append((v, f"o{k}"))
            self.olines.append("}")
        for v in outputs:
            if g.values.get(v) == "full":
                continue
            k = len(stores)
            r = self.ref(v, None, None)[0]
            guard = "if (threadIdx.x == 0) " if self.block_mode else ""
            self.olines.append(f"{guard}o{k}[o] = {store(r, known_dtype(v.type))};")
            stores.append((v, f"o{k}"))
        params: list[KParam] = []
        args: list[Arg] = []
        for v, p in self.loads:
            params.append(KParam(f"const {ctype(known_dtype(v.type))}* __restrict__", p, "P"))
            args.append(Ptr(v))
        for v, p in stores:
            params.append(KParam(f"{ctype(known_dtype(v.type))}* __restrict__", p, "P"))
            args.append(Ptr(v))
        for v, p in self.scalars:
            params.append(KParam(rtype(known_dtype(v.type)), p, fmt_char(known_dtype(v.type))))
            args.append(Scalar(v))
        head: list[str] = []
        if S > 1:
            o_loop = f"for ({idx} b = blockIdx.x; b < ({idx}){self.NO * S}; b += gridDim.x)"
            head = [f"        const {idx} o = b / {S};"]
            grid = max(1, min(self.NO * S, low.max_grid))
        elif self.block_mode:
            o_loop = f"for ({idx} o = blockIdx.x; o < ({idx}){self.NO}; o += gridDim.x)"
            grid = max(1, min(self.NO, low.max_grid))
        else:
            o_loop = (f"for ({idx} o = ({idx})blockIdx.x * {B} + threadIdx.x; o < ({idx})"
                      f"{self.NO}; o += ({idx})gridDim.x * {B})")
            grid = grid_for(self.NO, B, low.max_grid)
        name = low.kernel_name("row_" + "_".join(tags[:3]))
        ind = " " * 8
        lines = [f"    {o_loop} {{"] + head + index_lines("o", self.kdims, "q", idx, ind)
        lines += [ind + line for line in self.olines] + ["    }"]
        text = (f"extern \"C\" __global__ void __launch_bounds__({B}) {name}("
                + ", ".join(f"{p.ctype} {p.name}" for p in params) + ") {\n"
                + "\n".join(lines) + "\n}\n")
        low.add_kernel(Kernel(name, params, text))
        low.steps.append(Launch(name, grid, B, args, [v for v, _ in stores]))
        if S > 1:
            n, rule, partial, adt = split
            act = ctype(adt)

            def finish(a: str) -> str:
                return f"{a} / ({act}){self.RW}" if rule.post == "mean" else a
            _reduce_partials(low, n.op, partial, self.NO, S, n.out, rule.combine, adt, finish)


# ---------------------------------------------------------------------------------------
# entry points

def lower(g: Graph, max_grid: int | None = None) -> Program:
    """The CUDA program for a typed graph. `problems` lists what could not be lowered (the
    program is then incomplete and must not run). max_grid caps grid-stride grids (the host
    emulator runs few blocks)."""
    low = Lowering(g, max_grid)
    prog = low.run()
    prog.schedule = schedule_text(g, prog)
    return prog


def check(g: Graph) -> list[str]:
    return lower(g).problems


def render(g: Graph, templates: bool = True) -> str:
    """dump(stage="cuda"): the schedule as a comment, then the CUDA C source (with the
    kernels/ templates pasted in, exactly what nvcc compiles, unless templates=False)."""
    prog = lower(g)
    head = [f"// schedule of {g.name} (host side)"]
    head += ["//   " + line for line in prog.schedule.splitlines()]
    if prog.problems:
        head += ["// cannot lower:"] + ["//   " + p for p in prog.problems]
    return "\n".join(head) + "\n\n" + (prog.source if templates else prog.brief)


def schedule_text(g: Graph, prog: Program) -> str:
    """The host steps with the printer's value names (`%x`, `%3`), one per line."""
    from ..ir.printer import Namer
    namer = Namer()
    for p in g.params:
        namer.define(p)

    def walk(blk: Block) -> None:
        for n in blk.nodes:
            for v in n.outputs:
                namer.define(v)
            for b in n.blocks:
                for p in b.params:
                    namer.define(p)
                walk(b)
    walk(g.body)

    def nm(v: Value) -> str:
        return namer.ref(v) if v in namer.names else namer.define(v)

    def arg(a: Arg) -> str:
        if isinstance(a, Ptr):
            return nm(a.value) + (f"+{a.offset}" if a.offset else "")
        return "scalar " + nm(a.value)

    lines: list[str] = []
    for v, arr in prog.consts:
        lines.append(f"{nm(v)} = upload {arr.dtype.name}{list(arr.shape)}")

    def emit(steps: Sequence[Step], ind: str) -> None:
        for s in steps:
            if isinstance(s, Alloc):
                lines.append(f"{ind}alloc " + ", ".join(nm(v) for v in s.values))
            elif isinstance(s, Launch):
                outs = ", ".join(nm(v) for v in s.allocs)
                lines.append(f"{ind}{outs + ' = ' if outs else ''}launch {s.kernel}"
                             f"<<<{s.grid}, {s.block}>>>(" + ", ".join(arg(a) for a in s.args)
                             + ")")
            elif isinstance(s, (HostOp, HostImpl)):
                outs = ", ".join(nm(v) for v in s.node.outputs)
                ins = s.inputs if isinstance(s, HostImpl) else s.node.inputs
                lines.append(f"{ind}{outs} = host {s.node.op}("
                             + ", ".join(nm(v) for v in ins) + ")")
            elif isinstance(s, HostConform):
                lines.append(f"{ind}{nm(s.out)} = host cast {nm(s.src)} : {s.out.type}")
            elif isinstance(s, Alias):
                off = f" + {s.offset}" if s.offset else ""
                lines.append(f"{ind}{nm(s.out)} = view {nm(s.src)}{off}")
            elif isinstance(s, DynView):
                lines.append(f"{ind}{nm(s.out)} = view {nm(s.src)}[" +
                             ", ".join(nm(v) for v in s.dyn) + "] (host bounds check)")
            elif isinstance(s, If):
                lines.append(f"{ind}if {nm(s.cond)} {{")
                emit(s.then, ind + "  ")
                lines.append(f"{ind}  yield " + ", ".join(nm(v) for v in s.then_results))
                lines.append(f"{ind}}} else {{")
                emit(s.else_, ind + "  ")
                lines.append(f"{ind}  yield " + ", ".join(nm(v) for v in s.else_results))
                lines.append(f"{ind}}} -> " + ", ".join(nm(v) for v in s.outputs))
            elif isinstance(s, Loop):
                lines.append(f"{ind}loop trip={nm(s.trip)} cond={nm(s.cond0)} ("
                             + ", ".join(nm(v) for v in s.init) + ") {")
                emit(s.body, ind + "  ")
                lines.append(f"{ind}  next {nm(s.cond_next)}, "
                             + ", ".join(nm(v) for v in s.nexts))
                lines.append(f"{ind}}} -> " + ", ".join(nm(v) for v in s.outputs))
    emit(prog.steps, "")
    lines.append("return " + ", ".join(nm(v) for v in prog.results))
    return "\n".join(lines)


__all__ = [
    "BLOCK",
    "SUPPORTED_DTYPES",
    "Kernel",
    "Layout",
    "LowerError",
    "Program",
    "check",
    "cuda_ops",
    "ghost",
    "ghost_index",
    "kernels_dir",
    "lower",
    "read_template",
    "render",
]
