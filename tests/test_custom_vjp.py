"""jg.custom_vjp: the node in the IR, its backward used by the transform, errors."""
from __future__ import annotations

import numpy as np
import pytest

import jitgraph as jg


@jg.custom_vjp
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_fwd(x):
    y = 1.0 / (1.0 + np.exp(-x))
    return y, y


def sigmoid_bwd(y, ct):
    return (ct * y * (1.0 - y),)


sigmoid.defvjp(sigmoid_fwd, sigmoid_bwd)


@jg.custom_vjp
def clipped_identity(x, s):
    return x * s


def clipped_fwd(x, s):
    return x * s, (x, s)


def clipped_bwd(res, ct):
    x, s = res
    # a deliberately different backward: the gradient is clipped to [-1, 1]
    return np.clip(ct * s, -1.0, 1.0), (ct * x).sum()


clipped_identity.defvjp(clipped_fwd, clipped_bwd)


def loss(x, w):
    return (sigmoid(x @ w) ** 2).sum()


def loss2(x, s):
    return (clipped_identity(x, s) * 10.0).sum()


def test_custom_vjp_is_one_node_and_forward_matches_eager() -> None:
    f = jg.script(loss, backend="interp")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((6, 3)), rng.standard_normal((3, 2))
    assert f.dump(x, w, stage="typed").count("custom_vjp(") == 1
    assert "custom_vjp(" not in f.dump(x, w, stage="optimized")
    assert np.allclose(f(x, w), loss(x, w))


def test_custom_vjp_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((6, 3)), rng.standard_normal((3, 2))
    g = jg.grad(loss, argnums=1, backend="interp")(x, w)
    eps = 1e-6
    fd = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = eps
        fd[i] = (loss(x, w + e) - loss(x, w - e)) / (2 * eps)
    assert np.allclose(g, fd, atol=1e-6)


def test_custom_backward_is_used_not_the_forward_derivative() -> None:
    x = np.linspace(-1.0, 1.0, 5)
    gx, gs = jg.grad(loss2, argnums=(0, 1), backend="interp")(x, 2.0)
    assert np.allclose(gx, 1.0)  # 10 * 2 clipped to 1 by the custom backward
    assert gs == pytest.approx(10.0 * x.sum())
    assert isinstance(gs, float)  # a Python float argument gets a Python float gradient


def test_custom_vjp_without_defvjp_is_refused() -> None:
    @jg.custom_vjp
    def raw(x):
        return x * 2.0

    def use(x):
        return raw(x).sum()

    with pytest.raises(jg.ScriptError, match="defvjp"):
        jg.script(use, backend="interp")(np.ones(3))
