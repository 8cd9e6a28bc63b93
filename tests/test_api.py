"""The public ScriptFunction API of shared/API.md: the signature cache and its log, eager
switches, result conventions, the inspection methods (graph, graph_for, dump, parse_ir
round trip) and the backend fallback policy."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import jitgraph as jg
import jitgraph.config
from jitgraph.ir.graph import Graph

try:
    from jitgraph.ir.parser import parse_ir as _parse_ir  # noqa: F401
    HAVE_PARSER = True
except ImportError:  # written concurrently; the round-trip asserts wait for it
    HAVE_PARSER = False

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def arr(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def affine(x, w, b, scale):
    h = x @ w + b
    return h * scale


def model(x, y, w1, w2a, w2b, prev_loss):
    w2 = w2a if prev_loss < 5.0 else w2b
    h = np.maximum(x @ w1, 0.0)
    y_pred = h @ w2
    loss = ((y_pred - y) ** 2).sum()
    return loss


def model_args(prev_loss=4.2):
    return (arr(4, 3), arr(4, 2, seed=1), arr(3, 5, seed=2), arr(5, 2, seed=3),
            arr(5, 2, seed=4), prev_loss)


def assert_round_trip(g: Graph) -> None:
    if not HAVE_PARSER:
        pytest.skip("jitgraph.ir.parser is not importable yet")
    text = str(g)
    back = jg.parse_ir(text)
    assert back == g
    assert str(back) == text  # locations and names survive too


# ================================================================== signature cache
def test_scalar_value_reuses_compiled_code():
    f = jg.script(affine, backend="interp")
    x, w, b = arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2)
    for s in (0.5, 2.0, -1.0, 1e9):
        np.testing.assert_allclose(f(x, w, b, s), affine(x, w, b, s), rtol=1e-6)
    assert len(f.signatures()) == 1


def test_new_dtype_or_shape_adds_signature():
    f = jg.script(affine, backend="interp")
    x, w, b = arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2)
    f(x, w, b, 0.5)
    f(x, w, b, 0.7)
    assert len(f.signatures()) == 1
    f(arr(5, 3), w, b, 0.5)                       # new shape
    assert len(f.signatures()) == 2
    f(x.astype(np.float64), w, b, 0.5)            # new dtype
    assert len(f.signatures()) == 3
    f(x, w, b, 2)                                 # int instead of float: a new type
    assert len(f.signatures()) == 4
    f(x, w, b, np.float32(2))                     # NumPy scalar: strong f32
    assert len(f.signatures()) == 5
    f(arr(5, 3), w, b, 9.0)                       # seen before
    assert len(f.signatures()) == 5


def test_signatures_contents_arrays():
    f = jg.script(affine, backend="interp")
    x, w, b = arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2)
    f(x, w, b, np.float32(0.5))
    f(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), np.float64(1.0))
    assert f.signatures() == [("f32[2,3]", "f32[3,4]", "f32[4]", "f32[]"),
                              ("f64[2,3]", "f64[3,4]", "f64[4]", "f64[]")]


def test_signatures_name_python_scalars_like_the_ir():
    f = jg.script(affine, backend="interp")
    x, w, b = arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2)
    f(x, w, b, 0.5)
    f(x, w, b, 3)
    f(x, w, b, True)
    assert f.signatures() == [("f32[2,3]", "f32[3,4]", "f32[4]", "pyfloat"),
                              ("f32[2,3]", "f32[3,4]", "f32[4]", "pyint"),
                              ("f32[2,3]", "f32[3,4]", "f32[4]", "pybool")]


def test_static_argnums_signature():
    def f(x, n):
        return x * n
    sf = jg.script(f, backend="interp", static_argnums=(1,))
    sf(arr(2), 3)
    sf(arr(2), 3)
    sf(arr(2), 4)
    sigs = sf.signatures()
    assert len(sigs) == 2
    assert "3" in sigs[0][1] and "4" in sigs[1][1]


def test_keyword_call_shares_cache():
    f = jg.script(affine, backend="interp")
    x, w, b = arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2)
    r1 = f(x, w, b, 0.5)
    r2 = f(x, w, scale=0.5, b=b)
    np.testing.assert_array_equal(r1, r2)
    assert len(f.signatures()) == 1


# ============================================================ recompile logging
@pytest.fixture
def log_recompiles(monkeypatch):
    monkeypatch.setenv("JITGRAPH_LOG", "recompiles")
    jitgraph.config.refresh()
    yield
    monkeypatch.delenv("JITGRAPH_LOG")
    jitgraph.config.refresh()


def _jg_records(caplog):
    return [r for r in caplog.records if r.name == "jitgraph"]


def test_recompile_log_names_changed_argument(log_recompiles, caplog):
    f = jg.script(affine, backend="interp")
    x, w, b = arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2)
    with caplog.at_level(logging.DEBUG, logger="jitgraph"):
        f(x, w, b, 0.5)
        f(x, w, b, 0.25)
        assert _jg_records(caplog) == []          # first compile and cache hits are quiet
        f(x.astype(np.float64), w, b, 0.5)
    recs = _jg_records(caplog)
    assert len(recs) == 1
    msg = recs[0].getMessage()
    assert "affine" in msg
    assert "x" in msg and "f32[2,3]" in msg and "f64[2,3]" in msg
    assert msg.index("f32[2,3]") < msg.index("f64[2,3]")   # before, then after
    assert "w:" not in msg and "b:" not in msg and "scale:" not in msg  # only what changed


def test_recompile_log_shape_change(log_recompiles, caplog):
    f = jg.script(affine, backend="interp")
    w, b = arr(3, 4, seed=1), arr(4, seed=2)
    with caplog.at_level(logging.DEBUG, logger="jitgraph"):
        f(arr(2, 3), w, b, 0.5)
        f(arr(7, 3), w, b, 0.5)
    (rec,) = _jg_records(caplog)
    msg = rec.getMessage()
    assert "x" in msg and "[2,3]" in msg and "[7,3]" in msg


def test_recompile_log_via_monkeypatched_config(monkeypatch, caplog):
    monkeypatch.setattr(jitgraph.config, "LOG", ("recompiles",))
    f = jg.script(affine, backend="interp")
    x, w, b = arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2)
    with caplog.at_level(logging.DEBUG, logger="jitgraph"):
        f(x, w, b, 0.5)
        f(x, w, b, 2)
    (rec,) = _jg_records(caplog)
    msg = rec.getMessage()
    assert "scale" in msg and "pyfloat" in msg and "pyint" in msg


def test_no_recompile_log_by_default(monkeypatch, caplog):
    monkeypatch.setattr(jitgraph.config, "LOG", ())
    f = jg.script(affine, backend="interp")
    x, w, b = arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2)
    with caplog.at_level(logging.DEBUG, logger="jitgraph"):
        f(x, w, b, 0.5)
        f(x.astype(np.float64), w, b, 0.5)
    assert _jg_records(caplog) == []


# ================================================================ eager switches
def sum_of(x):
    return np.sum(x)


def test_disable_enable_runs_eagerly():
    f = jg.script(sum_of, backend="interp")
    with pytest.raises(jg.JitTypeError):
        f(range(1, 4))          # a range is no argument the compiler takes
    jg.disable()
    try:
        r = f(range(1, 4))      # eager NumPy takes it
        assert r == 6 and isinstance(r, np.integer)
    finally:
        jg.enable()
    with pytest.raises(jg.JitTypeError):
        f(range(1, 4))
    assert f.signatures() == []


def test_config_disable_flag(monkeypatch):
    f = jg.script(sum_of, backend="interp")
    monkeypatch.setattr(jitgraph.config, "DISABLE", True)
    assert f([1.0, 2.0]) == 3.0
    assert f.signatures() == []


def test_env_disable_in_subprocess(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        import jitgraph as jg

        @jg.script(backend="interp")
        def f(x):
            return np.sum(x)

        try:
            r = f(range(1, 4))
        except jg.JitTypeError:
            print("COMPILED")
        else:
            print("EAGER", r, type(r).__name__, len(f.signatures()))
    """))
    env = dict(os.environ)
    env.pop("JITGRAPH_DISABLE", None)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=60, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "COMPILED"
    env["JITGRAPH_DISABLE"] = "1"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=60, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "EAGER 6 int64 0"


