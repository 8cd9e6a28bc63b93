"""Hypothesis: random small NumPy programs (elementwise ops, reductions, matmul where the
shapes fit, an if/else on a comparison of reductions, item assignment into a copy or in a
fill loop) written out as Python source, imported
from a file (jg.script reads source with inspect.getsource), and run both scripted and
eagerly: same dtype, same shape, values allclose (nan and inf positions equal).

The generator tracks every variable's shape by evaluating each candidate expression on
zero arrays of the variables' shapes, so only programs NumPy accepts are drawn; both
branches of an `if` assign a value of the same shape and dtype, so eager's result type does
not depend on the branch taken."""
from __future__ import annotations

import atexit
import importlib.util
import itertools
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitgraph as jg

SHAPES = [(), (3,), (2, 3), (3, 3), (2, 1), (1, 3), (3, 2)]
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}

UNARY = ["np.exp({0})", "np.tanh({0})", "np.abs({0})", "-{0}", "{0} * 2.0", "{0} ** 2",
         "np.sqrt(np.abs({0}) + 1.0)", "np.log(np.abs({0}) + 0.5)", "np.maximum({0}, 0.0)",
         "np.sin({0})", "({0} - 1.5) / 2.0", "np.where({0} > 0.0, {0}, 0.1 * {0})"]
BINARY = ["{0} + {1}", "{0} - {1}", "{0} * {1}", "{0} / (np.abs({1}) + 1.0)",
          "np.maximum({0}, {1})", "np.minimum({0}, {1})", "np.where({0} > {1}, {0}, {1} * 0.5)"]
REDUCE = ["{0}.sum()", "{0}.mean()", "{0}.max()", "np.min({0})", "{0}.sum(axis={ax})",
          "{0}.mean(axis={ax}, keepdims=True)", "{0}.max(axis={ax})", "np.sum({0}, axis=0)"]
MATMUL = ["{0} @ {1}", "np.matmul({0}, {1})", "{0}.T @ {1}"]
SCALAR_OF = ["{0}.sum()", "{0}.mean()", "{0}.max()", "{0}.min()"]


def _eval_type(expr: str, env: dict[str, tuple[tuple[int, ...], np.dtype]]
               ) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) of expr on zero arrays of the variables' types, or None if NumPy
    refuses it."""
    scope = {name: np.zeros(shape, dtype) for name, (shape, dtype) in env.items()}
    scope["np"] = np  # type: ignore[assignment]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = eval(expr, scope)  # our own generated text
    except (ValueError, TypeError, IndexError):
        return None
    a = np.asarray(r)
    return tuple(a.shape), a.dtype


def _candidates(kind: str, env: dict[str, tuple[tuple[int, ...], np.dtype]],
                dtype: np.dtype) -> list[tuple[str, tuple[int, ...]]]:
    """Every expression of this kind over the variables that NumPy accepts and that keeps
    the program's dtype."""
    names = sorted(env)
    exprs: list[str] = []
    if kind == "unary":
        exprs = [t.format(n) for t in UNARY for n in names]
    elif kind == "binary":
        exprs = [t.format(a, b) for t in BINARY for a, b in itertools.permutations(names, 2)]
    elif kind == "reduce":
        for t in REDUCE:
            for n in names:
                nd = len(env[n][0])
                axes = range(-nd, nd) if "{ax}" in t else [0]
                exprs += [t.format(n, ax=ax) for ax in axes]
    elif kind == "matmul":
        exprs = [t.format(a, b) for t in MATMUL for a, b in itertools.product(names, names)
                 if env[a][0] != () and env[b][0] != ()]
    out = []
    for e in dict.fromkeys(exprs):
        ty = _eval_type(e, env)
        if ty is not None and ty[1] == dtype:
            out.append((e, ty[0]))
    return out


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, list[Any]]:
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    nargs = draw(st.integers(2, 3))
    names = ["a", "b", "c"][:nargs]
    env: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    args = []
    for n in names:
        shape = draw(st.sampled_from(SHAPES))
        env[n] = (shape, dtype)
        elems = st.floats(-3.0, 3.0, width=32 if dtype == np.float32 else 64,
                          allow_nan=False, allow_subnormal=False)
        args.append(draw(hnp.arrays(dtype, shape, elements=elems)))
    lines = [f"def prog({', '.join(names)}):"]
    last: list[str] = []
    n_stmts = draw(st.integers(2, 5))
    has_if = False
    for i in range(n_stmts):
        var = f"v{i}"
        kinds = ["unary", "binary", "reduce", "matmul", "if", "assign"]
        kind = draw(st.sampled_from(kinds))
        if kind == "assign":
            stmt = _draw_assign(draw, env, var)
            if stmt is not None:
                lines += stmt
                last.append(var)
                continue
            kind = "unary"
        if kind == "if":
            stmt = _draw_if(draw, env, dtype, var)
            if stmt is None:
                kind = "unary"
            else:
                lines += stmt
                has_if = True
                last.append(var)
                continue
        cands = _candidates(kind, env, dtype) or _candidates("unary", env, dtype)
        expr, shape = draw(st.sampled_from(cands))
        lines.append(f"    {var} = {expr}")
        env[var] = (shape, dtype)
        last.append(var)
    if not has_if and draw(st.booleans()):
        stmt = _draw_if(draw, env, dtype, "vif")
        if stmt is not None:
            lines += stmt
            last.append("vif")
    if len(last) >= 2 and draw(st.booleans()):
        lines.append(f"    return {last[-1]}, {last[-2]}")
    else:
        lines.append(f"    return {last[-1]}")
    return "\n".join(lines) + "\n", args


