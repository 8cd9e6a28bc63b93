"""The lecture's custom Sigmoid autograd Function, as a jitgraph custom_vjp: the forward
saves its output, the backward uses it (grad * y * (1 - y)) instead of differentiating
exp. The op shows as one node in the IR, and a small logistic model trains with it."""
import numpy as np

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


@jg.script
def loss_fn(x, y, w):
    p = sigmoid(x @ w)
    return ((p - y) ** 2).mean()


@jg.script
def step(x, y, w, lr):
    loss, g = jg.value_and_grad(loss_fn, argnums=2)(x, y, w)
    return loss, w - lr * g


def main(steps: int = 200) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 5))
    w_true = rng.standard_normal((5, 1))
    y = (x @ w_true > 0).astype(np.float64)
    w = np.zeros((5, 1))
    print("== loss_fn typed IR: sigmoid is one custom_vjp node ==")
    print(loss_fn.dump(x, y, w, stage="typed"))
    # the custom backward agrees with the derivative of the forward (finite differences)
    g = jg.grad(loss_fn, argnums=2)(x, y, w)
    eps = 1e-6
    e = np.zeros_like(w)
    e[0, 0] = eps
    fd = (loss_fn.eager(x, y, w + e) - loss_fn.eager(x, y, w - e)) / (2 * eps)
    assert abs(g[0, 0] - fd) < 1e-6, (g[0, 0], fd)
    first = None
    for t in range(steps):
        loss, w = step(x, y, w, 2.0)
        first = loss if first is None else first
        if t % 40 == 0 or t == steps - 1:
            print(f"step {t:4d}  loss {loss:.6f}")
    assert loss < first
    print(f"loss fell from {first:.6f} to {loss:.6f}")


if __name__ == "__main__":
    main()
