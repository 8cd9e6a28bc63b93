"""The CPU backend's side effects: parse + verify + optimize (new pass manager, O3 with
loop and SLP vectorization for the host CPU) + MCJIT, the ctypes entry call, the disk
cache of object code, and the "llvm"/"asm" dumps. llvm_lower.py does the pure part.

One target machine and one MCJIT engine per process (every graph's module is added to
it). Symbols the generated code needs are resolved by name: NumPy's ndarray type and
dtype objects (argument checks compare pointers with them), BLAS gemm (NumPy's own
OpenBLAS if loaded, else SciPy's cython_blas), and libm."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import config
from ..ir.graph import Graph
from .base import CompiledFn, Unsupported

SUPPORTED_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                    "uint64", "float16", "float32", "float64")
# v2: the checksum covers the ABI header as well as the object code
CACHE_MAGIC = b"JGOBJ2\n"


def _layout_ok() -> str:
    """'' when NumPy arrays (and Python floats, read by the call wrapper) have the struct
    layout llvm_lower reads, else why not."""
    from .llvm_lower import (
        OFF_DATA,
        OFF_DESCR,
        OFF_DIMS,
        OFF_FLAGS,
        OFF_FLOAT_VAL,
        OFF_ND,
        OFF_SEQ_ITEMS,
        OFF_TYPE,
        OFF_VAR_SIZE,
    )
    a = np.zeros((2, 3), np.float32)
    f = 1.625
    lst, tup = [a, f], (f, a, 7)

    def rd(off: int, t: Any = ctypes.c_void_p, obj: Any = a) -> Any:
        return t.from_address(id(obj) + off).value

    try:
        dims = rd(OFF_DIMS)
        items = rd(OFF_SEQ_ITEMS, obj=lst)
        ok = (rd(OFF_TYPE) == id(np.ndarray) and rd(OFF_DATA) == a.ctypes.data
              and rd(OFF_ND, ctypes.c_int32) == 2 and rd(OFF_DESCR) == id(a.dtype)
              and ctypes.c_int64.from_address(dims + 8).value == 3
              and rd(OFF_FLAGS, ctypes.c_int32) & 0x101 == 0x101
              and rd(OFF_TYPE, obj=f) == id(float) and rd(OFF_TYPE, obj=7) == id(int)
              and rd(OFF_FLOAT_VAL, ctypes.c_double, f) == f
              and rd(OFF_VAR_SIZE, ctypes.c_ssize_t, lst) == 2
              and rd(OFF_VAR_SIZE, ctypes.c_ssize_t, tup) == 3
              and ctypes.c_void_p.from_address(items + 8).value == id(f)
              and rd(OFF_SEQ_ITEMS + 8, obj=tup) == id(a)
              and _numpy_api(2) == id(np.ndarray))
    except Exception as e:  # pragma: no cover  # noqa: BLE001  (any failure: layout unknown)
        return f"cannot probe the NumPy array layout: {e}"
    return "" if ok else "NumPy's array struct layout is not the one llvm_lower reads"


def _numpy_api(index: int) -> int:
    """Entry `index` of NumPy's C-API table (2: the ndarray type, 184: PyArray_Empty)."""
    try:
        from numpy._core import _multiarray_umath as mu  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover
        from numpy.core import _multiarray_umath as mu  # type: ignore[no-redef]
    cap = mu._ARRAY_API
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    table = get(cap, name(cap))
    v = ctypes.c_void_p.from_address(table + 8 * index).value
    assert v is not None
    return v


# the CPython C API the call wrapper (llvm_lower._py_wrapper) uses
_PYAPI = ("PyLong_FromLong", "PyLong_AsLongLong", "PyErr_Occurred", "PyErr_Clear",
          "PyEval_SaveThread", "PyEval_RestoreThread", "PyObject_Vectorcall", "Py_IncRef",
          "Py_DecRef", "PyList_New", "PyFloat_FromDouble", "PyBool_FromLong",
          "PyLong_FromLongLong")


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


