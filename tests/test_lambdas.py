"""Lambdas as scripted functions (`jg.script(lambda x: np.exp(x))`, as JAX's jit and Numba
take them): found in their source line wherever they sit (a dict literal, a call argument,
two on one line, over several lines), compiled like the equivalent `def`, results equal to
the lambda called eagerly, errors located in this file; a lambda without source (exec,
eval, the prompt) is a ScriptError saying why."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from test_frontend import assert_same

import jitgraph as jg
from jitgraph.frontend import lambdas

_S = functools.partial(jg.script, backend="interp")

X = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
Y = np.arange(6.0).reshape(2, 3) - 2.0


def _marked(tag: str) -> tuple[int, str]:
    """(line number, text) of the line of this file that ends with `# <tag>`."""
    with open(__file__) as fh:
        for i, line in enumerate(fh, 1):
            if line.rstrip().endswith(f"# {tag}"):
                return i, line
    raise AssertionError(tag)


def _same_as_eager(f: jg.ScriptFunction, *args):
    assert_same(f(*args), f.eager(*args))


# Lambdas inside a dict literal: getsource gives lines that are not a statement.
_TABLE = {
    "exp": jg.script(lambda x: np.exp(x), backend="interp"),  # L_EXP
    "axpy": _S(lambda a, x, y: a * x + y),
    "norm": _S(
        lambda x: np.sqrt((x * x).sum(axis=-1))),
    "where": _S(lambda x, y:
                np.where(x > y,
                         x - y,
                         y - x)),  # L_WHERE_END
}


def test_lambdas_in_a_dict():
    _same_as_eager(_TABLE["exp"], X)
    _same_as_eager(_TABLE["axpy"], 2.0, X, Y)
    _same_as_eager(_TABLE["axpy"], np.float32(2.0), X.astype(np.float32), Y)
    _same_as_eager(_TABLE["norm"], X)
    _same_as_eager(_TABLE["where"], X, Y)


def test_lambda_locations_point_into_the_file():
    line, text = _marked("L_EXP")
    f = _TABLE["exp"]
    assert f.graph.loc.lineno == line
    assert f.graph.loc.col_offset == text.index("lambda")
    assert f"test_lambdas.py:{line}" in str(f.graph)  # the IR's source-line comments
    end, _ = _marked("L_WHERE_END")
    assert _TABLE["where"].graph.loc.lineno == end - 3


def _apply(f, *args):
    return f(*args)


def test_lambda_as_an_argument():
    f = _S(lambda x, w: np.maximum(x @ w, 0.0))
    assert_same(_apply(f, X, Y.T), _apply(f.eager, X, Y.T))
    assert_same(_apply(_S(lambda x: (x ** 2).mean()), X), _apply(lambda x: (x ** 2).mean(), X))


def test_two_lambdas_on_one_line():
    fa, fb = _S(lambda x: x * 2.0), _S(lambda x: x - 2.0)
    _same_as_eager(fa, X)
    _same_as_eager(fb, X)
    # identical text: the code objects' instruction positions tell them apart
    ga, gb = _S(lambda x: x * 3.0), _S(lambda x: x * 3.0)  # L_TWIN
    _, text = _marked("L_TWIN")
    first = text.index("lambda")
    assert ga.graph.loc.col_offset == first
    assert gb.graph.loc.col_offset == text.index("lambda", first + 1)
    _same_as_eager(gb, X)
    # a lambda whose body holds another, and the inner one scripted by itself
    outer = _S(lambda x: x + 1.0)
    inner = _S((lambda k: lambda x: x * k)(4.0))  # noqa: PLC3002
    _same_as_eager(outer, X)
    _same_as_eager(inner, X)


def test_lambda_with_defaults_and_closures():
    f = _S(lambda x, s=2.0, axis=0: (x * s).sum(axis=axis))
    _same_as_eager(f, X)
    _same_as_eager(f, X, 0.5)
    _same_as_eager(f, X, 0.5, 1)
    fs = [_S(lambda x, k=k: x * k) for k in (1.0, 2.0)]
    for f in fs:
        _same_as_eager(f, X)

    def scaled(c):
        return _S(lambda x: x * c + np.float32(1))
    _same_as_eager(scaled(3.0), X.astype(np.float32))


def test_lambda_with_conditional_body():
    f = _S(lambda x, t: x if t > 0 else -x)
    _same_as_eager(f, X, 1.0)
    _same_as_eager(f, X, -1.0)


def test_grad_of_scripted_lambda():
    g = jg.grad(jg.script(lambda x: (np.tanh(x) ** 2).sum(), backend="interp"))
    want = 2 * np.tanh(X) * (1 - np.tanh(X) ** 2)
    np.testing.assert_allclose(g(X), want, rtol=1e-12)
    vg = jg.value_and_grad(_S(lambda w, x: ((x @ w) ** 2).sum()))
    w = np.ones((3, 1))
    val, gw = vg(w, X)
    np.testing.assert_allclose(val, ((X @ w) ** 2).sum())
    np.testing.assert_allclose(gw, 2 * X.T @ (X @ w))


@pytest.mark.parametrize("backend", ["interp", "cpu"])
def test_lambda_on_each_backend(backend):
    f = jg.script(lambda x, y: np.exp(x) * y + 1.0, backend=backend)
    _same_as_eager(f, X, Y)
    for stage in ("ir", "typed", "optimized"):
        assert "graph <lambda>(" in f.dump(X, Y, stage=stage)
    assert str(jg.parse_ir(str(f.graph))) == str(f.graph)


def test_script_error_inside_lambda_is_located():
    with pytest.raises(jg.ScriptError) as ei:
        jg.script(lambda x: {x for _ in x})  # L_COMP
    line, text = _marked("L_COMP")
    assert ei.value.lineno == line
    assert ei.value.col_offset == text.index("{x for")
    assert ei.value.filename.endswith("test_lambdas.py")
    assert text.strip() in str(ei.value)  # the message shows the line ...
    with pytest.raises(jg.ScriptError, match=r"\*args"):
        jg.script(lambda *xs: xs[0])


def test_type_error_in_lambda_names_the_line():
    f = _S(lambda x, w: x @ w)  # L_MATMUL
    with pytest.raises(jg.JitTypeError) as ei:
        f(np.ones((2, 3)), np.ones((4, 5)))
    assert ei.value.loc.lineno == _marked("L_MATMUL")[0]


def test_lambda_without_source_is_a_script_error():
    ns = {"np": np}
    exec("f = lambda x: np.exp(x)", ns)  # noqa: S102
    with pytest.raises(jg.ScriptError, match="exec"):
        jg.script(ns["f"])
    with pytest.raises(jg.ScriptError, match="source"):
        jg.script(eval("lambda x: x + 1"))
    # compiled under this file's name, but no such lambda on its line 1
    exec(compile("f = lambda x: x + 1", __file__, "exec"), ns)  # noqa: S102
    with pytest.raises(jg.ScriptError, match="cannot find the source"):
        jg.script(ns["f"])


def test_indistinguishable_lambdas_are_a_script_error(monkeypatch):
    # Without instruction positions (python -X no_debug_ranges) two identical lambdas on
    # one line cannot be told apart.
    monkeypatch.setattr(lambdas, "_code_spans", lambda code: set())
    with pytest.raises(jg.ScriptError, match="cannot be told apart"):
        _S(lambda x: x * 5.0), _S(lambda x: x * 5.0)
    # different bodies are still told apart by their bytecode
    _, fb = _S(lambda x: x * 5.0), _S(lambda x: x * 6.0)
    _same_as_eager(fb, X)