def test_eager_is_original_function():
    f = jg.script(affine, backend="interp")
    assert f.eager is affine
    assert f.__name__ == "affine"
    g = jg.script(f)               # scripting a ScriptFunction again wraps the same function
    assert g.eager is affine


# ========================================================== result conventions
def test_zero_d_results_are_numpy_scalars_of_eager_dtype():
    def f(x, i):
        return x.sum(), x.mean(), x.max(), i.sum(), i.mean(), x.argmax(), (x > 0).any()
    sf = jg.script(f, backend="interp")
    x, i = arr(3, 4), np.arange(6, dtype=np.int32)
    got, want = sf(x, i), f(x, i)
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want):
        assert type(g) is type(w), (g, w)
        assert isinstance(g, np.generic)
    assert type(got[0]) is np.float32
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)


def test_python_scalar_results():
    def f(a, n):
        return a * 2.0, n + 1, a > 1.0
    sf = jg.script(f, backend="interp")
    got = sf(1.5, 3)
    assert got == (3.0, 4, True)
    assert [type(v) for v in got] == [float, int, bool]


def test_tuple_results():
    def f(x):
        return x, (x.sum(), x * 2.0)
    sf = jg.script(f, backend="interp")
    x = arr(3)
    got = sf(x)
    assert isinstance(got, tuple) and isinstance(got[1], tuple)
    np.testing.assert_array_equal(got[0], x)
    assert got[0].dtype == np.float32 and got[1][1].dtype == np.float32
    assert type(got[1][0]) is np.float32


