"""CPU backend runtime: threads, the disk cache (hit, miss, corruption), memory that does
not grow over many calls, bad arguments that raise instead of crashing, dumps, fallback."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from test_llvm_backend import T, build

from jitgraph import config
from jitgraph.backends.interp import InterpBackend
from jitgraph.backends.llvm_jit import LLVMBackend, runtime
from jitgraph.ir.graph import Builder, Graph, Value
from jitgraph.types import TensorType

F32, F64, I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


# ------------------------------------------------------------------ the worker pool
def _threaded(monkeypatch: pytest.MonkeyPatch, threads: int, n: int = 300000,
              name: str = "pool") -> tuple[Any, list[np.ndarray], np.ndarray]:
    from jitgraph.backends import llvm_lower
    monkeypatch.setattr(config, "NUM_THREADS", threads)
    monkeypatch.setattr(llvm_lower, "PARALLEL_MIN_ELEMENTS", 1 << 12)
    g = build([T(F64, n), T(F64, n)], lambda b, x, y: b.op("add", b.op("mul", x, y), x), name)
    f = LLVMBackend(cache=False).compile(g)
    x, y = np.arange(n, dtype=np.float64), np.linspace(-1.0, 1.0, n)
    return f, [x, y], x * y + x


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_pool_threads_are_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads are made once (the pool grows to JITGRAPH_NUM_THREADS - 1 workers), not
    per call; lowering the cap between calls runs fewer chunks, raising it again works."""
    f, args, want = _threaded(monkeypatch, 2)
    np.testing.assert_array_equal(f(args)[0], want)
    before = _os_threads()
    for _ in range(300):
        np.testing.assert_array_equal(f(args)[0], want)
    assert _os_threads() == before
    for cap in (1, 3, 2):
        monkeypatch.setattr(config, "NUM_THREADS", cap)
        runtime().set_threads()
        for _ in range(20):
            np.testing.assert_array_equal(f(args)[0], want)


@pytest.mark.parametrize("where", [0, -1])
def test_error_in_any_chunk_is_reported(where: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing chunk on the calling thread (0) or on a worker (-1) raises; the pool
    keeps working afterwards."""
    from jitgraph.backends import llvm_lower
    monkeypatch.setattr(config, "NUM_THREADS", 2)
    monkeypatch.setattr(llvm_lower, "PARALLEL_MIN_ELEMENTS", 1 << 12)
    g = build([T(I64, 100000), T(I64, 100000)], lambda b, x, y: b.op("pow", x, y),
              f"powerr{where}")
    f = LLVMBackend(cache=False).compile(g)
    x, y = np.full(100000, 3), np.ones(100000, np.int64)
    y[where] = -2
    for _ in range(5):
        with pytest.raises(ValueError, match="negative integer powers"):
            f([x, y])
        np.testing.assert_array_equal(f([x, np.abs(y)])[0], np.where(y < 0, 9, 3))


def test_pool_with_concurrent_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Big calls release the GIL, so several Python threads can reach the pool at once:
    one job runs on it at a time, a caller finding it busy runs its chunks itself."""
    import threading
    f, args, want = _threaded(monkeypatch, 2, n=400000, name="pool_concurrent")
    # a small result of a big input: the all-native entry, with the GIL released
    g = LLVMBackend(cache=False).compile(build(
        [T(F64, 400000)], lambda b, x: b.op("max", x), "pool_concurrent_max"))
    assert not hasattr(g, "__code__")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(30):
                np.testing.assert_array_equal(f(args)[0], want)
                assert g([args[0]])[0] == args[0][-1]
        except (AssertionError, RuntimeError, ValueError) as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in ts), "a caller hangs"
    assert not errors, errors[0]


_POOL_SCRIPT = textwrap.dedent("""
    import os, sys, numpy as np
    sys.path.insert(0, {root!r})
    from jitgraph import config
    config.CACHE_DIR = "off"
    config.NUM_THREADS = 2
    import jitgraph.backends.llvm_lower as lower
    lower.PARALLEL_MIN_ELEMENTS = 1 << 12
    from jitgraph.ir.graph import Builder, Graph, Value
    from jitgraph.types import TensorType
    from jitgraph.backends.llvm_jit import LLVMBackend
    b = Builder()
    x = Value(TensorType(np.dtype("float64"), (200000,)), "x")
    b.block.params.append(x)
    b.block.results.append(b.op("mul", x, x))
    f = LLVMBackend(cache=False).compile(Graph("g", b.block))
    a = np.arange(200000.0)
    assert np.array_equal(f([a])[0], a * a)
    pid = os.fork()
    if pid == 0:                       # the child has no workers: the pool starts afresh
        ok = all(np.array_equal(f([a])[0], a * a) for _ in range(50))
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, status
    assert all(np.array_equal(f([a])[0], a * a) for _ in range(50))
    print("OK")                        # and the interpreter exits with workers alive
""")


