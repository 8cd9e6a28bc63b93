"""jg.save / jg.load: a specialized graph runs from its file alone, in a new process
without the module that defined it."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitgraph as jg


def mlp(x, w1, w2, prev_loss):
    w = w1 if prev_loss < 5.0 else w1 * 2.0
    h = np.maximum(x @ w, 0.0)
    return (h @ w2).sum(), h.shape[0]


def test_save_load_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 300)).astype(np.float32)  # big constants are kept exactly
    w1 = rng.standard_normal((300, 20)).astype(np.float32)
    w2 = rng.standard_normal((20, 3)).astype(np.float32)
    f = jg.script(mlp, backend="interp")
    path = tmp_path / "mlp.jg"
    jg.save(f, path, x, w1, w2, 1.0)
    g = jg.load(path)
    for prev in (1.0, 7.0):
        got, want = g(x, w1, w2, prev), mlp(x, w1, w2, prev)
        assert type(got[0]) is type(want[0]) and got[1] == want[1]
        assert np.allclose(got[0], want[0], rtol=1e-5)
    with pytest.raises(jg.JitTypeError, match="x"):
        g(x.astype(np.float64), w1, w2, 1.0)
    with pytest.raises(TypeError):
        g(x, w1)


def test_loaded_graph_needs_no_source(tmp_path) -> None:
    src = tmp_path / "user_model.py"
    src.write_text(textwrap.dedent("""
        import numpy as np
        W = np.arange(12.0).reshape(4, 3)   # a module constant, baked into the graph
        def f(x):
            s = 0.0
            for i in range(x.shape[0]):
                s = s + (x[i] @ W).sum()
            return s
    """))
    path = tmp_path / "f.jg"
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import numpy as np; "
            f"import jitgraph as jg, user_model; "
            f"jg.save(jg.script(user_model.f), {str(path)!r}, np.ones((2, 4)))")
    subprocess.run([sys.executable, "-c", code], check=True)
    src.unlink()  # the defining module is gone
    code = (f"import numpy as np, jitgraph as jg; g = jg.load({str(path)!r}); "
            f"print(repr(g(np.ones((2, 4)))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == repr(np.float64(2 * 66.0))
