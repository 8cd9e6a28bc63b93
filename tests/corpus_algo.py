"""A corpus of algorithmic functions, written the way users write them: control flow on
data (while loops that converge, nested loops with break/continue/early return, if/elif
chains on reductions, shapes and dtypes), Python ints mixed with arrays, integer arrays
(overflow wraps, floor division and modulo of negatives, bit ops), dynamic programming in
arrays with item assignment, sorting and counting, mixed dtype promotion, helpers with
defaults called by keyword, tuple returns of mixed types, 0-d, size-1 and empty arrays.

Each entry is (function, make_args(rng, variant), argnums), as in tests/corpus_extra.py.
Variants 0 and 1 give arguments of the same types and shapes but other values (other
branches, other trip counts); the eager result's type never depends on the variant.
`argnums` is None, or the arguments to differentiate (the function then returns a float64
scalar and every argument in argnums is a float64 array).

`CORPUS` maps each function's name to its entry; `PENDING` holds entries kept out of it
because of a jitgraph bug (with a one-line diagnosis)."""
from __future__ import annotations

from typing import Any

import numpy as np

F32, F64, I32, I64, U8 = np.float32, np.float64, np.int32, np.int64, np.uint8


def _randn(rng: np.random.Generator, *shape: int, dtype: Any = F64) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _ints(rng: np.random.Generator, lo: int, hi: int, *shape: int, dtype: Any = I64):
    return rng.integers(lo, hi, shape).astype(dtype)


def _pick(variant: int, *options: Any) -> Any:
    return options[variant % len(options)]


# =========================================================================================
# Dynamic programming in arrays
# =========================================================================================

def algo_edit_distance(a, b):
    m, n = a.shape[0], b.shape[0]
    d = np.zeros((m + 1, n + 1), dtype=np.int64)
    for i in range(m + 1):
        d[i, 0] = i
    for j in range(n + 1):
        d[0, j] = j
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + cost)
    return d[m, n], d


def _a_edit(rng, v):
    a = np.array(_pick(v, [1, 2, 3, 4, 5, 6], [3, 3, 3, 3, 3, 3]), dtype=I32)
    b = np.array(_pick(v, [2, 3, 9, 5, 6], [3, 1, 3, 1, 3]), dtype=I32)
    return a, b


def algo_lis_length(x):
    n = x.shape[0]
    dp = np.ones(n, dtype=np.int32)
    for i in range(n):
        for j in range(i):
            if x[j] < x[i] and dp[j] + 1 > dp[i]:
                dp[i] = dp[j] + 1
    return dp.max(), dp


def _a_lis(rng, v):
    return (_pick(v, _ints(rng, 0, 20, 9), np.arange(9, 0, -1, dtype=I64)),)


def algo_knapsack(weights, values, cap):
    best = np.zeros(cap + 1)
    for i in range(weights.shape[0]):
        w = weights[i]
        for c in range(cap, w - 1, -1):
            cand = best[c - w] + values[i]
            if cand > best[c]:
                best[c] = cand
    return best[cap], best


def _a_knapsack(rng, v):
    w = np.array(_pick(v, [1, 3, 4, 5], [6, 2, 2, 9]), dtype=I64)
    return w, rng.uniform(1.0, 10.0, 4), 8


def algo_coin_change(coins, amount):
    big = amount + 1
    dp = np.full(amount + 1, big, dtype=np.int64)
    dp[0] = 0
    for a in range(1, amount + 1):
        for c in coins:
            if c <= a and dp[a - c] + 1 < dp[a]:
                dp[a] = dp[a - c] + 1
    return int(dp[amount]) if dp[amount] <= amount else -1


def _a_coins(rng, v):
    return np.array(_pick(v, [1, 5, 6, 9], [4, 6, 10, 12]), dtype=I64), 11


def algo_pascal_mod(n, p):
    t = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        t[i, 0] = 1
        for j in range(1, i + 1):
            t[i, j] = (t[i - 1, j - 1] + t[i - 1, j]) % p
    return t, t.sum(axis=1), (t == 0).sum()


def _a_pascal(rng, v):
    return 7, _pick(v, 2, 1000)


def algo_min_path(grid):
    m, n = grid.shape
    d = np.zeros_like(grid)
    for i in range(m):
        for j in range(n):
            if i == 0 and j == 0:
                d[i, j] = grid[i, j]
            elif i == 0:
                d[i, j] = d[i, j - 1] + grid[i, j]
            elif j == 0:
                d[i, j] = d[i - 1, j] + grid[i, j]
            else:
                d[i, j] = min(d[i - 1, j], d[i, j - 1]) + grid[i, j]
    return d[m - 1, n - 1]


def _a_grid(rng, v):
    return (rng.uniform(0.0, 1.0, (3, 4)) * _pick(v, 1.0, 5.0),)


def algo_lcs_length(a, b):
    m, n = a.shape[0], b.shape[0]
    t = np.zeros((m + 1, n + 1), dtype=np.int32)
    for i in range(m):
        for j in range(n):
            if a[i] == b[j]:
                t[i + 1, j + 1] = t[i, j] + 1
            else:
                t[i + 1, j + 1] = max(t[i, j + 1], t[i + 1, j])
    return t[m, n]


