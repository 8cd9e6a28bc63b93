"""Shared test setup: the verifier runs after every pass, `--update-golden` rewrites the
golden files, and the `cuda` marker skips when no GPU is usable."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("JITGRAPH_VERIFY", "1")
os.environ.setdefault("JITGRAPH_CACHE_DIR", os.path.join(
    os.environ.get("TMPDIR", "/tmp"), f"jitgraph-test-cache-{os.getpid()}"))

import jitgraph.config

jitgraph.config.refresh()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* from the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def emu() -> Any:
    """The CPU stand-in that runs generated CUDA C (compiled with g++ behind a shim)."""
    from jitgraph.backends.cuda_jit import HostEmulator
    why = HostEmulator.available()
    if why:
        pytest.skip(f"host emulator unavailable: {why}")
    return HostEmulator()


def _cuda_usable() -> tuple[bool, str]:
    try:
        from jitgraph import cuda
    except Exception as e:  # noqa: BLE001
        return False, f"jitgraph.cuda not importable: {e}"
    if cuda.is_available():
        return True, ""
    return False, cuda.why_unavailable()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any("cuda" in item.keywords for item in items):
        return
    ok, why = _cuda_usable()
    if ok:
        return
    skip = pytest.mark.skip(reason=f"no usable GPU: {why}")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
