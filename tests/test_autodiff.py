"""Reverse-mode autodiff (jitgraph/autodiff.py and the VJP rules in jitgraph/ops).

Every gradient graph is checked against central finite differences in float64, run by the
interpreter: for an op, f(xs) = sum(op(xs) * r) with a random r of the output's shape (so
the check is the <ct, J v> = <J^T ct, v> identity for every direction v at once), and
second order through g(xs) = sum(op(xs) * op(xs) * r) differentiated twice. Control flow
(if/else with both branches taken, loops with 0, 1 and many iterations, a data-dependent
while loop, nesting) is built with Builder by hand; frontend tests come at the end.
Gradient graphs must pass `verify(typed=True)` and have their params' exact types."""
from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import jitgraph as jg
from jitgraph.autodiff import custom_vjp, inline, vjp_graph
from jitgraph.backends.interp import InterpBackend
from jitgraph.errors import JitTypeError
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.ops import OPS
from jitgraph.ops.adjoint import live_tapes
from jitgraph.types import TensorType

try:
    from jitgraph.ir.verify import verify
except ImportError:  # pragma: no cover - the verifier is written separately
    verify = None

F32, F64, I64, BOOL = (np.dtype(d) for d in ("float32", "float64", "int64", "bool"))
PYINT = TensorType(I64, (), True)
PYFLOAT = TensorType(F64, (), True)


def T(shape: Sequence[int] = (), dtype: Any = F64) -> TensorType:
    return TensorType(np.dtype(dtype), tuple(shape))


# ---------------------------------------------------------------------------------------
# building and running graphs
# ---------------------------------------------------------------------------------------
def make(fn: Callable[..., Any], *types: TensorType, names: Sequence[str] = ()) -> Graph:
    """A graph whose params have `types`; fn(b, *params) returns its result(s)."""
    names = list(names) or [f"a{i}" for i in range(len(types))]
    params = [Value(t, n) for t, n in zip(types, names, strict=True)]
    b = Builder(Block(params))
    out = fn(b, *params)
    b.block.results = list(out) if isinstance(out, (list, tuple)) else [out]
    g = Graph("f", b.block, names)
    if verify is not None:
        verify(g, typed=True)
    return g


def run(g: Graph, *args: Any) -> list[Any]:
    return InterpBackend().compile(g)(list(args))


def if_(b: Builder, cond: Value, then: Callable[[Builder], Sequence[Value]],
        other: Callable[[Builder], Sequence[Value]]) -> list[Value]:
    blocks = []
    for fn in (then, other):
        bb = Builder(Block())
        bb.block.results = list(fn(bb))
        blocks.append(bb.block)
    return b.node("if", [cond], types=[v.type for v in blocks[0].results],
                  blocks=blocks).outputs


def loop(b: Builder, trip: Value, cond0: Value, init: Sequence[Value],
         body: Callable[..., tuple[Value, Sequence[Value]]]) -> list[Value]:
    """body(bb, k, *carried) -> (cond_next, next values)."""
    params = [Value(PYINT, "k")] + [Value(v.type, v.hint) for v in init]
    bb = Builder(Block(params))
    cond, nxt = body(bb, *params)
    bb.block.results = [cond, *nxt]
    return b.node("loop", [trip, cond0, *init], types=[v.type for v in init],
                  blocks=[bb.block]).outputs


def weighted_sum(b: Builder, y: Value, r: np.ndarray) -> Value:
    """sum(y * r), r a float64 constant of y's shape (cast to y's float dtype)."""
    dt = y.type.dtype if y.type.dtype.kind == "f" else F64
    rv = b.const(np.asarray(r, dtype=dt), T(np.shape(r), dt))
    return b.op("sum", b.op("mul", y, rv))


def grad(g: Graph, args: Sequence[Any], argnums: Sequence[int],
         output_index: int = 0) -> tuple[list[Any], list[Any]]:
    """Run vjp_graph(g) on args: (original results, gradients); checks the gradient graph
    verifies, has the params' exact types, and leaves no tape behind."""
    before = str(g)
    G = vjp_graph(g, argnums, output_index)
    assert str(g) == before, "vjp_graph changed its input graph"
    if verify is not None:
        verify(G, typed=True)
    n = len(g.results)
    for v, i in zip(G.results[n:], argnums, strict=True):
        assert v.type == g.params[i].type, f"gradient type {v.type} for {g.params[i].type}"
    out = run(G, *args)
    assert live_tapes() == 0, "a tape was left behind"
    return out[:n], out[n:]


