"""Constructs of ordinary NumPy code beyond the first frontend subset: list comprehensions
and generator expressions over iterables known at compile time (unrolled), nested `def`s
(inlined, closing over the enclosing function's variables), `raise` decided at compile
time, `*t` unpacking of static tuples; and the clear errors for what stays refused
(run-time lengths and raises, np.where(cond), np.random, recursion). Every construct is
compared with the eager function on the interpreter and the cpu backend; gradients
through comprehensions and nested defs against central differences in float64."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from compare import assert_same_result

import jitgraph as jg

BACKENDS = ["interp", "cpu"]


def _cpu_skip_reason() -> str:
    try:
        from jitgraph.backends import get_backend
        be = get_backend("cpu")
        if not be.available():
            return f"cpu backend unavailable: {be.why_unavailable()}"
    except Exception as e:  # noqa: BLE001
        return f"cpu backend does not import: {type(e).__name__}: {e}"
    return ""


def script(fn, backend):
    if backend == "cpu" and _cpu_skip_reason():
        pytest.skip(_cpu_skip_reason())
    # fallback="error": a graph the cpu backend cannot compile fails, never runs elsewhere
    return jg.script(fn, backend=backend, fallback="error")


def arr(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _marker_loc(fn, marker="# ERR"):
    lines, first = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if marker in line:
            return first + i, line.rstrip("\n")
    raise AssertionError("marker not found")


def _where(fn):
    """`test_frontend_more.py:<line>` of the line marked `# ERR` in fn."""
    lineno, _ = _marker_loc(fn)
    return f"{__file__.rsplit('/', 1)[-1]}:{lineno}"


# ======================================================================= comprehensions
def lc_rows_times_w(x, w):
    ys = [x[i] * w for i in range(3)]
    return np.stack(ys), ys


def genexp_sum_static(x):
    n = x.shape[0]
    return sum(x[i] for i in range(n))


def genexp_sum_arg(x, n):
    return sum(x[i] * 2.0 for i in range(n))


def stack_over_rows(x):
    return np.stack([np.tanh(r) * 2.0 for r in x])


def filtered(x):
    return np.stack([x[i] for i in range(x.shape[0]) if i % 2 == 0])


def zip_enumerate(x, y):
    return sum(a * b * i for i, (a, b) in enumerate(zip(x, y), start=1))


def zip_static_tuples(x, y):
    scales = (0.5, 2.0)
    return [a * s for a, s in zip((x, y), scales)]


def two_fors(x):
    return np.stack([x[i, j] for i in range(3) for j in range(i + 1)])


def static_values(x):
    shape = [2 * s for s in x.shape]
    return np.zeros(shape, dtype=x.dtype), tuple(s - 1 for s in x.shape)


def reductions_of_comprehensions(x):
    return (max(x[i].sum() for i in range(3)), any(s > 3 for s in x.shape),
            all([d > 1 for d in x.shape]), len([r for r in x]))  # noqa: C419


def comprehension_in_loop(x):
    acc = np.zeros(x.shape[1], dtype=x.dtype)
    for k in range(3):
        acc = acc + sum([x[i] * k for i in range(x.shape[0])])
    return acc


def comprehension_in_branch(x, t):
    if t > 0.0:
        y = np.stack([r * t for r in x])
    else:
        y = x
    return y


def target_does_not_leak(x):
    i = 10
    ys = [x[i] for i in range(2)]
    return ys[1] * i


def int_rows_sum(x):
    return sum(x), sum(r for r in x)


COMPREHENSIONS = [
    (lc_rows_times_w, lambda: (arr(3, 4), 1.5)),
    (lc_rows_times_w, lambda: (arr(3, 4, dtype=np.float32), np.float32(2.0))),
    (genexp_sum_static, lambda: (arr(4, 2),)),
    (genexp_sum_static, lambda: (arr(3, dtype=np.float32),)),
    (genexp_sum_arg, lambda: (arr(5, 3), 3)),
    (stack_over_rows, lambda: (arr(4, 3),)),
    (stack_over_rows, lambda: (arr(2, 3, dtype=np.float32),)),
    (filtered, lambda: (arr(5, 2),)),
    (zip_enumerate, lambda: (arr(3, 2), arr(4, 2, seed=1))),
    (zip_static_tuples, lambda: (arr(2), arr(2, seed=1))),
    (two_fors, lambda: (arr(3, 3),)),
    (static_values, lambda: (arr(2, 3, dtype=np.float32),)),
    (reductions_of_comprehensions, lambda: (arr(3, 4),)),
    (comprehension_in_loop, lambda: (arr(3, 2),)),
    (comprehension_in_branch, lambda: (arr(3, 2), 0.5)),
    (comprehension_in_branch, lambda: (arr(3, 2), -0.5)),
    (target_does_not_leak, lambda: (arr(3, 2),)),
    (int_rows_sum, lambda: (np.arange(6, dtype=np.int8).reshape(3, 2) * 50,)),
    (int_rows_sum, lambda: (arr(3, 2, dtype=np.float32),)),
]


def _ids(cases):
    seen: dict[str, int] = {}
    out = []
    for fn, _ in cases:
        k = seen[fn.__name__] = seen.get(fn.__name__, -1) + 1
        out.append(f"{fn.__name__}{k or ''}")
    return out


def _check(fn, make, backend):
    f = script(fn, backend)
    want = fn(*make())
    got = f(*make())
    assert_same_result(got, want)
    assert_same_result(f(*make()), want)  # the cached specialization


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,make", COMPREHENSIONS, ids=_ids(COMPREHENSIONS))
def test_comprehension_matches_eager(fn, make, backend):
    _check(fn, make, backend)


def test_comprehension_is_unrolled():
    f = jg.script(lc_rows_times_w, backend="interp")
    text = str(f.graph_for(arr(3, 4), 1.5))
    assert text.count("getitem") == 3 and "loop" not in text, text
    # the generic graph shows the unrolled items when the range is static
    assert str(f.graph).count("getitem") == 3
    # ... and one opaque item when the length is known only at specialization
    g = jg.script(stack_over_rows, backend="interp").graph
    assert "comprehension" in str(g) and "stack" in str(g), str(g)


# ======================================================================= nested defs
def nested_closure_late_binding(x, s):
    k = 2.0

    def helper(t, m=3.0):
        return t * k + m * s
    a = helper(x)
    k = 5.0          # rebound between the def and the second call: Python sees 5.0
    return a + helper(x, 1.0)


def nested_default_evaluated_at_def(x):
    c = 1.5

    def f(t, scale=c):
        return t * scale
    c = 100.0
    return f(x) + c


def nested_of_nested(x):
    a = 2.0

    def outer(t):
        b = 3.0

        def inner(u):
            return u * a + b
        return inner(t) + inner(2.0 * t)
    return outer(x)


def nested_with_control_flow(x, n):
    def clipped_power(t, k):
        acc = np.ones_like(t)
        for _ in range(k):
            acc = acc * t
        if acc.sum() > 1.0:
            return np.minimum(acc, 1.0)
        return acc
    return clipped_power(x, n)


def nested_called_in_loop(x):
    w = 1.0
    acc = np.zeros_like(x)

    def step(a, i):
        return a + x * w * i
    for i in range(3):
        acc = step(acc, i)
        w = w + 1.0
    return acc


def _apply_twice(f, x):
    return f(f(x))


def nested_passed_to_helper(x, s):
    def scale(t):
        return t * s + 1.0
    return _apply_twice(scale, x)


def nested_in_comprehension(x):
    def feat(r):
        return np.tanh(r).sum()
    return np.stack([feat(r) for r in x])


def nested_returns_tuple(x):
    def stats(t):
        return t.mean(axis=0), t.max()
    m, mx = stats(x)
    return m * mx


NESTED = [
    (nested_closure_late_binding, lambda: (arr(3, 2), 0.5)),
    (nested_closure_late_binding, lambda: (arr(3, dtype=np.float32), 0.5)),
    (nested_default_evaluated_at_def, lambda: (arr(2, 2),)),
    (nested_of_nested, lambda: (arr(4),)),
    (nested_with_control_flow, lambda: (arr(3), 3)),
    (nested_with_control_flow, lambda: (arr(3) * 0.1, 2)),
    (nested_called_in_loop, lambda: (arr(2, 3),)),
    (nested_passed_to_helper, lambda: (arr(3), 0.25)),
    (nested_in_comprehension, lambda: (arr(3, 2, dtype=np.float32),)),
    (nested_returns_tuple, lambda: (arr(3, 2),)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,make", NESTED, ids=_ids(NESTED))
def test_nested_def_matches_eager(fn, make, backend):
    _check(fn, make, backend)


# ======================================================================= gradients
def loss_comprehension(x, w):
    hs = [np.tanh(x[i] * w[i]) for i in range(x.shape[0]) if i != 1]
    return sum(h.sum() for h in hs) + np.stack(hs).mean()


def loss_stack_rows(x, w):
    return (np.stack([np.sin(r @ w) for r in x]) ** 2).sum()


def loss_nested(x, w):
    scale = 0.5

    def layer(h, k=2.0):
        return np.tanh(h @ w) * scale + k
    h = layer(x)
    scale = 2.0
    return (layer(h, 1.0) ** 2).sum()


def loss_nested_and_comprehension(x, w):
    def score(r):
        return np.exp(-(r * w).sum())
    return sum(score(r) for r in x) / x.shape[0]


GRADS = [
    (loss_comprehension, lambda: (arr(3, 2), arr(3, 2, seed=1))),
    (loss_stack_rows, lambda: (arr(3, 2), arr(2, 2, seed=1))),
    (loss_nested, lambda: (arr(2, 3) * 0.5, arr(3, 3, seed=1) * 0.5)),
    (loss_nested_and_comprehension, lambda: (arr(3, 2) * 0.5, arr(2, seed=1))),
]


def _numeric_grad(fn, args, i, eps=1e-6):
    base = [np.array(a, dtype=np.float64) for a in args]
    g = np.zeros_like(base[i])
    for idx in np.ndindex(base[i].shape):
        plus = [a.copy() for a in base]
        minus = [a.copy() for a in base]
        plus[i][idx] += eps
        minus[i][idx] -= eps
        g[idx] = (fn(*plus) - fn(*minus)) / (2 * eps)
    return g


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,make", GRADS, ids=_ids(GRADS))
def test_gradient_vs_central_differences(fn, make, backend):
    f = script(fn, backend)
    args = make()
    value, grads = jg.value_and_grad(f, argnums=(0, 1))(*args)
    assert_same_result(value, fn(*args))
    for i, g in enumerate(grads):
        assert g.dtype == np.float64 and g.shape == args[i].shape
        np.testing.assert_allclose(g, _numeric_grad(fn, args, i), rtol=1e-6, atol=1e-7)


# ======================================================================= raise
def needs_matrix(x):
    if x.ndim != 2:
        raise ValueError(f"expected 2-D, got {x.shape} ({x.dtype}, ndim={x.ndim:d})")
    return x * 2.0


def mode_switch(x, mode):
    if mode == 0:
        return x
    elif mode == 1:
        return -x
    else:
        raise ValueError(f"unknown mode {mode!r}")


def raise_class_only(x):
    if x.shape[0] == 0:
        raise NotImplementedError
    return x.sum()


def raise_percent_format(x):
    if x.shape[-1] < 3:
        raise IndexError("need %d columns, got %d" % (3, x.shape[-1])  # noqa: UP031
                         + " of " + str(x.dtype))
    return x[..., :3]


def _check_square(a):
    if a.shape[0] != a.shape[1]:
        raise ValueError("matrix is not square: {}x{}".format(*a.shape))
    return a


def raise_in_helper(a):
    return _check_square(a) @ a


def raise_in_nested(a):
    def check(t):
        if t.ndim < 1:
            raise TypeError("scalars are not accepted")
        return t
    return check(a) + 1.0


def raise_in_loop_body(x, n):
    total = x
    for _ in range(n):
        if x.ndim > 1:
            raise ValueError("only vectors")
        total = total + x
    return total


RAISES = [
    (needs_matrix, lambda: (arr(2, 3),)),
    (needs_matrix, lambda: (arr(3),)),
    (needs_matrix, lambda: (arr(2, 2, 2, dtype=np.float32),)),
    (mode_switch, lambda: (arr(2), 1)),
    (mode_switch, lambda: (arr(2), 7)),
    (raise_class_only, lambda: (arr(0, 2),)),
    (raise_class_only, lambda: (arr(1, 2),)),
    (raise_percent_format, lambda: (arr(2, 2),)),
    (raise_percent_format, lambda: (arr(2, 4),)),
    (raise_in_helper, lambda: (arr(2, 3),)),
    (raise_in_helper, lambda: (arr(2, 2),)),
    (raise_in_nested, lambda: (arr(2),)),
    (raise_in_nested, lambda: (np.float64(1.5),)),
    (raise_in_loop_body, lambda: (arr(2, 2), 0)),
    (raise_in_loop_body, lambda: (arr(2, 2), 2)),
    (raise_in_loop_body, lambda: (arr(2), 2)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,make", RAISES, ids=_ids(RAISES))
def test_raise_matches_eager(fn, make, backend):
    f = script(fn, backend)
    try:
        want = fn(*make())
    except Exception as e:  # noqa: BLE001
        for _ in range(2):  # every call with that signature raises, before anything runs
            with pytest.raises(type(e)) as ei:
                f(*make())
            assert type(ei.value) is type(e)
            assert str(ei.value) == str(e)
            # a note (PEP 678) says where jitgraph raised it; the message is eager's
            notes = getattr(ei.value, "__notes__", [])
            assert any(f"{__file__}:" in n and "jitgraph" in n for n in notes), notes
        return
    assert_same_result(f(*make()), want)


def test_raise_vanishes_from_graphs():
    f = jg.script(needs_matrix, backend="interp")
    assert "pycall" not in str(f.graph)  # the generic graph skips the raising branch
    assert str(f.graph_for(arr(2, 2))).count("mul") == 1


# ======================================================================= * unpacking
def star_shape_display(x):
    return np.zeros((*x.shape, 2), dtype=x.dtype) + x[..., None], np.ones([2, *x.shape])


def _add3(a, b, c):
    return a + b * c


def star_static_tuple_call(x, y):
    args = (x, y, 2.0)
    return _add3(*args), np.add(*(x, y)), x.reshape(*x.shape[::-1])


def star_in_comprehension_results(x):
    parts = [x[i] * i for i in range(2)]
    return np.stack([*parts, x[2]])


def star_in_index(x):
    lead = (1,)
    idx = (0, slice(1, None))
    return x[(*lead, 0)], x[(*lead, slice(None, 2))], x[idx]


STARS = [
    (star_in_index, lambda: (arr(3, 4),)),
    (star_shape_display, lambda: (arr(2, 3),)),
    (star_shape_display, lambda: (arr(4, dtype=np.float32),)),
    (star_static_tuple_call, lambda: (arr(2, 3), arr(2, 3, seed=1))),
    (star_in_comprehension_results, lambda: (arr(3, 2),)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,make", STARS, ids=_ids(STARS))
def test_starred_matches_eager(fn, make, backend):
    _check(fn, make, backend)


# ======================================================================= errors
def err_runtime_range(x):
    n = int(x.sum() > 0) + 1
    return sum(x[i] for i in range(n))  # ERR


def err_runtime_filter(x):
    return [r for r in x if r.sum() > 0]  # ERR


def err_runtime_raise(x):
    if x.sum() > 0:
        raise ValueError("positive")  # ERR
    return x


def err_runtime_raise_in_ifexp(x):
    def check(t):
        if t.ndim > 1:
            raise ValueError("bad")  # ERR
        return t
    return check(x) if x.sum() > 0 else x


def err_runtime_message(x):
    if x.ndim > 1:
        raise ValueError(f"sum is {x.sum()}")  # ERR
    return x


def err_star_runtime(x):
    return np.add(*x)  # ERR


def err_closure_item_assign(x):
    out = np.zeros(3)

    def put(v):
        out[0] = v  # ERR
        return v
    r = put(x.sum())
    return out, r


def err_read_before_assign(x):
    def g():
        return y * 2.0  # ERR
    r = g()
    y = x
    return r


def err_comprehension_over_scalar(x):
    return [t for t in x.sum()]  # ERR


CALL_ERRORS = [
    (err_runtime_range, (arr(3),), jg.JitTypeError, "length known at compile time"),
    (err_runtime_filter, (arr(3, 2),), jg.JitTypeError, "np.where"),
    (err_runtime_raise, (arr(3),), jg.JitTypeError, "run time"),
    (err_runtime_raise_in_ifexp, (arr(3, 2),), jg.JitTypeError, "run time"),
    (err_runtime_message, (arr(3, 2),), jg.JitTypeError, "run-time value"),
    (err_star_runtime, (arr(2, 3),), jg.JitTypeError, "*x"),
    (err_closure_item_assign, (arr(3),), jg.JitTypeError, "enclosing function"),
    (err_comprehension_over_scalar, (arr(3),), jg.JitTypeError, "0-d"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,args,exc,text", CALL_ERRORS,
                         ids=[c[0].__name__ for c in CALL_ERRORS])
def test_error_at_call(fn, args, exc, text, backend):
    f = script(fn, backend)
    with pytest.raises(exc) as ei:
        f(*args)
    msg = str(ei.value)
    assert _where(fn) in msg, msg
    assert text in msg, msg


def err_where_one_arg(x):
    return np.where(x > 0)  # ERR


def err_nonzero(x):
    return np.nonzero(x)  # ERR


def err_random(a):
    return a + np.random.rand(*a.shape)  # ERR


_RNG = np.random.default_rng(0)


def err_generator_method(a):
    return a + _RNG.normal(size=a.shape)  # ERR


def err_recursion(x):
    def g(t):
        return g(t)  # ERR
    return g(x)


def err_fstring_outside_raise(x):
    s = f"{x}"  # ERR  # noqa: F841
    return x


def err_decorated_def(x):
    @staticmethod  # ERR
    def g(t):
        return t
    return g(x)


def err_bare_raise(x):
    raise  # ERR  # noqa: PLE0704


DECORATION_ERRORS = [
    (err_where_one_arg, "three-argument form"),
    (err_nonzero, "data-dependent shape"),
    (err_random, "pass them in as arguments"),
    (err_generator_method, "pass them in as arguments"),
    (err_recursion, "recursion"),
    (err_fstring_outside_raise, "f-string"),
    (err_decorated_def, "decorated nested function"),
    (err_bare_raise, "bare raise"),
    (err_read_before_assign, "has not assigned yet"),
]


@pytest.mark.parametrize("fn,text", DECORATION_ERRORS,
                         ids=[c[0].__name__ for c in DECORATION_ERRORS])
def test_error_at_decoration(fn, text):
    with pytest.raises(jg.ScriptError) as ei:
        jg.script(fn, backend="interp")
    msg = str(ei.value)
    assert _where(fn) in msg, msg
    assert text in msg, msg
    assert ei.value.lineno == _marker_loc(fn)[0]


def test_where_one_arg_message_says_why():
    with pytest.raises(jg.ScriptError) as ei:
        jg.script(err_where_one_arg, backend="interp")
    msg = str(ei.value)
    assert "data-dependent" in msg and "np.nonzero" in msg, msg


def test_three_argument_where_still_works():
    def f(x):
        return np.where(x > 0, x, 0.5 * x)
    _check(f, lambda: (arr(3, 2),), "interp")


@pytest.mark.parametrize("fn", [stack_over_rows, lc_rows_times_w, zip_enumerate,
                                nested_closure_late_binding, needs_matrix, star_shape_display])
def test_generic_graph_round_trips(fn):
    g = jg.script(fn, backend="interp").graph
    assert str(jg.parse_ir(str(g))) == str(g)
