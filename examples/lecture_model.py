"""The lecture's dynamic model, compiled: the choice between w2a and w2b depends on the
previous loss, a run-time value, so it stays an `if` in the IR instead of being traced
away. Prints the IR at each stage and checks the compiled loss against eager NumPy."""
import numpy as np

import jitgraph as jg


@jg.script
def model(x, y, w1, w2a, w2b, prev_loss):
    w2 = w2a if prev_loss < 5.0 else w2b
    y_pred = np.maximum(x @ w1, 0.0) @ w2
    return ((y_pred - y) ** 2).sum()


def main() -> None:
    N, D_in, H, D_out = 64, 1000, 100, 10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_in)).astype(np.float32)
    y = rng.standard_normal((N, D_out)).astype(np.float32)
    w1 = rng.standard_normal((D_in, H)).astype(np.float32)
    w2a = rng.standard_normal((H, D_out)).astype(np.float32)
    w2b = rng.standard_normal((H, D_out)).astype(np.float32)

    print("== generic IR (model.graph) ==")
    print(model.graph)
    print("== optimized IR for these arguments ==")
    print(model.dump(x, y, w1, w2a, w2b, 4.2, stage="optimized"))
    for prev_loss in (4.2, 6.0):
        loss = model(x, y, w1, w2a, w2b, prev_loss)
        ref = model.eager(x, y, w1, w2a, w2b, prev_loss)
        assert type(loss) is type(ref) and np.allclose(loss, ref, rtol=1e-4), (loss, ref)
        print(f"prev_loss={prev_loss}: loss={loss!r} (eager {ref!r}) "
              f"on backend {model.backend_for(x, y, w1, w2a, w2b, prev_loss)!r}")
    print("signatures compiled:", model.signatures())


if __name__ == "__main__":
    main()
