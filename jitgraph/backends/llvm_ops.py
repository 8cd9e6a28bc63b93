"""Per-op lowering rules of the CPU backend, attached to `OPS[name].llvm` at import.

Two kinds of rule:
  Elementwise(f)  f(lw, args, in_types, out_dtype) -> one register: the scalar meaning of
                  the op; the loop nest around it is llvm_lower's (so a fused group costs
                  no more than its scalar rules).
  Kernel(f)       f(lw, node, args: list[Arr]) -> list[Arr]: views, reductions, matmul,
                  indexing, creation.
A rule may have `check(node) -> reason | None` for variants it cannot lower; the backend's
check() reports those, so the runtime falls back to the interpreter before compiling.

float16 lives in memory as `half` and in float registers (llvm_lower.reg_type: load
extends, store and casts round): every elementwise result of dtype float16 is rounded
(half_result) and math runs at float32 (compute_dtype), which is what NumPy's float16
loops do, so fused chains give eager NumPy's values."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir

from ..ir.graph import Block, Node
from ..ops import OPS
from ..types import TensorType, example_value
from . import llvm_math
from .llvm_lower import (
    F64,
    I1,
    I64,
    PTR,
    Arr,
    Lowerer,
    Red,
    contiguous_strides,
    kd,
    ks,
    mem_type,
    reg_type,
    round_half,
    size_of,
)

BOOL, INT64, FLOAT64 = np.dtype(bool), np.dtype(np.int64), np.dtype(np.float64)
FLOAT16, FLOAT32 = np.dtype(np.float16), np.dtype(np.float32)
ERR_INDEX, ERR_NEGPOW = 1, 2

ScalarFn = Callable[[Lowerer, list[ir.Value], list[TensorType], np.dtype], ir.Value]


class Elementwise:
    kind = "elementwise"

    def __init__(self, f: ScalarFn, check: Callable[[Node], str | None] | None = None):
        self.f = f
        self.check = check or (lambda n: None)

    def scalar(self, lw: Lowerer, args: list[ir.Value], ins: list[TensorType],
               out: np.dtype) -> ir.Value:
        return half_result(lw, self.f(lw, args, ins, out), out)

    def emit(self, lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
        ins = [v.type for v in n.inputs]
        t = n.out.type
        return [lw.elementwise(ks(t), kd(t), args,
                               lambda vals: self.scalar(lw, vals, ins, kd(t)), n.out)]


def half_result(lw: Lowerer, v: ir.Value, out: np.dtype) -> ir.Value:
    """float16 values live in float registers: each op's result is rounded to float16,
    as NumPy's float16 loops round (compute in float, store half), so a fused chain
    gives what eager NumPy gives op by op."""
    return round_half(lw.b, v) if out == FLOAT16 else v


def compute_dtype(dt: np.dtype) -> np.dtype:
    """The dtype a value's register holds: float16 computes in float32."""
    return FLOAT32 if dt == FLOAT16 else dt