def central_diff(f: Callable[[np.ndarray], float], x0: Any, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function f at x0 (in float64)."""
    x = np.array(x0, dtype=np.float64)
    out = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        vals = []
        for s in (1, -1):
            xx = x.copy()
            xx[idx] += s * eps
            vals.append(f(xx))
        out[idx] = (vals[0] - vals[1]) / (2 * eps)
    return out


def numgrad(g: Graph, args: Sequence[Any], i: int, output_index: int = 0,
            eps: float = 1e-6) -> np.ndarray:
    """Central differences of g's output with respect to args[i] (float64)."""
    def f(xx: np.ndarray) -> float:
        a = list(args)
        a[i] = xx.astype(np.asarray(args[i]).dtype) if np.ndim(args[i]) else (
            type(args[i])(xx) if isinstance(args[i], float) else xx.astype(
                np.asarray(args[i]).dtype))
        return float(run(g, *a)[output_index])
    return central_diff(f, args[i], eps)


def check_grad(g: Graph, args: Sequence[Any], argnums: Sequence[int],
               output_index: int = 0, rtol: float = 1e-5, atol: float = 1e-6,
               eps: float = 1e-6) -> list[Any]:
    vals, gs = grad(g, args, argnums, output_index)
    for r, want in zip(vals, run(g, *args), strict=True):
        np.testing.assert_array_equal(r, want)
    for i, gi in zip(argnums, gs, strict=True):
        np.testing.assert_allclose(np.asarray(gi, dtype=np.float64),
                                   numgrad(g, args, i, output_index, eps),
                                   rtol=rtol, atol=atol, err_msg=f"d/d{g.arg_names[i]}")
    return gs


def grad_scalar(g: Graph, argnum: int, r: np.ndarray) -> Graph:
    """A graph with g's params returning sum(d g / d arg * r): its own gradient is a
    Hessian-vector product, which finite differences of the first gradient check."""
    G = vjp_graph(g, (argnum,))
    params = [Value(p.type, p.hint) for p in g.params]
    b = Builder(Block(params))
    outs = inline(b, G, params)
    b.block.results = [weighted_sum(b, outs[-1], r)]
    return Graph("dg", b.block, g.arg_names)


# ---------------------------------------------------------------------------------------
# the op table: every VJP rule vs finite differences
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class P:
    """A float64 param: uniform in [lo, hi], or sign * uniform in [lo, hi] (away from 0)."""
    shape: tuple[int, ...] = ()
    lo: float = -2.0
    hi: float = 2.0
    signed: bool = False
    value: Any = None


@dataclass(frozen=True)
class K:
    """A constant input (weak Python scalar, index array, condition): not differentiated."""
    value: Any


@dataclass(frozen=True)
class OpCase:
    op: str
    ins: tuple[Any, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def __str__(self) -> str:
        return self.id or self.op


def _p(*shape: int, **kw: Any) -> P:
    return P(tuple(shape), **kw)


POS: dict[str, Any] = {"lo": 0.5, "hi": 2.0}
AWAY: dict[str, Any] = {"lo": 0.3, "hi": 2.0, "signed": True}

UNARY = {
    "neg": {}, "pos": {}, "abs": AWAY, "square": {}, "sqrt": POS, "reciprocal": AWAY,
    "exp": {}, "exp2": {}, "expm1": {}, "log": POS, "log2": POS, "log10": POS,
    "log1p": {"lo": -0.5, "hi": 2.0}, "sin": {}, "cos": {}, "tan": {"lo": -1.0, "hi": 1.0},
    "arcsin": {"lo": -0.8, "hi": 0.8}, "arccos": {"lo": -0.8, "hi": 0.8}, "arctan": {},
    "sinh": {}, "cosh": {}, "tanh": {},
}

IDX_ALL = ("slice", None, None, None)

OP_CASES: list[OpCase] = [
    *(OpCase(name, (_p(2, 3, **kw),)) for name, kw in UNARY.items()),
    OpCase("exp", (_p(),), id="exp-0d"),
    # broadcasting binary ops
    OpCase("add", (_p(2, 3), _p(3)), id="add-bcast"),
    OpCase("add", (_p(2, 3), K(1.5)), id="add-weak"),
    OpCase("sub", (_p(2, 1), _p(1, 3)), id="sub-outer"),
    OpCase("mul", (_p(3), _p()), id="mul-scalar"),
    OpCase("mul", (_p(2, 3), _p(2, 1)), id="mul-bcast"),
    OpCase("div", (_p(2, 3), _p(2, 1, **AWAY)), id="div"),
    OpCase("div", (K(2.0), _p(3, **AWAY)), id="div-weak-num"),
    OpCase("pow", (_p(2, 3, **POS), _p(3)), id="pow-both"),
    OpCase("pow", (_p(2, 3), K(2)), id="pow-square"),
    OpCase("pow", (_p(3), K(3.0)), id="pow-cube"),
    OpCase("pow", (K(2.0), _p(3)), id="pow-base"),
    OpCase("maximum", (_p(2, 3), _p(3)), id="maximum"),
    OpCase("maximum", (_p(2, 3), K(0.0)), id="relu"),
    OpCase("minimum", (_p(2, 1), _p(1, 3)), id="minimum"),
    OpCase("arctan2", (_p(2, 3), _p(3, **AWAY)), id="arctan2"),
    OpCase("mod", (P((2, 3), value=np.array([[2.3, -1.1, 0.7], [5.1, -3.3, 1.2]])),
                   P((3,), value=np.array([1.5, 2.0, -0.9]))), id="mod"),
    OpCase("where", (K(np.array([[True, False, True], [False, False, True]])), _p(2, 3),
                     _p(3)), id="where"),
    OpCase("clip", (_p(2, 3), _p(3, lo=-1.0, hi=-0.2), _p(2, 1, lo=0.2, hi=1.0)), id="clip"),
    OpCase("clip", (_p(4), K(-0.5), K(0.5)), id="clip-const"),
    OpCase("cast", (_p(2, 3),), {"dtype": F32}, id="cast-f32"),
    # reductions
    OpCase("sum", (_p(2, 3, 2),), {"axis": 1}, id="sum-axis"),
    OpCase("sum", (_p(2, 3, 2),), {"axis": (0, 2), "keepdims": True}, id="sum-keep"),
    OpCase("sum", (_p(2, 3),), id="sum-all"),
    OpCase("sum", (_p(2, 3),), {"dtype": F32}, id="sum-dtype"),
    OpCase("mean", (_p(2, 3),), {"axis": 0}, id="mean-axis"),
    OpCase("mean", (_p(2, 3, 2),), {"axis": (1, 2), "keepdims": True}, id="mean-keep"),
    OpCase("prod", (_p(2, 3, lo=0.5, hi=1.5, signed=True),), {"axis": 1}, id="prod"),
    OpCase("cumsum", (_p(2, 3),), {"axis": 1}, id="cumsum"),
    OpCase("cumsum", (_p(2, 3),), {}, id="cumsum-flat"),
    OpCase("cumprod", (_p(2, 3, lo=0.5, hi=1.5),), {"axis": 0}, id="cumprod"),
    # sort: ct scattered back through argsort's permutation
    OpCase("sort", (_p(2, 5),), id="sort"),
    OpCase("sort", (_p(4, 3),), {"axis": 0}, id="sort-axis0"),
    OpCase("sort", (_p(2, 3, 4),), {"axis": 1}, id="sort-3d"),
    OpCase("sort", (_p(2, 3),), {"axis": None}, id="sort-flat"),
    OpCase("sort", (_p(6),), id="sort-1d"),
    OpCase("prod", (P((2, 3), value=np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])),),
           {"axis": 1}, id="prod-zeros"),
    OpCase("prod", (P((3,), value=np.array([1.2, 0.0, -0.7])),), id="prod-one-zero"),
    OpCase("max", (_p(2, 3),), {"axis": 1}, id="max-axis"),
    OpCase("max", (_p(2, 3),), id="max-all"),
    OpCase("min", (_p(2, 3),), {"axis": 0, "keepdims": True}, id="min-keep"),
    OpCase("var", (_p(2, 3),), {"axis": 1}, id="var"),
    OpCase("var", (_p(4),), {"ddof": 1}, id="var-ddof"),
    OpCase("std", (_p(2, 3),), {"axis": 0, "keepdims": True}, id="std"),
    OpCase("std", (_p(3, 2),), {"ddof": 1}, id="std-ddof"),
    # matmul, every rank combination up to batched 3-D
    OpCase("matmul", (_p(3), _p(3)), id="matmul-1-1"),
    OpCase("matmul", (_p(2, 3), _p(3)), id="matmul-2-1"),
    OpCase("matmul", (_p(3), _p(3, 2)), id="matmul-1-2"),
    OpCase("matmul", (_p(2, 3), _p(3, 4)), id="matmul-2-2"),
    OpCase("matmul", (_p(2, 2, 3), _p(3, 2)), id="matmul-3-2"),
    OpCase("matmul", (_p(3), _p(2, 3, 2)), id="matmul-1-3"),
    OpCase("matmul", (_p(2, 2, 3), _p(3)), id="matmul-3-1"),
    OpCase("matmul", (_p(2, 2, 3), _p(2, 3, 2)), id="matmul-3-3"),
    OpCase("matmul", (_p(1, 2, 3), _p(2, 3, 2)), id="matmul-3-3-bcast"),
    # shape ops
    OpCase("transpose", (_p(2, 3, 2),), {"axes": (1, 2, 0)}),
    OpCase("transpose", (_p(2, 3),), id="transpose-default"),
    OpCase("reshape", (_p(2, 3),), {"shape": (3, 2)}),
    OpCase("expand_dims", (_p(2, 3),), {"axis": 1}),
    OpCase("squeeze", (_p(2, 1, 3),)),
    OpCase("broadcast_to", (_p(3),), {"shape": (2, 3)}),
    OpCase("broadcast_to", (_p(2, 1),), {"shape": (2, 2, 3)}, id="broadcast_to-2"),
    OpCase("sum_to_shape", (_p(2, 3),), {"shape": (3,)}),
    OpCase("sum_to_shape", (_p(2, 3),), {"shape": (2, 1)}, id="sum_to_shape-keep"),
    OpCase("copy", (_p(2, 3),)),
    OpCase("concatenate", (_p(2, 3), _p(1, 3)), {"axis": 0}),
    OpCase("concatenate", (_p(2, 1), _p(2, 2), _p(2, 1)), {"axis": 1}, id="concatenate-1"),
    OpCase("concatenate", (_p(2, 2), _p(3)), {"axis": None}, id="concatenate-flat"),
    OpCase("stack", (_p(3), _p(3)), {"axis": 1}),
    OpCase("stack", (_p(2, 2), _p(2, 2), _p(2, 2)), id="stack-0"),
    OpCase("getitem", (_p(3, 4),), {"index": (("int", 1),)}, id="getitem-int"),
    OpCase("getitem", (_p(3, 4),), {"index": (("slice", None, None, -1), ("int", -2))},
           id="getitem-reverse"),
    OpCase("getitem", (_p(3, 4),), {"index": (("none",), ("ellipsis",),
                                              ("slice", 1, 3, None))}, id="getitem-none"),
    OpCase("getitem", (_p(4, 3), K(np.array([0, 2, 0, 3]))), {"index": (("value",),)},
           id="getitem-array-dups"),
    OpCase("getitem", (_p(3, 4), K(np.array([[1, 1], [3, 0]]))),
           {"index": (IDX_ALL, ("value",))}, id="getitem-array-2d"),
    OpCase("getitem", (_p(3, 4), K(2)), {"index": (("value",), ("slice", 0, 4, 2))},
           id="getitem-runtime-int"),
    OpCase("setitem", (_p(3, 4), _p()), {"index": (("int", 1), ("int", 2))}, id="setitem-scalar"),
    OpCase("setitem", (_p(3, 4), _p(1, 2)), {"index": (IDX_ALL, ("slice", 1, 3, None))},
           id="setitem-broadcast"),
    OpCase("setitem", (_p(3, 4), _p(4), K(-1)), {"index": (("value",),)},
           id="setitem-runtime-int"),
    # creation with a fill value
    OpCase("full", (_p(),), {"shape": (2, 3)}),
    OpCase("full_like", (_p(2, 3), _p()), id="full_like"),
]


