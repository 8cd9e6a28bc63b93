// jitgraph CUDA prelude: NumPy-compatible scalar helpers shared by every generated kernel.
//
// Overloads instead of one function per dtype: the op table in jitgraph/backends/cuda_ops.py
// writes `jg_floordiv({0}, {1})` once and C++ overload resolution picks the float, double or
// integer version. Integer helpers take any integer type T; `(T)-1 < (T)0` tells signed from
// unsigned without <type_traits> (the host emulator in cuda_jit.py compiles this file too).
// NOTE: integer arithmetic wraps like NumPy's; helpers route through unsigned long long where
// C++ would call signed overflow undefined.

template <typename T> __device__ __forceinline__ bool jg_signed() { return (T)-1 < (T)0; }

// ---- classification (false/true for integers and bool, as NumPy gives) ----
template <typename T> __device__ __forceinline__ bool jg_isnan(T) { return false; }
__device__ __forceinline__ bool jg_isnan(float x) { return isnan(x); }
__device__ __forceinline__ bool jg_isnan(double x) { return isnan(x); }
template <typename T> __device__ __forceinline__ bool jg_isinf(T) { return false; }
__device__ __forceinline__ bool jg_isinf(float x) { return isinf(x); }
__device__ __forceinline__ bool jg_isinf(double x) { return isinf(x); }
template <typename T> __device__ __forceinline__ bool jg_isfinite(T) { return true; }
__device__ __forceinline__ bool jg_isfinite(float x) { return isfinite(x); }
__device__ __forceinline__ bool jg_isfinite(double x) { return isfinite(x); }

// ---- maximum / minimum: NaN propagates; on ties the second operand wins (NumPy's loop) ----
template <typename T> __device__ __forceinline__ T jg_maximum(T a, T b) {
    return (jg_isnan(a) || a > b) ? a : b;
}
template <typename T> __device__ __forceinline__ T jg_minimum(T a, T b) {
    return (jg_isnan(a) || a < b) ? a : b;
}

// ---- floor division and modulo with Python's sign rules ----
template <typename T> __device__ __forceinline__ T jg_floordiv(T a, T b) {
    if (b == (T)0) return (T)0;                        // NumPy: 0 (with a warning)
    if (jg_signed<T>()) {
        if (b == (T)-1) return (T)(0ULL - (unsigned long long)a);  // MIN // -1 wraps to MIN
        T q = (T)(a / b);
        if ((a % b != 0) && ((a < (T)0) != (b < (T)0))) q = (T)(q - 1);
        return q;
    }
    return (T)(a / b);
}
template <typename T> __device__ __forceinline__ T jg_mod(T a, T b) {
    if (b == (T)0) return (T)0;
    if (jg_signed<T>()) {
        if (b == (T)-1) return (T)0;
        T r = (T)(a % b);
        if (r != 0 && ((r < (T)0) != (b < (T)0))) r = (T)(r + b);
        return r;
    }
    return (T)(a % b);
}
// Floats: npy_divmod. fmod is exact, so the quotient (a - mod) / b is within 1 of the result.
#define JG_FLOAT_DIVMOD(T, FMOD, FLOOR, COPYSIGN)                                      \
    __device__ __forceinline__ T jg_floordiv(T a, T b) {                                \
        if (b == (T)0) return a / b;                                                    \
        T mod = FMOD(a, b);                                                             \
        T div = (a - mod) / b;                                                          \
        if (mod != (T)0 && ((b < (T)0) != (mod < (T)0))) div -= (T)1;                   \
        if (div == (T)0) return COPYSIGN((T)0, a / b);                                  \
        T fl = FLOOR(div);                                                              \
        if (div - fl > (T)0.5) fl += (T)1;                                              \
        return fl;                                                                      \
    }                                                                                   \
    __device__ __forceinline__ T jg_mod(T a, T b) {                                     \
        if (b == (T)0) return FMOD(a, b);                                               \
        T mod = FMOD(a, b);                                                             \
        if (mod != (T)0) {                                                              \
            if ((b < (T)0) != (mod < (T)0)) mod += b;                                   \
        } else {                                                                        \
            mod = COPYSIGN((T)0, b);                                                    \
        }                                                                               \
        return mod;                                                                     \
    }
JG_FLOAT_DIVMOD(float, fmodf, floorf, copysignf)
JG_FLOAT_DIVMOD(double, fmod, floor, copysign)
#undef JG_FLOAT_DIVMOD

// ---- float power: NumPy takes an exponent of 0.5 as sqrt (-0.0 -> -0.0, -inf -> nan,
// where C's pow gives 0.0 and inf). NumPy does this for a scalar exponent only; an array
// of 0.5s differs from this for those two bases alone ----
__device__ __forceinline__ float jg_fpow(float a, float b) {
    return b == 0.5f ? sqrtf(a) : powf(a, b);
}
__device__ __forceinline__ double jg_fpow(double a, double b) {
    return b == 0.5 ? sqrt(a) : pow(a, b);
}