def test_array_results_are_ndarrays():
    sf = jg.script(affine, backend="interp")
    r = sf(arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2), 0.5)
    assert type(r) is np.ndarray and r.shape == (2, 4) and r.dtype == np.float32


@pytest.mark.parametrize("backend", ["interp", "cpu"])
def test_returned_argument_is_a_new_array(backend):
    # eager NumPy's x * 1.0 and x.copy() are new arrays; simplify turns both into the
    # argument itself, and the caller must still get memory of its own (exactly once)
    x = arr(4, 3)
    for fn in (lambda x: x * 1.0, lambda x: x.copy(), lambda x: (x, x)):
        got = jg.script(fn, backend=backend, fallback="error")(x)
        for r in (got if isinstance(got, tuple) else (got,)):
            assert isinstance(r, np.ndarray) and not np.shares_memory(r, x)
            np.testing.assert_array_equal(r, x)
        if isinstance(got, tuple):
            assert not np.shares_memory(got[0], got[1])


# ================================================================== inspecting
def test_graph_text_names_user_variables():
    f = jg.script(model, backend="interp")
    text = str(f.graph)
    assert text.startswith("graph model(")
    for name in ("%x", "%y", "%w1", "%w2a", "%w2b", "%prev_loss", "%w2", "%h", "%y_pred",
                 "%loss"):
        assert name in text, name
    assert "if(" in text and "else" in text
    assert "matmul" in text and "maximum" in text and "sum" in text
    assert "test_api.py:" in text               # source lines are shown


