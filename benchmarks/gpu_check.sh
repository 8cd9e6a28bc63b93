#!/usr/bin/env bash
# One prepared check of the CUDA backend on a machine with an NVIDIA GPU:
#   1. pycuda: used if importable, else built from the sdist in .sdist/ (no network needed:
#      .sdist/ holds pycuda's source and its pure-Python dependencies), CUDA_ROOT found from
#      nvcc / cuda.h, installed under $JG_SITE;
#   2. pytest -m cuda: the op suite, the corpus (values and gradients) and the device-array
#      tests on backend="cuda";
#   3. timings (CUDA events): fused GELU over 2^26 float32 vs the device's copy bandwidth,
#      row softmax, a 4096^3 float32 matmul vs torch.matmul, and the lecture's training step
#      vs PyTorch eager, each printed as one line.
# .sdist/ is git-ignored: fill it once on a machine with PyPI (then carry it to the GPU one):
#   pip download pycuda==2026.1 --no-binary pycuda --no-deps -d .sdist
#   pip download pytools platformdirs mako markupsafe typing_extensions siphash24 wheel \
#       --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 -d .sdist
# Usage: bash benchmarks/gpu_check.sh [--build-only | --no-tests | --bench-only]
# Env: PYTHON (default python3), CUDA_ROOT, JG_SITE (default /tmp/jg-site), OUT (a log copy).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
JG_SITE=${JG_SITE:-/tmp/jg-site}
MODE=${1:-all}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$JG_SITE${PYTHONPATH:+:$PYTHONPATH}"
LOG=${OUT:-/tmp}/gpu_check.log
exec > >(tee "$LOG") 2>&1

say() { printf '\n=== %s\n' "$*"; }

find_cuda_root() {
    local d nv
    for d in "${CUDA_ROOT:-}" "${CUDA_HOME:-}" "${CUDA_PATH:-}"; do
        [ -n "$d" ] && [ -f "$d/include/cuda.h" ] && { echo "$d"; return; }
    done
    nv=$(command -v nvcc || true)
    if [ -n "$nv" ]; then
        # nvcc may be a wrapper script that execs the real one
        local real
        real=$(grep -o '/[^ "]*/bin/nvcc' "$nv" 2>/dev/null | head -1)
        for d in "$(dirname "$(dirname "$(readlink -f "$nv")")")" \
                 "${real:+$(dirname "$(dirname "$real")")}"; do
            [ -n "$d" ] && [ -f "$d/include/cuda.h" ] && { echo "$d"; return; }
        done
    fi
    for d in /usr/local/cuda /usr/local/cuda-* /opt/cuda; do
        [ -f "$d/include/cuda.h" ] && { echo "$d"; return; }
    done
    return 1
}

