"""Typed Graph -> llvmlite.ir.Module with ONE entry function (pure: no JIT, no side effects).

Entry ABI:

    i32 entry(ptr arr_0, ..., <T> weak_k, ..., ptr out_data_0, ..., ptr arena_data)

- Array params (every non-weak param, 0-d included) are passed as the PyArrayObject*
  itself. For each the native code checks the type object, the rank, every dimension,
  the dtype object and the C_CONTIGUOUS|ALIGNED flags before it reads the data pointer
  (NumPy's struct layout, probed once by llvm_jit). A failed check returns -(k+1) for
  param k; the caller then copies the argument and retries, so native code only ever
  sees buffers of exactly the shapes baked into it.
- Weak (Python scalar) params come by value: double, i64, or i32 for bool.
- Outputs come as the data pointers of fresh C-contiguous buffers of their exact shapes;
  `arena_data` points at `arena_size` bytes (64-byte aligned): temporaries live there
  (64-byte aligned offsets; a temporary no later node reads gives its bytes back for
  later ones, see llvm_memplan), and its first 64 bytes carry error details.
- Returns 0, -(k+1) as above, or a positive code of ERRORS (details as i64 at arena[0:]).

Python calls it through one of two wrappers in the same module, both CPython
METH_FASTCALL functions (llvm_jit makes builtin function objects of them): `<entry>_py`
takes the params, output arrays and arena array and returns the code; `<entry>_call`
(graphs with small outputs and arena) is the whole compiled function: it takes the
argument list, allocates the outputs through NumPy's C API and the arena on its stack,
and returns the result list, forwarding anything unusual to a Python fallback.

Inside, an array value is an `Arr`: a pointer plus a STATIC shape and element strides, so
transpose/broadcast/slices/expand/squeeze are free views; `splat` marks a value whose
every element is one register (0-d values, broadcast scalars, zeros/full), so scalar code
never touches memory. Elementwise work is one loop nest per kernel (dims collapsed when
every operand allows), calling each op's scalar rule from OpDef.llvm (llvm_ops.py)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llvmlite import ir

from ..ir.graph import Block, Graph, Node, Value
from ..ops import OPS
from ..types import TensorType
from .llvm_memplan import ArenaPlan, BlockLiveness

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
F32, F64 = ir.FloatType(), ir.DoubleType()
HALF = ir.HalfType()        # float16 in memory only; its registers are float (see reg_type)
PTR = ir.PointerType()

# NumPy 2 / CPython 3 object layout (PyArrayObject_fields, PyArray_Descr); llvm_jit
# probes these on a real array before the backend reports itself available.
OFF_TYPE, OFF_DATA, OFF_ND, OFF_DIMS, OFF_DESCR, OFF_FLAGS = 8, 16, 24, 32, 56, 64
OFF_FLOAT_VAL = 16               # PyFloatObject.ob_fval (probed by llvm_jit as well)
OFF_VAR_SIZE = 16                # PyVarObject.ob_size (list, tuple)
OFF_SEQ_ITEMS = 24               # PyListObject.ob_item / PyTupleObject.ob_item[]
PY_BIG_CALL_BYTES = 1 << 20      # calls moving more data release the GIL (_py_wrapper)
FAST_CALL_MAX_OUTPUT = 1 << 18   # bytes: bigger outputs come from llvm_jit's pool of
FAST_CALL_MAX_ARENA = 1 << 15    # recycled buffers; bigger arenas from the heap
NPY_C_CONTIG_ALIGNED = 0x0001 | 0x0100

ERR_INFO_BYTES = 64
ERRORS = {1: "index", 2: "negative_power", 3: "tape"}   # code -> kind (llvm_jit raises it)

SUPPORTED_KINDS = "biuf"
# in-place updates (Lowerer.writable): setitem writes into x's buffer, a loop takes its
# init's buffer as the carried one, when nothing else can still read it. False: always copy
INPLACE = True
PARALLEL_MIN_ELEMENTS = 1 << 17   # smaller loop nests stay on the calling thread: handing
# a job to the pool's spinning workers costs about a microsecond, waking sleeping ones ~5 us
# (llvm_parallel); below this the split does not pay (a*x + b*x*x - c on 2 cores: 11 -> 6.5
# us at 131072 float32, no gain at 65536)


# LLVM's vectorizer interleaves only small loop bodies, trusting out-of-order execution to
# overlap the iterations of a long one; a long dependency chain (exp, tanh: ~20 dependent
# vector instructions) overflows the scheduler first, so innermost loops whose unoptimized
# body has at least this many instructions ask for independent copies explicitly (on
# Zen 5: exp, tanh, log, sin 10-20% faster with 4; float64 log 4x, as LLVM's cost model
# had left it scalar)
HEAVY_LOOP_INSTRS = 28
HEAVY_LOOP_INTERLEAVE = 4
INTERLEAVE_MD = "jg.interleave"     # placeholder kind, made llvm.loop by module_text()


def module_text(module: ir.Module) -> str:
    """The module's IR text with every `!jg.interleave !{i32 N}` placeholder turned into
    the self-referential `!llvm.loop` node LLVM expects (llvmlite cannot build one)."""
    import re
    text = str(module)
    nums = [int(m) for m in re.findall(r"^!(\d+) = ", text, flags=re.MULTILINE)]
    counts = dict(re.findall(r"^!(\d+) = !\{ i32 (\d+) \}", text, flags=re.MULTILINE))
    nxt = max(nums, default=-1) + 1
    extra: list[str] = []

    def sub(m: re.Match) -> str:
        nonlocal nxt
        loop, hint = nxt, nxt + 1
        nxt += 2
        extra.append(f"!{loop} = distinct !{{!{loop}, !{hint}}}")
        extra.append(f'!{hint} = !{{!"llvm.loop.interleave.count", i32 {counts[m.group(1)]}}}')
        return f"!llvm.loop !{loop}"

    text = re.sub(r"!jg\.interleave !(\d+)", sub, text)
    return text + "\n" + "\n".join(extra) + "\n" if extra else text


def kd(t: TensorType) -> np.dtype:
    """The dtype of a type the lowering knows (typed graphs only)."""
    assert t.dtype is not None
    return t.dtype


def ks(t: TensorType) -> tuple[int, ...]:
    """The static shape of a type the lowering knows."""
    assert t.shape is not None
    return t.shape


def supported_dtype(dt: np.dtype | None) -> bool:
    return dt is not None and dt.kind in SUPPORTED_KINDS and dt.itemsize in (1, 2, 4, 8)


def mem_type(dt: np.dtype) -> ir.Type:
    if dt.kind == "f":
        return {2: HALF, 4: F32}.get(dt.itemsize, F64)
    return ir.IntType(8 * dt.itemsize)


def reg_type(dt: np.dtype) -> ir.Type:
    """The register type of a dtype: bool is i1; float16 is computed in float (load
    extends, store rounds), as NumPy's float16 loops do."""
    if dt.kind == "b":
        return I1
    return F32 if dt.kind == "f" and dt.itemsize == 2 else mem_type(dt)


