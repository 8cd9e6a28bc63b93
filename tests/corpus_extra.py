"""A second corpus of ordinary NumPy functions, written the way users write them, kept apart
from tests/corpus.py (no duplicates): normalisation layers, more losses, recurrent cells
unrolled over time, optimiser steps, root finding, convolution by slicing, indexing idioms,
dtype mixes, scalar-only functions, size-1 and large shapes.

Each entry is (function, make_args(rng, variant), argnums). Variants 0 and 1 give arguments of
the same types and shapes but other values (other branches, other trip counts), so the second
call reuses the compiled code; the eager result's type never depends on the variant.
`argnums` is None, or the arguments to differentiate (the function then returns a float64
scalar and every argument in argnums is a float64 array).

`EXTRA` maps a unique id to its entry."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

F32, F64, I32, I64 = np.float32, np.float64, np.int32, np.int64


def _randn(rng: np.random.Generator, *shape: int, dtype: Any = F64) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _pick(variant: int, *options: Any) -> Any:
    return options[variant % len(options)]


SCALE_TABLE = np.array([0.5, 1.0, 2.0, 4.0])   # a module-level constant array
ALPHA = 0.2


# =========================================================================================
# Normalisation layers
# =========================================================================================

def rms_norm(x, g, eps=1e-6):
    ms = (x * x).mean(axis=-1, keepdims=True)
    return x / np.sqrt(ms + eps) * g


def rms_norm_loss(x, g):
    y = rms_norm(x, g)
    return (y * y * np.arange(y.shape[-1])).sum()


def batch_norm_train(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, mu, var


def batch_norm_loss(x, gamma, beta):
    y, mu, var = batch_norm_train(x, gamma, beta)
    return (y ** 3).mean() + 0.1 * mu.sum() + var.sum()


def group_stats(x):
    # (B, C, L) -> per-channel stats over batch and length
    mu = x.mean(axis=(0, 2))
    sd = x.std(axis=(0, 2))
    return mu, sd, (x - mu[None, :, None]) / (sd[None, :, None] + 1e-5)


def instance_norm_f32(x):
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.var(x, axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5)


# =========================================================================================
# Losses
# =========================================================================================

def focal_loss(logits, y, gamma=2.0, alpha=0.25):
    p = 1.0 / (1.0 + np.exp(-logits))
    pt = np.where(y > 0.5, p, 1.0 - p)
    w = np.where(y > 0.5, alpha, 1.0 - alpha) * (1.0 - pt) ** gamma
    return -(w * np.log(pt)).mean()


def _log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def kl_divergence(p_logits, q_logits):
    logp = _log_softmax(p_logits)
    logq = _log_softmax(q_logits)
    p = np.exp(logp)
    return (p * (logp - logq)).sum(axis=-1).mean()


def lse_global(x):
    m = x.max()
    return m + np.log(np.exp(x - m).sum())


def lse_rows(x):
    m = np.max(x, axis=1, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))).squeeze(1)


def lse_naive(x):
    return np.log(np.sum(np.exp(x)))


def lse_loop(x):
    acc = -np.inf
    for i in range(x.shape[0]):
        m = np.maximum(acc, x[i])
        acc = m + np.log(np.exp(acc - m) + np.exp(x[i] - m))
    return acc


def smooth_l1(pred, target, beta=1.0):
    d = np.abs(pred - target)
    return np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta).mean()


def cosine_embedding_loss(a, b, y, margin=0.0):
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    loss = np.where(y > 0, 1.0 - cos, np.maximum(0.0, cos - margin))
    return loss.mean()


def triplet_loss(anchor, pos, neg, margin):
    dp = np.sqrt(((anchor - pos) ** 2).sum(axis=1) + 1e-12)
    dn = np.sqrt(((anchor - neg) ** 2).sum(axis=1) + 1e-12)
    return np.maximum(dp - dn + margin, 0.0).mean()


def bce_with_logits(z, y):
    return (np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean()


def nll_fancy_index(logits, labels):
    logp = _log_softmax(logits, axis=1)
    return -logp[np.arange(logits.shape[0]), labels].mean()


def label_smoothing_xent(logits, labels, smoothing):
    k = logits.shape[-1]
    onehot = np.eye(k)[labels]
    target = onehot * (1.0 - smoothing) + smoothing / k
    return -(target * _log_softmax(logits)).sum(axis=-1).mean()


def contrastive_margin(d, same, margin):
    pos = same * d ** 2
    neg = (1.0 - same) * np.maximum(margin - d, 0.0) ** 2
    return 0.5 * (pos + neg).mean()


def weighted_mse_f32(pred, target, w):
    return (w * (pred - target) ** 2).sum() / w.sum()


# =========================================================================================
# Activations and layers
# =========================================================================================

def activations_f32(x):
    silu = x / (1.0 + np.exp(-x))
    softplus = np.log1p(np.exp(x))
    elu = np.where(x > 0, x, ALPHA * (np.exp(x) - 1.0))
    hard_sig = np.clip(x / 6.0 + 0.5, 0.0, 1.0)
    return silu, softplus, elu, hard_sig


def mish_loss(x):
    return (x * np.tanh(np.log1p(np.exp(x)))).sum()


def scaled_softplus(x, beta=1.0, threshold=20.0):
    bx = beta * x
    return np.where(bx > threshold, x, np.log1p(np.exp(np.minimum(bx, threshold))) / beta)


def softplus_kwargs(x):
    return scaled_softplus(x, beta=2.0) + scaled_softplus(x, threshold=0.5) + scaled_softplus(x)


def softmax_temperature(x, temperature=1.0):
    z = x / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_temp_caller(x, t):
    return softmax_temperature(x, temperature=t), softmax_temperature(x)


def two_layer_tanh(x, w1, b1, w2):
    h = np.tanh(x @ w1 + b1)
    return (h @ w2).sum()


def embedding_bag(table, idx):
    return table[idx].mean(axis=0)


def embedding_loss(table, idx):
    e = table[idx]
    return (e * e).sum() + e[0].sum()


def dropout_given_mask(x, mask, p):
    return x * mask / (1.0 - p)


def masked_mean(x, m):
    return (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)


def pairwise_cosine(x):
    xn = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return xn @ xn.T


def maxpool1d_reshape(x):
    b, length = x.shape
    return x.reshape(b, length // 2, 2).max(axis=-1)


def avgpool2d_reshape(x):
    h, w = x.shape
    return x.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def covariance(x):
    n = x.shape[0]
    xc = x - x.mean(axis=0)
    return xc.T @ xc / (n - 1)


def conv1d_loop(x, w):
    n = x.shape[0]
    k = w.shape[0]
    out = np.zeros(n - k + 1)
    for j in range(k):
        out = out + w[j] * x[j:j + n - k + 1]
    return (out ** 2).sum()


def conv1d_channels(x, w):
    # x (B, C, L), w (O, C, K) -> (B, O, L-K+1) as a sum of K batched matmuls
    k = w.shape[2]
    lo = x.shape[2] - k + 1
    out = np.zeros((x.shape[0], w.shape[0], lo))
    for j in range(k):
        out = out + w[:, :, j] @ x[:, :, j:j + lo]
    return out


def conv1d_channels_loss(x, w):
    return np.tanh(conv1d_channels(x, w)).sum()


def moving_average(x):
    window = 3
    t = x.shape[0]
    acc = np.zeros(t - window + 1)
    for i in range(window):
        acc = acc + x[i:i + t - window + 1]
    return acc / window


def ema_over_time(x, alpha):
    s = x[0]
    for t in range(1, x.shape[0]):
        s = alpha * x[t] + (1.0 - alpha) * s
    return s


def rnn_unrolled(xs, h0, wx, wh, b):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ wx + h @ wh + b)
    return h


def rnn_loss(xs, h0, wx, wh, b):
    h = rnn_unrolled(xs, h0, wx, wh, b)
    return (h ** 2).sum()


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gru_loss(xs, wz, uz, wr, ur, wh, uh):
    h = np.zeros((xs.shape[1], uz.shape[0]))
    for t in range(xs.shape[0]):
        x = xs[t]
        z = _sigmoid(x @ wz + h @ uz)
        r = _sigmoid(x @ wr + h @ ur)
        hh = np.tanh(x @ wh + (r * h) @ uh)
        h = (1.0 - z) * h + z * hh
    return h.sum()


def rnn_f32_outputs(xs, wx, wh):
    h = np.zeros((xs.shape[1], wh.shape[0]), dtype=np.float32)
    total = np.float32(0.0)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ wx + h @ wh)
        total = total + h.mean()
    return h, total


# =========================================================================================
# Optimiser steps and inner loops
# =========================================================================================

def adam_step(w, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1.0 - b1) * g
    v = b2 * v + (1.0 - b2) * g * g
    mhat = m / (1.0 - b1 ** t)
    vhat = v / (1.0 - b2 ** t)
    w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return w, m, v


def momentum_sgd(w, g, vel, lr, mu):
    vel = mu * vel - lr * g
    return w + vel, vel


def gd_inner_loop(w0, x, y, lr, steps):
    n = x.shape[0]
    w = w0
    for _ in range(steps):
        g = 2.0 * x.T @ (x @ w - y) / n
        w = w - lr * g
    return ((x @ w - y) ** 2).mean()


def gd_fixed_loss(w0, x, y):
    return gd_inner_loop(w0, x, y, 0.05, 3)


def sinkhorn(cost, a, b, iters):
    k = np.exp(-cost / 0.5)
    u = np.ones_like(a)
    v = np.ones_like(b)
    for _ in range(iters):
        u = a / (k @ v)
        v = b / (k.T @ u)
    return u[:, None] * k * v[None, :]


def matrix_power_loop(a, k):
    r = np.eye(a.shape[0])
    for _ in range(k):
        r = r @ a
    return r


# =========================================================================================
# Numerical loops
# =========================================================================================

def horner(coeffs, x):
    y = np.zeros_like(x)
    for i in range(coeffs.shape[0]):
        y = y * x + coeffs[i]
    return y


def horner_loss(coeffs, x):
    return horner(coeffs, x).sum()


def bisection_scalar(lo, hi, tol):
    # root of cos(x) - x on [lo, hi], Python floats all the way
    it = 0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if np.cos(mid) - mid > 0.0:
            lo = mid
        else:
            hi = mid
        it += 1
    return 0.5 * (lo + hi), it


def bisection_vector(c, iters):
    # cube roots of c > 0 by bisection, element-wise, with a data-independent while loop
    lo = np.zeros_like(c)
    hi = np.maximum(c, 1.0)
    i = 0
    while i < iters:
        mid = 0.5 * (lo + hi)
        too_big = mid ** 3 > c
        hi = np.where(too_big, mid, hi)
        lo = np.where(too_big, lo, mid)
        i += 1
    return 0.5 * (lo + hi)


def fixed_point_cos(x, tol):
    n = 0
    diff = np.inf
    while diff > tol and n < 200:
        nxt = np.cos(x)
        diff = np.abs(nxt - x).max()
        x = nxt
        n = n + 1
    return x, n


def welford(x):
    n = 0
    mean = np.zeros(x.shape[1])
    m2 = np.zeros(x.shape[1])
    for i in range(x.shape[0]):
        n += 1
        delta = x[i] - mean
        mean = mean + delta / n
        m2 = m2 + delta * (x[i] - mean)
    return mean, m2 / (n - 1)


def cumprod_until(x, limit):
    p = 1.0
    k = 0
    for i in range(x.shape[0]):
        p = p * x[i]
        k = i
        if p > limit:
            break
    return p, k


def collatz_steps(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def gcd_loop(a, b):
    while b:
        a, b = b, a % b
    return a


def scalar_series(x, n, alternate):
    total = 0.0
    term = 1.0
    for k in range(n):
        total += term if not alternate or k % 2 == 0 else -term
        term = term * x / (k + 1)
    return total


# =========================================================================================
# Control flow on scalars and runtime values
# =========================================================================================

def piecewise_where(x):
    return np.where(x < -1.0, -x - 0.5, np.where(x > 1.0, x - 0.5, 0.5 * x * x)).sum()


def piecewise_mode(x, mode):
    if mode == 0:
        y = np.maximum(x, 0.0)
    elif mode == 1:
        y = np.tanh(x)
    elif mode == 2:
        y = x * x
    else:
        y = -x
    return y.mean()


def ternary_scale(x):
    scale = 1.0 if x.max() > 1.0 else 2.0
    return x * scale, scale


def static_shape_branch(x):
    if x.shape[0] > 3:
        return x[:3].sum(axis=0)
    return x.sum(axis=0)


def nested_tuple(x):
    return (x.sum(), (x.mean(axis=0), x.max())), x.shape[0]


def clip_grad_norm(g, max_norm):
    norm = np.sqrt((g * g).sum())
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        g = g * scale
    return g, norm


# =========================================================================================
# Indexing, shapes, creation
# =========================================================================================

def shape_arith(x):
    half = x.shape[0] // 2
    wide = x.shape[-1] * 2
    y = np.concatenate([x[:half], x[half:2 * half]], axis=-1)
    return y.reshape(-1, wide).sum(axis=0), half * wide


def reshape_minus_one(x):
    return x.reshape(-1, 4).sum(axis=1), x.reshape(2, -1), x.reshape(x.shape[0], -1).mean()


def stack_last_axis(a, b):
    s = np.stack([a, b], axis=-1)
    c = np.concatenate((a, b), axis=-1)
    return s, c, s.sum(axis=-1) - a


def ellipsis_index(x):
    return x[..., 0] + x[..., -1], x[0, ...]


def newaxis_pairwise(x):
    d = x[:, None, :] - x[None, :, :]
    return np.sqrt((d * d).sum(axis=-1) + 1e-12)


def step_slices(x):
    return x[::2], x[1::2], x[::-2], x[-3:], x[:-3]


def negative_indices(x):
    return x[-1], x[-2:], x[:, -1], x[-1, -2]


def int_array_index(x, idx):
    return x[idx], x[:, idx].sum(axis=1)


def one_hot_eye(labels):
    return np.eye(4)[labels].sum(axis=0)


def argmax_accuracy(logits, labels):
    pred = logits.argmax(axis=-1)
    acc32 = (pred == labels).astype(np.float32).mean()
    acc64 = np.mean(pred == labels)
    return acc32, acc64, pred


def clip_abs_sign(x):
    c = np.clip(x, -0.5, 0.5)
    return c * np.sign(x) + np.abs(x), np.sign(x) * np.abs(x) - x


def mask_astype(x, thr):
    m = (x > thr).astype(np.float32)
    return (x * m).sum() / (m.sum() + 1.0), m


def mixed_int_float(a, b):
    # int32 with float32 promotes to float64; int32 with a Python float too
    return a + b, a * 2.0, b * 2, (a // 2) * b, a.sum() + b.sum()


def int_with_python(a, k):
    return a * k + 1, a // k, a % k, a / k


def bool_inputs(x, mask, flag):
    y = np.where(mask, x, 0.0)
    if flag:
        y = y * 2.0
    return y, mask.sum(), mask.any(), ~mask, mask & (x > 0)


def zero_d_inputs(a, b, x):
    return a * b + 1.0, x * a, a + x.sum(), np.sqrt(a) * b


def python_scalars_only(a, n, flag):
    r = a * n
    if flag:
        r = r + 0.5
    return r, n * 2, a > 1.5, flag and n > 2


def size_one_dims(x, y):
    s = x + y
    return s, x.sum(axis=0), y.squeeze(), (x @ y).sum(), s.mean(axis=1, keepdims=True)


def large_f32(x, w):
    h = x @ w
    e = np.exp(h - h.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return p, (x * x).sum(axis=1), np.maximum(x, 0.0).mean(axis=0), x.max()


def large_elementwise(x, y):
    return np.where(x > y, x * y, np.tanh(x) + np.sqrt(np.abs(y))) * 0.5 - 1.0


def f32_literals(x):
    leaky = np.where(x > 0, x, 0.2 * x)
    y = leaky * 1.5 - 0.25
    return y / 3.0 + 2 ** 2, (y ** 2).mean() * 0.5


def np_float32_constants(x):
    return x * np.float32(0.5) + np.float32(1e-3), x * np.float64(2.0), np.float32(2.0) * 3.0


def dtype_creation(x):
    z = np.zeros(x.shape, dtype=x.dtype)
    o = np.ones_like(x, dtype=np.int32)
    r = np.arange(0, x.shape[0], 2)
    lin = np.linspace(0.0, 1.0, x.shape[1])
    return z + x, o.sum(), r, x * lin


def astype_builtins(x):
    return x.astype(float), x.astype(int), (x > 0).astype(np.int64).sum(), x.astype(np.float32)


def power_forms(x):
    return x ** 0.5, x ** -1, 2.0 ** x, np.power(x, 3), np.square(x) + np.reciprocal(x)


def dot_vectors(a, b):
    return np.dot(a, b), a @ b, np.outer(a, b).sum(), a.dot(b) * 2


def reductions_mix(x):
    return (x.sum(axis=1).argmax(), np.prod(x, axis=0), x.min(axis=-1), np.any(x > 2.0),
            np.all(x > -5.0), x.std(), np.argmin(x))


def size_arith(x):
    n = x.size
    k = n // 3
    return x.reshape(-1)[:k].sum() * (n % 3 + 1), len(x.shape), x.ndim * 2


def module_constant_table(x, i):
    return x * SCALE_TABLE[i], SCALE_TABLE.sum() * x.mean()


def transpose_forms(x):
    return x.T.sum(axis=0), np.transpose(x, (2, 0, 1)), x.swapaxes(0, 1), x.transpose(1, 0, 2)


def broadcast_ops(x, b):
    return np.broadcast_to(b, x.shape) + x, np.expand_dims(b, 0) * x, x - b[None, :]


def trig_mix(x):
    return np.arctan2(np.sin(x), np.cos(x)), np.sinh(x) - np.cosh(x), np.arcsin(np.tanh(x))


def rounding_mix(x):
    return np.floor(x), np.ceil(x), np.rint(x), np.round(x), x // 0.5, x % 0.5


def isfinite_guard(x):
    y = np.log(x)
    ok = np.isfinite(y)
    return np.where(ok, y, 0.0).sum(), ok.sum(), np.isnan(y).any()


# =========================================================================================
# Idioms that found problems (kept: see the xfail reasons in test_corpus_extra.py)
# =========================================================================================

import math  # module-level, as users import it (placed here on purpose)


def linear_optional_bias(x, w, b=None):
    y = x @ w
    if b is not None:
        y = y + b
    return y


def masked_softmax_optional(x, mask=None):
    if mask is not None:
        x = np.where(mask, x, -1e9)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ridge_loss_optional(w, x, y, reg=None):
    loss = ((x @ w - y) ** 2).mean()
    if reg is not None:
        loss = loss + reg * (w * w).sum()
    return loss


def attention_math_sqrt(q, k, v):
    d = q.shape[-1]
    s = q @ k.T / math.sqrt(d)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


def train_split_round(x):
    n_train = round(x.shape[0] * 0.8)
    return x[:n_train].mean(axis=0), x[n_train:].mean(axis=0)


def chunk_means_ceil(x):
    half = math.ceil(x.shape[0] / 2)
    return x[:half].mean(), x[half:].mean()


def round_decimals(x):
    return np.round(x, 2), x.round(1)


def python_bool_count(a, b, c):
    return a + b + c


def metrics_list(pred, y):
    err = pred - y
    return [(err ** 2).mean(), np.abs(err).mean()]


def array_nbytes(x):
    return x.nbytes, x.itemsize


def imag_part(x):
    return x.real + x.imag


def rnn_backward_in_time(xs, wh):
    g = np.zeros(wh.shape[0])
    for t in reversed(range(xs.shape[0])):
        g = np.tanh(g @ wh + xs[t])
    return g


def best_so_far_float_inf(x):
    best = float("inf")
    for i in range(x.shape[0]):
        best = min(best, x[i])
    return best


def layers_zip(x, w1, b1, w2, b2):
    for w, b in zip((w1, w2), (b1, b2)):
        x = np.tanh(x @ w + b)
    return x


def stack_features_hv(a, b):
    return np.hstack([a, b]), np.vstack([a, b])


def cumulative_returns(r):
    return np.cumsum(r, axis=0), np.cumprod(1.0 + r, axis=0)


def causal_mask_scores(s):
    mask = np.triu(np.ones(s.shape), k=1)
    return np.where(mask > 0, -np.inf, s)


def flip_and_count(x):
    return np.flip(x, axis=0), np.count_nonzero(x > 0)


def solve_normal_equations(x, y):
    a = x.T @ x + 0.1 * np.eye(x.shape[1])
    return np.linalg.solve(a, x.T @ y)


def fixed_point_allclose(x):
    y = np.cos(x)
    it = 0
    while not np.allclose(x, y) and it < 100:
        x = y
        y = np.cos(x)
        it += 1
    return y, it


def softplus_logaddexp(x):
    return np.logaddexp(0.0, x)


def pad_and_repeat(x):
    return np.pad(x, 1), np.repeat(x, 2, axis=0), np.tile(x, (2, 1))


def trace_and_diag(a):
    return np.trace(a), np.diag(a)


def running_sum_first_iter(x):
    for i in range(x.shape[0]):
        if i == 0:
            acc = x[i]
        else:
            acc = acc + x[i] * 0.5
    return acc


# =========================================================================================
# Arguments
# =========================================================================================

def _a_rms(rng, v):
    return _randn(rng, 3, 4, 8, dtype=F32), _randn(rng, 8, dtype=F32)


def _a_rms_loss(rng, v):
    return _randn(rng, 4, 6), _randn(rng, 6)


def _a_bn(rng, v):
    return _randn(rng, 16, 5), _randn(rng, 5), _randn(rng, 5)


def _a_group(rng, v):
    return (_randn(rng, 2, 3, 5, dtype=F32),)


def _a_x_f32_3x7(rng, v):
    return (_randn(rng, 3, 7, dtype=F32) * _pick(v, 1.0, 3.0),)


def _a_focal(rng, v):
    return _randn(rng, 20), (rng.random(20) < 0.4).astype(F64)


def _a_kl(rng, v):
    return _randn(rng, 4, 6), _randn(rng, 4, 6)


def _a_x_f64_2d(rng, v):
    return (_randn(rng, 5, 6) * _pick(v, 1.0, 4.0),)


def _a_x_f64_1d(rng, v):
    return (_randn(rng, 7) * _pick(v, 1.0, 3.0),)


def _a_smooth(rng, v):
    return _randn(rng, 12), _randn(rng, 12), _pick(v, 1.0, 0.5)


def _a_cos_emb(rng, v):
    return (_randn(rng, 6, 4), _randn(rng, 6, 4), np.where(rng.random(6) < 0.5, 1.0, -1.0),
            _pick(v, 0.0, 0.2))


def _a_triplet(rng, v):
    return _randn(rng, 5, 3), _randn(rng, 5, 3), _randn(rng, 5, 3), _pick(v, 1.0, 0.2)


def _a_bce_logits(rng, v):
    return _randn(rng, 9) * 3.0, (rng.random(9) < 0.5).astype(F64)


def _a_nll(rng, v):
    return _randn(rng, 6, 4), rng.integers(0, 4, 6)


def _a_label_smooth(rng, v):
    return _randn(rng, 5, 4), rng.integers(0, 4, 5), _pick(v, 0.1, 0.0)


def _a_contrastive(rng, v):
    return np.abs(_randn(rng, 10)), (rng.random(10) < 0.5).astype(F64), _pick(v, 1.0, 2.0)


def _a_wmse(rng, v):
    return _randn(rng, 8, dtype=F32), _randn(rng, 8, dtype=F32), rng.random(8).astype(F32)


def _a_act(rng, v):
    return (_randn(rng, 4, 5, dtype=F32) * 3.0,)


def _a_softplus(rng, v):
    return (_randn(rng, 6) * 2.0,)


def _a_softmax_t(rng, v):
    return _randn(rng, 3, 5), _pick(v, 0.5, 2.0)


def _a_two_layer(rng, v):
    return _randn(rng, 4, 3), _randn(rng, 3, 5), _randn(rng, 5), _randn(rng, 5, 2)


def _a_embedding(rng, v):
    return _randn(rng, 6, 3), rng.integers(0, 6, 4)


def _a_dropout(rng, v):
    return (_randn(rng, 4, 4, dtype=F32), (rng.random((4, 4)) < 0.7).astype(F32),
            _pick(v, 0.3, 0.5))


def _a_masked_mean(rng, v):
    return _randn(rng, 3, 5), (rng.random((3, 5)) < 0.5).astype(F64)


def _a_pool1d(rng, v):
    return (_randn(rng, 3, 8, dtype=F32),)


def _a_pool2d(rng, v):
    return (_randn(rng, 4, 6),)


def _a_conv1d(rng, v):
    return _randn(rng, 10), _randn(rng, 3)


def _a_conv_ch(rng, v):
    return _randn(rng, 2, 3, 7), _randn(rng, 4, 3, 3)


def _a_ema(rng, v):
    return _randn(rng, 6, 3), _pick(v, 0.1, 0.9)


def _a_rnn(rng, v):
    return (_randn(rng, 5, 2, 3), _randn(rng, 2, 4), _randn(rng, 3, 4) * 0.5,
            _randn(rng, 4, 4) * 0.5, _randn(rng, 4))


def _a_gru(rng, v):
    d, hdim = 3, 4
    return (_randn(rng, 4, 2, d),) + tuple(
        _randn(rng, *s) * 0.5 for s in [(d, hdim), (hdim, hdim)] * 3)


def _a_rnn_f32(rng, v):
    return (_randn(rng, 4, 2, 3, dtype=F32), _randn(rng, 3, 5, dtype=F32) * 0.5,
            _randn(rng, 5, 5, dtype=F32) * 0.5)


def _a_adam(rng, v):
    return (_randn(rng, 3, 4, dtype=F32), _randn(rng, 3, 4, dtype=F32),
            _randn(rng, 3, 4, dtype=F32) * 0.1, np.abs(_randn(rng, 3, 4, dtype=F32)) * 0.1,
            _pick(v, 1, 10))


def _a_momentum(rng, v):
    return (_randn(rng, 5, dtype=F32), _randn(rng, 5, dtype=F32), _randn(rng, 5, dtype=F32),
            _pick(v, 0.1, 0.01), _pick(v, 0.9, 0.0))


def _a_gd_inner(rng, v):
    return _randn(rng, 3), _randn(rng, 8, 3), _randn(rng, 8), _pick(v, 0.05, 0.01), _pick(v, 5, 0)


def _a_gd_fixed(rng, v):
    return _randn(rng, 3), _randn(rng, 8, 3), _randn(rng, 8)


def _a_sinkhorn(rng, v):
    a = rng.random(4) + 0.5
    b = rng.random(5) + 0.5
    return rng.random((4, 5)), a / a.sum(), b / b.sum(), _pick(v, 10, 3)


def _a_matpow(rng, v):
    return _randn(rng, 3, 3) * 0.5, _pick(v, 3, 0)


def _a_horner(rng, v):
    return _randn(rng, 5), _randn(rng, 6)


def _a_bisect(rng, v):
    return 0.0, _pick(v, 1.0, 2.0), _pick(v, 1e-9, 1e-3)


def _a_bisect_vec(rng, v):
    return rng.uniform(0.1, 9.0, 6), _pick(v, 40, 5)


def _a_fixed_point(rng, v):
    return rng.uniform(0.0, 1.0, 4), _pick(v, 1e-10, 1e-2)


def _a_welford(rng, v):
    return (_randn(rng, 6, 3),)


def _a_cumprod(rng, v):
    return rng.uniform(1.0, 2.0, 8), _pick(v, 3.0, 1e6)


def _a_collatz(rng, v):
    return (_pick(v, 27, 6),)


def _a_gcd(rng, v):
    return _pick(v, 48, 17), _pick(v, 18, 5)


def _a_series(rng, v):
    return _pick(v, 0.5, 1.5), _pick(v, 8, 3), _pick(v, False, True)


def _a_mode(rng, v):
    return _randn(rng, 5), _pick(v, 1, 3)


def _a_ternary(rng, v):
    return (_randn(rng, 5) * _pick(v, 3.0, 0.1),)


def _a_static_branch(rng, v):
    return (_randn(rng, 5, 2),)


def _a_clip_grad(rng, v):
    return _randn(rng, 6, dtype=F32), _pick(v, 0.5, 100.0)


def _a_shape_arith(rng, v):
    return (_randn(rng, 5, 3),)


def _a_reshape(rng, v):
    return (_randn(rng, 2, 4, 3, dtype=F32),)


def _a_stack(rng, v):
    return _randn(rng, 3, 4), _randn(rng, 3, 4)


def _a_3d(rng, v):
    return (_randn(rng, 2, 3, 4),)


def _a_step(rng, v):
    return (_randn(rng, 9, dtype=F32),)


def _a_neg_idx(rng, v):
    return (_randn(rng, 4, 5),)


def _a_int_idx(rng, v):
    return _randn(rng, 5, 4), np.array(_pick(v, [0, 2, 2], [3, 1, 0]), dtype=np.int64)


def _a_onehot(rng, v):
    return (rng.integers(0, 4, 7),)


def _a_acc(rng, v):
    return _randn(rng, 10, 3, dtype=F32), rng.integers(0, 3, 10).astype(I32)


def _a_mask(rng, v):
    return _randn(rng, 4, 6, dtype=F32), _pick(v, 0.0, 0.5)


def _a_mixed(rng, v):
    return rng.integers(-5, 5, (3, 4)).astype(I32), _randn(rng, 3, 4, dtype=F32)


def _a_int_py(rng, v):
    return rng.integers(-9, 9, (5,)).astype(I32), _pick(v, 3, 4)


def _a_bool(rng, v):
    return _randn(rng, 6), rng.random(6) < 0.5, _pick(v, True, False)


def _a_zero_d(rng, v):
    return np.array(_pick(v, 2.0, 0.5)), np.array(_pick(v, 3.0, -1.0)), _randn(rng, 3)


def _a_py_only(rng, v):
    return _pick(v, 1.25, 2.5), _pick(v, 3, 1), _pick(v, True, False)


def _a_size_one(rng, v):
    return _randn(rng, 1, 5), _randn(rng, 5, 1)


def _a_large(rng, v):
    return _randn(rng, 256, 512, dtype=F32), _randn(rng, 512, 64, dtype=F32) * 0.05


def _a_large_ew(rng, v):
    return _randn(rng, 256, 512, dtype=F32), _randn(rng, 256, 512, dtype=F32)


def _a_f32_1d(rng, v):
    return (_randn(rng, 8, dtype=F32),)


def _a_dtype_creation(rng, v):
    return (_randn(rng, 5, 3, dtype=F32),)


def _a_pos(rng, v):
    return (rng.uniform(0.5, 2.0, (2, 3)),)


def _a_vec(rng, v):
    return _randn(rng, 4), _randn(rng, 4)


def _a_reduce(rng, v):
    return (_randn(rng, 4, 5) * 2.0,)


def _a_size_arith(rng, v):
    return (_randn(rng, 4, 5),)


def _a_table(rng, v):
    return _randn(rng, 3), _pick(v, 1, 3)


def _a_broadcast(rng, v):
    return _randn(rng, 3, 4), _randn(rng, 4)


def _a_round(rng, v):
    return (_randn(rng, 7) * 3.0,)


def _a_finite(rng, v):
    return (_randn(rng, 8),)


def _a_opt_bias(rng, v):
    return _randn(rng, 4, 3), _randn(rng, 3, 2)


def _a_opt_mask(rng, v):
    return _randn(rng, 3, 5), None


def _a_ridge_opt(rng, v):
    return _randn(rng, 3), _randn(rng, 8, 3), _randn(rng, 8)


def _a_attn2(rng, v):
    return _randn(rng, 4, 8), _randn(rng, 5, 8), _randn(rng, 5, 3)


def _a_split(rng, v):
    return (_randn(rng, 10, 3),)


def _a_bools3(rng, v):
    return _pick(v, True, False), True, _pick(v, False, True)


def _a_metrics(rng, v):
    return _randn(rng, 6), _randn(rng, 6)


def _a_rnn_back(rng, v):
    return _randn(rng, 4, 3), _randn(rng, 3, 3) * 0.5


def _a_solve(rng, v):
    return _randn(rng, 8, 3), _randn(rng, 8)


def _a_returns(rng, v):
    return (_randn(rng, 5, 2) * 0.01,)


def _a_two_layer_zip(rng, v):
    return (_randn(rng, 2, 3), _randn(rng, 3, 3), _randn(rng, 3), _randn(rng, 3, 4),
            _randn(rng, 4))


def _a_f64_4x4(rng, v):
    return (_randn(rng, 4, 4),)


def _a_fixed_point_x(rng, v):
    return (rng.uniform(0.0, 1.0, 3),)


Entry = tuple[Callable[..., Any], Callable[[np.random.Generator, int], tuple], Any]

CORPUS_EXTRA: list[Entry] = [
    # normalisation
    (rms_norm, _a_rms, None),
    (rms_norm_loss, _a_rms_loss, (0, 1)),
    (batch_norm_train, _a_bn, None),
    (batch_norm_loss, _a_bn, (0, 1, 2)),
    (group_stats, _a_group, None),
    (instance_norm_f32, _a_x_f32_3x7, None),
    # losses
    (focal_loss, _a_focal, 0),
    (kl_divergence, _a_kl, (0, 1)),
    (lse_global, _a_x_f64_2d, 0),
    (lse_rows, _a_x_f64_2d, None),
    (lse_naive, _a_x_f64_1d, 0),
    (lse_loop, _a_x_f64_1d, 0),
    (smooth_l1, _a_smooth, (0, 1)),
    (cosine_embedding_loss, _a_cos_emb, (0, 1)),
    (triplet_loss, _a_triplet, (0, 1, 2)),
    (bce_with_logits, _a_bce_logits, 0),
    (nll_fancy_index, _a_nll, 0),
    (label_smoothing_xent, _a_label_smooth, 0),
    (contrastive_margin, _a_contrastive, 0),
    (weighted_mse_f32, _a_wmse, None),
    # activations and layers
    (activations_f32, _a_act, None),
    (mish_loss, _a_softplus, 0),
    (softplus_kwargs, _a_softplus, None),
    (softmax_temp_caller, _a_softmax_t, None),
    (two_layer_tanh, _a_two_layer, (0, 1, 2, 3)),
    (embedding_bag, _a_embedding, None),
    (embedding_loss, _a_embedding, 0),
    (dropout_given_mask, _a_dropout, None),
    (masked_mean, _a_masked_mean, None),
    (pairwise_cosine, _a_x_f64_2d, None),
    (maxpool1d_reshape, _a_pool1d, None),
    (avgpool2d_reshape, _a_pool2d, None),
    (covariance, _a_x_f64_2d, None),
    (conv1d_loop, _a_conv1d, (0, 1)),
    (conv1d_channels, _a_conv_ch, None),
    (conv1d_channels_loss, _a_conv_ch, (0, 1)),
    (moving_average, _a_x_f64_1d, None),
    (ema_over_time, _a_ema, None),
    (rnn_unrolled, _a_rnn, None),
    (rnn_loss, _a_rnn, (0, 1, 2, 3, 4)),
    (gru_loss, _a_gru, (0, 1, 2, 3, 4, 5, 6)),
    (rnn_f32_outputs, _a_rnn_f32, None),
    # optimisers and inner loops
    (adam_step, _a_adam, None),
    (momentum_sgd, _a_momentum, None),
    (gd_inner_loop, _a_gd_inner, (0, 1, 2)),
    (gd_fixed_loss, _a_gd_fixed, (0, 1, 2)),
    (sinkhorn, _a_sinkhorn, None),
    (matrix_power_loop, _a_matpow, None),
    # numerical loops
    (horner, _a_horner, None),
    (horner_loss, _a_horner, (0, 1)),
    (bisection_scalar, _a_bisect, None),
    (bisection_vector, _a_bisect_vec, None),
    (fixed_point_cos, _a_fixed_point, None),
    (welford, _a_welford, None),
    (cumprod_until, _a_cumprod, None),
    (collatz_steps, _a_collatz, None),
    (gcd_loop, _a_gcd, None),
    (scalar_series, _a_series, None),
    # control flow
    (piecewise_where, _a_x_f64_1d, 0),
    (piecewise_mode, _a_mode, 0),
    (ternary_scale, _a_ternary, None),
    (static_shape_branch, _a_static_branch, None),
    (nested_tuple, _a_x_f64_2d, None),
    (clip_grad_norm, _a_clip_grad, None),
    # indexing, shapes, creation, dtypes
    (shape_arith, _a_shape_arith, None),
    (reshape_minus_one, _a_reshape, None),
    (stack_last_axis, _a_stack, None),
    (ellipsis_index, _a_3d, None),
    (newaxis_pairwise, _a_x_f64_2d, None),
    (step_slices, _a_step, None),
    (negative_indices, _a_neg_idx, None),
    (int_array_index, _a_int_idx, None),
    (one_hot_eye, _a_onehot, None),
    (argmax_accuracy, _a_acc, None),
    (clip_abs_sign, _a_x_f64_1d, None),
    (mask_astype, _a_mask, None),
    (mixed_int_float, _a_mixed, None),
    (int_with_python, _a_int_py, None),
    (bool_inputs, _a_bool, None),
    (zero_d_inputs, _a_zero_d, None),
    (python_scalars_only, _a_py_only, None),
    (size_one_dims, _a_size_one, None),
    (large_f32, _a_large, None),
    (large_elementwise, _a_large_ew, None),
    (f32_literals, _a_f32_1d, None),
    (np_float32_constants, _a_f32_1d, None),
    (dtype_creation, _a_dtype_creation, None),
    (astype_builtins, _a_x_f64_1d, None),
    (power_forms, _a_pos, None),
    (dot_vectors, _a_vec, None),
    (reductions_mix, _a_reduce, None),
    (size_arith, _a_size_arith, None),
    (module_constant_table, _a_table, None),
    (transpose_forms, _a_3d, None),
    (broadcast_ops, _a_broadcast, None),
    (trig_mix, _a_x_f64_1d, None),
    (rounding_mix, _a_round, None),
    (isfinite_guard, _a_finite, None),
    # idioms that found problems
    (linear_optional_bias, _a_opt_bias, None),
    (masked_softmax_optional, _a_opt_mask, None),
    (ridge_loss_optional, _a_ridge_opt, 0),
    (attention_math_sqrt, _a_attn2, None),
    (train_split_round, _a_split, None),
    (chunk_means_ceil, _a_split, None),
    (round_decimals, _a_round, None),
    (python_bool_count, _a_bools3, None),
    (metrics_list, _a_metrics, None),
    (array_nbytes, _a_x_f64_1d, None),
    (imag_part, _a_x_f64_1d, None),
    (rnn_backward_in_time, _a_rnn_back, None),
    (best_so_far_float_inf, _a_x_f64_1d, None),
    (layers_zip, _a_two_layer_zip, None),
    (stack_features_hv, _a_stack, None),
    (cumulative_returns, _a_returns, None),
    (causal_mask_scores, _a_f64_4x4, None),
    (flip_and_count, _a_x_f64_2d, None),
    (solve_normal_equations, _a_solve, None),
    (fixed_point_allclose, _a_fixed_point_x, None),
    (softplus_logaddexp, _a_x_f64_1d, None),
    (pad_and_repeat, _a_pool2d, None),
    (trace_and_diag, _a_f64_4x4, None),
    (running_sum_first_iter, _a_shape_arith, None),
]


def _ids() -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for entry in CORPUS_EXTRA:
        name = entry[0].__name__
        k = 1
        while name in out:
            k += 1
            name = f"{entry[0].__name__}_{k}"
        out[name] = entry
    return out


EXTRA = _ids()