INDEX = {1: ["0", "-1", "1:", "::2", "::-1"],
         2: ["0", "-1", ":, 0", "1:, :", "0, -1", ":, ::-1", "-1, 1:"]}


def _draw_assign(draw: st.DrawFn, env: dict[str, tuple[tuple[int, ...], np.dtype]],
                 var: str) -> list[str] | None:
    """Item assignment into a fresh copy (`v = a * 1.0; v[1:, :] = <scalar>`) or a fill
    loop (`for i in range(...): v[i] = a[i] * 2.0 + <scalar>`)."""
    arrays = [n for n in sorted(env) if len(env[n][0]) in INDEX]
    if not arrays:
        return None
    x = draw(st.sampled_from(arrays))
    shape = env[x][0]
    val = draw(st.sampled_from(["2.5"] + [t.format(n) for t in SCALAR_OF for n in sorted(env)]))
    env[var] = env[x]
    if draw(st.booleans()):
        idx = draw(st.sampled_from(INDEX[len(shape)]))
        return [f"    {var} = {x} * 1.0", f"    {var}[{idx}] = {val}"]
    op = draw(st.sampled_from(["=", "+="]))
    return [f"    {var} = np.zeros_like({x})", f"    for i in range({x}.shape[0]):",
            f"        {var}[i] {op} {x}[i] * 2.0 + {val}"]


def _draw_if(draw: st.DrawFn, env: dict[str, tuple[tuple[int, ...], np.dtype]],
             dtype: np.dtype, var: str) -> list[str] | None:
    """`if <reduction> > <reduction or literal>:` (sometimes with an `elif`), every branch
    assigning `var` a value of one shape and dtype."""
    names = sorted(env)
    lhs = draw(st.sampled_from(SCALAR_OF)).format(draw(st.sampled_from(names)))
    rhs = draw(st.sampled_from(["0.0", "1.0"] + [t.format(n) for t in SCALAR_OF[:2]
                                                  for n in names]))
    x = draw(st.sampled_from(names))
    shape = env[x][0]
    then_c = [(e, s) for e, s in _candidates("unary", env, dtype) if s == shape]
    else_c = [(e, s) for e, s in _candidates("unary", env, dtype)
              + _candidates("binary", env, dtype) if s == shape]
    if not then_c or not else_c:
        return None
    then_e = draw(st.sampled_from(then_c))[0]
    else_e = draw(st.sampled_from(else_c))[0]
    out = [f"    if {lhs} > {rhs}:", f"        {var} = {then_e}"]
    if draw(st.booleans()):
        mid = draw(st.sampled_from(then_c))[0]
        out += [f"    elif {lhs} < -{rhs}:" if rhs[0].isdigit() else f"    elif {rhs} > 0.5:",
                f"        {var} = {mid}"]
    out += ["    else:", f"        {var} = {else_e}"]
    env[var] = (shape, dtype)
    return out


_TMP = Path(tempfile.mkdtemp(prefix="jitgraph-hyp-"))
atexit.register(shutil.rmtree, _TMP, True)
_counter = itertools.count()


def load_program(source: str) -> Any:
    """Write the source to a real .py file and import it, so inspect.getsource works."""
    name = f"jitgraph_hyp_prog_{next(_counter)}"
    path = _TMP / f"{name}.py"
    path.write_text("import numpy as np\n\n\n" + source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod.prog


def assert_close(got: Any, want: Any, where: str = "result") -> None:
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), f"{where}: {got!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{i}]")
        return
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype, f"{where}: dtype {g.dtype}, eager {w.dtype}"
    assert g.shape == w.shape, f"{where}: shape {g.shape}, eager {w.shape}"
    tol = RTOL[w.dtype]
    np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True, err_msg=where)


@pytest.mark.parametrize("backend", ["interp", "cpu"])
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=programs())
def test_compiled_matches_eager(backend: str, program: tuple[str, list[Any]]) -> None:
    source, args = program
    note(source)
    note("args: " + ", ".join(f"{a.dtype}{list(a.shape)}" for a in args))
    fn = load_program(source)
    before = [a.copy() for a in args]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = fn(*[a.copy() for a in args])
        warnings.simplefilter("error", jg.FallbackWarning)   # cpu must compile it all
        got = jg.script(fn, backend=backend)(*args)
    assert_close(got, want)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)      # no argument was written


def test_generator_covers_features() -> None:
    """The strategy really draws each feature (guards the generator against going dull)."""
    seen: list[str] = []

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(programs())
    def collect(program: tuple[str, list[Any]]) -> None:
        seen.append(program[0])

    collect()
    text = "\n".join(seen)
    for feature in ("if ", "elif ", "else:", "@", ".sum(", "axis=", "keepdims", "np.where",
                    "np.exp", "] = ", "] += ", "for i in range("):
        assert feature in text, f"the generator never drew {feature!r}"
    assert re.search(r"return \w+, \w+", text), "the generator never drew a tuple return"


if __name__ == "__main__":
    pytest.main([__file__, "-q"])