def round_half(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """A float or double register rounded once to float16, held as float. A double is
    first narrowed with round-to-odd (exact for the second rounding: 24 >= 11 + 2 bits),
    since x86 lowers double -> half to a libcall that the JIT does not provide."""
    if v.type == F64:
        t = b.fptrunc(v, F32)
        back = b.fpext(t, F64)
        inexact = b.fcmp_ordered("!=", back, v)
        neg = b.fcmp_ordered("<", v, ir.Constant(F64, 0.0))
        away = b.select(neg, b.fcmp_ordered("<", back, v), b.fcmp_ordered(">", back, v))
        bits = b.bitcast(t, I32)
        bits = b.sub(bits, b.zext(b.and_(inexact, away), I32))   # toward zero ...
        bits = b.or_(bits, b.zext(inexact, I32))                   # ... then make it odd
        v = b.bitcast(bits, F32)
    return b.fpext(b.fptrunc(v, HALF), F32)


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    out, s = [], 1
    for d in reversed(shape):
        out.append(s)
        s *= max(int(d), 1)
    return tuple(reversed(out))


def size_of(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


class Arr:
    """An array value in native code: element pointer, static shape and element strides.
    `splat` (a register) replaces memory when every element is the same value. `base`
    names the buffers the pointer may point into (loop-carried aliasing checks)."""

    __slots__ = ("base", "dtype", "ptr", "shape", "splat", "strides")

    def __init__(self, dtype: np.dtype, shape: Sequence[int], strides: Sequence[int],
                 ptr: ir.Value | None = None, splat: ir.Value | None = None,
                 base: frozenset = frozenset()):
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(d) for d in shape)
        self.strides = tuple(int(s) for s in strides)
        self.ptr = ptr
        self.splat = splat
        self.base = base

    @staticmethod
    def contig(ptr: ir.Value, shape: Sequence[int], dtype: np.dtype,
               base: frozenset = frozenset()) -> Arr:
        return Arr(dtype, shape, contiguous_strides(shape), ptr=ptr, base=base)

    @staticmethod
    def scalar(v: ir.Value, dtype: np.dtype, shape: Sequence[int] = ()) -> Arr:
        return Arr(dtype, shape, (0,) * len(shape), splat=v)

    @property
    def size(self) -> int:
        return size_of(self.shape)

    def is_contig(self) -> bool:
        if self.splat is not None:
            return False
        if self.size == 0:
            return True
        want = contiguous_strides(self.shape)
        return all(d == 1 or s == w for d, s, w in zip(self.shape, self.strides, want))

    def view(self, shape: Sequence[int], strides: Sequence[int],
             ptr: ir.Value | None = None) -> Arr:
        return Arr(self.dtype, shape, strides, ptr if ptr is not None else self.ptr,
                   self.splat, self.base)

    def broadcast(self, shape: Sequence[int]) -> Arr:
        """View of this array broadcast to `shape` (NumPy rules, right-aligned)."""
        shape = tuple(shape)
        if shape == self.shape:
            return self
        lead = len(shape) - len(self.shape)
        assert lead >= 0, (self.shape, shape)
        strides = [0] * lead
        for d, (n, s) in enumerate(zip(self.shape, self.strides)):
            assert n == shape[lead + d] or n == 1, (self.shape, shape)
            strides.append(s if n == shape[lead + d] and n != 1 else 0)
        return self.view(shape, strides)

    def permute(self, axes: Sequence[int]) -> Arr:
        return self.view([self.shape[a] for a in axes], [self.strides[a] for a in axes])

    def reshape(self, shape: Sequence[int]) -> Arr | None:
        """A view with `shape` if one exists without copying: contiguous, splat, or
        contiguous after a prefix of dims both shapes share (row buffers, see llvm_rows)."""
        shape = tuple(shape)
        if self.splat is not None:
            return Arr.scalar(self.splat, self.dtype, shape)
        if self.is_contig():
            return self.view(shape, contiguous_strides(shape))
        p = 0
        while p < min(len(shape), len(self.shape)) and shape[p] == self.shape[p]:
            p += 1
        for q in range(p, 0, -1):
            rest = self.view(self.shape[q:], self.strides[q:])
            if rest.is_contig() and size_of(rest.shape) == size_of(shape[q:]):
                return self.view(shape, self.strides[:q] + contiguous_strides(shape[q:]))
        return None


@dataclass
class Red:
    """One reduction inside a kernel: `store` has the kernel's rank with size 1 along the
    reduced axes (keepdims form); its dtype is the accumulator dtype."""
    kind: str               # sum | prod | max | min | any | all
    store: Arr
    src: np.dtype           # dtype of the values compute() yields for it


@dataclass
class ParamABI:
    kind: str               # "array" | "weak"
    dtype: np.dtype
    shape: tuple[int, ...]


@dataclass
class EntryABI:
    fn_name: str
    params: list[ParamABI]
    outputs: list[TensorType]
    arena_size: int = ERR_INFO_BYTES
    symbols: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, what)


def storage_of(a: Arr | None) -> frozenset | None:
    """The buffers a's elements live in (its ("temp", id) / ("out", k) tags), or None
    when it has none (a splat) or lives where nothing may write (params, constants, or
    memory of unknown origin)."""
    if a is None or a.splat is not None or a.ptr is None:
        return None
    tags = frozenset(t for t in a.base if t[0] != "loop")
    if not tags or any(t[0] not in ("temp", "out") for t in tags):
        return None
    return tags


@dataclass
class _Scope:
    """The block being lowered (innermost last in Lowerer.scopes): its liveness, the index
    of the node being lowered, and the buffers made outside it that it may overwrite
    (a loop body: its carried buffers; a branch: what the `if` is the last reader of)."""
    block: Block
    live: BlockLiveness
    owns: frozenset
    i: int = 0


class LoweringError(Exception):
    """A graph this lowering cannot handle (check() should have said so)."""


def fast_call_ok(abi: EntryABI) -> bool:
    """Whether the graph gets the all-native entry (Lowerer._fast_wrapper): small outputs
    (weak ones only as Python float / int / bool) and an arena that fits on the stack."""
    return abi.arena_size <= FAST_CALL_MAX_ARENA and all(
        (kd(t).name in ("float64", "int64", "bool")) if t.weak
        else size_of(ks(t)) * kd(t).itemsize < FAST_CALL_MAX_OUTPUT for t in abi.outputs)


def graph_key(g: Graph) -> str:
    """Stable hash of a graph's text and its constants' bytes (the printer elides large
    arrays), used for symbol names and the disk cache."""
    h = hashlib.sha256(g.text(locations=False).encode())
    for n in g.walk():
        if n.op == "constant" and isinstance(n.attrs["value"], np.ndarray):
            h.update(np.ascontiguousarray(n.attrs["value"]).tobytes())
    return h.hexdigest()[:24]