_METH_FASTCALL = 0x0080
_new_cfunction = ctypes.pythonapi.PyCFunction_NewEx
_new_cfunction.restype = ctypes.py_object
_new_cfunction.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]


def _builtin(waddr: int, name: str, self: Any = None) -> tuple[Any, Any]:
    """(a builtin function object calling the native METH_FASTCALL function at waddr with
    `self` as its first argument, its PyMethodDef, which must outlive it)."""
    mdef = _MethodDef(name.encode(), waddr, _METH_FASTCALL, None)
    return _new_cfunction(ctypes.addressof(mdef), self, None), mdef


def _addr(f: Any) -> int:
    """The address of a ctypes function."""
    v = ctypes.cast(f, ctypes.c_void_p).value
    assert v is not None
    return v


def _find_blas() -> tuple[int | None, dict[str, int]]:
    """(BLAS integer width, {jg_sgemm/jg_dgemm: address}): NumPy's bundled OpenBLAS when
    it is loaded (no import cost, NumPy's own speed), else SciPy's cython_blas capsules."""
    try:
        with open("/proc/self/maps") as f:
            libs = {ln.split()[-1] for ln in f if "blas" in ln.lower() and ".so" in ln}
    except OSError:
        libs = set()
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pre, suf, bits in (("scipy_", "_64_", 64), ("", "_64_", 64), ("", "64_", 64),
                               ("", "_", 32)):
            try:
                d, s = getattr(lib, f"{pre}dgemm{suf}"), getattr(lib, f"{pre}sgemm{suf}")
            except AttributeError:
                continue
            return bits, {"jg_dgemm": _addr(d), "jg_sgemm": _addr(s)}
    try:
        from scipy.linalg import cython_blas  # type: ignore[import-untyped]
    except ImportError:
        return None, {}
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    getname = ctypes.pythonapi.PyCapsule_GetName
    getname.restype, getname.argtypes = ctypes.c_char_p, [ctypes.py_object]
    caps = cython_blas.__pyx_capi__
    return 32, {f"jg_{k}": get(caps[k], getname(caps[k])) for k in ("sgemm", "dgemm")}


