"""Golden IR text: for each function of tests/golden_corpus.py, the generic graph and the
typed and optimized graphs for its example arguments must equal tests/golden/<name>.<stage>.
A mismatch shows a unified diff; `pytest --update-golden` rewrites the files (review the
diff before committing). Every golden graph also round-trips through jg.parse_ir."""
from __future__ import annotations

import difflib
import os
import sys

import numpy as np
import pytest

import jitgraph as jg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_corpus as corpus

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
STAGES = ("ir", "typed", "optimized")
NAMES = sorted(corpus.EXAMPLES)


def scripted(name: str) -> jg.ScriptFunction:
    f = getattr(corpus, name)
    return f if isinstance(f, jg.ScriptFunction) else jg.script(f, backend="interp")


def stage_text(name: str, stage: str) -> str:
    f = scripted(name)
    text = str(f.graph) if stage == "ir" else f.dump(*corpus.EXAMPLES[name](), stage=stage)
    return text.rstrip("\n") + "\n"


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def compare_golden(path: str, text: str, update: bool) -> None:
    rel = os.path.relpath(path, os.path.dirname(GOLDEN_DIR))
    if update:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        old = _read(path) if os.path.exists(path) else None
        if old != text:
            with open(path, "w") as fh:
                fh.write(text)
        return
    if not os.path.exists(path):
        pytest.fail(f"missing golden file {rel}; run `pytest tests/test_golden.py "
                    "--update-golden` and review it")
    want = _read(path)
    if want != text:
        diff = "".join(difflib.unified_diff(
            want.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=f"{rel} (golden)", tofile=f"{rel} (now)"))
        pytest.fail(f"{rel} differs from the golden text (rerun with --update-golden if "
                    f"the change is intended):\n{diff}", pytrace=False)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, stage: str, update_golden: bool) -> None:
    text = stage_text(name, stage)
    assert os.sep + "tests" + os.sep not in text, "printed graphs must not hold absolute paths"
    assert "golden_corpus.py:" in text
    compare_golden(os.path.join(GOLDEN_DIR, f"{name}.{stage}"), text, update_golden)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("name", NAMES)
def test_golden_round_trip(name: str, stage: str) -> None:
    try:
        from jitgraph.ir.parser import parse_ir  # noqa: F401
    except ImportError:
        pytest.skip("jitgraph.ir.parser is not importable yet")
    f = scripted(name)
    orig = f.graph if stage == "ir" else (
        f.graph_for(*corpus.EXAMPLES[name]()) if stage == "optimized"
        else f._entry_for(corpus.EXAMPLES[name]()).typed)
    text = str(orig)
    g = jg.parse_ir(text)
    assert g == orig
    assert str(g) == text


@pytest.mark.parametrize("name", NAMES)
def test_golden_corpus_matches_eager(name: str) -> None:
    f = scripted(name)
    args = corpus.EXAMPLES[name]()
    got, want = f(*args), f.eager(*args)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want, strict=True):
        assert type(g) is type(w)
        if isinstance(w, (np.ndarray, np.generic)):
            assert g.dtype == w.dtype and np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_no_stale_golden_files() -> None:
    expected = {f"{n}.{s}" for n in NAMES for s in STAGES}
    present = set(os.listdir(GOLDEN_DIR)) if os.path.isdir(GOLDEN_DIR) else set()
    # the IR stages are this file's; other suffixes (.cu) belong to the backends' tests
    present = {f for f in present if f.rsplit(".", 1)[-1] in STAGES}
    stale = sorted(present - expected)
    assert not stale, f"golden files with no test: {stale}"


def test_compare_golden_shows_unified_diff(tmp_path) -> None:
    path = str(tmp_path / "golden" / "f.ir")
    compare_golden(path, "graph f() {\n  return\n}\n", update=True)   # writes the file
    assert _read(path) == "graph f() {\n  return\n}\n"
    compare_golden(path, "graph f() {\n  return\n}\n", update=False)  # equal: passes
    with pytest.raises(pytest.fail.Exception) as ei:
        compare_golden(path, "graph f() {\n  %0 = constant 1 : pyint\n  return\n}\n",
                       update=False)
    msg = str(ei.value)
    assert "--- " in msg and "+++ " in msg and "@@" in msg
    assert "+  %0 = constant 1 : pyint" in msg
    assert "--update-golden" in msg
    with pytest.raises(pytest.fail.Exception, match="missing golden file"):
        compare_golden(str(tmp_path / "golden" / "absent.ir"), "x\n", update=False)