def test_pool_survives_fork_and_exit() -> None:
    r = subprocess.run([sys.executable, "-c", _POOL_SCRIPT.format(root=ROOT)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "OK", (r.returncode, r.stderr)


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
                       capture_output=True, text=True, timeout=120, check=False)
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
        with open(p, "rb") as fh:
            data = fh.read()
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
                       timeout=120, check=False)
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
    assert be.check(g3) == []                       # several array indices are lowered
    g4 = build([T(F32, 2, 2), TensorType(np.dtype(bool), ())], lambda b, x, i: b.op(
        "getitem", x, i, index=(("value",),)))
    assert be.check(g4) == ["getitem with a boolean index"]


# ------------------------------------------------------------------ the native call path
def _fast_and_slow_graphs() -> list[Graph]:
    """One graph per native call path: the all-native entry (small outputs: arrays and
    every kind of weak scalar) and the Python one (a big output from the pool)."""
    small = build([T(F32, 4, 3), TensorType(F64, (), True), TensorType(I64, (), True),
                   TensorType(np.dtype(bool), (), True)],
                  lambda b, x, s, k, flag: [b.op("mul", x, s), b.op("add", b.op("sum", x), s),
                                            b.op("add", k, k), b.op("logical_not", flag),
                                            b.op("getitem", x, k, index=(("value",),))],
                  "fastcall")
    big = build([T(F32, 300, 300), TensorType(F64, (), True)],
                lambda b, x, s: [b.op("mul", x, s)], "bigcall")
    return [small, big]


def test_native_call_results_and_refcounts() -> None:
    """Results equal the interpreter's, of the same Python types; no reference is leaked
    or stolen, whichever way the call goes (the all-native entry, its forward to the
    Python path for a converted argument, a run-time error)."""
    from jitgraph.backends.llvm_lower import fast_call_ok
    small, big = _fast_and_slow_graphs()
    f = LLVMBackend(cache=False).compile(small)
    assert not hasattr(f, "__code__"), "small graphs should get the native entry"
    assert fast_call_ok(f.__self__.abi)                   # its fallback is the Python run
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    xs = np.asfortranarray(x)                             # converted by the fallback
    interp = InterpBackend().compile(small)
    for args in ([x, 1.5, 2, True], (x, 1.5, 2, False), [xs, np.float64(2.0), 1, True],
                 [x, 1.5, np.int64(3), np.bool_(True)]):
        got, want = f(args), interp(list(args))
        assert [type(v) for v in got] == [type(v) for v in want], (got, want)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b)
    refs = [sys.getrefcount(o) for o in (x, xs)]
    for _ in range(1000):
        out = f([x, 1.5, 2, True])
        f([xs, 1.5, 2, True])
        with pytest.raises(IndexError, match="index 7 is out of bounds"):
            f([x, 1.5, 7, True])
    after = [sys.getrefcount(o) for o in (x, xs)]
    held = sys.getrefcount(out[0]), sys.getrefcount(out)   # (outside assert: pytest's
    assert after == refs and held == (2, 2), (after, refs, held)   # rewrite holds refs)
    g = LLVMBackend(cache=False).compile(big)
    assert hasattr(g, "__code__")                          # the Python path
    y = np.ones((300, 300), np.float32)
    np.testing.assert_array_equal(g([y, 2.0])[0], 2 * y)


def test_native_call_rejects_bad_arguments() -> None:
    small, _ = _fast_and_slow_graphs()
    f = LLVMBackend(cache=False).compile(small)
    x = np.ones((4, 3), np.float32)
    for args, err in (([x, 1.5, 2], (TypeError, ValueError)),
                      ([x, 1.5, 2, True, 0], (TypeError, ValueError)),
                      ([np.ones((3, 4), np.float32), 1.5, 2, True], ValueError),
                      ([np.ones((4, 3)), 1.5, 2, True], TypeError),
                      ([x, 1.5, 2 ** 70, True], OverflowError),
                      ([x, "a", 2, True], ValueError)):
        with pytest.raises(err):
            f(args)
    with pytest.raises((TypeError, ValueError)):
        f(x)                                               # not a list of arguments
    np.testing.assert_array_equal(f([x, 1.5, 2, True])[0], x * 1.5)


def test_native_call_memory_is_flat() -> None:
    small, _ = _fast_and_slow_graphs()
    f = LLVMBackend(cache=False).compile(small)
    x = np.ones((4, 3), np.float32)
    xs = np.ones((3, 4), np.float32).T
    for _ in range(2000):
        f([x, 1.5, 2, True])
    before = _rss()
    for i in range(100_000):
        f([x, 1.5, 2, True] if i % 10 else [xs, 1.5, 2, True])
    assert _rss() - before < 2 << 20
