"""Every corpus function, scripted, equals the same function run eagerly: same result type
(ndarray / NumPy scalar / Python scalar / tuple), dtype, shape and values. A second call with
other argument values of the same types reuses the compiled code and still agrees."""
from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from compare import RTOL, assert_same_result, describe, input_tolerance  # noqa: F401
from corpus import ENTRIES

import jitgraph as jg


def run_eager(fn: Callable[..., Any], args: tuple) -> Any:
    with np.errstate(all="ignore"):
        return fn(*_copies(args))


def _copies(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


@functools.cache
def _cpu_skip_reason() -> str:
    try:
        from jitgraph.backends import get_backend
        be = get_backend("cpu")
        if not be.available():
            return f"cpu backend unavailable: {be.why_unavailable()}"
    except Exception as e:  # noqa: BLE001 - the LLVM backend is written concurrently
        return f"cpu backend does not import: {type(e).__name__}: {e}"
    return ""


@pytest.mark.parametrize("backend", ["interp", "cpu"])
@pytest.mark.parametrize("name", list(ENTRIES))
def test_corpus_matches_eager(name: str, backend: str) -> None:
    if backend == "cpu" and _cpu_skip_reason():
        pytest.skip(_cpu_skip_reason())
    fn, make_args = ENTRIES[name]
    f = jg.script(fn, backend=backend)
    for variant in (0, 1):
        args = make_args(np.random.default_rng(100 + variant), variant)
        want = run_eager(fn, args)
        with warnings.catch_warnings(record=True) as caught:
            # the cpu backend may fall back (FallbackWarning); the result must still agree
            warnings.simplefilter("always", jg.FallbackWarning)
            got = f(*_copies(args))
        for w in caught:
            if issubclass(w.category, jg.FallbackWarning):
                FALLBACKS.setdefault(name, str(w.message).splitlines()[0])
        assert_same_result(got, want, f"{name} call {variant + 1}", input_tolerance(args))
    if hasattr(f, "signatures"):
        sigs = f.signatures()
        assert len(sigs) == 1, f"the second call recompiled: {sigs}"


FALLBACKS: dict[str, str] = {}   # corpus entry -> why the cpu backend fell back


def test_zz_report_fallbacks() -> None:
    """Prints (with -s) which corpus functions the cpu backend could not compile; the
    results above still had to agree with eager through the fallback."""
    if _cpu_skip_reason():
        pytest.skip(_cpu_skip_reason())
    print(f"\ncpu backend fell back for {len(FALLBACKS)} of {len(ENTRIES)} corpus functions:")
    for name, why in sorted(FALLBACKS.items()):
        print(f"  {name}: {why}")


def test_corpus_size() -> None:
    assert len(ENTRIES) >= 40