def _inputs(case: OpCase) -> tuple[list[TensorType], list[Any], list[Any]]:
    """Param types, param values, and a builder-side maker per input."""
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))
    types, values = [], []
    for a in case.ins:
        if isinstance(a, P):
            v = a.value if a.value is not None else rng.uniform(a.lo, a.hi, a.shape)
            if a.signed and a.value is None:
                v = v * rng.choice([-1.0, 1.0], a.shape)
            types.append(T(a.shape))
            values.append(np.asarray(v, dtype=np.float64))
    return types, values, rng.uniform(-1, 1, 64).tolist()


def _apply(b: Builder, case: OpCase, params: Sequence[Value]) -> Value:
    it = iter(params)
    ins = [next(it) if isinstance(a, P) else b.const(a.value) if not isinstance(
        a.value, np.ndarray) else b.const(a.value, T(a.value.shape, a.value.dtype))
        for a in case.ins]
    return b.op(case.op, *ins, **case.attrs)


def _op_graph(case: OpCase, squared: bool = False) -> tuple[Graph, list[Any]]:
    types, values, rs = _inputs(case)

    def fn(b: Builder, *ps: Value) -> Value:
        y = _apply(b, case, ps)
        if squared:
            y = b.op("mul", y, _apply(b, case, ps))
        r = np.asarray(rs[:y.type.size]).reshape(y.type.shape)
        return weighted_sum(b, y, r)
    return make(fn, *types), values


@pytest.mark.parametrize("case", OP_CASES, ids=str)
def test_vjp_rule(case: OpCase) -> None:
    g, args = _op_graph(case)
    f32 = any(v is F32 for v in case.attrs.values())  # a float32 result: coarser differences
    tol = {"rtol": 1e-4, "atol": 1e-4, "eps": 1e-3} if f32 else {}
    check_grad(g, args, tuple(range(len(args))), **tol)


SECOND_ORDER = [c for c in OP_CASES if F32 not in c.attrs.values()]


@pytest.mark.parametrize("case", SECOND_ORDER, ids=str)
def test_vjp_rule_second_order(case: OpCase) -> None:
    """sum(op(x)*op(x)*r) differentiated twice: every op a rule emits has a rule too."""
    g, args = _op_graph(case, squared=True)
    rs = np.random.default_rng(7).uniform(-1, 1, 64)
    for i, a in enumerate(args):
        h = grad_scalar(g, i, rs[:np.size(a)].reshape(np.shape(a)))
        check_grad(h, args, tuple(range(len(args))), rtol=1e-4, atol=1e-5)


def _cpu() -> Any:
    try:
        from jitgraph.backends import get_backend
        cpu = get_backend("cpu")
    except Exception as e:  # noqa: BLE001 - any import problem means: not here
        pytest.skip(f"no cpu backend: {e}")
    if not cpu.available():
        pytest.skip("the cpu backend is not available")
    return cpu


@pytest.mark.parametrize("case", OP_CASES, ids=str)
def test_gradient_graph_on_cpu_backend(case: OpCase) -> None:
    """The gradient graphs are ordinary graphs: the compiled CPU backend agrees with the
    interpreter on them (where it lowers every op; the fallback chain covers the rest)."""
    cpu = _cpu()
    g, args = _op_graph(case)
    G = vjp_graph(g, tuple(range(len(args))))
    why = cpu.check(G)
    if why:
        pytest.skip("; ".join(why))
    for a, b in zip(cpu.compile(G)(list(args)), run(G, *args), strict=True):
        tol = 1e-5 if np.asarray(b).dtype == F32 else 1e-9
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 1e-3)


def test_every_differentiable_op_has_a_rule_and_a_case() -> None:
    # custom_vjp is expanded by the transform into fwd + custom_vjp_call (tested below)
    need = {name for name, op in OPS.items()
            if op.differentiable and op.nin != 0 and name not in ("custom_vjp",)}
    assert not sorted(n for n in need if OPS[n].vjp is None)
    tested = {c.op for c in OP_CASES} | {"scatter_add", "custom_vjp_call"}
    assert not sorted(need - tested), "differentiable ops without a VJP case"