class Lowerer:
    """Builds one module for one typed graph. Op rules (llvm_ops.py) call the helpers
    below: `b` (the IRBuilder), const/cast, kernel, temp/new_buffer, fail_if, loop."""

    def __init__(self, g: Graph, fn_name: str, blas_int: int | None = None,
                 threads: bool = True, vector_ldexp: bool = False):
        from . import llvm_ops  # noqa: F401  (attaches rules to OPS[...].llvm)
        self.g = g
        self.blas_int = blas_int      # width of the BLAS integer, None: no BLAS (own loops)
        self.module = ir.Module(name=g.name)
        self.abi = EntryABI(fn_name, [], [t.type for t in g.results])
        self.env: dict[Value, Arr] = {}
        self.out_claims: dict[Value, Arr] = {}
        self._buffers = 0
        self.mem = ArenaPlan(ERR_INFO_BYTES)   # arena ranges of the temporaries (reused)
        self._decls: dict[str, ir.Function] = {}
        # inside a kernel's fast pass: conditions under which an element needs the exact
        # (slow) code; None elsewhere, where rules emit the exact code directly
        self.guards: list[ir.Value] | None = None
        self.threads_ok = threads    # big loop nests may run on several threads
        # the target lowers llvm.ldexp on vectors to one instruction (llvm_math's exp)
        self.vector_ldexp = vector_ldexp
        # inside a row group (llvm_rows): the outer shape and the current outer indices;
        # kernels slice their operands there. row_dest / row_temps: where the group's
        # values are written (full arrays / one row buffer per thread)
        self.row: tuple[tuple[int, ...], list[ir.Value]] | None = None
        self.row_dest: dict[Value, Arr] = {}
        self.row_temps: dict[Value, Arr] = {}
        # blocks being lowered, innermost last, and what a nested block about to be
        # lowered may overwrite (id(block) -> storage tags; see writable)
        self.scopes: list[_Scope] = []
        self.block_owns: dict[int, frozenset] = {}

    # ---------------------------------------------------------------- entry function
    def _open_function(self, fn: ir.Function) -> None:
        """Start emitting into fn: an "allocas" block (the arena pointer and every stack
        slot, so LLVM promotes them) that falls into "start", where self.b writes; and the
        "exit" block, which every way out (success, failed argument check, run-time error)
        passes, where per-call resources such as tapes are released."""
        self.fn = fn
        allocas = fn.append_basic_block("allocas")
        start = fn.append_basic_block("start")
        self.ab = ir.IRBuilder(allocas)
        self.ab.branch(start)
        self.ab.position_at_start(allocas)
        self.b = ir.IRBuilder(start)
        self.exit_bb = fn.append_basic_block("exit")
        self.exit_code = ir.IRBuilder(self.exit_bb).phi(I32, "code")

    def lower(self) -> tuple[ir.Module, EntryABI]:
        g = self.g
        argtys: list[ir.Type] = []
        for p in g.params:
            t = p.type
            if t.weak:
                self.abi.params.append(ParamABI("weak", kd(t), ()))
                argtys.append({"f": F64, "i": I64, "u": I64, "b": I32}[kd(t).kind])
            else:
                self.abi.params.append(ParamABI("array", kd(t), ks(t)))
                argtys.append(PTR)
        argtys += [PTR] * len(g.results) + [PTR]
        fn = ir.Function(self.module, ir.FunctionType(I32, argtys), self.abi.fn_name)
        self._open_function(fn)
        self.cleanups: list[Callable[[ir.IRBuilder], None]] = []
        nparams = len(g.params)
        # the arena pointer and every temporary's address live in the first block, which
        # dominates all code (a temporary made inside a branch may be read after it)
        self.arena = fn.args[-1]
        self._check_and_bind_params(fn.args[:nparams])
        # outputs: the caller's fresh arrays; nodes that make a result write straight in
        outs = []
        for i, v in enumerate(g.results):
            o = Arr.contig(fn.args[nparams + i], ks(v.type), kd(v.type),
                           frozenset({("out", i)}))
            outs.append(o)
            if v not in self.out_claims and not v.type.weak:
                self.out_claims[v] = o
        results = self.lower_block(g.body)
        for o, r in zip(outs, results, strict=True):
            if not (r.ptr is o.ptr and r.splat is None and r.is_contig()):
                self.copy_into(o, r)
        self.leave(ir.Constant(I32, 0))
        xb = ir.IRBuilder(self.exit_bb)
        xb.position_at_end(self.exit_bb)
        for f in self.cleanups:
            f(xb)
        xb.ret(self.exit_code)
        self._py_wrapper(fn)
        if fast_call_ok(self.abi):
            self._fast_wrapper(fn)
        return self.module, self.abi

    def _moved_bytes(self) -> int:
        moved = self.abi.arena_size + sum(size_of(p.shape) * p.dtype.itemsize
                                          for p in self.abi.params if p.kind == "array")
        return moved + sum(size_of(ks(t)) * kd(t).itemsize for t in self.abi.outputs)

    def _weak_args(self, b: ir.IRBuilder, fn: ir.Function, objs: Sequence[ir.Value],
                   reject: Callable[[int], None]) -> list[ir.Value]:
        """The entry's param values from the argument objects: arrays as they are (the
        entry checks them), weak scalars read from exact float / int / bool objects;
        reject(k) ends the current block for a param k of any other type."""
        def unless(ok: ir.Value, k: int) -> None:
            bad = fn.append_basic_block(f"reject{k}")
            good = fn.append_basic_block(f"arg{k}")
            b.cbranch(ok, good, bad)
            b.position_at_end(bad)
            reject(k)
            b.position_at_end(good)

        vals: list[ir.Value] = []
        for k, (p, obj) in enumerate(zip(self.abi.params, objs)):
            if p.kind == "array":
                vals.append(obj)
                continue
            tp = self._field(obj, OFF_TYPE, PTR, b)
            if p.dtype.kind == "f":
                unless(b.icmp_unsigned("==", tp, self.extern_global(
                    "jg_PyFloat_Type", "pyapi", "float")), k)
                vals.append(self._field(obj, OFF_FLOAT_VAL, F64, b))
            elif p.dtype.kind == "b":
                true = b.icmp_unsigned("==", obj, self.extern_global("jg_Py_True", "pyapi",
                                                                     "True"))
                false = b.icmp_unsigned("==", obj, self.extern_global("jg_Py_False", "pyapi",
                                                                      "False"))
                unless(b.or_(true, false), k)
                vals.append(b.zext(true, I32))
            else:
                unless(b.icmp_unsigned("==", tp, self.extern_global(
                    "jg_PyLong_Type", "pyapi", "int")), k)
                v = b.call(self.declare("jg_PyLong_AsLongLong", I64, [PTR]), [obj])
                occurred = b.call(self.declare("jg_PyErr_Occurred", PTR, []), [])
                failed = b.and_(b.icmp_signed("==", v, ir.Constant(I64, -1)),
                                b.icmp_unsigned("!=", occurred, ir.Constant(PTR, None)))
                clear = fn.append_basic_block(f"overflow{k}")
                fine = fn.append_basic_block(f"int{k}")
                b.cbranch(failed, clear, fine)
                b.position_at_end(clear)              # out of int64: the caller raises
                b.call(self.declare("jg_PyErr_Clear", ir.VoidType(), []), [])
                reject(k)
                b.position_at_end(fine)
                vals.append(v)
        return vals

    def _call_entry(self, b: ir.IRBuilder, entry: ir.Function, vals: list[ir.Value],
                    hold: Sequence[ir.Value] = ()) -> ir.Value:
        """The entry call, with the GIL released when the call moves much data; the
        objects in `hold` (borrowed from a list another thread could change meanwhile)
        are kept alive across it."""
        if self._moved_bytes() <= PY_BIG_CALL_BYTES:
            return b.call(entry, vals)
        for o in hold:
            b.call(self.declare("jg_Py_IncRef", ir.VoidType(), [PTR]), [o])
        state = b.call(self.declare("jg_PyEval_SaveThread", PTR, []), [])
        rc = b.call(entry, vals)
        b.call(self.declare("jg_PyEval_RestoreThread", ir.VoidType(), [PTR]), [state])
        for o in hold:
            b.call(self.declare("jg_Py_DecRef", ir.VoidType(), [PTR]), [o])
        return rc

    def _fast_wrapper(self, entry: ir.Function) -> None:
        """PyObject *<entry>_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs):
        the whole compiled function as a METH_FASTCALL builtin, for graphs whose outputs
        and arena are small (fast_call_ok): one argument, the list or tuple of the call's
        arguments; outputs made by NumPy's PyArray_Empty, the arena on this stack, the
        results returned as a new list. Anything unusual (another type or length of
        sequence, a weak scalar of another type, an argument the entry rejects, a run-time
        error) is forwarded to `self`, the Python function doing the same through
        _py_wrapper, which converts the arguments or raises; the outputs made here are
        released first. llvm_jit makes the function object with self = that function."""
        fn = ir.Function(self.module, ir.FunctionType(PTR, [PTR, PTR, I64]),
                         f"{self.abi.fn_name}_call")
        selfobj, args, nargs = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        ab = ir.IRBuilder(fn.entry_basic_block)         # stack slots: in the entry block
        ab.position_at_start(fn.entry_basic_block)
        vcall = self.declare("jg_PyObject_Vectorcall", PTR, [PTR, PTR, I64, PTR])
        decref = self.declare("jg_Py_DecRef", ir.VoidType(), [PTR])
        made: list[ir.Value] = []            # objects made so far (released on the way out)

        def forward(_: int = 0) -> None:
            for o in made:
                b.call(decref, [o])
            b.ret(b.call(vcall, [selfobj, args, nargs, ir.Constant(PTR, None)]))

        def release_if_null(obj: ir.Value, name: str) -> None:
            """A C API call gave NULL (its exception is set): release what was made and
            return NULL, so that Python raises it."""
            bad = fn.append_basic_block(f"{name}.null")
            good = fn.append_basic_block(name)
            b.cbranch(b.icmp_unsigned("==", obj, ir.Constant(PTR, None)), bad, good)
            b.position_at_end(bad)
            for o in made:
                b.call(decref, [o])
            b.ret(ir.Constant(PTR, None))
            b.position_at_end(good)

        def branch_unless(ok: ir.Value, name: str) -> None:
            bad = fn.append_basic_block(f"{name}.no")
            good = fn.append_basic_block(name)
            b.cbranch(ok, good, bad)
            b.position_at_end(bad)
            forward()
            b.position_at_end(good)

        branch_unless(b.icmp_signed("==", nargs, ir.Constant(I64, 1)), "one")
        seq = b.load(args, typ=PTR)
        tp = self._field(seq, OFF_TYPE, PTR, b)
        is_list = b.icmp_unsigned("==", tp, self.extern_global("jg_PyList_Type", "pyapi",
                                                               "list"))
        is_tuple = b.icmp_unsigned("==", tp, self.extern_global("jg_PyTuple_Type", "pyapi",
                                                                "tuple"))
        branch_unless(b.or_(is_list, is_tuple), "seq")
        size = self._field(seq, OFF_VAR_SIZE, I64, b)
        nparams = len(self.abi.params)
        branch_unless(b.icmp_signed("==", size, ir.Constant(I64, nparams)), "arity")
        inline = b.gep(seq, [ir.Constant(I64, OFF_SEQ_ITEMS)], source_etype=I8)
        items = b.select(is_list, self._field(seq, OFF_SEQ_ITEMS, PTR, b), inline)
        objs = [b.load(b.gep(items, [ir.Constant(I64, k)], source_etype=PTR), typ=PTR)
                for k in range(nparams)]
        vals = self._weak_args(b, fn, objs, forward)
        # outputs: arrays from NumPy (PyArray_Empty steals a reference to the dtype), weak
        # ones in stack slots
        incref = self.declare("jg_Py_IncRef", ir.VoidType(), [PTR])
        empty = self.declare("jg_PyArray_Empty", PTR, [I32, PTR, PTR, I32])
        datas, results = [], []
        for j, t in enumerate(self.abi.outputs):
            if t.weak:
                slot = ab.alloca(I64)
                slot.type = PTR
                datas.append(slot)
                results.append(slot)
                continue
            descr = self.extern_global(f"jg_descr_{kd(t).name}", "descr", kd(t).name)
            shape = ks(t)
            dty = ir.ArrayType(I64, max(len(shape), 1))
            dims = ir.GlobalVariable(self.module, dty, f"{self.abi.fn_name}.dims{j}")
            dims.type = PTR
            dims.initializer = ir.Constant(dty, list(shape) or [0])
            dims.global_constant = True
            dims.linkage = "internal"
            b.call(incref, [descr])
            arr = b.call(empty, [ir.Constant(I32, len(shape)), dims, descr, ir.Constant(I32, 0)])
            release_if_null(arr, f"out{j}")
            made.append(arr)
            datas.append(self._data_ptr(arr, b))
            results.append(arr)
        arena = ab.alloca(ir.ArrayType(I8, self.abi.arena_size))
        arena.type = PTR
        arena.align = 64
        rc = self._call_entry(b, entry, vals + datas + [arena],
                              [o for p, o in zip(self.abi.params, objs) if p.kind == "array"])
        branch_unless(b.icmp_signed("==", rc, ir.Constant(I32, 0)), "ok")
        objs_out = []
        for t, r in zip(self.abi.outputs, results):
            if not t.weak:
                objs_out.append(r)
                continue
            k = kd(t).kind
            if k == "f":
                o = b.call(self.declare("jg_PyFloat_FromDouble", PTR, [F64]),
                           [b.load(r, typ=F64)])
            elif k == "b":
                o = b.call(self.declare("jg_PyBool_FromLong", PTR, [I64]),
                           [b.zext(b.load(r, typ=I8), I64)])
            else:
                o = b.call(self.declare("jg_PyLong_FromLongLong", PTR, [I64]),
                           [b.load(r, typ=I64)])
            release_if_null(o, "scalar")
            made.append(o)
            objs_out.append(o)
        lst = b.call(self.declare("jg_PyList_New", PTR, [I64]),
                     [ir.Constant(I64, len(objs_out))])
        release_if_null(lst, "list")
        if objs_out:                               # PyList_SET_ITEM: the list takes them
            slots = self._field(lst, OFF_SEQ_ITEMS, PTR, b)
            for j, o in enumerate(objs_out):
                b.store(o, b.gep(slots, [ir.Constant(I64, j)], source_etype=PTR))
        b.ret(lst)

    def _py_wrapper(self, entry: ir.Function) -> None:
        """PyObject *<entry>_py(PyObject *self, PyObject *const *args, Py_ssize_t nargs):
        the entry as a CPython METH_FASTCALL builtin (llvm_jit makes the function object
        with PyCFunction_NewEx), so a call costs what calling a builtin costs instead of
        ctypes' per-argument conversions (0.3 us for three). args: the params (arrays as
        objects; weak scalars as exact float / int / bool objects, any other type answers
        -(k+1) so that the caller converts it), the output arrays, the arena array (both
        made by llvm_jit's Python side). Returns the entry's code as an int. Calls moving
        more than PY_BIG_CALL_BYTES release the GIL around the entry (the worker pool
        never needs it)."""
        fn = ir.Function(self.module, ir.FunctionType(PTR, [PTR, PTR, I64]),
                         f"{self.abi.fn_name}_py")
        args, nargs = fn.args[1], fn.args[2]
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        py_long = self.declare("jg_PyLong_FromLong", PTR, [I64])

        def give(code: int | ir.Value) -> None:
            v = ir.Constant(I64, code) if isinstance(code, int) else b.sext(code, I64)
            b.ret(b.call(py_long, [v]))

        nparams = len(self.g.params)
        total = nparams + len(self.g.results) + 1
        ok = fn.append_basic_block("arity")
        bad = fn.append_basic_block("arity.no")
        b.cbranch(b.icmp_signed("==", nargs, ir.Constant(I64, total)), ok, bad)
        b.position_at_end(bad)
        give(-(nparams + 1))
        b.position_at_end(ok)
        objs = [b.load(b.gep(args, [ir.Constant(I64, i)], source_etype=PTR), typ=PTR)
                for i in range(total)]
        vals = self._weak_args(b, fn, objs[:nparams], lambda k: give(-(k + 1)))
        vals += [self._data_ptr(o, b) for o in objs[nparams:]]
        give(self._call_entry(b, entry, vals))

    def leave(self, code: ir.Value) -> None:
        """Branch to the exit block with a return code (the current block ends here)."""
        self.exit_code.add_incoming(code, self.b.block)
        self.b.branch(self.exit_bb)

    def _data_ptr(self, obj: ir.Value, b: ir.IRBuilder | None = None) -> ir.Value:
        return self._field(obj, OFF_DATA, PTR, b)

    def _field(self, obj: ir.Value, off: int, ty: ir.Type,
               b: ir.IRBuilder | None = None) -> ir.Value:
        b = b or self.b
        return b.load(b.gep(obj, [ir.Constant(I64, off)], source_etype=I8), typ=ty,
                      align=4 if ty == I32 else 8)

    def extern_global(self, name: str, kind: str, what: str) -> ir.GlobalVariable:
        """An address resolved at load time (llvm_jit adds the symbol): NumPy's type and
        dtype objects, so checks compare pointers and never cast them to integers."""
        if name not in self.module.globals:
            gv = ir.GlobalVariable(self.module, I8, name)
            gv.type = PTR
            self.abi.symbols[name] = (kind, what)
        return self.module.globals[name]

    def _check_and_bind_params(self, args: Sequence[ir.Value]) -> None:
        b = self.b
        nd_type = self.extern_global("jg_ndarray_type", "type", "ndarray")
        for k, (p, a) in enumerate(zip(self.g.params, args, strict=True)):
            t = p.type
            if t.weak:
                v = a if kd(t).kind != "b" else b.icmp_unsigned("!=", a, ir.Constant(I32, 0))
                self.env[p] = Arr.scalar(v, kd(t))
                continue
            descr = self.extern_global(f"jg_descr_{kd(t).name}", "descr", kd(t).name)
            ok = b.icmp_unsigned("==", self._field(a, OFF_TYPE, PTR), nd_type)
            ok = b.and_(ok, b.icmp_unsigned("==", self._field(a, OFF_DESCR, PTR), descr))
            ok = b.and_(ok, b.icmp_signed("==", self._field(a, OFF_ND, I32),
                                          ir.Constant(I32, len(ks(t)))))
            flags = self._field(a, OFF_FLAGS, I32)
            mask = ir.Constant(I32, NPY_C_CONTIG_ALIGNED)
            ok = b.and_(ok, b.icmp_unsigned("==", b.and_(flags, mask), mask))
            self._exit_unless(ok, ir.Constant(I32, -(k + 1)))
            if ks(t):
                dims = self._field(a, OFF_DIMS, PTR)
                ok = ir.Constant(I1, 1)
                for d, n in enumerate(ks(t)):
                    dv = b.load(b.gep(dims, [ir.Constant(I64, d)], source_etype=I64), typ=I64)
                    ok = b.and_(ok, b.icmp_signed("==", dv, ir.Constant(I64, n)))
                self._exit_unless(ok, ir.Constant(I32, -(k + 1)))
            arr = Arr.contig(self._data_ptr(a), ks(t), kd(t), frozenset({("param", k)}))
            if ks(t) == ():
                arr = Arr.scalar(self.load(arr, ir.Constant(I64, 0)), kd(t))
            self.env[p] = arr

    def _exit_unless(self, ok: ir.Value, code: ir.Value) -> None:
        b = self.b
        fail = self.fn.append_basic_block("fail")
        cont = self.fn.append_basic_block("ok")
        b.cbranch(ok, cont, fail)
        b.position_at_end(fail)
        self.leave(code)
        b.position_at_end(cont)

    def fail_if(self, bad: ir.Value, code: int | ir.Value,
                infos: Sequence[ir.Value] = ()) -> None:
        """Leave the entry function with error `code` when `bad` holds; `infos` (i64)
        are stored at the start of the arena for the Python side's message."""
        b = self.b
        fail = self.fn.append_basic_block("error")
        cont = self.fn.append_basic_block("cont")
        b.cbranch(bad, fail, cont)
        b.position_at_end(fail)
        for i, v in enumerate(infos):
            p = b.gep(self.arena, [ir.Constant(I64, i)], source_etype=I64)
            b.store(self.cast(v, _int_dtype(v), np.dtype(np.int64)), p)
        self.leave(code if isinstance(code, ir.Value) else ir.Constant(I32, code))
        b.position_at_end(cont)

    # ---------------------------------------------------------------- declarations
    def declare(self, name: str, ret: ir.Type, args: Sequence[ir.Type]) -> ir.Function:
        """An intrinsic (`llvm.*`) or external function, declared once per module."""
        f = self._decls.get(name)
        if f is None:
            f = ir.Function(self.module, ir.FunctionType(ret, list(args)), name)
            self._decls[name] = f
        return f

    def intrinsic(self, base: str, ty: ir.Type, nargs: int = 1) -> ir.Function:
        return self.declare(f"{base}.{_ty_suffix(ty)}", ty, [ty] * nargs)

    def call(self, f: ir.Function, args: Sequence[ir.Value]) -> ir.Value:
        return self.b.call(f, list(args))

    # ---------------------------------------------------------------- scalars
    def const(self, dt: np.dtype, value: Any) -> ir.Constant:
        dt = np.dtype(dt)
        ty = reg_type(dt)
        if dt.kind == "f":
            if dt.itemsize == 2:      # a float16 value, held as float
                with np.errstate(all="ignore"):
                    value = np.array(value).astype(dt)[()]
            return ir.Constant(ty, float(value))
        if dt.kind == "b":
            return ir.Constant(I1, int(bool(value)))
        v = int(value)
        bits = 8 * dt.itemsize
        v &= (1 << bits) - 1
        if v >= 1 << (bits - 1):
            v -= 1 << bits          # llvmlite wants the signed spelling
        return ir.Constant(ty, v)

    def cast(self, v: ir.Value, src: np.dtype, dst: np.dtype) -> ir.Value:
        """NumPy's astype for one register (C casts; float->int like x86's cvtt, so the
        out-of-range cases match NumPy on this machine and never produce poison)."""
        src, dst = np.dtype(src), np.dtype(dst)
        if src == dst:
            return v
        if isinstance(v, ir.Constant) and isinstance(v.constant, (int, float)):
            with np.errstate(all="ignore"):   # fold: constants stay readable in dumps
                x = np.array(v.constant).astype(src) if src.kind != "b" else \
                    np.array(bool(v.constant & 1) if isinstance(v.constant, int) else v.constant)
                return self.const(dst, x.astype(dst)[()])
        b = self.b
        sk, dk = src.kind, dst.kind
        if dk == "b":
            if sk == "f":
                return b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0))
            return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
        dty = reg_type(dst)
        if sk == "b":
            return b.uitofp(v, dty) if dk == "f" else b.zext(v, dty)
        if sk in "iu" and dk in "iu":
            if dst.itemsize < src.itemsize:
                return b.trunc(v, dty)
            if dst.itemsize > src.itemsize:
                return b.sext(v, dty) if sk == "i" else b.zext(v, dty)
            return v
        if sk in "iu" and dk == "f":
            r = b.sitofp(v, dty) if sk == "i" else b.uitofp(v, dty)
            # to float16 through float: exact below 2**24, and larger values overflow anyway
            return round_half(b, r) if dst.itemsize == 2 else r
        if sk == "f" and dk == "f":
            if dst.itemsize == 2:
                return round_half(b, v)
            if v.type == dty:         # float16 -> float32: its register is float already
                return v
            return b.fpext(v, dty) if dst.itemsize > src.itemsize else b.fptrunc(v, dty)
        # float -> int
        if dk == "u" and dst.itemsize == 8:   # what C compilers emit on x86-64
            big = ir.Constant(v.type, float(2 ** 63))
            hi = b.xor(self._cvtt(b.fsub(v, big), I64), ir.Constant(I64, -(2 ** 63)))
            return b.select(b.fcmp_ordered(">=", v, big), hi, self._cvtt(v, I64))
        wide = I32 if (dst.itemsize <= 2 or (dk == "i" and dst.itemsize == 4)) else I64
        r = self._cvtt(v, wide)
        if dst.itemsize * 8 < wide.width:
            return b.trunc(r, dty)
        return r

    def _cvtt(self, v: ir.Value, ty: ir.IntType) -> ir.Value:
        """x86's cvttsd2si: truncate toward zero; NaN or out of range gives INT_MIN.
        Written with a select, so no poison value ever reaches an index."""
        b = self.b
        bits = ty.width
        lo = ir.Constant(v.type, -float(2 ** (bits - 1)))
        hi = ir.Constant(v.type, float(2 ** (bits - 1)))
        inrange = b.and_(b.fcmp_ordered(">=", v, lo), b.fcmp_ordered("<", v, hi))
        sat = self.call(self.declare(f"llvm.fptosi.sat.i{bits}.{_ty_suffix(v.type)}", ty,
                                     [v.type]), [v])
        return b.select(inrange, sat, ir.Constant(ty, -(2 ** (bits - 1))))

    # ---------------------------------------------------------------- memory
    def alloca(self, ty: ir.Type, n: int = 1) -> ir.Value:
        p = self.ab.alloca(ty, size=ir.Constant(I64, n) if n != 1 else None)
        p.type = PTR  # opaque pointers only
        return p

    def temp(self, shape: Sequence[int], dtype: np.dtype) -> Arr:
        """A contiguous buffer in the arena (64-byte aligned offset): bytes no value
        still needs, reused, or fresh ones (llvm_memplan). It stays until a node boundary
        of the block being lowered finds no later reader of a value whose `base` names
        it, so a node's scratch buffers and output never overlap what it reads."""
        dtype = np.dtype(dtype)
        nbytes = size_of(shape) * dtype.itemsize
        self._buffers += 1
        off = self.mem.alloc(self._buffers, nbytes)
        self.abi.arena_size = max(self.abi.arena_size, self.mem.size)
        ptr = self.ab.gep(self.arena, [ir.Constant(I64, off)], source_etype=I8)
        return Arr.contig(ptr, shape, dtype, frozenset({("temp", self._buffers)}))

    def new_buffer(self, v: Value) -> Arr:
        """Where node output v is written: the caller's output array if v is a graph
        result not yet claimed, else a temporary."""
        r = self.row_dest.get(v) or self.row_temps.get(v)
        if r is not None:
            return r
        o = self.out_claims.pop(v, None)
        if o is not None:
            return o
        return self.temp(ks(v.type), kd(v.type))

    def elem_ptr(self, a: Arr, off: ir.Value) -> ir.Value:
        return self.b.gep(a.ptr, [off], inbounds=True, source_etype=mem_type(a.dtype))

    def load(self, a: Arr, off: ir.Value) -> ir.Value:
        if a.splat is not None:
            return a.splat
        v = self.b.load(self.elem_ptr(a, off), typ=mem_type(a.dtype), align=a.dtype.itemsize)
        if a.dtype.kind == "b":
            return self.b.icmp_unsigned("!=", v, ir.Constant(I8, 0))
        if v.type == HALF:
            return self.b.fpext(v, F32)
        return v

    def store(self, a: Arr, off: ir.Value, v: ir.Value) -> None:
        assert a.splat is None
        if a.dtype.kind == "b":
            v = self.b.zext(v, I8)
        elif a.dtype.kind == "f" and a.dtype.itemsize == 2:
            v = self.b.fptrunc(v if v.type == F32 else round_half(self.b, v), HALF)
        self.b.store(v, self.elem_ptr(a, off), align=a.dtype.itemsize)

    def scalar_of(self, a: Arr) -> ir.Value:
        """The single element of a size-1 value."""
        return self.load(a, ir.Constant(I64, 0))

    def materialize(self, a: Arr, dtype: np.dtype | None = None) -> Arr:
        """A contiguous buffer holding a (cast to dtype)."""
        dtype = a.dtype if dtype is None else np.dtype(dtype)
        if a.is_contig() and dtype == a.dtype:
            return a
        t = self.temp(a.shape, dtype)
        self.copy_into(t, a)
        return t

    def copy_into(self, dst: Arr, src: Arr) -> None:
        """dst[...] = src (broadcast and cast), as one loop nest."""
        if dst.shape == () or dst.size == 1 and src.size == 1:
            v = self.cast(self.load(src, ir.Constant(I64, 0)) if src.splat is None
                          else src.splat, src.dtype, dst.dtype)
            if dst.splat is None:
                self.store(dst, ir.Constant(I64, 0), v)
            return
        sd = src.dtype
        self.kernel(dst.shape, [src.broadcast(dst.shape)],
                    lambda vals: [self.cast(vals[0], sd, dst.dtype)], [dst])

    def fill(self, dst: Arr, v: ir.Value) -> None:
        self.kernel(dst.shape, [Arr.scalar(v, dst.dtype, dst.shape)], lambda vals: vals, [dst])

    # ---------------------------------------------------------------- loops
    @contextmanager
    def loop(self, n: int | ir.Value, name: str = "i", start: ir.Value | None = None,
             end: ir.Value | None = None) -> Iterator[ir.Value]:
        """for i in range(n), n > 0 (static), or range(start, end) with start < end.
        Rotated (do-while) form: what LLVM's vectorizer expects. An innermost loop with
        a long body asks for interleaving (see HEAVY_LOOP_INSTRS)."""
        b = self.b
        nv = end if end is not None else (n if isinstance(n, ir.Value) else ir.Constant(I64, n))
        pre = b.block
        body = self.fn.append_basic_block("loop")
        b.branch(body)
        b.position_at_end(body)
        i = b.phi(I64, name)
        i.add_incoming(start if start is not None else ir.Constant(I64, 0), pre)
        self._loops_made = getattr(self, "_loops_made", 0) + 1
        made = self._loops_made
        yield i
        nxt = b.add(i, ir.Constant(I64, 1), flags=("nuw", "nsw"))
        i.add_incoming(nxt, b.block)
        end = self.fn.append_basic_block("endloop")
        br = b.cbranch(b.icmp_signed("<", nxt, nv), body, end)
        if self._loops_made == made:          # innermost: no loop was made inside
            blocks = self.fn.blocks[self.fn.blocks.index(body):]
            if sum(len(bb.instructions) for bb in blocks) >= HEAVY_LOOP_INSTRS:
                br.set_metadata(INTERLEAVE_MD, self.module.add_metadata(
                    [ir.Constant(I32, HEAVY_LOOP_INTERLEAVE)]))
        b.position_at_end(end)

    def kernel(self, shape: Sequence[int], ins: Sequence[Arr],
               compute: Callable[[list[ir.Value]], list[ir.Value]],
               outs: Sequence[Arr], reds: Sequence[Red] = (),
               addrs: Sequence[Arr] = ()) -> None:
        """One loop nest over `shape`: load every input (broadcast to `shape`; for each of
        `addrs` pass its element offset instead), call compute(values) -> one register
        per output and then per reduction, store
        outputs, fold reductions into their accumulators (filled with the identity
        first). Dims merge where every operand allows, so contiguous operands give one
        flat loop; when the innermost dim is reduced, it accumulates in registers."""
        shape = tuple(shape)
        row = self.row
        if row is not None:        # inside a row group: this row's part of every operand
            k = len(row[0])
            assert shape[:k] == row[0], (shape, row[0])
            ins = [self._row_slice(a, shape) for a in ins]
            outs = [self._row_slice(a, shape) for a in outs]
            addrs = [self._row_slice(a, shape) for a in addrs]
            reds = [Red(r.kind, self._row_slice(r.store, r.store.shape), r.src) for r in reds]
            shape = shape[k:]
            self.row = None
        try:
            self._kernel(shape, ins, compute, outs, reds, addrs)
        finally:
            self.row = row

    def _row_slice(self, a: Arr, shape: tuple[int, ...]) -> Arr:
        assert self.row is not None
        outer, idx = self.row
        v = a.broadcast(shape)
        ptr = v.ptr
        if v.splat is None:
            off: ir.Value | None = None
            for i, st in zip(idx, v.strides[:len(outer)]):
                if st:
                    t = self.b.mul(i, ir.Constant(I64, st))
                    off = t if off is None else self.b.add(off, t)
            if off is not None:
                ptr = self.elem_ptr(v, off)
        return Arr(v.dtype, shape[len(outer):], v.strides[len(outer):], ptr, v.splat, v.base)

    def _kernel(self, shape: tuple[int, ...], ins: Sequence[Arr],
                compute: Callable[[list[ir.Value]], list[ir.Value]], outs: Sequence[Arr],
                reds: Sequence[Red], addrs: Sequence[Arr]) -> None:
        saved = self.guards
        self.guards = []
        flag = self.alloca(I1)
        self.b.store(ir.Constant(I1, 0), flag)
        guarded = self._nest(shape, ins, compute, outs, reds, addrs, flag)
        self.guards = None
        if guarded:
            # some element needs the exact code path (e.g. sin of a huge argument): run
            # the whole nest again, every element through it; outputs and accumulators
            # are simply rewritten, since no kernel reads what it writes
            exact = self.fn.append_basic_block("exact")
            done = self.fn.append_basic_block("exact.done")
            self.b.cbranch(self.b.load(flag, typ=I1), exact, done)
            self.b.position_at_end(exact)
            self._nest(shape, ins, compute, outs, reds, addrs, None)
            self.b.branch(done)
            self.b.position_at_end(done)
        self.guards = saved

    def _nest(self, shape: tuple[int, ...], ins: Sequence[Arr],
              compute: Callable[[list[ir.Value]], list[ir.Value]], outs: Sequence[Arr],
              reds: Sequence[Red], addrs: Sequence[Arr], flag: ir.Value | None) -> bool:
        """Emit the loop nest once; True if some element recorded a guard (the caller
        then emits the exact rerun). A big nest whose outermost dim is not reduced runs
        on several threads: its loops move into an outlined function over a range of
        that dim (see _outline), called through jg_parallel_for."""
        for r in reds:
            self.fill(r.store, _identity(self, r.kind, r.store.dtype))
        if size_of(shape) == 0:
            return False
        ins = list(ins) + list(addrs)
        views = [a.broadcast(shape) for a in ins] + [o.broadcast(shape) for o in outs] \
            + [r.store.broadcast(shape) for r in reds]
        cshape, cstrides = _collapse(shape, [v.strides for v in views])
        ops = [v.view(cshape, s) for v, s in zip(views, cstrides, strict=True)]
        sizes = (len(ins), len(outs), len(ins) - len(addrs))
        par = (self.threads_ok and not addrs and len(cshape) > 0 and cshape[0] > 1
               and size_of(cshape) >= PARALLEL_MIN_ELEMENTS
               and all(v.strides[0] != 0 for v in ops[sizes[0] + sizes[1]:]))
        if not par:
            return self._loops(cshape, ops, sizes, compute, reds, flag, None)
        return self._outline(cshape, ops, sizes, compute, reds, flag)

    def _loops(self, cshape: tuple[int, ...], ops: list[Arr], sizes: tuple[int, int, int],
               compute: Callable[[list[ir.Value]], list[ir.Value]], reds: Sequence[Red],
               flag: ir.Value | None, dim0: tuple[ir.Value, ir.Value] | None) -> bool:
        """The loop nest itself; dim0 = (start, end) restricts the outermost loop."""
        nin, nout, nload = sizes
        guarded: list[bool] = []
        nd = len(cshape)
        red_views = ops[nin + nout:]
        reg_mode = bool(reds) and nd > 0 and all(v.strides[-1] == 0 for v in red_views)
        slots = [self.alloca(reg_type(r.store.dtype)) for r in reds] if reg_mode else []
        # float max/min accumulated in registers: plain maxnum/minnum (one instruction,
        # vectorizes as a reduction) plus an "any NaN" flag, applied once the inner loop
        # is done. maxnum is `nnan`: after a NaN its value is poison, but then the flag
        # selects NaN instead (the exact llvm.maximum costs six instructions per vector)
        nan_slots = [self.alloca(I1) if reg_mode and r.kind in ("max", "min")
                     and r.store.dtype.kind == "f" else None for r in reds]
        b = self.b

        hoisted: dict[int, ir.Value] = {}

        def body(offs: list[ir.Value]) -> None:
            vals = [hoisted[k] if k in hoisted else self.load(a, o)
                    for k, (a, o) in enumerate(zip(ops[:nload], offs[:nload]))]
            vals += offs[nload:nin]           # addrs: the element offset, not the element
            if flag is not None:
                self.guards = []
            res = compute(vals)
            if flag is not None and self.guards:
                g = self.guards[0]
                for x in self.guards[1:]:
                    g = b.or_(g, x)
                b.store(b.or_(b.load(flag, typ=I1), g), flag)
                guarded.append(True)
            self.guards = None
            for a, o, v in zip(ops[nin:nin + nout], offs[nin:nin + nout], res[:nout]):
                self.store(a, o, v)
            for k, (r, a, o, v) in enumerate(zip(reds, red_views, offs[nin + nout:],
                                                 res[nout:])):
                v = self.cast(v, r.src, r.store.dtype)
                if nan_slots[k] is not None:
                    ty = reg_type(r.store.dtype)
                    f = self.intrinsic("llvm.maxnum" if r.kind == "max" else "llvm.minnum", ty, 2)
                    b.store(b.call(f, [b.load(slots[k], typ=ty), v], fastmath=("nnan", "nsz")),
                            slots[k])
                    b.store(b.or_(b.load(nan_slots[k], typ=I1), b.fcmp_unordered("uno", v, v)),
                            nan_slots[k])
                elif reg_mode:
                    b.store(_combine(self, r.kind, r.store.dtype, b.load(slots[k],
                            typ=reg_type(r.store.dtype)), v), slots[k])
                else:
                    self.store(a, o, _combine(self, r.kind, r.store.dtype, self.load(a, o), v))

        def rec(d: int, offs: list[ir.Value]) -> None:
            if d == nd:
                body(offs)
                return
            inner = reg_mode and d == nd - 1
            if d == nd - 1:
                # inputs that do not move along the innermost dim are read once, before
                # it (LLVM cannot hoist them: it cannot prove the stores do not alias)
                hoisted.clear()
                for k, a in enumerate(ops[:nload]):
                    if a.strides[d] == 0 and a.splat is None:
                        hoisted[k] = self.load(a, offs[k])
            if inner:
                for r, s, ns in zip(reds, slots, nan_slots):
                    b.store(_identity(self, r.kind, r.store.dtype), s)
                    if ns is not None:
                        b.store(ir.Constant(I1, 0), ns)
            rng = dim0 if (d == 0 and dim0 is not None) else None
            with self.loop(cshape[d], start=rng[0] if rng else None,
                           end=rng[1] if rng else None) as i:
                rec(d + 1, [o if a.strides[d] == 0 else
                            b.add(o, b.mul(i, ir.Constant(I64, a.strides[d])))
                            for a, o in zip(ops, offs)])
            if inner:
                for r, a, o, s, ns in zip(reds, red_views, offs[nin + nout:], slots, nan_slots):
                    acc = b.load(s, typ=reg_type(r.store.dtype))
                    if ns is not None:
                        acc = b.select(b.load(ns, typ=I1), ir.Constant(acc.type, float("nan")),
                                       acc)
                    self.store(a, o, _combine(self, r.kind, r.store.dtype, self.load(a, o), acc))

        rec(0, [ir.Constant(I64, 0)] * len(ops))
        return bool(guarded)

    def _outline(self, cshape: tuple[int, ...], ops: list[Arr], sizes: tuple[int, int, int],
                 compute: Callable[[list[ir.Value]], list[ir.Value]], reds: Sequence[Red],
                 flag: ir.Value | None) -> bool:
        """The nest on threads: its loops over a range of the outermost dim (see
        outlined); compute closures only read the values the nest loads."""
        guarded: list[bool] = []

        def body(imp: Callable[[Any], Any], lo: ir.Value, hi: ir.Value) -> None:
            nops = [Arr(a.dtype, a.shape, a.strides, imp(a.ptr), imp(a.splat), a.base)
                    for a in ops]
            guarded.append(self._loops(cshape, nops, sizes, compute, reds,
                                       imp(flag) if flag is not None else None, (lo, hi)))

        values = [flag] if flag is not None else []
        self.outlined(cshape[0], values + [v for a in ops for v in (a.ptr, a.splat)], body)
        return guarded[0]

    def outlined(self, n: int, values: Sequence[Any],
                 body: Callable[[Callable[[Any], Any], ir.Value, ir.Value], None]) -> None:
        """Emit body(imp, lo, hi) into `i32 fn(ptr ctx, i64 lo, i64 hi)` and run it over
        [0, n) on jg_num_threads threads (jg_parallel_for). The registers of this function
        that body reads (`values`, and the arena) travel through ctx, one 8-byte slot each;
        imp(v) is v's copy inside fn. Errors inside return their code, which is raised
        here once the threads joined."""
        from .llvm_parallel import parallel_for
        imports: list[ir.Value] = [self.arena]
        for v in values:
            if isinstance(v, ir.Value) and not isinstance(v, (ir.Constant, ir.GlobalValue)) \
                    and not any(v is w for w in imports):
                imports.append(v)
        ctx = self.alloca(I64, len(imports))
        for k, v in enumerate(imports):
            self.b.store(v, self.b.gep(ctx, [ir.Constant(I64, k)], source_etype=I64))
        self._nfuncs = getattr(self, "_nfuncs", 0) + 1
        fn = ir.Function(self.module, ir.FunctionType(I32, [PTR, I64, I64]),
                         f"{self.abi.fn_name}.par{self._nfuncs}")
        fn.linkage = "internal"
        # kept out of line: inlined into the caller's chunk-0 call, its loops would
        # compete for registers with the thread-spawning code around it
        fn.attributes.add("noinline")
        saved = (self.fn, self.b, self.ab, self.arena, self.exit_bb, self.exit_code,
                 self.threads_ok)
        self._open_function(fn)
        self.threads_ok = False
        got = [self.ab.load(self.ab.gep(fn.args[0], [ir.Constant(I64, k)], source_etype=I64),
                            typ=v.type) for k, v in enumerate(imports)]

        def imp(v: Any) -> Any:
            for w, g in zip(imports, got):
                if v is w:
                    return g
            return v

        self.arena = got[0]
        try:
            body(imp, fn.args[1], fn.args[2])
            self.leave(ir.Constant(I32, 0))
            ir.IRBuilder(self.exit_bb).ret(self.exit_code)
        finally:
            (self.fn, self.b, self.ab, self.arena, self.exit_bb, self.exit_code,
             self.threads_ok) = saved
        rc = parallel_for(self, fn, ctx, n)
        self.fail_if(self.b.icmp_signed("!=", rc, ir.Constant(I32, 0)), rc, ())

    # ---------------------------------------------------------------- graph walking
    def lower_block(self, block: Block) -> list[Arr]:
        from .llvm_rows import find_group, lower_group
        nodes, i = block.nodes, 0
        live = BlockLiveness(self, block)   # gives dead temporaries back between nodes
        scope = _Scope(block, live, self.block_owns.pop(id(block), frozenset()))
        self.scopes.append(scope)
        try:
            while i < len(nodes):
                scope.i = i
                grp = find_group(nodes, i) if self.row is None else None
                if grp is not None:
                    j, outer = grp
                    lower_group(self, block, nodes[i:j], nodes[j:], outer)
                    live.advance(self, i, j)
                    i = j
                    continue
                n = nodes[i]
                outs = self.lower_node(n)
                for v, a in zip(n.outputs, outs, strict=True):
                    if a.shape == () and a.splat is None:
                        a = Arr.scalar(self.scalar_of(a), a.dtype)   # 0-d values: registers
                    self.env[v] = a
                live.advance(self, i, i + 1)
                i += 1
        finally:
            self.scopes.pop()
        return [self.env[v] for v in block.results]

    def writable(self, n: Node, v: Value) -> frozenset | None:
        """The buffers of input v of node n (being lowered) if n may overwrite them, else
        None. They may be when
        - they belong to the block being lowered: temporaries made while lowering it
          (which values of enclosing blocks never see), or buffers an enclosing node
          handed it (a loop's carried buffers to its body; to an `if`'s branches, what
          the `if` itself may overwrite, since only one branch runs);
        - no value that a later node of the block reads (or its nested blocks read, or
          the block yields) holds any of them; n's other inputs may (the caller stages
          those first); and
        - v is not a broadcast view (a stride 0 along a dim of several elements).
        Params, constants and memory of unknown origin are never writable."""
        if not INPLACE or not self.scopes or self.row is not None:
            return None
        sc = self.scopes[-1]
        if sc.i >= len(sc.block.nodes) or sc.block.nodes[sc.i] is not n:
            return None
        a = self.env.get(v)
        S = storage_of(a)
        if S is None:
            return None
        assert a is not None
        if any(d > 1 and s == 0 for d, s in zip(a.shape, a.strides)):
            return None
        mark = sc.live.mark
        if not all((t[0] == "temp" and t[1] > mark) or t in sc.owns for t in S):
            return None
        for w, at in sc.live.last.items():
            if at > sc.i:
                wa = self.env.get(w)
                if wa is not None and wa.base & S:
                    return None
        return S

    def lower_node(self, n: Node) -> list[Arr]:
        if n.op == "constant":
            return [self.constant(n.attrs["value"], n.out.type)]
        if n.op == "if":
            return self.lower_if(n)
        if n.op == "loop":
            return self.lower_loop(n)
        if n.op == "fused":
            return self.lower_fused(n)
        rule = OPS[n.op].llvm
        if rule is None:
            raise LoweringError(f"no llvm lowering for {n.op}")
        return rule.emit(self, n, [self.env[v] for v in n.inputs])

    def constant(self, value: Any, t: TensorType) -> Arr:
        arr = np.asarray(value, dtype=kd(t))
        if arr.shape != ks(t):
            arr = np.broadcast_to(arr, ks(t))
        flat = np.ascontiguousarray(arr).reshape(-1)
        bits = flat.view(f"u{flat.dtype.itemsize}")
        if flat.size == 0 or bool(np.all(bits == bits[0])):   # bitwise: NaN and -0.0 too
            v = self.const(kd(t), flat[0] if flat.size else 0)
            return Arr.scalar(v, kd(t), ks(t))
        data = np.ascontiguousarray(arr).tobytes()
        aty = ir.ArrayType(I8, len(data))
        gv = ir.GlobalVariable(self.module, aty, f"const{len(self.module.globals)}")
        gv.type = PTR
        gv.initializer = ir.Constant(aty, bytearray(data))
        gv.global_constant = True
        gv.linkage = "internal"
        gv.align = 64
        return Arr.contig(gv, ks(t), kd(t), frozenset({("const", gv.name)}))

    def elementwise(self, shape: Sequence[int], dtype: np.dtype, args: Sequence[Arr],
                    f: Callable[[list[ir.Value]], ir.Value], dest: Value | None) -> Arr:
        """An elementwise result: a register when every input is a splat, else a kernel
        writing a new buffer (the graph's output array when dest is a result)."""
        if all(a.splat is not None for a in args):
            return Arr.scalar(f([a.splat for a in args]), dtype, shape)
        out = self.new_buffer(dest) if dest is not None else self.temp(shape, dtype)
        self.kernel(shape, [a.broadcast(shape) for a in args], lambda vals: [f(vals)], [out])
        return out

    # ---------------------------------------------------------------- control flow
    def to_bool(self, a: Arr, t: TensorType) -> ir.Value:
        v = a.splat if a.splat is not None else self.scalar_of(a)
        return self.cast(v, kd(t), np.dtype(bool))

    def lower_if(self, n: Node) -> list[Arr]:
        b = self.b
        cond = self.to_bool(self.env[n.inputs[0]], n.inputs[0].type)
        # buffers this `if` is the last reader of: either branch may overwrite them
        owns = frozenset().union(*(self.writable(n, v) or frozenset()
                                   for v in dict.fromkeys(n.free_uses())))
        for blk in n.blocks:
            self.block_owns[id(blk)] = owns
        then_bb = self.fn.append_basic_block("then")
        else_bb = self.fn.append_basic_block("else")
        merge = self.fn.append_basic_block("endif")
        b.cbranch(cond, then_bb, else_bb)
        ends, results = [], []
        for bb, blk in ((then_bb, n.blocks[0]), (else_bb, n.blocks[1])):
            b.position_at_end(bb)
            results.append(self.lower_block(blk))
            ends.append(b.block)
        outs: list[Arr] = []
        plans: list[str] = []
        for j, v in enumerate(n.outputs):
            t = v.type
            rs = [r[j] for r in results]
            if ks(t) == ():
                plans.append("phi")
            elif all(r.splat is None and r.dtype == kd(t) and r.shape == ks(t)
                     and r.strides == rs[0].strides for r in rs):
                plans.append("ptr")     # both branches yield buffers of one layout
            else:
                plans.append("copy")
            outs.append(self.new_buffer(v) if plans[-1] == "copy" else None)  # type: ignore
        phis: list[list[ir.Value]] = [[], []]
        for k, end in enumerate(ends):
            b.position_at_end(end)
            for j, v in enumerate(n.outputs):
                r = results[k][j]
                if plans[j] == "phi":
                    x = r.splat if r.splat is not None else self.scalar_of(r)
                    phis[k].append(self.cast(x, r.dtype, kd(v.type)))
                elif plans[j] == "ptr":
                    phis[k].append(r.ptr)
                else:
                    self.copy_into(outs[j], r)
                    phis[k].append(None)
            ends[k] = b.block
            b.branch(merge)
        b.position_at_end(merge)
        final = []
        for j, v in enumerate(n.outputs):
            if plans[j] == "copy":
                final.append(outs[j])
                continue
            if plans[j] == "ptr" and phis[0][j] is phis[1][j]:
                # both branches yield the same buffer (e.g. each updated it in place):
                # keep its pointer, so a loop's latch sees its carried buffer come back
                r0, r1 = results[0][j], results[1][j]
                final.append(Arr(kd(v.type), ks(v.type), r0.strides, ptr=phis[0][j],
                                 base=r0.base | r1.base))
                continue
            phi = b.phi(reg_type(kd(v.type)) if plans[j] == "phi" else PTR)
            for k in range(2):
                phi.add_incoming(phis[k][j], ends[k])
            if plans[j] == "phi":
                final.append(Arr.scalar(phi, kd(v.type)))
            else:
                r0, r1 = results[0][j], results[1][j]
                final.append(Arr(kd(v.type), ks(v.type), r0.strides, ptr=phi,
                                 base=r0.base | r1.base))
        return final

    def lower_loop(self, n: Node) -> list[Arr]:
        """inputs [trip, cond0, *init]; body params [k, *carried], results
        [cond_next, *next]; runs while (trip < 0 or k < trip) and cond. 0-d carried
        values are phis; arrays live in one buffer each, updated at the latch (through a
        staging copy when a new value may read another carried buffer)."""
        b = self.b
        body = n.blocks[0]
        trip_t, cond_t = n.inputs[0].type, n.inputs[1].type
        trip_a = self.env[n.inputs[0]]
        trip = self.cast(trip_a.splat if trip_a.splat is not None else self.scalar_of(trip_a),
                         kd(trip_t), np.dtype(np.int64))
        cond0 = self.to_bool(self.env[n.inputs[1]], cond_t)
        carried: list[Arr | None] = []
        owns: set = set()
        uses = list(n.free_uses())
        for v, init in zip(n.outputs, n.inputs[2:], strict=True):
            if ks(v.type) == ():
                carried.append(None)
                continue
            a = self.env[init]
            S = self._donated(n, init, a, v, uses)
            if S is not None:       # init's buffer becomes the carried one: no copy
                buf = Arr.contig(a.ptr, ks(v.type), kd(v.type), a.base | {("loop", id(n))})
            else:
                buf = self.new_buffer(v)
                buf = Arr.contig(buf.ptr, buf.shape, buf.dtype, buf.base | {("loop", id(n))})
                self.copy_into(buf, a)
            carried.append(buf)
        for p, c, v in zip(body.params[1:], carried, n.outputs, strict=True):
            if c is not None and kd(p.type) == c.dtype:   # the body's param is c itself
                owns |= storage_of(c) or frozenset()
        self.block_owns[id(body)] = frozenset(owns)
        inits = []
        for v, init, c in zip(n.outputs, n.inputs[2:], carried):
            if c is None:
                a = self.env[init]
                x = a.splat if a.splat is not None else self.scalar_of(a)
                inits.append(self.cast(x, kd(init.type), kd(v.type)))
        pre = b.block
        header = self.fn.append_basic_block("loop.header")
        body_bb = self.fn.append_basic_block("loop.body")
        exit_bb = self.fn.append_basic_block("loop.exit")
        b.branch(header)
        b.position_at_end(header)
        k = b.phi(I64, "k")
        cond = b.phi(I1, "cond")
        k.add_incoming(ir.Constant(I64, 0), pre)
        cond.add_incoming(cond0, pre)
        sphis = []
        for x, v in zip(inits, [v for v, c in zip(n.outputs, carried) if c is None]):
            p = b.phi(reg_type(kd(v.type)))
            p.add_incoming(x, pre)
            sphis.append(p)
        more = b.or_(b.icmp_signed("<", trip, ir.Constant(I64, 0)),
                     b.icmp_signed("<", k, trip))
        b.cbranch(b.and_(cond, more), body_bb, exit_bb)
        b.position_at_end(body_bb)
        kp = body.params[0]
        self.env[kp] = Arr.scalar(self.cast(k, np.dtype(np.int64), kd(kp.type)), kd(kp.type))
        it = iter(sphis)
        for p, c, v in zip(body.params[1:], carried, n.outputs, strict=True):
            a = c if c is not None else Arr.scalar(next(it), kd(v.type))
            self.env[p] = self.convert(a, kd(p.type))
        res = self.lower_block(body)
        # read everything the next iteration needs before any carried buffer is written
        cnext = self.to_bool(res[0], body.results[0].type)
        tag = ("loop", id(n))
        nexts, copies = [], []
        for r, c, v in zip(res[1:], carried, n.outputs):
            if c is None:
                x = r.splat if r.splat is not None else self.scalar_of(r)
                nexts.append(self.cast(x, r.dtype, kd(v.type)))
            elif r.splat is None and r.ptr is c.ptr and r.strides == c.strides \
                    and r.dtype == c.dtype:
                continue                  # passed through unchanged
            elif tag in r.base:
                copies.append((c, self._fresh_copy(r)))
            else:
                copies.append((c, r))
        for c, r in copies:
            self.copy_into(c, r)
        latch = b.block
        k.add_incoming(b.add(k, ir.Constant(I64, 1)), latch)
        cond.add_incoming(cnext, latch)
        for p, x in zip(sphis, nexts):
            p.add_incoming(x, latch)
        b.branch(header)
        b.position_at_end(exit_bb)
        out, it = [], iter(sphis)
        for c, v in zip(carried, n.outputs):
            out.append(c if c is not None else Arr.scalar(next(it), kd(v.type)))
        return out

    def _donated(self, n: Node, init: Value, a: Arr, v: Value, uses: list[Value]
                 ) -> frozenset | None:
        """The buffers of a loop's init value when they can serve as its carried buffer
        as they are: init is writable at the loop (nothing reads it after the loop),
        nothing else the loop reads (its other inputs, what its body reads from outside)
        holds them, and the layout is the carried one. Not for a loop whose value is a
        graph result: that one's carried buffer is the caller's output array."""
        if v in self.out_claims or a.dtype != kd(v.type) or a.shape != ks(v.type) \
                or not a.is_contig():
            return None
        S = self.writable(n, init)
        if S is None:
            return None
        holders = [w for w in uses if (wa := self.env.get(w)) is not None and wa.base & S]
        return S if holders == [init] else None

    def convert(self, a: Arr, dtype: np.dtype) -> Arr:
        """a as dtype (a register cast for splats, else a converted copy)."""
        if a.dtype == dtype:
            return a
        if a.splat is not None:
            return Arr.scalar(self.cast(a.splat, a.dtype, dtype), dtype, a.shape)
        return self.materialize(a, dtype)

    def _fresh_copy(self, r: Arr) -> Arr:
        t = self.temp(r.shape, r.dtype)
        self.copy_into(t, r)
        return t

    # ---------------------------------------------------------------- fused groups
    def lower_fused(self, n: Node) -> list[Arr]:
        """A fusion group as one kernel: its elementwise body evaluated per element of
        the group's iteration space S, trailing reductions (all over the same axes of
        S) folded into accumulators. Bodies of other shapes lower node by node."""
        from .llvm_ops import fused_plan
        body = n.blocks[0]
        args = [self.env[v] for v in n.inputs]
        plan = fused_plan(body)
        if plan is None:
            for p, a in zip(body.params, args, strict=True):
                self.env[p] = a
            return self.lower_block(body)
        return plan.emit(self, n, args)


