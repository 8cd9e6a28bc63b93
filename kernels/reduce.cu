// Reduction templates: warp shuffles, then one shared-memory slot per warp.
// Generated reduction kernels (jitgraph/backends/cuda_lower.py) call these with a
// combine functor below; the accumulator type is at least 32 bits wide (shuffles need it).

struct jg_sum_op {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct jg_prod_op {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a * b; }
};
struct jg_max_op {   // NaN propagates, as in np.max
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const {
        return jg_maximum(a, b);
    }
};
struct jg_min_op {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const {
        return jg_minimum(a, b);
    }
};
struct jg_or_op {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a | b; }
};
struct jg_and_op {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a & b; }
};

template <typename T, typename Op>
__device__ __forceinline__ T jg_warp_reduce(T v, Op op) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, o));
    return v;
}

// Reduce v over a block of BLOCK threads (a multiple of 32); thread 0 holds the result.
// Ends with a barrier so a caller may loop and call it again.
template <int BLOCK, typename T, typename Op>
__device__ __forceinline__ T jg_block_reduce(T v, Op op, T identity) {
    __shared__ T warp_part[BLOCK / 32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = jg_warp_reduce(v, op);
    if (lane == 0) warp_part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < BLOCK / 32 ? warp_part[lane] : identity;
        v = jg_warp_reduce(v, op);
    }
    __syncthreads();
    return v;
}

// argmax / argmin: (value, index) pairs; NaN wins (the first NaN, as NumPy), ties go to the
// smaller index, so the result is the first occurrence whatever the reduction order.
template <bool IS_MAX, typename T>
__device__ __forceinline__ bool jg_arg_better(T va, long long ia, T vb, long long ib) {
    const bool na = jg_isnan(va), nb = jg_isnan(vb);
    if (na || nb) return na && (!nb || ia < ib);
    if (va == vb) return ia < ib;
    return IS_MAX ? va > vb : va < vb;
}

template <bool IS_MAX, typename T>
__device__ __forceinline__ void jg_arg_combine(T& v, long long& i, T v2, long long i2) {
    if (jg_arg_better<IS_MAX>(v2, i2, v, i)) {
        v = v2;
        i = i2;
    }
}

template <int BLOCK, bool IS_MAX, typename T>
__device__ __forceinline__ void jg_block_argreduce(T& v, long long& idx, T identity) {
    __shared__ T val_part[BLOCK / 32];
    __shared__ long long idx_part[BLOCK / 32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        T v2 = __shfl_down_sync(0xffffffffu, v, o);
        long long i2 = __shfl_down_sync(0xffffffffu, idx, o);
        jg_arg_combine<IS_MAX>(v, idx, v2, i2);
    }
    if (lane == 0) {
        val_part[warp] = v;
        idx_part[warp] = idx;
    }
    __syncthreads();
    if (warp == 0) {
        v = lane < BLOCK / 32 ? val_part[lane] : identity;
        idx = lane < BLOCK / 32 ? idx_part[lane] : 0x7fffffffffffffffLL;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            T v2 = __shfl_down_sync(0xffffffffu, v, o);
            long long i2 = __shfl_down_sync(0xffffffffu, idx, o);
            jg_arg_combine<IS_MAX>(v, idx, v2, i2);
        }
    }
    __syncthreads();
}

// Inclusive scan of one value per thread over a block of BLOCK threads (Hillis-Steele in
// shared memory; cumsum / cumprod walk a long line BLOCK elements at a time). `total` gets
// the last thread's result. Ends with a barrier so a caller may loop and call it again.
template <int BLOCK, typename T, typename Op>
__device__ __forceinline__ T jg_block_scan(T v, Op op, T& total) {
    __shared__ T buf[BLOCK];
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int o = 1; o < BLOCK; o <<= 1) {
        const T u = threadIdx.x >= (unsigned)o ? buf[threadIdx.x - o] : v;
        __syncthreads();
        if (threadIdx.x >= (unsigned)o) {
            v = op(u, v);
            buf[threadIdx.x] = v;
        }
        __syncthreads();
    }
    total = buf[BLOCK - 1];
    __syncthreads();
    return v;
}