def test_non_differentiable_ops_take_no_gradient() -> None:
    """floor, sign, compares, argmax: the output does not depend on x for the gradient."""
    def fn(b: Builder, x: Value) -> Value:
        fl = b.op("floor", x)
        sg = b.op("sign", x)
        am = b.op("cast", b.op("argmax", x), dtype=F64)
        lt = b.op("cast", b.op("lt", x, b.const(0.0)), dtype=F64)
        s = b.op("add", b.op("add", b.op("sum", fl), b.op("sum", sg)), b.op("add", am, lt))
        return b.op("sum", s)
    g = make(fn, T((3,)))
    _, (gx,) = grad(g, [np.array([0.5, -1.5, 2.5])], (0,))
    np.testing.assert_array_equal(gx, np.zeros(3))


def test_int_cast_cuts_the_gradient() -> None:
    g = make(lambda b, x: b.op("sum", b.op("mul", x, b.op("cast", x, dtype=I64))), T((3,)))
    _, (gx,) = grad(g, [np.array([1.5, 2.5, -3.5])], (0,))
    np.testing.assert_array_equal(gx, [1.0, 2.0, -3.0])  # only the float factor


def test_max_ties_share_the_gradient() -> None:
    g = make(lambda b, x: b.op("max", x), T((4,)))
    _, (gx,) = grad(g, [np.array([1.0, 3.0, 3.0, 2.0])], (0,))
    np.testing.assert_array_equal(gx, [0.0, 0.5, 0.5, 0.0])


def test_maximum_ties_split_half() -> None:
    g = make(lambda b, x, y: b.op("sum", b.op("maximum", x, y)), T((3,)), T((3,)))
    _, (gx, gy) = grad(g, [np.array([1.0, 2.0, 0.0]), np.array([1.0, 1.0, 3.0])], (0, 1))
    np.testing.assert_array_equal(gx, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(gy, [0.5, 0.0, 1.0])


def test_getitem_runtime_index_param() -> None:
    """x[i] with i an integer argument: the same graph serves every i."""
    g = make(lambda b, x, i: b.op("sum", b.op("getitem", x, i, index=(("value",),))),
             T((3, 2)), PYINT, names=("x", "i"))
    for i in (0, 2, -1):
        _, (gx,) = grad(g, [np.ones((3, 2)), i], (0,))
        want = np.zeros((3, 2))
        want[i] = 1
        np.testing.assert_array_equal(gx, want)


def test_weak_param_gradient_is_a_python_float() -> None:
    g = make(lambda b, x, y: b.op("sum", b.op("mul", b.op("mul", x, x), y)), PYFLOAT, T((2,)))
    _, (gx, gy) = grad(g, [1.5, np.array([1.0, 2.0])], (0, 1))
    assert isinstance(gx, float) and gx == pytest.approx(2 * 1.5 * 3.0)
    np.testing.assert_allclose(gy, [2.25, 2.25])


def test_float32_gradients_stay_float32() -> None:
    def fn(b: Builder, x: Value, w: Value) -> Value:
        h = b.op("tanh", b.op("matmul", x, w))
        return b.op("sum", b.op("mul", b.op("pow", h, b.const(2)), b.const(0.5)))
    g = make(fn, T((2, 3), F32), T((3, 2), F32))
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3)).astype(F32), rng.normal(size=(3, 2)).astype(F32)
    (val,), (gx, gw) = grad(g, [x, w], (0, 1))
    assert val.dtype == F32 and gx.dtype == F32 and gw.dtype == F32
    h = np.tanh(x.astype(F64) @ w)
    d = h * (1 - h * h)
    np.testing.assert_allclose(gx, d @ w.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gw, x.T.astype(F64) @ d, rtol=1e-5, atol=1e-6)


def test_mixed_precision_casts_back() -> None:
    """f32 * f64 promotes to f64; each gradient comes back in its argument's dtype."""
    g = make(lambda b, x, y: b.op("sum", b.op("mul", x, y)), T((3,), F32), T((2, 1)))
    x, y = np.array([1, 2, 3], F32), np.array([[2.0], [5.0]])
    _, (gx, gy) = grad(g, [x, y], (0, 1))
    assert gx.dtype == F32 and gy.dtype == F64
    np.testing.assert_allclose(gx, [7, 7, 7])
    np.testing.assert_allclose(gy, [[6], [6]])


def test_unused_argument_gets_zeros_and_all_results_are_kept() -> None:
    def fn(b: Builder, x: Value, y: Value, n: Value) -> list[Value]:
        return [b.op("sum", b.op("sin", x)), b.op("mul", y, b.const(2.0)), n]
    g = make(fn, T((3,)), T((2,), F32), T((), I64), names=("x", "y", "n"))
    x = np.array([0.1, 0.2, 0.3])
    vals, (gx, gy) = grad(g, [x, np.ones(2, F32), np.int64(4)], (0, 1))
    np.testing.assert_allclose(vals[1], [2, 2])
    assert int(vals[2]) == 4
    np.testing.assert_allclose(gx, np.cos(x))
    assert gy.dtype == F32 and not gy.any()


def test_differentiate_a_later_output() -> None:
    g = make(lambda b, x: [x, b.op("sum", b.op("exp", x))], T((2,)))
    x = np.array([0.0, 1.0])
    _, (gx,) = grad(g, [x], (0,), output_index=1)
    np.testing.assert_allclose(gx, np.exp(x))


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------
def test_error_int_argument() -> None:
    g = make(lambda b, x, n: b.op("sum", b.op("mul", x, n)), T((3,)), T((), I64),
             names=("x", "n"))
    with pytest.raises(JitTypeError, match="'n'") as e:
        vjp_graph(g, (1,))
    assert e.value.arg == "n"


def test_error_bool_argument() -> None:
    g = make(lambda b, x, c: b.op("sum", b.op("where", c, x, b.const(0.0))), T((3,)),
             T((3,), BOOL), names=("x", "mask"))
    with pytest.raises(JitTypeError, match="'mask'.*float"):
        vjp_graph(g, (0, 1))


def test_error_non_scalar_output() -> None:
    g = make(lambda b, x: b.op("exp", x), T((3,)))
    with pytest.raises(JitTypeError, match="scalar"):
        vjp_graph(g, (0,))


def test_error_integer_output() -> None:
    g = make(lambda b, x: b.op("argmax", x), T((3,)))
    with pytest.raises(JitTypeError, match="scalar float"):
        vjp_graph(g, (0,))


def test_error_argnum_out_of_range() -> None:
    g = make(lambda b, x: b.op("sum", x), T((3,)))
    with pytest.raises(JitTypeError, match="out of range"):
        vjp_graph(g, (1,))


