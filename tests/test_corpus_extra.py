"""The second corpus (tests/corpus_extra.py) through `jg.script` on the interp and cpu
backends, compared with eager NumPy exactly (result type, dtype, shape; values within the
dtype's tolerance), twice with other values; its differentiable entries through `jg.grad`
against central finite differences of the eager function; the cpu backend compiling them
without falling back; and bad input (unsupported syntax, bad shapes and dtypes, wrong
argument counts) run in a subprocess, where each case must raise the documented exception
class and nothing may crash the process.

Failures that are jitgraph bugs are kept as strict xfails with a one-line diagnosis."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from compare import assert_same_result as _assert_same
from compare import describe
from compare import input_tolerance as _input_tolerance
from corpus_extra import EXTRA as _EXTRA

import jitgraph as jg

# Later corpora in the same format, each its own module of user-style functions whose
# names carry the module's prefix (tests/corpus_<prefix>.py, entries named <prefix>_...).
LATER_CORPORA = ("corpus_sci", "corpus_ml", "corpus_algo")
# Their PENDING entries (jitgraph bugs not fixed yet) run as strict xfails: each must
# still fail somewhere (matching eager, or its gradient), with its one-line diagnosis.
EXTRA: dict[str, Any] = dict(_EXTRA)
PENDING: dict[str, str] = {}
for _mod in LATER_CORPORA:
    if os.path.exists(os.path.join(os.path.dirname(__file__), _mod + ".py")):
        _m = __import__(_mod)
        assert not set(_m.CORPUS) & set(EXTRA), f"{_mod}: names already taken"
        EXTRA.update(_m.CORPUS)
        for _name, (_fn, _make, _argnums, _why) in getattr(_m, "PENDING", {}).items():
            EXTRA[_name] = (_fn, _make, _argnums)
            PENDING[_name] = _why

RTOL = {np.dtype(np.float16): 1e-3, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}


def assert_same_result(got: Any, want: Any, where: str = "result", tol: float = 0.0) -> None:
    _assert_same(got, want, where, tol, RTOL)


def input_tolerance(args: tuple) -> float:
    return _input_tolerance(args, RTOL)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _copies(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def run_eager(fn: Any, args: tuple) -> Any:
    with np.errstate(all="ignore"):
        return fn(*_copies(args))


@functools.cache
def _cpu_skip_reason() -> str:
    try:
        from jitgraph.backends import get_backend
        be = get_backend("cpu")
        if not be.available():
            return f"cpu backend unavailable: {be.why_unavailable()}"
    except Exception as e:  # noqa: BLE001
        return f"cpu backend does not import: {type(e).__name__}: {e}"
    return ""


def _maybe_skip(backend: str) -> None:
    if backend == "cpu" and _cpu_skip_reason():
        pytest.skip(_cpu_skip_reason())


# ---------------------------------------------------------------------------------------
# known jitgraph bugs: (entry, backend or None for both) -> diagnosis
# ---------------------------------------------------------------------------------------
_GAP = "unsupported: {what} raises ScriptError (a common NumPy idiom; eager runs it)"
EAGER_XFAIL: dict[tuple[str, str | None], str] = {
    ("imag_part", None): _GAP.format(what="x.imag"),
    ("solve_normal_equations", None): _GAP.format(what="np.linalg.solve"),
}
EAGER_XFAIL.update({(name, None): why for name, why in PENDING.items()})
GRAD_XFAIL: dict[tuple[str, str | None], str] = {
}
FALLBACK_XFAIL: dict[str, str] = {
}


def _params(table: dict[tuple[str, str | None], str], names: list[str]) -> list[Any]:
    out = []
    for name in names:
        for b in ("interp", "cpu"):
            why = table.get((name, b)) or table.get((name, None))
            marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
            out.append(pytest.param(name, b, marks=marks, id=f"{name}-{b}"))
    return out


# ---------------------------------------------------------------------------------------
# compiled == eager
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,backend", _params(EAGER_XFAIL, list(EXTRA)))
def test_extra_matches_eager(name: str, backend: str) -> None:
    _maybe_skip(backend)
    fn, make_args, _ = EXTRA[name]
    f = jg.script(fn, backend=backend)
    for variant in (0, 1):
        args = make_args(np.random.default_rng(200 + variant), variant)
        want = run_eager(fn, args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jg.FallbackWarning)
            got = f(*_copies(args))
        assert_same_result(got, want, f"{name} call {variant + 1}", input_tolerance(args))
    sigs = f.signatures()
    assert len(sigs) == 1, f"the second call recompiled: {sigs}"


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[pytest.mark.xfail(strict=True, reason=FALLBACK_XFAIL[n])]
                 if n in FALLBACK_XFAIL else []) for n in EXTRA])
def test_extra_cpu_no_fallback(name: str) -> None:
    """Ordinary functions compile natively on the cpu backend: no fallback to interp.
    (fallback="error", because FallbackWarning is warned only once per process.)"""
    _maybe_skip("cpu")
    fn, make_args, _ = EXTRA[name]
    args = make_args(np.random.default_rng(300), 0)
    try:
        jg.script(fn, backend="cpu", fallback="error")(*_copies(args))
    except jg.CompileError as e:
        pytest.fail(f"cpu cannot compile it (it would fall back): {str(e).splitlines()[0]}")
    except Exception:  # noqa: BLE001 - wrong results/errors are test_extra_matches_eager's
        pytest.skip("the call itself fails (see test_extra_matches_eager)")


def test_extra_keyword_call_and_defaults() -> None:
    """Keyword arguments and defaults of the scripted function itself."""
    fn = EXTRA["rms_norm"][0]
    rng = np.random.default_rng(5)
    x, g = rng.standard_normal((2, 3)).astype(np.float32), np.ones(3, np.float32)
    for backend in ("interp", "cpu"):
        if backend == "cpu" and _cpu_skip_reason():
            continue
        f = jg.script(fn, backend=backend)
        assert_same_result(f(x, g), fn(x, g))
        assert_same_result(f(x, g, eps=0.5), fn(x, g, eps=0.5))
        assert_same_result(f(x=x, g=g, eps=0.25), fn(x, g, eps=0.25))


def test_extra_scalar_type_change_recompiles_correctly() -> None:
    """The same scripted function called with an int, then a float, then a 0-d array for
    one argument: each agrees with eager."""
    fn = EXTRA["int_with_python"][0]
    a = np.arange(-4, 5, dtype=np.int32)
    for backend in ("interp", "cpu"):
        if backend == "cpu" and _cpu_skip_reason():
            continue
        f = jg.script(fn, backend=backend)
        for k in (3, 2.5, np.int64(4), np.float32(1.5)):
            assert_same_result(f(a, k), run_eager(fn, (a, k)), f"k={k!r}")


# ---------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------
GRAD_NAMES = [n for n, (_, _, an) in EXTRA.items() if an is not None]


def _fd_check(fn: Any, args: tuple, argnums: tuple[int, ...], grads: tuple, where: str,
              rng: np.random.Generator, ncoords: int = 3, eps: float = 1e-6) -> None:
    for k, i in enumerate(argnums):
        a = args[i]
        g = grads[k]
        assert isinstance(g, np.ndarray) or np.ndim(a) == 0, f"{where}: grad {k} {describe(g)}"
        assert np.shape(g) == np.shape(a), f"{where}: grad {k} shape {np.shape(g)} != {a.shape}"
        assert np.asarray(g).dtype == a.dtype, f"{where}: grad {k} dtype {np.asarray(g).dtype}"
        flat = rng.choice(a.size, size=min(ncoords, a.size), replace=False)
        for j in flat:
            idx = np.unravel_index(j, a.shape)
            plus, minus = a.copy(), a.copy()
            plus[idx] += eps
            minus[idx] -= eps
            ap = list(args)
            am = list(args)
            ap[i], am[i] = plus, minus
            with np.errstate(all="ignore"):
                fd = (float(fn(*ap)) - float(fn(*am))) / (2 * eps)
            got = float(np.asarray(g)[idx])
            assert abs(got - fd) <= 1e-5 + 1e-4 * abs(fd), \
                f"{where}: d/d{i}{idx}: got {got}, finite differences {fd}"


@pytest.mark.parametrize("name,backend", _params(GRAD_XFAIL, GRAD_NAMES))
def test_extra_grad_matches_fd(name: str, backend: str) -> None:
    _maybe_skip(backend)
    fn, make_args, argnums = EXTRA[name]
    an = argnums if isinstance(argnums, tuple) else (argnums,)
    gf = jg.grad(fn, argnums, backend=backend)
    for variant in (0, 1):
        args = make_args(np.random.default_rng(400 + variant), variant)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jg.FallbackWarning)
            got = gf(*_copies(args))
        if isinstance(argnums, tuple):
            assert isinstance(got, tuple) and len(got) == len(an), describe(got)
            grads = got
        else:
            grads = (got,)
        _fd_check(fn, args, an, grads, f"{name} call {variant + 1}",
                  np.random.default_rng(7 + variant))


def test_extra_value_and_grad_f32_dtypes() -> None:
    """float32 in, float32 gradient out; the value matches eager; an unused argument's
    gradient is zeros of its shape."""
    def loss(p, t, unused):
        return ((p - t) ** 2).mean() * 0.5

    rng = np.random.default_rng(9)
    p, t = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    u = np.ones((2, 2), np.float32)
    for backend in ("interp", "cpu"):
        if backend == "cpu" and _cpu_skip_reason():
            continue
        val, (gp, gt, gu) = jg.value_and_grad(loss, (0, 1, 2), backend=backend)(p, t, u)
        assert_same_result(val, loss(p, t, u))
        for g, a in ((gp, p), (gt, t), (gu, u)):
            assert isinstance(g, np.ndarray) and g.dtype == np.float32 and g.shape == a.shape
        np.testing.assert_allclose(gp, (p - t) / 6, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gt, -(p - t) / 6, rtol=1e-5, atol=1e-6)
        assert not gu.any()


def test_extra_grad_inside_script_training_step() -> None:
    """A whole training step (value_and_grad inside @jg.script, then the update) agrees
    with the same step computed from the separately compiled gradient."""
    fn = EXTRA["two_layer_tanh"][0]

    def step(x, w1, b1, w2, lr):
        loss, (g1, gb, g2) = jg.value_and_grad(fn, (1, 2, 3))(x, w1, b1, w2)
        return loss, w1 - lr * g1, b1 - lr * gb, w2 - lr * g2

    rng = np.random.default_rng(11)
    x, w1, b1, w2 = (rng.standard_normal(s) for s in [(4, 3), (3, 5), (5,), (5, 2)])
    ref_g = jg.grad(fn, (1, 2, 3), backend="interp")(x, w1, b1, w2)
    want = (fn(x, w1, b1, w2), w1 - 0.1 * ref_g[0], b1 - 0.1 * ref_g[1], w2 - 0.1 * ref_g[2])
    for backend in ("interp", "cpu"):
        if backend == "cpu" and _cpu_skip_reason():
            continue
        got = jg.script(step, backend=backend)(x, w1, b1, w2, 0.1)
        assert_same_result(got, want)


# ---------------------------------------------------------------------------------------
# bad input, in one subprocess (a crash of the interpreter fails the case, not the run)
# ---------------------------------------------------------------------------------------
BAD_MODULE = '''
import numpy as np
import jitgraph as jg


def uses_try(x):
    try:
        y = x * 2.0
    except ValueError:
        y = x
    return y


def uses_with(x):
    with np.errstate(all="ignore"):
        y = np.log(x)
    return y


def uses_lambda(x):
    f = lambda v: v * 2.0
    return f(x)


def uses_listcomp(x):
    return sum([x[i] for i in range(3)])


def uses_genexp(x):
    return sum(x[i] for i in range(3))


def uses_setcomp(x):
    d = {x[i] for i in range(2)}
    return d


def uses_class(x):
    class A:
        pass
    return x


def uses_global(x):
    global COUNTER
    COUNTER = 1
    return x


def uses_nested_def(x):
    def inner(v):
        return v + 1.0
    return inner(x)


def uses_import(x):
    import math
    return x * math.pi


def uses_yield(x):
    yield x


def uses_star_args(x, *rest):
    return x


def uses_kwargs(x, **options):
    return x


def uses_string_einsum(x):
    return np.einsum("ij->i", x)


def uses_item_assign(x):
    y = np.zeros(3)
    y[0] = x.sum()
    return y


def uses_mask_assign(x):
    x[x < 0] = 0.0
    return x


def uses_attr_assign(x):
    x.shape = (2, 3)
    return x


def uses_print(x):
    print("loss", x.sum())
    return x


def uses_fstring(x):
    s = f"{x}"
    return x


def uses_raise(x):
    if x.ndim != 2:
        raise ValueError("need a matrix")
    return x


def uses_walrus(x):
    if (n := x.shape[0]) > 2:
        return x * n
    return x


def uses_del(x):
    y = x * 2.0
    del y
    return x


def uses_set_literal(x):
    d = {x, x}
    return d


def dense(x, w):
    return x @ w


def add(x, y):
    return x + y


def reshape6(x):
    return x.reshape(2, 3)


def concat0(a, b):
    return np.concatenate([a, b], axis=0)


def second_dim(x):
    return x * x.shape[1]


def index10(x):
    return x[10]


def sum_axis3(x):
    return x.sum(axis=3)


def dot3d(a, b):
    return np.dot(a, b)


def array_truth(x):
    if x > 0:
        return x
    return -x


def loss_int(x, k):
    return (x * k).sum()


def vector_out(x):
    return x * 2.0


def two_args(x, y):
    return x + y


def runtime_zeros(n):
    return np.zeros(n) + 1.0


def runtime_slice(x, k):
    return x[:k].sum()


def iterate_rows(x):
    total = 0.0
    for row in x:
        total = total + row.sum()
    return total


def enumerate_rows(x):
    total = 0.0
    for i, row in enumerate(x):
        total = total + i * row.sum()
    return total


def bool_mask_index(x):
    return x[x > 0].sum()


def cumsum_call(x):
    return np.cumsum(x)


def sort_call(x):
    return np.sort(x)


def std_ddof(x):
    return x.std(ddof=1)


def logaddexp_call(a, b):
    return np.logaddexp(a, b)


def uses_kwonly(x, *, scale=2.0):
    return x * scale


def uses_starred_assign(x):
    n, *rest = x.shape
    return x * n


def shape_grows(x):
    h = x
    for i in range(3):
        h = np.concatenate([h, x])
    return h.sum()


def branch_shapes(x, flag):
    y = x if flag else x.sum(axis=0)
    return y * 2.0


def recursive_helper(n):
    return fact(n)


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def uses_string_dtype(x):
    return x.astype("float32")
'''

# name -> (python expression run in the subprocess, what must happen)
#   "ScriptError@decoration": jg.script(fn) raises jg.ScriptError
#   "JitTypeError": the call raises jg.JitTypeError (and names an argument)
#   "TypeError": the call raises exactly TypeError (Python's argument binding)
#   "ok|ScriptError|JitTypeError": probes of things eager NumPy accepts: either the compiled
#       result equals eager, or the documented refusal (never another exception or a crash)
_SYNTAX = ["try", "with", "lambda", "setcomp", "class", "global",
           "import", "yield", "star_args", "kwargs",
           "attr_assign", "print", "fstring", "walrus",
           "del", "set_literal", "kwonly", "starred_assign"]
BAD_CASES: dict[str, tuple[str, str]] = {
    f"syntax_{s}": (f"jg.script(M.uses_{s}, backend=B)", "ScriptError@decoration")
    for s in _SYNTAX
}
BAD_CASES.update({
    "matmul_mismatch": ("jg.script(M.dense, backend=B)(F(4, 3), F(5, 2))", "JitTypeError"),
    "broadcast_mismatch": ("jg.script(M.add, backend=B)(F(3, 4), F(5))", "JitTypeError"),
    # lists and tuples are pytrees of arguments; NumPy calls on them see an array, as
    # eager NumPy converts them
    "list_argument": ("jg.script(M.add, backend=B)([1.0, 2.0], F(2))", "ok"),
    "string_argument": ("jg.script(M.add, backend=B)('ab', F(2))", "JitTypeError"),
    "none_argument": ("jg.script(M.add, backend=B)(None, F(2))", "JitTypeError"),
    "object_array": ("jg.script(M.add, backend=B)(np.array([1, 'a'], dtype=object), F(2))",
                     "JitTypeError"),
    "datetime_array": ("jg.script(M.add, backend=B)(np.zeros(2, 'datetime64[s]'), F(2))",
                       "JitTypeError"),
    "reshape_bad_size": ("jg.script(M.reshape6, backend=B)(F(7))", "JitTypeError"),
    "concat_mismatch": ("jg.script(M.concat0, backend=B)(F(2, 3), F(2, 4))", "JitTypeError"),
    "rank_too_low": ("jg.script(M.second_dim, backend=B)(F(4))", "JitTypeError"),
    "static_index_out_of_range": ("jg.script(M.index10, backend=B)(F(5))", "JitTypeError"),
    "axis_out_of_range": ("jg.script(M.sum_axis3, backend=B)(F(2, 3))", "JitTypeError"),
    "dot_3d": ("jg.script(M.dot3d, backend=B)(F(2, 3, 4), F(4, 2))", "JitTypeError"),
    "array_truth_value": ("jg.script(M.array_truth, backend=B)(F(3))", "JitTypeError"),
    "grad_wrt_int": ("jg.grad(M.loss_int, 1, backend=B)(F(3), 2)", "JitTypeError"),
    "grad_wrt_int_array": ("jg.grad(M.loss_int, 1, backend=B)(F(3), np.arange(3))",
                           "JitTypeError"),
    "grad_vector_output": ("jg.grad(M.vector_out, backend=B)(F(3))", "JitTypeError"),
    "too_few_args": ("jg.script(M.two_args, backend=B)(F(2))", "TypeError"),
    "too_many_args": ("jg.script(M.two_args, backend=B)(F(2), F(2), F(2))", "TypeError"),
    "unknown_keyword": ("jg.script(M.two_args, backend=B)(F(2), z=F(2))", "TypeError"),
    "grad_too_few_args": ("jg.grad(M.two_args, backend=B)(F(2))", "TypeError"),
    "runtime_zeros": ("jg.script(M.runtime_zeros, backend=B)(3)", "ok|ScriptError|JitTypeError"),
    "runtime_slice": ("jg.script(M.runtime_slice, backend=B)(F(5), 3)",
                      "ok|ScriptError|JitTypeError"),
    "iterate_rows": ("jg.script(M.iterate_rows, backend=B)(F(3, 2))",
                     "ok|ScriptError|JitTypeError"),
    "enumerate_rows": ("jg.script(M.enumerate_rows, backend=B)(F(3, 2))",
                       "ok|ScriptError|JitTypeError"),
    "bool_mask_index": ("jg.script(M.bool_mask_index, backend=B)(F(6))",
                        "ok|ScriptError|JitTypeError"),
    "np_cumsum": ("jg.script(M.cumsum_call, backend=B)(F(4))", "ok|ScriptError|JitTypeError"),
    "np_sort": ("jg.script(M.sort_call, backend=B)(F(4))", "ok|ScriptError|JitTypeError"),
    "std_ddof": ("jg.script(M.std_ddof, backend=B)(F(5))", "ok|ScriptError|JitTypeError"),
    "np_logaddexp": ("jg.script(M.logaddexp_call, backend=B)(F(3), F(3))",
                     "ok|ScriptError|JitTypeError"),
    "tuple_argument": ("jg.script(M.add, backend=B)((F(2), F(2)), F(2))", "ok"),
    "range_argument": ("jg.script(M.add, backend=B)(range(2), F(2))", "JitTypeError"),
    "shape_grows_in_loop": ("jg.script(M.shape_grows, backend=B)(F(2))", "JitTypeError"),
    "branch_shape_mismatch": ("jg.script(M.branch_shapes, backend=B)(F(3, 2), True)",
                              "ok|ScriptError|JitTypeError"),
    "recursion": ("jg.script(M.recursive_helper, backend=B)(5)", "ok|ScriptError|JitTypeError"),
    # item assignment into a fresh array is compiled; into an argument it is refused
    # (a compiled function does not change its caller's arrays)
    "item_assign": ("jg.script(M.uses_item_assign, backend=B)(F(3, 2))", "ok"),
    "mask_assign": ("jg.script(M.uses_mask_assign, backend=B)(F(3, 2))", "JitTypeError"),
    # a string constant as np.einsum's subscripts is allowed (composites_einsum.py)
    "string_einsum": ("jg.script(M.uses_string_einsum, backend=B)(F(3, 2))", "ok"),
    # comprehensions over static iterables are unrolled, nested defs inlined, and a raise
    # on a static condition is decided at compile time (not taken here)
    "syntax_listcomp": ("jg.script(M.uses_listcomp, backend=B)(F(3, 2))", "ok"),
    "syntax_genexp": ("jg.script(M.uses_genexp, backend=B)(F(3, 2))", "ok"),
    "syntax_nested_def": ("jg.script(M.uses_nested_def, backend=B)(F(3, 2))", "ok"),
    "syntax_raise": ("jg.script(M.uses_raise, backend=B)(F(3, 2))", "ok"),
})
# a JitTypeError caused by one argument must name it (shared/API.md: "naming the argument")
BAD_NAMES: dict[str, tuple[str, ...]] = {
    "matmul_mismatch": ("x", "w"), "broadcast_mismatch": ("x", "y"), "range_argument": ("x",),
    "string_argument": ("x",), "none_argument": ("x",), "object_array": ("x",),
    "datetime_array": ("x",), "reshape_bad_size": ("x",), "concat_mismatch": ("a", "b"),
    "rank_too_low": ("x",), "static_index_out_of_range": ("x",), "axis_out_of_range": ("x",),
    "dot_3d": ("a", "b"), "array_truth_value": ("x",), "grad_wrt_int": ("k",),
    "grad_wrt_int_array": ("k",), "shape_grows_in_loop": ("h", "x"),
}
_UNNAMED = ("JitTypeError does not name the argument (e.arg None, not in the message): "
            "{where} raises Emitter.type_error without blaming the operand")
BAD_XFAIL: dict[tuple[str, str | None], str] = {
}

RUNNER = r'''
import json, sys, os, warnings, traceback
import numpy as np
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
import jitgraph as jg
import bad_extra as M
cases = json.loads(open(sys.argv[2]).read())
out = open(sys.argv[3], "a")
rng = np.random.default_rng(0)
def F(*shape):
    return rng.standard_normal(shape)

def eager_of(expr):
    # the same call, eagerly: replace jg.script(M.f, backend=B) by M.f
    import re
    m = re.match(r"jg\.script\(M\.(\w+), backend=B\)(\(.*\))$", expr)
    if not m:
        return None
    return "M." + m.group(1) + m.group(2)

for key, expr, expect in cases:
    name, B = key.rsplit("@", 1)
    rec = {"key": key}
    deco_phase = expect == "ScriptError@decoration"
    try:
        rng = np.random.default_rng(0)
        got = eval(expr, {"jg": jg, "M": M, "F": F, "np": np, "B": B})
        rec["outcome"] = "no error"
        if expect.startswith("ok"):
            e_expr = eager_of(expr)
            # the eager call from the same seed, so the arrays agree
            rng = np.random.default_rng(0)
            want = eval(e_expr, {"jg": jg, "M": M, "F": F, "np": np, "B": B})
            same = (type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
                    and np.shape(got) == np.shape(want)
                    and np.allclose(np.asarray(got, float), np.asarray(want, float)))
            rec["outcome"] = "ok" if same else f"wrong result {got!r} vs eager {want!r}"
    except Exception as e:
        rec["outcome"] = "raised"
        rec["cls"] = type(e).__name__
        rec["is_script"] = isinstance(e, jg.ScriptError)
        rec["is_jittype"] = isinstance(e, jg.JitTypeError)
        rec["exact_typeerror"] = type(e) is TypeError
        rec["arg"] = getattr(e, "arg", None)
        rec["msg"] = str(e).splitlines()[0][:200] if str(e) else ""
        rec["full"] = str(e)[:2000]
        rec["tb"] = traceback.format_exc()[-600:] if not (rec["is_script"] or rec["is_jittype"]
                                                         or rec["exact_typeerror"]) else ""
    out.write(json.dumps(rec) + "\n")
    out.flush()
'''


@functools.cache
def _bad_results(tmpdir: str) -> dict[str, dict[str, Any]]:
    with open(os.path.join(tmpdir, "bad_extra.py"), "w") as fh:
        fh.write(BAD_MODULE)
    runner = os.path.join(tmpdir, "runner.py")
    with open(runner, "w") as fh:
        fh.write(RUNNER)
    backends = ["interp"] + ([] if _cpu_skip_reason() else ["cpu"])
    todo = [(f"{n}@{b}", expr, expect) for n, (expr, expect) in BAD_CASES.items()
            for b in backends]
    results: dict[str, dict[str, Any]] = {}
    outfile = os.path.join(tmpdir, "results.jsonl")
    env = dict(os.environ, JITGRAPH_VERIFY="1")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    while todo:
        casefile = os.path.join(tmpdir, "cases.json")
        with open(casefile, "w") as fh:
            json.dump(todo, fh)
        if os.path.exists(outfile):
            os.remove(outfile)
        proc = subprocess.run([sys.executable, runner, tmpdir, casefile, outfile], env=env,
                              check=False, capture_output=True, text=True, timeout=300)
        done = []
        if os.path.exists(outfile):
            with open(outfile) as fh:
                done = [json.loads(line) for line in fh if line.strip()]
        for rec in done:
            results[rec["key"]] = rec
        if len(done) == len(todo):
            break
        # the interpreter died on todo[len(done)]: record the crash, go on after it
        key = todo[len(done)][0]
        results[key] = {"key": key, "outcome": "CRASH", "rc": proc.returncode,
                        "stderr": proc.stderr[-800:]}
        todo = todo[len(done) + 1:]
    return results


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _bad_results(str(tmp_path_factory.mktemp("bad_extra")))


@pytest.mark.parametrize("name,backend", _params(BAD_XFAIL, list(BAD_CASES)))
def test_extra_bad_input(name: str, backend: str, bad_results: dict[str, Any]) -> None:
    _maybe_skip(backend)
    expr, expect = BAD_CASES[name]
    rec = bad_results[f"{name}@{backend}"]
    assert rec["outcome"] != "CRASH", f"{expr} crashed the interpreter: {rec}"
    if expect == "ScriptError@decoration":
        assert rec["outcome"] == "raised" and rec["is_script"], \
            f"{expr}: expected jg.ScriptError at decoration, got {rec}"
    elif expect == "JitTypeError":
        assert rec["outcome"] == "raised" and rec["is_jittype"], \
            f"{expr}: expected jg.JitTypeError, got {rec}"
        names = BAD_NAMES.get(name, ())
        if names:
            msg = rec.get("full", rec["msg"])
            named = rec["arg"] in names or any(
                f"'{n}'" in msg or f"{n}:" in msg or f"%{n}" in msg for n in names)
            assert named, f"{expr}: the JitTypeError names none of {names}: {rec}"
    elif expect == "TypeError":
        assert rec["outcome"] == "raised" and rec["exact_typeerror"], \
            f"{expr}: expected a plain TypeError, got {rec}"
    else:
        ok = rec["outcome"] == "ok" or (rec["outcome"] == "raised" and (
            rec["is_script"] or rec["is_jittype"]))
        assert ok, f"{expr}: expected eager's result or a documented refusal, got {rec}"


def test_extra_corpus_size() -> None:
    assert len(EXTRA) >= 60
    assert len(GRAD_NAMES) >= 20
