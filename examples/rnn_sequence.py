"""A small recurrent network written as plain NumPy: a loop over time that stores each
hidden state with item assignment (`hs[t] = h`), a readout, and a squared-error loss.
jg.value_and_grad differentiates through the loop and the assignments; the update runs
in the same compiled call. The compiled step is checked against the eager one.

    python examples/rnn_sequence.py
"""
from __future__ import annotations

import numpy as np

import jitgraph as jg


def forward(xs, wx, wh, wo):
    steps, hidden = xs.shape[0], wh.shape[0]
    hs = np.zeros((steps, hidden))
    h = np.zeros(hidden)
    for t in range(steps):
        h = np.tanh(xs[t] @ wx + h @ wh)
        hs[t] = h                       # item assignment: compiled, in place
    return hs @ wo


def loss(xs, ys, wx, wh, wo):
    return ((forward(xs, wx, wh, wo) - ys) ** 2).mean()


@jg.script
def train_step(xs, ys, wx, wh, wo, lr):
    value, (gx, gh, go) = jg.value_and_grad(loss, argnums=(2, 3, 4))(xs, ys, wx, wh, wo)
    return value, wx - lr * gx, wh - lr * gh, wo - lr * go


def main() -> None:
    rng = np.random.default_rng(0)
    steps, d_in, hidden = 50, 3, 16
    xs = rng.standard_normal((steps, d_in))
    ys = np.sin(np.cumsum(xs[:, :1], axis=0) / 4.0)          # a target that needs memory
    wx = rng.standard_normal((d_in, hidden)) * 0.3
    wh = rng.standard_normal((hidden, hidden)) * 0.1
    wo = rng.standard_normal((hidden, 1)) * 0.3

    value, *new = train_step(xs, ys, wx, wh, wo, 0.05)
    e_value, *e_new = train_step.eager(xs, ys, wx, wh, wo, 0.05)
    assert np.isclose(value, e_value) and all(np.allclose(a, b) for a, b in zip(new, e_new))
    for it in range(301):
        value, wx, wh, wo = train_step(xs, ys, wx, wh, wo, 0.05)
        if it % 50 == 0:
            print(f"step {it:4d}  loss {value:.5f}")
    print(f"backend {train_step.backend_for(xs, ys, wx, wh, wo, 0.05)!r}; the loop in the IR:")
    text = train_step.dump(xs, ys, wx, wh, wo, 0.05, stage="typed")
    print("\n".join(line for line in text.splitlines() if "setitem" in line or "loop(" in line))


if __name__ == "__main__":
    main()
