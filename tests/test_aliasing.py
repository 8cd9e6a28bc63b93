"""Item assignment and aliasing beyond tests/test_setitem.py: an element read out of an array
is a copy (NumPy scalars are), a run-time `if` that may hand back an existing array makes
its result maybe that array, and loop-carried names that share an array when the loop
starts may write once the other has been rebound. Each case either equals eager NumPy or
is refused with a JitTypeError naming the other variable, never a silent difference."""
from __future__ import annotations

import numpy as np
import pytest

import jitgraph as jg

BACKENDS = ["interp", "cpu"]


def swap_first_two(x):
    u = x.copy()
    t = u[0]
    u[0] = u[1]
    u[1] = t
    return u


def insertion_sort(x):
    a = x.copy()
    for i in range(1, a.shape[0]):
        key = a[i]
        j = i - 1
        while j >= 0 and a[j] > key:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = key
    return a


def gauss_eliminate(m):
    u = m.copy()
    n = u.shape[0]
    for k in range(n):
        piv = u[k, k]
        for i in range(k + 1, n):
            u[i] = u[i] - u[i, k] / piv * u[k]
    return u


def fresh_on_both_sides(x):
    a = x.copy()
    b = a * 2.0 if x[0] > 0 else a + 1.0
    b[0] = 7.0
    return b, a


def rebound_before_write(x, n):
    u = x.copy()
    prev = u
    for _ in range(n):
        prev = u.copy()
        u[0] = u[0] + 1.0
    return u - prev


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,args", [
    (swap_first_two, lambda: (np.array([3.0, 1.0, 2.0]),)),
    (insertion_sort, lambda: (np.array([3.0, 1.0, 2.0, 5.0, 4.0]),)),
    (gauss_eliminate, lambda: (np.array([[4.0, 1, 2], [1, 5, 1], [2, 1, 6]]),)),
    (fresh_on_both_sides, lambda: (np.array([1.0, 2.0]),)),
    (fresh_on_both_sides, lambda: (np.array([-1.0, 2.0]),)),
    (rebound_before_write, lambda: (np.array([1.0, 2.0]), 3)),
], ids=["swap", "insertion-sort", "gauss", "fresh-then", "fresh-else", "rebound"])
def test_writes_that_numpy_allows_match_eager(backend, fn, args):
    got = jg.script(fn, backend=backend, fallback="error")(*args())
    want = fn(*args())
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)


def alias_by_ifexp(x):
    a = x.copy()
    b = a if x[0] > 0 else a + 1.0
    a[0] = 5.0           # NumPy: b sees this when the test held
    return b


def alias_by_if(x):
    a = x.copy()
    if x[0] > 0:
        b = a
    else:
        b = a + 1.0
    a[0] = 5.0
    return b


def alias_two_names_one_branch(x):
    a = x.copy()
    if x[0] > 0:
        b = a * 2.0
        d = b
    else:
        b = a + 1.0
        d = a - 1.0
    b[0] = 9.0           # NumPy: d sees this when the test held
    return b, d


def alias_kept_in_loop(x):
    a = x.copy()
    keep = a * 0.0
    for i in range(3):
        if i == 1:
            keep = a
        a[i] = -1.0
    return keep


def alias_still_held(x, n):
    u = x.copy()
    prev = u
    for _ in range(n):
        u[0] = 1.0       # on the first pass prev is still u
        prev = u.copy()
    return u - prev


def view_outside_loop(x, n):
    u = x.copy()
    r = u[1:]
    for _ in range(n):
        u[0] = 1.0
    return u, r


@pytest.mark.parametrize("fn,args,who", [
    (alias_by_ifexp, (np.array([1.0, 2.0]),), "'b'"),
    (alias_by_if, (np.array([1.0, 2.0]),), "'b'"),
    (alias_two_names_one_branch, (np.array([1.0, 2.0]),), "'d'"),
    (alias_kept_in_loop, (np.array([1.0, 2.0, 3.0]),), "'keep'"),
    (alias_still_held, (np.array([1.0, 2.0]), 2), "'prev'"),
    (view_outside_loop, (np.array([1.0, 2.0]), 2), "'r'"),
])
def test_writes_numpy_would_show_elsewhere_are_refused(fn, args, who):
    # these used to compile and silently differ from NumPy (the other name kept the old
    # values), or were refused with a wrong reason
    for backend in BACKENDS:
        with pytest.raises(jg.JitTypeError, match=who):
            jg.script(fn, backend=backend)(*args)