def _int_dtype(v: ir.Value) -> np.dtype:
    return np.dtype(f"int{v.type.width}") if v.type.width > 1 else np.dtype(bool)


def _ty_suffix(ty: ir.Type) -> str:
    if ty == F32:
        return "f32"
    if ty == F64:
        return "f64"
    return f"i{ty.width}"


def _collapse(shape: tuple[int, ...], strides: list[tuple[int, ...]]
              ) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Drop size-1 dims; merge dim d-1 into d when every operand's strides allow."""
    keep = [d for d, n in enumerate(shape) if n != 1]
    cs = [shape[d] for d in keep]
    st = [[s[d] for d in keep] for s in strides]
    i = len(cs) - 1
    while i > 0:
        if all(s[i - 1] == s[i] * cs[i] for s in st):
            cs[i - 1] *= cs[i]
            for s in st:
                s[i - 1] = s[i]
                del s[i]
            del cs[i]
        i -= 1
    return tuple(cs), [tuple(s) for s in st]


def _identity(lw: Lowerer, kind: str, dt: np.dtype) -> ir.Value:
    if kind == "sum":
        return lw.const(dt, 0)
    if kind == "prod":
        return lw.const(dt, 1)
    if kind in ("any", "all"):
        return lw.const(dt, kind == "all")
    big = kind == "min"
    if dt.kind == "f":
        return lw.const(dt, float("inf") if big else float("-inf"))
    if dt.kind == "b":
        return lw.const(dt, big)
    info = np.iinfo(dt)
    return lw.const(dt, info.max if big else info.min)


