// Stable sort templates for sort / argsort (jitgraph/backends/cuda_lower.py, _lower_sort).
// K: the key type (float for float16 lines); ARG: an int64 payload (the original index)
// moves with every key. NumPy's order: NaNs after every number and equal among themselves;
// ties keep their order (kind="stable"), so results are NumPy's bit for bit.
//   jg_thread_merge_sort  one thread sorts one line whose element r sits at k[r * s]
//   jg_block_merge_sort   the threads of a block sort one contiguous line together
// Both insertion-sort runs of JG_SORT_RUN elements, then merge runs of width w, 2w, ...
// between k and k2 (ix and ix2); they return true when the result ended in k2 (ix2).

#define JG_SORT_RUN 16

template <typename K> __device__ __forceinline__ bool jg_sort_less(K a, K b) { return a < b; }
__device__ __forceinline__ bool jg_sort_less(float a, float b) {
    return a < b || (isnan(b) && !isnan(a));
}
__device__ __forceinline__ bool jg_sort_less(double a, double b) {
    return a < b || (isnan(b) && !isnan(a));
}

__device__ __forceinline__ long long jg_sort_min(long long a, long long b) { return a < b ? a : b; }

// k[0 .. n) with element r at k[r * s]: insertion sort, strict comparison (stable)
template <typename K, bool ARG>
__device__ void jg_insertion_sort(K* k, long long* ix, long long n, long long s) {
    for (long long i = 1; i < n; ++i) {
        const K v = k[i * s];
        const long long vi = ARG ? ix[i * s] : 0;
        long long j = i;
        while (j > 0 && jg_sort_less(v, k[(j - 1) * s])) {
            k[j * s] = k[(j - 1) * s];
            if (ARG) ix[j * s] = ix[(j - 1) * s];
            --j;
        }
        k[j * s] = v;
        if (ARG) ix[j * s] = vi;
    }
}

template <typename K, bool ARG>
__device__ bool jg_thread_merge_sort(K* k, K* k2, long long* ix, long long* ix2, long long n,
                                     long long s) {
    for (long long lo = 0; lo < n; lo += JG_SORT_RUN)
        jg_insertion_sort<K, ARG>(k + lo * s, ARG ? ix + lo * s : ix,
                                  jg_sort_min(JG_SORT_RUN, n - lo), s);
    K* src = k; K* dst = k2;
    long long* isrc = ix; long long* idst = ix2;
    bool flipped = false;
    for (long long w = JG_SORT_RUN; w < n; w *= 2) {
        for (long long lo = 0; lo < n; lo += 2 * w) {
            const long long mid = jg_sort_min(lo + w, n), hi = jg_sort_min(lo + 2 * w, n);
            long long i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                const bool right = jg_sort_less(src[j * s], src[i * s]);   // ties: left first
                const long long from = right ? j : i;
                dst[o * s] = src[from * s];
                if (ARG) idst[o * s] = isrc[from * s];
                i += !right; j += right; ++o;
            }
            for (; i < mid; ++i, ++o) { dst[o * s] = src[i * s]; if (ARG) idst[o * s] = isrc[i * s]; }
            for (; j < hi; ++j, ++o) { dst[o * s] = src[j * s]; if (ARG) idst[o * s] = isrc[j * s]; }
        }
        K* t = src; src = dst; dst = t;
        long long* it = isrc; isrc = idst; idst = it;
        flipped = !flipped;
    }
    return flipped;
}

// how many of a[0 .. n) are < v (strict: lower bound) or <= v (upper bound)
template <typename K>
__device__ __forceinline__ long long jg_sort_rank(const K* a, long long n, K v, bool upper) {
    long long lo = 0, hi = n;
    while (lo < hi) {
        const long long m = lo + (hi - lo) / 2;
        const bool before = upper ? !jg_sort_less(v, a[m]) : jg_sort_less(a[m], v);
        if (before) lo = m + 1; else hi = m;
    }
    return lo;
}

// Every thread of the block calls this (it synchronizes); k is one contiguous line. Each
// merge pass places every element at once: its rank in its own run plus its rank in the
// other run (a left element goes before equal right ones: stable).
template <typename K, bool ARG>
__device__ bool jg_block_merge_sort(K* k, K* k2, long long* ix, long long* ix2, long long n) {
    const long long step = (long long)blockDim.x * JG_SORT_RUN;
    for (long long lo = (long long)threadIdx.x * JG_SORT_RUN; lo < n; lo += step)
        jg_insertion_sort<K, ARG>(k + lo, ARG ? ix + lo : ix, jg_sort_min(JG_SORT_RUN, n - lo), 1);
    __syncthreads();
    K* src = k; K* dst = k2;
    long long* isrc = ix; long long* idst = ix2;
    bool flipped = false;
    for (long long w = JG_SORT_RUN; w < n; w *= 2) {
        for (long long e = threadIdx.x; e < n; e += blockDim.x) {
            const long long lo = e / (2 * w) * (2 * w);
            const long long mid = jg_sort_min(lo + w, n), hi = jg_sort_min(lo + 2 * w, n);
            const K v = src[e];
            const long long to = e < mid
                ? e + jg_sort_rank(src + mid, hi - mid, v, false)
                : lo + (e - mid) + jg_sort_rank(src + lo, mid - lo, v, true);
            dst[to] = v;
            if (ARG) idst[to] = isrc[e];
        }
        __syncthreads();
        K* t = src; src = dst; dst = t;
        long long* it = isrc; isrc = idst; idst = it;
        flipped = !flipped;
    }
    return flipped;
}