def test_dump_stages():
    f = jg.script(model, backend="interp")
    args = model_args()
    ir = f.dump(*args, stage="ir")
    assert ir == str(f.graph)
    typed = f.dump(*args, stage="typed")
    assert "f32[4,3]" in typed and "pyfloat" in typed and "if(" in typed
    assert "?" not in typed.replace("# ", "")
    opt = f.dump(*args, stage="optimized")
    assert opt.startswith("graph model(") and "f32[]" in opt
    assert str(f.graph_for(*args)) == opt
    assert f.dump(*args) == opt                 # optimized is the default
    with pytest.raises(ValueError):
        f.dump(*args, stage="nonsense")
    assert len(f.signatures()) == 1


def test_graph_for_returns_graph():
    f = jg.script(model, backend="interp")
    g = f.graph_for(*model_args())
    assert isinstance(g, Graph)
    assert isinstance(f.graph, Graph)
    assert g.params[0].type.shape == (4, 3)
    assert "digraph" in g.to_dot()


def test_graph_for_does_not_run_but_caches():
    f = jg.script(model, backend="interp")
    f.graph_for(*model_args())
    assert len(f.signatures()) == 1
    f(*model_args(7.0))
    assert len(f.signatures()) == 1


def _loop_fn(x, n):
    s = x
    for i in range(n):
        if s.sum() > 0:
            s = s - i
        else:
            s = s * 0.5
    return s, s.sum(axis=0, keepdims=True)


def _while_fn(x):
    k = 0
    while x.max() < 10.0:
        x = x * 2.0 + 1.0
        k += 1
    return x, k


@pytest.mark.parametrize("fn,args", [
    (model, model_args()),
    (affine, (arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2), 0.5)),
    (_loop_fn, (arr(3, 2), 4)),
    (_while_fn, (np.ones(3),)),
], ids=["model", "affine", "loop", "while"])
def test_parse_ir_round_trip(fn, args):
    f = jg.script(fn, backend="interp")
    assert_round_trip(f.graph)
    assert_round_trip(f.graph_for(*args))
    e = f._entry_for(args)
    assert_round_trip(e.typed)


def test_backend_for_interp():
    f = jg.script(affine, backend="interp")
    assert f.backend_for(arr(2, 3), arr(3, 4, seed=1), arr(4, seed=2), 0.5) == "interp"


def test_bad_backend_and_fallback_names():
    with pytest.raises(ValueError):
        jg.script(affine, backend="tpu")
    with pytest.raises(ValueError):
        jg.script(affine, fallback="never")


def test_decorator_keeps_metadata():
    @jg.script(backend="interp")
    def documented(x):
        """Doubles x."""
        return x * 2.0
    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Doubles x."
    assert "documented" in repr(documented)


# ==================================================================== fallback
def _cuda_usable() -> bool:
    try:
        from jitgraph.backends import get_backend
        return bool(get_backend("cuda").available())
    except Exception:  # noqa: BLE001
        return False


needs_no_gpu = pytest.mark.skipif(_cuda_usable(), reason="a GPU is usable here")


@needs_no_gpu
def test_cuda_fallback_warns_once_and_is_right():
    def fallback_probe_fn(x, w):
        return np.tanh(x @ w).sum(axis=1)
    f = jg.script(fallback_probe_fn, backend="cuda")
    x, w = arr(3, 4), arr(4, 2, seed=1)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        r1 = f(x, w)
        r2 = f(x * 2.0, w)                    # same signature
        r3 = f(arr(5, 4), w)                  # new signature, same reason
    fw = [w_ for w_ in rec if issubclass(w_.category, jg.FallbackWarning)]
    cuda_w = [w_ for w_ in fw if "'cuda'" in str(w_.message)]
    assert len(cuda_w) == 1, [str(w_.message) for w_ in fw]
    assert "fallback_probe_fn" in str(cuda_w[0].message)
    for r, xx in ((r1, x), (r2, x * 2.0), (r3, arr(5, 4))):
        want = fallback_probe_fn(xx, w)
        assert r.dtype == want.dtype and r.shape == want.shape
        np.testing.assert_allclose(r, want, rtol=1e-5)
    assert f.backend_for(x, w) in ("cpu", "interp")


