"""Vectorizable math for the CPU backend: exp, expm1, log, log1p, tanh, sin, cos and pow as
straight-line LLVM IR (FMA, selects, bit tricks; no tables, no calls), so a loop that uses
them still vectorizes. libm calls stop LLVM's vectorizer; the other transcendental ops
still call libm.

Accuracy (tests/test_llvm_math.py measures it against long double / float64 references
over the whole range): a few ulp in float64; float32 sin/cos/pow are computed in float64
and rounded once, the rest in float32 with float32 polynomials. Special values follow C99
(which is what NumPy gives): inf, -inf, nan, -0.0, overflow to inf, gradual underflow.

Method: Cody-Waite reduction to |r| <= ln2/2 and a polynomial for exp/expm1: k rounds by
adding 1.5*2^mant in one FMA, so k's integer sits in the low bits of that sum (no round or
convert instruction); 2^k is built in the exponent bits, scaled by ldexp where the target
does that in one instruction (AVX-512's vscalef: subnormal and overflowing results round
once), else in two factors. float32 uses minimax polynomials (exp degree 6, expm1 degree
6). fdlibm's s = f/(2+f) series for log; tanh = em / (em + 2), em = expm1(2|x|) (one
division, no cancellation near 0); sin/cos reduced by a three-part pi/2 with FMA;
pow = exp(y*log|x|) carried in double-double in float64.

sin/cos arguments beyond REDUCE_LIMIT need a wider reduction: inside a kernel the fast
code marks them (`Lowerer.guards`), and the kernel reruns the whole loop nest in exact mode
(each element through a branch to libm) only when some element was marked."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir

if TYPE_CHECKING:
    from .llvm_lower import Lowerer

INTRINSIC = {"sqrt": "llvm.sqrt", "fabs": "llvm.fabs", "floor": "llvm.floor",
             "ceil": "llvm.ceil", "rint": "llvm.roundeven", "trunc": "llvm.trunc",
             "exp2": "llvm.exp2", "log2": "llvm.log2", "log10": "llvm.log10"}
LIBM = {"tan": "tan", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh",
        "cosh": "cosh", "arctan2": "atan2", "exp": "exp", "log": "log", "sin": "sin",
        "cos": "cos", "expm1": "expm1", "log1p": "log1p", "tanh": "tanh", "pow": "pow"}
POLY = ("exp", "expm1", "log", "log1p", "tanh", "sin", "cos", "pow")
REDUCE_LIMIT = {64: 2.0 ** 20, 32: 2.0 ** 20}

_PIO2 = (1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33)
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_LN2_HI_F, _LN2_LO_F = 6.9313812256e-01, 9.0580006145e-06


def libm_names() -> list[str]:
    """Every libm symbol this module may call (llvm_jit resolves them)."""
    out = []
    for n in LIBM.values():
        out += [n, n + "f"]
    for n in ("exp2", "log2", "log10"):
        out += [n, n + "f"]
    return out


class _F:
    """Arithmetic on one float type (double or float) with its same-width integer."""

    def __init__(self, lw: Lowerer, ty: ir.Type):
        self.lw, self.b, self.ty = lw, lw.b, ty
        self.bits = 64 if ty == ir.DoubleType() else 32
        self.ity = ir.IntType(self.bits)
        self.mant = 52 if self.bits == 64 else 23
        self.bias = 1023 if self.bits == 64 else 127

    def c(self, x: float) -> ir.Constant:
        return ir.Constant(self.ty, float(x))

    def ic(self, x: int) -> ir.Constant:
        return ir.Constant(self.ity, x)

    def call(self, name: str, *args: ir.Value) -> ir.Value:
        return self.lw.call(self.lw.intrinsic(name, self.ty, len(args)), args)

    def fma(self, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
        return self.call("llvm.fma", a, b, c)

    def poly(self, x: ir.Value, coeffs: Sequence[float]) -> ir.Value:
        """c0 + c1 x + c2 x^2 + ... (Horner with FMA)."""
        acc: ir.Value = self.c(coeffs[-1])
        for k in reversed(coeffs[:-1]):
            acc = self.fma(acc, x, self.c(k))
        return acc

    def add(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fadd(a, b)

    def sub(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fsub(a, b)

    def mul(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fmul(a, b)

    def div(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fdiv(a, b)

    def lt(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered("<", a, b)

    def gt(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered(">", a, b)

    def eq(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.fcmp_ordered("==", a, b)

    def isnan(self, a: ir.Value) -> ir.Value:
        return self.b.fcmp_unordered("uno", a, a)

    def sel(self, c: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.select(c, a, b)

    def abs(self, a: ir.Value) -> ir.Value:
        return self.call("llvm.fabs", a)

    def clamp_nan(self, x: ir.Value, lo: float, hi: float) -> ir.Value:
        """x into [lo, hi], NaN stays NaN (one min and one max instruction each: the
        comparisons are false for NaN, so the select keeps x)."""
        x = self.sel(self.gt(x, self.c(hi)), self.c(hi), x)
        return self.sel(self.lt(x, self.c(lo)), self.c(lo), x)

    def clamp(self, x: ir.Value, lo: float, hi: float) -> ir.Value:
        """x into [lo, hi]; NaN becomes lo (callers patch NaN back in afterwards)."""
        x = self.sel(self.b.fcmp_ordered(">=", x, self.c(lo)), x, self.c(lo))
        return self.sel(self.gt(x, self.c(hi)), self.c(hi), x)

    def toint(self, k: ir.Value) -> ir.Value:
        """An integral float known to be in range -> integer (no poison possible)."""
        return self.b.fptosi(k, self.ity)

    def pow2(self, n: ir.Value) -> ir.Value:
        """2**n for an integer n in the normal exponent range."""
        e = self.b.shl(self.b.add(n, self.ic(self.bias)), self.ic(self.mant))
        return self.b.bitcast(e, self.ty)

    def scale(self, p: ir.Value, n: ir.Value) -> ir.Value:
        """p * 2**n in two exact-or-once-rounded steps (n may exceed one exponent)."""
        n1 = self.b.ashr(n, self.ic(1))
        return self.mul(self.mul(p, self.pow2(n1)), self.pow2(self.b.sub(n, n1)))

    # k = round(x / ln2) by the shifter: fma(x, 1/ln2, 1.5*2^mant) rounds the exact
    # product to an integer (nearest even); k sits in the sum's low mantissa bits
    @property
    def shifter(self) -> float:
        return 1.5 * 2.0 ** self.mant

    def reduce_ln2(self, x: ir.Value) -> tuple[ir.Value, ir.Value]:
        """x = k*ln2 + r, |r| <= ln2/2, for |x| < 2^(mant-2): (j, r) with k in j's low
        bits (see k_of, pow2_of)."""
        sh = self.c(self.shifter)
        j = self.fma(x, self.c(1.4426950408889634), sh)
        kf = self.sub(j, sh)
        hi, lo = (_LN2_HI, _LN2_LO) if self.bits == 64 else (_LN2_HI_F, _LN2_LO_F)
        return j, self.fma(kf, self.c(-lo), self.fma(kf, self.c(-hi), x))

    def k_of(self, j: ir.Value) -> ir.Value:
        """The integer k of reduce_ln2 (i32: what ldexp takes; the shifter's low 32 bits
        are zero in float64)."""
        b = self.b
        bits = b.bitcast(j, self.ity)
        if self.bits == 64:
            return b.trunc(bits, ir.IntType(32))
        return b.sub(bits, self.ic(int(np.float32(self.shifter).view(np.int32))))

    def pow2_of(self, j: ir.Value) -> ir.Value:
        """2^k for the k of reduce_ln2, k in the normal exponent range: shifting j's bits
        up by the mantissa width drops the shifter's and leaves k in the exponent field."""
        e = self.b.add(self.b.shl(self.b.bitcast(j, self.ity), self.ic(self.mant)),
                       self.ic(self.bias << self.mant))
        return self.b.bitcast(e, self.ty)

    def ldexp_j(self, p: ir.Value, j: ir.Value) -> ir.Value:
        """p * 2^k (k of reduce_ln2, |k| <= 1100), rounded once, inf on overflow:
        llvm.ldexp where the target has it as one vector instruction, else scale()."""
        k = self.k_of(j)
        if getattr(self.lw, "vector_ldexp", False):
            i32 = ir.IntType(32)
            f = self.lw.declare(f"llvm.ldexp.{'f64' if self.bits == 64 else 'f32'}.i32",
                                self.ty, [self.ty, i32])
            return self.lw.call(f, [p, k])
        if self.bits == 64:
            k = self.b.sext(k, self.ity)
        return self.scale(p, k)