class _Runtime:
    """Process-wide LLVM state: target machine, pass pipeline, MCJIT engine, symbols."""

    def __init__(self) -> None:
        import llvmlite
        import llvmlite.binding as llvm

        from . import llvm_math
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.llvm = llvm
        self.cpu = llvm.get_host_cpu_name()
        self.features = llvm.get_host_cpu_features().flatten()
        target = llvm.Target.from_default_triple()
        self.tm = target.create_target_machine(cpu=self.cpu, features=self.features, opt=3,
                                               codemodel="jitdefault")
        self.triple = target.triple
        # AVX-512 has vscalef: llvm.ldexp on vectors is one instruction (llvm_math's exp)
        self.vector_ldexp = "+avx512f" in self.features.split(",")
        self.lock = threading.RLock()
        self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self.tm)
        self._pending: dict[str, bytes] = {}
        self.engine.set_object_cache(self._notify, lambda mod: None)
        self.blas_int, blas = _find_blas()
        syms: dict[str, int] = {"jg_ndarray_type": id(np.ndarray), "jg_PyFloat_Type": id(float),
                                "jg_PyLong_Type": id(int), "jg_Py_True": id(True),
                                "jg_Py_False": id(False), "jg_PyList_Type": id(list),
                                "jg_PyTuple_Type": id(tuple),
                                "jg_PyArray_Empty": _numpy_api(184)}
        for name in _PYAPI:
            syms[f"jg_{name}"] = _addr(getattr(ctypes.pythonapi, name))
        for name in SUPPORTED_DTYPES:
            syms[f"jg_descr_{name}"] = id(np.dtype(name))
        syms.update(blas)
        libc = ctypes.CDLL(None)
        from .llvm_parallel import LIBC
        for name in ("realloc", "free") + LIBC:
            syms[f"jg_{name}"] = _addr(getattr(libc, name))
        self.num_threads = ctypes.c_int64(1)
        syms["jg_num_threads"] = ctypes.addressof(self.num_threads)
        self.set_threads()
        try:
            libm = ctypes.CDLL("libm.so.6")
            for fname in llvm_math.libm_names():
                try:
                    syms[fname] = _addr(getattr(libm, fname))
                except AttributeError:
                    pass
        except OSError:
            pass  # symbols then resolve through the process, as MCJIT does by default
        for k, v in syms.items():
            llvm.add_symbol(k, v)
        self.version = "|".join([llvmlite.__version__, ".".join(map(str, llvm.llvm_version_info)),
                                 self.cpu, self.features, str(self.blas_int)])
        self.compiled: dict[str, tuple[int, Any]] = {}
        self.pool: dict[str, int] | None = None

    def ensure_pool(self) -> None:
        """Compile the worker pool's module (llvm_parallel) the first time a graph needs
        it, and arrange for its workers to be joined at exit (before the JIT's code goes
        away) and forgotten in a forked child (which has none)."""
        with self.lock:
            if self.pool is not None:
                return
            import atexit

            from .llvm_lower import EntryABI
            from .llvm_parallel import pool_module
            text = str(pool_module(self.triple))
            key = hashlib.sha256(f"{text}|{self.version}|{_jg_version()}".encode()).hexdigest()
            d = _cache_dir()
            path = os.path.join(d, f"pool_{key[:32]}.jgo") if d else None
            loaded = _read_cache(path, "jg_pool") if path else None
            try:                   # object code from the disk cache: no LLVM codegen
                if loaded is None:
                    raise LookupError
                self.engine.add_object_file(self.llvm.ObjectFileRef.from_data(loaded[1]))
                self.engine.finalize_object()
                if not self.engine.get_function_address("jg_pool_run"):
                    raise LookupError
            except (LookupError, RuntimeError):
                mod = self.parse(text)
                mod.name = "jg_pool"
                self.optimize(mod)
                self.engine.add_module(mod)
                self.engine.finalize_object()
                obj = self._pending.pop("jg_pool", b"")
                if path and obj:
                    _write_cache(path, EntryABI("jg_pool", [], [], 0, {}), obj)
            pool = {name: self.engine.get_function_address(f"jg_pool_{name}")
                    for name in ("run", "shutdown", "after_fork")}
            pool["spin"] = self.engine.get_global_value_address("jg_pool_spin")
            self.llvm.add_symbol("jg_pool_run", pool["run"])
            shutdown = ctypes.CFUNCTYPE(None)(pool["shutdown"])
            after_fork = ctypes.CFUNCTYPE(None)(pool["after_fork"])
            self._pool_fns = (shutdown, after_fork)     # keep the ctypes objects alive
            atexit.register(shutdown)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=after_fork)
            self.pool = pool

    def set_spin(self, pauses: int) -> None:
        """How long pool threads spin (pause instructions) before they sleep."""
        self.ensure_pool()
        assert self.pool is not None
        ctypes.c_int64.from_address(self.pool["spin"]).value = max(0, int(pauses))

    def set_threads(self) -> None:
        """jg_num_threads, read by generated code at run time: JITGRAPH_NUM_THREADS caps
        it (0 or unset: every core this process may run on)."""
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        cap = config.NUM_THREADS
        self.num_threads.value = max(1, min(cores, cap) if cap > 0 else cores)

    def _notify(self, mod: Any, data: bytes) -> None:
        self._pending[mod.name] = bytes(data)

    def optimize(self, mod: Any) -> None:
        llvm = self.llvm
        pto = llvm.PipelineTuningOptions(speed_level=3)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pto.loop_interleaving = True
        pto.loop_unrolling = True
        pb = llvm.PassBuilder(self.tm, pto)
        pb.getModulePassManager().run(mod, pb)

    def parse(self, text: str) -> Any:
        mod = self.llvm.parse_assembly(text)
        mod.triple = self.triple
        mod.data_layout = str(self.tm.target_data)
        mod.verify()
        return mod


