"""The op table against NumPy: every op in OPS x dtypes x shapes (broadcasting, 0-d, size-1
and empty dims) x weak Python-scalar operands.

(a) `OpDef.infer(types, attrs)` gives exactly the dtype and shape that `OpDef.impl` gives on
    real arrays, `weak` only for all-weak elementwise results, and `JitTypeError` wherever
    NumPy refuses the inputs.
(b) a one-node typed graph run through every available backend equals `impl`: same dtype,
    shape and values (per-dtype tolerance for floats, exact for ints and bools, NaN and inf
    positions equal). The interpreter runs every case; native backends a covering subset
    (`native_subset`), since each case is one LLVM compilation.
A coverage table (printed with -s) shows which backends lower each op.

Cases are data: `Arg` describes one input, `Case` one call. Values come from a rng seeded by
the case id, so a failure reproduces alone (`pytest tests/test_ops.py -k 'add-f32'`)."""
from __future__ import annotations

import functools
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from jitgraph.errors import JitTypeError
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.ops import OPS
from jitgraph.types import TensorType, type_of_python

BOOL, I32, I64 = np.dtype(np.bool_), np.dtype(np.int32), np.dtype(np.int64)
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
DTYPES = (BOOL, I32, I64, F32, F64)          # every case family runs these
ALL_DTYPES = DTYPES + (F16,)                 # float16 only for a few shapes per op

# rtol = atol per float dtype: NumPy and a native backend may differ by a few ulps
# (SIMD exp/log, summation order), never more.
TOL = {F16: 1e-2, F32: 1e-5, F64: 1e-10}

BACKEND_NAMES = ("interp", "cpu")
WEAK_DTYPES = (BOOL, I64, F64)               # what a Python bool/int/float can hold


# ---------------------------------------------------------------------------------------
# Case description
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Arg:
    """One op input. `weak`: a Python scalar (bool/int/float by dtype kind). `role` keeps
    integer inputs out of value-dependent NumPy errors and undefined behaviour (division
    by zero, negative integer powers); float inputs stay unrestricted (nan is compared)."""
    dtype: np.dtype
    shape: tuple[int, ...] = ()
    weak: bool = False
    role: str = "any"            # "any" | "divisor" | "exponent" | "special"
    value: Any = None            # explicit value instead of a random one

    @property
    def type(self) -> TensorType:
        return TensorType(self.dtype, self.shape, self.weak)

    def __str__(self) -> str:
        return str(self.type) + ("" if self.role == "any" else f"({self.role})")


def A(dtype: np.dtype, *shape: int, role: str = "any") -> Arg:
    return Arg(np.dtype(dtype), tuple(shape), False, role)


def W(kind: str, role: str = "any") -> Arg:
    """A weak Python scalar: W("float") is `types.type_of_python(2.0)`."""
    dtype = {"bool": BOOL, "int": I64, "float": F64}[kind]
    return Arg(dtype, (), True, role)


def V(value: Any) -> Arg:
    """An input with an explicit value (Python scalar -> weak)."""
    t = type_of_python(value)
    assert t.dtype is not None and t.shape is not None
    return Arg(t.dtype, t.shape, t.weak, "any", value)


SPECIAL_F = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.5, 0.5, 2.5, 1e-3]


def make_value(arg: Arg, rng: np.random.Generator) -> Any:
    if arg.value is not None:
        return arg.value
    kind = arg.dtype.kind
    if arg.role == "special":
        v: Any = rng.permutation(np.array(SPECIAL_F))[: int(np.prod(arg.shape))]
        v = v.reshape(arg.shape)
    elif kind == "b":
        v = np.ones(arg.shape, bool) if arg.role == "divisor" else rng.random(arg.shape) < 0.5
    elif kind in "iu":
        if arg.role == "divisor":      # integer division by zero: NumPy warns, LLVM traps
            v = rng.integers(1, 5, arg.shape) * rng.choice([-1, 1], arg.shape)
        elif arg.role == "exponent":   # integers to negative powers: NumPy raises
            v = rng.integers(0, 4, arg.shape)
        else:
            v = rng.integers(-5, 6, arg.shape)
    else:
        v = rng.uniform(-3.0, 3.0, arg.shape)
    if arg.weak:
        return {"b": bool, "i": int, "f": float}[kind](np.asarray(v).item())
    return np.asarray(v, dtype=arg.dtype)


