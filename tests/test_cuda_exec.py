"""The CUDA backend on a real GPU (pycuda). Every test is marked `cuda`: conftest.py skips
them, with the reason, where no GPU is usable (no pycuda, no driver, no device, no nvcc).
benchmarks/gpu_check.sh runs them with `pytest -m cuda` on a machine that has one."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_cuda_codegen import BY_NAME, assert_same, corpus_graphs, reference

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def backend() -> Any:
    from jitgraph.backends import get_backend
    b = get_backend("cuda")
    if not b.available():
        pytest.skip(b.why_unavailable())
    # one parallel batch of nvcc runs instead of one run per graph
    b.device.compile_many([b.lower(c.graph) for c in BY_NAME.values()]
                          + [b.lower(g) for _, g, _, _ in corpus_graphs()])
    return b


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_suite_on_gpu(name: str, backend: Any) -> None:
    case = BY_NAME[name]
    f = backend.compile(case.graph)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = f(list(case.args))
    assert_same(got, reference(case.graph, case.args), name)


def test_corpus_values_and_gradients(backend: Any) -> None:
    failures = []
    for key, g, make, idx in corpus_graphs():
        f = backend.compile(g)
        for variant in (0, 1):
            args = make(np.random.default_rng(1), variant)
            ins = [args[i] for i in idx]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    assert_same(f(list(ins)), reference(g, ins), f"{key} {variant}")
            except AssertionError as e:
                failures.append(str(e)[:400])
    assert not failures, "\n".join(failures)


def test_script_backend_cuda_matches_eager(backend: Any) -> None:
    from corpus import ENTRIES

    import jitgraph as jg
    for key in ("mlp_model", "softmax", "layer_norm", "cross_entropy", "power_iteration"):
        fn, make = ENTRIES[key]
        sf = jg.script(fn, backend="cuda", fallback="error")
        for variant in (0, 1):
            args = make(np.random.default_rng(2), variant)
            got, want = sf(*args), fn(*args)
            assert_same(list(got) if isinstance(got, tuple) else [got],
                        list(want) if isinstance(want, tuple) else [want], key)
        assert sf.backend_for(*make(np.random.default_rng(2), 0)) == "cuda"


def test_device_arrays_stay_on_device(backend: Any) -> None:
    import jitgraph as jg
    x = np.random.default_rng(0).standard_normal((256, 64)).astype(np.float32)
    dx = jg.cuda.to_device(x)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    np.testing.assert_array_equal(dx.get(), x)
    np.testing.assert_array_equal(np.asarray(dx), x)
    f = backend.compile(_softmax_graph(x.shape))
    (out,) = f([dx])
    assert isinstance(out, jg.cuda.DeviceArray)          # no copy back
    (again,) = f([out])                                  # and it feeds the next call
    want = reference(_softmax_graph(x.shape), [reference(_softmax_graph(x.shape), [x])[0]])
    assert_same([again.get()], want)


def _softmax_graph(shape: tuple[int, ...]) -> Any:
    from test_cuda_codegen import T, build

    def softmax(b: Any, x: Any) -> Any:
        m = b.op("max", x, axis=1, keepdims=True)
        e = b.op("exp", b.op("sub", x, m))
        return b.op("div", e, b.op("sum", e, axis=1, keepdims=True))
    return build("softmax_dev", [T("float32", *shape)], softmax)


def test_torch_arrays_without_copy(backend: Any) -> None:
    torch = pytest.importorskip("torch")
    import jitgraph as jg
    t = torch.randn(128, 64, device="cuda", dtype=torch.float32)
    f = backend.compile(_softmax_graph((128, 64)))
    (out,) = f([t])
    got = torch.as_tensor(out, device="cuda")             # through __cuda_array_interface__
    torch.testing.assert_close(got, torch.softmax(t, dim=1), rtol=2e-5, atol=2e-6)
    assert isinstance(out, jg.cuda.DeviceArray)


def test_bad_input_is_a_python_error(backend: Any) -> None:
    f = backend.compile(_softmax_graph((4, 8)))
    with pytest.raises(ValueError, match="expected"):
        f([np.zeros((4, 9), np.float32)])
    with pytest.raises(MemoryError):
        backend.device.alloc(1 << 50)


def test_compile_cache_across_processes(backend: Any, tmp_path: Path) -> None:
    code = ("import numpy as np, sys; sys.path.insert(0, 'tests');"
            "from test_cuda_codegen import BY_NAME;"
            "from jitgraph.backends import get_backend;"
            "c = BY_NAME['model']; get_backend('cuda').compile(c.graph)(list(c.args))")
    env = dict(os.environ, JITGRAPH_CACHE_DIR=str(tmp_path))
    root = Path(__file__).parents[1]
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "cuda").glob("*.cubin"))) == 1