class Kernel:
    kind = "kernel"

    def __init__(self, f: Callable[[Lowerer, Node, list[Arr]], list[Arr]],
                 check: Callable[[Node], str | None] | None = None):
        self.f = f
        self.check = check or (lambda n: None)

    def emit(self, lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
        return self.f(lw, n, args)


def _attach(name: str, rule: Any) -> None:
    OPS[name].llvm = rule


def _to(lw: Lowerer, vals: Sequence[ir.Value], ins: Sequence[TensorType],
        dt: np.dtype) -> list[ir.Value]:
    return [lw.cast(v, kd(t), dt) for v, t in zip(vals, ins, strict=True)]


def _fconst(v: ir.Value, x: float) -> ir.Constant:
    return ir.Constant(v.type, x)


def _iconst(v: ir.Value, x: int) -> ir.Constant:
    return ir.Constant(v.type, x)


# ------------------------------------------------------------------ arithmetic
def _binary(fop: str, iop: str, bop: str | None, uop: str | None = None) -> Elementwise:
    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        a, c = _to(lw, vals, ins, out)
        if out.kind == "f":
            return getattr(lw.b, fop)(a, c)
        if out.kind == "b":
            assert bop is not None
            return getattr(lw.b, bop)(a, c)
        return getattr(lw.b, uop if (uop and out.kind == "u") else iop)(a, c)
    return Elementwise(f)


_attach("add", _binary("fadd", "add", "or_"))
_attach("sub", _binary("fsub", "sub", "xor"))
_attach("mul", _binary("fmul", "mul", "and_"))


def _div(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    a, c = _to(lw, vals, ins, out)
    # a plain IEEE division, as NumPy's: no `arcp` (a multiply by the reciprocal of a
    # loop-invariant divisor is 1 ulp off for many dividends (x / 255.0: half), which
    # truncation to an integer can turn into an off-by-one). float16 divides in float
    # and rounds once to half, as NumPy's float16 loop does
    return lw.b.fdiv(a, c)


_attach("div", Elementwise(_div))


def _float_divmod(lw: Lowerer, a: ir.Value, c: ir.Value, want_div: bool) -> ir.Value:
    """NumPy's npy_divmod/npy_floor_divide/npy_remainder, written with selects so the loop
    stays vectorizable."""
    b = lw.b
    zero = _fconst(a, 0.0)
    mod = b.frem(a, c)
    cz = b.fcmp_ordered("==", c, zero)
    modnz = b.fcmp_unordered("!=", mod, zero)
    flip = b.and_(modnz, b.xor(b.fcmp_ordered("<", c, zero), b.fcmp_ordered("<", mod, zero)))
    if not want_div:
        adj = b.select(flip, b.fadd(mod, c), mod)
        signed0 = lw.call(lw.intrinsic("llvm.copysign", a.type, 2), [zero, c])
        r = b.select(modnz, adj, signed0)
        return b.select(cz, mod, r)
    div = b.fdiv(b.fsub(a, mod), c)
    div = b.select(flip, b.fsub(div, _fconst(a, 1.0)), div)
    fl = lw.call(lw.intrinsic("llvm.floor", a.type), [div])
    fl = b.select(b.fcmp_ordered(">", b.fsub(div, fl), _fconst(a, 0.5)),
                  b.fadd(fl, _fconst(a, 1.0)), fl)
    q = b.fdiv(a, c)
    signed0 = lw.call(lw.intrinsic("llvm.copysign", a.type, 2), [zero, q])
    r = b.select(b.fcmp_unordered("!=", div, zero), fl, signed0)
    return b.select(cz, q, r)


def _int_divmod(lw: Lowerer, a: ir.Value, c: ir.Value, signed: bool, want_div: bool) -> ir.Value:
    """Floor division / Python modulo for integers; x//0 == x%0 == 0 and MIN//-1 == MIN
    as NumPy gives (never a hardware trap)."""
    b = lw.b
    zero, one = _iconst(a, 0), _iconst(a, 1)
    cz = b.icmp_unsigned("==", c, zero)
    if not signed:
        safe = b.select(cz, one, c)
        r = b.udiv(a, safe) if want_div else b.urem(a, safe)
        return b.select(cz, zero, r)
    bad = b.or_(cz, b.icmp_signed("==", c, _iconst(a, -1)))
    safe = b.select(bad, one, c)
    q, r = b.sdiv(a, safe), b.srem(a, safe)
    flip = b.and_(b.icmp_signed("!=", r, zero),
                  b.xor(b.icmp_signed("<", r, zero), b.icmp_signed("<", safe, zero)))
    if want_div:
        q = b.sub(q, b.zext(flip, a.type))
        neg = b.sub(zero, a)   # x // -1 == -x, wrapping at MIN as NumPy does
        q = b.select(b.icmp_signed("==", c, _iconst(a, -1)), neg, q)
        return b.select(cz, zero, q)
    r = b.select(flip, b.add(r, safe), r)
    return b.select(bad, zero, r)


def _divmod_rule(want_div: bool) -> Elementwise:
    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        a, c = _to(lw, vals, ins, out)
        if out.kind == "f":
            return _float_divmod(lw, a, c, want_div)
        return _int_divmod(lw, a, c, out.kind == "i", want_div)
    return Elementwise(f)


_attach("floordiv", _divmod_rule(True))
_attach("mod", _divmod_rule(False))


def _ipow_fn(lw: Lowerer, ty: ir.IntType) -> ir.Function:
    """i{N} jg_ipow(i{N} base, i{N} exp): square and multiply over the bits of exp, read
    as unsigned (a signed exponent is >= 0, checked by the caller; an unsigned one may
    have its top bit set: uint8 2 ** 255 is 0), wrapping modulo 2**N as NumPy's loop."""
    name = f"jg_ipow_i{ty.width}"
    if name in lw.module.globals:
        return lw.module.globals[name]
    fn = ir.Function(lw.module, ir.FunctionType(ty, [ty, ty]), name)
    fn.linkage = "internal"
    entry, loop, done = (fn.append_basic_block(x) for x in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    x, e = fn.args
    b.cbranch(b.icmp_unsigned("!=", e, ir.Constant(ty, 0)), loop, done)
    b.position_at_end(loop)
    acc = b.phi(ty)
    base = b.phi(ty)
    ex = b.phi(ty)
    acc.add_incoming(ir.Constant(ty, 1), entry)
    base.add_incoming(x, entry)
    ex.add_incoming(e, entry)
    odd = b.trunc(ex, I1)
    acc2 = b.select(odd, b.mul(acc, base), acc)
    ex2 = b.lshr(ex, ir.Constant(ty, 1))
    base2 = b.mul(base, base)
    acc.add_incoming(acc2, loop)
    base.add_incoming(base2, loop)
    ex.add_incoming(ex2, loop)
    b.cbranch(b.icmp_unsigned("!=", ex2, ir.Constant(ty, 0)), loop, done)
    b.position_at_end(done)
    r = b.phi(ty)
    r.add_incoming(ir.Constant(ty, 1), entry)
    r.add_incoming(acc2, loop)
    b.ret(r)
    return fn


def _pow(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    a, c = _to(lw, vals, ins, out)
    b = lw.b
    if out.kind == "f":
        if isinstance(c, ir.Constant) and not isinstance(c.constant, str):
            k = float(c.constant)
            if k == 2.0:
                return b.fmul(a, a)
            if k == 1.0:
                return a
            if k == 3.0:
                if out.itemsize < 8:   # one rounding, as powf gives
                    w = b.fpext(a, F64)
                    return b.fptrunc(b.fmul(b.fmul(w, w), w), a.type)
                return b.fmul(b.fmul(a, a), a)
            if k == -1.0:
                return b.fdiv(_fconst(a, 1.0), a)
            if k == 0.5:    # NumPy takes a scalar 0.5 as sqrt: -0.0 -> -0.0, -inf -> nan
                return lw.call(lw.intrinsic("llvm.sqrt", a.type), [a])
        if kd(ins[1]).kind in "iu":      # x ** n, n an integer known at run time
            # uint64 stays unsigned (2**64 - 1 is not -1); narrower ints widen to int64
            unsigned = kd(ins[1]) == np.dtype(np.uint64)
            n = vals[1] if unsigned else lw.cast(vals[1], kd(ins[1]), INT64)
            return llvm_math.powi(lw, a, n, compute_dtype(out), unsigned=unsigned)
        r = llvm_math.emit(lw, "pow", [a, c], compute_dtype(out))
        if ins[1].shape == ():   # a run-time scalar exponent of 0.5 is sqrt too
            half = b.fcmp_ordered("==", c, _fconst(c, 0.5))
            r = b.select(half, lw.call(lw.intrinsic("llvm.sqrt", a.type), [a]), r)
        return r
    if out.kind == "b":
        return b.or_(a, b.xor(c, ir.Constant(I1, 1)))   # x**0 == 1, else x
    if out.kind == "i":
        lw.fail_if(b.icmp_signed("<", c, _iconst(c, 0)), ERR_NEGPOW)
    return lw.call(_ipow_fn(lw, a.type), [a, c])


_attach("pow", Elementwise(_pow))


def _minmax(kind: str) -> Elementwise:
    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        a, c = _to(lw, vals, ins, out)
        if out.kind == "f":   # NaN propagates, as np.maximum
            return lw.call(lw.intrinsic(f"llvm.{kind}imum", a.type, 2), [a, c])
        if out.kind == "b":
            return lw.b.or_(a, c) if kind == "max" else lw.b.and_(a, c)
        s = "s" if out.kind == "i" else "u"
        return lw.call(lw.intrinsic(f"llvm.{s}{kind}", a.type, 2), [a, c])
    return Elementwise(f)


_attach("maximum", _minmax("max"))
_attach("minimum", _minmax("min"))


def _math(name: str) -> Elementwise:
    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        return llvm_math.emit(lw, name, _to(lw, vals, ins, out), compute_dtype(out))
    return Elementwise(f)


for _n in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
           "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sqrt", "arctan2"):
    _attach(_n, _math(_n))


def _neg(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    (a,) = _to(lw, vals, ins, out)
    if out.kind == "f":
        return lw.b.fneg(a)
    if out.kind == "b":
        return a
    return lw.b.sub(_iconst(a, 0), a)


def _pos(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    return _to(lw, vals, ins, out)[0]


def _abs(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    (a,) = _to(lw, vals, ins, out)
    if out.kind == "f":
        return lw.call(lw.intrinsic("llvm.fabs", a.type), [a])
    if out.kind == "i":
        f = lw.declare(f"llvm.abs.i{a.type.width}", a.type, [a.type, I1])
        return lw.call(f, [a, ir.Constant(I1, 0)])
    return a


def _sign(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    (a,) = _to(lw, vals, ins, out)
    b = lw.b
    if out.kind == "f":
        z = _fconst(a, 0.0)
        r = b.select(b.fcmp_ordered("==", a, z), z, a)   # -0.0 -> 0.0, NaN stays NaN
        r = b.select(b.fcmp_ordered("<", a, z), _fconst(a, -1.0), r)
        return b.select(b.fcmp_ordered(">", a, z), _fconst(a, 1.0), r)
    if out.kind == "b":
        return a
    z = _iconst(a, 0)
    gt = b.zext(b.icmp_signed(">", a, z) if out.kind == "i" else b.icmp_unsigned(">", a, z),
                a.type)
    if out.kind == "u":
        return gt
    return b.sub(gt, b.zext(b.icmp_signed("<", a, z), a.type))


def _square(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    (a,) = _to(lw, vals, ins, out)
    if out.kind == "f":
        return lw.b.fmul(a, a)
    return a if out.kind == "b" else lw.b.mul(a, a)


def _reciprocal(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType],
                out: np.dtype) -> ir.Value:
    (a,) = _to(lw, vals, ins, out)
    b = lw.b
    if out.kind == "f":
        return b.fdiv(_fconst(a, 1.0), a)
    if out.kind == "b":
        return a
    z = b.icmp_unsigned("==", a, _iconst(a, 0))
    safe = b.select(z, _iconst(a, 1), a)
    q = b.sdiv(_iconst(a, 1), safe) if out.kind == "i" else b.udiv(_iconst(a, 1), safe)
    low = np.iinfo(out).min
    return b.select(z, lw.const(out, low), q)


def _rounding(name: str) -> Elementwise:
    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        (a,) = _to(lw, vals, ins, out)
        if out.kind != "f":
            return a          # integers are already integral
        return llvm_math.emit(lw, name, [a], compute_dtype(out))
    return Elementwise(f)


_attach("neg", Elementwise(_neg))
_attach("pos", Elementwise(_pos))
_attach("abs", Elementwise(_abs))
_attach("sign", Elementwise(_sign))
_attach("square", Elementwise(_square))
_attach("reciprocal", Elementwise(_reciprocal))
_attach("floor", _rounding("floor"))
_attach("ceil", _rounding("ceil"))
_attach("rint", _rounding("rint"))


def _classify(kind: str) -> Elementwise:
    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        (a,), t = vals, ins[0]
        if kd(t).kind != "f":
            return ir.Constant(I1, int(kind == "isfinite"))
        b = lw.b
        if kind == "isnan":
            return b.fcmp_unordered("uno", a, a)
        mag = lw.call(lw.intrinsic("llvm.fabs", a.type), [a])
        inf = _fconst(a, float("inf"))
        return b.fcmp_ordered("==" if kind == "isinf" else "<", mag, inf)
    return Elementwise(f)


for _n in ("isnan", "isinf", "isfinite"):
    _attach(_n, _classify(_n))


# ------------------------------------------------------------------ comparisons and logic
def compare_dtype(ins: Sequence[TensorType]) -> np.dtype:
    """The dtype both sides are compared in. Floats: NumPy's promotion (weak scalars
    included). Integers: wide enough to compare exactly (NumPy 2 compares mixed
    signedness and out-of-range Python ints by value)."""
    kinds = {kd(t).kind for t in ins}
    if "f" in kinds:
        return np.result_type(*[example_value(t) if t.weak else kd(t) for t in ins])
    if kinds == {"b"}:
        return BOOL
    signed = any(kd(t).kind == "i" for t in ins)
    unsigned = any(kd(t).kind in "ub" and not t.weak for t in ins)
    width = max(kd(t).itemsize for t in ins)
    if signed and unsigned:
        return np.dtype("int64") if width < 8 else np.dtype("O")  # "O": compare in i128
    return np.dtype(f"{'i' if signed else 'u'}{width}")


_FCMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def _compare(name: str) -> Elementwise:
    op = _FCMP[name]

    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        ct = compare_dtype(ins)
        b = lw.b
        if ct.kind == "O":   # mixed signedness at 64 bits: compare exactly in i128
            i128 = ir.IntType(128)
            x, y = [b.sext(v, i128) if kd(t).kind == "i" else b.zext(v, i128)
                    for v, t in zip(vals, ins)]
            return b.icmp_signed(op, x, y)
        x, y = _to(lw, vals, ins, ct)
        if ct.kind == "f":
            return b.fcmp_unordered(op, x, y) if name == "ne" else b.fcmp_ordered(op, x, y)
        if ct.kind == "i":
            return b.icmp_signed(op, x, y)
        return b.icmp_unsigned(op, x, y)
    return Elementwise(f)


for _n in _FCMP:
    _attach(_n, _compare(_n))


def _logical(op: str) -> Elementwise:
    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        bs = _to(lw, vals, ins, BOOL)
        if op == "not":
            return lw.b.xor(bs[0], ir.Constant(I1, 1))
        return getattr(lw.b, op)(bs[0], bs[1])
    return Elementwise(f)


_attach("logical_and", _logical("and_"))
_attach("logical_or", _logical("or_"))
_attach("logical_xor", _logical("xor"))
_attach("logical_not", _logical("not"))


def _bitwise(op: str) -> Elementwise:
    def f(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
        xs = _to(lw, vals, ins, out)
        if op == "invert":
            return lw.b.xor(xs[0], ir.Constant(xs[0].type, -1 if out.kind != "b" else 1))
        return getattr(lw.b, op)(xs[0], xs[1])
    return Elementwise(f, check=lambda n: None if kd(n.out.type).kind in "biu"
                       else f"{n.op} needs integer or bool operands")


_attach("bitwise_and", _bitwise("and_"))
_attach("bitwise_or", _bitwise("or_"))
_attach("bitwise_xor", _bitwise("xor"))
_attach("invert", _bitwise("invert"))


def _where(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    c = lw.cast(vals[0], kd(ins[0]), BOOL)
    x, y = _to(lw, vals[1:], ins[1:], out)
    return lw.b.select(c, x, y)


def _clip(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    a, lo, hi = _to(lw, vals, ins, out)
    mx, mn = _minmax("max").f, _minmax("min").f
    t = TensorType(out, ())
    return mn(lw, [mx(lw, [a, lo], [t, t], out), hi], [t, t], out)


def _cast(lw: Lowerer, vals: list[ir.Value], ins: list[TensorType], out: np.dtype) -> ir.Value:
    return lw.cast(vals[0], kd(ins[0]), out)


_attach("where", Elementwise(_where))
_attach("clip", Elementwise(_clip))
_attach("cast", Elementwise(_cast))


# ------------------------------------------------------------------ reductions
F32_ACC_LIMIT = 8192


def acc_dtype(kind: str, out: np.dtype, count: int, mean: bool = False) -> np.dtype:
    """Accumulator dtype: float32 sums and products of more than F32_ACC_LIMIT values
    accumulate in float64 (NumPy sums pairwise; a float64 accumulator is at least as
    accurate). Shorter ones stay float32: reassociated into many partial sums by the
    vectorizer, their error is as small as NumPy's, and twice as many fit a vector.
    float16 sums and products do what NumPy's do: a float16 accumulator, so a reduced
    innermost dim sums in a float register and rounds once per row, other reduced dims
    round at every step; a float16 mean sums in float32 (NumPy's intermediate dtype)."""
    if kind in ("any", "all"):
        return BOOL
    if out == FLOAT16 and kind in ("sum", "prod"):
        return FLOAT32 if mean else out
    if kind in ("sum", "prod") and out.kind == "f" and out.itemsize < 8 \
            and count > F32_ACC_LIMIT:
        return FLOAT64
    return out


def make_acc(lw: Lowerer, kind: str, mean: bool, S: tuple[int, ...], axes: Sequence[int],
             src: np.dtype, out_t: TensorType, dest: Any) -> tuple[Red, Callable[[], Arr]]:
    """Accumulator for one reduction over `axes` of iteration space S, and the function
    that turns it into the node's value once the kernel ran (mean's divide, dtype)."""
    keep = tuple(1 if d in axes else n for d, n in enumerate(S))
    out_dt = kd(out_t)
    count = size_of([S[d] for d in axes])
    adt = acc_dtype(kind, out_dt, count, mean)
    direct = False
    if ks(out_t) == ():
        store = Arr(adt, keep, (0,) * len(keep), ptr=lw.alloca(mem_type(adt)))
    elif adt == out_dt and not mean:
        buf = lw.new_buffer(dest)
        store, direct = buf.reshape(keep), True   # type: ignore[assignment]
    else:
        store = lw.temp(keep, adt)

    def fin(v: ir.Value) -> ir.Value:
        if mean:   # an integer mean (dtype=int) divides in float64, then truncates
            fdt = adt if adt.kind == "f" else FLOAT64
            return lw.cast(lw.b.fdiv(lw.cast(v, adt, fdt), lw.const(fdt, count)), fdt, out_dt)
        return lw.cast(v, adt, out_dt)

    def finish() -> Arr:
        if ks(out_t) == ():
            return Arr.scalar(fin(lw.load(store, ir.Constant(I64, 0))), out_dt)
        if direct:
            return store.reshape(ks(out_t))   # type: ignore[return-value]
        out = lw.new_buffer(dest)
        lw.kernel(keep, [store], lambda vals: [fin(vals[0])], [out.reshape(keep)])  # type: ignore
        return out

    return Red(kind, store, src), finish


@dataclass
class ReduceRule:
    kind: str
    mean: bool = False
    fusable: bool = True

    def check(self, n: Node) -> str | None:
        return None

    def emit(self, lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
        (x,) = args
        src = kd(n.inputs[0].type)
        red, finish = make_acc(lw, self.kind, self.mean, x.shape, n.attrs["axis"], src,
                               n.out.type, n.out)
        lw.kernel(x.shape, [x], lambda vals: vals, [], [red])
        return [finish()]


for _n, _k in (("sum", "sum"), ("prod", "prod"), ("max", "max"), ("min", "min"),
               ("any", "any"), ("all", "all")):
    _attach(_n, ReduceRule(_k))
_attach("mean", ReduceRule("sum", mean=True))


def _var(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    """Two passes in float64: the mean, then the mean squared deviation / (N - ddof)."""
    (x,) = args
    axes, t = n.attrs["axis"], n.out.type
    S = x.shape
    keep = tuple(1 if d in axes else k for d, k in enumerate(S))
    N = size_of([S[d] for d in axes])
    src = kd(n.inputs[0].type)

    def store() -> Arr:
        if size_of(keep) == 1:
            return Arr(FLOAT64, keep, (0,) * len(keep), ptr=lw.alloca(F64))
        return lw.temp(keep, FLOAT64)

    total, sq = store(), store()
    lw.kernel(S, [x], lambda v: [lw.cast(v[0], src, FLOAT64)], [], [Red("sum", total, FLOAT64)])
    inv = lw.const(FLOAT64, 1.0 / N if N else float("nan"))

    def dev(v: list[ir.Value]) -> list[ir.Value]:
        d = lw.b.fsub(lw.cast(v[0], src, FLOAT64), lw.b.fmul(v[1], inv))
        return [lw.b.fmul(d, d)]

    lw.kernel(S, [x, total.broadcast(S)], dev, [], [Red("sum", sq, FLOAT64)])
    denom = lw.const(FLOAT64, max(N - float(n.attrs["ddof"]), 0.0))

    def fin(v: ir.Value) -> ir.Value:
        r = lw.b.fdiv(v, denom)
        if n.op == "std":
            r = llvm_math.emit(lw, "sqrt", [r], FLOAT64)
        return lw.cast(r, FLOAT64, kd(t))

    if ks(t) == ():
        return [Arr.scalar(fin(lw.load(sq, ir.Constant(I64, 0))), kd(t))]
    out = lw.new_buffer(n.out)
    lw.kernel(keep, [sq], lambda v: [fin(v[0])], [out.reshape(keep)])  # type: ignore[list-item]
    return [out]


_attach("var", Kernel(_var))
_attach("std", Kernel(_var))


def _argext(is_max: bool) -> Kernel:
    def f(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
        (x,) = args
        axis, t = n.attrs["axis"], n.out.type
        if axis is None:
            flat = x.reshape((x.size,)) or lw.materialize(x).reshape((x.size,))
            assert flat is not None
            xp = flat
        else:
            perm = [d for d in range(len(x.shape)) if d != axis] + [axis]
            xp = x.permute(perm)
        outer, L = xp.shape[:-1], xp.shape[-1]
        src = x.dtype
        b = lw.b
        best = lw.alloca(reg_type(src))
        idx = lw.alloca(I64)
        row = xp.view(outer, xp.strides[:-1])
        step = xp.strides[-1]

        def scan(vals: list[ir.Value]) -> list[ir.Value]:
            base = vals[0]
            b.store(lw.load(xp, base), best)
            b.store(ir.Constant(I64, 0), idx)
            with lw.loop(L) as j:
                v = lw.load(xp, b.add(base, b.mul(j, ir.Constant(I64, step))))
                cur = b.load(best, typ=reg_type(src))
                op = ">" if is_max else "<"
                if src.kind == "f":
                    take = b.fcmp_ordered(op, v, cur)
                    take = b.or_(take, b.and_(b.fcmp_unordered("uno", v, v),
                                              b.fcmp_ordered("ord", cur, cur)))
                elif src.kind == "i":
                    take = b.icmp_signed(op, v, cur)
                else:
                    take = b.icmp_unsigned(op, v, cur)
                b.store(b.select(take, v, cur), best)
                b.store(b.select(take, j, b.load(idx, typ=I64)), idx)
            return [b.load(idx, typ=I64)]

        if t.size == 1 and not outer:
            scan([ir.Constant(I64, 0)])
            r = Arr.scalar(b.load(idx, typ=I64), INT64)
            return [r if ks(t) == () else _splat_to_buffer(lw, r, t, n.out)]
        out = lw.new_buffer(n.out)
        lw.kernel(outer, [], scan, [out.reshape(outer)], addrs=[row])  # type: ignore[list-item]
        return [out]
    return Kernel(f)


def _splat_to_buffer(lw: Lowerer, a: Arr, t: TensorType, dest: Any) -> Arr:
    out = lw.new_buffer(dest)
    lw.copy_into(out, Arr.scalar(a.splat, a.dtype, ks(t)))  # type: ignore[arg-type]
    return out


_attach("argmax", _argext(True))
_attach("argmin", _argext(False))


# ------------------------------------------------------------------ scans
def _scan_step(lw: Lowerer, kind: str, dt: np.dtype, acc: ir.Value, v: ir.Value) -> ir.Value:
    """acc (+ or *) v in dt, in order (np.add.accumulate is sequential: no reassociation);
    float16 rounds each step, as NumPy's accumulate stores each partial result."""
    b = lw.b
    if dt.kind == "b":
        return b.or_(acc, v) if kind == "sum" else b.and_(acc, v)
    if dt.kind == "f":
        return half_result(lw, b.fadd(acc, v) if kind == "sum" else b.fmul(acc, v), dt)
    return b.add(acc, v) if kind == "sum" else b.mul(acc, v)


def _scan(kind: str) -> Kernel:
    """cumsum / cumprod: out[..., 0, ...] = x[..., 0, ...], then out[j] = out[j-1] op x[j]
    along the axis (x cast to the result dtype as it is read). A loop nest over the dims
    before the axis; along the axis a register accumulator when the axis is innermost,
    else row after row over the (contiguous) trailing dims, which vectorizes."""
    def f(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
        (x,) = args
        t = n.out.type
        dt, src = kd(t), x.dtype
        out = lw.new_buffer(n.out)
        if out.size == 0:
            return [out]
        axis = n.attrs["axis"]
        if axis is None:
            x = _reshape_to(lw, x, (x.size,))
            axis = 0
        if not (x.splat is not None or x.is_contig()):
            x = lw.materialize(x)
        dst = out.reshape(x.shape)
        assert dst is not None and dst.is_contig()
        pre, L = x.shape[:axis], x.shape[axis]
        P = size_of(x.shape[axis + 1:])          # trailing elements, contiguous in both
        xs, os_ = ir.Constant(I64, x.strides[axis]), ir.Constant(I64, dst.strides[axis])
        one = ir.Constant(I64, 1)
        b = lw.b

        def read(off: ir.Value) -> ir.Value:
            return lw.cast(lw.load(x, off), src, dt)

        def row(offs: list[ir.Value]) -> list[ir.Value]:
            ox, oo = offs
            if P == 1:
                slot = lw.alloca(reg_type(dt))
                first = read(ox)
                lw.store(dst, oo, first)
                b.store(first, slot)
                if L > 1:
                    with lw.loop(L, "j", start=one) as j:
                        acc = _scan_step(lw, kind, dt, b.load(slot, typ=reg_type(dt)),
                                         read(b.add(ox, b.mul(j, xs))))
                        b.store(acc, slot)
                        lw.store(dst, b.add(oo, b.mul(j, os_)), acc)
                return []
            with lw.loop(P, "k") as k:
                lw.store(dst, b.add(oo, k), read(b.add(ox, k)))
            if L > 1:
                with lw.loop(L, "j", start=one) as j:
                    bx = b.add(ox, b.mul(j, xs))
                    bo = b.add(oo, b.mul(j, os_))
                    bp = b.sub(bo, os_)
                    with lw.loop(P, "k") as k:
                        prev = lw.load(dst, b.add(bp, k))
                        lw.store(dst, b.add(bo, k),
                                 _scan_step(lw, kind, dt, prev, read(b.add(bx, k))))
            return []

        if not pre:
            row([ir.Constant(I64, 0), ir.Constant(I64, 0)])
        else:
            lw.kernel(pre, [], row, [], addrs=[x.view(pre, x.strides[:axis]),
                                               dst.view(pre, dst.strides[:axis])])
        return [out]
    return Kernel(f)


_attach("cumsum", _scan("sum"))
_attach("cumprod", _scan("prod"))


# ------------------------------------------------------------------ sort, argsort
SORT_RUN = 16       # insertion-sorted runs; bottom-up merge passes double them from there


def sort_key_dtype(dt: np.dtype) -> np.dtype:
    """The dtype a line is sorted in: float16 as float32 (exact both ways), bool as uint8
    (0 < 1); every other dtype as itself."""
    if dt == FLOAT16:
        return FLOAT32
    return np.dtype(np.uint8) if dt.kind == "b" else dt


def _sort_less(b: ir.IRBuilder, dt: np.dtype, a: ir.Value, c: ir.Value) -> ir.Value:
    """a < c in NumPy's sort order: NaNs after every number (and equal among themselves)."""
    if dt.kind == "f":
        nan_last = b.and_(b.fcmp_unordered("uno", c, c), b.fcmp_ordered("ord", a, a))
        return b.or_(b.fcmp_ordered("<", a, c), nan_last)
    return b.icmp_signed("<", a, c) if dt.kind == "i" else b.icmp_unsigned("<", a, c)


class _FnBody:
    """Helpers for a hand-written internal function: mutable variables are entry-block
    allocas (SROA makes them registers), loops are while loops over them."""

    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.entry = ir.IRBuilder(fn.append_basic_block("entry"))
        self.b = ir.IRBuilder(fn.append_basic_block("start"))

    def var(self, ty: ir.Type, init: ir.Value) -> ir.Value:
        p = self.entry.alloca(ty)
        self.b.store(init, p)
        return p

    def get(self, p: ir.Value, ty: ir.Type = I64) -> ir.Value:
        return self.b.load(p, typ=ty)

    def while_(self, cond: Callable[[], ir.Value], body: Callable[[], None]) -> None:
        b = self.b
        head, loop, done = (self.fn.append_basic_block(x) for x in ("w.head", "w.body",
                                                                     "w.done"))
        b.branch(head)
        b.position_at_end(head)
        b.cbranch(cond(), loop, done)
        b.position_at_end(loop)
        body()
        b.branch(head)
        b.position_at_end(done)

    def finish(self) -> None:
        self.entry.branch(self.b.block.function.blocks[1])
        self.b.ret_void()


def _sort_fn(lw: Lowerer, dt: np.dtype, arg: bool) -> ir.Function:
    """void jg_sort_<dt>(ptr k, ptr k2, ptr ix, ptr ix2, i64 n): a stable sort of k[0:n]
    (keys of dtype dt; with `arg`, the int64 payload ix[0:n] moves along), O(n log n):
    insertion sort of SORT_RUN-long runs, then bottom-up merges between k and k2 (ix and
    ix2), taking from the right run only when strictly less (stability). The result ends
    in k (and ix); k2 and ix2 are scratch."""
    name = f"jg_{'argsort' if arg else 'sort'}_{dt.name}"
    if name in lw.module.globals:
        return lw.module.globals[name]
    fn = ir.Function(lw.module, ir.FunctionType(ir.VoidType(), [PTR] * 4 + [I64]), name)
    fn.linkage = "internal"
    k, k2, ix, ix2, n = fn.args
    kt = mem_type(dt)
    f = _FnBody(fn)
    b = f.b
    one, run = ir.Constant(I64, 1), ir.Constant(I64, SORT_RUN)

    def at(p: ir.Value, i: ir.Value, ty: ir.Type = kt) -> ir.Value:
        return b.gep(p, [i], inbounds=True, source_etype=ty)

    def lt(x: ir.Value, y: ir.Value) -> ir.Value:
        return _sort_less(b, dt, x, y)

    def smin(x: ir.Value, y: ir.Value) -> ir.Value:
        return b.select(b.icmp_signed("<", x, y), x, y)

    # 1. insertion sort of each run [s, min(s + RUN, n))
    s = f.var(I64, ir.Constant(I64, 0))

    def runs() -> None:
        s0 = f.get(s)
        e = smin(b.add(s0, run), n)
        i = f.var(I64, b.add(s0, one))

        def insert() -> None:
            i0 = f.get(i)
            v = b.load(at(k, i0), typ=kt)
            vi = b.load(at(ix, i0, I64), typ=I64) if arg else None
            j = f.var(I64, i0)

            def more() -> ir.Value:    # j > s and v < k[j - 1] (the read clamped to s)
                j0 = f.get(j)
                inside = b.icmp_signed(">", j0, s0)
                prev = b.load(at(k, b.select(inside, b.sub(j0, one), s0)), typ=kt)
                return b.and_(inside, lt(v, prev))

            def shift() -> None:
                j0 = f.get(j)
                jm = b.sub(j0, one)
                b.store(b.load(at(k, jm), typ=kt), at(k, j0))
                if arg:
                    b.store(b.load(at(ix, jm, I64), typ=I64), at(ix, j0, I64))
                b.store(jm, j)

            f.while_(more, shift)
            j0 = f.get(j)
            b.store(v, at(k, j0))
            if arg:
                b.store(vi, at(ix, j0, I64))
            b.store(b.add(i0, one), i)

        f.while_(lambda: b.icmp_signed("<", f.get(i), e), insert)
        b.store(b.add(s0, run), s)

    f.while_(lambda: b.icmp_signed("<", f.get(s), n), runs)

    # 2. merge passes: runs of width w in src -> runs of 2w in dst, then swap
    src, dst = f.var(PTR, k), f.var(PTR, k2)
    isrc, idst = f.var(PTR, ix), f.var(PTR, ix2)
    w = f.var(I64, run)
    odd = f.var(I1, ir.Constant(I1, 0))      # the latest pass wrote k2 (ix2)

    def merge_pass() -> None:
        w0 = f.get(w)
        sp, dp = f.get(src, PTR), f.get(dst, PTR)
        isp, idp = f.get(isrc, PTR), f.get(idst, PTR)
        lo = f.var(I64, ir.Constant(I64, 0))

        def move(from_: ir.Value, to: ir.Value) -> None:
            b.store(b.load(at(sp, from_), typ=kt), at(dp, to))
            if arg:
                b.store(b.load(at(isp, from_, I64), typ=I64), at(idp, to, I64))

        def merge() -> None:
            lo0 = f.get(lo)
            mid = smin(b.add(lo0, w0), n)
            hi = smin(b.add(mid, w0), n)
            i, j, o = f.var(I64, lo0), f.var(I64, mid), f.var(I64, lo0)

            def both() -> ir.Value:
                return b.and_(b.icmp_signed("<", f.get(i), mid), b.icmp_signed("<", f.get(j), hi))

            def step() -> None:
                i0, j0, o0 = f.get(i), f.get(j), f.get(o)
                a, c = b.load(at(sp, i0), typ=kt), b.load(at(sp, j0), typ=kt)
                right = lt(c, a)                  # equal keys: the left run first
                b.store(b.select(right, c, a), at(dp, o0))
                if arg:
                    ia = b.load(at(isp, i0, I64), typ=I64)
                    ic = b.load(at(isp, j0, I64), typ=I64)
                    b.store(b.select(right, ic, ia), at(idp, o0, I64))
                r = b.zext(right, I64)
                b.store(b.add(i0, b.sub(one, r)), i)
                b.store(b.add(j0, r), j)
                b.store(b.add(o0, one), o)

            f.while_(both, step)
            tail(i, mid, o)                       # what is left of either run
            tail(j, hi, o)
            b.store(b.add(lo0, b.add(w0, w0)), lo)

        def tail(p: ir.Value, end: ir.Value, o: ir.Value) -> None:
            """dst[o++] = src[p++] while p < end (p, o: variables)."""
            def rest() -> None:
                p0, o0 = f.get(p), f.get(o)
                move(p0, o0)
                b.store(b.add(p0, one), p)
                b.store(b.add(o0, one), o)
            f.while_(lambda: b.icmp_signed("<", f.get(p), end), rest)

        f.while_(lambda: b.icmp_signed("<", f.get(lo), n), merge)
        b.store(dp, src)
        b.store(sp, dst)
        b.store(idp, isrc)
        b.store(isp, idst)
        b.store(b.xor(f.get(odd, I1), ir.Constant(I1, 1)), odd)
        b.store(b.add(w0, w0), w)

    f.while_(lambda: b.icmp_signed("<", f.get(w), n), merge_pass)

    # 3. an odd number of passes left the result in k2 (ix2): copy it back
    final, ifinal = f.get(src, PTR), f.get(isrc, PTR)
    c = f.var(I64, ir.Constant(I64, 0))

    def back() -> None:
        c0 = f.get(c)
        b.store(b.load(at(final, c0), typ=kt), at(k, c0))
        if arg:
            b.store(b.load(at(ifinal, c0, I64), typ=I64), at(ix, c0, I64))
        b.store(b.add(c0, one), c)

    moved = f.get(odd, I1)
    f.while_(lambda: b.and_(moved, b.icmp_signed("<", f.get(c), n)), back)
    f.finish()
    return fn


def _sort_rule(arg: bool) -> Kernel:
    """sort / argsort: per line along the axis (axis None: the flat array) copy it into a
    contiguous key buffer (and 0..L-1 into an index buffer), sort it with _sort_fn, write
    the keys (sort) or indices (argsort) to the output's line. Scratch buffers are reused
    from line to line (one line at a time)."""
    def f(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
        (x,) = args
        out = lw.new_buffer(n.out)
        if out.size == 0:
            return [out]
        axis = n.attrs["axis"]
        if axis is None:
            x = _reshape_to(lw, x, (x.size,))
            axis = 0
        dst = out.reshape(x.shape)
        assert dst is not None
        perm = [d for d in range(len(x.shape)) if d != axis] + [axis]
        xp, dp = x.permute(perm), dst.permute(perm)
        outer, L = xp.shape[:-1], xp.shape[-1]
        kdt = sort_key_dtype(x.dtype)
        keys, keys2 = lw.temp((L,), kdt), lw.temp((L,), kdt)
        idx, idx2 = (lw.temp((L,), INT64), lw.temp((L,), INT64)) if arg else (keys, keys2)
        fn = _sort_fn(lw, kdt, arg)
        xs, ds = ir.Constant(I64, xp.strides[-1]), ir.Constant(I64, dp.strides[-1])
        b = lw.b

        def line(offs: list[ir.Value]) -> list[ir.Value]:
            ox, od = offs
            with lw.loop(L, "j") as j:
                v = lw.load(xp, b.add(ox, b.mul(j, xs)))
                lw.store(keys, j, lw.cast(v, x.dtype, kdt))
                if arg:
                    lw.store(idx, j, j)
            if L > 1:
                lw.call(fn, [keys.ptr, keys2.ptr, idx.ptr, idx2.ptr, ir.Constant(I64, L)])
            with lw.loop(L, "j") as j:
                r = lw.load(idx, j) if arg else lw.cast(lw.load(keys, j), kdt, x.dtype)
                lw.store(dp, b.add(od, b.mul(j, ds)), r)
            return []

        if not outer:
            line([ir.Constant(I64, 0), ir.Constant(I64, 0)])
        else:
            lw.kernel(outer, [], line, [], addrs=[xp.view(outer, xp.strides[:-1]),
                                                 dp.view(outer, dp.strides[:-1])])
        return [out]
    return Kernel(f)


_attach("sort", _sort_rule(False))
_attach("argsort", _sort_rule(True))


# ------------------------------------------------------------------ matmul
def _blas_layout(r: int, c: int, s0: int, s1: int) -> tuple[str, int] | None:
    """How BLAS (column-major) sees a row-major r x c operand with element strides
    (s0, s1): ('N', ld) for a row-major layout, ('T', ld) for a transposed one."""
    if c == 1 or s1 == 1:
        ld = s0 if r > 1 else max(c, 1)
        if ld >= max(c, 1):
            return "N", ld
    if r == 1 or s0 == 1:
        ld = s1 if c > 1 else max(r, 1)
        if ld >= max(r, 1):
            return "T", ld
    return None


def _operands(lw: Lowerer, args: list[Arr], dt: np.dtype
              ) -> tuple[Arr, Arr, tuple[int, int, int], tuple[int, ...]]:
    """Both operands in dt with 1-D ones seen as a row / a column: (A, B, (M, K, N), the
    broadcast batch shape)."""
    A, B = (lw.convert(a, dt) for a in args)
    if len(A.shape) == 1:
        A = A.view((1,) + A.shape, (0,) + A.strides)
    if len(B.shape) == 1:
        B = B.view(B.shape + (1,), B.strides + (0,))
    batch = tuple(np.broadcast_shapes(A.shape[:-2], B.shape[:-2]))
    return A, B, (A.shape[-2], A.shape[-1], B.shape[-1]), batch


def _matmul(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    t = n.out.type
    dt = kd(t)
    if dt == FLOAT16:      # NumPy's float16 matmul sums in float: so do we, in float32
        return [_half_matmul(lw, n, args)]
    A, B, (M, K, N), batch = _operands(lw, args, dt)
    full = batch + (M, N)
    out = lw.new_buffer(n.out)
    C = out.reshape(full)
    assert C is not None
    if size_of(full) == 0:
        return [out]
    if K == 0:
        lw.fill(C, lw.const(dt, 0))
        return [out]
    if dt.kind == "f" and lw.blas_int and max(M, N, K) < 2 ** 31:
        _blas_matmul(lw, A, B, C, batch, M, N, K, dt)
    else:
        _loop_matmul(lw, A.broadcast(batch + (M, K)), B.broadcast(batch + (K, N)), C, batch,
                     M, N, K, dt)
    return [out]


def _half_matmul(lw: Lowerer, n: Node, args: list[Arr]) -> Arr:
    """float16 matmul: operands widened to float32, the float32 product rounded once."""
    A, B, (M, K, N), batch = _operands(lw, args, FLOAT32)
    full = batch + (M, N)
    out = lw.new_buffer(n.out)
    if size_of(full) == 0:
        return out
    C = lw.temp(full, FLOAT32)
    if K == 0:
        lw.fill(C, lw.const(FLOAT32, 0))
    elif lw.blas_int and max(M, N, K) < 2 ** 31:
        _blas_matmul(lw, A, B, C, batch, M, N, K, FLOAT32)
    else:
        _loop_matmul(lw, A.broadcast(batch + (M, K)), B.broadcast(batch + (K, N)), C, batch,
                     M, N, K, FLOAT32)
    dst = out.reshape(full)
    assert dst is not None
    lw.copy_into(dst, C)
    return out


def _blas_matmul(lw: Lowerer, A: Arr, B: Arr, C: Arr, batch: tuple[int, ...], M: int,
                 N: int, K: int, dt: np.dtype) -> None:
    def prep(X: Arr, r: int, c: int) -> tuple[Arr, tuple[str, int]]:
        lay = None if X.splat is not None else _blas_layout(r, c, X.strides[-2], X.strides[-1])
        if lay is None:
            X = lw.materialize(X.view(X.shape, X.strides))
            lay = _blas_layout(r, c, X.strides[-2], X.strides[-1])
        assert lay is not None
        return X, lay

    A, (ta, lda) = prep(A, M, K)
    B, (tb, ldb) = prep(B, K, N)
    A = A.broadcast(batch + (M, K))
    B = B.broadcast(batch + (K, N))
    name = "jg_dgemm" if dt.itemsize == 8 else "jg_sgemm"
    gemm = lw.declare(name, ir.VoidType(), [PTR] * 13)
    lw.abi.symbols[name] = ("blas", name[3:])
    b = lw.b
    IB = ir.IntType(lw.blas_int)   # BLAS integer: 32 (LP64) or 64 bits (ILP64)
    ety = mem_type(dt)

    def cell(ty: ir.Type, v: ir.Value) -> ir.Value:
        p = lw.alloca(ty)
        b.store(v, p)
        return p

    chars = {"N": 78, "T": 84}
    fixed = [cell(ir.IntType(8), ir.Constant(ir.IntType(8), chars[tb])),
             cell(ir.IntType(8), ir.Constant(ir.IntType(8), chars[ta])),
             cell(IB, ir.Constant(IB, N)), cell(IB, ir.Constant(IB, M)),
             cell(IB, ir.Constant(IB, K)), cell(ety, lw.const(dt, 1.0))]
    ldbp, ldap = cell(IB, ir.Constant(IB, ldb)), cell(IB, ir.Constant(IB, lda))
    beta, ldc = cell(ety, lw.const(dt, 0.0)), cell(IB, ir.Constant(IB, max(N, 1)))

    def one(offs: list[ir.Value]) -> list[ir.Value]:
        pa, pb, pc = (lw.elem_ptr(X, o) for X, o in zip((A, B, C), offs))
        lw.call(gemm, fixed[:6] + [pb, ldbp, pa, ldap, beta, pc, ldc])
        return []

    _batch_loop(lw, batch, [A, B, C], one)


def _batch_loop(lw: Lowerer, batch: tuple[int, ...], arrs: list[Arr],
                f: Callable[[list[ir.Value]], list[ir.Value]]) -> None:
    views = [a.view(batch, a.strides[:len(batch)]) for a in arrs]
    lw.kernel(batch, [], f, [], addrs=views)


def _loop_matmul(lw: Lowerer, A: Arr, B: Arr, C: Arr, batch: tuple[int, ...], M: int,
                 N: int, K: int, dt: np.dtype) -> None:
    """C[i, :] += A[i, k] * B[k, :] (i, k, j order: the inner loop is unit-stride on C)."""
    lw.fill(C, lw.const(dt, 0))
    b = lw.b

    def one(offs: list[ir.Value]) -> list[ir.Value]:
        oa, ob, oc = offs
        with lw.loop(M) as i, lw.loop(K) as k:
            a = lw.load(A, _off(lw, oa, [(i, A.strides[-2]), (k, A.strides[-1])]))
            with lw.loop(N) as j:
                pb = _off(lw, ob, [(k, B.strides[-2]), (j, B.strides[-1])])
                pc = _off(lw, oc, [(i, C.strides[-2]), (j, C.strides[-1])])
                x, c = lw.load(B, pb), lw.load(C, pc)
                if dt.kind == "b":
                    r = b.or_(c, b.and_(a, x))
                elif dt.kind == "f":
                    r = b.fadd(c, b.fmul(a, x))
                else:
                    r = b.add(c, b.mul(a, x))
                lw.store(C, pc, r)
        return []

    _batch_loop(lw, batch, [A, B, C], one)


def _off(lw: Lowerer, base: ir.Value, terms: list[tuple[ir.Value, int]]) -> ir.Value:
    for i, s in terms:
        if s:
            base = lw.b.add(base, lw.b.mul(i, ir.Constant(I64, s)))
    return base


_attach("matmul", Kernel(_matmul))


# ------------------------------------------------------------------ shape ops (views)
def _transpose(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    return [args[0].permute(n.attrs["axes"])]


def _reshape_to(lw: Lowerer, x: Arr, shape: tuple[int, ...]) -> Arr:
    v = x.reshape(shape)
    if v is None:
        v = lw.materialize(x).reshape(shape)
    assert v is not None
    return v


def _expand_dims(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    x, t = args[0], n.out.type
    it = iter(zip(x.shape, x.strides))
    shape, strides = [], []
    for d in range(len(ks(t))):
        if d in n.attrs["axis"]:
            shape.append(1)
            strides.append(0)
        else:
            k, s = next(it)
            shape.append(k)
            strides.append(s)
    return [x.view(shape, strides)]


def _squeeze(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    x = args[0]
    keep = [d for d in range(len(x.shape)) if d not in n.attrs["axis"]]
    return [x.view([x.shape[d] for d in keep], [x.strides[d] for d in keep])]


def _sum_to_shape(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    x, t = args[0], n.out.type
    lead = len(x.shape) - len(ks(t))
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(ks(t))
                                      if d == 1 and x.shape[lead + i] != 1)
    if not axes:
        return [_reshape_to(lw, x, ks(t))]
    red, finish = make_acc(lw, "sum", False, x.shape, axes, x.dtype, t, n.out)
    lw.kernel(x.shape, [x], lambda vals: vals, [], [red])
    return [finish()]


def _copy(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    x = args[0]
    if x.shape == ():
        return [x]
    out = lw.new_buffer(n.out)
    lw.copy_into(out, x)
    return [out]


_attach("transpose", Kernel(_transpose))
_attach("reshape", Kernel(lambda lw, n, a: [_reshape_to(lw, a[0], ks(n.out.type))]))
_attach("expand_dims", Kernel(_expand_dims))
_attach("squeeze", Kernel(_squeeze))
_attach("broadcast_to", Kernel(lambda lw, n, a: [a[0].broadcast(ks(n.out.type))]))
_attach("sum_to_shape", Kernel(_sum_to_shape))
_attach("copy", Kernel(_copy))


def _concatenate(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    t = n.out.type
    out = lw.new_buffer(n.out)
    axis = n.attrs["axis"]
    if axis is None:
        args = [_reshape_to(lw, a, (a.size,)) for a in args]
        axis = 0
    off = 0
    for a in args:
        if a.size:
            ptr = lw.elem_ptr(out, ir.Constant(I64, off * out.strides[axis]))
            lw.copy_into(out.view(a.shape, out.strides, ptr), a)
        off += a.shape[axis]
    assert off == ks(t)[axis]
    return [out]


def _stack(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    out = lw.new_buffer(n.out)
    axis = n.attrs["axis"]
    keep = [d for d in range(len(out.shape)) if d != axis]
    for i, a in enumerate(args):
        ptr = lw.elem_ptr(out, ir.Constant(I64, i * out.strides[axis]))
        if a.size:
            lw.copy_into(out.view(a.shape, [out.strides[d] for d in keep], ptr), a)
    return [out]


_attach("concatenate", Kernel(_concatenate))
_attach("stack", Kernel(_stack))


# ------------------------------------------------------------------ getitem
def _getitem_check(n: Node) -> str | None:
    if any(kd(v.type).kind == "b" for v in n.inputs[1:]):
        return "getitem with a boolean index"
    return None


def _several_advanced(n: Node) -> bool:
    """Whether n's index has array indices that NumPy combines with others: more than one
    array, or an array with integers (which then index as 0-d arrays)."""
    arrays = sum(ks(v.type) != () for v in n.inputs[1:])
    scalars = len(n.inputs) - 1 - arrays + sum(e[0] == "int" for e in n.attrs["index"])
    return arrays > 1 or (arrays == 1 and scalars > 0)


def _getitem(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    """Basic indexing is a view (static offset + run-time offsets, bounds-checked: an
    index out of range leaves with ERR_INDEX, which llvm_jit raises as IndexError). One
    integer-array index gathers through a loop nest, bounds-checked per element; several
    (arrays broadcast together, integers among them) gather through _advanced."""
    if _several_advanced(n):
        plan = _advanced(lw, args[0], n.attrs["index"], args[1:], n.inputs[1:])
        assert plan.shape == ks(n.out.type), (plan.shape, n.out.type)
        out = lw.new_buffer(n.out)
        _through_advanced(lw, plan, [], lambda off, vals: [lw.load(plan.rest, off)], [out])
        return [out]
    view, adv = _index_view(lw, args[0], n.attrs["index"], args[1:], n.inputs[1:])
    if adv is None:
        return [view]
    return [_gather(lw, n, view, *adv)]


@dataclass
class _AdvPlan:
    """x[index] with advanced indices: the result shape; `rest`, x viewed over that shape
    (the basic dims' strides, 0 along the broadcast index dims, static and scalar
    offsets applied); per index array its view over the result shape, its dtype, and
    the size, element stride and number of the dim of x it indexes."""
    shape: tuple[int, ...]
    rest: Arr
    arrays: list[tuple[Arr, np.dtype, int, int, int]]


def _advanced(lw: Lowerer, x: Arr, index_attr: tuple, dargs: Sequence[Arr],
              dvals: Sequence[Any]) -> _AdvPlan:
    """NumPy's advanced indexing: index arrays (and integers) broadcast together into
    one block of result dims, placed where the first of them stands when they are
    adjacent in the index, else first (an ellipsis of no dims does not separate them)."""
    dyn = list(zip(dargs, dvals))
    index = list(index_attr)
    used = sum(1 for e in index if e[0] in ("int", "slice", "value"))
    if not any(e[0] == "ellipsis" for e in index):
        index.append(("ellipsis",))
    b = lw.b
    shape: list[int] = []
    strides: list[int] = []
    arrays: list[tuple[Arr, np.dtype, int, int, int]] = []
    off, d = 0, 0
    dyn_off: ir.Value | None = None
    first: int | None = None
    state = "before"                # before -> run -> after (-> split: result dims first)
    for e in index:
        kind = e[0]
        if kind in ("int", "value"):
            if state == "before":
                first, state = len(shape), "run"
            elif state == "after":
                state = "split"
            if kind == "int":       # static: in range (the shape rule checked it)
                off += (e[1] + x.shape[d] if e[1] < 0 else e[1]) * x.strides[d]
            else:
                a, v = dyn.pop(0)
                if ks(v.type) != ():
                    arrays.append((a, kd(v.type), x.shape[d], x.strides[d], d))
                else:               # a run-time integer: checked once, before any loop
                    i = lw.cast(a.splat, kd(v.type), INT64)
                    j = _wrap_index(lw, i, kd(v.type), x.shape[d], d)
                    if x.strides[d]:
                        t = b.mul(j, ir.Constant(I64, x.strides[d]))
                        dyn_off = t if dyn_off is None else b.add(dyn_off, t)
            d += 1
            continue
        if kind == "ellipsis":
            k = len(x.shape) - used
            if k == 0:
                continue
            shape += x.shape[d:d + k]
            strides += x.strides[d:d + k]
            d += k
        elif kind == "none":
            shape.append(1)
            strides.append(0)
        else:
            start, stop, step = slice(e[1], e[2], e[3]).indices(x.shape[d])
            shape.append(len(range(start, stop, step)))
            strides.append(x.strides[d] * step)
            off += start * x.strides[d] if shape[-1] else 0
            d += 1
        if state == "run":
            state = "after"
    assert first is not None
    p = 0 if state == "split" else first
    B = tuple(np.broadcast_shapes(*[a.shape for a, *_ in arrays]))
    out_shape = tuple(shape[:p]) + B + tuple(shape[p:])
    views = []
    for a, dt, size, stride, dim in arrays:
        ab = a.broadcast(B)
        views.append((ab.view(out_shape, (0,) * p + ab.strides + (0,) * (len(shape) - p)),
                      dt, size, stride, dim))
    rest_strides = tuple(strides[:p]) + (0,) * len(B) + tuple(strides[p:])
    if x.splat is not None:
        rest = Arr.scalar(x.splat, x.dtype, out_shape)
    else:
        total = ir.Constant(I64, off) if dyn_off is None else \
            b.add(dyn_off, ir.Constant(I64, off))
        ptr = lw.elem_ptr(x, total) if (off or dyn_off is not None) else x.ptr
        rest = x.view(out_shape, rest_strides, ptr)
    return _AdvPlan(out_shape, rest, views)


def _wrap_index(lw: Lowerer, i: ir.Value, dt: np.dtype, size: int, dim: int) -> ir.Value:
    """i (an int64 register holding an index of dtype dt) made non-negative, leaving with
    ERR_INDEX (IndexError: index, dim, size) when out of range. Unsigned indices never
    wrap (a uint64 above 2**63 is out of range, not negative)."""
    b = lw.b
    n_ = ir.Constant(I64, size)
    j = i if dt.kind == "u" else b.select(b.icmp_signed("<", i, ir.Constant(I64, 0)),
                                          b.add(i, n_), i)
    lw.fail_if(b.icmp_unsigned(">=", j, n_), ERR_INDEX, [i, ir.Constant(I64, dim), n_])
    return j


def _through_advanced(lw: Lowerer, plan: _AdvPlan, ins: list[Arr],
                      f: Callable[[ir.Value, list[ir.Value]], list[ir.Value]],
                      outs: list[Arr]) -> None:
    """A loop nest over plan.shape that hands f the element offset into plan.rest
    selected by every index array (each bounds-checked), and the values of `ins`."""
    b = lw.b
    nin = len(ins)

    def g(vals: list[ir.Value]) -> list[ir.Value]:
        off = vals[-1]
        for k, (_, dt, size, stride, dim) in enumerate(plan.arrays):
            j = _wrap_index(lw, lw.cast(vals[nin + k], dt, INT64), dt, size, dim)
            if stride:
                off = b.add(off, b.mul(j, ir.Constant(I64, stride)))
        return f(off, vals[:nin])

    lw.kernel(plan.shape, ins + [a for a, *_ in plan.arrays], g, outs, addrs=[plan.rest])


def _index_view(lw: Lowerer, x: Arr, index_attr: tuple, dargs: Sequence[Arr],
                dvals: Sequence[Any]) -> tuple[Arr, tuple[int, Arr, TensorType] | None]:
    """x[index] as a view, and (position, index array, its type) of an array index whose
    axis the view keeps whole (the caller gathers or scatters through it)."""
    dyn = list(zip(dargs, dvals))
    index = list(index_attr)
    used = sum(1 for e in index if e[0] in ("int", "slice", "value"))
    if not any(e[0] == "ellipsis" for e in index):
        index.append(("ellipsis",))
    b = lw.b
    shape: list[int] = []
    strides: list[int] = []
    off, d = 0, 0
    dyn_off: ir.Value | None = None
    adv: tuple[int, Arr, TensorType] | None = None
    for e in index:
        kind = e[0]
        if kind == "ellipsis":
            for _ in range(len(x.shape) - used):
                shape.append(x.shape[d])
                strides.append(x.strides[d])
                d += 1
        elif kind == "none":
            shape.append(1)
            strides.append(0)
        elif kind == "int":
            k = e[1] + x.shape[d] if e[1] < 0 else e[1]
            off += k * x.strides[d]
            d += 1
        elif kind == "slice":
            start, stop, step = slice(e[1], e[2], e[3]).indices(x.shape[d])
            shape.append(len(range(start, stop, step)))
            strides.append(x.strides[d] * step)
            off += start * x.strides[d] if shape[-1] else 0
            d += 1
        else:
            a, v = dyn.pop(0)
            if ks(v.type) != ():
                adv = (len(shape), a, v.type)
                shape.append(x.shape[d])
                strides.append(x.strides[d])
                d += 1
                continue
            i = lw.cast(a.splat, kd(v.type), INT64)
            size = ir.Constant(I64, x.shape[d])
            j = b.select(b.icmp_signed("<", i, ir.Constant(I64, 0)), b.add(i, size), i)
            lw.fail_if(b.icmp_unsigned(">=", j, size), ERR_INDEX,
                       [i, ir.Constant(I64, d), size])
            if x.strides[d]:
                t = b.mul(j, ir.Constant(I64, x.strides[d]))
                dyn_off = t if dyn_off is None else b.add(dyn_off, t)
            d += 1
    if x.splat is not None:
        return Arr.scalar(x.splat, x.dtype, shape), adv
    total = ir.Constant(I64, off) if dyn_off is None else b.add(dyn_off, ir.Constant(I64, off))
    ptr = lw.elem_ptr(x, total) if (off or dyn_off is not None) else x.ptr
    return x.view(shape, strides, ptr), adv


def _through_index(lw: Lowerer, view: Arr, pos: int, idx: Arr, it: TensorType,
                   S: tuple[int, ...], ins: list[Arr],
                   f: Callable[[ir.Value, list[ir.Value]], list[ir.Value]],
                   outs: list[Arr]) -> None:
    """A loop nest over S = view.shape[:pos] + idx.shape + view.shape[pos+1:] that hands
    f the element offset into `view` selected by the (bounds-checked) index array."""
    pre, post = view.shape[:pos], view.shape[pos + 1:]
    assert S == pre + idx.shape + post, (S, view.shape, idx.shape)
    ib = idx.view(S, (0,) * len(pre) + idx.strides + (0,) * len(post))
    rest = view.view(S, view.strides[:pos] + (0,) * len(idx.shape) + view.strides[pos + 1:])
    size, stride = view.shape[pos], view.strides[pos]
    b = lw.b

    def g(vals: list[ir.Value]) -> list[ir.Value]:
        i = lw.cast(vals[len(ins)], kd(it), INT64)
        n_ = ir.Constant(I64, size)
        j = b.select(b.icmp_signed("<", i, ir.Constant(I64, 0)), b.add(i, n_), i)
        lw.fail_if(b.icmp_unsigned(">=", j, n_), ERR_INDEX, [i, ir.Constant(I64, pos), n_])
        return f(b.add(vals[-1], b.mul(j, ir.Constant(I64, stride))), vals[:len(ins)])

    lw.kernel(S, ins + [ib], g, outs, addrs=[rest])


def _gather(lw: Lowerer, n: Node, view: Arr, pos: int, idx: Arr, it: TensorType) -> Arr:
    out = lw.new_buffer(n.out)
    _through_index(lw, view, pos, idx, it, ks(n.out.type), [],
                   lambda off, vals: [lw.load(view, off)], [out])
    return out


def _scatter_add(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    """zeros(shape) with g added at [index], repeated indices accumulating (np.add.at):
    one sequential read-modify-write per element of g's broadcast."""
    g, t = args[0], n.out.type
    out = lw.new_buffer(n.out)
    lw.fill(out, lw.const(kd(t), 0))
    src = kd(n.inputs[0].type)
    b = lw.b
    if _several_advanced(n):
        plan = _advanced(lw, out, n.attrs["index"], args[1:], n.inputs[1:])

        def acc(off: ir.Value, vals: list[ir.Value]) -> list[ir.Value]:
            v = lw.cast(vals[0], src, kd(t))
            old = lw.load(plan.rest, off)
            lw.store(plan.rest, off, b.fadd(old, v) if kd(t).kind == "f" else
                     (b.or_(old, v) if kd(t).kind == "b" else b.add(old, v)))
            return []

        _through_advanced(lw, plan, [g.broadcast(plan.shape)], acc, [])
        return [out]
    view, adv = _index_view(lw, out, n.attrs["index"], args[1:], n.inputs[1:])

    def add(off: ir.Value, vals: list[ir.Value]) -> list[ir.Value]:
        v = lw.cast(vals[0], src, kd(t))
        old = lw.load(view, off)
        lw.store(view, off, b.fadd(old, v) if kd(t).kind == "f" else
                 (b.or_(old, v) if kd(t).kind == "b" else b.add(old, v)))
        return []

    if adv is None:
        if view.size:
            lw.kernel(view.shape, [g.broadcast(view.shape)], lambda vals: add(vals[1], vals[:1]),
                      [], addrs=[view])
    else:
        pos, idx, it = adv
        S = view.shape[:pos] + idx.shape + view.shape[pos + 1:]
        _through_index(lw, view, pos, idx, it, S, [g.broadcast(S)], add, [])
    return [out]


_attach("getitem", Kernel(_getitem, check=_getitem_check))
_attach("scatter_add", Kernel(_scatter_add, check=_getitem_check))


# ------------------------------------------------------------------ setitem
def _setitem_check(n: Node) -> str | None:
    if any(kd(v.type).kind == "b" for v in n.inputs[2:]):
        return "setitem with a boolean index"
    return None


def _setitem(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    """x with x[index] = v (v cast to x's dtype, broadcast to x[index]'s shape): x's
    buffer itself when nothing else can still read it (Lowerer.writable: a temporary or
    a loop's carried buffer of this call, never a param or a constant), so a loop writing
    one element per iteration costs O(1) per iteration; else a copy of x. Then v is
    written through getitem's view of it (run-time indices bounds-checked first: an
    index out of range leaves with ERR_INDEX before anything is written), through one
    integer-array index with a loop nest, or through several (_advanced), each element
    checked before its write; with repeated indices the last write wins, as in NumPy."""
    x, v, idx = args[0], args[1], list(args[2:])
    t = n.out.type
    src, dst = kd(n.inputs[1].type), kd(t)
    S = lw.writable(n, n.inputs[0])
    if S is not None:
        out = x
        # what still reads x's buffer (v = x[...] views, an index array in it) is
        # staged first, as NumPy buffers overlapping assignments
        v = lw._fresh_copy(v) if v.base & S else v
        idx = [lw._fresh_copy(a) if a.base & S else a for a in idx]
    else:
        out = lw.new_buffer(n.out)
        lw.copy_into(out, x)
    if _several_advanced(n):
        plan = _advanced(lw, out, n.attrs["index"], idx, n.inputs[2:])

        def put(off: ir.Value, vals: list[ir.Value]) -> list[ir.Value]:
            lw.store(plan.rest, off, lw.cast(vals[0], src, dst))
            return []

        _through_advanced(lw, plan, [v.broadcast(plan.shape)], put, [])
        return [out]
    view, adv = _index_view(lw, out, n.attrs["index"], idx, n.inputs[2:])
    if adv is None:
        if view.size:
            lw.copy_into(view, v.broadcast(view.shape))
        return [out]
    pos, ia, it = adv
    S_ = view.shape[:pos] + ia.shape + view.shape[pos + 1:]

    def put1(off: ir.Value, vals: list[ir.Value]) -> list[ir.Value]:
        lw.store(view, off, lw.cast(vals[0], src, dst))
        return []

    _through_index(lw, view, pos, ia, it, S_, [v.broadcast(S_)], put1, [])
    return [out]


_attach("setitem", Kernel(_setitem, check=_setitem_check))


# ------------------------------------------------------------------ creation
def _fill_value(lw: Lowerer, a: Arr, src: np.dtype, t: TensorType) -> Arr:
    if a.splat is not None and a.shape == ():
        return Arr.scalar(lw.cast(a.splat, src, kd(t)), kd(t), ks(t))
    return lw.convert(a.broadcast(ks(t)), kd(t))


def _const_fill(v: float) -> Kernel:
    return Kernel(lambda lw, n, a: [Arr.scalar(lw.const(kd(n.out.type), v),
                                               kd(n.out.type), ks(n.out.type))])


for _n, _v in (("zeros", 0), ("ones", 1), ("empty", 0), ("zeros_like", 0),
               ("ones_like", 1), ("empty_like", 0)):
    _attach(_n, _const_fill(_v))
_attach("full", Kernel(lambda lw, n, a: [_fill_value(lw, a[0], kd(n.inputs[0].type),
                                                      n.out.type)]))
_attach("full_like", Kernel(lambda lw, n, a: [_fill_value(lw, a[1], kd(n.inputs[1].type),
                                                           n.out.type)]))
for _n in ("arange", "eye", "linspace"):
    _attach(_n, Kernel(lambda lw, n, a: [lw.constant(OPS[n.op].impl(**n.attrs), n.out.type)]))


# ------------------------------------------------------------------ tapes, custom VJPs
def _tape_new(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    from . import llvm_tape
    return [Arr.scalar(llvm_tape.tape_new(lw), INT64)]


def _tape_push(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    from . import llvm_tape
    h, x = args
    hv = lw.cast(h.splat, kd(n.inputs[0].type), INT64)
    nbytes = x.size * x.dtype.itemsize
    if nbytes:
        p = llvm_tape.tape_reserve(lw, hv, nbytes)
        lw.copy_into(Arr.contig(p, x.shape, x.dtype), x)
    return [Arr.scalar(hv, INT64)]


def _tape_pop(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    from . import llvm_tape
    t = n.out.type
    hv = lw.cast(args[0].splat, kd(n.inputs[0].type), INT64)
    nbytes = t.size * kd(t).itemsize
    if not nbytes:
        return [Arr.scalar(lw.const(kd(t), 0), kd(t), ks(t))]
    src = Arr.contig(llvm_tape.tape_take(lw, hv, nbytes), ks(t), kd(t))
    if ks(t) == ():
        return [Arr.scalar(lw.load(src, ir.Constant(I64, 0)), kd(t))]
    out = lw.new_buffer(n.out)   # a copy: a later push may move the tape's buffer
    lw.copy_into(out, src)
    return [out]


def _custom_vjp(lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
    """The forward graph inlined; its first result is the value."""
    fwd = n.attrs["fwd"]
    for p, a in zip(fwd.params, args, strict=True):
        lw.env[p] = lw.convert(a, kd(p.type)) if kd(p.type) != a.dtype else a
    return [lw.lower_block(fwd.body)[0]]


def _custom_check(n: Node) -> str | None:
    from .llvm_jit import LLVMBackend
    fwd = n.attrs["fwd"]
    reasons = LLVMBackend().check(fwd) if fwd is not None else ["custom_vjp without fwd"]
    return "; ".join(reasons) or None


_attach("tape_new", Kernel(_tape_new))
_attach("tape_push", Kernel(_tape_push))
_attach("tape_pop", Kernel(_tape_pop))
_attach("custom_vjp", Kernel(_custom_vjp, check=_custom_check))
_attach("custom_vjp_call", Kernel(lambda lw, n, a: [a[0]]))
_attach("shape", Kernel(lambda lw, n, a: [lw.constant(np.array(a[0].shape, np.int64),
                                                       n.out.type)]))
_attach("ndim", Kernel(lambda lw, n, a: [Arr.scalar(lw.const(INT64, len(a[0].shape)), INT64)]))
_attach("size", Kernel(lambda lw, n, a: [Arr.scalar(lw.const(INT64, a[0].size), INT64)]))


# ------------------------------------------------------------------ fused groups
class FusedPlan:
    """A fused body whose nodes are elementwise rules, broadcast_to views, scalar
    constants and trailing reductions that all reduce the same axes of S."""

    def __init__(self, body: Block, S: tuple[int, ...], reds: list[Node]):
        self.body, self.S, self.reds = body, S, reds

    def emit(self, lw: Lowerer, n: Node, args: list[Arr]) -> list[Arr]:
        body, S = self.body, self.S
        loaded: list[Arr] = []          # operands of the kernel, in load order
        slot: dict[Any, int] = {}       # body value -> operand index
        for p, a in zip(body.params, args, strict=True):
            slot[p] = len(loaded)
            loaded.append(a.broadcast(S) if a.shape != S else a)
            lw.env[p] = a
        for m in body.nodes:
            if m.op == "constant":
                a = lw.constant(m.attrs["value"], m.out.type)
                lw.env[m.out] = a
                slot[m.out] = len(loaded)
                loaded.append(a.broadcast(S))
        results = list(body.results)
        red_of = {r.out: r for r in self.reds}
        outs, out_pos, finals = [], [], {}
        reds = []
        for j, (rv, ov) in enumerate(zip(results, n.outputs, strict=True)):
            if rv in red_of:
                continue
            if rv in slot:                # a captured value passed straight through
                finals[j] = lw.env[rv]
                continue
            outs.append(lw.new_buffer(ov))
            out_pos.append(j)
        red_fin = []
        for r in self.reds:
            rule = OPS[r.op].llvm
            js = [j for j, v in enumerate(results) if v is r.out]
            red, fin = make_acc(lw, rule.kind, rule.mean, S, r.attrs["axis"],
                                kd(r.inputs[0].type), r.out.type, n.outputs[js[0]])
            reds.append(red)
            red_fin.append((js, fin))

        def compute(vals: list[ir.Value]) -> list[ir.Value]:
            env: dict[Any, ir.Value] = {v: vals[i] for v, i in slot.items()}
            for m in body.nodes:
                rule = OPS[m.op].llvm if m.op in OPS else None
                if m.op == "constant" or isinstance(rule, ReduceRule):
                    continue
                if isinstance(rule, Elementwise):
                    env[m.out] = rule.scalar(lw, [env[v] for v in m.inputs],
                                             [v.type for v in m.inputs], kd(m.out.type))
                else:                       # broadcast_to: same element
                    env[m.out] = env[m.inputs[0]]
            return [env[results[j]] for j in out_pos] + [env[r.inputs[0]] for r in self.reds]

        lw.kernel(S, loaded, compute, outs, reds)
        for js, fin in red_fin:
            a = fin()
            for j in js:
                finals[j] = a
        for k, j in enumerate(out_pos):
            finals[j] = outs[k]
        return [finals[j] for j in range(len(results))]


def fused_plan(body: Block) -> FusedPlan | None:
    reds: list[Node] = []
    red_outs: set[Any] = set()
    shapes: list[tuple[int, ...]] = []
    for m in body.nodes:
        if any(v in red_outs for v in m.inputs):
            return None
        if m.op == "constant":
            continue
        rule = OPS[m.op].llvm if m.op in OPS else None
        if isinstance(rule, ReduceRule) and rule.fusable:
            reds.append(m)
            red_outs.add(m.out)
            shapes.append(ks(m.inputs[0].type))
        elif isinstance(rule, Elementwise) or m.op == "broadcast_to":
            shapes.append(ks(m.out.type))
        else:
            return None
    if not shapes:
        return None
    # a reduction nobody reads is dropped (it would need a buffer for no one)
    reds = [r for r in reds if r.out in body.results]
    S = tuple(np.broadcast_shapes(*shapes))
    if any(ks(r.inputs[0].type) != S for r in reds):
        return None
    if len({tuple(r.attrs["axis"]) for r in reds}) > 1:
        return None
    if any(ks(v.type) != () and np.broadcast_shapes(ks(v.type), S) != S
           for v in body.params):
        return None
    return FusedPlan(body, S, reds)


def rule_check(n: Node) -> str | None:
    """Why node n cannot be lowered, or None."""
    rule = OPS[n.op].llvm if n.op in OPS else None
    if rule is None:
        return f"no llvm lowering for {n.op}"
    return rule.check(n)


__all__ = [
    "Elementwise",
    "FusedPlan",
    "Kernel",
    "ReduceRule",
    "compare_dtype",
    "contiguous_strides",
    "fused_plan",
    "rule_check",
]