@dataclass
class Case:
    op: str
    args: tuple[Arg, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    values: list[Any] = field(default_factory=list)
    expected: Any = None         # impl's result
    error: BaseException | None = None   # what NumPy raised, if it refused

    @property
    def types(self) -> list[TensorType]:
        return [a.type for a in self.args]


def _fmt_attr(v: Any) -> str:
    if isinstance(v, Graph):
        return f"<{v.name}>"
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        return np.dtype(v).name
    if isinstance(v, tuple):
        return "(" + ",".join(_fmt_attr(e) for e in v) + ")"
    return str(v)


def _case_id(op: str, args: tuple[Arg, ...], attrs: dict[str, Any]) -> str:
    parts = [op, *(str(a) for a in args)]
    parts += [f"{k}={_fmt_attr(v)}" for k, v in sorted(attrs.items())]
    return "-".join(parts).replace(" ", "")


def _numpy_getitem(x: Any, *dyn: Any, index: tuple = ()) -> Any:
    """NumPy's own indexing, the oracle for getitem: the index entries as Python would
    write them, run-time values passed through untouched (so `x[1.0]` is refused)."""
    it = iter(dyn)
    key: list[Any] = []
    for e in index:
        if e[0] == "int":
            key.append(e[1])
        elif e[0] == "slice":
            key.append(slice(*e[1:]))
        elif e[0] == "none":
            key.append(None)
        elif e[0] == "ellipsis":
            key.append(Ellipsis)
        else:
            key.append(next(it))
    return np.asarray(x)[tuple(key)]


def _numpy_setitem(x: Any, v: Any, *dyn: Any, index: tuple = ()) -> Any:
    """NumPy's own item assignment on a copy, the oracle for setitem."""
    out = np.array(x, copy=True)
    it = iter(dyn)
    parts: list[Any] = []
    for e in index:
        parts.append({"int": lambda e=e: e[1], "slice": lambda e=e: slice(*e[1:]),
                      "none": lambda: None, "ellipsis": lambda: Ellipsis}.get(
                          e[0], lambda: next(it))())
    out[tuple(parts)] = v
    return out


def _tape_pop_stand_in(h: Any, shape: tuple = (), dtype: Any = None, weak: bool = False) -> Any:
    if weak:
        return {"b": bool, "i": int, "f": float}[np.dtype(dtype).kind](0)
    return np.zeros(shape, dtype)


# NOTE: the oracle is each op's impl, except where impl is laxer than NumPy itself, and for
# the tape ops, whose impl has side effects (a stack per handle): collecting cases must not
# leave stacks behind, so stand-ins of the right type answer for them. test_tape_round_trip
# checks what they do.
def _numpy_sort(f: Any) -> Any:
    """np.sort / np.argsort with NumPy's own checks of axis, kind and stable, giving what
    kind="stable" gives (the semantics jitgraph's sort ops declare)."""
    def oracle(x: Any, axis: Any = -1, kind: Any = None, stable: Any = None) -> Any:
        f(x, axis=axis, kind=kind, stable=stable)
        return f(x, axis=axis, kind="stable")
    return oracle


ORACLE: dict[str, Any] = {
    "sort": _numpy_sort(np.sort),
    "argsort": _numpy_sort(np.argsort),
    "getitem": _numpy_getitem,
    "setitem": _numpy_setitem,
    "tape_new": lambda: np.int64(1),
    "tape_push": lambda h, x: h,
    "tape_pop": _tape_pop_stand_in,
}
STATEFUL = {"tape_new", "tape_push", "tape_pop"}

# Ops that only generic graphs hold (specialization replaces them): impl refuses to run.
GENERIC_ONLY = {"dtype_of", "grad", "pycall"}


def _finish(op: str, args: tuple[Arg, ...], attrs: dict[str, Any]) -> Case:
    cid = _case_id(op, args, attrs)
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    values = [make_value(a, rng) for a in args]
    case = Case(op, args, attrs, cid, values)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.expected = ORACLE.get(op, OPS[op].impl)(*values, **attrs)
    except Exception as e:  # noqa: BLE001 - any refusal of the oracle: infer must refuse too
        case.error = e
    return case


# ---------------------------------------------------------------------------------------
# Case families
# ---------------------------------------------------------------------------------------

CaseSpec = tuple[str, tuple[Arg, ...], dict[str, Any]]


def _elementwise_names(nin: int) -> list[str]:
    return [n for n, o in OPS.items() if o.elementwise and o.nin == nin and n != "cast"]


def _role(op: str, i: int) -> str:
    if (op in ("div", "floordiv", "mod") and i == 1) or op == "reciprocal":
        return "divisor"
    if op == "pow" and i == 1:
        return "exponent"
    return "any"


UNARY_SHAPES = [(), (3,), (2, 3), (0, 2), (1, 3, 1)]


def unary_cases() -> Iterator[CaseSpec]:
    for name in _elementwise_names(1):
        for dt in DTYPES:
            for shape in UNARY_SHAPES:
                yield name, (A(dt, *shape, role=_role(name, 0)),), {}
        yield name, (A(F16, 2, 3),), {}
        for kind in ("bool", "int", "float"):
            yield name, (W(kind, role=_role(name, 0)),), {}
        for dt in (F32, F64):   # nan, +-inf, +-0, ties for rint
            yield name, (A(dt, 10, role="special"),), {}


BINARY_SHAPES = [((), ()), ((3,), ()), ((), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)),
                 ((0, 3), (1, 3)), ((2, 3), (4,))]          # the last does not broadcast
MIXED: list[tuple[np.dtype, np.dtype]] = [(I32, F32), (I64, F32), (BOOL, I32), (I32, I64), (F32, F64), (BOOL, F64), (F16, F32),
         (F32, I32)]


def binary_cases() -> Iterator[CaseSpec]:
    for name in _elementwise_names(2):
        yield from _binary_family(name)


def _binary_family(name: str) -> Iterator[CaseSpec]:
    def arr(dt: np.dtype, shape: tuple[int, ...], i: int) -> Arg:
        return A(dt, *shape, role=_role(name, i))

    def weak(kind: str, i: int) -> Arg:
        return W(kind, role=_role(name, i))

    for dt in DTYPES:
        for s1, s2 in BINARY_SHAPES:
            yield name, (arr(dt, s1, 0), arr(dt, s2, 1)), {}
    yield name, (arr(F16, (2, 3), 0), arr(F16, (3,), 1)), {}
    for d1, d2 in MIXED:
        yield name, (arr(d1, (2, 3), 0), arr(d2, (3,), 1)), {}
    # weak operands: NumPy 2 lets a Python scalar take the array's dtype
    weak_pairs = [
        (arr(F32, (2, 3), 0), weak("float", 1)), (weak("float", 0), arr(F32, (3,), 1)),
        (arr(I32, (2, 3), 0), weak("float", 1)), (arr(I32, (2, 3), 0), weak("int", 1)),
        (arr(F32, (), 0), weak("int", 1)), (arr(BOOL, (3,), 0), weak("int", 1)),
        (arr(I64, (3,), 0), weak("bool", 1)), (arr(F16, (3,), 0), weak("float", 1)),
        (weak("int", 0), arr(F64, (2, 1), 1)),
        (weak("int", 0), weak("int", 1)), (weak("float", 0), weak("float", 1)),
        (weak("int", 0), weak("float", 1)), (weak("bool", 0), weak("bool", 1)),
        (weak("bool", 0), weak("float", 1)),
    ]
    for pair in weak_pairs:
        yield name, pair, {}
    for dt in (F32, F64):
        yield name, (A(dt, 10, role="special"), A(dt, 10, role="special")), {}