# ---------------------------------------------------------------------------------------
# if / else
# ---------------------------------------------------------------------------------------
def _model_graph() -> Graph:
    """The API.md model: w2 = w2a if prev_loss < 5 else w2b; relu(x @ w1) @ w2."""
    def fn(b: Builder, x: Value, y: Value, w1: Value, w2a: Value, w2b: Value,
           prev: Value) -> Value:
        (w2,) = if_(b, b.op("lt", prev, b.const(5.0)), lambda bb: [w2a], lambda bb: [w2b])
        h = b.op("maximum", b.op("matmul", x, w1), b.const(0.0))
        d = b.op("sub", b.op("matmul", h, w2), y)
        return b.op("sum", b.op("pow", d, b.const(2)))
    return make(fn, T((4, 3)), T((4, 1)), T((3, 5)), T((5, 1)), T((5, 1)), T(()),
                names=("x", "y", "w1", "w2a", "w2b", "prev_loss"))


@pytest.mark.parametrize("prev", [1.0, 9.0])
def test_if_picks_a_weight(prev: float) -> None:
    g = _model_graph()
    rng = np.random.default_rng(3)
    args = [rng.normal(size=s) for s in ((4, 3), (4, 1), (3, 5), (5, 1), (5, 1))]
    gs = check_grad(g, [*args, np.float64(prev)], (2, 3, 4, 5))
    unused = gs[2] if prev < 5 else gs[1]
    assert not np.any(unused) and gs[3] == 0.0


def _branchy() -> Graph:
    """if sum(x) > c: sum(sin(x) * w) else sum(exp(x * w)) + c * c."""
    def fn(b: Builder, x: Value, w: Value, c: Value) -> Value:
        cond = b.op("gt", b.op("sum", x), c)

        def then(bb: Builder) -> list[Value]:
            return [bb.op("sum", bb.op("mul", bb.op("sin", x), w))]

        def other(bb: Builder) -> list[Value]:
            e = bb.op("sum", bb.op("exp", bb.op("mul", x, w)))
            return [bb.op("add", e, bb.op("mul", c, c))]
        (s,) = if_(b, cond, then, other)
        return b.op("mul", s, b.op("add", c, b.const(1.0)))
    return make(fn, T((3,)), T((3,)), T(()), names=("x", "w", "c"))


@pytest.mark.parametrize("c", [-1.0, 5.0])
def test_if_both_branches(c: float) -> None:
    x, w = np.array([0.3, -0.2, 0.9]), np.array([1.5, -0.5, 0.7])
    check_grad(_branchy(), [x, w, np.float64(c)], (0, 1, 2))


def test_if_with_unused_and_weak_outputs() -> None:
    """Two outputs, only one differentiated; a branch that yields a constant."""
    def fn(b: Builder, x: Value, c: Value) -> Value:
        def then(bb: Builder) -> list[Value]:
            return [bb.op("mul", x, x), bb.op("exp", x)]

        def other(bb: Builder) -> list[Value]:
            return [bb.op("zeros", shape=(3,), dtype=F64), bb.op("sin", x)]
        a, _ = if_(b, b.op("gt", c, b.const(0.0)), then, other)
        return b.op("sum", a)
    g = make(fn, T((3,)), T(()), names=("x", "c"))
    x = np.array([0.5, 1.0, -2.0])
    check_grad(g, [x, np.float64(1.0)], (0, 1))
    _, (gx,) = grad(g, [x, np.float64(-1.0)], (0,))
    assert not gx.any()


def test_grad_of_grad_through_if() -> None:
    """f(x) = x**3 if x > 0 else sin(x) * x: f'' = 6x or 2cos(x) - x sin(x)."""
    def fn(b: Builder, x: Value) -> Value:
        (y,) = if_(b, b.op("gt", x, b.const(0.0)),
                   lambda bb: [bb.op("pow", x, bb.const(3))],
                   lambda bb: [bb.op("mul", bb.op("sin", x), x)])
        return y
    g = make(fn, T(()), names=("x",))
    g1 = vjp_graph(g, (0,))
    for x in (0.7, -1.3):
        (_, d1), (d2,) = grad(g1, [np.float64(x)], (0,), output_index=1)
        want1 = 3 * x * x if x > 0 else np.cos(x) * x + np.sin(x)
        want2 = 6 * x if x > 0 else 2 * np.cos(x) - x * np.sin(x)
        assert float(d1) == pytest.approx(want1) and float(d2) == pytest.approx(want2)
        check_grad(g1, [np.float64(x)], (0,), output_index=1)
    # and a third derivative, for good measure
    g2 = vjp_graph(g1, (0,), output_index=1)
    _, (d3,) = grad(g2, [np.float64(0.7)], (0,), output_index=2)
    assert float(d3) == pytest.approx(6.0)


# ---------------------------------------------------------------------------------------
# loops
# ---------------------------------------------------------------------------------------
def _for_loop(trip_type: TensorType = PYINT) -> Graph:
    """for k in range(n): x = sin(x) * w + k * 0.1 * v (w, v: loop-invariant captures);
    then sum(x * x)."""
    def fn(b: Builder, x: Value, w: Value, v: Value, n: Value) -> Value:
        def body(bb: Builder, k: Value, xc: Value) -> tuple[Value, list[Value]]:
            kf = bb.op("mul", bb.op("cast", k, dtype=F64), bb.const(0.1))
            nxt = bb.op("add", bb.op("mul", bb.op("sin", xc), w), bb.op("mul", kf, v))
            return bb.const(True), [nxt]
        (xf,) = loop(b, n, b.const(True), [x], body)
        return b.op("sum", b.op("mul", xf, xf))
    return make(fn, T((3,)), T((3,)), T(()), trip_type, names=("x", "w", "v", "n"))


@pytest.mark.parametrize("n", [0, 1, 2, 7])
def test_for_loop(n: int) -> None:
    x, w = np.array([0.5, -1.0, 2.0]), np.array([1.1, 0.9, -0.8])
    gs = check_grad(_for_loop(), [x, w, np.float64(0.3), n], (0, 1, 2))
    if n == 0:
        np.testing.assert_allclose(gs[0], 2 * x)
        assert not gs[1].any() and gs[2] == 0.0


def test_for_loop_int_array_trip_count() -> None:
    g = _for_loop(T((), I64))
    x, w = np.array([0.5, -1.0, 2.0]), np.array([1.1, 0.9, -0.8])
    check_grad(g, [x, w, np.float64(0.3), np.int64(4)], (0, 1, 2))


def test_loop_with_inactive_and_int_carried_values() -> None:
    """carried (x, m, s): m an int counter, s a float that never touches x."""
    def fn(b: Builder, x: Value, n: Value) -> list[Value]:
        def body(bb: Builder, k: Value, xc: Value, m: Value, s: Value
                 ) -> tuple[Value, list[Value]]:
            return bb.const(True), [bb.op("mul", bb.op("cos", xc), xc),
                                    bb.op("add", m, bb.const(2)),
                                    bb.op("add", s, bb.const(1.0))]
        m0 = b.const(np.int64(0), T((), I64))
        s0 = b.const(np.float64(0.0), T(()))
        xf, m, s = loop(b, n, b.const(True), [x, m0, s0], body)
        return [b.op("sum", b.op("mul", xf, s)), m]
    g = make(fn, T((2,)), PYINT, names=("x", "n"))
    (_, m), _ = grad(g, [np.array([0.3, -0.6]), 3], (0,))
    assert int(m) == 6
    check_grad(g, [np.array([0.3, -0.6]), 3], (0,))


