"""The CUDA backend's side effects: compile a `cuda_lower.Program` and run its host schedule.

pycuda is imported lazily (first `available()`, `compile()` or `jg.cuda.to_device`), so
`import jitgraph` never needs it. One device object per process owns the primary context
(shared with PyTorch/CuPy, so their `__cuda_array_interface__` pointers are valid here), one
stream for every copy and launch, and a pooled allocator. Modules are cached by source and
architecture in memory and as cubins on disk (JITGRAPH_CACHE_DIR or ~/.cache/jitgraph), so
a second call and a second process skip nvcc.

`HostEmulator` runs the same kernels and the same driver on the CPU: the source is compiled
by g++ with a small CUDA shim (one fiber per CUDA thread, switched at __syncthreads and warp
shuffles). Tests use it to execute generated code on machines without a GPU; it is slow and
only for small shapes.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..ir.graph import Graph, Value
from ..ops import OPS
from ..ops.shape import build_index
from ..types import conform, known_dtype
from .base import CompiledFn, Unsupported
from .cuda_lower import (
    Alias,
    Alloc,
    DynView,
    HostConform,
    HostImpl,
    HostOp,
    If,
    Kernel,
    Launch,
    Loop,
    Program,
    Ptr,
    Step,
    ghost,
    ghost_index,
    lower,
    render,
)
from .interp import eval_node

NVCC_OPTIONS = ["-O3"]         # IEEE math: no --use_fast_math (expf, division stay exact)


# ---------------------------------------------------------------------------------------
# availability

_probe_lock = threading.Lock()
_probe_result: tuple[bool, str] | None = None


def probe() -> tuple[bool, str]:
    """(usable, reason): pycuda importable, a driver, a device, and nvcc to compile with."""
    global _probe_result
    with _probe_lock:
        if _probe_result is None:
            _probe_result = _probe()
        return _probe_result


def _probe() -> tuple[bool, str]:
    try:
        import pycuda.driver as cuda
    except ImportError as e:
        return False, f"pycuda cannot be imported ({e}); pip install pycuda"
    except Exception as e:  # noqa: BLE001  (pycuda's import fails this way without libcuda)
        return False, f"pycuda failed to import: {e}"
    try:
        cuda.init()
        count = cuda.Device.count()
    except Exception as e:  # noqa: BLE001  (any driver failure means: not available)
        return False, f"the CUDA driver failed to initialize: {e}"
    if count == 0:
        return False, "no CUDA device found"
    if shutil.which("nvcc") is None:
        return False, "nvcc not found on PATH (pycuda compiles generated kernels with it)"
    return True, ""


# ---------------------------------------------------------------------------------------
# devices: pycuda, and the CPU emulator with the same interface

class DevBuf:
    """A device address and what keeps its memory alive. `fresh`: allocated by the call
    that returns it (so handing it to the caller aliases nothing else)."""
    __slots__ = ("fresh", "owner", "ptr")

    def __init__(self, ptr: int, owner: Any, fresh: bool = True):
        self.ptr = ptr
        self.owner = owner
        self.fresh = fresh


class PycudaDevice:
    def __init__(self) -> None:
        import pycuda.driver as cuda
        from pycuda.tools import DeviceMemoryPool
        self.cuda = cuda
        cuda.init()
        self.dev = cuda.Device(0)
        self.ctx = self.dev.retain_primary_context()
        self.ctx.push()
        self.stream = cuda.Stream()
        self.pool = DeviceMemoryPool()
        major, minor = self.dev.compute_capability()
        self.arch = f"sm_{major}{minor}"
        self.modules: dict[str, Any] = {}
        self.batched: dict[str, tuple[Any, str]] = {}
        self.name = self.dev.name()

    @property
    def stream_handle(self) -> int | None:
        return int(self.stream.handle) or None

    def alloc(self, nbytes: int, what: str = "") -> DevBuf:
        try:
            a = self.pool.allocate(max(int(nbytes), 1))
        except self.cuda.MemoryError:
            self.pool.free_held()
            try:
                a = self.pool.allocate(max(int(nbytes), 1))
            except self.cuda.MemoryError as e:
                raise MemoryError(f"cuda: out of device memory allocating {nbytes} bytes"
                                  + (f" for {what}" if what else "") + f": {e}") from None
        return DevBuf(int(a), a)

    def htod(self, ptr: int, host: np.ndarray) -> None:
        if host.nbytes:
            self.cuda.memcpy_htod_async(ptr, np.ascontiguousarray(host), self.stream)

    def dtoh(self, host: np.ndarray, ptr: int) -> None:
        if host.nbytes:
            self.cuda.memcpy_dtoh_async(host, ptr, self.stream)

    def dtod(self, dst: int, src: int, nbytes: int) -> None:
        if nbytes:
            self.cuda.memcpy_dtod_async(dst, src, nbytes, self.stream)

    def sync(self) -> None:
        self.stream.synchronize()

    def sync_all(self) -> None:
        self.cuda.Context.synchronize()

    def load(self, prog: Program) -> dict[str, Callable[[int, int, list[Any]], None]]:
        batched = self.batched.get(prog.key)
        if batched is not None:           # compiled earlier by compile_many
            mod, prefix = batched
        else:
            key = hashlib.sha256((prog.source + self.arch + " ".join(NVCC_OPTIONS)).encode()
                                 ).hexdigest()
            mod = self.modules.get(key)
            if mod is None:
                mod = self.cuda.module_from_buffer(self._cubin(prog.source, key))
                self.modules[key] = mod
            prefix = ""
        fns: dict[str, Callable[[int, int, list[Any]], None]] = {}
        for k in prog.kernels:
            f = mod.get_function(prefix + k.name)
            f.prepare(k.arg_format)
            fns[k.name] = self._launcher(f)
        return fns

    def compile_many(self, progs: Sequence[Program], chunks: int = 8) -> None:
        """Compile many programs in a few nvcc runs (in parallel), for test suites: each
        program sits in its own namespace, its kernels renamed `jg<key>_<name>`."""
        import concurrent.futures
        import re
        todo = list({p.key: p for p in progs if p.key not in self.batched}.values())
        if not todo:
            return
        parts = [todo[i::chunks] for i in range(min(chunks, len(todo)))]

        def unit(ps: list[Program]) -> str:
            out = []
            for p in ps:
                src = p.source
                for k in p.kernels:
                    src = re.sub(rf"\b{re.escape(k.name)}\(", f"jg{p.key}_{k.name}(", src)
                out.append(f"namespace jg{p.key} {{\n{src}\n}}\n")
            return "".join(out)
        sources = [unit(ps) for ps in parts]
        keys = [hashlib.sha256((src + self.arch + " ".join(NVCC_OPTIONS)).encode()).hexdigest()
                for src in sources]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(parts)) as ex:
            cubins = list(ex.map(self._cubin, sources, keys))
        for ps, cubin in zip(parts, cubins):
            mod = self.cuda.module_from_buffer(cubin)
            for p in ps:
                self.batched[p.key] = (mod, f"jg{p.key}_")

    def _launcher(self, f: Any) -> Callable[[int, int, list[Any]], None]:
        stream = self.stream

        def launch(grid: int, block: int, args: list[Any]) -> None:
            f.prepared_async_call((grid, 1), (block, 1, 1), stream, *args)
        return launch

    def _cubin(self, source: str, key: str) -> bytes:
        from pycuda.compiler import compile as nvcc_compile
        path = _cache_dir() / f"{key}.cubin"
        if path.is_file():
            return path.read_bytes()
        cubin = nvcc_compile(source, no_extern_c=True, arch=self.arch, options=NVCC_OPTIONS,
                             cache_dir=False)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(cubin)
            os.replace(tmp, path)
        except OSError:
            pass          # a read-only cache is not an error; the next process recompiles
        return cubin


def _cache_dir() -> Path:
    from .. import config
    base = Path(config.CACHE_DIR) if config.CACHE_DIR else Path.home() / ".cache" / "jitgraph"
    return base / "cuda"


_EMU_HEADER = r"""
// CUDA shim for running generated kernels on the host (jitgraph HostEmulator): each CUDA
// thread of a block is a fiber (ucontext) on one OS thread; __syncthreads and warp shuffles
// switch fibers until the whole block (or warp) has arrived. Blocks run one after another,
// so __shared__ arrays can be plain statics. Internal linkage throughout: several of these
// libraries live in one process.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ucontext.h>
using std::isnan; using std::isinf; using std::isfinite;
struct jg_dim3 { unsigned x = 0, y = 0, z = 0; };
static jg_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __restrict__ __restrict
#define __shared__ static
enum { JG_RUN = 0, JG_BLOCK = 1, JG_WARP = 2, JG_DONE = 3, JG_MAXT = 1024,
       JG_STACK = 1 << 17 };