def where_clip_cases() -> Iterator[CaseSpec]:
    yield "where", (A(BOOL, 2, 3), A(F32, 2, 3), A(F32, 3)), {}
    yield "where", (A(BOOL, 2, 1), A(I32, 3), A(F64, 2, 3)), {}
    yield "where", (A(BOOL, 3), W("float"), W("float")), {}
    yield "where", (A(BOOL, 3), A(F32, 3), W("float")), {}
    yield "where", (A(BOOL), W("int"), A(I64, 2)), {}
    yield "where", (A(BOOL, 0, 2), A(F64, 2), W("int")), {}
    yield "where", (W("bool"), W("float"), W("float")), {}
    yield "where", (W("bool"), W("int"), W("float")), {}
    yield "where", (A(I32, 2, 3), A(F32, 2, 3), A(F16, 2, 3)), {}     # int condition: truthiness
    yield "where", (A(F64, 4), A(BOOL, 4), A(I32, 4)), {}
    yield "where", (A(BOOL, 2, 3), A(F32, 4), A(F32, 3)), {}        # does not broadcast
    for dt in DTYPES + (F16,):
        yield "where", (A(BOOL, 2, 3), A(dt, 2, 3), A(dt, 1, 3)), {}
    yield "clip", (A(F64, 2, 3), V(-1.0), V(1.0)), {}
    yield "clip", (A(F32, 2, 3), V(-1.0), V(1.0)), {}
    yield "clip", (A(I32, 2, 3), V(-2), V(3)), {}
    yield "clip", (A(I64, 5), V(-1.5), V(1.5)), {}
    yield "clip", (A(F32, 5), A(F32, 5), A(F32)), {}
    yield "clip", (A(F64, 2, 3), A(F64, 3), A(F64, 2, 1)), {}
    yield "clip", (A(F16, 4), V(-1.0), V(2.0)), {}
    yield "clip", (A(BOOL, 4), V(False), V(True)), {}
    yield "clip", (A(F64), V(0.0), V(1.0)), {}
    yield "clip", (V(2.5), V(0.0), V(1.0)), {}
    yield "clip", (A(F64, 10, role="special"), V(-1.0), V(1.0)), {}
    yield "clip", (A(F64, 2, 3), A(F64, 4), V(1.0)), {}             # does not broadcast


CAST_DTYPES = (BOOL, I32, I64, F16, F32, F64)


def cast_cases() -> Iterator[CaseSpec]:
    for src in CAST_DTYPES:
        for dst in CAST_DTYPES:
            yield "cast", (A(src, 2, 3),), {"dtype": dst}
    yield "cast", (A(F32),), {"dtype": F64}
    yield "cast", (A(I32, 0, 3),), {"dtype": F32}
    yield "cast", (W("float"),), {"dtype": F32}
    yield "cast", (W("int"),), {"dtype": F64}
    yield "cast", (W("bool"),), {"dtype": I32}
    yield "cast", (A(F64, 2),), {"dtype": np.float32}           # a scalar type, as astype gets
    yield "cast", (A(I64, 2),), {"dtype": float}                 # astype(float)
    # float(x), int(x), bool(x): a weak (Python scalar) result
    yield "cast", (A(F32),), {"dtype": F64, "weak": True}
    yield "cast", (A(F64),), {"dtype": I64, "weak": True}
    yield "cast", (A(I32),), {"dtype": BOOL, "weak": True}
    yield "cast", (W("float"),), {"dtype": I64, "weak": True}
    yield "cast", (W("int"),), {"dtype": F64, "weak": True}


REDUCTIONS = ("sum", "prod", "mean", "max", "min", "any", "all", "var", "std")
AXES: list[Any] = [None, 0, -1, (0, 2), (), (-1, 0)]


def reduce_cases() -> Iterator[CaseSpec]:
    for name in REDUCTIONS:
        for dt in DTYPES:
            for axis in AXES:
                for keepdims in (False, True):
                    yield name, (A(dt, 2, 3, 4),), {"axis": axis, "keepdims": keepdims}
            yield name, (A(dt),), {"axis": None}
            yield name, (A(dt, 0, 3),), {"axis": 0}
            yield name, (A(dt, 0, 3),), {"axis": 1, "keepdims": True}
            yield name, (A(dt, 0, 3),), {"axis": None}
        yield name, (A(F16, 2, 3),), {"axis": 1}
        yield name, (W("float"),), {"axis": None}
        yield name, (W("int"),), {"axis": None}
        yield name, (A(F64, 2, 5, role="special"),), {"axis": 1}
        yield name, (A(F32, 2, 5, role="special"),), {"axis": None}
        yield name, (A(F64, 2, 3),), {"axis": 2}                 # out of bounds
        yield name, (A(F64, 2, 3),), {"axis": -3}                # out of bounds
        yield name, (A(F64, 2, 3),), {"axis": (1, 1)}            # repeated
        yield name, (A(F64, 3),), {"axis": 1}
    for name in ("sum", "mean", "max"):
        # NOTE: NumPy lets a reduction of a 0-d array name axis 0 or -1
        yield name, (A(F64),), {"axis": 0}
        yield name, (A(F32),), {"axis": -1, "keepdims": True}
    for name in ("sum", "prod", "mean", "var", "std"):
        yield name, (A(I32, 2, 3),), {"axis": 1, "dtype": F32}
        yield name, (A(F32, 2, 3),), {"axis": None, "dtype": F64}
        yield name, (A(BOOL, 2, 3),), {"axis": 0, "dtype": I32}
    for name in ("var", "std"):
        yield name, (A(F64, 3, 4),), {"axis": 1, "ddof": 1}
        yield name, (A(F32, 3, 4),), {"axis": None, "ddof": 1}


