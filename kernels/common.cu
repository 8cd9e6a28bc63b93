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