def _a_lcs(rng, v):
    return _ints(rng, 0, _pick(v, 3, 8), 7, dtype=U8), _ints(rng, 0, 3, 5, dtype=U8)


# =========================================================================================
# Scans, prefix sums, counting
# =========================================================================================

def algo_range_sums(x, lo, hi):
    p = np.zeros(x.shape[0] + 1, dtype=x.dtype)
    p[1:] = np.cumsum(x)
    return p[hi] - p[lo], np.cumsum(x).dtype == np.int64


def _a_range_sums(rng, v):
    lo = np.array(_pick(v, [0, 2, 5], [1, 1, 0]))
    hi = np.array(_pick(v, [3, 7, 8], [1, 4, 8]))
    return _ints(rng, -50, 50, 8, dtype=I32), lo, hi


def algo_running_max(x):
    out = np.zeros_like(x)
    cur = x[0]
    for i, v in enumerate(x):
        if v > cur:
            cur = v
        out[i] = cur
    return out, cur, (out == np.maximum(x, cur)).sum()


def _a_runmax(rng, v):
    return (_pick(v, _ints(rng, -9, 9, 8, dtype=I32), np.arange(8, dtype=I32)),)


def algo_running_max_loss(x):
    out = np.zeros_like(x)
    cur = x[0]
    for i in range(x.shape[0]):
        if x[i] > cur:
            cur = x[i]
        out[i] = cur
    return (out * np.arange(1.0, x.shape[0] + 1.0)).sum()


def _a_f64_8(rng, v):
    return (_randn(rng, 8) * _pick(v, 1.0, 3.0),)


def algo_count_inversions(x):
    n = x.shape[0]
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if x[i] > x[j]:
                count += 1
    vec = np.triu(x[:, None] > x[None, :], 1).sum()
    return count, vec, count == vec


def _a_inv(rng, v):
    return (_pick(v, rng.permutation(7).astype(I32), np.arange(7, dtype=I32)),)


def algo_histogram(x, nbins=5):
    counts = np.zeros(nbins, dtype=np.int64)
    for v in x:
        counts[v % nbins] += 1
    vec = (x[:, None] % nbins == np.arange(nbins)).sum(axis=0)
    return counts, vec, counts.argmax(), int(counts.max()) * nbins


def _a_hist(rng, v):
    return (_ints(rng, -12, _pick(v, 12, 3), 15, dtype=I32),)


def algo_runs(x):
    runs = 1
    longest = 1
    cur = 1
    for i in range(1, x.shape[0]):
        if x[i] == x[i - 1]:
            cur += 1
            if cur > longest:
                longest = cur
            continue
        runs += 1
        cur = 1
    return runs, longest


def _a_runs(rng, v):
    return (np.array(_pick(v, [1, 1, 2, 2, 2, 3, 1, 1], [4, 4, 4, 4, 4, 4, 4, 4]), dtype=U8),)


def algo_balanced(x):
    depth = 0
    max_depth = 0
    for v in x:
        depth += int(v)
        if depth < 0:
            return False, max_depth
        max_depth = max(max_depth, depth)
    return depth == 0, max_depth


def _a_balanced(rng, v):
    return (np.array(_pick(v, [1, 1, -1, 1, -1, -1], [1, -1, -1, 1, 1, 1]), dtype=np.int8),)


def algo_cumsum_cumprod(x, m):
    c = np.cumsum(x)
    p = np.cumprod(x % 3 + 1)
    rows = m.cumsum(axis=0)
    cols = np.cumsum(m, axis=1, dtype=np.float32)
    return c, p, rows, cols, c[-1] == x.sum()


def _a_cum(rng, v):
    return _ints(rng, -5, 5, 6, dtype=I32), _ints(rng, 0, _pick(v, 200, 3), 3, 4, dtype=U8)


def algo_suffix_scan(x, k):
    suf = np.zeros_like(x)
    acc = x[0] * 0.0
    for i in reversed(range(x.shape[0])):
        acc = acc + x[i]
        suf[i] = acc
    tail = x[0] * 0.0
    for i in reversed(range(k)):
        tail = tail + x[i] * (i + 1)
    return suf, acc, tail


def _a_suffix(rng, v):
    return _randn(rng, 6), _pick(v, 4, 0)


# =========================================================================================
# Sorting, searching, selection
# =========================================================================================

def algo_bubble_sort(x):
    a = x.copy()
    n = a.shape[0]
    passes = 0
    for i in range(n):
        swapped = False
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                t = a[j]
                a[j] = a[j + 1]
                a[j + 1] = t
                swapped = True
        passes += 1
        if not swapped:
            break
    return a, passes, bool((a == np.sort(x)).all())


def _a_bubble(rng, v):
    return (_pick(v, _ints(rng, -20, 20, 7, dtype=I32), np.arange(7, dtype=I32)),)