// ---- integer power by squaring (NumPy raises for negative exponents; we give 1/a**-b
// truncated, which is what integer division would say) ----
template <typename T> __device__ __forceinline__ T jg_pow(T a, T b) {
    if (jg_signed<T>() && b < (T)0) {
        if (a == (T)1) return (T)1;
        if (a == (T)-1) return ((unsigned long long)(0ULL - (unsigned long long)b) & 1ULL)
                                   ? (T)-1 : (T)1;
        return (T)0;
    }
    unsigned long long r = 1ULL, x = (unsigned long long)a, e = (unsigned long long)b;
    while (e) {
        if (e & 1ULL) r *= x;
        x *= x;
        e >>= 1;
    }
    return (T)r;
}

// ---- sign, abs, reciprocal for any dtype ----
template <typename T> __device__ __forceinline__ T jg_sign(T a) {
    if (jg_isnan(a)) return a;
    return (T)((a > (T)0) - (a < (T)0));
}
template <typename T> __device__ __forceinline__ T jg_abs(T a) {
    return (a < (T)0) ? (T)(0ULL - (unsigned long long)a) : a;
}
__device__ __forceinline__ float jg_abs(float a) { return fabsf(a); }
__device__ __forceinline__ double jg_abs(double a) { return fabs(a); }
template <typename T> __device__ __forceinline__ T jg_reciprocal(T a) {
    // NumPy: 0 for 8/16-bit and unsigned types, the minimum for int32/int64
    if (a == (T)0)
        return (jg_signed<T>() && sizeof(T) >= 4) ? (T)(1ULL << (sizeof(T) * 8 - 1)) : (T)0;
    return (T)((T)1 / a);
}
__device__ __forceinline__ float jg_reciprocal(float a) { return 1.0f / a; }
__device__ __forceinline__ double jg_reciprocal(double a) { return 1.0 / a; }

// ---- float -> integer conversion the way NumPy does it on x86-64: through a 64-bit integer,
// then truncated to the target width (300.7 -> uint8 gives 44, -1.5 -> uint8 gives 255) ----
template <typename T, typename F> __device__ __forceinline__ T jg_f2i(F x) {
    if (!jg_signed<T>() && sizeof(T) == 8 && x >= (F)9223372036854775808.0)
        return (T)(unsigned long long)x;
    return (T)(long long)x;
}

// ---- float16: IEEE binary16 bits in memory (`unsigned short`, the layout of cuda_fp16.h's
// __half), float in registers, rounded to half after every operation, as NumPy's float16
// loops do. NOTE: cuda_fp16.h is not included: programs are compiled inside a namespace each
// (test batches, PycudaDevice.compile_many) and its include guard would hide __half from
// every namespace but the first. The conversions are the PTX instructions that header uses
// (cvt.rn: round to nearest even); the host emulator gets bit-exact software versions.
__device__ __forceinline__ float jg_h2f(unsigned short h) {
#ifdef __CUDA_ARCH__
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else
    const unsigned sign = (unsigned)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    union { unsigned u; float f; } c;
    if (e == 0) {
        const float v = (float)m * 5.9604644775390625e-08f;      // m * 2**-24, exact
        return sign ? -v : v;
    }
    c.u = sign | (e == 31 ? 0x7f800000u : (e + 112u) << 23) | (m << 13);
    return c.f;
#endif
}
#ifndef __CUDA_ARCH__
static inline unsigned short jg_sw_d2h(double d) {    // correctly rounded, ties to even
    union { double d; unsigned long long u; } c;
    c.d = d;
    unsigned long long u = c.u;
    const unsigned short sign = (unsigned short)((u >> 48) & 0x8000u);
    u &= 0x7fffffffffffffffULL;
    if (u > 0x7ff0000000000000ULL) return (unsigned short)(sign | 0x7e00u);    // NaN
    const int e = (int)(u >> 52) - 1023;
    if (e > 15) return (unsigned short)(sign | 0x7c00u);                      // inf, >= 2**16
    const unsigned long long m = (u & 0xfffffffffffffULL) | (e > -1023 ? 1ULL << 52 : 0ULL);
    const int q = e < -14 ? -24 : e - 10;             // exponent of the half's last bit
    const int sh = 52 + q - e;
    if (sh > 63) return sign;
    unsigned long long r = m >> sh;
    const unsigned long long rem = m & ((1ULL << sh) - 1), half = 1ULL << (sh - 1);
    if (rem > half || (rem == half && (r & 1ULL))) ++r;
    const unsigned bits = e < -14 ? (unsigned)r : ((unsigned)(e + 14) << 10) + (unsigned)r;
    return (unsigned short)(sign | bits);             // a carry out of r bumps the exponent
}
#endif
__device__ __forceinline__ unsigned short jg_f2h(float f) {
#ifdef __CUDA_ARCH__
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    return jg_sw_d2h((double)f);                      // float -> double is exact
#endif
}
__device__ __forceinline__ unsigned short jg_f2h(double d) {
#ifdef __CUDA_ARCH__
    unsigned short h;
    asm("cvt.rn.f16.f64 %0, %1;" : "=h"(h) : "d"(d));
    return h;
#else
    return jg_sw_d2h(d);
#endif
}
// a float16 result in its register form (one rounding, also from double)
__device__ __forceinline__ float jg_round_half(float f) { return jg_h2f(jg_f2h(f)); }
__device__ __forceinline__ float jg_round_half(double d) { return jg_h2f(jg_f2h(d)); }
// the memory type with conversions, for templates that cast their element types (matmul)
struct jg_half {
    unsigned short x;
    jg_half() = default;
    __device__ __forceinline__ explicit jg_half(float f) : x(jg_f2h(f)) {}
    __device__ __forceinline__ explicit operator float() const { return jg_h2f(x); }
};

