"""Every example runs to the end on the cpu backend (with no fallback to the interpreter)
and on interp (JITGRAPH_BACKEND overrides backend="auto"), each in a fresh process; the
examples check their compiled results against eager NumPy themselves."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("backend", ["cpu", "interp"])
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs(example: str, backend: str, tmp_path: Path) -> None:
    env = dict(os.environ, JITGRAPH_BACKEND=backend, JITGRAPH_CACHE_DIR=str(tmp_path))
    env.pop("JITGRAPH_DISABLE", None)
    out = subprocess.run([sys.executable, "-W", "always::UserWarning",
                          str(ROOT / "examples" / example)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip(), "the example printed nothing"
    if backend == "cpu":
        assert "FallbackWarning" not in out.stderr, out.stderr[-3000:]