def algo_sorted_weighted_loss(x):
    a = x.copy()
    n = a.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                t = a[j]
                a[j] = a[j + 1]
                a[j + 1] = t
    w = np.arange(n) + 1.0
    return (a * w).sum() + (np.sort(x) ** 2).sum()


def algo_bubble_sort_swap(x):
    a = x.copy()
    n = a.shape[0]
    passes = 0
    for i in range(n):
        swapped = False
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
                swapped = True
        passes += 1
        if not swapped:
            break
    return a, passes, bool((a == np.sort(x)).all())


def algo_sorted_swap_loss(x):
    a = x.copy()
    n = a.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
    w = np.arange(n) + 1.0
    return (a * w).sum() + (np.sort(x) ** 2).sum()


def algo_insertion_sort_swaps(x):
    a = x.copy()
    moves = 0
    for i in range(1, a.shape[0]):
        j = i
        while j > 0 and a[j - 1] > a[j]:
            a[j - 1], a[j] = a[j], a[j - 1]
            j -= 1
            moves += 1
    return a, moves


def algo_insertion_sort(x):
    a = x.copy()
    moves = 0
    for i in range(1, a.shape[0]):
        key = a[i]
        j = i - 1
        while j >= 0 and a[j] > key:
            a[j + 1] = a[j]
            j -= 1
            moves += 1
        a[j + 1] = key
    return a, moves


def _a_insertion(rng, v):
    return (_pick(v, _randn(rng, 7, dtype=F32), np.arange(7, dtype=F32)),)


def _bsearch(a, t):
    lo = 0
    hi = a.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def algo_search_many(a, ts):
    out = np.zeros(ts.shape[0], dtype=np.int64)
    for i, t in enumerate(ts):
        out[i] = _bsearch(a, t)
    found = 0
    for i in range(ts.shape[0]):
        if out[i] < a.shape[0] and a[out[i]] == ts[i]:
            found += 1
    return out, found


def algo_search_many_nested(a, ts):
    out = np.zeros(ts.shape[0], dtype=np.int64)
    for i, t in enumerate(ts):
        out[i] = _bsearch(a, t)
    found = 0
    for i in range(ts.shape[0]):
        if out[i] < a.shape[0]:
            if a[out[i]] == ts[i]:
                found += 1
    return out, found


def _a_search(rng, v):
    a = np.array([-3, 0, 2, 2, 7, 11, 15], dtype=I64)
    ts = np.array(_pick(v, [2, 16, -5, 8, 15], [0, 0, 7, 100, -3]), dtype=I64)
    return a, ts


def algo_topk(x, k=3):
    idx = np.argsort(x)[::-1][:k]
    s = np.sort(x)
    return idx, x[idx], s[-k:], s[0] == x.min(), int(np.argmin(x))


def _a_topk(rng, v):
    return (_randn(rng, 9, dtype=_pick(v, F32)) * _pick(v, 1.0, 10.0),)


def algo_argmax_manual(x):
    best = 0
    for i in range(1, x.shape[0]):
        if x[i] > x[best]:
            best = i
    worst = x.shape[0] - 1
    for i in reversed(range(x.shape[0] - 1)):
        if x[i] < x[worst]:
            worst = i
    return best, best == np.argmax(x), worst, x.argmin()


def _a_argmax(rng, v):
    return (_ints(rng, 0, _pick(v, 4, 100), 10, dtype=I32),)


def algo_two_sum(x, target):
    n = x.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            if x[i] + x[j] == target:
                return i, j
    return -1, -1


def _a_two_sum(rng, v):
    return np.array([3, 8, -2, 5, 11, 4], dtype=I32), _pick(v, 9, 100)


