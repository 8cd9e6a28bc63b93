"""The corpus: ordinary NumPy functions, written the way a user writes them, that many tests
run through `jg.script` and compare with eager NumPy (tangent's functions.py).

Rules for entries:
- plain module-level functions over NumPy arrays and Python scalars, using only what the
  foundation issue lists (no item assignment, comprehensions, lambdas, try/with, ...);
- helpers are other plain functions of this module, some defined below their caller;
- each entry pairs the function with `make_args(rng, variant)`. Variant 0 and 1 give
  arguments of the same types and shapes but other values (other scalar arguments, other
  branches taken), so the second call reuses the compiled code;
- the eager result's type (ndarray / NumPy scalar / Python scalar / tuple) must not depend
  on the variant.

`CORPUS` is the list of (function, make_args) pairs; `ENTRIES` maps a unique id to one."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

MakeArgs = Callable[[np.random.Generator, int], tuple]

F32, F64 = np.float32, np.float64


def _randn(rng: np.random.Generator, *shape: int, dtype: Any = F64) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _pick(variant: int, *options: Any) -> Any:
    return options[variant % len(options)]


# =========================================================================================
# Losses
# =========================================================================================

def mse_loss(pred, target):
    diff = pred - target
    return (diff ** 2).mean()


def cross_entropy(logits, onehot):
    # log-softmax with the max subtracted, as numerically careful code does
    m = logits.max(axis=1, keepdims=True)
    z = logits - m
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(onehot * log_probs).sum() / logits.shape[0]


def logistic_loss(w, x, y):
    z = x @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def hinge_loss(scores, y):
    return np.maximum(0.0, 1.0 - y * scores).mean()


def huber_loss(pred, target, delta):
    r = pred - target
    a = np.abs(r)
    quadratic = 0.5 * r ** 2
    linear = delta * (a - 0.5 * delta)
    return np.where(a <= delta, quadratic, linear).sum()


def binary_cross_entropy(p, y):
    p = np.clip(p, 1e-7, 1.0 - 1e-7)
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def regularized_loss(pred, target, w, lam):
    return mse_loss(pred, target) + lam * l2_penalty(w)


def l2_penalty(w):
    return (w ** 2).sum()


# =========================================================================================
# Layers
# =========================================================================================

def dense_relu(x, w, b):
    return np.maximum(x @ w + b, 0.0)


def mlp_model(x, y, w1, w2a, w2b, prev_loss):
    # the model of shared/API.md
    w2 = w2a if prev_loss < 5.0 else w2b
    h = np.maximum(x @ w1, 0.0)
    y_pred = h @ w2
    loss = ((y_pred - y) ** 2).sum()
    return loss


def layer_norm(x, gamma, beta, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def gelu(x):
    # NOTE: np.sqrt(2.0 / np.pi) is a strong np.float64, so float32 input gives float64
    # eagerly (NEP 50); the compiled function must agree.
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def gelu_f32(x):
    # the same with a Python-float constant: float32 stays float32
    c = (2.0 / np.pi) ** 0.5
    return 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x * x * x)))


def attention(q, k, v):
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = q @ np.transpose(k, (0, 2, 1)) * scale
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v


def mlp_with_helpers(x, w1, b1, w2, b2):
    h = relu(affine(x, w1, b1))
    return softmax(affine(h, w2, b2))


def relu(x):
    return np.maximum(x, 0.0)


def affine(x, w, b):
    return x @ w + b


def logistic_predict(x, w, b):
    p = sigmoid(x @ w + b)
    return (p > 0.5).astype(np.int64), p


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def cosine_similarity(a, b):
    num = (a * b).sum(axis=-1)
    den = np.sqrt((a * a).sum(axis=-1)) * np.sqrt((b * b).sum(axis=-1))
    return num / np.maximum(den, 1e-8)


def pairwise_sq_dists(x):
    n = x.shape[0]
    d = x.shape[1]
    diff = x.reshape(n, 1, d) - x.reshape((1, n, d))
    return (diff ** 2).sum(axis=-1)


def outer_centered(x):
    c = x - x.mean()
    return c[:, None] * c[None, :]


# =========================================================================================
# Control flow
# =========================================================================================

def relu_or_leaky(x, leaky):
    if leaky:
        return np.where(x > 0, x, 0.01 * x)
    else:
        return np.maximum(x, 0.0)


def piecewise(x, t):
    if t < 0.0:
        y = -x
    elif t < 1.0:
        y = x * t
    else:
        y = x + t
    return y.sum()


def sign_dependent(x):
    if x.sum() > 0:
        return x * 2.0
    return x - 1.0


def clamp_norm(x, max_norm):
    norm = np.sqrt((x * x).sum())
    if norm > max_norm:
        x = x * (max_norm / norm)
    return x


def mean_abs_or_plain(x, use_abs):
    m = np.abs(x).mean() if use_abs else x.mean()
    return m * 2.0


def static_rank(x):
    if x.ndim == 2:
        return x.sum(axis=1)
    else:
        return x * 1.0


def early_exit(x, threshold):
    total = x.sum()
    if total > threshold:
        return total
    m = x.max()
    if m > 0.0:
        return m * 2.0
    return m - 1.0


def min_max_branch(x):
    mu = x.mean()
    if mu > 0.0:
        lo, hi = x.min(), mu
    else:
        lo, hi = mu, x.max()
    return lo, hi


def scalar_logic(x, flag, k):
    if flag and k > 2:
        return x * k
    elif not flag or k == 0:
        return x - k
    return x


def scalar_math(a, b):
    c = a * b + 1.0
    if c > 2.0:
        c = c - a
    return c


# =========================================================================================
# Loops
# =========================================================================================

def sum_of_powers(x, n):
    acc = np.zeros_like(x)
    p = np.ones_like(x)
    for i in range(n):
        p = p * x
        acc += p
    return acc


def taylor_log1p(x):
    y = np.zeros_like(x)
    for k in range(1, 6):
        y = y + (-1.0) ** (k + 1) * x ** k / k
    return y


def power_iteration(a, v0, iters):
    v = v0
    for _ in range(iters):
        w = a @ v
        v = w / np.sqrt((w * w).sum())
    lam = v @ (a @ v)
    return lam, v


def newton_sqrt(a, tol, max_iter):
    x = a * 0.5 + 0.5
    i = 0
    while i < max_iter:
        x_new = 0.5 * (x + a / x)
        err = np.abs(x_new - x).max()
        x = x_new
        i += 1
        if err < tol:
            break
    return x, i


def newton_cube_root(c, max_iter):
    x = np.ones_like(c)
    it = 0
    delta = 1.0
    while delta > 1e-12 and it < max_iter:
        x_new = x - (x ** 3 - c) / (3.0 * x ** 2)
        delta = np.abs(x_new - x).max()
        x = x_new
        it += 1
    return x


def sum_until_negative(x):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0.0:
            break
        total += x[i]
    return total


def positive_sum_count(x):
    count = 0
    total = x[0] * 0.0
    for i in range(len(x)):
        if x[i] <= 0.0:
            continue
        count += 1
        total = total + x[i]
    return total, count


def pairwise_energy(x):
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(i + 1, x.shape[0]):
            d = x[i] - x[j]
            total = total + (d * d).sum()
    return total


def running_stats(x):
    s = 0.0
    sq = 0.0
    for i in range(x.shape[0]):
        s += x[i]
        sq += x[i] * x[i]
    n = x.shape[0]
    mean = s / n
    return mean, sq / n - mean * mean


def rowwise_weighted(x):
    acc = np.zeros(x.shape[1])
    for i in range(x.shape[0]):
        acc = acc + x[i] * (i + 1)
    return acc


def strided_sum(x):
    total = x[0] * 0.0
    for i in range(1, x.shape[0], 2):
        total = total + x[i]
    return total


def halve_until_small(x):
    n = 0
    while np.abs(x).max() > 1.0:
        x = x / 2.0
        n += 1
    return x, n


def gradient_descent(a, b, x0, lr, steps):
    x = x0
    for _ in range(steps):
        g = a @ x - b
        x = x - lr * g
    return x, 0.5 * x @ (a @ x) - b @ x


def count_down(n, x):
    k = n
    while k > 0:
        x = x * 0.5 + 1.0
        k -= 1
    return x


# =========================================================================================
# Shapes, slicing, dtypes, builtins
# =========================================================================================

def normalized_sum(x):
    n = x.shape[0]
    m = len(x)
    return x.sum() / (n * m) + x.size


def center_columns(x):
    return x - x.sum(axis=0) / x.shape[0]


def slice_diffs(x):
    d = x[:, 1:] - x[:, :-1]
    return d, x[::-1]


def first_last(x):
    return x[0] + x[-1], x[1:3].mean()


def concat_features(a, b):
    h = np.concatenate([a, b], axis=1)
    return np.stack((h.sum(axis=1), h.max(axis=1)), axis=0)


def quantize(x, scale):
    q = np.round(x / scale).astype(np.int32)
    return q, q.astype(np.float32) * scale


def f32_poly(x):
    return 3.0 * x ** 2 - 2.0 * x + 1.0


def circle_area(r):
    return np.pi * r ** 2


def int_ops(a, b):
    s = a + b * 2
    d = a // 3
    m = a % 4
    return s.sum(), (d * m).max(), a.mean()


def builtins_mix(x, t):
    m = float(x.max())
    lo = min(m, t)
    hi = max(m, t)
    k = int(x.shape[0] / 2)
    return abs(lo - hi) + k, abs(x).sum()


def accuracy(logits, labels):
    pred = np.argmax(logits, axis=1)
    return (pred == labels).mean()


def linreg_step(w, x, y, lr):
    pred = x @ w
    grad = x.T @ (pred - y) / x.shape[0]
    return w - lr * grad


def gram_trace(x):
    g = x.T @ x
    return (g * np.eye(g.shape[0])).sum()


def standardize(x):
    mu, sd = mean_and_std(x)
    return (x - mu) / (sd + 1e-8)


def mean_and_std(x):
    mu = x.mean(axis=0)
    sd = np.sqrt(((x - mu) ** 2).mean(axis=0))
    return mu, sd


def swap_and_scale(a, b, s):
    a, b = b, a
    return a * s, b - s


def in_range_fraction(x, lo, hi):
    mask = (x >= lo) & (x <= hi)
    return mask.mean(), np.where(mask, x, 0.0)


def positional_weights(x):
    pos = np.arange(x.shape[0])
    return (x * pos.reshape(-1, 1)).sum(axis=0)


def ridge_predict(x, w, bound):
    return x.dot(w).clip(-bound, bound)


def squeeze_expand(x):
    y = np.expand_dims(x.sum(axis=1), 1)
    return (x - y).squeeze(), np.squeeze(y.T)


def exp_family(x):
    return np.expm1(x).sum() + np.log(np.abs(x) + 1.0).max() - np.sin(x).min() * np.cos(x).prod()


def int_divmod_loop(n, m):
    total = 0
    for i in range(n):
        total += (i * m) // 3 - i % 2
    return total


# =========================================================================================
# More user idioms: module constants, default and keyword arguments, shape unpacking,
# positional axes, chained comparisons, in-place-looking augmented assignment
# =========================================================================================

EPS = 1e-6
NUM_CLASSES = 3


def softmax_axis(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def attention_method_style(q, k, v):
    b, t, d = q.shape
    scores = q @ k.transpose(0, 2, 1) / d ** 0.5
    return softmax_axis(scores.reshape(b, t, -1), axis=2) @ v


def column_loop(x):
    n, d = x.shape
    out = 0.0
    for j in range(d):
        col = x[:, j]
        out += col.max() - col.min()
    return out / d, n


def matrix_entries(x):
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if i == j:
                continue
            total = total + x[i, j] * (i - j)
    return total


def running_max(x):
    best = -np.inf
    for i in range(x.shape[0]):
        best = np.maximum(best, x[i])
    return best


def chained_compare(x, t):
    if 0.0 < t < 1.0:
        return x * t
    return x


def aug_assign_ops(x, s):
    y = x + 0.0
    y *= s
    y -= 1.0
    y /= 2.0
    y **= 2
    return y


def positional_axes(x):
    a = x.sum(0)
    b = np.mean(x, 1)
    c = x.max(axis=(0, 1))
    return a, b, c


def creation_mix(x):
    n = x.shape[0]
    z = np.zeros((n, NUM_CLASSES), dtype=np.float32)
    o = np.ones(n)
    r = np.arange(n, dtype=np.float64)
    f = np.full((2, n), 0.5)
    return z + x[:, :NUM_CLASSES], (o * r).sum() + f.sum()


def global_eps_norm(x):
    return x / (np.sqrt((x * x).sum(axis=1, keepdims=True)) + EPS)


def predicates(x, a, b):
    positive = x.sum() > 0
    count = (x > 0).sum()
    return positive, count, a >= b


def dtype_static_check(x):
    if x.dtype == np.float32:
        y = x * 2.0
    else:
        y = x.astype(np.float32)
    return y


def clip_methods(x):
    return x.clip(0), np.clip(x, -1, 1), np.abs(x).clip(0.5, 1.5)


def half_slices(x):
    h = x.shape[0] // 2
    return x[:h] - x[h:], x[1:-1:2]


def first_above(x, t):
    # early return inside a branch inside a loop
    for i in range(x.shape[0]):
        if x[i] > t:
            return x[i] - t
    return x[0] * 0.0


def argmax_as_int(x):
    i = int(x.argmax())
    return i, x[i] * 2.0


# =========================================================================================
# Arguments
# =========================================================================================

def _args_mse(rng, v):
    return _randn(rng, 8, 3, dtype=F32), _randn(rng, 8, 3, dtype=F32)


def _args_xent(rng, v):
    labels = rng.integers(0, 5, 6)
    return _randn(rng, 6, 5) * 3.0, np.eye(5)[labels]


def _args_logistic(rng, v):
    return _randn(rng, 4), _randn(rng, 10, 4), np.sign(_randn(rng, 10))


def _args_hinge(rng, v):
    return _randn(rng, 12, dtype=F32), np.sign(_randn(rng, 12)).astype(F32)


def _args_huber(rng, v):
    return _randn(rng, 5, 4), _randn(rng, 5, 4), _pick(v, 1.0, 0.3)


def _args_bce(rng, v):
    return rng.uniform(0.0, 1.0, (7,)).astype(F32), (rng.random(7) < 0.5).astype(F32)


def _args_reg(rng, v):
    return _randn(rng, 6), _randn(rng, 6), _randn(rng, 3, 2), _pick(v, 0.1, 0.01)


def _args_dense(rng, v):
    return _randn(rng, 4, 3, dtype=F32), _randn(rng, 3, 5, dtype=F32), _randn(rng, 5, dtype=F32)


def _args_mlp(rng, v):
    return (_randn(rng, 16, 10, dtype=F32), _randn(rng, 16, 1, dtype=F32),
            _randn(rng, 10, 8, dtype=F32), _randn(rng, 8, 1, dtype=F32),
            _randn(rng, 8, 1, dtype=F32), _pick(v, 4.2, 6.0))


def _args_layer_norm(rng, v):
    return (_randn(rng, 3, 4, 6, dtype=F32), _randn(rng, 6, dtype=F32), _randn(rng, 6, dtype=F32),
            _pick(v, 1e-5, 1e-3))


def _args_x_f32_2d(rng, v):
    return (_randn(rng, 4, 7, dtype=F32),)


def _args_x_f64_2d(rng, v):
    return (_randn(rng, 5, 3),)


def _args_attention(rng, v):
    return _randn(rng, 2, 4, 8), _randn(rng, 2, 5, 8), _randn(rng, 2, 5, 3)


def _args_mlp_helpers(rng, v):
    return _randn(rng, 5, 4), _randn(rng, 4, 6), _randn(rng, 6), _randn(rng, 6, 3), _randn(rng, 3)


def _args_logistic_predict(rng, v):
    return _randn(rng, 9, 3), _randn(rng, 3), _pick(v, 0.25, -0.5)


def _args_cosine(rng, v):
    return _randn(rng, 4, 6, dtype=F32), _randn(rng, 6, dtype=F32)


def _args_outer(rng, v):
    return (_randn(rng, 5),)


def _args_leaky(rng, v):
    return _randn(rng, 3, 4), _pick(v, True, False)


def _args_piecewise(rng, v):
    return _randn(rng, 6, dtype=F32), _pick(v, 0.5, -2.0)


def _args_sign(rng, v):
    x = _randn(rng, 10)
    return (np.abs(x) if v == 0 else -np.abs(x),)


def _args_clamp(rng, v):
    return _randn(rng, 8), _pick(v, 1.0, 100.0)


def _args_mean_abs(rng, v):
    return _randn(rng, 3, 3, dtype=F32), _pick(v, True, False)


def _args_rank1(rng, v):
    return (_randn(rng, 5),)


def _args_early(rng, v):
    x = _randn(rng, 6)
    return x, _pick(v, -100.0, 100.0)


def _args_scalar_logic(rng, v):
    return _randn(rng, 4), _pick(v, True, False), _pick(v, 3, 0)


def _args_scalar_math(rng, v):
    return _pick(v, 1.5, 0.25), _pick(v, 2.0, -1.0)


def _args_powers(rng, v):
    return _randn(rng, 2, 3), _pick(v, 3, 5)


def _args_taylor(rng, v):
    return (rng.uniform(-0.5, 0.5, (6,)).astype(F32),)


def _args_power_iter(rng, v):
    m = _randn(rng, 4, 4)
    return m @ m.T + np.eye(4), _randn(rng, 4), _pick(v, 20, 7)


def _args_newton_sqrt(rng, v):
    return rng.uniform(0.5, 4.0, (5,)), _pick(v, 1e-12, 1e-3), _pick(v, 50, 3)


def _args_cube_root(rng, v):
    return rng.uniform(0.5, 5.0, (4,)), _pick(v, 100, 2)


def _args_until_negative(rng, v):
    x = np.abs(_randn(rng, 8)) + 0.1
    x[_pick(v, 5, 2)] = -1.0
    return (x,)


def _args_positive_count(rng, v):
    return (_randn(rng, 9),)


def _args_energy(rng, v):
    return (_randn(rng, 4, 3),)


def _args_running(rng, v):
    return (_randn(rng, 6),)


def _args_rowwise(rng, v):
    return (_randn(rng, 4, 3),)


def _args_halve(rng, v):
    return (_randn(rng, 5) * _pick(v, 10.0, 0.1),)


def _args_gd(rng, v):
    m = _randn(rng, 3, 3)
    return (m @ m.T / 3.0 + np.eye(3), _randn(rng, 3), np.zeros(3), _pick(v, 0.1, 0.05),
            _pick(v, 10, 4))


def _args_count_down(rng, v):
    return _pick(v, 4, 0), _randn(rng, 3, dtype=F32)


def _args_x_f32_1d(rng, v):
    return (_randn(rng, 6, dtype=F32),)


def _args_concat(rng, v):
    return _randn(rng, 3, 2), _randn(rng, 3, 4)


def _args_quantize(rng, v):
    return _randn(rng, 2, 5, dtype=F32) * 4.0, _pick(v, 0.5, 0.25)


def _args_int_ops(rng, v):
    return (rng.integers(-20, 20, (3, 4)).astype(np.int32),
            rng.integers(-5, 5, (4,)).astype(np.int32))


def _args_builtins(rng, v):
    return _randn(rng, 6), _pick(v, 0.5, -0.5)


def _args_accuracy(rng, v):
    return _randn(rng, 8, 4), rng.integers(0, 4, 8)


def _args_linreg(rng, v):
    return _randn(rng, 3), _randn(rng, 10, 3), _randn(rng, 10), _pick(v, 0.1, 0.5)


def _args_swap(rng, v):
    return _randn(rng, 3), _randn(rng, 3), _pick(v, 2.0, -1.0)


def _args_in_range(rng, v):
    return _randn(rng, 10), _pick(v, -0.5, 0.0), _pick(v, 0.5, 2.0)


def _args_ridge(rng, v):
    return _randn(rng, 5, 3, dtype=F32), _randn(rng, 3, dtype=F32), _pick(v, 0.5, 2.0)


def _args_exp_family(rng, v):
    return (_randn(rng, 2, 3),)


def _args_int_divmod(rng, v):
    return _pick(v, 5, 9), _pick(v, 2, 7)


def _args_attention_f32(rng, v):
    return (_randn(rng, 2, 3, 4, dtype=F32), _randn(rng, 2, 5, 4, dtype=F32),
            _randn(rng, 2, 5, 2, dtype=F32))


def _args_f64_4x4(rng, v):
    return (_randn(rng, 4, 4),)


def _args_chained(rng, v):
    return _randn(rng, 3), _pick(v, 0.5, 1.5)


def _args_aug(rng, v):
    return _randn(rng, 2, 3, dtype=F32), _pick(v, 3.0, -0.5)


def _args_3d(rng, v):
    return (_randn(rng, 2, 3, 4),)


def _args_predicates(rng, v):
    return _randn(rng, 7), _pick(v, 1.0, 2.0), _pick(v, 2.0, 1.0)


def _args_half(rng, v):
    return (_randn(rng, 8, 2),)


CORPUS: list[tuple[Callable[..., Any], MakeArgs]] = [
    # losses
    (mse_loss, _args_mse),
    (cross_entropy, _args_xent),
    (logistic_loss, _args_logistic),
    (hinge_loss, _args_hinge),
    (huber_loss, _args_huber),
    (binary_cross_entropy, _args_bce),
    (regularized_loss, _args_reg),
    # layers
    (dense_relu, _args_dense),
    (mlp_model, _args_mlp),
    (layer_norm, _args_layer_norm),
    (softmax, _args_x_f32_2d),
    (gelu, _args_x_f32_2d),
    (gelu_f32, _args_x_f32_2d),
    (attention, _args_attention),
    (mlp_with_helpers, _args_mlp_helpers),
    (logistic_predict, _args_logistic_predict),
    (cosine_similarity, _args_cosine),
    (pairwise_sq_dists, _args_x_f64_2d),
    (outer_centered, _args_outer),
    # control flow
    (relu_or_leaky, _args_leaky),
    (piecewise, _args_piecewise),
    (sign_dependent, _args_sign),
    (clamp_norm, _args_clamp),
    (mean_abs_or_plain, _args_mean_abs),
    (static_rank, _args_x_f64_2d),
    (static_rank, _args_rank1),
    (early_exit, _args_early),
    (min_max_branch, _args_sign),
    (scalar_logic, _args_scalar_logic),
    (scalar_math, _args_scalar_math),
    # loops
    (sum_of_powers, _args_powers),
    (taylor_log1p, _args_taylor),
    (power_iteration, _args_power_iter),
    (newton_sqrt, _args_newton_sqrt),
    (newton_cube_root, _args_cube_root),
    (sum_until_negative, _args_until_negative),
    (positive_sum_count, _args_positive_count),
    (pairwise_energy, _args_energy),
    (running_stats, _args_running),
    (rowwise_weighted, _args_rowwise),
    (strided_sum, _args_running),
    (halve_until_small, _args_halve),
    (gradient_descent, _args_gd),
    (count_down, _args_count_down),
    (int_divmod_loop, _args_int_divmod),
    # shapes, slicing, dtypes, builtins
    (normalized_sum, _args_x_f32_2d),
    (center_columns, _args_x_f32_2d),
    (slice_diffs, _args_x_f64_2d),
    (first_last, _args_running),
    (concat_features, _args_concat),
    (quantize, _args_quantize),
    (f32_poly, _args_x_f32_1d),
    (circle_area, _args_x_f32_1d),
    (int_ops, _args_int_ops),
    (builtins_mix, _args_builtins),
    (accuracy, _args_accuracy),
    (linreg_step, _args_linreg),
    (gram_trace, _args_x_f64_2d),
    (standardize, _args_x_f32_2d),
    (swap_and_scale, _args_swap),
    (in_range_fraction, _args_in_range),
    (positional_weights, _args_x_f64_2d),
    (ridge_predict, _args_ridge),
    (squeeze_expand, _args_x_f64_2d),
    (exp_family, _args_exp_family),
    # more user idioms
    (softmax_axis, _args_x_f32_2d),
    (attention_method_style, _args_attention_f32),
    (column_loop, _args_x_f64_2d),
    (matrix_entries, _args_f64_4x4),
    (running_max, _args_running),
    (chained_compare, _args_chained),
    (aug_assign_ops, _args_aug),
    (positional_axes, _args_3d),
    (creation_mix, _args_x_f32_2d),
    (global_eps_norm, _args_x_f64_2d),
    (predicates, _args_predicates),
    (dtype_static_check, _args_x_f32_2d),
    (dtype_static_check, _args_x_f64_2d),
    (clip_methods, _args_x_f64_2d),
    (half_slices, _args_half),
    (argmax_as_int, _args_running),
    (first_above, _args_chained),
]


def _ids() -> dict[str, tuple[Callable[..., Any], MakeArgs]]:
    out: dict[str, tuple[Callable[..., Any], MakeArgs]] = {}
    for fn, make in CORPUS:
        name = fn.__name__
        k = 1
        while name in out:
            k += 1
            name = f"{fn.__name__}_{k}"
        out[name] = (fn, make)
    return out


ENTRIES = _ids()