def _newton(a_is_param: bool = True) -> Graph:
    """Issue 4's example: x = x - 0.1*(x**3 - a) until max|x**3 - a| <= 1e-6 (at most
    100 times), then sum(x). Returns (sum, x)."""
    def fn(b: Builder, x: Value, a: Value) -> list[Value]:
        def err(bb: Builder, v: Value) -> Value:
            r = bb.op("max", bb.op("abs", bb.op("sub", bb.op("pow", v, bb.const(3)), a)))
            return bb.op("gt", r, bb.const(1e-6))

        def body(bb: Builder, k: Value, xc: Value) -> tuple[Value, list[Value]]:
            step = bb.op("mul", bb.op("sub", bb.op("pow", xc, bb.const(3)), a),
                         bb.const(0.1))
            nxt = bb.op("sub", xc, step)
            return err(bb, nxt), [nxt]
        trip = b.const(100)
        (xf,) = loop(b, trip, err(b, x), [x], body)
        return [b.op("sum", xf), xf]
    return make(fn, T((3,)), T(()), names=("x", "a"))


def _newton_reference(x: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The iteration in NumPy with forward-mode derivatives dx/dx0 (diagonal), dx/da."""
    dx0, da, n = np.ones_like(x), np.zeros_like(x), 0
    while n < 100 and np.abs(x ** 3 - a).max() > 1e-6:
        jac = 1 - 0.3 * x * x
        dx0, da = jac * dx0, jac * da + 0.1
        x = x - 0.1 * (x ** 3 - a)
        n += 1
    return x, dx0, da, n


def test_while_loop_newton() -> None:
    g = _newton()
    x0, a = np.array([1.0, 1.2, 1.5]), 2.0
    xr, dx0, da, n = _newton_reference(x0.copy(), a)
    assert 5 < n < 100
    (_, xf), (gx, ga) = grad(g, [x0, np.float64(a)], (0, 1))
    np.testing.assert_allclose(xf, xr, rtol=1e-12)
    np.testing.assert_allclose(gx, dx0, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ga, da.sum(), rtol=1e-9)
    # finite differences, with a step small enough not to change the iteration count
    np.testing.assert_allclose(gx, numgrad(g, [x0, np.float64(a)], 0, eps=1e-8),
                               rtol=1e-4, atol=1e-6)


def test_while_loop_zero_iterations() -> None:
    g = _newton()
    x0 = np.array([2.0, 2.0, 2.0]) ** (1 / 3)
    (_, xf), (gx, ga) = grad(g, [x0, np.float64(2.0)], (0, 1))
    np.testing.assert_array_equal(xf, x0)
    np.testing.assert_array_equal(gx, np.ones(3))
    assert ga == 0.0


def test_while_loop_hits_the_trip_limit() -> None:
    g = _newton()
    x0, a = np.array([0.5, 0.3, 0.2]), 0.001  # slow near x = 0.1: stops after 100 steps
    _, dx0, da, n = _newton_reference(x0.copy(), a)
    assert n == 100
    _, (gx, ga) = grad(g, [x0, np.float64(a)], (0, 1))
    np.testing.assert_allclose(gx, dx0, rtol=1e-9)
    np.testing.assert_allclose(ga, da.sum(), rtol=1e-9)


def test_if_inside_loop() -> None:
    """for k in range(n): x = x * w if k % 2 == 0 else sin(x) + w."""
    def fn(b: Builder, x: Value, w: Value, n: Value) -> Value:
        def body(bb: Builder, k: Value, xc: Value) -> tuple[Value, list[Value]]:
            even = bb.op("eq", bb.op("mod", k, bb.const(2)), bb.const(0))
            (nxt,) = if_(bb, even, lambda t: [t.op("mul", xc, w)],
                         lambda e: [e.op("add", e.op("sin", xc), w)])
            return bb.const(True), [nxt]
        (xf,) = loop(b, n, b.const(True), [x], body)
        return b.op("sum", b.op("exp", xf))
    g = make(fn, T((2,)), T((2,)), PYINT, names=("x", "w", "n"))
    for n in (0, 1, 4):
        check_grad(g, [np.array([0.4, -0.3]), np.array([0.9, 1.2]), n], (0, 1))


def test_loop_inside_if() -> None:
    """if c > 0: repeat n times x = tanh(x * w) else: x = exp(x) * w."""
    def fn(b: Builder, x: Value, w: Value, c: Value, n: Value) -> Value:
        def then(bb: Builder) -> list[Value]:
            def body(lb: Builder, k: Value, xc: Value) -> tuple[Value, list[Value]]:
                return lb.const(True), [lb.op("tanh", lb.op("mul", xc, w))]
            return loop(bb, n, bb.const(True), [x], body)

        def other(bb: Builder) -> list[Value]:
            return [bb.op("mul", bb.op("exp", x), w)]
        (y,) = if_(b, b.op("gt", c, b.const(0.0)), then, other)
        return b.op("sum", b.op("mul", y, c))
    g = make(fn, T((3,)), T((3,)), T(()), PYINT, names=("x", "w", "c", "n"))
    x, w = np.array([0.5, -0.2, 1.0]), np.array([1.3, 0.7, -0.4])
    for c, n in ((1.5, 3), (1.5, 0), (-1.0, 3)):
        check_grad(g, [x, w, np.float64(c), n], (0, 1, 2))


def test_loop_inside_if_whose_gradient_stops_inside() -> None:
    """The loop's reverse runs (popping its tapes) though no cotangent leaves the branch:
    its init is full_like(x, 2.0), which depends on x for its shape only."""
    def fn(b: Builder, x: Value, c: Value) -> Value:
        def then(bb: Builder) -> list[Value]:
            a = bb.op("full_like", x, bb.const(2.0))

            def body(lb: Builder, k: Value, y: Value) -> tuple[Value, list[Value]]:
                return lb.const(True), [lb.op("sin", y)]
            return loop(bb, bb.const(3), bb.const(True), [a], body)
        (y,) = if_(b, b.op("gt", c, b.const(0.0)), then,
                   lambda bb: [bb.op("zeros", shape=(2,), dtype=F64)])
        return b.op("sum", y)
    g = make(fn, T((2,)), T(()), names=("x", "c"))
    _, (gx,) = grad(g, [np.array([0.1, 0.2]), np.float64(1.0)], (0,))  # checks live_tapes
    assert not gx.any()
    check_grad(g, [np.array([0.1, 0.2]), np.float64(-1.0)], (0,))


def test_loop_inside_loop() -> None:
    """for i in range(3): (for j in range(2): x = sin(x) * w); x = x + 0.1 * i * w."""
    def fn(b: Builder, x: Value, w: Value) -> Value:
        def outer(ob: Builder, i: Value, xc: Value) -> tuple[Value, list[Value]]:
            def inner(ib: Builder, j: Value, xi: Value) -> tuple[Value, list[Value]]:
                return ib.const(True), [ib.op("mul", ib.op("sin", xi), w)]
            (xin,) = loop(ob, ob.const(2), ob.const(True), [xc], inner)
            shift = ob.op("mul", ob.op("mul", ob.op("cast", i, dtype=F64), ob.const(0.1)), w)
            return ob.const(True), [ob.op("add", xin, shift)]
        (xf,) = loop(b, b.const(3), b.const(True), [x], outer)
        return b.op("sum", b.op("mul", xf, xf))
    g = make(fn, T((2,)), T((2,)), names=("x", "w"))
    check_grad(g, [np.array([0.7, -1.1]), np.array([1.2, 0.8])], (0, 1))


def test_second_derivative_through_a_loop_is_refused() -> None:
    g1 = vjp_graph(_for_loop(), (0,))
    with pytest.raises(JitTypeError, match="loop"):
        vjp_graph(make(lambda b, *ps: b.op("sum", inline(b, g1, ps)[-1]),
                       *(p.type for p in g1.params)), (0,))


def test_loop_gradient_graph_prints() -> None:
    text = str(vjp_graph(_for_loop(), (0, 1)))
    for word in ("tape_new", "tape_push", "tape_pop", "loop("):
        assert word in text


def _pipeline_cases() -> list[tuple[Graph, list[Any], tuple[int, ...]]]:
    x3, w3 = np.array([0.5, -1.0, 2.0]), np.array([1.1, 0.9, -0.8])
    return [(_for_loop(), [x3, w3, np.float64(0.3), 4], (0, 1, 2)),
            (_newton(), [np.array([1.0, 1.2, 1.5]), np.float64(2.0)], (0, 1)),
            (_branchy(), [x3, w3, np.float64(-1.0)], (0, 1, 2)),
            (_model_graph(), [np.ones((4, 3)), np.ones((4, 1)), np.full((3, 5), 0.1),
                              np.ones((5, 1)), np.ones((5, 1)), np.float64(2.0)], (2, 3))]


@pytest.mark.parametrize("i", range(4))
def test_gradient_graphs_survive_the_pipeline(i: int) -> None:
    """const_fold/simplify/cse/dce keep a gradient graph's values, tapes included."""
    passes = pytest.importorskip("jitgraph.passes")
    g, args, argnums = _pipeline_cases()[i]
    G = vjp_graph(g, argnums)
    O = passes.run_pipeline(G, verify=verify is not None)
    for a, b in zip(run(G, *args), run(O, *args), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert live_tapes() == 0


@pytest.mark.parametrize("i", range(4))
def test_gradient_graphs_round_trip_as_text(i: int) -> None:
    parser = pytest.importorskip("jitgraph.ir.parser")
    g, _, argnums = _pipeline_cases()[i]
    G = vjp_graph(g, argnums)
    assert parser.parse_ir(str(G)) == G


# ---------------------------------------------------------------------------------------
# custom_vjp
# ---------------------------------------------------------------------------------------
def _sigmoid_parts(scale: float) -> tuple[Graph, Graph]:
    """fwd(x) -> (y, y); bwd(y, ct) -> scale * ct * y * (1 - y)."""
    def fwd(b: Builder, x: Value) -> list[Value]:
        one = b.const(1.0)
        y = b.op("div", one, b.op("add", one, b.op("exp", b.op("neg", x))))
        return [y, y]

    def bwd(b: Builder, y: Value, ct: Value) -> Value:
        d = b.op("mul", y, b.op("sub", b.const(1.0), y))
        return b.op("mul", b.op("mul", ct, d), b.const(scale))
    return make(fwd, T((3,))), make(bwd, T((3,)), T((3,)))


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_custom_vjp_uses_bwd(scale: float) -> None:
    fwd, bwd = _sigmoid_parts(scale)
    g = make(lambda b, x: b.op("sum", b.op("mul", custom_vjp(b, fwd, bwd, [x], "sigmoid"),
                                           x)), T((3,)), names=("x",))
    assert sum(n.op == "custom_vjp" for n in g.walk()) == 1
    x = np.array([0.3, -1.0, 2.0])
    y = 1 / (1 + np.exp(-x))
    (val,), (gx,) = grad(g, [x], (0,))
    assert float(val) == pytest.approx(float((y * x).sum()))
    np.testing.assert_allclose(gx, y + x * scale * y * (1 - y))
    assert "custom_vjp_call" in str(vjp_graph(g, (0,)))
    if scale == 1.0:  # a correct bwd agrees with finite differences, to second order too
        check_grad(g, [x], (0,))
        check_grad(grad_scalar(g, 0, np.array([1.0, -0.5, 0.25])), [x], (0,))


def test_custom_vjp_checks_its_graphs() -> None:
    fwd, bwd = _sigmoid_parts(1.0)
    b = Builder(Block([Value(T((4,)))]))
    with pytest.raises(JitTypeError, match="fwd"):
        custom_vjp(b, fwd, bwd, b.block.params)


# ---------------------------------------------------------------------------------------
# through the frontend: NumPy Python, differentiated by jg.grad / jg.value_and_grad
# ---------------------------------------------------------------------------------------
needs_frontend = pytest.mark.skipif(not hasattr(jg, "grad") or not hasattr(jg, "script"),
                                    reason="the frontend (jg.script, jg.grad) is not there")


def eager_numgrad(fn: Callable[..., Any], args: Sequence[Any], i: int,
                  eps: float = 1e-6) -> Any:
    """Central differences of the plain Python function (the eager reference)."""
    def f(xx: np.ndarray) -> float:
        a = list(args)
        a[i] = float(xx) if isinstance(args[i], float) else xx
        return float(fn(*a))
    out = central_diff(f, args[i], eps)
    return float(out) if isinstance(args[i], float) else out


def check_script_grad(fn: Callable[..., Any], args: Sequence[Any], argnums: tuple[int, ...],
                      rtol: float = 1e-5, atol: float = 1e-6) -> Any:
    value, gs = jg.value_and_grad(fn, argnums=argnums, backend="interp")(*args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-12)
    for i, gi in zip(argnums, gs, strict=True):
        assert np.shape(gi) == np.shape(args[i])
        assert np.asarray(gi).dtype == np.asarray(args[i]).dtype
        np.testing.assert_allclose(gi, eager_numgrad(fn, args, i), rtol=rtol, atol=atol,
                                   err_msg=f"argument {i}")
    return gs


def fe_model(x, y, w1, w2a, w2b, prev_loss):
    w2 = w2a if prev_loss < 5.0 else w2b
    h = np.maximum(x @ w1, 0.0)
    y_pred = h @ w2
    return ((y_pred - y) ** 2).sum()


def _model_args() -> list[Any]:
    rng = np.random.default_rng(11)
    return [rng.normal(size=s) for s in ((6, 4), (6, 1), (4, 5), (5, 1), (5, 1))]


@needs_frontend
@pytest.mark.parametrize("prev_loss", [1.0, 9.0])
def test_script_model(prev_loss: float) -> None:
    check_script_grad(fe_model, [*_model_args(), prev_loss], (2, 3, 4))


@needs_frontend
def test_script_grad_inside_script() -> None:
    """One scripted function holds forward, backward and the update (issue 3's `step`)."""
    @jg.script(backend="interp")
    def step(x, y, w1, w2a, w2b, prev_loss, lr):
        loss, (g1, g2a, g2b) = jg.value_and_grad(fe_model, argnums=(2, 3, 4))(
            x, y, w1, w2a, w2b, prev_loss)
        return loss, w1 - lr * g1, w2a - lr * g2a, w2b - lr * g2b
    args = _model_args()
    loss, w1, w2a, w2b = step(*args, 1.0, 1e-3)
    want, (g1, g2a, g2b) = jg.value_and_grad(fe_model, argnums=(2, 3, 4),
                                             backend="interp")(*args, 1.0)
    np.testing.assert_allclose(loss, want)
    np.testing.assert_allclose(w1, args[2] - 1e-3 * g1)
    np.testing.assert_allclose(w2a, args[3] - 1e-3 * g2a)
    np.testing.assert_array_equal(w2b, args[4])  # not picked: a zero gradient
    assert not g2b.any()


def fe_newton(x, a):
    n = 0
    while np.abs(x ** 3 - a).max() > 1e-6 and n < 100:
        x = x - 0.1 * (x ** 3 - a)
        n += 1
    return x.sum()


@needs_frontend
def test_script_while_loop() -> None:
    x0 = np.array([1.0, 1.2, 1.5])
    _, dx0, da, _ = _newton_reference(x0.copy(), 2.0)
    gx, ga = jg.grad(fe_newton, argnums=(0, 1), backend="interp")(x0, 2.0)
    np.testing.assert_allclose(gx, dx0, rtol=1e-9, atol=1e-12)
    assert isinstance(ga, float) and ga == pytest.approx(da.sum(), rel=1e-9)


def fe_for(x, w, n):
    for i in range(n):
        x = np.sin(x) * w + i * 0.1
    return (x * x).sum()


@needs_frontend
@pytest.mark.parametrize("n", [0, 1, 5])
def test_script_for_loop(n: int) -> None:
    check_script_grad(fe_for, [np.array([0.5, -1.0]), np.array([1.1, 0.9]), n], (0, 1))


def _fe_helper(v, s):
    return np.tanh(v) * s, v.sum()


def fe_indexing(x, i, idx, w):
    a, _ = _fe_helper(x[1:, ::2], 2.0)
    b = x[i] * w
    c = x[idx] ** 2
    return a.sum() + b.sum() + c.sum() + x[-1, 0] * x[0, -1]


@needs_frontend
def test_script_helpers_and_indexing() -> None:
    x = np.random.default_rng(5).normal(size=(4, 3))
    check_script_grad(fe_indexing, [x, 2, np.array([0, 0, 3]), np.array([1.0, -2.0, 0.5])],
                      (0, 3))


def fe_reductions(x, w):
    h = x @ w
    m = h.max(axis=1, keepdims=True)
    s = (np.exp(h - m).sum(axis=1) * x.mean(axis=0).sum()).sum()
    return s + x.std(axis=0).sum() + np.prod(w, axis=0).sum() + x.var()


@needs_frontend
def test_script_reductions_and_matmul() -> None:
    rng = np.random.default_rng(6)
    check_script_grad(fe_reductions, [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))],
                      (0, 1))