_RUNTIME: _Runtime | None = None
_RUNTIME_LOCK = threading.Lock()


def runtime() -> _Runtime:
    global _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is None:
            _RUNTIME = _Runtime()
        return _RUNTIME


def _cache_dir() -> str | None:
    d = config.CACHE_DIR
    if d is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "jitgraph")
    return d if d and d.lower() not in ("0", "off", "none") else None


class LLVMBackend:
    name = "cpu"

    def __init__(self, cache: bool = True):
        self.cache = cache
        self._why: str | None = None

    # ------------------------------------------------------------------ protocol
    def available(self) -> bool:
        return self.why_unavailable() == ""

    def why_unavailable(self) -> str:
        if self._why is None:
            try:
                import llvmlite.binding  # noqa: F401
            except ImportError as e:
                self._why = f"llvmlite is not installed ({e})"
            else:
                self._why = _layout_ok()
        return self._why

    def check(self, g: Graph) -> list[str]:
        from .llvm_lower import supported_dtype
        from .llvm_ops import rule_check
        reasons: list[str] = []
        why = self.why_unavailable()
        if why:
            return [why]

        def note(r: str) -> None:
            if r not in reasons:
                reasons.append(r)

        for v in list(g.params) + list(g.results):
            if not (v.type.known and supported_dtype(v.type.dtype)):
                note(f"unsupported type {v.type}")
        for n in g.walk():
            for v in list(n.outputs) + list(n.inputs) + [p for b in n.blocks for p in b.params]:
                if not v.type.known:
                    note(f"untyped value in {n.op}")
                elif not supported_dtype(v.type.dtype):
                    note(f"unsupported dtype {v.type.dtype} in {n.op}")
            if n.op in ("constant", "if", "loop", "fused"):
                continue
            r = rule_check(n)
            if r:
                note(r)
        return reasons

    def compile(self, g: Graph, cache: bool | None = None) -> CompiledFn:
        reasons = self.check(g)
        if reasons:
            raise Unsupported("; ".join(reasons))
        rt = runtime()
        rt.set_threads()
        # The native code reads and writes native byte order only (the ABI says so, and a
        # byte-swapped argument is copied by _coerce); a result the graph declares
        # byte-swapped (an argument returned as it is, or a view of one) comes back in the
        # declared dtype, as eager NumPy returns it.
        swapped = [v.type.dtype if not v.type.weak and v.type.dtype is not None
                   and not v.type.dtype.isnative else None for v in g.results]
        _native_constants(g)
        addr, abi = self._native(g, self.cache if cache is None else cache)
        from .llvm_lower import fast_call_ok
        with rt.lock:
            waddr = rt.engine.get_function_address(f"{abi.fn_name}_py")
            caddr = rt.engine.get_function_address(f"{abi.fn_name}_call") \
                if fast_call_ok(abi) else 0
        run = _make_callable(addr, waddr, caddr, abi)
        if not any(d is not None for d in swapped):
            return run

        def run_swapped(args: Sequence[Any]) -> list[Any]:
            return [o if d is None else o.astype(d) for o, d in zip(run(args), swapped)]
        return run_swapped

    def dump(self, g: Graph, stage: str) -> str:
        from .llvm_lower import lower_graph, module_text
        rt = runtime()
        _native_constants(g)
        module, _ = lower_graph(g, blas_int=rt.blas_int, vector_ldexp=rt.vector_ldexp)
        if stage in ("llvm-unopt", "llvm_unopt"):
            return module_text(module)
        mod = rt.parse(module_text(module))
        rt.optimize(mod)
        if stage == "llvm":
            return str(mod)
        if stage == "asm":
            return rt.tm.emit_assembly(mod)
        raise ValueError(f"the cpu backend has no {stage!r} stage; use 'llvm' or 'asm'")

    # ------------------------------------------------------------------ compiling
    def _native(self, g: Graph, cache: bool) -> tuple[int, Any]:
        from .llvm_lower import graph_key, lower_graph, module_text
        rt = runtime()
        gkey = graph_key(g)
        key = hashlib.sha256(f"{gkey}|{rt.version}|{_jg_version()}".encode()).hexdigest()[:32]
        with rt.lock:
            hit = rt.compiled.get(key)
            if hit is not None:
                return hit
            fn_name = f"jg_{key}"
            path = self._cache_path(key) if cache else None
            # an entry is used only if its header (checksummed with the object code)
            # also agrees with the parameters and results of the graph being compiled
            loaded = _read_cache(path, fn_name, _graph_io(g)) if path else None
            if loaded is not None:
                abi, obj = loaded
                if "jg_pool_run" in abi.symbols:
                    rt.ensure_pool()
                try:
                    rt.engine.add_object_file(rt.llvm.ObjectFileRef.from_data(obj))
                    rt.engine.finalize_object()
                    addr = rt.engine.get_function_address(fn_name)
                except Exception:  # noqa: BLE001  (a bad cached object: recompile instead)
                    addr = 0
                if addr:
                    rt.compiled[key] = (addr, abi)
                    return addr, abi
            module, abi = lower_graph(g, fn_name, blas_int=rt.blas_int,
                                     vector_ldexp=rt.vector_ldexp)
            abi = _native_abi(abi)
            if "jg_pool_run" in abi.symbols:
                rt.ensure_pool()
            mod = rt.parse(module_text(module))
            mod.name = fn_name
            rt.optimize(mod)
            rt.engine.add_module(mod)
            rt.engine.finalize_object()
            addr = rt.engine.get_function_address(fn_name)
            obj = rt._pending.pop(fn_name, b"")
            if path and obj:
                _write_cache(path, abi, obj)
            rt.compiled[key] = (addr, abi)
            return addr, abi

    def _cache_path(self, key: str) -> str | None:
        if not self.cache:
            return None
        d = _cache_dir()
        return os.path.join(d, f"{key}.jgo") if d else None