def arg_cases() -> Iterator[CaseSpec]:
    for name in ("argmax", "argmin"):
        for dt in DTYPES:
            for axis in (None, 0, 1, -1):
                for keepdims in (False, True):
                    yield name, (A(dt, 2, 3, 4),), {"axis": axis, "keepdims": keepdims}
            yield name, (A(dt),), {}
            yield name, (A(dt, 0, 3),), {}                       # empty: NumPy raises
            yield name, (A(dt, 0, 3),), {"axis": 1}              # fine: no empty lane
        yield name, (A(F16, 2, 3),), {"axis": 1}
        yield name, (A(BOOL, 5),), {}                            # ties: the first wins
        yield name, (A(F64, 2, 5, role="special"),), {"axis": 1}  # nan wins
        yield name, (A(F32, 10, role="special"),), {}
        yield name, (W("float"),), {}
        yield name, (A(F64, 2, 3),), {"axis": 2}
        yield name, (A(F64, 2, 3),), {"axis": (0, 1)}            # NumPy: TypeError


MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((2, 2, 3), (2, 3, 4)),
    ((2, 2, 3), (3, 4)), ((3,), (2, 3, 4)), ((1, 2, 3), (4, 3, 2)), ((0, 3), (3, 2)),
    ((2, 0), (0, 3)), ((1, 1), (1, 1)),
    ((2, 3), (4, 5)), ((), (3,)), ((3,), ()), ((2, 2, 3), (3, 3, 4)),    # NumPy refuses
]


def matmul_cases() -> Iterator[CaseSpec]:
    for dt in DTYPES:
        for s1, s2 in MATMUL_SHAPES:
            yield "matmul", (A(dt, *s1), A(dt, *s2)), {}
    yield "matmul", (A(F16, 2, 3), A(F16, 3, 2)), {}
    yield "matmul", (A(I32, 2, 3), A(F32, 3, 2)), {}
    yield "matmul", (A(F32, 2, 3), A(F64, 3)), {}
    yield "matmul", (A(BOOL, 4, 3), A(I64, 3, 2)), {}
    yield "matmul", (W("float"), A(F64, 3)), {}


def shape_cases() -> Iterator[CaseSpec]:
    for dt in (F64, I32, BOOL, F32):
        x = A(dt, 2, 3, 4)
        for axes in (None, (1, 0, 2), (-1, 0, 1), (2, 1, 0)):
            yield "transpose", (x,), {"axes": axes}
        yield "reshape", (x,), {"shape": (6, 4)}
        yield "reshape", (x,), {"shape": (-1,)}
        yield "reshape", (x,), {"shape": (4, -1)}
        yield "reshape", (x,), {"shape": (1, 2, 3, 4, 1)}
        yield "expand_dims", (x,), {"axis": 0}
        yield "expand_dims", (x,), {"axis": -1}
        yield "expand_dims", (x,), {"axis": (0, 2)}
        yield "squeeze", (A(dt, 1, 3, 1),), {}
        yield "squeeze", (A(dt, 1, 3, 1),), {"axis": 0}
        yield "squeeze", (A(dt, 1, 3, 1),), {"axis": (0, -1)}
        yield "broadcast_to", (A(dt, 3),), {"shape": (2, 3)}
        yield "broadcast_to", (A(dt, 2, 1),), {"shape": (4, 2, 3)}
        yield "sum_to_shape", (A(dt, 2, 3),), {"shape": (1, 3)}
        yield "sum_to_shape", (A(dt, 4, 2, 3),), {"shape": (2, 1)}
        yield "copy", (x,), {}
        yield "concatenate", (A(dt, 2, 3), A(dt, 1, 3)), {"axis": 0}
        yield "concatenate", (A(dt, 2, 3), A(dt, 2, 1), A(dt, 2, 2)), {"axis": -1}
        yield "concatenate", (A(dt, 2, 3), A(dt, 4)), {"axis": None}
        yield "stack", (A(dt, 2, 3), A(dt, 2, 3)), {"axis": 0}
        yield "stack", (A(dt, 3), A(dt, 3), A(dt, 3)), {"axis": -1}
    x = A(F64, 2, 3, 4)
    yield "transpose", (A(F64),), {}
    yield "transpose", (A(F64, 0, 3),), {}
    yield "transpose", (x,), {"axes": (0, 0, 1)}                # NumPy refuses
    yield "transpose", (x,), {"axes": (0, 1)}
    yield "reshape", (A(F64),), {"shape": (1, 1)}
    yield "reshape", (A(F64, 1, 1),), {"shape": ()}
    yield "reshape", (A(F64, 0, 3),), {"shape": (3, 0)}
    yield "reshape", (A(F64, 2, 3),), {"shape": 6}
    yield "reshape", (A(F64, 2, 3),), {"shape": (4,)}           # NumPy refuses
    yield "reshape", (A(F64, 2, 3),), {"shape": (-1, -1)}
    yield "expand_dims", (A(F64),), {"axis": 0}
    yield "expand_dims", (A(F64, 3),), {"axis": 3}             # NumPy refuses
    yield "squeeze", (A(F64, 1, 1),), {}
    yield "squeeze", (A(F64, 1, 3, 1),), {"axis": 1}           # NumPy refuses
    yield "broadcast_to", (A(F64),), {"shape": (2, 2)}
    yield "broadcast_to", (V(2.0),), {"shape": (3,)}
    yield "broadcast_to", (A(F64, 3),), {"shape": 3}
    yield "broadcast_to", (A(F64, 3),), {"shape": (3, 0)}      # NumPy refuses
    yield "broadcast_to", (A(F64, 2, 3),), {"shape": (3,)}     # NumPy refuses
    yield "sum_to_shape", (A(F64, 2, 3),), {"shape": ()}
    yield "sum_to_shape", (A(F32, 2, 3),), {"shape": (3,)}
    yield "sum_to_shape", (A(F64, 2, 3),), {"shape": (2, 3)}
    yield "sum_to_shape", (A(F64, 2, 3),), {"shape": (4,)}     # no broadcast relation
    yield "copy", (A(F64),), {}
    yield "concatenate", (A(F32, 2), A(F64, 3)), {"axis": 0}
    yield "concatenate", (A(I32, 2), A(BOOL, 3), A(F16, 1)), {"axis": 0}
    yield "concatenate", (A(F64, 0, 3), A(F64, 2, 3)), {"axis": 0}
    yield "concatenate", (A(F64, 3),), {"axis": 0}
    yield "concatenate", (A(F64, 2, 3), A(F64, 2, 4)), {"axis": 0}   # NumPy refuses
    yield "concatenate", (A(F64), A(F64)), {"axis": 0}               # 0-d refused
    yield "concatenate", (A(F64, 2), A(F64, 2, 2)), {"axis": 0}      # ranks differ
    yield "stack", (A(F64), A(F64)), {"axis": 0}
    yield "stack", (A(I32, 2), A(F32, 2)), {"axis": 1}
    yield "stack", (A(F64, 2), A(F64, 3)), {"axis": 0}               # NumPy refuses
    yield "stack", (A(F64, 2), A(F64, 2)), {"axis": 2}               # NumPy refuses


