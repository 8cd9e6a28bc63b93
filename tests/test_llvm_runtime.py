"""CPU backend runtime: threads, the disk cache (hit, miss, corruption), memory that does
not grow over many calls, bad arguments that raise instead of crashing, dumps, fallback."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from jitgraph import config
from jitgraph.backends.interp import InterpBackend
from jitgraph.backends.llvm_jit import LLVMBackend, runtime
from jitgraph.ir.graph import Builder, Graph, Value
from jitgraph.types import TensorType

F32, F64, I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def T(dt: Any, *shape: int) -> TensorType:
    return TensorType(np.dtype(dt), tuple(shape))


def build(params: list[TensorType], body: Callable[..., Any], name: str = "g") -> Graph:
    b = Builder()
    vs = [Value(t, f"p{i}") for i, t in enumerate(params)]
    b.block.params.extend(vs)
    outs = body(b, *vs)
    b.block.results.extend(outs if isinstance(outs, (list, tuple)) else [outs])
    return Graph(name, b.block)


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "CACHE_DIR", "off")


def _softmaxish(b: Builder, x: Value, y: Value) -> list[Value]:
    m = b.op("max", x, axis=1, keepdims=True)
    e = b.op("exp", b.op("sub", x, m))
    s = b.op("div", e, b.op("sum", e, axis=1, keepdims=True))
    return [s, b.op("tanh", b.op("add", b.op("mul", x, y), b.const(0.5))), b.op("sum", x, axis=0)]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_big_loops_on_threads_match(threads: int, monkeypatch: pytest.MonkeyPatch,
                                    rng: np.random.Generator) -> None:
    from jitgraph.backends import llvm_lower
    from jitgraph.passes.fuse import fuse
    monkeypatch.setattr(config, "NUM_THREADS", threads)
    monkeypatch.setattr(llvm_lower, "PARALLEL_MIN_ELEMENTS", 1 << 12)
    g = fuse(build([T(F32, 515, 301), T(F32, 301)], _softmaxish))
    x = rng.standard_normal((515, 301)).astype(np.float32)
    y = rng.standard_normal(301).astype(np.float32)
    f = LLVMBackend(cache=False).compile(g)
    assert runtime().num_threads.value == min(threads, len(os.sched_getaffinity(0)))
    for got, want in zip(f([x, y]), InterpBackend().compile(g)([x, y])):
        # NOTE: NumPy sums float32 columns in float32; we accumulate in float64
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=5e-5)
    assert ".par" in LLVMBackend(cache=False).dump(g, "llvm-unopt")


def test_error_inside_a_threaded_loop_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from jitgraph.backends import llvm_lower
    monkeypatch.setattr(llvm_lower, "PARALLEL_MIN_ELEMENTS", 1 << 12)
    g = build([T(I64, 300000), T(I64, 300000)], lambda b, x, y: b.op("pow", x, y))
    f = LLVMBackend(cache=False).compile(g)
    x = np.full(300000, 2)
    y = np.ones(300000, np.int64)
    y[-7] = -1
    with pytest.raises(ValueError, match="negative integer powers"):
        f([x, y])
    np.testing.assert_array_equal(f([x, np.abs(y)])[0], 2)


# ------------------------------------------------------------------ disk cache
_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {root!r})
    from jitgraph import config
    config.CACHE_DIR = {cache!r}
    from jitgraph.ir.graph import Builder, Graph, Value
    from jitgraph.types import TensorType
    import jitgraph.backends.llvm_lower as lower
    from jitgraph.backends.llvm_jit import LLVMBackend
    calls = []
    real = lower.lower_graph
    lower.lower_graph = lambda *a, **k: (calls.append(1), real(*a, **k))[1]
    b = Builder()
    x = Value(TensorType(np.dtype("float64"), (3,)), "x")
    b.block.params.append(x)
    b.block.results.append(b.op("exp", b.op("mul", x, b.const({k}))))
    f = LLVMBackend().compile(Graph("g", b.block))
    out = f([np.arange(3.0)])[0]
    assert np.allclose(out, np.exp(np.arange(3.0) * {k})), out
    print("LOWERED" if calls else "CACHED")
""")


