"""Compiled-vs-eager comparison shared by the corpus tests: eager NumPy's return
conventions exactly, float values within a per-dtype tolerance."""
from __future__ import annotations

from typing import Any

import numpy as np

RTOL = {np.dtype(np.float16): 1e-3, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def describe(r: Any) -> str:
    if isinstance(r, (tuple, list)):
        return "(" + ", ".join(describe(x) for x in r) + ")"
    if type(r) in (bool, int, float):
        return type(r).__name__
    return f"{type(r).__name__} {np.asarray(r).dtype}{list(np.shape(r))}"


def input_tolerance(args: tuple, rtol: dict[np.dtype, float] = RTOL) -> float:
    """The loosest tolerance any float input calls for: a float64 result computed through
    float32 steps (f32 exp, then a float64 constant) carries float32 rounding."""
    dts = [np.asarray(a).dtype for a in _leaves(args) if np.asarray(a).dtype.kind == "f"]
    return max((rtol[d] for d in dts), default=0.0)


def _leaves(x: Any) -> list[Any]:
    """The arrays and numbers of a pytree of arguments (tuples, lists, dicts)."""
    if isinstance(x, (tuple, list)):
        return [leaf for e in x for leaf in _leaves(e)]
    if isinstance(x, dict):
        return [leaf for e in x.values() for leaf in _leaves(e)]
    return [x]


def assert_same_result(got: Any, want: Any, where: str = "result", tol: float = 0.0,
                       rtol: dict[np.dtype, float] = RTOL) -> None:
    """Eager NumPy's return conventions, exactly: tuples as tuples, arrays as arrays, 0-d
    results as NumPy scalars of the eager dtype, Python scalars as Python scalars. Float
    values agree within the result dtype's tolerance (or `tol`, if looser)."""
    if isinstance(want, (tuple, list)):
        assert type(got) is type(want), f"{where}: got {describe(got)}, eager {describe(want)}"
        assert len(got) == len(want), f"{where}: got {describe(got)}, eager {describe(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same_result(g, w, f"{where}[{i}]", tol, rtol)
        return
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), \
            f"{where}: got {describe(got)}, eager {describe(want)}"
        for k in want:
            assert_same_result(got[k], want[k], f"{where}[{k!r}]", tol, rtol)
        return
    assert type(got) is type(want), f"{where}: got {describe(got)}, eager {describe(want)}"
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype, f"{where}: got {describe(got)}, eager {describe(want)}"
    assert g.shape == w.shape, f"{where}: got {describe(got)}, eager {describe(want)}"
    if w.dtype.kind in "fc":
        tol = max(rtol[w.dtype], tol)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(g, w, err_msg=where)
