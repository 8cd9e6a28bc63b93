"""Dicts as pytrees (JAX's convention): a dict argument is one graph parameter per entry, in
sorted-key order; inside a scripted function it is read with d[k], d.get, d.keys(),
d.values(), d.items(), `k in d`, len(d) and `for k in d`, rebuilt with displays, `**d`,
comprehensions and `d[k] = v`; it may be returned, and jg.grad with respect to it returns
a dict with the same keys. Compared with eager NumPy on interp and cpu, gradients with
central differences in float64."""
from __future__ import annotations

import numpy as np
import pytest

import jitgraph as jg

BACKENDS = ["interp", "cpu"]


def _params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"w1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4),
            "w2": rng.standard_normal((4, 2))}


def _data(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


def predict(p, x):
    h = np.tanh(x @ p["w1"] + p["b1"])
    return h @ p["w2"]


def loss(p, x, y):
    return ((predict(p, x) - y) ** 2).mean()


def sgd_step(p, x, y, lr=0.1):
    val, g = jg.value_and_grad(loss)(p, x, y)
    return {k: p[k] - lr * g[k] for k in p}, val


def rebuild(p, x):
    new = {}
    for k, v in p.items():
        new[k] = v * 2.0
    new["w1"] += 1.0
    total = sum(v.sum() for v in p.values())
    extra = {**new, "total": total}
    has = ("b1" in p) and ("nope" not in p)
    return extra, len(p), has, p.get("b1"), p.get("nope", 0.5)


def branchy(d, x):
    if x.sum() > 0:
        d["a"] = d["a"] + x
    else:
        d["a"] = d["a"] * x
    return d["a"] - d["b"]


def nested(p):
    (a, b), c = p["ab"], p["c"]
    return a * b["z"] + c


def int_keys(d):
    return d[0] - 2 * d[1]


def _close(got, want):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want)
        for k in want:
            _close(got[k], want[k])
        return
    if isinstance(want, (tuple, list)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _close(g, w)
        return
    assert type(got) is type(want) or isinstance(want, np.generic) and \
        np.asarray(got).dtype == np.asarray(want).dtype, (type(got), type(want))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dict_argument_matches_eager(backend):
    p = _params()
    x, y = _data()
    f = jg.script(loss, backend=backend, fallback="error")
    _close(f(p, x, y), loss(p, x, y))
    # same structure: one signature; other keys: another
    f(_params(3), x, y)
    assert len(f.signatures()) == 1
    q = dict(p, extra=np.zeros(2))
    _close(f(q, x, y), loss(q, x, y))
    assert len(f.signatures()) == 2
    assert f.signatures()[0][0] == "{'b1': f64[4], 'w1': f64[3,4], 'w2': f64[4,2]}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_of_dict_is_dict_and_matches_central_differences(backend):
    p = _params()
    x, y = _data()
    g = jg.grad(loss, backend=backend)(p, x, y)
    assert isinstance(g, dict) and sorted(g) == sorted(p)
    h = 1e-6
    for k, v in p.items():
        assert g[k].shape == v.shape and g[k].dtype == np.float64
        for idx in np.ndindex(v.shape):
            hi, lo = dict(p), dict(p)
            hi[k], lo[k] = v.copy(), v.copy()
            hi[k][idx] += h
            lo[k][idx] -= h
            fd = (loss(hi, x, y) - loss(lo, x, y)) / (2 * h)
            assert abs(g[k][idx] - fd) < 1e-6 * max(1.0, abs(fd)), (k, idx)


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_step_returns_new_dict(backend):
    p = _params()
    x, y = _data()
    step = jg.script(sgd_step, backend=backend, fallback="error")
    got = step(p, x, y)
    want = sgd_step(p, x, y)
    _close(got, want)
    for _ in range(3):       # the compiled step trains, like the eager one
        p, val = step(p, x, y)
    assert val < want[1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,args", [
    (rebuild, lambda: (_params(), _data()[0])),
    (branchy, lambda: ({"a": np.arange(3.0), "b": np.ones(3)}, np.arange(3.0))),
    (branchy, lambda: ({"a": np.arange(3.0), "b": np.ones(3)}, -np.arange(3.0) - 1)),
    (nested, lambda: ({"ab": (np.arange(3.0), {"z": np.ones(3) * 2}), "c": 1.5},)),
    (int_keys, lambda: ({0: np.arange(3.0), 1: np.ones(3)},)),
], ids=["rebuild", "branch-then", "branch-else", "nested", "int-keys"])
def test_dict_idioms_match_eager(backend, fn, args):
    a = args()
    got = jg.script(fn, backend=backend, fallback="error")(*a)
    _close(got, fn(*args()))