static ucontext_t jg_main;
static ucontext_t jg_ctx[JG_MAXT];
static int jg_state[JG_MAXT];
static char* jg_stacks;
static unsigned jg_cur;
static void (*jg_body)(void**);
static void** jg_args;
static unsigned long long jg_slots[JG_MAXT];
static void jg_yield(int why) {
    jg_state[jg_cur] = why;
    swapcontext(&jg_ctx[jg_cur], &jg_main);
}
static void __syncthreads() { jg_yield(JG_BLOCK); }
template <typename T> static T __shfl_down_sync(unsigned, T v, int delta) {
    const unsigned t = threadIdx.x, lane = t & 31;
    std::memcpy(&jg_slots[t], &v, sizeof(T));
    jg_yield(JG_WARP);
    T r = v;
    if (lane + delta < 32) std::memcpy(&r, &jg_slots[t + delta], sizeof(T));
    jg_yield(JG_WARP);
    return r;
}
static void jg_entry() {
    jg_body(jg_args);
    jg_state[jg_cur] = JG_DONE;     // returning resumes uc_link (the scheduler)
}
static void jg_emu_run(unsigned grid, unsigned block, void (*body)(void**), void** args) {
    if (block > JG_MAXT) { std::fprintf(stderr, "jg emu: block too large\n"); std::abort(); }
    if (!jg_stacks) jg_stacks = (char*)std::malloc((size_t)JG_MAXT * JG_STACK);
    blockDim.x = block; blockDim.y = blockDim.z = 1;
    gridDim.x = grid; gridDim.y = gridDim.z = 1;
    jg_body = body;
    jg_args = args;
    for (unsigned b = 0; b < grid; ++b) {
        blockIdx.x = b;
        for (unsigned t = 0; t < block; ++t) {
            getcontext(&jg_ctx[t]);
            jg_ctx[t].uc_stack.ss_sp = jg_stacks + (size_t)t * JG_STACK;
            jg_ctx[t].uc_stack.ss_size = JG_STACK;
            jg_ctx[t].uc_link = &jg_main;
            makecontext(&jg_ctx[t], jg_entry, 0);
            jg_state[t] = JG_RUN;
        }
        for (;;) {
            for (unsigned t = 0; t < block; ++t) {
                if (jg_state[t] != JG_RUN) continue;
                jg_cur = t;
                threadIdx.x = t; threadIdx.y = threadIdx.z = 0;
                swapcontext(&jg_main, &jg_ctx[t]);
            }
            // everyone is done or waiting: release complete warps, then a complete block
            bool live = false, released = false;
            for (unsigned w = 0; w < (block + 31) / 32; ++w) {
                unsigned lo = w * 32, hi = lo + 32 < block ? lo + 32 : block, n = 0, live_w = 0;
                for (unsigned t = lo; t < hi; ++t) {
                    if (jg_state[t] != JG_DONE) ++live_w;
                    if (jg_state[t] == JG_WARP) ++n;
                }
                if (n && n == live_w) {
                    for (unsigned t = lo; t < hi; ++t) jg_state[t] = JG_RUN;
                    released = true;
                }
                live |= live_w != 0;
            }
            if (!live) break;
            if (released) continue;
            unsigned waiting = 0, alive = 0;
            for (unsigned t = 0; t < block; ++t) {
                alive += jg_state[t] != JG_DONE;
                waiting += jg_state[t] == JG_BLOCK;
            }
            if (waiting && waiting == alive) {
                for (unsigned t = 0; t < block; ++t)
                    if (jg_state[t] == JG_BLOCK) jg_state[t] = JG_RUN;
                continue;
            }
            std::fprintf(stderr, "jg emu: deadlock (divergent barrier) in block %u\n", b);
            std::abort();
        }
    }
}
"""

_CT = {"P": ctypes.c_void_p, "?": ctypes.c_bool, "b": ctypes.c_int8, "B": ctypes.c_uint8,
       "h": ctypes.c_int16, "H": ctypes.c_uint16, "i": ctypes.c_int32, "I": ctypes.c_uint32,
       "q": ctypes.c_int64, "Q": ctypes.c_uint64, "f": ctypes.c_float, "d": ctypes.c_double}


class HostEmulator:
    """The device interface on host memory; kernels compiled by g++ (see module doc)."""
    arch = "host"
    stream_handle = None
    name = "host emulator"

    def __init__(self) -> None:
        self.libs: dict[str, ctypes.CDLL] = {}
        self.dir = Path(tempfile.gettempdir()) / f"jitgraph-emu-{os.getuid()}"

    @staticmethod
    def available() -> str:
        """'' if g++ with C++20 <barrier> is here, else why not."""
        if shutil.which("g++") is None:
            return "g++ not found"
        return ""

    def alloc(self, nbytes: int, what: str = "") -> DevBuf:
        a = np.zeros(max(int(nbytes), 1) + 64, dtype=np.uint8)
        ptr = a.ctypes.data
        pad = (-ptr) % 64
        return DevBuf(ptr + pad, a)

    def htod(self, ptr: int, host: np.ndarray) -> None:
        h = np.ascontiguousarray(host)
        ctypes.memmove(ptr, h.ctypes.data, h.nbytes)

    def dtoh(self, host: np.ndarray, ptr: int) -> None:
        ctypes.memmove(host.ctypes.data, ptr, host.nbytes)

    def dtod(self, dst: int, src: int, nbytes: int) -> None:
        ctypes.memmove(dst, src, nbytes)

    def sync(self) -> None:
        pass

    def sync_all(self) -> None:
        pass

    @staticmethod
    def _unit(prog: Program) -> str:
        ns = f"jg_{prog.key}"
        src = prog.source.replace('extern "C" __global__', "__global__")
        stubs = []
        for k in prog.kernels:
            call = ", ".join(f"*({p.ctype.replace('__restrict__', '')}*)args[{i}]"
                             for i, p in enumerate(k.params))
            stubs.append(f"static void body_{prog.key}_{k.name}(void** args) {{ {ns}::{k.name}"
                         f"({call}); }}\n"
                         f'extern "C" void emu_{prog.key}_{k.name}(unsigned grid, unsigned block,'
                         f" void** args) {{ jg_emu_run(grid, block, &body_{prog.key}_{k.name},"
                         f" args); }}")
        return f"namespace {ns} {{\n{src}\n}}\n" + "\n".join(stubs) + "\n"

    def compile_many(self, progs: Sequence[Program]) -> None:
        """Build the programs not yet loaded into one shared library (one g++ run)."""
        todo = {p.key: p for p in progs if p.key not in self.libs}
        if not todo:
            return
        text = _EMU_HEADER + "".join(self._unit(p) for p in todo.values())
        key = hashlib.sha256(text.encode()).hexdigest()[:20]
        so = self.dir / f"{key}.so"
        if not so.is_file():
            self.dir.mkdir(parents=True, exist_ok=True)
            cpp = self.dir / f"{key}.cpp"
            cpp.write_text(text)
            tmp = so.with_suffix(f".{os.getpid()}.tmp")
            r = subprocess.run(["g++", "-std=c++17", "-O1", "-shared", "-fPIC", "-w",
                                "-o", str(tmp), str(cpp)], capture_output=True, text=True,
                               check=False)
            if r.returncode != 0:
                raise RuntimeError(f"g++ failed on the emulated kernels:\n{r.stderr[-4000:]}")
            os.replace(tmp, so)
        lib = ctypes.CDLL(str(so))
        for k in todo:
            self.libs[k] = lib

    def load(self, prog: Program) -> dict[str, Callable[[int, int, list[Any]], None]]:
        self.compile_many([prog])
        lib = self.libs[prog.key]
        fns: dict[str, Callable[[int, int, list[Any]], None]] = {}
        for k in prog.kernels:
            f = getattr(lib, f"emu_{prog.key}_{k.name}")
            f.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p]
            f.restype = None
            fns[k.name] = self._launcher(f, k)
        return fns

    @staticmethod
    def _launcher(f: Any, k: Kernel) -> Callable[[int, int, list[Any]], None]:
        types = [_CT[c] for c in k.arg_format]

        def launch(grid: int, block: int, args: list[Any]) -> None:
            vals = [t(a) for t, a in zip(types, args, strict=True)]
            ptrs = (ctypes.c_void_p * len(vals))(*[ctypes.addressof(v) for v in vals])
            f(grid, block, ptrs)
        return launch


_device_lock = threading.Lock()
_device: PycudaDevice | None = None


def default_device() -> PycudaDevice:
    global _device
    with _device_lock:
        if _device is None:
            ok, why = probe()
            if not ok:
                raise RuntimeError(f"CUDA is not available: {why}")
            _device = PycudaDevice()
        return _device


# ---------------------------------------------------------------------------------------
# the host driver

def _cai(x: Any) -> dict[str, Any] | None:
    return getattr(x, "__cuda_array_interface__", None)


class CudaFunction:
    """A compiled graph: its kernels loaded, its array constants uploaded once; a call
    binds the arguments, runs the schedule and returns the results."""

    def __init__(self, prog: Program, device: Any):
        self.prog = prog
        self.device = device
        self.fns = device.load(prog)
        self.consts: dict[Value, DevBuf] = {}
        for v, arr in prog.consts:
            buf = device.alloc(arr.nbytes, "a constant")
            buf.fresh = False
            device.htod(buf.ptr, arr)
            self.consts[v] = buf
        device.sync()

    # -- arguments ----------------------------------------------------------------------
    def _bind(self, p: Value, a: Any, env: dict[Value, Any]) -> bool:
        """Put argument a into env; True if it came from device memory."""
        from ..cuda import DeviceArray
        t = p.type
        on_device = isinstance(a, DeviceArray) or _cai(a) is not None
        if p in self.prog.host:
            if on_device:
                a = np.asarray(a.get() if isinstance(a, DeviceArray) else _cai_to_host(a))
            env[p] = a if t.weak else np.asarray(a)
            return on_device
        if isinstance(a, DeviceArray):
            if a.dtype != t.dtype or tuple(a.shape) != t.shape:
                raise ValueError(f"cuda: argument {p.hint}: expected {t}, got a device array "
                                 f"{a.dtype}{list(a.shape)}")
            env[p] = DevBuf(a.ptr, a, fresh=False)
            return True
        cai = _cai(a)
        if cai is not None:
            dt, shape = np.dtype(cai["typestr"]), tuple(cai["shape"])
            if dt != t.dtype or shape != t.shape:
                raise ValueError(f"cuda: argument {p.hint}: expected {t}, got {dt}{list(shape)}")
            strides = cai.get("strides")
            if strides is not None and tuple(strides) != _c_strides(shape, dt.itemsize):
                raise ValueError(f"cuda: argument {p.hint}: a non-contiguous device array; "
                                 "make it contiguous first")
            env[p] = DevBuf(int(cai["data"][0]), a, fresh=False)
            return True
        arr = np.asarray(a)
        if arr.shape != t.shape:
            raise ValueError(f"cuda: argument {p.hint}: expected shape {t.shape}, "
                             f"got {arr.shape}")
        arr = np.ascontiguousarray(arr, dtype=t.dtype)
        buf = self.device.alloc(arr.nbytes, f"argument {p.hint}")
        self.device.htod(buf.ptr, arr)
        env[p] = buf
        return False

    def __call__(self, args: Sequence[Any]) -> list[Any]:
        prog = self.prog
        if len(args) != len(prog.params):
            raise TypeError(f"{prog.name}() takes {len(prog.params)} arguments, "
                            f"got {len(args)}")
        env: dict[Value, Any] = dict(self.consts)
        device_mode = False
        foreign = False
        for p, a in zip(prog.params, args, strict=True):
            on_dev = self._bind(p, a, env)
            device_mode |= on_dev
            foreign |= on_dev and not _is_ours(a)
        if foreign:   # another library's stream may still be writing its arrays
            self.device.sync_all()
        try:
            self.run(prog.steps, env)
            return self._results(env, device_mode)
        except _DeviceErrors() as e:
            raise RuntimeError(f"cuda: {type(e).__name__}: {e}") from e

    def _results(self, env: dict[Value, Any], device_mode: bool) -> list[Any]:
        from ..cuda import DeviceArray
        out: list[Any] = []
        pending = False
        for v in self.prog.results:
            r = env[v]
            if not isinstance(r, DevBuf):
                out.append(r)
                continue
            t = v.type
            assert t.dtype is not None and t.shape is not None   # a typed graph's result
            nbytes = t.size * t.dtype.itemsize
            if device_mode and t.shape != ():
                if not r.fresh:      # never hand out an argument's or a constant's memory
                    buf = self.device.alloc(nbytes, "a result")
                    self.device.dtod(buf.ptr, r.ptr, nbytes)
                    r = buf
                out.append(DeviceArray(r.ptr, t.shape, t.dtype, r.owner, self.device))
            else:
                host = np.empty(t.shape, dtype=t.dtype)
                self.device.dtoh(host, r.ptr)
                pending = True
                out.append(host)
        if pending:
            self.device.sync()
        # a weak (Python scalar) result computed on the device comes back as one
        return [conform(r, v.type) if v.type.weak else r
                for r, v in zip(out, self.prog.results)]

    # -- the schedule -------------------------------------------------------------------
    def host_value(self, v: Value, env: dict[Value, Any]) -> Any:
        """A scalar's value on the host; a device scalar costs one read back (a sync)."""
        r = env[v]
        if not isinstance(r, DevBuf):
            return r
        host = np.empty((), dtype=v.type.dtype)
        self.device.dtoh(host, r.ptr)
        self.device.sync()
        return host

    def run(self, steps: Sequence[Step], env: dict[Value, Any]) -> None:
        dev = self.device
        for s in steps:
            if isinstance(s, Launch):
                for v in s.allocs:
                    env[v] = dev.alloc(v.type.size * known_dtype(v.type).itemsize, str(v))
                args = []
                for a in s.args:
                    if isinstance(a, Ptr):
                        args.append(env[a.value].ptr
                                    + a.offset * known_dtype(a.value.type).itemsize)
                    else:
                        args.append(_scalar(env[a.value], a.value))
                self.fns[s.kernel](s.grid, s.block, args)
            elif isinstance(s, Alias):
                src = env[s.src]
                if isinstance(src, DevBuf):
                    src = DevBuf(src.ptr + s.offset * known_dtype(s.src.type).itemsize, src.owner,
                                 src.fresh)
                env[s.out] = src
            elif isinstance(s, Alloc):
                for v in s.values:
                    env[v] = dev.alloc(v.type.size * known_dtype(v.type).itemsize, str(v))
            elif isinstance(s, HostOp):
                for v, r in zip(s.node.outputs, eval_node(s.node, env), strict=True):
                    env[v] = r
            elif isinstance(s, HostImpl):
                self._host_call(s, env)
            elif isinstance(s, HostConform):
                env[s.out] = conform(env[s.src], s.out.type)
            elif isinstance(s, DynView):
                src = env[s.src]
                g = ghost(s.layout)
                dyn = [self.host_value(v, env) for v in s.dyn]
                view = ghost_index(g, build_index(s.index, dyn))   # IndexError as NumPy words it
                off = view.__array_interface__["data"][0] - g.__array_interface__["data"][0]
                env[s.out] = DevBuf(src.ptr + off * known_dtype(s.src.type).itemsize, src.owner,
                                    src.fresh)
            elif isinstance(s, If):
                take = bool(self.host_value(s.cond, env))
                self.run(s.then if take else s.else_, env)
                for o, r in zip(s.outputs, s.then_results if take else s.else_results,
                                strict=True):
                    env[o] = env[r]
            elif isinstance(s, Loop):
                self._loop(s, env)
            else:
                raise Unsupported(f"unknown schedule step {type(s).__name__}")

    def _host_call(self, s: HostImpl, env: dict[Value, Any]) -> None:
        n = s.node
        r = OPS[n.op].impl(*[env[v] for v in s.inputs], **n.attrs)
        out = n.out
        if out in self.prog.host:
            if isinstance(r, DevBuf):       # a device scalar popped into a host value
                host = np.empty((), dtype=out.type.dtype)
                self.device.dtoh(host, r.ptr)
                self.device.sync()
                r = host
            env[out] = conform(r, out.type)
        elif isinstance(r, DevBuf):
            env[out] = r
        else:                                # a host scalar popped into a device value
            arr = np.ascontiguousarray(np.asarray(r, dtype=out.type.dtype))
            buf = self.device.alloc(arr.nbytes, str(out))
            self.device.htod(buf.ptr, arr)
            env[out] = buf

    def _loop(self, s: Loop, env: dict[Value, Any]) -> None:
        trip = int(self.host_value(s.trip, env))
        cond = bool(self.host_value(s.cond0, env))
        carried = [env[v] for v in s.init]
        k = 0
        while cond and (trip < 0 or k < trip):
            env[s.counter] = k if s.counter.type.weak else np.asarray(
                k, dtype=s.counter.type.dtype or np.int64)
            for p, c in zip(s.params, carried, strict=True):
                env[p] = c
            self.run(s.body, env)
            cond = bool(self.host_value(s.cond_next, env))
            carried = [env[v] for v in s.nexts]
            k += 1
        for o, c in zip(s.outputs, carried, strict=True):
            env[o] = c