def fe_pair(x):
    return x, (x ** 2).sum()


@needs_frontend
def test_script_tuple_output_index() -> None:
    x = np.array([1.0, -2.0, 3.0])
    g = jg.grad(fe_pair, output_index=1, backend="interp")(x)
    np.testing.assert_allclose(g, 2 * x)


def fe_f32(x, w):
    return (np.tanh(x @ w) * 2.0).sum()


@needs_frontend
def test_script_float32() -> None:
    rng = np.random.default_rng(8)
    x, w = rng.normal(size=(2, 3)).astype(F32), rng.normal(size=(3, 2)).astype(F32)
    gx, gw = jg.grad(fe_f32, argnums=(0, 1), backend="interp")(x, w)
    assert gx.dtype == F32 and gw.dtype == F32
    d = 2 * (1 - np.tanh(x.astype(F64) @ w) ** 2)
    np.testing.assert_allclose(gx, d @ w.T, rtol=1e-5)
    np.testing.assert_allclose(gw, x.T.astype(F64) @ d, rtol=1e-5)


@needs_frontend
def test_script_int_argument_error() -> None:
    with pytest.raises(jg.JitTypeError, match="'i'"):
        jg.grad(fe_indexing, argnums=1, backend="interp")(
            np.ones((4, 3)), 2, np.array([0]), np.ones(3))