build_pycuda() {
    if $PY -c "import pycuda.driver" 2>/dev/null; then
        echo "pycuda already importable: $($PY -c 'import pycuda; print(pycuda.VERSION_TEXT)')"
        return 0
    fi
    local root sdist build libdirs=() f
    root=$(find_cuda_root) || { echo "no CUDA toolkit (cuda.h) found; set CUDA_ROOT"; return 1; }
    export CUDA_ROOT=$root
    sdist=$(ls .sdist/pycuda-*.tar.gz 2>/dev/null | head -1)
    [ -n "$sdist" ] || { echo "no pycuda sdist in .sdist/"; return 1; }
    echo "building $(basename "$sdist") against CUDA_ROOT=$CUDA_ROOT"
    mkdir -p "$JG_SITE"
    # pure-Python dependencies and build tools from .sdist/ (whatever the machine lacks)
    for f in wheel platformdirs typing_extensions siphash24 pytools mako markupsafe; do
        $PY -c "import $f" 2>/dev/null && continue
        $PY -m pip install -q --no-index --no-deps --find-links .sdist --target "$JG_SITE" "$f" \
            || echo "warning: could not install $f from .sdist/"
    done
    # the driver library: pycuda links -lcuda; a driver mount may hold only libcuda.so.1
    for d in "$CUDA_ROOT/lib64" "$CUDA_ROOT/lib64/stubs" "$CUDA_ROOT/lib" "$CUDA_ROOT/lib/stubs" \
             /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
        [ -d "$d" ] || continue
        if [ -e "$d/libcuda.so" ]; then libdirs+=("$d")
        elif [ -e "$d/libcuda.so.1" ]; then
            mkdir -p /tmp/jg-cudalink && ln -sf "$d/libcuda.so.1" /tmp/jg-cudalink/libcuda.so
            libdirs+=(/tmp/jg-cudalink)
        fi
    done
    build=$(mktemp -d /tmp/jg-pycuda-XXXX)
    tar xzf "$sdist" -C "$build" && cd "$build"/pycuda-* || return 1
    local args=(--cuda-root="$CUDA_ROOT" --no-cuda-enable-curand)
    [ ${#libdirs[@]} -gt 0 ] && args+=(--cudadrv-lib-dir="$(IFS=,; echo "${libdirs[*]}")")
    $PY configure.py "${args[@]}" >/dev/null || { cd - >/dev/null; return 1; }
    MAKEFLAGS=-j16 $PY -m pip install -q --no-index --no-deps --no-build-isolation \
        --target "$JG_SITE" . ; local rc=$?
    cd - >/dev/null
    [ $rc -eq 0 ] && $PY -c "import pycuda.driver as d; d.init(); print('pycuda ok:', d.Device(0).name())"
}

say "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
nvcc --version 2>/dev/null | tail -1 || echo "nvcc not on PATH"
$PY -c "import sys, numpy; print('python', sys.version.split()[0], 'numpy', numpy.__version__)"

say "pycuda"
if [ "$MODE" != "--bench-only" ]; then build_pycuda || echo "pycuda build FAILED"; fi
[ "$MODE" = "--build-only" ] && exit 0
$PY -c "import jitgraph as jg; print('jg.cuda.is_available():', jg.cuda.is_available(), jg.cuda.why_unavailable())"

if [ "$MODE" != "--no-tests" ] && [ "$MODE" != "--bench-only" ]; then
    say "pytest -m cuda"
    $PY -m pytest -m cuda -q -x -p no:cacheprovider tests/ 2>&1 | tail -25
fi

say "timings"
# a file, not stdin: jg.script reads the functions' source
BENCH=$(mktemp /tmp/jg_bench_XXXX.py)
cat > "$BENCH" <<'PYEOF'
import time
import warnings

import numpy as np

import jitgraph as jg
from jitgraph.backends import get_backend
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.types import TensorType

warnings.simplefilter("ignore")
be = get_backend("cuda")
if not be.available():
    raise SystemExit(f"no GPU: {be.why_unavailable()}")
dev = be.device
import pycuda.driver as cuda  # noqa: E402


def timeit(fn, reps=20, warm=3):
    """Mean milliseconds per call, by CUDA events on the backend's stream."""
    for _ in range(warm):
        fn()
    dev.sync_all()
    start, end = cuda.Event(), cuda.Event()
    start.record(dev.stream)
    for _ in range(reps):
        fn()
    end.record(dev.stream)
    end.synchronize()
    return start.time_till(end) / reps


def T(dt, *shape):
    return TensorType(np.dtype(dt), tuple(shape))


def graph(name, types, body):
    params = [Value(t, f"x{i}") for i, t in enumerate(types)]
    b = Builder(Block(params))
    res = body(b, *params)
    b.block.results = list(res) if isinstance(res, (list, tuple)) else [res]
    return Graph(name, b.block)


def compiled(fn, *args):
    """jg.script's optimized graph on the cuda backend, fused by passes/fuse.py (applied
    here if the pipeline does not run it yet)."""
    sf = jg.script(fn, backend="cuda", fallback="error")
    g = sf.graph_for(*args)
    if not any(n.op == "fused" for n in g.walk()):
        try:
            from jitgraph.passes.fuse import fuse
            g = fuse(g)
        except ImportError:
            pass
    return be.compile(g), g


N = 1 << 26
x_host = np.random.default_rng(0).standard_normal(N).astype(np.float32)
x = jg.cuda.to_device(x_host)
buf = dev.alloc(N * 4)
copy_ms = timeit(lambda: dev.dtod(buf.ptr, x.ptr, N * 4))
copy_bw = 2 * N * 4 / copy_ms / 1e6
print(f"device copy          : {copy_ms:8.3f} ms  {copy_bw:7.1f} GB/s (read + write)")


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


f, g = compiled(gelu, x_host)
nk = len(be.lower(g).kernels)
ms = timeit(lambda: f([x]))
bw = 2 * N * 4 / ms / 1e6
print(f"gelu 2^26 f32        : {ms:8.3f} ms  {bw:7.1f} GB/s = {100 * bw / copy_bw:5.1f}% of copy"
      f"  ({nk} kernel{'s' if nk > 1 else ''})")
np.testing.assert_allclose(f([x])[0].get()[:4096], gelu(x_host[:4096]), rtol=2e-5, atol=2e-6)


def softmax(x):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=1, keepdims=True)


xs_host = x_host.reshape(1 << 14, 1 << 12)
xs = jg.cuda.to_device(xs_host)
f, g = compiled(softmax, xs_host)
ms = timeit(lambda: f([xs]))
bw = 2 * N * 4 / ms / 1e6
print(f"softmax 16384x4096   : {ms:8.3f} ms  {bw:7.1f} GB/s = {100 * bw / copy_bw:5.1f}% of copy")
np.testing.assert_allclose(f([xs])[0].get()[:8], softmax(xs_host[:8]), rtol=2e-5, atol=1e-7)
del x, xs, buf

M = 4096
a_host = np.random.default_rng(1).standard_normal((M, M)).astype(np.float32)
b_host = np.random.default_rng(2).standard_normal((M, M)).astype(np.float32)
a, b = jg.cuda.to_device(a_host), jg.cuda.to_device(b_host)
mm = be.compile(graph("mm", [T("float32", M, M), T("float32", M, M)],
                      lambda bb, p, q: bb.op("matmul", p, q)))
ms = timeit(lambda: mm([a, b]), reps=5, warm=1)
tf = 2 * M ** 3 / ms / 1e9
line = f"matmul 4096^3 f32    : {ms:8.3f} ms  {tf:7.1f} TFLOP/s"
c = mm([a, b])[0].get()
ref_rows = a_host[:64].astype(np.float64) @ b_host.astype(np.float64)
assert np.abs(c[:64] - ref_rows).max() < 1e-2
try:
    import torch
    ta, tb = torch.as_tensor(a, device="cuda"), torch.as_tensor(b, device="cuda")
    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        for _ in range(2):
            torch.matmul(ta, tb)
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(5):
            torch.matmul(ta, tb)
        e.record()
        e.synchronize()
        tms = s.elapsed_time(e) / 5
        line += (f"; torch{' (tf32)' if tf32 else ''} {tms:.3f} ms {2 * M ** 3 / tms / 1e9:.1f}"
                 f" TFLOP/s -> ours = {100 * tms / ms:.0f}%")
    torch.backends.cuda.matmul.allow_tf32 = False
except ImportError:
    line += "; torch not installed"
print(line)
del a, b


def loss_fn(w1, w2, x, y):
    h = np.maximum(x @ w1, 0.0)
    return ((h @ w2 - y) ** 2).mean()


def train_step(w1, w2, x, y, lr):
    loss, grads = jg.value_and_grad(loss_fn, argnums=(0, 1))(w1, w2, x, y)
    g1, g2 = grads
    return loss, w1 - lr * g1, w2 - lr * g2


rng = np.random.default_rng(3)
B, D, H = 8192, 1024, 4096
hw1 = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(np.float32)
hw2 = (rng.standard_normal((H, 1)) / np.sqrt(H)).astype(np.float32)
hx = rng.standard_normal((B, D)).astype(np.float32)
hy = rng.standard_normal((B, 1)).astype(np.float32)
step = jg.script(train_step, backend="cuda", fallback="error")
w1, w2, dx, dy = (jg.cuda.to_device(v) for v in (hw1, hw2, hx, hy))
state = {"w1": w1, "w2": w2}


def one():
    loss, state["w1"], state["w2"] = step(state["w1"], state["w2"], dx, dy, 0.01)
    return loss


loss0 = one()
ms = timeit(one, reps=10, warm=2)
line = f"train step {B}x{D}x{H}: {ms:8.3f} ms/step (loss {float(loss0):.4f})"
try:
    import torch
    tw1 = torch.tensor(hw1, device="cuda", requires_grad=True)
    tw2 = torch.tensor(hw2, device="cuda", requires_grad=True)
    tx, ty = torch.tensor(hx, device="cuda"), torch.tensor(hy, device="cuda")

    def tstep():
        loss = ((torch.relu(tx @ tw1) @ tw2 - ty) ** 2).mean()
        g1, g2 = torch.autograd.grad(loss, (tw1, tw2))
        with torch.no_grad():
            tw1.sub_(0.01 * g1)
            tw2.sub_(0.01 * g2)
        return loss
    for _ in range(2):
        tstep()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        tstep()
    torch.cuda.synchronize()
    tms = (time.perf_counter() - t0) * 100
    line += f"; torch eager {tms:.3f} ms/step -> ours = {100 * tms / ms:.0f}% of torch's speed"
except ImportError:
    line += "; torch not installed"
print(line)
PYEOF
PYTHONPATH="$PWD:$PYTHONPATH" $PY "$BENCH"
echo "log: $LOG"