def _ix(*entries: tuple) -> dict[str, Any]:
    return {"index": tuple(entries)}


ALL = ("slice", None, None, None)


def getitem_cases() -> Iterator[CaseSpec]:
    for dt in (F64, I32, BOOL, F32):
        x = A(dt, 4, 5, 3)
        yield "getitem", (x,), _ix(("int", 1))
        yield "getitem", (x,), _ix(("int", -1), ("int", 2))
        yield "getitem", (x,), _ix(ALL, ("slice", 1, None, None))           # x[:, 1:]
        yield "getitem", (x,), _ix(("slice", None, None, -1))               # x[::-1]
        yield "getitem", (x, V(2)), _ix(("value",))                         # x[i]
        yield "getitem", (x, V(np.array([0, 3, 3]))), _ix(ALL, ("value",))  # x[:, idx]
    x = A(F64, 4, 5, 3)
    yield "getitem", (x,), _ix(("ellipsis",), ("int", 0))                   # x[..., 0]
    yield "getitem", (x,), _ix(("none",), ("slice", 1, 3, None))            # x[None, 1:3]
    yield "getitem", (x,), _ix(("slice", 3, 1, None))                       # empty
    yield "getitem", (x,), _ix(("slice", -2, None, None), ("slice", None, None, 2))
    yield "getitem", (x,), _ix(("slice", 1, None, None), ("ellipsis",), ("none",))
    yield "getitem", (x,), _ix(("int", 1), ("int", 2), ("int", 0))          # 0-d
    yield "getitem", (x,), _ix()                                           # x[()]
    yield "getitem", (x, V(-1)), _ix(("value",))                            # run-time negative
    yield "getitem", (x, V(np.int64(3)), V(1)), _ix(("value",), ALL, ("value",))
    yield "getitem", (x, V(np.int32(2))), _ix(ALL, ("value",))
    yield "getitem", (x, V(np.array([0, 2])), V(np.array([[1], [4]]))), _ix(("value",), ("value",))
    yield "getitem", (x, V(np.array([[1, 0], [3, 3]], np.int32))), _ix(("value",))
    yield "getitem", (A(F64),), _ix(("ellipsis",))
    yield "getitem", (A(F64),), _ix(("none",))
    yield "getitem", (A(F64, 0, 3),), _ix(ALL, ("int", 1))
    yield "getitem", (x,), _ix(("int", 4))                                  # out of bounds
    yield "getitem", (x,), _ix(ALL, ("int", -6))                            # out of bounds
    yield "getitem", (x,), _ix(("int", 0), ("int", 0), ("int", 0), ("int", 0))  # too many
    yield "getitem", (x,), _ix(("ellipsis",), ("ellipsis",))                # two ellipses
    yield "getitem", (x, V(1.0)), _ix(("value",))                           # float index
    yield "getitem", (x, V(np.array([0.0, 1.0]))), _ix(("value",))          # float array
    yield "getitem", (A(F64),), _ix(("int", 0))                             # 0-d


def setitem_cases() -> Iterator[CaseSpec]:
    for dt in (F64, I32, BOOL, F32):
        x = A(dt, 4, 5, 3)
        yield "setitem", (x, A(dt)), _ix(("int", 1))                          # x[1] = s
        yield "setitem", (x, A(dt, 5, 3)), _ix(("int", -1))                   # x[-1] = row
        yield "setitem", (x, A(dt, 4, 1, 3)), _ix(ALL, ("slice", 1, 3, None))  # broadcast
        yield "setitem", (x, A(dt), V(2)), _ix(("value",), ("int", 0))         # x[i, 0] = s
    x = A(F64, 4, 5, 3)
    yield "setitem", (x, W("float")), _ix(("slice", None, None, -1), ("int", 2))
    yield "setitem", (x, W("int"), V(-1), V(1)), _ix(("value",), ("value",))
    yield "setitem", (x, A(F32, 3)), _ix(("int", 0), ("int", 0))            # cast in
    yield "setitem", (A(I32, 4, 5), A(F64, 5)), _ix(("int", 2))              # float -> int
    yield "setitem", (x, A(F64, 3), V(np.array([0, 2]))), _ix(("value",), ("int", 1))
    yield "setitem", (x, A(F64)), _ix(("slice", 3, 1, None))                 # empty region
    yield "setitem", (x, A(F64, 2, 3)), _ix(("int", 0))                      # does not fit
    yield "setitem", (x, A(F64)), _ix(("int", 4))                            # out of bounds
    yield "setitem", (A(F64, 3), A(np.complex128)), _ix(("int", 0))          # complex -> real