@needs_no_gpu
def test_cuda_fallback_error_policy():
    def fallback_error_fn(x):
        return x * 2.0
    f = jg.script(fallback_error_fn, backend="cuda", fallback="error")
    with pytest.raises(jg.CompileError) as ei:
        f(arr(3))
    assert "cuda" in str(ei.value)
    assert f.signatures() == []


def test_auto_backend_is_quiet_without_gpu():
    def auto_probe_fn(x):
        return x + 1.0
    f = jg.script(auto_probe_fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jg.FallbackWarning)
        if not _cuda_usable():
            r = f(arr(3))
            np.testing.assert_allclose(r, arr(3) + 1.0)


def test_last_signature_fast_path_tells_signatures_apart() -> None:
    """Calls alternate dtypes, shapes and Python scalar types: each gets its own result
    type, as eager NumPy gives (the last-signature shortcut must never reuse the wrong
    specialization)."""
    @jg.script
    def f(x, y):
        return x * y

    a32 = np.arange(3, dtype=np.float32)
    calls = [(a32, 2.0), (a32, 2.0), (a32.astype(np.float64), 2.0), (a32, 2),
             (np.arange(4, dtype=np.float32), 2.0), (a32, True), (a32[::-1], 2.0),
             (np.float32(1.5), 2.0), (np.array(1.5, np.float32), 2.0),
             (a32.astype(np.int64), 3), (a32.astype(np.int64), 3.0), (a32, 2.0)]
    for x, y in calls:
        r, e = f(x, y), f.eager(x, y)
        assert type(r) is type(e) and r.dtype == e.dtype and r.shape == e.shape, (x, y)
        np.testing.assert_allclose(r, e, rtol=1e-6)


def _predict(params, x):
    w1, b1, w2 = params
    return np.tanh(x @ w1 + b1) @ w2


def _tree_loss(params, x):
    return (_predict(params, x) ** 2).mean()


@pytest.mark.parametrize("backend", ["interp", "cpu"])
def test_tuple_and_list_arguments_are_pytrees(backend: str) -> None:
    """A model's parameters as one tuple (JAX's pytrees): one graph param per leaf; the
    gradient with respect to the tuple is a tuple of the same shape."""
    rng = np.random.default_rng(0)
    params = (rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2)))
    x = rng.standard_normal((5, 3))
    f = jg.script(_predict, backend=backend, fallback="error")
    np.testing.assert_allclose(f(params, x), _predict(params, x), rtol=1e-12)
    np.testing.assert_allclose(f(list(params), x), _predict(params, x), rtol=1e-12)
    wider = (params[0], params[1], rng.standard_normal((4, 3)))        # another signature
    assert f(wider, x).shape == (5, 3)
    g = jg.grad(jg.script(_tree_loss, backend=backend, fallback="error"))(params, x)
    assert isinstance(g, tuple) and len(g) == 3
    for k, p in enumerate(params):
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            hi = [q.copy() for q in params]
            lo = [q.copy() for q in params]
            hi[k][idx] += 1e-6
            lo[k][idx] -= 1e-6
            num[idx] = (_tree_loss(hi, x) - _tree_loss(lo, x)) / 2e-6
        np.testing.assert_allclose(g[k], num, rtol=1e-6, atol=1e-9)
    value, (gp, gx) = jg.value_and_grad(jg.script(_tree_loss, backend=backend),
                                        argnums=(0, 1))(params, x)
    assert np.isclose(value, _tree_loss(params, x)) and gx.shape == x.shape
    np.testing.assert_allclose(gp[2], g[2], rtol=1e-12)


def test_pytree_with_an_unsupported_leaf_names_the_argument() -> None:
    f = jg.script(_predict)
    with pytest.raises(jg.JitTypeError, match="'params'"):
        f((np.ones((3, 4)), "b", np.ones((4, 2))), np.ones((5, 3)))