def _scalar(x: Any, v: Value) -> Any:
    return np.asarray(x).astype(v.type.dtype).item()


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    out, acc = [], itemsize
    for d in reversed(shape):
        out.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(out))


def _is_ours(a: Any) -> bool:
    from ..cuda import DeviceArray
    return isinstance(a, DeviceArray)


def _cai_to_host(a: Any) -> np.ndarray:
    cai = _cai(a)
    assert cai is not None
    dt, shape = np.dtype(cai["typestr"]), tuple(cai["shape"])
    host = np.empty(shape, dtype=dt)
    dev = default_device()
    dev.sync_all()
    dev.dtoh(host, int(cai["data"][0]))
    dev.sync()
    return host


def _DeviceErrors() -> tuple[type[BaseException], ...]:
    """pycuda's error classes when pycuda is loaded (never imports it)."""
    import sys
    drv = sys.modules.get("pycuda.driver")
    return (drv.Error,) if drv is not None and hasattr(drv, "Error") else ()


# ---------------------------------------------------------------------------------------
# the backend

class CudaBackend:
    name = "cuda"

    def __init__(self, device: Any = None):
        self._device = device          # None: the process's pycuda device, made on demand
        self._last: tuple[Graph, Program] | None = None

    @property
    def device(self) -> Any:
        return self._device if self._device is not None else default_device()

    def available(self) -> bool:
        return self._device is not None or probe()[0]

    def why_unavailable(self) -> str:
        return "" if self._device is not None else probe()[1]

    def check(self, g: Graph) -> list[str]:
        """What the lowering cannot handle (availability is `available()`'s business)."""
        return self.lower(g).problems

    def lower(self, g: Graph) -> Program:
        """The program for g; the last one is kept, since the runtime calls check(g) and
        then compile(g) on the same graph."""
        last = self._last
        if last is not None and last[0] is g:
            return last[1]
        emu = isinstance(self._device, HostEmulator)
        prog = lower(g, max_grid=2 if emu else None)
        self._last = (g, prog)
        return prog

    def compile(self, g: Graph, cache: bool | None = None) -> CompiledFn:
        prog = self.lower(g)
        if prog.problems:
            raise Unsupported("; ".join(prog.problems))
        return CudaFunction(prog, self.device)

    def dump(self, g: Graph, stage: str) -> str:
        if stage != "cuda":
            raise ValueError(f"the cuda backend has no {stage!r} stage (it has 'cuda')")
        return render(g)


__all__ = ["CudaBackend", "CudaFunction", "DevBuf", "HostEmulator", "PycudaDevice",
           "default_device", "probe"]