def algo_sort_rows(x):
    s = np.sort(x, axis=1)
    order = np.argsort(x[:, 0])
    med = s[:, x.shape[1] // 2]
    return s, order, x[order], med, np.argmax(s, axis=0)


def _a_sort_rows(rng, v):
    return (rng.permutation(20).reshape(4, 5).astype(_pick(v, I64)) * _pick(v, 1, -1),)


# =========================================================================================
# Integer code: overflow, division, bit ops
# =========================================================================================

def algo_floordiv_mod(a, k):
    return (a // k, a % k, -7 // k, -7 % k, a // -k, np.floor_divide(a, 4),
            np.mod(a, -3), a % k == (a - (a // k) * k))


def _a_floordiv(rng, v):
    return _ints(rng, -20, 20, 7), _pick(v, 3, -4)


def algo_int_overflow(u, b):
    r1 = u * 2
    r2 = u + 200
    r3 = b * 1000000
    r4 = u - b
    r5 = (u * 2).sum()
    r6 = u.astype(np.int32) * 2
    return r1, r2, r3, r4, r5, r6, np.int32(2147483647) + b


def _a_overflow(rng, v):
    return _ints(rng, 0, 256, 6, dtype=U8), _ints(rng, -5000, _pick(v, 5000, 3), 6, dtype=I32)


def algo_bitops(a, b, m):
    odd = (a & 1) == 1
    return (a & b, a | m, a ^ b, ~a, odd.sum(), odd & (b > 0), m & 7, m ^ 5, m | 8,
            ~m, (a ^ a).any())


def _a_bitops(rng, v):
    return _ints(rng, -64, 64, 6, dtype=I32), _ints(rng, 0, 64, 6, dtype=I32), _pick(v, 13, 6)


def algo_popcount(x):
    v = x.astype(np.int64)
    count = np.zeros_like(v)
    while (v != 0).any():
        count = count + (v != 0)
        v = v & (v - 1)
    return count, count.sum()


def _a_popcount(rng, v):
    return (_pick(v, _ints(rng, 0, 256, 7, dtype=U8), np.zeros(7, dtype=U8)),)


def algo_gcd_vec(a, b):
    a = np.abs(a)
    b = np.abs(b)
    steps = 0
    while (b != 0).any():
        nz = b != 0
        r = np.where(nz, a % np.where(nz, b, 1), 0)
        a = np.where(nz, b, a)
        b = r
        steps += 1
    return a, steps


def _a_gcd(rng, v):
    return _ints(rng, -60, 60, 6, dtype=I32), _ints(rng, _pick(v, -60, 0), _pick(v, 60, 1), 6,
                                                   dtype=I32)


def algo_collatz_vec(x):
    n = x.copy()
    steps = np.zeros_like(n)
    while (n > 1).any():
        active = n > 1
        n = np.where(active, np.where(n % 2 == 0, n // 2, 3 * n + 1), n)
        steps = steps + active
    return steps, steps.max(), int(steps.argmax())


def _a_collatz(rng, v):
    return (np.array(_pick(v, [1, 6, 7, 27, 3], [1, 1, 2, 4, 1]), dtype=I64),)


def algo_sieve(x, n=30):
    is_p = np.ones(n, dtype=np.bool_)
    is_p[0] = False
    is_p[1] = False
    i = 2
    while i * i < n:
        if is_p[i]:
            j = i * i
            while j < n:
                is_p[j] = False
                j += i
        i += 1
    return is_p, is_p.sum(), np.where(is_p[x % n], x, -1)


def _a_sieve(rng, v):
    return (_ints(rng, 0, _pick(v, 60, 5), 8),)


def algo_int_matmul_loops(a, b):
    m, k = a.shape
    n = b.shape[1]
    c = np.zeros((m, n), dtype=a.dtype)
    for i in range(m):
        for j in range(n):
            s = 0
            for t in range(k):
                s += a[i, t] * b[t, j]
            c[i, j] = s
    return c, a @ b, (c == a @ b).all()


def _a_imatmul(rng, v):
    return _ints(rng, -9, 9, 3, 4, dtype=I32), _ints(rng, -9, _pick(v, 9, 0), 4, 2, dtype=I32)


# =========================================================================================
# Scalar-only functions (Python ints and floats)
# =========================================================================================

def algo_digit_sum(n):
    s = 0
    rev = 0
    while n > 0:
        d = n % 10
        s += d
        rev = rev * 10 + d
        n //= 10
    return s, rev


def _a_digits(rng, v):
    return (_pick(v, 90417, 0),)


def algo_pow_mod(base, e, mod):
    r = 1
    b = base % mod
    while e > 0:
        if e % 2 == 1:
            r = r * b % mod
        b = b * b % mod
        e //= 2
    return r


def _a_powmod(rng, v):
    return _pick(v, 7, 123), _pick(v, 13, 0), _pick(v, 1000, 97)


def algo_scalar_int_ops(n, m):
    return (n // m, n % m, -n // m, -n % m, n ** 2, abs(n - m), max(n, m, 3), min(n, m),
            n / m, bool(n & m), n ^ m, n == m or n > 2 * m, float(n) * 0.5)


def _a_scalar_int(rng, v):
    return _pick(v, 17, -9), _pick(v, 5, 4)


def algo_cube_root_newton(a, tol=1e-12):
    x = a if a > 1.0 else 1.0
    it = 0
    while abs(x * x * x - a) > tol * a:
        x = x - (x * x * x - a) / (3.0 * x * x)
        it += 1
        if it >= 100:
            break
    return x, it, it < 100


def _a_cube(rng, v):
    return (_pick(v, 27.0, 0.3),)


def algo_triangle_kind(a, b, c):
    if a + b <= c or a + c <= b or b + c <= a:
        return -1, 0.0
    s = 0.5 * (a + b + c)
    area = (s * (s - a) * (s - b) * (s - c)) ** 0.5
    if a == b and b == c:
        kind = 3
    elif a == b or b == c or a == c:
        kind = 2
    else:
        kind = 1
    return kind, area


def _a_triangle(rng, v):
    return _pick(v, 3.0, 2.0), _pick(v, 4.0, 2.0), _pick(v, 5.0, 2.0)


# =========================================================================================
# Branches on data, shapes and dtypes
# =========================================================================================

def algo_classify(x):
    m = x.mean()
    s = x.std()
    if m > 1.0:
        label = 2
        y = x - m
    elif m < -1.0:
        label = 0
        y = x + m
    elif s > 2.0:
        label = 3
        y = x / s
    else:
        label = 1
        y = x
    return label, y


def _a_classify(rng, v):
    return (_randn(rng, 6) * 0.1 + _pick(v, 3.0, 0.0),)


def _as_matrix(x):
    if x.ndim == 1:
        return x[None, :]
    return x


def algo_shape_dispatch(x, y):
    a = _as_matrix(x)
    b = _as_matrix(y)
    if a.dtype == np.int32:
        a = a.astype(np.float64)
    elif a.dtype == np.float32:
        a = a * 2
    if b.shape[0] > b.shape[1]:
        b = b.T
    return a.sum(axis=1), b.sum(axis=0), a.shape[0] + b.shape[1], b.dtype == np.float32


def _a_dispatch(rng, v):
    return _ints(rng, -5, _pick(v, 5, 50), 4, dtype=I32), _randn(rng, 5, 2, dtype=F32)


def algo_where_chain(x):
    pos = np.where(x > 0, x, 0.5)
    halves = np.where(x % 2 == 0, x // 2, -x)
    sign = np.where(x > 0, 1, np.where(x < 0, -1, 0))
    return pos, halves, sign, (sign == np.sign(x)).all()


def _a_where(rng, v):
    return (_ints(rng, -6, _pick(v, 6, 1), 9),)


def algo_piecewise_loss(x):
    if x.sum() > 0:
        return (x ** 2).sum()
    elif x.max() > 1.0:
        return np.sin(x).sum() * 3.0
    else:
        return np.exp(x).sum()


def _a_piecewise(rng, v):
    return (np.abs(_randn(rng, 5)) * _pick(v, 1.0, -1.0),)


def algo_clip_counts(x, lo, hi):
    c = np.clip(x, lo, hi)
    below = (x < lo).sum()
    above = int((x > hi).sum())
    if below > above:
        side = -1
    elif below < above:
        side = 1
    else:
        side = 0
    return c, below, above, side, x.clip(0)


def _a_clip(rng, v):
    return _ints(rng, -10, 10, 12, dtype=I32), _pick(v, -2, -8), _pick(v, 5, 1)


def algo_soft_threshold_loss(w, lam):
    z = np.where(np.abs(w) > lam, w - np.sign(w) * lam, 0.0)
    return (np.clip(z, -1.0, 1.0) ** 2).sum() + lam * np.abs(w).sum()


def _a_soft(rng, v):
    return _randn(rng, 7) * 2.0, _pick(v, 0.3, 0.7)


# =========================================================================================
# Iterations to convergence (some differentiated)
# =========================================================================================

def algo_newton_sqrt_sum(c):
    x = np.ones_like(c) + 0.5 * c
    it = 0
    while np.abs(x * x - c).max() > 1e-12 and it < 50:
        x = 0.5 * (x + c / x)
        it += 1
    return x.sum()


def _a_newton(rng, v):
    return (rng.uniform(0.5, _pick(v, 4.0, 100.0), 5),)


def algo_damped_fixed_point(a, b):
    x = np.zeros_like(b)
    n = 0
    delta = 1.0
    while delta > 1e-10:
        nxt = 0.5 * x + 0.5 * np.tanh(a @ x + b)
        delta = np.abs(nxt - x).max()
        x = nxt
        n += 1
        if n == 200:
            break
    return (x * x).sum() + n * 0.0


def _a_damped(rng, v):
    return _randn(rng, 4, 4) * _pick(v, 0.2, 0.4), _randn(rng, 4)


def algo_gd_until(w0, x, y):
    w = w0
    prev = np.inf
    for step in range(100):
        r = x @ w - y
        loss = (r * r).mean()
        if prev - loss < 1e-3:
            break
        prev = loss
        w = w - 0.1 * (2.0 * x.T @ r / x.shape[0])
    return (w * w).sum() + loss


def _a_gd(rng, v):
    return _randn(rng, 3) * _pick(v, 0.1, 3.0), _randn(rng, 6, 3), _randn(rng, 6)


def _kadane(x):
    best = x[0]
    cur = x[0]
    start = 0
    best_start = 0
    best_end = 0
    for i in range(1, x.shape[0]):
        if cur < 0:
            cur = x[i]
            start = i
        else:
            cur = cur + x[i]
        if cur > best:
            best = cur
            best_start = start
            best_end = i
    return best, best_start, best_end


def algo_kadane(x):
    best, s, e = _kadane(x)
    return best, s, e, e - s + 1


def _a_kadane_i(rng, v):
    return (_pick(v, _ints(rng, -9, 9, 9, dtype=I32), -np.arange(1, 10, dtype=I32)),)


def algo_kadane_loss(x):
    best, s, e = _kadane(x)
    return best * 2.0 + x[0]


# =========================================================================================
# Python idioms: helpers with defaults and keywords, zip/enumerate, tuples, promotion
# =========================================================================================

def _smooth(x, alpha=0.5, passes=1):
    for _ in range(passes):
        x = alpha * x + (1 - alpha) * np.concatenate([x[:1], x[:-1]])
    return x


def algo_kw_helpers(x):
    a = _smooth(x)
    b = _smooth(x, alpha=0.25)
    c = _smooth(x, passes=3, alpha=0.9)
    d = _smooth(alpha=1.0, x=x)
    return a, b, c, d


def _a_kw(rng, v):
    return (_randn(rng, 6, dtype=_pick(v, F32)),)


def algo_defaults_self(x, scale=2, shift=-1.0, clip=True, lo=0):
    y = x * scale + shift
    if clip:
        y = np.maximum(y, lo)
    return y


def _a_defaults(rng, v):
    return (_ints(rng, -4, 4, 5, dtype=I32),)


def algo_zip_layers(x, ws, bs):
    h = x
    norms = 0.0
    for w, b in zip(ws, bs):
        h = np.maximum(h @ w + b, 0.0)
        norms = norms + (w * w).sum()
    k = 0
    for i, v in enumerate(h):
        if v.sum() > 0:
            k += i
    return h, norms, k


def _a_zip(rng, v):
    ws = (_randn(rng, 3, 4), _randn(rng, 4, 2))
    bs = (_randn(rng, 4), np.array([_pick(v, 0.5, -9.0), 0.0]))
    return _randn(rng, 5, 3), ws, bs


def algo_layers_local_zip(x, w1, b1, w2, b2):
    h = x
    norms = 0.0
    ws = (w1, w2)
    bs = (b1, b2)
    for w, b in zip(ws, bs):
        h = np.maximum(h @ w + b, 0.0)
        norms = norms + (w * w).sum()
    k = 0
    for i, v in enumerate(h):
        if v.sum() > 0:
            k += i
    return h, norms, k


def _a_zip_flat(rng, v):
    x, (w1, w2), (b1, b2) = _a_zip(rng, v)
    return x, w1, b1, w2, b2


def algo_row_stats(x):
    best_row = -1
    best = -np.inf
    total = 0
    for i, row in enumerate(x):
        s = row.sum()
        if s > best:
            best = s
            best_row = i
        total += row.shape[0]
    neg = 0
    for row in x:
        if row.min() >= 0:
            continue
        neg += 1
    return best_row, best, total, neg


def _a_rows(rng, v):
    return (_randn(rng, 4, 3) + _pick(v, 0.0, 5.0),)


def algo_mixed_promotion(a, b, u, m, k):
    return (a + b, u * 2, m + a, m + m, a * 1.5, b * a.sum(), u + a, u / 2, u // 3, b + m,
            np.float32(2) * a, a * k, u * k, m * k, (a > 0) + 1, b * 2, u + np.uint8(250))


def _a_promo(rng, v):
    return (_ints(rng, -5, 5, 4, dtype=I32), _randn(rng, 4, dtype=F32),
            _ints(rng, 0, 255, 4, dtype=U8), rng.random(4) < 0.5, _pick(v, 0.5, -2.25))


def algo_tuple_mixed(x, thr):
    n = 0
    total = 0.0
    for v in x:
        if v > thr:
            n += 1
            total = total + float(v)
    return x > thr, n, total, n > 0, x[x.shape[0] - 1]


def _a_tuple(rng, v):
    return _randn(rng, 6), _pick(v, 0.0, 10.0)


# =========================================================================================
# 0-d, size-1 and empty arrays; loops that run zero times
# =========================================================================================

def algo_zero_d(x, y):
    if x > 0:
        z = x * 2.0
    else:
        z = -x
    k = 0
    while y > 0:
        y = y - 3
        k += 1
    return z, x + y, k, x * np.arange(3), np.sqrt(np.abs(x)), y // 2


def _a_zero_d(rng, v):
    return np.array(_pick(v, 1.5, -0.5)), np.array(_pick(v, 10, -1), dtype=I64)


def algo_size_one(x, y):
    s = np.sort(x)
    i = np.argmax(x)
    c = np.cumsum(y)
    acc = x[0] * 0
    for v in x:
        acc = acc + v
    return s, i, c, acc, x.sum() == acc, y.argsort()


def _a_size1(rng, v):
    return _randn(rng, 1) * _pick(v, 1.0, -1.0), _ints(rng, -3, 3, 1, dtype=I32)


def algo_empty(x, y, z):
    total = x.sum()
    for v in x:
        total = total + v * v
    count = 0
    for row in y:
        count += 1
    return (total, y.sum(axis=0), np.cumsum(x), np.concatenate([x, z]), count, y.shape[0],
            (x > 0).any(), (x > 0).all(), x.reshape(0, 2).shape)


def _a_empty(rng, v):
    return np.zeros(0), np.zeros((0, 3), dtype=I32), _randn(rng, 2)


def algo_empty_ops(x, y, z):
    total = x.sum() + (x * x).sum()
    return (total, y.sum(axis=0), np.cumsum(x), np.concatenate([x, z]), y.shape[0],
            (x > 0).any(), (x > 0).all(), x.reshape(0, 2).shape, np.sort(x), y.T @ y,
            np.prod(x))


def algo_zero_trip(x, n):
    acc = x * 0.0
    last = -1
    for i in range(n):
        acc = acc + x * i
        last = i
    j = n
    while j > 3:
        j -= 2
    return acc, last, j


def _a_zero_trip(rng, v):
    return _randn(rng, 3), _pick(v, 5, 0)


# =========================================================================================
# More loops and idioms
# =========================================================================================

def algo_fib_pairs(n, x):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    f = np.zeros(x.shape[0], dtype=np.int64)
    f[1] = 1
    for i in range(2, x.shape[0]):
        f[i] = f[i - 1] + f[i - 2]
    return a, f, f[-1] % 1000, (f % 2 == 0).sum()


def _a_fib(rng, v):
    return _pick(v, 40, 0), np.zeros(12)


def algo_triple_nested(x, limit):
    found = 0
    for i in range(x.shape[0]):
        if i % 2 == 1:
            continue
        for j in range(x.shape[1]):
            if x[i, j] < 0:
                continue
            for k in range(3):
                if k * x[i, j] > limit:
                    break
                found += 1
    return found


def _a_triple(rng, v):
    return _randn(rng, 5, 4) * 3.0, _pick(v, 4.0, 0.5)


def algo_flag_while(x, target):
    done = False
    i = 0
    total = x[0] * 0.0
    while not done:
        total = total + x[i]
        i += 1
        if total > target or i == x.shape[0]:
            done = True
    return i, total, done


def _a_flag(rng, v):
    return rng.uniform(0.0, 2.0, 7), _pick(v, 3.0, 100.0)


def algo_optional_args(x, w=None, k=None, normalize=False):
    if w is None:
        w = np.ones_like(x)
    if k is not None:
        x = x * k
    s = (x * w).sum()
    if normalize:
        s = s / w.sum()
    return s


def algo_optional_caller(x, w):
    return (algo_optional_args(x), algo_optional_args(x, w), algo_optional_args(x, k=3),
            algo_optional_args(x, w=w, normalize=True, k=-1))


def _a_opt(rng, v):
    return _randn(rng, 5), rng.uniform(0.5, _pick(v, 1.5, 9.0), 5)


def algo_pairs_rows(p):
    s = 0.0
    for a, b in p:
        s = s + a * b
    t = 0.0
    for i, (a, b) in enumerate(p):
        if a > b:
            t = t + i * (a - b)
    return s, t


def _a_pairs(rng, v):
    return (_randn(rng, 5, 2) + _pick(v, 0.0, 1.0),)


def algo_aug_int_ops(a, k):
    b = a.copy()
    b += 3
    b *= 2
    b //= 3
    b %= 7
    b -= 1
    b |= 8
    b &= 13
    b ^= 5
    k //= 4
    k %= 3
    k **= 3
    k += 1
    return b, k


def _a_aug(rng, v):
    return _ints(rng, -30, 30, 6, dtype=np.int16), _pick(v, 17, -9)


def algo_shape_facts(x):
    if x.shape == (3, 4):
        a = 1
    else:
        a = 2
    r, c = x.shape
    return a, len(x.shape), x.shape[-1], (*x.shape, 2), x.size // c, len(x), r * c == x.size


def _a_shape_facts(rng, v):
    return (_randn(rng, 3, 4),)


def algo_early_exit_loss(x):
    for i in range(x.shape[0]):
        if x[i] < 0:
            return x[i] * x[i] + x.sum()
    return x.sum() * 2.0


def _a_early_exit(rng, v):
    return (np.abs(_randn(rng, 6)) * _pick(v, 1.0, -1.0) + _pick(v, 0.1, 0.0),)


def algo_scatter_loss(x, idx):
    out = np.zeros(3)
    for i in range(x.shape[0]):
        out[idx[i]] += x[i] * x[i]
    k = 0
    while out.max() > 1.0 and k < 20:
        out = out * 0.5
        k += 1
    return (out * np.arange(1.0, 4.0)).sum() + k * 0.0


def _a_scatter(rng, v):
    return _randn(rng, 6) * _pick(v, 0.3, 3.0), _ints(rng, 0, 3, 6)


def algo_not_flags(x):
    ok = x.min() > 0
    bad = not ok
    return bad, not (x.sum() > 1.0), ok


def _a_not(rng, v):
    return (rng.uniform(0.1, 1.0, 4) * _pick(v, 1.0, -1.0),)


def algo_best_pair_loop(x):
    best = (0, x[0])
    for i in range(1, x.shape[0]):
        if x[i] > best[1]:
            best = (i, x[i])
    return best


def _a_best_pair(rng, v):
    return (_randn(rng, 6) + _pick(v, 0.0, 2.0),)


def algo_isinstance_dispatch(x, k):
    if isinstance(k, int):
        return x * k
    return x + k


def _a_isinstance(rng, v):
    return _randn(rng, 4), _pick(v, 3, -2)


def algo_factorial_mod(n, m):
    r = 1
    for i in range(2, n + 1):
        r *= i
    return r % m, r > 10 ** 18


def _a_factorial(rng, v):
    return _pick(v, 25, 22), 1000003


def algo_uint_power_hash(u, e):
    h = u ** e
    return h, (h % 7).sum()


def _a_uint_pow(rng, v):
    return _ints(rng, 0, 256, 6, dtype=U8), np.array(_pick(v, [200, 3, 255, 128, 9, 130],
                                                          [129, 250, 2, 201, 0, 255]),
                                                    dtype=U8)


# =========================================================================================
# the corpus
# =========================================================================================

ENTRIES = [
    (algo_edit_distance, _a_edit, None),
    (algo_lis_length, _a_lis, None),
    (algo_knapsack, _a_knapsack, None),
    (algo_coin_change, _a_coins, None),
    (algo_pascal_mod, _a_pascal, None),
    (algo_min_path, _a_grid, 0),
    (algo_lcs_length, _a_lcs, None),
    (algo_range_sums, _a_range_sums, None),
    (algo_running_max, _a_runmax, None),
    (algo_running_max_loss, _a_f64_8, 0),
    (algo_count_inversions, _a_inv, None),
    (algo_histogram, _a_hist, None),
    (algo_runs, _a_runs, None),
    (algo_balanced, _a_balanced, None),
    (algo_cumsum_cumprod, _a_cum, None),
    (algo_suffix_scan, _a_suffix, None),
    (algo_bubble_sort_swap, _a_bubble, None),
    (algo_sorted_swap_loss, _a_f64_8, 0),
    (algo_insertion_sort_swaps, _a_insertion, None),
    (algo_search_many_nested, _a_search, None),
    (algo_topk, _a_topk, None),
    (algo_argmax_manual, _a_argmax, None),
    (algo_two_sum, _a_two_sum, None),
    (algo_sort_rows, _a_sort_rows, None),
    (algo_floordiv_mod, _a_floordiv, None),
    (algo_int_overflow, _a_overflow, None),
    (algo_bitops, _a_bitops, None),
    (algo_popcount, _a_popcount, None),
    (algo_gcd_vec, _a_gcd, None),
    (algo_collatz_vec, _a_collatz, None),
    (algo_sieve, _a_sieve, None),
    (algo_int_matmul_loops, _a_imatmul, None),
    (algo_digit_sum, _a_digits, None),
    (algo_pow_mod, _a_powmod, None),
    (algo_scalar_int_ops, _a_scalar_int, None),
    (algo_cube_root_newton, _a_cube, None),
    (algo_triangle_kind, _a_triangle, None),
    (algo_classify, _a_classify, None),
    (algo_shape_dispatch, _a_dispatch, None),
    (algo_where_chain, _a_where, None),
    (algo_piecewise_loss, _a_piecewise, 0),
    (algo_clip_counts, _a_clip, None),
    (algo_soft_threshold_loss, _a_soft, 0),
    (algo_newton_sqrt_sum, _a_newton, 0),
    (algo_damped_fixed_point, _a_damped, (0, 1)),
    (algo_gd_until, _a_gd, 0),
    (algo_kadane, _a_kadane_i, None),
    (algo_kadane_loss, _a_f64_8, 0),
    (algo_kw_helpers, _a_kw, None),
    (algo_defaults_self, _a_defaults, None),
    (algo_layers_local_zip, _a_zip_flat, None),
    (algo_row_stats, _a_rows, None),
    (algo_mixed_promotion, _a_promo, None),
    (algo_tuple_mixed, _a_tuple, None),
    (algo_zero_d, _a_zero_d, None),
    (algo_size_one, _a_size1, None),
    (algo_empty_ops, _a_empty, None),
    (algo_zero_trip, _a_zero_trip, None),
    (algo_fib_pairs, _a_fib, None),
    (algo_triple_nested, _a_triple, None),
    (algo_flag_while, _a_flag, None),
    (algo_optional_caller, _a_opt, None),
    (algo_pairs_rows, _a_pairs, None),
    (algo_aug_int_ops, _a_aug, None),
    (algo_shape_facts, _a_shape_facts, None),
    (algo_early_exit_loss, _a_early_exit, 0),
    (algo_scatter_loss, _a_scatter, 0),
    # found bugs when written (fixed since)
    (algo_bubble_sort, _a_bubble, None),
    (algo_sorted_weighted_loss, _a_f64_8, 0),
    (algo_insertion_sort, _a_insertion, None),
    (algo_search_many, _a_search, None),
    (algo_zip_layers, _a_zip, None),
    (algo_empty, _a_empty, None),
    (algo_not_flags, _a_not, None),
    (algo_best_pair_loop, _a_best_pair, None),
    (algo_isinstance_dispatch, _a_isinstance, None),
    (algo_uint_power_hash, _a_uint_pow, None),
]

CORPUS = {fn.__name__: (fn, make_args, argnums) for fn, make_args, argnums in ENTRIES}

# entries kept out of CORPUS because of a jitgraph bug: name -> (fn, make_args, argnums,
# diagnosis)
_VIEW = ("`t = a[j]` (a 1-D array's element, a NumPy scalar copy) is taken for a view of "
         "`a`, so the later `a[j] = ...` is refused with JitTypeError")
PENDING: dict[str, tuple[Any, Any, Any, str]] = {
    'algo_factorial_mod': (algo_factorial_mod, _a_factorial, None,
        'Python ints are int64 in the graph: 25! wraps silently (eager Python ints do not overflow)'),
}
