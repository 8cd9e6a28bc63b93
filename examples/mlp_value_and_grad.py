"""The lecture's two-layer ReLU network trained with jg.value_and_grad called from Python:
the forward and backward pass are one compiled call, the update is plain NumPy.
(examples/train_mlp.py compiles the update too.)"""
import numpy as np

import jitgraph as jg


def loss_fn(x, y, w1, w2):
    h = np.maximum(x @ w1, 0.0)
    y_pred = h @ w2
    return ((y_pred - y) ** 2).sum()


def main(steps: int = 500) -> None:
    N, D_in, H, D_out = 64, 1000, 100, 10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_in)).astype(np.float32)
    y = rng.standard_normal((N, D_out)).astype(np.float32)
    w1 = rng.standard_normal((D_in, H)).astype(np.float32)
    w2 = rng.standard_normal((H, D_out)).astype(np.float32)
    lr = 1e-6
    vg = jg.value_and_grad(loss_fn, argnums=(2, 3))
    first = None
    for t in range(steps):
        loss, (g1, g2) = vg(x, y, w1, w2)
        assert g1.dtype == np.float32 and g1.shape == w1.shape
        w1 -= lr * g1
        w2 -= lr * g2
        first = loss if first is None else first
        if t % 100 == 0 or t == steps - 1:
            print(f"step {t:4d}  loss {loss:.6g}")
    assert loss < first
    print(f"loss fell from {first:.6g} to {loss:.6g}")


if __name__ == "__main__":
    main()