_CODE_HASH: str | None = None


def _jg_version() -> str:
    """jitgraph's version and a hash of this backend's own code, so a changed lowering
    never loads object code made by the old one."""
    global _CODE_HASH
    if _CODE_HASH is None:
        from .. import __version__
        h = hashlib.sha256(__version__.encode())
        here = os.path.dirname(os.path.abspath(__file__))
        for name in sorted(os.listdir(here)):
            if name.startswith("llvm_") and name.endswith(".py"):
                with open(os.path.join(here, name), "rb") as f:
                    h.update(f.read())
        _CODE_HASH = h.hexdigest()[:16]
    return _CODE_HASH


# ---------------------------------------------------------------------- disk cache
def _native_dtype(dt: np.dtype) -> np.dtype:
    return dt if dt.isnative else dt.newbyteorder("=")


def _native_constants(g: Graph) -> None:
    """Byte-swapped constant arrays (a global `>f8` array baked into the graph) become
    native ones, value and type: the lowering embeds a constant's bytes in its declared
    dtype and the native code reads them as native numbers."""
    from ..types import TensorType
    for n in g.walk():
        if n.op != "constant":
            continue
        v, t = n.attrs.get("value"), n.outputs[0].type
        if isinstance(v, np.ndarray) and not v.dtype.isnative:
            n.attrs["value"] = v.astype(_native_dtype(v.dtype))
        if t.dtype is not None and not t.dtype.isnative:
            n.outputs[0].type = TensorType(_native_dtype(t.dtype), t.shape, t.weak)