// ---- atomic adds for scatter_add with integer-array indices (np.add.at semantics) ----
#ifndef __CUDACC__
// host emulator: fibers switch only at barriers and shuffles, so read-modify-write is atomic
template <typename T> static T atomicAdd(T* p, T v) { T old = *p; *p = (T)(old + v); return old; }
static unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned val) {
    const unsigned old = *p;
    if (old == cmp) *p = val;
    return old;
}
// setitem's claim pass (last write wins among repeated integer-array indices)
template <typename T> static T atomicMax(T* p, T v) { T old = *p; if (v > old) *p = v; return old; }
#endif
__device__ __forceinline__ void jg_atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void jg_atomic_add(double* p, double v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 600
    unsigned long long* w = (unsigned long long*)p;
    unsigned long long old = *w, assumed;
    do {
        assumed = old;
        old = atomicCAS(w, assumed, (unsigned long long)__double_as_longlong(
                                        __longlong_as_double((long long)assumed) + v));
    } while (old != assumed);
#else
    atomicAdd(p, v);
#endif
}
__device__ __forceinline__ void jg_atomic_add(int* p, int v) { atomicAdd(p, v); }
__device__ __forceinline__ void jg_atomic_add(unsigned* p, unsigned v) { atomicAdd(p, v); }
__device__ __forceinline__ void jg_atomic_add(unsigned long long* p, unsigned long long v) {
    atomicAdd(p, v);
}
__device__ __forceinline__ void jg_atomic_add(long long* p, long long v) {   // wraps like NumPy
    atomicAdd((unsigned long long*)p, (unsigned long long)v);
}
__device__ __forceinline__ void jg_atomic_add(bool* p, bool v) {             // add is `or`
    if (v) *p = true;
}
// 8- and 16-bit values: compare-and-swap on the aligned 32-bit word that holds them
// (allocations are at least 4-byte aligned and padded, so the word is addressable)
template <typename T, typename F>
__device__ __forceinline__ void jg_atomic_update16(T* p, F f) {
    unsigned* w = (unsigned*)((unsigned long long)p & ~3ULL);
    const unsigned sh = (unsigned)((unsigned long long)p & 3ULL) * 8u;
    const unsigned ones = sizeof(T) == 1 ? 0xffu : 0xffffu, mask = ones << sh;
    unsigned old = *w, assumed;
    do {
        assumed = old;
        const unsigned nb = f((assumed & mask) >> sh) & ones;
        old = atomicCAS(w, assumed, (assumed & ~mask) | (nb << sh));
    } while (old != assumed);
}
template <typename T> struct jg_add_bits {
    T v;
    __device__ __forceinline__ unsigned operator()(unsigned bits) const {
        return (unsigned)(unsigned long long)(T)((T)bits + v);
    }
};
struct jg_add_half_bits {
    float v;
    __device__ __forceinline__ unsigned operator()(unsigned bits) const {
        return jg_f2h(jg_h2f((unsigned short)bits) + v);   // float sum, one rounding: exact
    }
};
__device__ __forceinline__ void jg_atomic_add(signed char* p, signed char v) {
    jg_atomic_update16(p, jg_add_bits<signed char>{v});
}
__device__ __forceinline__ void jg_atomic_add(unsigned char* p, unsigned char v) {
    jg_atomic_update16(p, jg_add_bits<unsigned char>{v});
}
__device__ __forceinline__ void jg_atomic_add(short* p, short v) {
    jg_atomic_update16(p, jg_add_bits<short>{v});
}
__device__ __forceinline__ void jg_atomic_add(unsigned short* p, unsigned short v) {
    jg_atomic_update16(p, jg_add_bits<unsigned short>{v});
}
// float16 (its bits are unsigned short, so a name of its own); v is half-exact
__device__ __forceinline__ void jg_atomic_add_half(unsigned short* p, float v) {
    jg_atomic_update16(p, jg_add_half_bits{v});
}
