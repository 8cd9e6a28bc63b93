"""A corpus of ordinary machine-learning functions, written the way a NumPy/JAX user writes
them: classification losses with integer labels, MLPs with several activations,
normalisation layers, attention (single- and multi-head, causal), convolutions and pooling,
recurrent cells unrolled over time, embeddings, optimiser steps on tuple/list pytrees,
clustering, PCA, mixtures, metric-learning losses, and whole training steps that call
`jg.grad` / `jg.value_and_grad` inside the function.

Same format as tests/corpus_extra.py: each entry is (function, make_args(rng, variant),
argnums); variants 0 and 1 give arguments of the same types and shapes but other values.
`argnums` is None, or the arguments to differentiate (the function then returns a float64
scalar and every argument in argnums is a float64 array).

`CORPUS` maps each function's name (all start with `ml_`) to its entry. `PENDING` holds
functions that found jitgraph bugs, with a one-line diagnosis; they are not run."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import jitgraph as jg

F32, F64, I32, I64 = np.float32, np.float64, np.int32, np.int64


def _randn(rng: np.random.Generator, *shape: int, dtype: Any = F64) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _pick(variant: int, *options: Any) -> Any:
    return options[variant % len(options)]


# =========================================================================================
# helpers (inlined into the callers)
# =========================================================================================

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _log_softmax(z, axis=-1):
    m = z.max(axis=axis, keepdims=True)
    s = z - m
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(z, axis):
    m = np.max(z, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(z - m), axis=axis))


def _gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


# =========================================================================================
# Classification losses
# =========================================================================================

def ml_logreg_l2_loss(w, b, x, y, lam):
    z = x @ w + b
    # stable log(1 + exp(-y z)) for labels in {0, 1} mapped to {-1, +1}
    s = 2.0 * y - 1.0
    nll = np.logaddexp(0.0, -s * z).mean()
    return nll + 0.5 * lam * (w ** 2).sum()


def ml_softmax_regression_nll(W, b, x, y):
    logits = x @ W + b
    logp = _log_softmax(logits, axis=1)
    n = x.shape[0]
    return -logp[np.arange(n), y].mean()


def ml_multiclass_hinge(scores, y, margin):
    n = scores.shape[0]
    correct = scores[np.arange(n), y]
    m = np.maximum(0.0, scores - correct[:, None] + margin)
    m = m * (1.0 - np.eye(scores.shape[1])[y])
    return m.sum() / n


def ml_multilabel_bce_f32(logits, targets, pos_weight):
    log_p = -np.logaddexp(np.float32(0.0), -logits)
    log_not_p = -np.logaddexp(np.float32(0.0), logits)
    loss = -(pos_weight * targets * log_p + (1.0 - targets) * log_not_p)
    return loss.mean(axis=0), loss.mean()


def ml_accuracy_confusion(logits, y):
    k = logits.shape[1]
    pred = logits.argmax(axis=1)
    acc = (pred == y).mean()
    conf = np.eye(k, dtype=np.int64)[y].T @ np.eye(k, dtype=np.int64)[pred]
    per_class = np.diag(conf) / np.maximum(conf.sum(axis=1), 1)
    return acc, conf, per_class


def ml_precision_recall_f1(probs, y, threshold):
    pred = (probs >= threshold).astype(np.float64)
    tp = (pred * y).sum()
    fp = (pred * (1.0 - y)).sum()
    fn = ((1.0 - pred) * y).sum()
    precision = tp / max(tp + fp, 1.0)
    recall = tp / max(tp + fn, 1.0)
    f1 = 2.0 * precision * recall / (precision + recall + 1e-12)
    return precision, recall, f1


# =========================================================================================
# Regression and metric-learning losses
# =========================================================================================

def ml_huber_loss(pred, target, delta):
    r = pred - target
    a = np.abs(r)
    quad = np.minimum(a, delta)
    lin = a - quad
    return (0.5 * quad ** 2 + delta * lin).mean()


def ml_triplet_cosine(anchor, pos, neg, margin):
    def cos(a, b):
        return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.maximum(0.0, cos(anchor, neg) - cos(anchor, pos) + margin).mean()


def ml_contrastive_pairs(x1, x2, same, margin):
    d = np.sqrt(((x1 - x2) ** 2).sum(axis=1) + 1e-9)
    loss = same * d ** 2 + (1 - same) * np.maximum(margin - d, 0.0) ** 2
    return loss.mean()


def ml_infonce(z1, z2, temperature):
    z1 = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    z2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    sim = z1 @ z2.T / temperature
    n = sim.shape[0]
    labels = np.arange(n)
    l1 = -_log_softmax(sim, axis=1)[labels, labels].mean()
    l2 = -_log_softmax(sim, axis=0)[labels, labels].mean()
    return 0.5 * (l1 + l2)


def ml_cosine_similarity_f32(a, b, eps):
    num = a @ b.T
    den = np.outer(np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1)))
    return num / np.maximum(den, eps)


def ml_knn_1nn_predict(xtrain, ytrain, xtest):
    d2 = ((xtest[:, None, :] - xtrain[None, :, :]) ** 2).sum(axis=-1)
    nn = np.argmin(d2, axis=1)
    return ytrain[nn], np.sqrt(d2.min(axis=1))


# =========================================================================================
# MLPs and activations
# =========================================================================================

def ml_mlp_relu_f32(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0.0)
    return _softmax(h @ w2 + b2)


def ml_mlp_gelu_ln_loss(x, w1, w2, g, b):
    h = _gelu(x @ w1)
    h = _layer_norm(h, g, b)
    return np.tanh(h @ w2).sum()


def ml_activations_f32(x):
    relu = np.maximum(x, 0)
    leaky = np.where(x >= 0, x, np.float32(0.1) * x)
    silu = x * _sigmoid(x)
    softplus = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    gelu = _gelu(x)
    relu6 = np.clip(x, 0.0, 6.0)
    return relu, leaky, silu, softplus, gelu, relu6


def ml_mlp_layers_tuple(ws, bs, x):
    # ws, bs: tuples of same-width layers (pytrees), zipped and unrolled
    h = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w + b
        if i < len(ws) - 1:
            h = h * _sigmoid(h)
    return h


def ml_residual_block_loss(x, w1, w2, g):
    h = _layer_norm(x, g, 0.0)
    h = np.maximum(h @ w1, 0.0) @ w2
    y = x + h
    return (y ** 2).mean()


def ml_dropout_mlp_loss(w1, w2, x, mask, p):
    h = np.tanh(x @ w1)
    h = h * mask / (1.0 - p)
    return ((h @ w2) ** 2).sum()


def ml_weight_decay_loss(w1, w2, x, y, wd):
    pred = np.tanh(x @ w1) @ w2
    data = 0.5 * ((pred - y) ** 2).sum(axis=1).mean()
    reg = wd * (np.sum(w1 ** 2) + np.sum(w2 ** 2))
    return data + reg


# =========================================================================================
# Normalisation
# =========================================================================================

def ml_layer_norm_loss(x, g, b):
    y = _layer_norm(x, g, b)
    return (y * np.arange(1, y.shape[-1] + 1)).sum() + (y ** 2).sum()


def ml_batch_norm_train_f32(x, gamma, beta, run_mean, run_var, momentum):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    y = (x - mu) / np.sqrt(var + 1e-5) * gamma + beta
    n = x.shape[0]
    new_mean = (1 - momentum) * run_mean + momentum * mu
    new_var = (1 - momentum) * run_var + momentum * var * n / (n - 1)
    return y, new_mean, new_var


def ml_group_norm(x, groups, gamma, beta):
    n, c, length = x.shape
    xg = x.reshape(n, groups, c // groups * length)
    mu = xg.mean(axis=-1, keepdims=True)
    var = xg.var(axis=-1, keepdims=True)
    xg = (xg - mu) / np.sqrt(var + 1e-5)
    return xg.reshape(n, c, length) * gamma[:, None] + beta[:, None]


# =========================================================================================
# Attention
# =========================================================================================


def ml_mha_f32(x, wq, wk, wv, wo, n_heads):
    b, t, d = x.shape
    hd = d // n_heads

    def split(z):
        return z.reshape(b, t, n_heads, hd).transpose(0, 2, 1, 3)

    q, k, v = split(x @ wq), split(x @ wk), split(x @ wv)
    att = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(hd))
    causal = np.triu(np.ones((t, t), dtype=bool), k=1)
    att = np.where(causal, -np.inf, att)
    att = _softmax(att, axis=-1)
    y = (att @ v).transpose(0, 2, 1, 3).reshape(b, t, d)
    return y @ wo


def ml_mha_einsum_loss(x, wq, wk, wv, wo):
    # wq/wk/wv: (d, h, e); wo: (h, e, d)
    q = np.einsum("btd,dhe->bhte", x, wq)
    k = np.einsum("btd,dhe->bhte", x, wk)
    v = np.einsum("btd,dhe->bhte", x, wv)
    s = np.einsum("bhqe,bhke->bhqk", q, k) / np.sqrt(q.shape[-1])
    a = _softmax(s, axis=-1)
    o = np.einsum("bhqk,bhke->bhqe", a, v)
    y = np.einsum("bhte,hed->btd", o, wo)
    return (y * x).sum()


def ml_transformer_block_f32(x, pos, wq, wk, wv, w1, w2):
    # tiny pre-LN block with sinusoidal-style positions added
    h = x + pos
    t, d = h.shape
    a = _layer_norm(h, np.ones(d, dtype=np.float32), np.zeros(d, dtype=np.float32))
    q, k, v = a @ wq, a @ wk, a @ wv
    s = q @ k.T * np.float32(1.0 / math.sqrt(d))
    s = s + np.triu(np.full((t, t), -1e4, dtype=np.float32), 1)
    h = h + _softmax(s) @ v
    m = _layer_norm(h, 1.0, 0.0)
    return h + _gelu(m @ w1) @ w2


def ml_sinusoidal_positions(t, d):
    pos = np.arange(t)[:, None].astype(np.float64)
    i = np.arange(d // 2)[None, :]
    angle = pos / 10000.0 ** (2.0 * i / d)
    pe = np.zeros((t, d))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe


# =========================================================================================
# Convolution and pooling
# =========================================================================================

def ml_conv2d_loops_loss(x, w, b):
    # x (C, H, W), w (O, C, KH, KW), b (O,) -> valid convolution
    _, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    out = np.zeros((o, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + oh, j:j + ow]                    # (C, OH, OW)
            out = out + np.einsum("oc,chw->ohw", w[:, :, i, j], patch)
    out = out + b[:, None, None]
    return np.maximum(out, 0.0).sum()


def ml_conv1d_dilated_causal(x, w, dilation):
    # x (T, C), w (K, C, O): causal, left-padded with zeros
    t = x.shape[0]
    k = w.shape[0]
    pad = (k - 1) * dilation
    xp = np.concatenate([np.zeros((pad, x.shape[1])), x], axis=0)
    out = np.zeros((t, w.shape[2]))
    for j in range(k):
        out += xp[j * dilation:j * dilation + t] @ w[j]
    return out


def ml_maxpool2d_f32(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


# =========================================================================================
# Recurrent nets
# =========================================================================================


def ml_gru_sequence_f32(xs, wz, wr, wh, uz, ur, uh):
    t_steps, batch, _ = xs.shape
    hdim = uz.shape[0]
    h = np.zeros((batch, hdim), dtype=np.float32)
    hs = np.zeros((t_steps, batch, hdim), dtype=np.float32)
    for t in range(t_steps):
        x = xs[t]
        z = _sigmoid(x @ wz + h @ uz)
        r = _sigmoid(x @ wr + h @ ur)
        hh = np.tanh(x @ wh + (r * h) @ uh)
        h = z * h + (1 - z) * hh
        hs[t] = h
    return hs, h


def ml_rnn_seq_labels_loss(wx, wh, wy, xs, ys):
    # per-step softmax cross-entropy with integer labels ys (T, B)
    t_steps, batch, _ = xs.shape
    h = np.zeros((batch, wh.shape[0]))
    total = 0.0
    for t in range(t_steps):
        h = np.tanh(xs[t] @ wx + h @ wh)
        logp = _log_softmax(h @ wy)
        total = total - logp[np.arange(batch), ys[t]].sum()
    return total / (t_steps * batch)


def ml_bidirectional_rnn_f32(xs, wf, wb, u):
    t_steps = xs.shape[0]
    hf = np.zeros((xs.shape[1], u.shape[0]), dtype=np.float32)
    hb = np.zeros((xs.shape[1], u.shape[0]), dtype=np.float32)
    outs_f = np.zeros((t_steps, xs.shape[1], u.shape[0]), dtype=np.float32)
    outs_b = np.zeros((t_steps, xs.shape[1], u.shape[0]), dtype=np.float32)
    for t in range(t_steps):
        hf = np.tanh(xs[t] @ wf + hf @ u)
        outs_f[t] = hf
    for t in reversed(range(t_steps)):
        hb = np.tanh(xs[t] @ wb + hb @ u)
        outs_b[t] = hb
    return np.concatenate([outs_f, outs_b], axis=-1)


# =========================================================================================
# Embeddings
# =========================================================================================

def ml_embedding_classifier_loss(emb, w, tokens, labels):
    # tokens (B, L) ints -> mean-pooled embeddings -> linear -> NLL
    e = emb[tokens]                     # (B, L, D)
    pooled = e.mean(axis=1)
    logp = _log_softmax(pooled @ w)
    return -logp[np.arange(tokens.shape[0]), labels].mean()


def ml_embedding_bag_offsets_f32(table, idx, seg):
    # seg (N,) segment ids in [0, B); sum of table rows per segment via one-hot matmul
    b = 3
    onehot = (seg[None, :] == np.arange(b)[:, None]).astype(np.float32)
    return onehot @ table[idx]


# =========================================================================================
# Optimisers on pytrees
# =========================================================================================

def ml_sgd_momentum_tree(params, grads, vel, lr, mu):
    new_vel = tuple(mu * v + g for v, g in zip(vel, grads))
    new_params = tuple(p - lr * v for p, v in zip(params, new_vel))
    return new_params, new_vel


def ml_adam_tree(params, grads, m, v, t, lr):
    b1, b2, eps = 0.9, 0.999, 1e-8
    new_m = tuple(b1 * mi + (1 - b1) * g for mi, g in zip(m, grads))
    new_v = tuple(b2 * vi + (1 - b2) * g ** 2 for vi, g in zip(v, grads))
    new_p = tuple(p - lr * (mi / (1 - b1 ** t)) / (np.sqrt(vi / (1 - b2 ** t)) + eps)
                  for p, mi, vi in zip(params, new_m, new_v))
    return new_p, new_m, new_v


def ml_rmsprop_step_f32(w, g, sq, lr, rho):
    sq = rho * sq + (1.0 - rho) * g * g
    w = w - lr * g / (np.sqrt(sq) + 1e-7)
    return w, sq


def ml_adagrad_list(params, grads, accum, lr):
    out_p = [p - lr * g / np.sqrt(a + g * g + 1e-10) for p, g, a in zip(params, grads, accum)]
    out_a = [a + g * g for g, a in zip(grads, accum)]
    return out_p, out_a


def ml_clip_by_global_norm(grads, max_norm):
    total = np.sqrt(sum((g ** 2).sum() for g in grads))
    scale = np.minimum(1.0, max_norm / (total + 1e-6))
    return tuple(g * scale for g in grads), total


def ml_adamw_decoupled(w, g, m, v, step, lr, wd):
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    mhat = m / (1.0 - 0.9 ** step)
    vhat = v / (1.0 - 0.999 ** step)
    w = w * (1.0 - lr * wd) - lr * mhat / (np.sqrt(vhat) + 1e-8)
    return w, m, v


# =========================================================================================
# Training steps with gradients inside the function
# =========================================================================================

def _mlp_loss(w1, b1, w2, x, y):
    h = np.tanh(x @ w1 + b1)
    logp = _log_softmax(h @ w2)
    return -logp[np.arange(x.shape[0]), y].mean()


def ml_train_step_value_and_grad(w1, b1, w2, x, y, lr):
    loss, (g1, gb, g2) = jg.value_and_grad(_mlp_loss, (0, 1, 2))(w1, b1, w2, x, y)
    return loss, w1 - lr * g1, b1 - lr * gb, w2 - lr * g2


def _linreg_loss(w, x, y):
    return ((x @ w - y) ** 2).mean()


def ml_train_loop_grad(w, x, y, lr, steps):
    losses = np.zeros(steps)
    for s in range(steps):
        losses[s] = _linreg_loss(w, x, y)
        w = w - lr * jg.grad(_linreg_loss)(w, x, y)
    return w, losses


def _tree_loss(params, x, y):
    w1, w2 = params
    return ((np.tanh(x @ w1) @ w2 - y) ** 2).sum()


def ml_train_step_tree_momentum(params, vel, x, y, lr, mu):
    g = jg.grad(_tree_loss)(params, x, y)
    vel = tuple(mu * v + gi for v, gi in zip(vel, g))
    params = tuple(p - lr * v for p, v in zip(params, vel))
    return params, vel


# =========================================================================================
# Unsupervised
# =========================================================================================

def ml_kmeans_step(x, centroids):
    k = centroids.shape[0]
    d2 = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    labels = d2.argmin(axis=1)
    onehot = np.eye(k)[labels]                   # (N, K)
    counts = onehot.sum(axis=0)
    sums = onehot.T @ x
    new_c = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1.0)[:, None], centroids)
    inertia = d2[np.arange(x.shape[0]), labels].sum()
    return new_c, labels, inertia


def ml_kmeans_iterate_f32(x, centroids, iters):
    k = centroids.shape[0]
    centroids = centroids.copy()
    for _ in range(iters):
        d2 = (x ** 2).sum(1)[:, None] - 2 * x @ centroids.T + (centroids ** 2).sum(1)[None, :]
        labels = np.argmin(d2, axis=1)
        for j in range(k):
            m = (labels == j).astype(np.float32)
            cnt = m.sum()
            if cnt > 0:
                centroids[j] = (m[:, None] * x).sum(axis=0) / cnt
    return centroids


def ml_pca_power_iteration(x, iters):
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / (x.shape[0] - 1)
    v = np.ones(cov.shape[0]) / np.sqrt(cov.shape[0])
    for _ in range(iters):
        v = cov @ v
        v = v / np.linalg.norm(v)
    lam = v @ cov @ v
    return v, lam, xc @ v


def ml_gmm_loglik(x, means, log_vars, logits):
    # diagonal Gaussian mixture; x (N, D), means/log_vars (K, D), logits (K,)
    d = x.shape[1]
    diff = x[:, None, :] - means[None, :, :]                        # (N, K, D)
    log_det = log_vars.sum(axis=1)                                  # (K,)
    maha = (diff ** 2 / np.exp(log_vars)[None, :, :]).sum(axis=2)  # (N, K)
    log_norm = -0.5 * (d * np.log(2.0 * np.pi) + log_det)
    log_pi = _log_softmax(logits)
    comp = log_pi[None, :] + log_norm[None, :] - 0.5 * maha
    return _logsumexp(comp, axis=1).mean()


def ml_vae_elbo(mu, logvar, w_dec, x, eps):
    z = mu + np.exp(0.5 * logvar) * eps
    logits = z @ w_dec
    rec = (np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))).sum(1)
    kl = -0.5 * (1.0 + logvar - mu ** 2 - np.exp(logvar)).sum(axis=1)
    return (rec + kl).mean()


def ml_gumbel_argmax_sample(logits, u, temperature):
    g = -np.log(-np.log(u))
    y_soft = _softmax((logits + g) / temperature)
    idx = np.argmax(logits + g, axis=-1)
    return idx, y_soft


def ml_early_stopping_gd(w, x, y, lr, tol):
    n = x.shape[0]
    prev = np.inf
    loss = ((x @ w - y) ** 2).mean()
    it = 0
    while prev - loss > tol and it < 100:
        g = 2.0 * x.T @ (x @ w - y) / n
        w = w - lr * g
        prev = loss
        loss = ((x @ w - y) ** 2).mean()
        it += 1
    return w, loss, it


# =========================================================================================
# More layers, sequence models, RL, classic learners
# =========================================================================================

def ml_mlp_dict_params_loss(params, x, y):
    h = np.maximum(x @ params["w1"] + params["b1"], 0.0)
    logp = _log_softmax(h @ params["w2"])
    return -logp[np.arange(x.shape[0]), y].mean()


def ml_dict_train_step(params, x, y, lr):
    loss, g = jg.value_and_grad(ml_mlp_dict_params_loss)(params, x, y)
    return (loss, params["w1"] - lr * g["w1"], params["b1"] - lr * g["b1"],
            params["w2"] - lr * g["w2"])


def ml_lstm_split_concat_loss(w, b, xs):
    # one fused gate matrix over [x, h]; gates by np.split
    hdim = w.shape[1] // 4
    h = np.zeros((xs.shape[1], hdim))
    c = np.zeros((xs.shape[1], hdim))
    for t in range(xs.shape[0]):
        z = np.concatenate([xs[t], h], axis=1) @ w + b
        i, f, g, o = np.split(z, 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
    return (h * np.arange(1, hdim + 1)).sum()


def ml_rnn_hs_setitem_loss(wx, wh, xs):
    t_steps = xs.shape[0]
    h = np.zeros(wh.shape[0])
    hs = np.zeros((t_steps, wh.shape[0]))
    for t in range(t_steps):
        h = np.tanh(xs[t] @ wx + h @ wh)
        hs[t] = h
    att = _softmax(hs @ hs[-1])
    return (att @ hs).sum() + (hs ** 2).mean()


def ml_gqa_repeat_f32(q, k, v):
    # q (Hq, T, E), k/v (Hkv, T, E): grouped-query attention, kv heads repeated
    rep = q.shape[0] // k.shape[0]
    k = np.repeat(k, rep, axis=0)
    v = np.repeat(v, rep, axis=0)
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(np.float32(q.shape[-1]))
    return _softmax(s) @ v


def ml_masked_attention_inf_loss(q, k, v, lengths):
    # key padding mask from per-row lengths, -inf outside
    t = k.shape[0]
    valid = np.arange(t)[None, :] < lengths[:, None]
    s = np.where(valid, q @ k.T, -np.inf)
    return (_softmax(s) @ v).sum()


def ml_conv1d_same_pad_loss(x, w):
    # x (B, L), w (K,), K odd: 'same' convolution with zero padding
    k = w.shape[0]
    length = x.shape[1]
    xp = np.pad(x, ((0, 0), (k // 2, k // 2)))
    out = sum(w[j] * xp[:, j:j + length] for j in range(k))
    return (np.tanh(out) * x).sum()


def ml_maxpool_loss(x, w):
    n, h, wd = x.shape
    pooled = x.reshape(n, h // 2, 2, wd // 2, 2).max(axis=(2, 4))
    return (pooled.reshape(n, -1) @ w).sum()


def ml_discounted_returns(rewards, gamma):
    t_steps = rewards.shape[0]
    ret = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(t_steps)):
        running = rewards[t] + gamma * running
        ret[t] = running
    return ret


def ml_gae(rewards, values, dones, gamma, lam):
    # values has T + 1 entries (bootstrap); dones in {0, 1}
    t_steps = rewards.shape[0]
    adv = np.zeros(t_steps)
    last = 0.0
    for t in reversed(range(t_steps)):
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * values[t + 1] * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv, adv + values[:-1]


def ml_policy_gradient_loss(w, obs, actions, returns):
    logp = _log_softmax(obs @ w)
    chosen = logp[np.arange(obs.shape[0]), actions]
    adv = (returns - returns.mean()) / (returns.std() + 1e-8)
    entropy = -(np.exp(logp) * logp).sum(axis=1).mean()
    return -(chosen * adv).mean() - 0.01 * entropy


def ml_bce_clip_loss(w, x, y):
    p = _sigmoid(x @ w).clip(1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()


def ml_metrics_python_scalars(logits, y):
    pred = np.argmax(logits, axis=1)
    correct = int((pred == y).sum())
    acc = float(correct / len(y))
    return correct, acc


def ml_topk_accuracy(scores, y, k):
    true_score = scores[np.arange(scores.shape[0]), y]
    rank = (scores > true_score[:, None]).sum(axis=1)
    return (rank < 1).mean(), (rank < k).mean()


def ml_cosine_lr_schedule(step, total, lr0, warmup):
    if step < warmup:
        return lr0 * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * lr0 * (1.0 + math.cos(math.pi * progress))


def ml_lr_schedule_array(steps, lr0, warmup):
    t = np.arange(steps).astype(np.float64)
    warm = lr0 * (t + 1) / warmup
    cos = 0.5 * lr0 * (1 + np.cos(np.pi * (t - warmup) / (steps - warmup)))
    return np.where(t < warmup, warm, cos)


def ml_backtracking_line_search(w, x, y):
    def f(v):
        return ((x @ v - y) ** 2).mean()
    g = 2.0 * x.T @ (x @ w - y) / x.shape[0]
    step = 1.0
    fw = f(w)
    while f(w - step * g) > fw - 0.5 * step * (g @ g) and step > 1e-8:
        step = step * 0.5
    return f(w - step * g)


def ml_hmm_forward_loglik(log_pi, log_a, log_b, obs):
    # log_pi (S,), log_a (S, S), log_b (S, V), obs (T,) ints
    alpha = log_pi + log_b[:, obs[0]]
    for t in range(1, obs.shape[0]):
        alpha = _logsumexp(alpha[:, None] + log_a, axis=0) + log_b[:, obs[t]]
    return _logsumexp(alpha, axis=0)


def ml_viterbi_decode(log_pi, log_a, log_b, obs):
    t_steps = obs.shape[0]
    s = log_pi.shape[0]
    delta = log_pi + log_b[:, obs[0]]
    back = np.zeros((t_steps, s), dtype=np.int64)
    for t in range(1, t_steps):
        cand = delta[:, None] + log_a
        back[t] = cand.argmax(axis=0)
        delta = cand.max(axis=0) + log_b[:, obs[t]]
    path = np.zeros(t_steps, dtype=np.int64)
    path[t_steps - 1] = delta.argmax()
    for t in reversed(range(t_steps - 1)):
        path[t] = back[t + 1, path[t + 1]]
    return path, delta.max()


def ml_gaussian_nb(xtrain, ytrain, xtest, k):
    onehot = np.eye(k)[ytrain]                           # (N, K)
    counts = onehot.sum(axis=0)
    means = (onehot.T @ xtrain) / counts[:, None]
    var = (onehot.T @ xtrain ** 2) / counts[:, None] - means ** 2 + 1e-3
    log_prior = np.log(counts / counts.sum())
    ll = -0.5 * (np.log(2 * np.pi * var)[None, :, :]
                 + (xtest[:, None, :] - means[None, :, :]) ** 2 / var[None, :, :]).sum(-1)
    return np.argmax(ll + log_prior, axis=1), ll


def ml_linear_svm_sgd(w0, x, y, lr, lam):
    w = w0
    for i in range(x.shape[0]):
        if y[i] * (x[i] @ w) < 1.0:
            w = w - lr * (lam * w - y[i] * x[i])
        else:
            w = w - lr * lam * w
    return np.maximum(0.0, 1.0 - y * (x @ w)).mean() + 0.5 * lam * (w @ w)


def ml_perceptron_until_converged(x, y, max_epochs):
    w = np.zeros(x.shape[1])
    epoch = 0
    mistakes = 1
    while mistakes > 0 and epoch < max_epochs:
        mistakes = 0
        for i in range(x.shape[0]):
            if y[i] * (x[i] @ w) <= 0:
                w = w + y[i] * x[i]
                mistakes += 1
        epoch += 1
    return w, epoch


def ml_mlp_enumerate_layers(ws, bs, x):
    # ws, bs: tuples of same-width layers (pytrees), unrolled through enumerate
    h = x
    for i, w in enumerate(ws):
        h = h @ w + bs[i]
        if i < len(ws) - 1:
            h = h * _sigmoid(h)
    return h


def ml_knn_topk_argsort(xtrain, ytrain, xtest, k, n_classes):
    d2 = ((xtest[:, None, :] - xtrain[None, :, :]) ** 2).sum(axis=-1)
    nearest = np.argsort(d2, axis=1)[:, :k]              # (M, k)
    votes = np.eye(n_classes)[ytrain[nearest]].sum(axis=1)
    return votes.argmax(axis=1), np.sort(d2, axis=1)[:, :k].mean(axis=1)


def ml_roc_auc_rank(scores, y):
    # Mann-Whitney U from ranks: argsort of argsort
    ranks = np.argsort(np.argsort(scores)) + 1
    n_pos = y.sum()
    n_neg = y.shape[0] - n_pos
    return (ranks * y).sum() - n_pos * (n_pos + 1) / 2.0, n_pos * n_neg


def ml_minibatch_sgd_epochs(w, x, y, perm, lr, epochs, bs):
    n = x.shape[0]
    losses = np.zeros(epochs)
    for ep in range(epochs):
        for i in range(n // bs):
            idx = perm[i * bs:i * bs + bs]
            w = w - lr * jg.grad(_linreg_loss)(w, x[idx], y[idx])
        losses[ep] = _linreg_loss(w, x, y)
    return w, losses


def ml_train_early_stop(w, x, y, lr, max_steps, tol):
    prev = _linreg_loss(w, x, y)
    steps = 0
    for s in range(max_steps):
        val, g = jg.value_and_grad(_linreg_loss)(w, x, y)
        w = w - lr * g
        steps = s + 1
        if prev - val < tol:
            break
        prev = val
    return w, steps


def ml_maml_inner_steps_loss(w0, x, y, xq, yq):
    # second order: differentiate through two inner gradient steps (jg.grad inside)
    w = w0
    for _ in range(2):
        w = w - 0.1 * jg.grad(_linreg_loss)(w, x, y)
    return _linreg_loss(w, xq, yq)


# -----------------------------------------------------------------------------------------
# functions that found jitgraph bugs (in PENDING, not in CORPUS)
# -----------------------------------------------------------------------------------------

def ml_feature_binning_onehot(x, width, n_bins):
    # bucketize a continuous feature into equal-width bins, one-hot encode
    idx = np.clip((x / width).astype(np.int64), 0, n_bins - 1)
    return idx, np.eye(n_bins)[idx]


def ml_memory_bank_loss(feats, bank, idx, q):
    # MoCo-style memory bank: write this batch's features at their slots (a slot may come
    # twice in a batch: NumPy keeps the last write), then score the queries against it
    mem = bank.copy()
    mem[idx] = feats
    return np.logaddexp(0.0, -(q @ mem.T)).sum()


def ml_closure_train_step(w, b, x, y, lr):
    def loss_fn(w, b):
        return ((x @ w + b - y) ** 2).mean()
    loss, (gw, gb) = jg.value_and_grad(loss_fn, argnums=(0, 1))(w, b)
    return loss, w - lr * gw, b - lr * gb


# =========================================================================================
# argument makers
# =========================================================================================

def _a_logreg(rng, v):
    x = _randn(rng, 12, 4)
    y = (rng.uniform(size=12) > 0.5).astype(F64)
    return _randn(rng, 4), _randn(rng, 1), x, y, _pick(v, 0.1, 0.01)


def _a_softreg(rng, v):
    return (_randn(rng, 4, 3), _randn(rng, 3), _randn(rng, 6, 4),
            rng.integers(0, 3, 6).astype(_pick(v, I64, I64)))


def _a_hinge(rng, v):
    return _randn(rng, 7, 4), rng.integers(0, 4, 7), 1.0


def _a_multilabel(rng, v):
    return (_randn(rng, 5, 3, dtype=F32), (rng.uniform(size=(5, 3)) > 0.5).astype(F32),
            _randn(rng, 3, dtype=F32) ** 2 + F32(0.5))


def _a_acc(rng, v):
    return _randn(rng, 10, 3), rng.integers(0, 3, 10)


def _a_prf(rng, v):
    return rng.uniform(size=20), (rng.uniform(size=20) > 0.5).astype(F64), _pick(v, 0.5, 0.3)


def _a_huber(rng, v):
    return _randn(rng, 10) * 2.0, _randn(rng, 10), _pick(v, 1.0, 0.5)


def _a_triplet(rng, v):
    return _randn(rng, 5, 4), _randn(rng, 5, 4), _randn(rng, 5, 4), 0.5


def _a_contrast(rng, v):
    return (_randn(rng, 6, 3), _randn(rng, 6, 3),
            (rng.uniform(size=6) > 0.5).astype(F64), _pick(v, 2.0, 1.0))


def _a_infonce(rng, v):
    return _randn(rng, 5, 4), _randn(rng, 5, 4), _pick(v, 0.5, 0.1)


def _a_cos_f32(rng, v):
    return _randn(rng, 4, 6, dtype=F32), _randn(rng, 3, 6, dtype=F32), 1e-8


def _a_knn(rng, v):
    return _randn(rng, 10, 3), rng.integers(0, 4, 10), _randn(rng, 4, 3)


def _a_mlp_f32(rng, v):
    return (_randn(rng, 5, 4, dtype=F32), _randn(rng, 4, 8, dtype=F32),
            _randn(rng, 8, dtype=F32), _randn(rng, 8, 3, dtype=F32), _randn(rng, 3, dtype=F32))


def _a_mlp_gelu(rng, v):
    return (_randn(rng, 4, 3), _randn(rng, 3, 6) * 0.5, _randn(rng, 6, 2) * 0.5,
            1.0 + 0.1 * _randn(rng, 6), 0.1 * _randn(rng, 6))


def _a_act_f32(rng, v):
    return (_randn(rng, 3, 7, dtype=F32) * F32(3.0),)


def _a_layers_tuple(rng, v):
    ws = tuple(_randn(rng, 4, 4) * 0.5 for _ in range(3))
    bs = tuple(_randn(rng, 4) * 0.1 for _ in range(3))
    return ws, bs, _randn(rng, 5, 4)


def _a_resblock(rng, v):
    return _randn(rng, 4, 6), _randn(rng, 6, 8) * 0.3, _randn(rng, 8, 6) * 0.3, \
        1.0 + 0.1 * _randn(rng, 6)


def _a_dropout(rng, v):
    p = _pick(v, 0.5, 0.25)
    return (_randn(rng, 3, 5), _randn(rng, 5, 2), _randn(rng, 4, 3),
            (rng.uniform(size=(4, 5)) > p).astype(F64), p)


def _a_wd(rng, v):
    return _randn(rng, 3, 4), _randn(rng, 4, 2), _randn(rng, 6, 3), _randn(rng, 6, 2), 1e-2


def _a_ln(rng, v):
    return _randn(rng, 3, 5), 1.0 + 0.2 * _randn(rng, 5), 0.1 * _randn(rng, 5)


def _a_bn_f32(rng, v):
    return (_randn(rng, 8, 4, dtype=F32), np.ones(4, F32), np.zeros(4, F32),
            _randn(rng, 4, dtype=F32), np.abs(_randn(rng, 4, dtype=F32)) + F32(0.5),
            _pick(v, 0.1, 0.01))


def _a_groupnorm(rng, v):
    return _randn(rng, 2, 6, 5, dtype=F32), 2, np.ones(6, F32), np.zeros(6, F32)


def _a_mha(rng, v):
    d = 8
    return (_randn(rng, 2, 5, d, dtype=F32),) + tuple(
        _randn(rng, d, d, dtype=F32) * F32(0.3) for _ in range(4)) + (2,)


def _a_mha_einsum(rng, v):
    return (_randn(rng, 2, 4, 6), _randn(rng, 6, 2, 3) * 0.4, _randn(rng, 6, 2, 3) * 0.4,
            _randn(rng, 6, 2, 3) * 0.4, _randn(rng, 2, 3, 6) * 0.4)


def _a_tblock(rng, v):
    t, d = 5, 8
    return (_randn(rng, t, d, dtype=F32), _randn(rng, t, d, dtype=F32) * F32(0.1)) + tuple(
        _randn(rng, a, b, dtype=F32) * F32(0.3) for a, b in [(d, d), (d, d), (d, d),
                                                              (d, 16), (16, d)])


def _a_sinus(rng, v):
    return 6, 8


def _a_conv2d(rng, v):
    return _randn(rng, 2, 6, 5), _randn(rng, 3, 2, 3, 2), _randn(rng, 3)


def _a_dilated(rng, v):
    return _randn(rng, 10, 3), _randn(rng, 3, 3, 2), 2


def _a_maxpool(rng, v):
    return (_randn(rng, 2, 3, 4, 6, dtype=F32),)


def _a_gru_f32(rng, v):
    d, h = 3, 4
    return (_randn(rng, 6, 2, d, dtype=F32),) + tuple(
        _randn(rng, d, h, dtype=F32) * F32(0.5) for _ in range(3)) + tuple(
        _randn(rng, h, h, dtype=F32) * F32(0.5) for _ in range(3))


def _a_rnn_labels(rng, v):
    d, h, k = 3, 4, 3
    return (_randn(rng, d, h) * 0.5, _randn(rng, h, h) * 0.5, _randn(rng, h, k),
            _randn(rng, 5, 2, d), rng.integers(0, k, (5, 2)))


def _a_birnn(rng, v):
    return (_randn(rng, 4, 2, 3, dtype=F32), _randn(rng, 3, 4, dtype=F32),
            _randn(rng, 3, 4, dtype=F32), _randn(rng, 4, 4, dtype=F32) * F32(0.5))


def _a_emb_cls(rng, v):
    return (_randn(rng, 10, 4), _randn(rng, 4, 3), rng.integers(0, 10, (5, 3)),
            rng.integers(0, 3, 5))


def _a_emb_bag(rng, v):
    return (_randn(rng, 7, 4, dtype=F32), rng.integers(0, 7, 9), rng.integers(0, 3, 9))


def _tree(rng, dtype=F64):
    # leaves of one shape: the harness's input_tolerance calls np.asarray on each argument
    return (_randn(rng, 3, 2, dtype=dtype), _randn(rng, 3, 2, dtype=dtype),
            _randn(rng, 3, 2, dtype=dtype))


def _a_sgd_tree(rng, v):
    return _tree(rng), _tree(rng), _tree(rng), 0.1, _pick(v, 0.9, 0.5)


def _a_adam_tree(rng, v):
    sq = tuple(np.abs(a) for a in _tree(rng))
    return _tree(rng), _tree(rng), _tree(rng), sq, _pick(v, 1, 7), 1e-2


def _a_rmsprop(rng, v):
    return (_randn(rng, 5, dtype=F32), _randn(rng, 5, dtype=F32),
            np.abs(_randn(rng, 5, dtype=F32)), 0.01, 0.9)


def _a_adagrad(rng, v):
    return (list(_tree(rng)), list(_tree(rng)), [np.abs(a) for a in _tree(rng)], 0.1)


def _a_clip(rng, v):
    return _tree(rng), _pick(v, 1.0, 100.0)


def _a_adamw(rng, v):
    return (_randn(rng, 4), _randn(rng, 4), _randn(rng, 4) * 0.1,
            np.abs(_randn(rng, 4)) * 0.1, _pick(v, 3, 10), 1e-3, 0.01)


def _a_train_vg(rng, v):
    return (_randn(rng, 4, 5) * 0.5, _randn(rng, 5) * 0.1, _randn(rng, 5, 3) * 0.5,
            _randn(rng, 6, 4), rng.integers(0, 3, 6), 0.1)


def _a_train_loop(rng, v):
    return _randn(rng, 3), _randn(rng, 8, 3), _randn(rng, 8), 0.05, _pick(v, 4, 4)


def _a_train_tree(rng, v):
    params = (_randn(rng, 3, 3), _randn(rng, 3, 3))
    vel = (np.zeros((3, 3)), np.zeros((3, 3)))
    return params, vel, _randn(rng, 5, 3), _randn(rng, 5, 3), 0.1, 0.9


def _a_kmeans(rng, v):
    x = np.concatenate([_randn(rng, 5, 2) + 3.0, _randn(rng, 5, 2) - 3.0, _randn(rng, 4, 2)])
    return x, x[[0, 5, 10]] + 0.1 * _randn(rng, 3, 2)


def _a_kmeans_f32(rng, v):
    x = np.concatenate([_randn(rng, 6, 2) + 4.0, _randn(rng, 6, 2) - 4.0]).astype(F32)
    return x, x[[0, 6]].copy(), _pick(v, 3, 2)


def _a_pca(rng, v):
    x = _randn(rng, 20, 3) * np.array([3.0, 1.0, 0.3]) @ np.array(
        [[0.8, 0.6, 0.0], [-0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    return x, _pick(v, 30, 40)


def _a_gmm(rng, v):
    return (_randn(rng, 8, 2), _randn(rng, 3, 2), 0.3 * _randn(rng, 3, 2), _randn(rng, 3))


def _a_vae(rng, v):
    return (_randn(rng, 4, 2), 0.3 * _randn(rng, 4, 2), _randn(rng, 2, 5),
            (rng.uniform(size=(4, 5)) > 0.5).astype(F64), _randn(rng, 4, 2))


def _a_gumbel(rng, v):
    return _randn(rng, 4, 5), rng.uniform(0.01, 0.99, (4, 5)), _pick(v, 1.0, 0.5)


def _a_early(rng, v):
    x = _randn(rng, 10, 3)
    return np.zeros(3), x, x @ np.array([1.0, -2.0, 0.5]) + 0.1 * _randn(rng, 10), 0.05, \
        _pick(v, 1e-4, 1e-6)


def _a_dict_params(rng, v):
    p = {"w1": _randn(rng, 4, 5) * 0.5, "b1": _randn(rng, 5) * 0.1, "w2": _randn(rng, 5, 3)}
    return p, _randn(rng, 6, 4), rng.integers(0, 3, 6)


def _a_dict_step(rng, v):
    return _a_dict_params(rng, v) + (0.1,)


def _a_lstm_split(rng, v):
    d, h = 3, 4
    return _randn(rng, d + h, 4 * h) * 0.4, _randn(rng, 4 * h) * 0.1, _randn(rng, 5, 2, d)


def _a_rnn_hs(rng, v):
    return _randn(rng, 3, 4) * 0.5, _randn(rng, 4, 4) * 0.5, _randn(rng, 6, 3)


def _a_gqa(rng, v):
    return (_randn(rng, 4, 5, 3, dtype=F32), _randn(rng, 2, 5, 3, dtype=F32),
            _randn(rng, 2, 5, 3, dtype=F32))


def _a_masked_inf(rng, v):
    return (_randn(rng, 3, 4), _randn(rng, 5, 4), _randn(rng, 5, 2),
            np.array(_pick(v, [1, 3, 5], [5, 2, 4])))


def _a_conv_same(rng, v):
    return _randn(rng, 2, 7), _randn(rng, 3)


def _a_maxpool_loss(rng, v):
    return _randn(rng, 2, 4, 6), _randn(rng, 6, 3)


def _a_returns(rng, v):
    return _randn(rng, 8), _pick(v, 0.99, 0.9)


def _a_gae(rng, v):
    return (_randn(rng, 6), _randn(rng, 7), (rng.uniform(size=6) > 0.7).astype(F64),
            0.99, _pick(v, 0.95, 0.9))


def _a_pg(rng, v):
    return _randn(rng, 4, 3), _randn(rng, 8, 4), rng.integers(0, 3, 8), _randn(rng, 8)


def _a_bce_clip(rng, v):
    return _randn(rng, 3), _randn(rng, 10, 3), (rng.uniform(size=10) > 0.5).astype(F64)


def _a_topk(rng, v):
    return _randn(rng, 10, 6), rng.integers(0, 6, 10), _pick(v, 3, 2)


def _a_cos_sched(rng, v):
    return _pick(v, 3, 40), 100, 0.1, 10


def _a_sched_arr(rng, v):
    return 20, _pick(v, 0.1, 0.01), 5


def _a_linesearch(rng, v):
    x = _randn(rng, 10, 3)
    return _randn(rng, 3), x * _pick(v, 1.0, 3.0), _randn(rng, 10)


def _a_hmm(rng, v):
    s, vocab = 3, 4
    def lognorm(a):
        return a - np.log(np.exp(a).sum(axis=-1, keepdims=True))
    return (lognorm(_randn(rng, s)), lognorm(_randn(rng, s, s)), lognorm(_randn(rng, s, vocab)),
            rng.integers(0, vocab, 6))


def _a_nb(rng, v):
    y = np.array([0, 1, 2] * 4)
    x = _randn(rng, 12, 2) + y[:, None] * 2.0
    return x, y, _randn(rng, 5, 2) * 2.0 + 2.0, 3


def _a_svm(rng, v):
    x = _randn(rng, 12, 3)
    y = np.sign(x @ np.array([1.0, -1.0, 0.5]) + 0.01)
    return _randn(rng, 3) * 0.1, x, y, 0.1, 0.01


def _a_perceptron(rng, v):
    x = _randn(rng, 12, 2)
    y = np.sign(x @ np.array([1.0, 2.0]) + 1e-3)
    return x, y, _pick(v, 20, 3)


def _a_knn_topk(rng, v):
    return _randn(rng, 12, 3), rng.integers(0, 3, 12), _randn(rng, 4, 3), _pick(v, 3, 3), 3


def _a_auc(rng, v):
    y = np.array([0, 1] * 6, dtype=I64)
    return _randn(rng, 12) + y * _pick(v, 1.0, 0.2), y


def _a_minibatch(rng, v):
    x = _randn(rng, 8, 3)
    return (_randn(rng, 3), x, x @ np.array([1.0, -1.0, 0.5]), rng.permutation(8), 0.1,
            3, 4)


def _a_early_stop(rng, v):
    x = _randn(rng, 8, 3)
    return _randn(rng, 3), x, _randn(rng, 8), 0.05, 50, _pick(v, 1e-3, 1e-5)


def _a_maml(rng, v):
    return _randn(rng, 3), _randn(rng, 6, 3), _randn(rng, 6), _randn(rng, 4, 3), _randn(rng, 4)


def _a_binning(rng, v):
    # multiples of the bin width computed in float64 (7 * 0.7 = 4.8999999999999995):
    # the exact quotient 7.0 truncates to 7, x * (1 / 0.7) to 6.999999999999999 -> 6
    return rng.integers(0, 12, 10) * 0.7, 0.7, 12


def _a_memory_bank(rng, v):
    return (_randn(rng, 3, 4), _randn(rng, 6, 4), np.array(_pick(v, [1, 4, 1], [0, 0, 5])),
            _randn(rng, 2, 4))


def _a_closure_step(rng, v):
    return _randn(rng, 3), _randn(rng, 1), _randn(rng, 6, 3), _randn(rng, 6), 0.1


Entry = tuple[Callable[..., Any], Callable[[np.random.Generator, int], tuple], Any]

ENTRIES: list[Entry] = [
    # classification losses
    (ml_logreg_l2_loss, _a_logreg, (0, 1)),
    (ml_softmax_regression_nll, _a_softreg, (0, 1)),
    (ml_multiclass_hinge, _a_hinge, 0),
    (ml_multilabel_bce_f32, _a_multilabel, None),
    (ml_accuracy_confusion, _a_acc, None),
    (ml_precision_recall_f1, _a_prf, None),
    # regression / metric learning
    (ml_huber_loss, _a_huber, (0, 1)),
    (ml_triplet_cosine, _a_triplet, (0, 1, 2)),
    (ml_contrastive_pairs, _a_contrast, (0, 1)),
    (ml_infonce, _a_infonce, (0, 1)),
    (ml_cosine_similarity_f32, _a_cos_f32, None),
    (ml_knn_1nn_predict, _a_knn, None),
    # MLPs
    (ml_mlp_relu_f32, _a_mlp_f32, None),
    (ml_mlp_gelu_ln_loss, _a_mlp_gelu, (0, 1, 2, 3, 4)),
    (ml_activations_f32, _a_act_f32, None),
    (ml_residual_block_loss, _a_resblock, (0, 1, 2, 3)),
    (ml_dropout_mlp_loss, _a_dropout, (0, 1)),
    (ml_weight_decay_loss, _a_wd, (0, 1)),
    # normalisation
    (ml_layer_norm_loss, _a_ln, (0, 1, 2)),
    (ml_batch_norm_train_f32, _a_bn_f32, None),
    (ml_group_norm, _a_groupnorm, None),
    # attention
    (ml_mha_f32, _a_mha, None),
    (ml_mha_einsum_loss, _a_mha_einsum, (0, 1, 2, 3, 4)),
    (ml_transformer_block_f32, _a_tblock, None),
    (ml_sinusoidal_positions, _a_sinus, None),
    # convolution / pooling
    (ml_conv2d_loops_loss, _a_conv2d, (0, 1, 2)),
    (ml_conv1d_dilated_causal, _a_dilated, None),
    (ml_maxpool2d_f32, _a_maxpool, None),
    # recurrent
    (ml_gru_sequence_f32, _a_gru_f32, None),
    (ml_rnn_seq_labels_loss, _a_rnn_labels, (0, 1, 2, 3)),
    (ml_bidirectional_rnn_f32, _a_birnn, None),
    # embeddings
    (ml_embedding_classifier_loss, _a_emb_cls, (0, 1)),
    (ml_embedding_bag_offsets_f32, _a_emb_bag, None),
    # optimisers
    (ml_sgd_momentum_tree, _a_sgd_tree, None),
    (ml_adam_tree, _a_adam_tree, None),
    (ml_rmsprop_step_f32, _a_rmsprop, None),
    (ml_adagrad_list, _a_adagrad, None),
    (ml_clip_by_global_norm, _a_clip, None),
    (ml_adamw_decoupled, _a_adamw, None),
    # training steps with gradients inside
    (ml_train_step_value_and_grad, _a_train_vg, None),
    (ml_train_loop_grad, _a_train_loop, None),
    (ml_train_step_tree_momentum, _a_train_tree, None),
    # unsupervised and probabilistic
    (ml_kmeans_step, _a_kmeans, None),
    (ml_kmeans_iterate_f32, _a_kmeans_f32, None),
    (ml_pca_power_iteration, _a_pca, None),
    (ml_gmm_loglik, _a_gmm, (0, 1, 2, 3)),
    (ml_vae_elbo, _a_vae, (0, 1, 2)),
    (ml_gumbel_argmax_sample, _a_gumbel, None),
    (ml_early_stopping_gd, _a_early, None),
    # more layers, sequence models, RL, classic learners
    (ml_mlp_dict_params_loss, _a_dict_params, None),
    (ml_dict_train_step, _a_dict_step, None),
    (ml_lstm_split_concat_loss, _a_lstm_split, (0, 1, 2)),
    (ml_rnn_hs_setitem_loss, _a_rnn_hs, (0, 1, 2)),
    (ml_gqa_repeat_f32, _a_gqa, None),
    (ml_masked_attention_inf_loss, _a_masked_inf, (0, 1, 2)),
    (ml_conv1d_same_pad_loss, _a_conv_same, (0, 1)),
    (ml_maxpool_loss, _a_maxpool_loss, (0, 1)),
    (ml_discounted_returns, _a_returns, None),
    (ml_gae, _a_gae, None),
    (ml_policy_gradient_loss, _a_pg, (0, 1, 3)),
    (ml_bce_clip_loss, _a_bce_clip, (0, 1)),
    (ml_metrics_python_scalars, _a_acc, None),
    (ml_topk_accuracy, _a_topk, None),
    (ml_cosine_lr_schedule, _a_cos_sched, None),
    (ml_lr_schedule_array, _a_sched_arr, None),
    (ml_backtracking_line_search, _a_linesearch, (0, 1, 2)),
    (ml_hmm_forward_loglik, _a_hmm, (0, 1, 2)),
    (ml_viterbi_decode, _a_hmm, None),
    (ml_gaussian_nb, _a_nb, None),
    (ml_linear_svm_sgd, _a_svm, (0, 1)),
    (ml_perceptron_until_converged, _a_perceptron, None),
    (ml_mlp_enumerate_layers, _a_layers_tuple, None),
    (ml_knn_topk_argsort, _a_knn_topk, None),
    (ml_roc_auc_rank, _a_auc, None),
    (ml_minibatch_sgd_epochs, _a_minibatch, None),
    (ml_train_early_stop, _a_early_stop, None),
    (ml_maml_inner_steps_loss, _a_maml, (0, 1, 2, 3, 4)),
    # found bugs when written (fixed since)
    (ml_mlp_layers_tuple, _a_layers_tuple, None),
    (ml_feature_binning_onehot, _a_binning, None),
    (ml_memory_bank_loss, _a_memory_bank, 0),
    (ml_closure_train_step, _a_closure_step, None),
]

CORPUS: dict[str, Entry] = {fn.__name__: (fn, make_args, argnums)
                            for fn, make_args, argnums in ENTRIES}

# functions that found jitgraph bugs: name -> (fn, make_args, argnums, diagnosis)
PENDING: dict[str, tuple[Callable[..., Any], Callable[..., tuple], Any, str]] = {}
