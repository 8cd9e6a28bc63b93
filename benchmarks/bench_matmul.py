"""Matmul throughput: jitgraph's cpu backend (BLAS called from the native code, transposed
operands passed as BLAS flags) vs NumPy's own matmul on the same operands, for the
lecture's shapes (forward x @ w1, and the backward pass's x.T @ g and g @ w1.T) and for
1024x1024, float32 and float64. Throughput ratio = NumPy time / jitgraph time (1.0 = as
fast as NumPy; the issue asks for at least 0.9).

    python benchmarks/bench_matmul.py
"""
from __future__ import annotations

import numpy as np
from bench_util import interleaved, row

import jitgraph as jg


def mm(a, b):
    return a @ b


def mm_tn(a, b):
    return a.T @ b


def mm_nt(a, b):
    return a @ b.T


CASES = [  # (name, function, shape of a, shape of b)
    ("x @ w1        (64x1000 @ 1000x100)", mm, (64, 1000), (1000, 100)),
    ("x.T @ g       (1000x64 @ 64x100)", mm_tn, (64, 1000), (64, 100)),
    ("g @ w1.T      (64x100 @ 100x1000)", mm_nt, (64, 100), (1000, 100)),
    ("a @ b         (1024x1024 @ 1024x1024)", mm, (1024, 1024), (1024, 1024)),
]


def main() -> None:
    rng = np.random.default_rng(0)
    print("# medians of alternating rounds; ratio = NumPy time / jitgraph time")
    for dt in (np.float32, np.float64):
        for name, fn, sa, sb in CASES:
            a = rng.standard_normal(sa).astype(dt)
            b = rng.standard_normal(sb).astype(dt)
            f = jg.script(fn, backend="cpu", fallback="error")
            assert np.allclose(f(a, b), fn(a, b), rtol=1e-4, atol=1e-3)
            t = interleaved({"np": lambda: fn(a, b), "jg": lambda: f(a, b)})
            label = f"{np.dtype(dt).name} {name}"
            print(row(label + ": NumPy", t["np"]))
            print(row(label + ": jitgraph", t["jg"]) + f"   {t['np'] / t['jg']:5.2f} of NumPy's "
                  "throughput")


if __name__ == "__main__":
    main()