def creation_cases() -> Iterator[CaseSpec]:
    for name in ("zeros", "ones", "empty"):
        for dtype in (None, F32, I32, BOOL, F16):
            yield name, (), {"shape": (2, 3), "dtype": dtype}
        yield name, (), {"shape": 4}
        yield name, (), {"shape": ()}
        yield name, (), {"shape": (0, 2)}
        yield name, (), {"shape": (-1, 2)}                         # NumPy refuses
    for fill in (V(2.5), V(3), V(True), V(np.array(1.5, F32)), V(np.array(7, I32))):
        yield "full", (fill,), {"shape": (2, 3)}
    yield "full", (V(2.5),), {"shape": (2, 3), "dtype": F32}
    yield "full", (V(2.5),), {"shape": 3, "dtype": I64}
    yield "full", (V(2),), {"shape": (), "dtype": F64}
    yield "full", (A(F64, 3),), {"shape": (2, 3)}                  # fill broadcasts
    for name in ("zeros_like", "ones_like", "empty_like"):
        for dt in DTYPES:
            yield name, (A(dt, 2, 3),), {}
        yield name, (A(F64, 2, 3),), {"dtype": I32}
        yield name, (A(I32),), {"dtype": F32}
        yield name, (W("float"),), {}
        yield name, (A(F64, 0, 2),), {}
    for dt in DTYPES:
        yield "full_like", (A(dt, 2, 3), V(2.5)), {}
    yield "full_like", (A(F32, 2, 3), V(-1)), {"dtype": F64}
    yield "full_like", (A(F64, 2, 3), A(F64, 3)), {}
    yield "full_like", (A(I64, 2), V(np.array(3.7, F32))), {}
    for attrs in ({"start": 5}, {"start": 2, "stop": 10, "step": 3}, {"start": 0.0, "stop": 1.0,
                  "step": 0.25}, {"start": 5, "dtype": F32}, {"start": 4, "stop": 0, "step": -1},
                  {"start": 3, "stop": 1}, {"start": 0, "stop": 2, "step": 0.5},
                  {"start": 1, "stop": 4, "dtype": I32}, {"start": 1, "stop": 3, "step": 0}):
        yield "arange", (), attrs
    for attrs in ({"N": 3}, {"N": 3, "M": 4, "k": 1}, {"N": 2, "dtype": I32},
                  {"N": 3, "k": -1, "dtype": F32}, {"N": 0}):
        yield "eye", (), attrs
    for attrs in ({"start": 0.0, "stop": 1.0, "num": 5},
                  {"start": -1.0, "stop": 1.0, "num": 4, "endpoint": False},
                  {"start": 0, "stop": 10, "num": 3, "dtype": F32},
                  {"start": 0.0, "stop": 1.0, "num": 1}, {"start": 0.0, "stop": 1.0, "num": 0},
                  {"start": 0, "stop": 5, "num": 6, "dtype": I32}):
        yield "linspace", (), attrs


def meta_cases() -> Iterator[CaseSpec]:
    for x in (A(F64, 2, 3), A(I32), A(BOOL, 0, 4), W("float")):
        for name in ("shape", "ndim", "size"):
            yield name, (x,), {}
    yield "dtype_of", (A(F32, 2),), {}
    yield "grad", (A(F64, 3),), {}
    yield "pycall", (A(F64, 3),), {}


def scan_cases() -> Iterator[CaseSpec]:
    for name in ("cumsum", "cumprod"):
        for dt in DTYPES:
            for axis in (None, 0, 1, -1):
                yield name, (A(dt, 3, 4),), {"axis": axis}
        yield name, (A(F32, 3, 4),), {"axis": 1, "dtype": F64}
        yield name, (A(F64),), {}
        yield name, (A(F64, 0, 3),), {"axis": 0}
        yield name, (A(F64, 3),), {"axis": 1}                   # NumPy raises


def sort_cases() -> Iterator[CaseSpec]:
    for name in ("sort", "argsort"):
        for dt in DTYPES:
            for axis in (-1, 0, 1, None):
                yield name, (A(dt, 3, 4),), {"axis": axis}
            yield name, (A(dt, 0, 3),), {"axis": 0}
        yield name, (A(F16, 2, 5),), {}
        yield name, (A(I32, 2, 3, 4),), {"axis": -2}
        yield name, (A(BOOL, 9),), {}                            # ties: stable order
        yield name, (A(F64, 2, 5, role="special"),), {"axis": 1}  # nan last, -0.0 == 0.0
        yield name, (A(F32, 10, role="special"),), {"axis": None}
        yield name, (A(F64, 1),), {}
        yield name, (A(F64, 0, 3),), {"axis": None}
        yield name, (A(F64),), {"axis": None}
        yield name, (A(F64),), {}            # 0-d: sort raises, argsort ravels it
        yield name, (W("float"),), {"axis": None}
        yield name, (A(I64, 5),), {"kind": "quicksort"}
        yield name, (A(F32, 2, 3),), {"stable": True}
        yield name, (A(F64, 2, 3),), {"axis": 2}                 # out of bounds
        yield name, (A(F64, 2, 3),), {"axis": -3}                # out of bounds
        yield name, (A(F64, 3),), {"kind": "bogus"}              # NumPy: ValueError
        yield name, (A(F64, 3),), {"kind": "stable", "stable": True}   # NumPy: ValueError


def _custom_graphs() -> tuple[Graph, Graph]:
    """fwd(x) -> (sin(x), cos(x)); bwd(cos_x, ct) -> (ct * cos_x,): a hand-made custom VJP."""
    x = Value(TensorType(F64, (3,)), "x")
    b = Builder(Block([x]))
    b.block.results = [b.op("sin", x), b.op("cos", x)]
    fwd = Graph("my_sin_fwd", b.block)
    res, ct = Value(TensorType(F64, (3,)), "cos_x"), Value(TensorType(F64, (3,)), "ct")
    b = Builder(Block([res, ct]))
    b.block.results = [b.op("mul", ct, res)]
    return fwd, Graph("my_sin_bwd", b.block)