def _run(cache: str, k: float = 2.0) -> str:
    r = subprocess.run([sys.executable, "-c", _SCRIPT.format(root=ROOT, cache=cache, k=k)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_disk_cache_hit_miss_and_corruption(tmp_path: Any) -> None:
    cache = str(tmp_path / "cache")
    assert _run(cache) == "LOWERED"
    assert _run(cache) == "CACHED"                 # a new process skips LLVM entirely
    assert _run(cache, k=3.0) == "LOWERED"         # another graph: another entry
    files = sorted(os.listdir(cache))
    assert len(files) == 2 and all(f.endswith(".jgo") for f in files)
    for name in files:                             # truncate one, scramble the other
        p = os.path.join(cache, name)
        data = open(p, "rb").read()
        with open(p, "wb") as fh:
            fh.write(data[: len(data) // 2] if name == files[0] else data[:40] + b"x" * 500)
    assert _run(cache) == "LOWERED"                # ignored, recompiled...
    assert _run(cache, k=3.0) == "LOWERED"
    assert _run(cache) == "CACHED"                 # ...and rewritten


# ------------------------------------------------------------------ memory, bad input
def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_memory_growth_over_many_calls() -> None:
    from jitgraph.ops.adjoint import live_tapes  # noqa: F401  (tapes are freed natively)
    g = build([T(F64, 50), TensorType(F64, (), True)],
              lambda b, x, s: [b.op("mul", b.op("exp", x), s), b.op("sum", x)])
    f = LLVMBackend(cache=False).compile(g)
    x = np.ones(50)
    for _ in range(2000):
        f([x, 1.5])
    before = _rss()
    for _ in range(100_000):
        f([x, 1.5])
    assert _rss() - before < 2 << 20


def test_bad_arguments_raise_in_a_subprocess() -> None:
    code = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {ROOT!r})
        from jitgraph import config
        config.CACHE_DIR = "off"
        from jitgraph.ir.graph import Builder, Graph, Value
        from jitgraph.types import TensorType
        from jitgraph.backends.llvm_jit import LLVMBackend
        b = Builder()
        x = Value(TensorType(np.dtype("float32"), (4, 3)), "x")
        i = Value(TensorType(np.dtype("int64"), (), True), "i")
        b.block.params.extend([x, i])
        b.block.results.append(b.op("getitem", x, i, index=(("value",),)))
        f = LLVMBackend().compile(Graph("g", b.block))
        good = np.ones((4, 3), np.float32)
        bad = [[np.ones((3, 4), np.float32), 0], [np.ones((4, 3)), 0], [good, 4],
               [good, -5], [good, 2**70], [good, "a"], ["x", 0], [good], [good, 0, 1],
               [np.ones((4, 3, 1), np.float32), 0], [np.ones(12, np.float32)[::1], 0]]
        for args in bad:
            try:
                f(args)
            except (TypeError, ValueError, IndexError, OverflowError) as e:
                print(type(e).__name__)
            else:
                raise SystemExit(f"no error for {{args!r}}")
        m = np.ones((8, 6), np.float32)[::2, ::2]          # non-contiguous: copied, fine
        assert f([m, 1]).__len__() == 1
        u = np.frombuffer(bytes(49), np.float32, 12, 1).reshape(4, 3)   # unaligned
        assert float(f([u, 0])[0].sum()) == 0.0
        print("OK")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.strip().endswith("OK")


# ------------------------------------------------------------------ dumps, fallback, dispatch
def test_dumps_and_check() -> None:
    be = LLVMBackend(cache=False)
    g = build([T(F32, 4096)], lambda b, x: b.op("exp", x))
    raw, opt, asm = (be.dump(g, s) for s in ("llvm-unopt", "llvm", "asm"))
    assert "define i32 @" in raw and "ptr" in raw and "*" not in raw.split("define")[1][:80]
    assert "<" in opt and "x float>" in opt        # vectorized
    assert "ret" in asm
    with pytest.raises(ValueError):
        be.dump(g, "cuda")
    g2 = build([TensorType(np.dtype(np.complex128), (2,))], lambda b, x: b.op("exp", x))
    assert any("complex128" in r for r in be.check(g2))
    g3 = build([T(F32, 2, 2), T(I64, 2, 2)], lambda b, x, i: b.op(
        "getitem", x, i, i, index=(("value",), ("value",))))
    assert be.check(g3) == ["getitem with more than one array index"]