def _native_abi(abi: Any) -> Any:
    """The ABI in native byte order: the lowering reads dtypes by kind and size only, so
    the code for a byte-swapped parameter is the code for a native one (the same graph
    text, the same cache key); such an argument is converted by _coerce."""
    from ..types import TensorType
    from .llvm_lower import ParamABI
    abi.params = [ParamABI(p.kind, _native_dtype(p.dtype), tuple(p.shape)) for p in abi.params]
    abi.outputs = [TensorType(_native_dtype(t.dtype), tuple(t.shape), t.weak)
                   for t in abi.outputs]
    return abi


def _graph_io(g: Graph) -> tuple[list, list]:
    """The "params" and "outputs" a cache entry for g must have (as _abi_to_json writes
    them), from g's types alone: what llvm_lower.Lowerer.lower puts in the ABI."""
    params = []
    for p in g.params:
        t = p.type
        assert t.dtype is not None and t.shape is not None
        params.append(["weak", _native_dtype(t.dtype).str, []] if t.weak
                      else ["array", _native_dtype(t.dtype).str, list(t.shape)])
    outputs = []
    for v in g.results:
        t = v.type
        assert t.dtype is not None and t.shape is not None
        outputs.append([_native_dtype(t.dtype).str, list(t.shape), bool(t.weak)])
    return params, outputs


def _abi_to_json(abi: Any) -> dict:
    # dtypes by .str ('<f8', '|b1'): the name alone loses the byte order
    return {"fn_name": abi.fn_name, "arena_size": abi.arena_size,
            "params": [[p.kind, p.dtype.str, list(p.shape)] for p in abi.params],
            "outputs": [[t.dtype.str, list(t.shape), bool(t.weak)] for t in abi.outputs],
            "symbols": {k: list(v) for k, v in abi.symbols.items()}}


def _abi_from_json(d: dict) -> Any:
    from ..types import TensorType
    from .llvm_lower import EntryABI, ParamABI
    arena = d["arena_size"]
    if type(arena) is not int or arena < 0:
        raise ValueError(f"bad arena size {arena!r}")
    symbols = {}
    for k, v in d["symbols"].items():
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(e, str) for e in v)):
            raise ValueError(f"bad symbol {k!r}")
        symbols[k] = (v[0], v[1])
    return EntryABI(d["fn_name"], [ParamABI(k, np.dtype(dt), tuple(s)) for k, dt, s in d["params"]],
                    [TensorType(np.dtype(dt), tuple(s), bool(w)) for dt, s, w in d["outputs"]],
                    arena, symbols)


def _digest(abi_json: dict, obj: bytes) -> str:
    """The checksum of a cache entry: its ABI header (canonical JSON) and object code."""
    h = hashlib.sha256(json.dumps(abi_json, sort_keys=True, separators=(",", ":")).encode())
    h.update(b"\0")
    h.update(obj)
    return h.hexdigest()


def _write_cache(path: str, abi: Any, obj: bytes) -> None:
    """Atomic (temp file + rename); failures only lose the cache entry."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        abi_json = _abi_to_json(abi)
        meta = json.dumps({"abi": abi_json, "sha256": _digest(abi_json, obj),
                           "size": len(obj)}).encode()
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as f:
            f.write(CACHE_MAGIC + len(meta).to_bytes(8, "little") + meta + obj)
        os.replace(tmp, path)
    except OSError:
        pass


def _read_cache(path: str, fn_name: str, io: tuple[list, list] | None = None
                ) -> tuple[Any, bytes] | None:
    """(abi, object code) if the file is whole, its checksum (over the ABI header and the
    object code) matches, and its header agrees with `io` (the "params" and "outputs"
    the graph being compiled needs, _graph_io); anything else (missing, truncated,
    corrupt, edited, another version) is a miss, never an error: the caller compiles
    and rewrites the entry."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if not data.startswith(CACHE_MAGIC):
            return None
        pos = len(CACHE_MAGIC)
        n = int.from_bytes(data[pos:pos + 8], "little")
        meta = json.loads(data[pos + 8:pos + 8 + n].decode())
        obj = data[pos + 8 + n:]
        if not isinstance(meta, dict) or not isinstance(meta.get("abi"), dict):
            return None
        if len(obj) != meta["size"] or _digest(meta["abi"], obj) != meta["sha256"]:
            return None
        if io is not None and [meta["abi"]["params"], meta["abi"]["outputs"]] != list(io):
            return None
        abi = _abi_from_json(meta["abi"])
        if abi.fn_name != fn_name:
            return None
        if io is not None:      # a graph's entry: its arena holds at least the error info
            from .llvm_lower import ERR_INFO_BYTES
            if abi.arena_size < ERR_INFO_BYTES:
                return None
        return abi, obj
    except Exception:  # noqa: BLE001  (whatever is wrong with the file: a miss)
        return None