# ---------------------------------------------------------------------- exp and expm1
_EXP_C64 = [1.0 / float(np.prod(np.arange(1, k + 1, dtype=np.float64))) for k in range(14)]
# float32 minimax on |r| <= ln2/2 (relative error): exp(r) ~ 1 + c1 r + ... + c6 r^6
# (2e-9), expm1(r) ~ r + r^2 (c2 + ... + c6 r^4) (1.3e-8)
_EXP_M32 = [1.0, 1.0, 0.4999999403953552, 0.16666431725025177, 0.04166800156235695,
            0.008374162949621677, 0.001384364441037178]
_EXPM1_M32 = [0.4999999701976776, 0.1666654348373413, 0.04166720062494278,
              0.008366520516574383, 0.0013882521307095885]


def _reduce_ln2(f: _F, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """x = k*ln2 + r with |r| <= ln2/2: (k as float, r)."""
    k = f.call("llvm.roundeven", f.mul(x, f.c(1.4426950408889634)))
    hi, lo = (_LN2_HI, _LN2_LO) if f.bits == 64 else (_LN2_HI_F, _LN2_LO_F)
    r = f.fma(k, f.c(-hi), x)
    return k, f.fma(k, f.c(-lo), r)


def _exp(f: _F, x: ir.Value) -> ir.Value:
    """Clamped where exp is 0 or inf anyway (NaN passes through every step)."""
    lo, hi = (-746.0, 710.0) if f.bits == 64 else (-104.0, 89.0)
    j, r = f.reduce_ln2(f.clamp_nan(x, lo, hi))
    p = f.poly(r, _EXP_C64 if f.bits == 64 else _EXP_M32)
    return f.ldexp_j(p, j)


def _expm1_r(f: _F, r: ir.Value) -> ir.Value:
    """expm1(r) for |r| <= ln2/2: r + r^2 (1/2 + r/6 + ...)."""
    coeffs = _EXP_C64[2:] if f.bits == 64 else _EXPM1_M32
    return f.fma(f.mul(r, r), f.poly(r, coeffs), r)


def _expm1_core(f: _F, x: ir.Value) -> ir.Value:
    """expm1 for x in [lo, big]: 2^k * expm1(r) + (2^k - 1), exact when k == 0."""
    lo, big = (-60.0, 40.0) if f.bits == 64 else (-30.0, 20.0)
    j, r = f.reduce_ln2(f.clamp(x, lo, big))
    s = f.pow2_of(j)
    return f.fma(s, _expm1_r(f, r), f.sub(s, f.c(1.0)))


def _expm1(f: _F, x: ir.Value) -> ir.Value:
    big = 40.0 if f.bits == 64 else 20.0
    r = f.sel(f.gt(x, f.c(big)), _exp(f, x), _expm1_core(f, x))
    r = f.sel(f.eq(x, f.c(0.0)), x, r)                   # -0.0 stays -0.0
    return f.sel(f.isnan(x), x, r)


def _tanh(f: _F, x: ir.Value) -> ir.Value:
    """tanh|x| = em / (em + 2), em = expm1(2|x|), |x| capped where tanh rounds to 1.
    NaN passes through every step (a NaN j gives a finite 2^k: NaN * it stays NaN);
    -0.0 keeps its sign through the copysign.

    float32 reduces with one FMA by ln2 rounded to float32: r is then off by up to
    k * 2e-9, but tanh's sensitivity to z = 2|x| (sech^2 / 2) falls faster than k grows,
    so the result moves by far less than an ulp; its polynomial runs in Estrin form
    (shorter dependency chain, same FMA count)."""
    big = 20.0 if f.bits == 64 else 9.5
    ax = f.abs(x)
    ax = f.sel(f.gt(ax, f.c(big)), f.c(big), ax)
    z = f.add(ax, ax)
    if f.bits == 64:
        j, r = f.reduce_ln2(z)
        er = _expm1_r(f, r)
    else:
        sh = f.c(f.shifter)
        j = f.fma(z, f.c(1.4426950408889634), sh)
        r = f.fma(f.sub(j, sh), f.c(-0.6931471805599453), z)
        r2 = f.mul(r, r)
        c2, c3, c4, c5, c6 = _EXPM1_M32
        lo = f.fma(f.c(c3), r, f.c(c2))
        hi = f.fma(f.c(c6), r2, f.fma(f.c(c5), r, f.c(c4)))
        er = f.fma(r2, f.fma(hi, r2, lo), r)
    s = f.pow2_of(j)
    em = f.fma(s, er, f.sub(s, f.c(1.0)))
    return f.call("llvm.copysign", f.div(em, f.add(em, f.c(2.0))), x)


# ---------------------------------------------------------------------- log and log1p
_LG64 = [6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
         2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
         1.479819860511658591e-01]
_LG32 = [6.6666662693e-01, 4.0000972152e-01, 2.8498786688e-01, 2.4279078841e-01]


def _log_parts(f: _F, x: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
    """x > 0 finite -> (e, f, s): x = 2^e (1 + f), 1+f in [sqrt(1/2), sqrt(2)),
    s = f / (2 + f)."""
    b = f.b
    tiny = 2.2250738585072014e-308 if f.bits == 64 else 1.17549435e-38
    sub = f.lt(x, f.c(tiny))
    shift = 54 if f.bits == 64 else 25
    xs = f.sel(sub, f.mul(x, f.c(2.0 ** shift)), x)
    ix = b.bitcast(xs, f.ity)
    e = b.sub(b.and_(b.lshr(ix, f.ic(f.mant)), f.ic(2 * f.bias + 1)), f.ic(f.bias))
    e = b.sub(e, b.select(sub, f.ic(shift), f.ic(0)))
    mbits = b.or_(b.and_(ix, f.ic((1 << f.mant) - 1)), f.ic(f.bias << f.mant))
    m = b.bitcast(mbits, f.ty)
    up = f.gt(m, f.c(1.4142135623730951))
    m = f.sel(up, f.mul(m, f.c(0.5)), m)
    e = b.add(e, b.zext(up, f.ity))
    fm = f.sub(m, f.c(1.0))
    return b.sitofp(e, f.ty), fm, f.div(fm, f.add(fm, f.c(2.0)))


def _log_core(f: _F, x: ir.Value) -> ir.Value:
    """log for x > 0 finite (fdlibm's e_log / e_logf)."""
    dk, fm, s = _log_parts(f, x)
    z = f.mul(s, s)
    if f.bits == 64:
        w = f.mul(z, z)
        t1 = f.mul(w, f.poly(w, _LG64[1::2]))
        t2 = f.mul(z, f.poly(w, _LG64[0::2]))
        hi, lo = _LN2_HI, _LN2_LO
    else:
        t1 = f.mul(f.mul(z, z), f.poly(f.mul(z, z), _LG32[1::2]))
        t2 = f.mul(z, f.poly(f.mul(z, z), _LG32[0::2]))
        hi, lo = _LN2_HI_F, _LN2_LO_F
    R = f.add(t1, t2)
    hfsq = f.mul(f.mul(fm, fm), f.c(0.5))
    inner = f.sub(hfsq, f.fma(s, f.add(hfsq, R), f.mul(dk, f.c(lo))))
    return f.fma(dk, f.c(hi), f.sub(fm, inner))


def _log_specials(f: _F, x: ir.Value, r: ir.Value) -> ir.Value:
    r = f.sel(f.eq(x, f.c(0.0)), f.c(float("-inf")), r)
    r = f.sel(f.lt(x, f.c(0.0)), f.c(float("nan")), r)
    r = f.sel(f.eq(x, f.c(float("inf"))), x, r)
    return f.sel(f.isnan(x), x, r)


def _log(f: _F, x: ir.Value) -> ir.Value:
    safe = f.sel(f.gt(x, f.c(0.0)), f.sel(f.lt(x, f.c(float("inf"))), x, f.c(1.0)), f.c(1.0))
    return _log_specials(f, x, _log_core(f, safe))


def _log1p(f: _F, x: ir.Value) -> ir.Value:
    """log(u) - ((u - 1) - x) / u with u = 1 + x: the correction restores what rounding
    u lost."""
    u = f.add(x, f.c(1.0))
    ok = f.b.and_(f.gt(u, f.c(0.0)), f.lt(u, f.c(float("inf"))))
    safe = f.sel(ok, u, f.c(1.0))
    r = f.sub(_log_core(f, safe), f.div(f.sub(f.sub(safe, f.c(1.0)), x), safe))
    r = f.sel(ok, r, _log_specials(f, u, r))
    r = f.sel(f.eq(x, f.c(0.0)), x, r)
    return f.sel(f.isnan(x), x, r)


# ---------------------------------------------------------------------- sin and cos
_S = [-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
      2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10]
_C = [4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
      -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11]


def _sincos64(f: _F, x: ir.Value, want_cos: bool) -> ir.Value:
    """float64 sin or cos for |x| <= REDUCE_LIMIT (others are handled by the guard)."""
    b = f.b
    lim = REDUCE_LIMIT[64]
    xs = f.sel(f.lt(f.abs(x), f.c(lim)), x, f.c(0.0))    # no NaN/huge in the reduction
    k = f.call("llvm.roundeven", f.mul(xs, f.c(0.6366197723675814)))
    r = f.fma(k, f.c(-_PIO2[0]), xs)
    r = f.fma(k, f.c(-_PIO2[1]), r)
    r = f.fma(k, f.c(-_PIO2[2]), r)
    z = f.mul(r, r)
    sin_r = f.fma(f.mul(r, z), f.poly(z, _S), r)
    hz = f.mul(z, f.c(0.5))
    w = f.sub(f.c(1.0), hz)
    cos_r = f.add(w, f.fma(f.mul(z, z), f.poly(z, _C), f.sub(f.sub(f.c(1.0), w), hz)))
    q = b.and_(b.add(f.toint(k), f.ic(1 if want_cos else 0)), f.ic(3))
    odd = b.trunc(q, ir.IntType(1))
    val = f.sel(odd, cos_r, sin_r)
    neg = b.icmp_unsigned(">=", q, f.ic(2))
    val = f.sel(neg, b.fneg(val), val)
    if not want_cos:
        val = f.sel(f.eq(x, f.c(0.0)), x, val)          # sin(-0.0) == -0.0
    inf = f.eq(f.abs(x), f.c(float("inf")))
    val = f.sel(inf, f.c(float("nan")), val)
    return f.sel(f.isnan(x), x, val)


def _sincos(lw: Lowerer, x: ir.Value, dt: np.dtype, want_cos: bool) -> ir.Value:
    ty = x.type
    f64 = _F(lw, ir.DoubleType())
    wide = x if dt.itemsize == 8 else lw.b.fpext(x, ir.DoubleType())
    fast = _sincos64(f64, wide, want_cos)
    if dt.itemsize != 8:
        fast = lw.b.fptrunc(fast, ty)
    huge = lw.b.fcmp_ordered(">=", f64.abs(wide), f64.c(REDUCE_LIMIT[64]))
    huge = lw.b.and_(huge, lw.b.fcmp_ordered("<", f64.abs(wide), f64.c(float("inf"))))
    if lw.guards is not None:          # inside a kernel: rerun exactly only if needed
        lw.guards.append(huge)
        return fast
    return _branch_libm(lw, huge, fast, "cos" if want_cos else "sin", [x], dt)


def _branch_libm(lw: Lowerer, cond: ir.Value, fast: ir.Value, name: str,
                 args: Sequence[ir.Value], dt: np.dtype) -> ir.Value:
    b = lw.b
    slow_bb = lw.fn.append_basic_block("libm")
    join = lw.fn.append_basic_block("libm.join")
    here = b.block
    b.cbranch(cond, slow_bb, join)
    b.position_at_end(slow_bb)
    slow = _libm(lw, name, args, dt)
    b.branch(join)
    b.position_at_end(join)
    phi = b.phi(fast.type)
    phi.add_incoming(fast, here)
    phi.add_incoming(slow, slow_bb)
    return phi


# ---------------------------------------------------------------------- pow
def _two_sum(f: _F, a: ir.Value, c: ir.Value) -> tuple[ir.Value, ir.Value]:
    s = f.add(a, c)
    bb = f.sub(s, a)
    return s, f.add(f.sub(a, f.sub(s, bb)), f.sub(c, bb))


def _log_dd(f: _F, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """log(x) for x > 0 finite as a double-double (about 2^-65 relative)."""
    dk, fm, s = _log_parts(f, x)
    # s = f/(2+f) exactly as s + s_lo: the residual f - s(2+f) by FMA (f - 2s is exact)
    s_lo = f.div(f.fma(f.b.fneg(s), fm, f.sub(fm, f.mul(s, f.c(2.0)))), f.add(fm, f.c(2.0)))
    z = f.mul(s, s)
    # log1p(f) = 2s + 2s^3/3 + 2s^5/5 + ... = 2s + s z P(z)
    tail = f.mul(f.mul(s, z), f.poly(z, [2.0 / (2 * k + 3) for k in range(9)]))
    hi, lo = _two_sum(f, f.mul(dk, f.c(_LN2_HI)), f.mul(s, f.c(2.0)))
    lo = f.add(lo, f.add(f.add(f.mul(s_lo, f.c(2.0)), tail), f.mul(dk, f.c(_LN2_LO))))
    return _two_sum(f, hi, lo)


def _exp_dd(f: _F, hi: ir.Value, lo: ir.Value) -> ir.Value:
    """exp(hi + lo), |lo| << |hi|; overflow to inf, underflow to 0."""
    h = f.clamp(hi, -746.0, 710.0)
    k, r = _reduce_ln2(f, h)
    r = f.add(r, lo)
    return f.scale(f.poly(r, _EXP_C64), f.toint(k))


def _pow(lw: Lowerer, x: ir.Value, y: ir.Value, dt: np.dtype) -> ir.Value:
    """C99 pow. float64 in double-double; float32 through the float64 code, rounded once."""
    b = lw.b
    if dt.itemsize != 8:
        r = _pow(lw, b.fpext(x, ir.DoubleType()), b.fpext(y, ir.DoubleType()),
                 np.dtype(np.float64))
        return b.fptrunc(r, x.type)
    f = _F(lw, ir.DoubleType())
    inf, nan = float("inf"), float("nan")
    ax = f.abs(x)
    finite_pos = b.and_(f.gt(ax, f.c(0.0)), f.lt(ax, f.c(inf)))
    yf = f.sel(f.lt(f.abs(y), f.c(inf)), y, f.c(0.0))
    lhi, llo = _log_dd(f, f.sel(finite_pos, ax, f.c(1.0)))
    phi = f.mul(yf, lhi)
    plo = f.fma(yf, llo, f.fma(yf, lhi, b.fneg(phi)))
    plo = f.sel(f.lt(f.abs(phi), f.c(1e4)), plo, f.c(0.0))   # overflowing: no tail
    mag = _exp_dd(f, phi, plo)
    y_int = f.eq(f.call("llvm.roundeven", y), y)
    half = f.mul(y, f.c(0.5))
    y_odd = b.and_(y_int, b.fcmp_unordered("!=", f.call("llvm.roundeven", half), half))
    xneg = b.icmp_signed("<", b.bitcast(x, f.ity), f.ic(0))   # sign bit (-0.0 too)
    flip = b.and_(xneg, y_odd)
    ypos = f.gt(y, f.c(0.0))
    # |x| == 0: 0 for y > 0, inf for y < 0; |x| == inf: the other way round
    zero_or_inf = f.sel(b.xor(f.eq(ax, f.c(0.0)), ypos), f.c(inf), f.c(0.0))
    mag = f.sel(finite_pos, mag, zero_or_inf)
    # y == +-inf: 1 if |x| == 1, else inf or 0 by whether |x| > 1 agrees with y > 0
    yinf = f.eq(f.abs(y), f.c(inf))
    grow = b.xor(f.lt(ax, f.c(1.0)), ypos)
    mag = f.sel(yinf, f.sel(f.eq(ax, f.c(1.0)), f.c(1.0), f.sel(grow, f.c(inf), f.c(0.0))), mag)
    r = f.sel(flip, b.fneg(mag), mag)
    bad = b.and_(b.and_(f.lt(x, f.c(0.0)), b.not_(y_int)), b.not_(yinf))
    bad = b.and_(bad, f.gt(x, f.c(-inf)))     # (-inf) ** 0.5 is inf, not nan
    r = f.sel(bad, f.c(nan), r)
    r = f.sel(b.or_(f.isnan(x), f.isnan(y)), f.c(nan), r)
    one = b.or_(f.eq(y, f.c(0.0)), f.eq(x, f.c(1.0)))
    return f.sel(one, f.c(1.0), r)


def powi(lw: Lowerer, x: ir.Value, n: ir.Value, dt: np.dtype,
         unsigned: bool = False) -> ir.Value:
    """x ** n for a run-time integer n (i64; `unsigned`: a uint64, never negative):
    square and multiply over the bits of |n| (branch-free, vectorizes) when |n| < 16 and
    the result stays in the normal range; other elements take C99 pow of float(n), as
    NumPy casts n (the kernel's exact rerun, see the module docstring)."""
    b = lw.b
    f = _F(lw, x.type)
    if unsigned:
        neg: ir.Value = ir.Constant(ir.IntType(1), 0)
        m = n
    else:
        neg = b.icmp_signed("<", n, ir.Constant(n.type, 0))
        m = b.select(neg, b.sub(ir.Constant(n.type, 0), n), n)
    acc: ir.Value = f.c(1.0)
    p = x
    for bit in range(4):
        on = b.trunc(b.lshr(m, ir.Constant(n.type, bit)), ir.IntType(1))
        acc = f.sel(on, f.mul(acc, p), acc)
        if bit < 3:
            p = f.mul(p, p)
    r = f.sel(neg, f.div(f.c(1.0), acc), acc)
    small = b.icmp_unsigned("<", m, ir.Constant(n.type, 16))
    ax = f.abs(x)
    finite = b.and_(f.gt(ax, f.c(0.0)), f.lt(ax, f.c(float("inf"))))
    tiny = 2.0 ** -1000 if f.bits == 64 else 2.0 ** -120
    edge = b.and_(finite, b.or_(f.eq(acc, f.c(float("inf"))), f.lt(acc, f.c(tiny))))
    slow = b.or_(b.not_(small), edge)
    if lw.guards is not None:
        lw.guards.append(slow)
        return r
    here = b.block
    slow_bb = lw.fn.append_basic_block("powi.slow")
    join = lw.fn.append_basic_block("powi.join")
    b.cbranch(slow, slow_bb, join)
    b.position_at_end(slow_bb)
    exact = _pow(lw, x, b.uitofp(n, x.type) if unsigned else b.sitofp(n, x.type), dt)
    slow_end = b.block
    b.branch(join)
    b.position_at_end(join)
    phi = b.phi(x.type)
    phi.add_incoming(r, here)
    phi.add_incoming(exact, slow_end)
    return phi


# ---------------------------------------------------------------------- dispatch
def _libm(lw: Lowerer, name: str, args: Sequence[ir.Value], dt: np.dtype) -> ir.Value:
    ty = args[0].type
    fname = LIBM[name] + ("f" if np.dtype(dt).itemsize == 4 else "")
    return lw.call(lw.declare(fname, ty, [ty] * len(args)), args)


def emit(lw: Lowerer, name: str, args: Sequence[ir.Value], dt: np.dtype) -> ir.Value:
    """One register: name(*args) in dtype dt (float32 or float64)."""
    ty = args[0].type
    if name in INTRINSIC:
        return lw.call(lw.intrinsic(INTRINSIC[name], ty, len(args)), args)
    if name in POLY and getattr(lw, "fast_math", True):
        if name in ("sin", "cos"):
            return _sincos(lw, args[0], dt, name == "cos")
        if name == "pow":
            return _pow(lw, args[0], args[1], dt)
        f = _F(lw, ty)
        return {"exp": _exp, "expm1": _expm1, "log": _log, "log1p": _log1p,
                "tanh": _tanh}[name](f, args[0])
    return _libm(lw, name, args, dt)