def adjoint_cases() -> Iterator[CaseSpec]:
    for dt in (F64, F32):
        yield "scatter_add", (A(dt, 3),), {"index": (("int", 1),), "shape": (4, 3)}
        yield "scatter_add", (A(dt, 4, 2),), {"index": (ALL, ("slice", 1, None, None)),
                                              "shape": (4, 3)}
    # repeated integer indices accumulate (np.add.at)
    yield "scatter_add", (A(F64, 4, 3), V(np.array([0, 2, 2, 0]))), {"index": (("value",),),
                                                                   "shape": (3, 3)}
    yield "scatter_add", (A(F64, 3), V(2)), {"index": (("value",),), "shape": (5, 3)}
    yield "scatter_add", (A(F64), V(-1)), {"index": (("value",),), "shape": (4,)}
    yield "scatter_add", (A(F64, 5),), {"index": (("int", 0),), "shape": (4, 3)}  # misfit
    yield "tape_new", (), {}
    yield "tape_push", (A(I64), A(F64, 2, 3)), {}
    yield "tape_push", (A(I64), W("float")), {}
    yield "tape_pop", (A(I64),), {"shape": (2, 3), "dtype": F32}
    yield "tape_pop", (A(I64),), {"shape": (), "dtype": F64, "weak": True}
    fwd, bwd = _custom_graphs()
    yield "custom_vjp", (A(F64, 3),), {"fwd": fwd, "bwd": bwd, "name": "my_sin"}
    yield "custom_vjp", (A(F64, 3),), {"fwd": None, "bwd": None, "name": "unspecialized"}
    yield "custom_vjp_call", (A(F64, 3), A(F64, 3), A(F64, 3)), {"bwd": bwd, "nargs": 1}
    yield "custom_vjp_call", (W("float"), W("float")), {"bwd": bwd, "nargs": 1}


FAMILIES = (unary_cases, binary_cases, where_clip_cases, cast_cases, reduce_cases, arg_cases,
            matmul_cases, shape_cases, getitem_cases, setitem_cases, creation_cases, meta_cases, scan_cases,
            sort_cases, adjoint_cases)


def _build_cases() -> list[Case]:
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for family in FAMILIES:
        for op, args, attrs in family():
            case = _finish(op, args, attrs)
            n = seen.get(case.id, 0)
            seen[case.id] = n + 1
            if n:
                case.id += f"#{n}"
            cases.append(case)
    return cases


CASES = _build_cases()
OK_CASES = [c for c in CASES if c.error is None]
RUN_CASES = [c for c in OK_CASES if c.op not in STATEFUL]   # one-node graphs that can run

# Elementwise ops share one loop nest per backend and differ only in their scalar rule, so
# a native backend sees every dtype signature of every op, but the shape variety (0-d,
# broadcasting, empty) only for these ops and for every non-elementwise op.
SHAPE_REPRESENTATIVES = {"add", "maximum", "pow", "lt", "exp", "neg", "where", "clip", "cast"}


def native_subset(cases: list[Case]) -> list[Case]:
    """The cases a native backend compiles (about 15 ms of LLVM each, so not all of them):
    each case that brings a new (op, input dtypes) or a new (op, input shapes, attrs)."""
    seen: set[tuple] = set()
    out = []
    for c in cases:
        dtypes = (c.op, tuple((a.dtype.str, a.weak) for a in c.args))
        shape_op = c.op
        if OPS[c.op].elementwise and c.op not in SHAPE_REPRESENTATIVES:
            shape_op = f"elementwise/{len(c.args)}"
        attrs = {k: v for k, v in c.attrs.items() if k != "dtype"}
        shapes = (shape_op, tuple((a.shape, a.weak, a.role) for a in c.args),
                  _case_id("", (), attrs))
        if dtypes not in seen or shapes not in seen:
            out.append(c)
        seen.update((dtypes, shapes))
    return out


NATIVE_CASES = native_subset(RUN_CASES)
BACKEND_PARAMS = [pytest.param(c, "interp", id=f"{c.id}-interp") for c in RUN_CASES] + [
    pytest.param(c, b, id=f"{c.id}-{b}") for b in BACKEND_NAMES[1:] for c in NATIVE_CASES]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def expected_weak(case: Case) -> bool:
    """A result is weak (a Python scalar) when Python would give one: `float(x)` etc.
    (impl itself returns a Python scalar), or an elementwise op whose every input is a
    Python scalar. Reductions, matmul, shape ops and astype give NumPy values."""
    if type(case.expected) in (bool, int, float):
        return True
    op = OPS[case.op]
    if case.op == "cast" or not op.elementwise:
        return False
    # np.sin(True) is a float16 and np.square(True) an int8: no Python scalar has those
    return (bool(case.args) and all(a.weak for a in case.args)
            and np.asarray(case.expected).dtype in WEAK_DTYPES)


def one_node_graph(case: Case) -> Graph:
    params = [Value(a.type, f"x{i}") for i, a in enumerate(case.args)]
    b = Builder(Block(params))
    out = b.op(case.op, *params, **case.attrs)
    b.block.results = [out]
    return Graph(case.op, b.block)


@functools.cache
def _load_backend(name: str) -> tuple[Any, str]:
    """(backend, "") or (None, why it cannot run here)."""
    from jitgraph.backends import get_backend
    try:
        be = get_backend(name)
    except Exception as e:  # noqa: BLE001 - the cpu backend is written concurrently
        return None, f"{name} backend does not import: {type(e).__name__}: {e}"
    try:
        if not be.available():
            return None, f"{name} backend unavailable: {be.why_unavailable()}"
    except Exception as e:  # noqa: BLE001
        return None, f"{name} backend available() failed: {type(e).__name__}: {e}"
    return be, ""


def _copy_args(values: list[Any]) -> list[Any]:
    # NOTE: copies, so a backend that writes into its inputs cannot spoil the oracle.
    return [v.copy() if isinstance(v, np.ndarray) else v for v in values]


def assert_matches(actual: Any, expected: Any, what: str) -> None:
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, NumPy gives {e.dtype}"
    assert a.shape == e.shape, f"{what}: shape {a.shape}, NumPy gives {e.shape}"
    if e.dtype.kind in "fc":
        tol = TOL[e.dtype]
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what, strict=True)


# ---------------------------------------------------------------------------------------
# (a) rules vs impl
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_infer_matches_impl(case: Case) -> None:
    op = OPS[case.op]
    attrs = op.full_attrs(dict(case.attrs))
    if case.error is not None:
        with pytest.raises(JitTypeError):
            op.infer(case.types, attrs)
        return
    t = op.infer(case.types, attrs)
    e = np.asarray(case.expected)
    assert t.dtype == e.dtype, f"infer dtype {t.dtype}, NumPy gives {e.dtype}"
    assert t.shape == e.shape, f"infer shape {t.shape}, NumPy gives {e.shape}"
    assert t.weak == expected_weak(case), f"infer weak={t.weak}"