# ---------------------------------------------------------------------- calling
def _error(rc: int, arena: np.ndarray) -> Exception:
    from .llvm_lower import ERRORS
    info = arena[:24].view(np.int64)
    kind = ERRORS.get(rc)
    if kind == "index":
        return IndexError(f"index {int(info[0])} is out of bounds for axis {int(info[1])} "
                          f"with size {int(info[2])}")
    if kind == "negative_power":
        return ValueError("Integers to negative integer powers are not allowed.")
    if kind == "tape":
        return MemoryError("jitgraph: a gradient tape could not grow (or was misused)")
    return RuntimeError(f"jitgraph: native code returned error code {rc}")


def _make_callable(addr: int, waddr: int, caddr: int, abi: Any) -> CompiledFn:
    """The compiled function. Small graphs (llvm_lower.fast_call_ok): a builtin function
    object doing the whole call natively (llvm_lower._fast_wrapper), which forwards
    anything unusual to `run` below. Others: `run`, a Python function (generated, one per
    graph) doing the least per call: allocate outputs, take an arena from a pool, one call
    of the native wrapper (a builtin too: llvm_lower._py_wrapper). Bad arguments take the
    slow path (copy to contiguous, check shapes) and never reach native code
    unchecked."""
    wfunc, mdef = _builtin(waddr, abi.fn_name)
    pool: list[np.ndarray] = []
    arena_size = abi.arena_size

    def slow(args: Sequence[Any]) -> list[Any]:
        if len(args) != len(abi.params):
            raise TypeError(f"expected {len(abi.params)} arguments, got {len(args)}")
        fixed = [_coerce(a, p, k) for k, (a, p) in enumerate(zip(args, abi.params))]
        outs = [np.empty(t.shape, t.dtype) for t in abi.outputs]
        ar = np.empty(arena_size, np.uint8)
        rc = wfunc(*fixed, *outs, ar)
        if rc < 0:
            raise RuntimeError(f"jitgraph: argument {-rc - 1} rejected after conversion")
        if rc:
            raise _error(rc, ar)
        return [o.item() if t.weak else o for o, t in zip(outs, abi.outputs)]

    names = [f"a{i}" for i in range(len(abi.params))]
    onames = [f"o{j}" for j in range(len(abi.outputs))]
    env: dict[str, Any] = {"wfunc": wfunc, "mdef": mdef, "empty": np.empty, "pool": pool,
                           "u8": np.uint8, "ARENA": arena_size, "slow": slow,
                           "error": _error, "take": _take_output}
    lines = ["def run(args):"]
    if names:
        lines.append(f"    {', '.join(names)}, = args")
    for j, t in enumerate(abi.outputs):
        env[f"dt{j}"] = t.dtype
        nbytes = int(np.prod(t.shape)) * t.dtype.itemsize
        if nbytes >= _POOLED_OUTPUT_BYTES:
            env[f"opool{j}"] = []
            lines.append(f"    o{j} = take(opool{j}, {nbytes}, dt{j}, {tuple(t.shape)!r})")
        else:
            lines.append(f"    o{j} = empty({tuple(t.shape)!r}, dt{j})")
    for i, p in enumerate(abi.params):
        if p.kind == "weak" and p.dtype.kind in "iu":   # the wrapper would reject it too
            lines.append(f"    if not -9223372036854775808 <= a{i} <= 9223372036854775807:")
            lines.append(f"        raise OverflowError('Python int too large for int64: ' + "
                         f"repr(a{i}))")
    lines.append("    try:")                     # (pop is atomic: threads may share run)
    lines.append("        ar = pool.pop()")
    lines.append("    except IndexError:")
    lines.append("        ar = empty(ARENA, u8)")
    lines.append(f"    rc = wfunc({', '.join(names + onames + ['ar'])})")
    lines.append("    if rc:")
    lines.append("        if rc < 0:")
    lines.append("            pool.append(ar)")
    lines.append("            return slow(args)")
    lines.append("        raise error(rc, ar)")
    lines.append("    pool.append(ar)")
    rets = [f"o{j}.item()" if t.weak else f"o{j}" for j, t in enumerate(abi.outputs)]
    lines.append(f"    return [{', '.join(rets)}]")
    exec(compile("\n".join(lines), f"<jitgraph {abi.fn_name}>", "exec"), env)  # noqa: S102
    run: Callable[[Sequence[Any]], list[Any]] = env["run"]
    run.native_address = addr  # type: ignore[attr-defined]
    run.abi = abi  # type: ignore[attr-defined]
    if not caddr:
        return run
    # small graphs: the whole call is native (llvm_lower._fast_wrapper), `run` its fallback
    fast, env["mdef_call"] = _builtin(caddr, abi.fn_name, run)
    return fast  # type: ignore[no-any-return]


