"""The NumPy functions built from ops in frontend/composites*.py and the for-loop forms
(reversed(range), enumerate, zip, iterating an array), on every backend, vs eager NumPy;
gradients of the composites against central finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import jitgraph as jg
from jitgraph.backends import get_backend

BACKENDS = ["interp"]
try:
    if get_backend("cpu").available():
        BACKENDS.append("cpu")
except ImportError:
    pass


def f_round(x):
    return np.round(x, 2), x.round(1), np.around(x), np.round(x.astype(np.int32), -1)


def f_stack(x, y):
    return np.hstack([x, y]), np.vstack([x[0], y[0]]), np.column_stack([x[0], y[0]])


def f_flip(x):
    return np.flip(x), np.flip(x, 1), np.fliplr(x), np.flipud(x), np.triu(x, 1), np.tril(x)


def f_diff(x):
    return np.diff(x), np.diff(x, 2, axis=0), np.moveaxis(x[None], 0, -1)


def f_logaddexp(x, y):
    return np.logaddexp(x, y), np.count_nonzero(x > 0), np.count_nonzero(x > 0, axis=1)


def f_nan(x):
    return np.nansum(x), np.nanmax(x, axis=1), np.nanmean(x), np.nanmin(x), np.nanprod(x)


def f_fmax(x, y):
    return np.fmax(x, y), np.fmin(x, y), np.hypot(x, y)


def f_diag(x, y):
    return np.trace(x), np.diag(x), np.diag(x[0]), np.isclose(x, x + 1e-9), np.allclose(y, y)


def f_loops(x, n):
    acc = np.zeros(x.shape[1])
    for t in reversed(range(n)):
        acc = acc * 0.5 + x[t]
    for i, row in enumerate(x):
        acc = acc + row * i
    for row in x:
        acc = acc - row
    for a, b in zip((1.0, 2.0), (3.0, 4.0)):
        acc = acc + a * b
    for t in reversed(range(1, 6, 2)):
        acc = acc + t
    return acc, t


def f_strings(x):
    best = float("inf")
    y = x.astype("float32") + np.zeros(x.shape, dtype="float32")
    return np.minimum(best, y.sum()), y


CASES = [(f_round, 1), (f_stack, 2), (f_flip, 1), (f_diff, 1), (f_logaddexp, 2), (f_nan, 1),
         (f_fmax, 2), (f_diag, 2), (f_strings, 1)]


def _same(a, b):
    if isinstance(b, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), (type(a), type(b))
        for p, q in zip(a, b):
            _same(p, q)
        return
    assert type(a) is type(b), (type(a), type(b))
    assert np.asarray(a).dtype == np.asarray(b).dtype
    assert np.shape(a) == np.shape(b)
    assert np.allclose(a, b, equal_nan=True, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,nargs", CASES, ids=[f.__name__ for f, _ in CASES])
def test_composite_matches_numpy(fn, nargs, backend) -> None:
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((4, 5)) for _ in range(nargs)]
    args[0][0, 1] = np.nan
    if fn in (f_diag, f_strings, f_round):
        args[0][0, 1] = 0.5
    _same(jg.script(fn, backend=backend, fallback="error")(*args), fn(*args))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [0, 1, 3])
def test_for_loop_forms(n, backend) -> None:
    x = np.arange(12.0).reshape(4, 3)
    _same(jg.script(f_loops, backend=backend)(x, n), f_loops(x, n))


def test_composites_differentiate() -> None:
    def loss(x, y):
        return (np.logaddexp(x, y) + np.hypot(x, y) + np.diff(np.flip(x, 0), axis=0).sum()
                + np.triu(x).sum()).sum()
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    g = jg.grad(loss, argnums=0, backend="interp")(x, y)
    eps, fd = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        fd[i] = (loss(x + e, y) - loss(x - e, y)) / (2 * eps)
    assert np.allclose(g, fd, atol=1e-6)


def conv1d(x, w):
    k = w.shape[0]
    acc = 0.0
    for i in range(x.shape[0] - k + 1):
        acc = acc + (x[i:i + k] * w).sum() * (i + 1)
    return acc


def moving_average(x, w):
    s = np.zeros(x.shape[1])
    for t in range(w, x.shape[0] + 1):
        s = s + x[t - w:t].mean(axis=0)
    return s


@pytest.mark.parametrize("backend", BACKENDS)
def test_sliding_windows(backend) -> None:
    x, w = np.arange(10.0), np.array([1.0, -2.0, 0.5])
    _same(jg.script(conv1d, backend=backend)(x, w), conv1d(x, w))
    xs = np.arange(20.0).reshape(5, 4)
    _same(jg.script(moving_average, backend=backend)(xs, 2), moving_average(xs, 2))
    g = jg.grad(conv1d, argnums=1, backend=backend)(x, w)
    eps = 1e-6
    fd = [(conv1d(x, w + e) - conv1d(x, w - e)) / (2 * eps) for e in np.eye(3) * eps]
    assert np.allclose(g, fd, atol=1e-5)


def test_window_with_a_run_time_length_is_refused() -> None:
    def f(x, n):
        s = 0.0
        for i in range(n):
            s = s + x[i:2 * i].sum()
        return s
    with pytest.raises(jg.JitTypeError, match="fixed length"):
        jg.script(f, backend="interp")(np.ones(5), 2)


def test_cumsum_cumprod_values_and_gradients() -> None:
    def f(x):
        return np.cumsum(x, axis=1), x.cumprod(axis=0), np.cumsum(x), np.cumsum(
            x.astype(np.int32), 0)

    def loss(x):
        return ((np.cumsum(x, axis=1) ** 2).sum() + np.cumprod(x, axis=0).sum()
                + (np.cumsum(x) * np.arange(12)).sum())
    x = np.random.default_rng(0).uniform(0.5, 1.5, (3, 4))
    _same(jg.script(f, backend="interp")(x), f(x))
    g = jg.grad(loss, backend="interp")(x)
    eps, fd = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        fd[i] = (loss(x + e) - loss(x - e)) / (2 * eps)
    assert np.allclose(g, fd, atol=1e-5)


# ---------------------------------------------------------------------- contractions
# frontend/composites_einsum.py: einsum, tensordot, inner, vdot, kron
def f_einsum(a, b, c, s, x, y):
    return (np.einsum("ij,jk->ik", a, b), np.einsum("ij,jk", a, b),
            np.einsum("ij,jk,kl->il", a, b, c), np.einsum("ii->i", s), np.einsum("ii", s),
            np.einsum("ij->", a), np.einsum("ij->ji", a), np.einsum("ij->j", a),
            np.einsum("bij,bjk->bik", x, y), np.einsum("...ij,...jk->...ik", x, y),
            np.einsum("ij,ij->ij", a, a), np.einsum("i,j->ij", a[0], b[0]),
            np.einsum("ij,kj", a, a), np.einsum("ba,aB", a, b),
            np.einsum("iij->ij", s.reshape(2, 2, 4)), np.einsum("i,i", a[0], a[1]),
            np.einsum("ij,j->i", a, b[:, 0]), np.einsum("...i,...i", x, a[0]),
            np.einsum("ij,jk->", a, b), np.einsum("i j, jk -> ki", a, b),
            np.einsum("ij,ij->ij", a[:1], a), np.einsum("bij,jk->bik", x, b, optimize=True))


def f_einsum_dtypes(i, j, p, q):
    return (np.einsum("ij,jk->ik", i, j), np.einsum("ii", i[:, :3]), np.einsum("ij->", i),
            np.einsum("i,i", i[0], i[1]), np.einsum("ij,kj->ik", p, q),
            np.einsum("ij->j", p), np.einsum("ij,ij->ij", p[:2], q),
            np.einsum("ij,jk->ik", i.astype(np.float32), j), np.einsum("i,->i", i[0], 2.0))


def f_tensordot(a, b, c):
    return (np.tensordot(a, b, 1), np.tensordot(a, b, axes=0), np.tensordot(a, c, axes=(0, 1)),
            np.tensordot(a[None], c, axes=([2, 1], [0, 1])), np.tensordot(a, b, axes=([1], [0])))


def f_inner(a, b):
    return (np.inner(a, b), np.inner(a[0], b[0]), np.inner(a, 2.0), np.inner(a[0], b),
            np.inner(a[None], b), np.vdot(a, a), np.vdot(a[0], b[0]), np.vdot(a[:2], b))


def f_kron(a, b):
    return np.kron(a, b), np.kron(a[0], b), np.kron(a, 3), np.kron(a[0], b[0])


# ---------------------------------------------------------------------- array building
# frontend/composites_shape.py: split, array_split, take, pad, repeat, tile
def f_split(a):
    p, q = np.split(a, 2)
    return (p * 2.0 + q, np.split(a, [1, 3], axis=1), np.array_split(a, 3, axis=1),
            np.split(a, [-1, 10]), np.array_split(a, [3, 1], axis=1), np.split(a, 1))


def f_take(a, i):
    return (np.take(a, i), np.take(a, i, axis=1), np.take(a, [0, 2, 2, -1]),
            np.take(a, [[1, 0]], axis=0), np.take(a, 3), np.take(a, [1, 0, 3], axis=1),
            np.take(a, 2, axis=-1), np.take(a, np.arange(20) % 3, axis=1),
            np.take(a, i[:2] > 0, axis=0))


# pad's mode as a literal (check.py allows it) and, as some code names it, through globals
CONSTANT, EDGE, REFLECT, SYMMETRIC, WRAP = "constant", "edge", "reflect", "symmetric", "wrap"


def f_pad(a):
    return (np.pad(a, 1), np.pad(a, ((1, 2), (0, 3)), constant_values=5),
            np.pad(a, (2, 1), constant_values=((1, 2), (3, 4))),
            np.pad(a.astype(np.int32), 1, constant_values=1.7), np.pad(a, 0),
            np.pad(a, 1, CONSTANT, constant_values=a[0, 0]))


def f_pad_modes(a):
    return (np.pad(a, 2, mode="edge"), np.pad(a, ((1, 5), (3, 0)), "edge"),
            np.pad(a, 2, mode=REFLECT), np.pad(a, ((1, 5), (3, 0)), mode="reflect"),
            np.pad(a, (7, 0), REFLECT), np.pad(a[:1], 3, mode=REFLECT),
            np.pad(a, 2, mode=SYMMETRIC), np.pad(a, (7, 9), SYMMETRIC),
            np.pad(a, 2, mode=WRAP), np.pad(a, ((1, 5), (3, 0)), mode=WRAP))


def f_repeat_tile(a):
    return (np.repeat(a, 2, axis=0), np.repeat(a, 3), np.repeat(a, [1, 0, 2], axis=0),
            np.repeat(a, 2, axis=-1), np.repeat(a, 0, axis=1), np.repeat(a[0, 0], 3),
            np.repeat(a, [2], axis=1), np.repeat(a.astype(np.int16), 2),
            np.tile(a, 2), np.tile(a, (2, 1)), np.tile(a, (2, 1, 3)), np.tile(a[0], (3, 1)),
            np.tile(a, 1), np.tile(a[0, 0], 3), np.tile(a > 0, (1, 2)))


def _ints(rng, *shape):
    return rng.integers(-3, 4, shape).astype(np.int32)


LIB_CASES = [
    (f_einsum, lambda r: (r.standard_normal((3, 4)), r.standard_normal((4, 5)),
                          r.standard_normal((5, 2)), r.standard_normal((4, 4)),
                          r.standard_normal((2, 3, 4)), r.standard_normal((2, 4, 5)))),
    (f_einsum_dtypes, lambda r: (_ints(r, 3, 4), _ints(r, 4, 5).astype(np.int16),
                                 r.standard_normal((3, 4)) > 0, r.standard_normal((2, 4)) > 0)),
    (f_tensordot, lambda r: (r.standard_normal((3, 4)), r.standard_normal((4, 5)),
                             r.standard_normal((4, 3)))),
    (f_inner, lambda r: (r.standard_normal((3, 4)), r.standard_normal((2, 4)))),
    (f_inner, lambda r: (_ints(r, 3, 4), _ints(r, 2, 4).astype(np.int64))),
    (f_kron, lambda r: (r.standard_normal((2, 3)), r.standard_normal((4, 2)))),
    (f_kron, lambda r: (_ints(r, 2, 3), r.standard_normal((4, 2)).astype(np.float32))),
    (f_split, lambda r: (r.standard_normal((4, 5)),)),
    (f_take, lambda r: (r.standard_normal((3, 4)), np.array([2, 0, 1]))),
    (f_pad, lambda r: (r.standard_normal((3, 4)),)),
    (f_pad_modes, lambda r: (r.standard_normal((3, 4)),)),
    (f_repeat_tile, lambda r: (r.standard_normal((3, 4)),)),
    (f_repeat_tile, lambda r: (r.standard_normal((3, 4)).astype(np.float32),)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,make", LIB_CASES,
                         ids=[f"{f.__name__}-{k}" for k, (f, _) in enumerate(LIB_CASES)])
def test_numpy_lib_matches_numpy(fn, make, backend) -> None:
    args = make(np.random.default_rng(7))
    _same(jg.script(fn, backend=backend, fallback="error")(*args), fn(*args))


def test_einsum_lowers_to_one_matmul() -> None:
    """A two-operand contraction is one matmul, with no transposes when none are needed."""
    def f(x, y):
        return np.einsum("bij,bjk->bik", x, y)
    g = jg.script(f, backend="interp").graph_for(np.ones((2, 3, 4)), np.ones((2, 4, 5)))
    ops = [n.op for n in g.body.nodes if n.op != "constant"]
    assert ops == ["matmul"], ops


def test_tensordot_full_contraction_value() -> None:
    # NOTE: NumPy gives a 0-d ndarray here; jitgraph returns every 0-d result as a scalar
    def f(a, b):
        return np.tensordot(a, b, axes=2)
    a, b = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    got = jg.script(f, backend="interp")(a, b)
    assert got.dtype == np.float64 and got.shape == () and got == f(a, b)


def _fd_grads(loss, args, argnums):
    eps, out = 1e-6, []
    for i in argnums:
        x, g = args[i], np.zeros_like(args[i])
        for j in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[j] = eps
            hi, lo = list(args), list(args)
            hi[i], lo[i] = x + e, x - e
            g[j] = (loss(*hi) - loss(*lo)) / (2 * eps)
        out.append(g)
    return out


def l_einsum(a, b, s):
    return ((np.einsum("ij,jk->ik", a, b) ** 2).sum() + np.einsum("ii", s)
            * np.einsum("ii->i", s).sum() + np.einsum("ij,ij,ij->", a, a, a)
            + np.einsum("i,j->ij", a[0], b[0]).sum() + np.einsum("ij,jk", a, s[:, :3]).sum())


def l_tensordot(a, b, s):
    return ((np.tensordot(a, b, 1) ** 2).sum() + np.tensordot(s, s, axes=([0, 1], [1, 0]))
            + (np.inner(a, a) ** 2).sum() + np.vdot(s, s) + (np.kron(a, s) ** 2).sum())


def l_pad(a, b, s):
    return ((np.pad(a, ((1, 2), (0, 1)), constant_values=3.0) ** 2).sum()
            + (np.pad(s, 2, mode=REFLECT) * np.arange(8.0)).sum()
            + (np.pad(s, 1, mode=EDGE) ** 3).sum())


def l_take(a, b, s):
    return ((np.take(a, [2, 0, 0, 1], axis=0) ** 2).sum()
            + (np.take(s, np.array([[1, 3], [3, 3]])) ** 3).sum() + np.take(b, 4))


def l_split(a, b, s):
    p, q = np.split(s, 2, axis=1)
    u, v, w = np.array_split(b, [1, 3])
    return ((p * q ** 2).sum() + (u.sum() * v ** 2).sum() + (w ** 3).sum()
            + (np.repeat(a, 2, axis=1) ** 2 * np.arange(8.0)).sum()
            + (np.tile(a, (2, 1)) ** 3).sum())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", [l_einsum, l_tensordot, l_pad, l_take, l_split],
                         ids=lambda f: f.__name__)
def test_numpy_lib_gradients(loss, backend) -> None:
    rng = np.random.default_rng(3)
    args = (rng.standard_normal((3, 4)), rng.standard_normal((4, 5)),
            rng.standard_normal((4, 4)))
    got = jg.grad(loss, argnums=(0, 1, 2), backend=backend, fallback="error")(*args)
    for g, fd in zip(got, _fd_grads(loss, args, (0, 1, 2)), strict=True):
        assert g.dtype == np.float64
        assert np.allclose(g, fd, atol=1e-5)


MEAN = "mean"


def r_einsum_shapes(a, b):
    return np.einsum("ij,jk->ik", a, b)


def r_einsum_out(a, b):
    return np.einsum("ij,jk->iq", a, b.T)


def r_einsum_diag(a, b):
    return np.einsum("ii->i", a)


def r_einsum_sublist(a, b):
    return np.einsum(a, [0, 1], [1])


def r_einsum_dtype(a, b):
    return np.einsum("ij->i", a, dtype=np.float32)


def r_tensordot(a, b):
    return np.tensordot(a, b, 1)


def r_inner(a, b):
    return np.inner(a, b)


def r_vdot(a, b):
    return np.vdot(a, b)


def r_split(a, b):
    return np.split(a, 3, axis=1)


def r_take(a, b):
    return np.take(a, [0, 12])


def r_take_float(a, b):
    return np.take(a, b)


def r_pad_negative(a, b):
    return np.pad(a, -1)


def r_pad_mode(a, b):
    return np.pad(a, 1, mode=MEAN)


def r_repeat(a, b):
    return np.repeat(a, [1, 2], axis=0)


def r_repeat_axis(a, b):
    return np.repeat(a, 2, axis=2)


REFUSED = [
    (r_einsum_shapes, jg.JitTypeError, "size 5 for index 'j'"),
    (r_einsum_out, jg.JitTypeError, "output subscript 'q'"),
    (r_einsum_diag, jg.JitTypeError, "collapsing index 'i'"),
    (r_einsum_sublist, jg.ScriptError, "sublist form"),
    (r_einsum_dtype, jg.ScriptError, "keyword 'dtype'"),
    (r_tensordot, jg.JitTypeError, "shape-mismatch"),
    (r_inner, jg.JitTypeError, "shape-mismatch"),
    (r_vdot, jg.JitTypeError, "different lengths"),
    (r_split, jg.JitTypeError, "equal division"),
    (r_take, jg.JitTypeError, "out of bounds"),
    (r_take_float, jg.JitTypeError, "not an integer"),
    (r_pad_negative, jg.JitTypeError, "negative"),
    (r_pad_mode, jg.ScriptError, "mode 'mean' is not supported"),
    (r_repeat, jg.JitTypeError, "do not fit axis 0"),
    (r_repeat_axis, jg.JitTypeError, "out of bounds"),
]


@pytest.mark.parametrize("fn,exc,match", REFUSED, ids=[f.__name__ for f, _, _ in REFUSED])
def test_numpy_lib_refusals(fn, exc, match) -> None:
    """What NumPy rejects (or jitgraph does not support) is refused with the call's
    location."""
    with pytest.raises(exc, match=match) as e:
        jg.script(fn, backend="interp")(np.ones((3, 4)), np.ones((5, 2)))
    assert f"test_numpy_lib.py:{fn.__code__.co_firstlineno + 1}:" in str(e.value)


def test_string_literals_other_than_modes_are_still_refused() -> None:
    def f(a):
        return np.pad(a, 1, mode="edge"), "edge"
    with pytest.raises(jg.ScriptError, match="string"):
        jg.script(f)
