"""Small functions whose IR text is pinned by tests/golden/<name>.<stage> (test_golden.py)
and printed by the CLI tests (test_cli.py). Printed graphs name this file by its basename
and line, so keep edits here at the END of the file, or rerun `pytest --update-golden`
and review the diff.

EXAMPLES maps each name to a function making its example arguments (deterministic)."""
from __future__ import annotations

import numpy as np

import jitgraph as jg


@jg.script(backend="interp")
def model(x, y, w1, w2a, w2b, prev_loss):
    w2 = w2a if prev_loss < 5.0 else w2b          # control flow on a runtime value
    h = np.maximum(x @ w1, 0.0)
    y_pred = h @ w2
    loss = ((y_pred - y) ** 2).sum()
    return loss


@jg.script(backend="interp")
def power_loop(x, n):
    acc = np.ones_like(x)
    for i in range(n):
        acc = acc * x + i
    return acc


@jg.script(backend="interp")
def halve_until_small(x):
    steps = 0
    while np.abs(x).max() > 1.0:
        x = x * 0.5
        steps += 1
    return x, steps


@jg.script(backend="interp")
def piecewise(x, t):
    if t < 0.0:
        y = -x
    elif t < 1.0:
        y = x * t
    else:
        y = np.tanh(x)
    return y


def _affine(x, w, b):
    return x @ w + b


def mlp(x, w1, b1, w2, b2):
    """A plain (unscripted) function calling a plain helper: inlined into one graph."""
    h = np.maximum(_affine(x, w1, b1), 0.0)
    return _affine(h, w2, b2)


@jg.script(backend="interp")
def normalize_rows(x):
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5), x.sum(axis=0, keepdims=True)


def _f32(*shape: int) -> np.ndarray:
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float32).reshape(shape) / max(n, 1) - 0.5)


EXAMPLES = {
    "model": lambda: (_f32(4, 3), _f32(4, 2), _f32(3, 5), _f32(5, 2), _f32(5, 2), 4.2),
    "power_loop": lambda: (_f32(3), 4),
    "halve_until_small": lambda: (_f32(5) * 10.0,),
    "piecewise": lambda: (_f32(2, 3), 0.5),
    "mlp": lambda: (_f32(4, 3), _f32(3, 8), _f32(8), _f32(8, 2), _f32(2)),
    "normalize_rows": lambda: (_f32(4, 6),),
}


if __name__ == "__main__":  # the CLI must not run this when it loads the file
    raise SystemExit("golden_corpus.py was run as a script")