def _combine(lw: Lowerer, kind: str, dt: np.dtype, acc: ir.Value, v: ir.Value) -> ir.Value:
    b = lw.b
    if dt.kind == "b":
        return b.or_(acc, v) if kind in ("sum", "max", "any") else b.and_(acc, v)
    if kind in ("any", "all"):
        raise LoweringError("any/all accumulate in bool")
    if dt.kind == "f":
        if kind == "sum":
            return b.fadd(acc, v, flags=("reassoc", "nsz"))
        if kind == "prod":
            return b.fmul(acc, v, flags=("reassoc", "nsz"))
        f = lw.intrinsic("llvm.maximum" if kind == "max" else "llvm.minimum", acc.type, 2)
        return lw.call(f, [acc, v])
    if kind == "sum":
        return b.add(acc, v)
    if kind == "prod":
        return b.mul(acc, v)
    sign = "s" if dt.kind == "i" else "u"
    f = lw.intrinsic(f"llvm.{sign}{kind}", acc.type, 2)
    return lw.call(f, [acc, v])


def lower_graph(g: Graph, fn_name: str | None = None, blas_int: int | None = None,
                threads: bool = True, vector_ldexp: bool = False
                ) -> tuple[ir.Module, EntryABI]:
    """The pure entry point: typed graph -> (module, ABI). `blas_int` is the integer
    width of the BLAS that jg_sgemm/jg_dgemm will resolve to (None: no BLAS calls);
    `threads`: big loop nests may be split across threads (jg_num_threads at run time);
    `vector_ldexp`: the target has a vector ldexp instruction (AVX-512's vscalef)."""
    name = fn_name or f"jg_{_clean(g.name)}_{graph_key(g)}"
    return Lowerer(g, name, blas_int, threads, vector_ldexp).lower()


def _clean(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s)[:40] or "graph"
