"""The lecture's two-layer ReLU network, trained with one compiled call per step:
forward, backward (jg.value_and_grad inside the scripted step) and the SGD update.
The dynamic part: the second layer's weights are w2a or w2b depending on the previous
step's loss, a run-time value, so the choice stays a branch in the compiled graph.

Prints the loss as it falls, the optimized IR of the whole step, and checks the first
step against the same step run eagerly (JITGRAPH_DISABLE semantics)."""
import numpy as np

import jitgraph as jg


@jg.script
def model(x, y, w1, w2a, w2b, prev_loss):
    w2 = w2a if prev_loss < 5.0 else w2b
    y_pred = np.maximum(x @ w1, 0.0) @ w2
    return ((y_pred - y) ** 2).sum()


@jg.script
def step(x, y, w1, w2a, w2b, prev_loss, lr):
    loss, (g1, g2a, g2b) = jg.value_and_grad(model, argnums=(2, 3, 4))(
        x, y, w1, w2a, w2b, prev_loss)
    return loss, w1 - lr * g1, w2a - lr * g2a, w2b - lr * g2b


def main(steps: int = 500) -> None:
    N, D_in, H, D_out = 64, 1000, 100, 10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_in)).astype(np.float32)
    y = rng.standard_normal((N, D_out)).astype(np.float32)
    w1 = rng.standard_normal((D_in, H)).astype(np.float32)
    w2a = rng.standard_normal((H, D_out)).astype(np.float32)
    w2b = rng.standard_normal((H, D_out)).astype(np.float32)
    lr = 1e-6

    # the compiled step equals the eager one (the gradient graph run by the interpreter)
    jg.disable()
    ref = step(x, y, w1, w2a, w2b, 10.0, lr)
    jg.enable()
    got = step(x, y, w1, w2a, w2b, 10.0, lr)
    for a, b in zip(got, ref):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        assert np.allclose(a, b, rtol=1e-3, atol=1e-6), (a, b)

    prev_loss = 10.0
    first = None
    for t in range(steps):
        prev_loss, w1, w2a, w2b = step(x, y, w1, w2a, w2b, prev_loss, lr)
        first = first if first is not None else prev_loss
        if t % 50 == 0 or t == steps - 1:
            print(f"step {t:4d}  loss {prev_loss:.6g}")
    assert prev_loss < first, "the loss did not fall"
    where = (f"backend {step.backend_for(x, y, w1, w2a, w2b, prev_loss, lr)!r}"
             if jg.is_enabled() else "eager NumPy (JITGRAPH_DISABLE=1: the gradient graph is interpreted)")
    print(f"\nloss fell from {first:.6g} to {prev_loss:.6g} on {where}")
    print("\n== the whole training step, optimized IR ==")
    print(step.dump(x, y, w1, w2a, w2b, prev_loss, lr, stage="optimized"))


if __name__ == "__main__":
    main()