def fe_branch(x):
    if x > 0:
        y = x ** 3
    else:
        y = np.sin(x) * x
    return y


@needs_frontend
def test_script_grad_of_grad() -> None:
    d2 = jg.grad(jg.grad(fe_branch, backend="interp"), backend="interp")
    assert d2(0.7) == pytest.approx(6 * 0.7)
    assert d2(-1.3) == pytest.approx(2 * np.cos(-1.3) + 1.3 * np.sin(-1.3))


def _ema_loss(x, alpha, n):
    acc = x[0] * 0.0
    for i in range(n):
        acc = alpha * x[i] + (1.0 - alpha) * acc
    return acc * acc


@pytest.mark.parametrize("n", [0, 1, 5])
def test_loop_invariant_residuals_are_computed_once_not_taped(n: int) -> None:
    """(1.0 - alpha) is needed by the reverse pass but depends only on values from before
    the loop: it is computed before the loop, not pushed every iteration; the gradient is
    unchanged, also when the loop runs zero times."""
    x = np.random.default_rng(0).standard_normal(6)
    f = jg.grad(jg.script(_ema_loss, backend="interp"), argnums=(0, 1))
    gx, ga = f(x, 0.3, n)
    num_x = central_diff(lambda v: _ema_loss(v, 0.3, n), x)
    num_a = (_ema_loss(x, 0.3 + 1e-6, n) - _ema_loss(x, 0.3 - 1e-6, n)) / 2e-6
    np.testing.assert_allclose(gx, num_x, rtol=1e-6, atol=1e-9)
    assert abs(ga - num_a) < 1e-6
    text = f.dump(x, 0.3, n, stage="grad")
    subs = [line for line in text.splitlines() if "= sub(" in line and "%alpha" in line]
    assert subs and all(line.startswith("  %") for line in subs), text   # outside the loop
