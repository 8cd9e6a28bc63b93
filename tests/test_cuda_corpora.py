"""Every function of the later corpora (tests/corpus_extra.py, corpus_sci.py, corpus_ml.py,
corpus_algo.py), forward and gradient, lowers to CUDA C without a problem (a problem
would be a fallback to the interpreter) and the generated source compiles with nvcc: one
translation unit for all of them, the kernels/ templates pasted once and each program in
its own namespace, as a cubin for sm_80 and as PTX for sm_90 (neither needs a GPU).
tests/test_cuda_codegen.py does the same for the op suite and the first corpus."""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import corpus_algo
import corpus_ml
import corpus_sci
from corpus_extra import EXTRA

import jitgraph as jg
from jitgraph.backends import cuda_lower as cl

# refused by the frontend on every backend (strict xfails in test_corpus_extra.py)
REFUSED = {"imag_part", "solve_normal_equations"}


def _programs() -> dict[str, Any]:
    entries: dict[str, Any] = dict(EXTRA)
    for m in (corpus_sci, corpus_ml, corpus_algo):
        entries.update(m.CORPUS)
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (fn, make, argnums) in entries.items():
            if name in REFUSED:
                continue
            args = make(np.random.default_rng(1), 0)
            kinds = [("fwd", jg.script(fn, backend="interp"))]
            if argnums is not None:
                kinds.append(("grad", jg.grad(fn, argnums, backend="interp")))
            for kind, f in kinds:
                out[f"{name}:{kind}"] = cl.lower(f.graph_for(*args))
    return out


@pytest.fixture(scope="module")
def programs() -> dict[str, Any]:
    return _programs()


def test_every_corpus_function_lowers(programs: dict[str, Any]) -> None:
    bad = {k: p.problems for k, p in programs.items() if p.problems}
    assert not bad, bad
    assert len(programs) > 400


def _nvcc(args: list[str], source: str) -> tuple[bool, str]:
    d = Path(tempfile.gettempdir()) / f"jitgraph-nvcc-{os.getuid()}"
    d.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256((" ".join(args) + source).encode()).hexdigest()[:24]
    ok = d / f"{key}.ok"
    if ok.exists():
        return True, ""
    cu = d / f"{key}.cu"
    cu.write_text(source)
    r = subprocess.run(["nvcc", *args, "-o", str(cu.with_suffix(".out")), str(cu)],
                       check=False, capture_output=True, text=True)
    if r.returncode == 0:
        ok.write_text("")
    return r.returncode == 0, r.stdout + r.stderr


@pytest.mark.nvcc
def test_every_corpus_function_compiles_with_nvcc(programs: dict[str, Any]) -> None:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH")
    head = "".join(cl.read_template(t) + "\n"
                   for t in ("common.cu", "reduce.cu", "matmul.cu", "sort.cu"))
    # kernel names repeat between a function and its gradient: namespaces, no extern "C"
    unit = head + "".join(f"namespace p{i} {{\n{p.brief}\n}}\n".replace('extern "C" ', "")
                          for i, p in enumerate(programs.values()))
    jobs = {"sm_80 cubin": ["-cubin", "-arch=sm_80"], "sm_90 ptx": ["-ptx", "-arch=sm_90"]}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        futs = {k: ex.submit(_nvcc, a, unit) for k, a in jobs.items()}
        results = {k: f.result() for k, f in futs.items()}
    for k, (ok, log) in results.items():
        assert ok, f"{k}:\n{log[-6000:]}"
