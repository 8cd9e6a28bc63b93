"""Every stage of one function: generic IR, typed IR, gradient IR, optimized IR, and the
native stages where their backends are available."""
import numpy as np

import jitgraph as jg


@jg.script
def gelu_loss(x, w):
    h = x @ w
    g = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))
    return (g * g).mean()


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    print("== ir ==\n" + gelu_loss.dump(stage="ir"))
    print("== typed ==\n" + gelu_loss.dump(x, w, stage="typed"))
    dw = jg.grad(gelu_loss, argnums=1)
    print("== grad ==\n" + dw.dump(x, w, stage="grad"))
    print("== optimized gradient ==\n" + dw.dump(x, w, stage="optimized"))
    for stage in ("llvm", "asm", "cuda"):
        try:
            text = dw.dump(x, w, stage=stage)
        except Exception as e:  # noqa: BLE001 - a backend not available here
            print(f"== {stage}: not available ({type(e).__name__}: {e})")
            continue
        print(f"== {stage} (first 40 lines) ==")
        print("\n".join(text.splitlines()[:40]))


if __name__ == "__main__":
    main()
