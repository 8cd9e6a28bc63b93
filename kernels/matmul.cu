// Tiled matmul: one BM x BN tile of C per block of 256 threads (16 x 16), each thread
// holding a TM x TM register tile whose rows and columns are 16 apart (conflict-free
// shared-memory reads, coalesced stores); A and B stream through shared memory BK at a time.
// Instantiated per dtype and tile size by jitgraph/backends/cuda_lower.py: sizes and strides
// are template constants, so bounds checks vanish where the shape divides the tile, and a
// transposed operand (strides swapped) loads with the other thread mapping, coalesced too.
//   C[m, n] = sum_k A[m * RSA + k * CSA] * B[k * RSB + n * CSB]   (C row-major, M x N)
// ACC is the accumulator type (the output dtype, int for bool); TC the stored type.
template <typename TA, typename TB, typename TC, typename ACC, int TM, int BK,
          long long M, long long N, long long K,
          long long RSA, long long CSA, long long RSB, long long CSB>
__device__ __forceinline__ void jg_matmul_tile(const TA* __restrict__ A,
                                               const TB* __restrict__ B,
                                               TC* __restrict__ C,
                                               long long m0, long long n0) {
    constexpr int BM = 16 * TM;
    constexpr int BN = 16 * TM;
    constexpr bool A_ROWS = !(RSA == 1 && CSA != 1);   // consecutive threads walk k
    constexpr bool B_ROWS = !(CSB != 1 && RSB == 1);   // consecutive threads walk n
    __shared__ ACC As[BK][BM];
    __shared__ ACC Bs[BK][BN];
    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;
    ACC acc[TM][TM];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TM; ++j) acc[i][j] = (ACC)0;

    // the next tile's global loads are issued before the current tile's arithmetic, so
    // their latency hides behind it (registers ra/rb carry them to shared memory)
    constexpr int LA = BM * BK / 256, LB = BN * BK / 256;
    ACC ra[LA], rb[LB];
    auto load = [&](long long k0) {
#pragma unroll
        for (int l = 0; l < LA; ++l) {
            const int e = tid + l * 256;
            const int mm = A_ROWS ? e / BK : e % BM;
            const int kk = A_ROWS ? e % BK : e / BM;
            const long long gm = m0 + mm, gk = k0 + kk;
            const bool ok = (M % BM == 0 || gm < M) && (K % BK == 0 || gk < K);
            ra[l] = ok ? (ACC)A[gm * RSA + gk * CSA] : (ACC)0;
        }
#pragma unroll
        for (int l = 0; l < LB; ++l) {
            const int e = tid + l * 256;
            const int kk = B_ROWS ? e / BN : e % BK;
            const int nn = B_ROWS ? e % BN : e / BK;
            const long long gk = k0 + kk, gn = n0 + nn;
            const bool ok = (K % BK == 0 || gk < K) && (N % BN == 0 || gn < N);
            rb[l] = ok ? (ACC)B[gk * RSB + gn * CSB] : (ACC)0;
        }
    };
    if (K > 0) load(0);
    for (long long k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
        for (int l = 0; l < LA; ++l) {
            const int e = tid + l * 256;
            As[A_ROWS ? e % BK : e / BM][A_ROWS ? e / BK : e % BM] = ra[l];
        }
#pragma unroll
        for (int l = 0; l < LB; ++l) {
            const int e = tid + l * 256;
            Bs[B_ROWS ? e / BN : e % BK][B_ROWS ? e % BN : e / BK] = rb[l];
        }
        __syncthreads();
        if (k0 + BK < K) load(k0 + BK);
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            ACC a[TM], b[TM];
#pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < TM; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TM; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const long long gm = m0 + ty + 16 * i;
#pragma unroll
        for (int j = 0; j < TM; ++j) {
            const long long gn = n0 + tx + 16 * j;
            if ((M % BM == 0 || gm < M) && (N % BN == 0 || gn < N)) C[gm * N + gn] = (TC)acc[i][j];
        }
    }
}