_POOLED_OUTPUT_BYTES = 1 << 18    # = llvm_lower.FAST_CALL_MAX_OUTPUT
_POOL_DEPTH = 4
_POOL_LOCK = threading.Lock()


def _take_output(pool: list[np.ndarray], nbytes: int, dtype: np.dtype,
                 shape: tuple[int, ...]) -> np.ndarray:
    """A fresh output array for the caller, in memory recycled from an earlier output the
    caller has dropped (a pooled buffer nothing else refers to: every view of an output
    keeps its buffer's refcount up). Big arrays from malloc come back from the OS each
    time, and the page faults of touching them again cost more than the kernel itself."""
    with _POOL_LOCK:                      # check-and-take must not interleave
        for buf in pool:
            if sys.getrefcount(buf) <= 3:     # the pool, `buf`, getrefcount's argument
                return buf.view(dtype).reshape(shape)
        buf = np.empty(nbytes, np.uint8)
        if len(pool) < _POOL_DEPTH:
            pool.append(buf)
        return buf.view(dtype).reshape(shape)


def _coerce(a: Any, p: Any, k: int) -> Any:
    if p.kind == "weak":
        conv: dict[str, Callable[[Any], Any]] = {"f": float, "i": int, "u": int,
                                                 "b": bool}
        v = conv[p.dtype.kind](a)
        if p.dtype.kind in "iu" and not -2 ** 63 <= v < 2 ** 63:
            raise OverflowError(f"Python int too large for int64: {v!r}")
        return v
    arr = np.asarray(a)
    if arr.shape != tuple(p.shape):
        raise ValueError(f"argument {k}: expected shape {tuple(p.shape)}, got {arr.shape}")
    if arr.dtype != p.dtype and _native_dtype(arr.dtype) != _native_dtype(p.dtype):
        # (a byte-swapped array of the parameter's dtype is fine: copied to native below)
        raise TypeError(f"argument {k}: expected dtype {p.dtype}, got {arr.dtype}")
    if (type(arr) is np.ndarray and arr.dtype is np.dtype(p.dtype.name)
            and arr.flags.c_contiguous and arr.flags.aligned):
        return arr
    return np.array(arr, dtype=np.dtype(p.dtype.name), order="C", copy=True, subok=False)