def carried(d, n):
    for i in range(n):
        d = {k: v * 2 + i for k, v in d.items()}
        pair = (d["a"].sum(), i)
    return d, pair


def carried_tuple(x, n):
    best = (0, x[0])
    for i in range(1, n):
        if x[i] > best[1]:
            best = (i, x[i])
    return best


@pytest.mark.parametrize("backend", BACKENDS)
def test_loops_carry_dicts_and_tuples_as_containers(backend):
    # a carried pytree stays a container (before, a tuple came back stacked as an array)
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    d = {"a": x, "b": x[:2]}
    _close(jg.script(carried, backend=backend, fallback="error")(d, 3), carried(d, 3))
    got = jg.script(carried_tuple, backend=backend, fallback="error")(x, 5)
    assert got == carried_tuple(x, 5) and type(got[0]) is int
    g = jg.grad(lambda d: carried(d, 2)[0]["a"].sum(), backend=backend)(d)
    np.testing.assert_allclose(g["a"], np.full(5, 4.0))
    np.testing.assert_allclose(g["b"], np.zeros(2))


def test_generic_graph_shows_dict_functions():
    for fn in (loss, sgd_step, rebuild, branchy, carried, carried_tuple):
        text = str(jg.script(fn).graph)
        assert text.startswith(f"graph {fn.__name__}(")


def _raises(fn, args, match):
    with pytest.raises(jg.JitTypeError, match=match):
        jg.script(fn, backend="interp")(*args)


def test_dict_errors_are_clear():
    x = np.arange(3.0)

    def missing(d):
        return d["nope"]
    _raises(missing, ({"a": x},), r"d\['nope'\]: no such key; the dict has 'a'")

    _raises(int_keys, ({0: x, "s": x},), r"argument 'd'.*sortable")

    def reshaped(d, n):
        for _ in range(n):
            d = {**d, "b": d["a"]}
        return d
    _raises(reshaped, ({"a": x}, 3), r"'d' changes structure inside the loop")

    def update(d):
        d.update({"b": d["a"]})
        return d
    with pytest.raises(jg.ScriptError, match="expression statement"):
        jg.script(update)

    def pop(d):
        return d.pop("a")
    with pytest.raises(jg.ScriptError, match=r"\.pop is not supported"):
        jg.script(pop)

    def pop_made(x):
        d = {"a": x}
        return d.pop("a")
    _raises(pop_made, (x,), r"dict\.pop\(\) is not supported")

    def different(d, x):
        if x.sum() > 0:
            d = {"a": x}
        else:
            d = {"b": x}
        return d
    _raises(different, ({"a": x}, x), r"dicts with different keys")


def test_strings_are_still_refused_outside_keys():
    def text_value(x):
        return x + "a"
    with pytest.raises(jg.ScriptError, match="string"):
        jg.script(text_value)


def list_loss(ps, x):
    w, b = ps
    return ((x @ w + b) ** 2).sum()


def list_step(ps, x):
    g = jg.grad(list_loss)(ps, x)
    new = [p - 0.1 * q for p, q in zip(ps, g)]
    return new + [x.sum()], (ps[0],) + (g[1], x), isinstance(g, list)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lists_stay_lists(backend):
    # JAX: the gradient with respect to a list is a list; inside the function a list
    # argument is a list (+ concatenates, as Python does, where it used to stack)
    ps = [np.ones((3, 2)), np.zeros(2)]
    x = np.arange(12.0).reshape(4, 3) / 10
    g = jg.grad(list_loss, backend=backend)(ps, x)
    assert isinstance(g, list) and [a.shape for a in g] == [(3, 2), (2,)]
    assert isinstance(jg.grad(list_loss, backend=backend)(tuple(ps), x), tuple)
    got = jg.script(list_step, backend=backend, fallback="error")(ps, x)
    _close(got, list_step(ps, x))