def test_every_op_has_cases() -> None:
    """New ops must come with cases here (an op never run against NumPy is untested)."""
    missing = sorted(set(OPS) - {c.op for c in CASES})
    assert not missing, f"ops without cases in test_ops.py: {missing}"
    untested = sorted(set(OPS) - {c.op for c in OK_CASES} - GENERIC_ONLY)
    assert not untested, f"ops without a case NumPy accepts in test_ops.py: {untested}"
    refused = {c.op for c in CASES if c.error is not None}
    assert len(refused) >= 20, "the refused-input cases went missing"


# ---------------------------------------------------------------------------------------
# (b) every backend vs impl
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "backend_name"), BACKEND_PARAMS)
def test_backend_matches_impl(case: Case, backend_name: str) -> None:
    be, why = _load_backend(backend_name)
    if be is None:
        pytest.skip(why)
    try:
        g = one_node_graph(case)
    except JitTypeError as e:
        pytest.skip(f"infer refuses what NumPy accepts (test_infer_matches_impl fails): {e}")
    reasons = be.check(g)
    if reasons:
        assert all(isinstance(r, str) and r for r in reasons), reasons
        assert backend_name != "interp", f"interp refuses {case.op}: {reasons}"
        pytest.skip(f"{backend_name}: {'; '.join(reasons)}")
    fn = be.compile(g)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(_copy_args(case.values))
    assert len(out) == 1, f"{len(out)} results for one output"
    r = out[0]
    weak = g.results[0].type.weak
    if weak:
        # NOTE: the interpreter holds weak values as Python scalars, as eager Python does;
        # a native backend may hand back a 0-d value that the runtime converts.
        if backend_name == "interp":
            assert type(r) in (bool, int, float), f"weak result is {type(r).__name__}"
    else:
        assert isinstance(r, (np.ndarray, np.generic)), (
            f"a {g.results[0].type} result came back as {type(r).__name__}")
    assert_matches(r, case.expected, f"{backend_name} {case.id}")


@pytest.mark.parametrize("backend_name", BACKEND_NAMES)
def test_tape_round_trip(backend_name: str) -> None:
    """tape_new, two pushes, two pops: values come back last-in first-out, with their types,
    and (interp) no stack is left behind."""
    from jitgraph.ops.adjoint import live_tapes
    be, why = _load_backend(backend_name)
    if be is None:
        pytest.skip(why)
    x = Value(TensorType(F32, (2, 3)), "x")
    y = Value(TensorType(F64, (), True), "y")
    b = Builder(Block([x, y]))
    h = b.op("tape_new")
    h = b.op("tape_push", h, x)
    h = b.op("tape_push", h, y)
    y_back = b.op("tape_pop", h, shape=(), dtype=F64, weak=True)
    x_back = b.op("tape_pop", h, shape=(2, 3), dtype=F32)
    b.block.results = [x_back, y_back]
    g = Graph("tapes", b.block)
    reasons = be.check(g)
    if reasons:
        assert backend_name != "interp", reasons
        assert all(isinstance(r, str) and r for r in reasons), reasons
        pytest.skip(f"{backend_name}: {'; '.join(reasons)}")
    xv = np.arange(6, dtype=F32).reshape(2, 3)
    before = live_tapes()
    out = be.compile(g)([xv.copy(), 2.5])
    assert_matches(out[0], xv, "popped x")
    assert_matches(out[1], 2.5, "popped y")
    if backend_name == "interp":
        assert type(out[1]) is float
        assert live_tapes() == before


# ---------------------------------------------------------------------------------------
# Coverage table
# ---------------------------------------------------------------------------------------

REFUSALS: dict[str, dict[str, int]] = {}   # backend -> check() reason -> cases


def coverage_table() -> tuple[dict[str, dict[str, str]], list[str]]:
    """op -> backend -> "yes" | "k/n" (cases it accepts) | "no" | "n/a"."""
    by_op: dict[str, list[Case]] = {}
    for c in OK_CASES:
        by_op.setdefault(c.op, []).append(c)
    table: dict[str, dict[str, str]] = {}
    notes = []
    for name in BACKEND_NAMES:
        be, why = _load_backend(name)
        if be is None:
            notes.append(why)
        for op in OPS:
            cases = by_op.get(op, [])
            if be is None or not cases:
                cell = "n/a"
            else:
                graphs = []
                for c in cases:
                    try:
                        graphs.append(one_node_graph(c))
                    except JitTypeError:
                        pass  # a rule bug; test_infer_matches_impl reports it
                reasons = [be.check(g) for g in graphs]
                for r in reasons:
                    for why in r:
                        REFUSALS.setdefault(name, {}).setdefault(why, 0)
                        REFUSALS[name][why] += 1
                ok = sum(not r for r in reasons)
                n = len(graphs)
                cell = "yes" if ok == n else "no" if ok == 0 else f"{ok}/{n}"
            table.setdefault(op, {})[name] = cell
    return table, notes


def test_coverage_table() -> None:
    table, notes = coverage_table()
    width = max(len(op) for op in table)
    lines = [f"{'op':<{width}}  " + "  ".join(f"{b:>8}" for b in BACKEND_NAMES)]
    for op, row in table.items():
        lines.append(f"{op:<{width}}  " + "  ".join(f"{row[b]:>8}" for b in BACKEND_NAMES))
    print("\nlowering coverage (cases each backend's check() accepts):")
    print("\n".join(lines))
    for n in notes:
        print("note:", n)
    for name, reasons in REFUSALS.items():
        print(f"{name} refuses, by reason (cases):")
        for why, k in sorted(reasons.items(), key=lambda kv: -kv[1])[:25]:
            print(f"  {k:5d}  {why}")
    assert set(table) == set(OPS)
    runnable = {op: row for op, row in table.items() if op not in GENERIC_ONLY}
    assert all(row["interp"] == "yes" for row in runnable.values()), (
        [op for op, row in runnable.items() if row["interp"] != "yes"])
    for name in BACKEND_NAMES:
        if _load_backend(name)[0] is not None:
            assert all(row[name] != "n/a" for row in runnable.values())
