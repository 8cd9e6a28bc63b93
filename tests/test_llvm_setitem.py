"""setitem on the CPU backend (llvm_ops._setitem, Lowerer.writable): x with x[index] = v
against NumPy's own item assignment; run-time indices out of range raise IndexError and
never write; in-place updates (a loop writing one element per iteration into its carried
buffer, a loop taking over its init's buffer, branches updating a carried buffer) give
the values of the copying semantics and never touch the caller's arrays.

Graphs are built by hand (Builder) or from IR text (parse_ir) until the frontend turns
`out[i] = v` into setitem. Every graph is compiled with and without arena poisoning
(released ranges filled with 0xFF, so a buffer read after it was given back reads NaN)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llvmlite")

from jitgraph import config
from jitgraph.backends import llvm_lower, llvm_memplan
from jitgraph.backends.interp import InterpBackend
from jitgraph.backends.llvm_jit import LLVMBackend
from jitgraph.backends.llvm_lower import ERR_INFO_BYTES, lower_graph
from jitgraph.ir import parse_ir
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.types import TensorType, type_of_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F64, F32, I32, I64, BOOL = (np.dtype(t) for t in (np.float64, np.float32, np.int32,
                                                  np.int64, np.bool_))
ALL = ("slice", None, None, None)


@pytest.fixture(autouse=True, params=[False, True], ids=["plain", "poison"])
def poison(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    monkeypatch.setattr(config, "CACHE_DIR", "off")
    monkeypatch.setattr(llvm_memplan, "POISON", request.param)
    yield request.param


def _named(g: Graph, poison: bool) -> Graph:
    # NOTE: the in-memory cache of compiled code is keyed by the graph's text, not by
    # POISON: a name per mode keeps the two compilations apart
    return Graph(f"{g.name}_{'poison' if poison else 'plain'}", g.body, g.arg_names, g.loc)


def cpu(g: Graph, args: list[Any], poison: bool) -> list[Any]:
    be = LLVMBackend()
    g = _named(g, poison)
    assert be.check(g) == [], be.check(g)
    return be.compile(g)([a.copy() if isinstance(a, np.ndarray) else a for a in args])


def interp(g: Graph, args: list[Any]) -> list[Any]:
    return InterpBackend().compile(g)([a.copy() if isinstance(a, np.ndarray) else a
                                       for a in args])


def same(a: Any, b: Any) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    if a.dtype.kind == "f":     # exp and sums may differ from NumPy's by an ulp
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)
    else:
        np.testing.assert_array_equal(a, b, strict=True)


def arena(g: Graph, inplace: bool = True) -> int:
    saved = llvm_lower.INPLACE
    llvm_lower.INPLACE = inplace
    try:
        return lower_graph(g, blas_int=32)[1].arena_size
    finally:
        llvm_lower.INPLACE = saved


# ------------------------------------------------------------------ one setitem vs NumPy
def _type(v: Any) -> TensorType:
    if isinstance(v, (bool, int, float)):
        return type_of_python(v)
    v = np.asarray(v)
    return TensorType(v.dtype, v.shape)


def one_setitem(x: Any, v: Any, dyn: tuple, index: tuple, name: str) -> Graph:
    params = [Value(_type(a), f"p{i}") for i, a in enumerate((x, v, *dyn))]
    b = Builder(Block(params))
    b.block.results = [b.op("setitem", *params, index=index)]
    return Graph(name, b.block)


def numpy_setitem(x: Any, v: Any, dyn: tuple, index: tuple) -> np.ndarray:
    out = np.array(x, copy=True)
    it = iter(dyn)
    key = tuple(e[1] if e[0] == "int" else slice(*e[1:]) if e[0] == "slice" else
                None if e[0] == "none" else Ellipsis if e[0] == "ellipsis" else next(it)
                for e in index)
    with np.errstate(all="ignore"):
        out[key] = v
    return out


R = np.random.default_rng(7)
X = R.standard_normal((4, 5, 3))
CASES = [
    ("row", X, R.standard_normal((5, 3)), (), (("int", 1),)),
    ("slices", X, R.standard_normal((2, 2, 3)), (), (("slice", 1, 3, None),
                                                    ("slice", None, 4, 2))),
    ("negstep", X, R.standard_normal((4, 3)), (), (("slice", None, None, -1), ("int", -2))),
    ("negstep2", X, R.standard_normal((2, 5)), (), (("slice", 3, 0, -2), ALL, ("int", 0))),
    ("runtime", X, R.standard_normal(3), (2,), (("value",), ("int", 4))),
    ("runtime-neg", X, R.standard_normal(3), (-1, -5), (("value",), ("value",))),
    ("runtime-np", X, 2.5, (np.int32(3),), (ALL, ("value",))),
    ("bcast-scalar", X, 7.0, (), (ALL, ("slice", 1, 4, None))),
    ("bcast-row", X, R.standard_normal((1, 3)), (), (("int", 0),)),
    ("bcast-col", X, R.standard_normal((4, 1, 1)), (), (ALL, ("slice", 0, 2, None))),
    ("ellipsis", X, R.standard_normal(5), (), (("ellipsis",), ("int", 1))),
    ("none", X, R.standard_normal((1, 3)), (), (("int", 2), ("none",), ("int", 3))),
    ("all", X, R.standard_normal(3), (), ()),
    ("f2i", np.arange(20, dtype=np.int32).reshape(4, 5), R.standard_normal(5) * 10, (),
     (("int", 2),)),
    ("f2i-weak", np.arange(6, dtype=np.int64), 3.75, (1,), (("value",),)),
    ("i2f", X.astype(np.float32), np.arange(3), (), (("int", 0), ("int", 0))),
    ("f2h", X.astype(np.float16), R.standard_normal(3) * 100, (), (("int", 0), ("int", 1))),
    ("f2b", np.zeros((2, 3), bool), np.array([0.0, 0.5, -2.0]), (), (("int", 1),)),
    ("empty", X, 1.0, (), (("slice", 3, 1, None),)),
    ("empty-rt", X, R.standard_normal(3), (1,), (("value",), ("slice", 5, None, None))),
    ("zero-d", np.float64(2.0), np.float64(5.0), (), ()),
    ("zero-d-ellipsis", np.float32(2.0), 5, (), (("ellipsis",),)),
    ("zero-d-none", np.int64(3), np.array([9]), (), (("none",),)),
    ("to-0d-elem", X, np.float32(1.5), (), (("int", 3), ("int", 4), ("int", 2))),
    ("idx-array", X, R.standard_normal((2, 3)), (np.array([0, 3]),), (("value",), ("int", 1))),
    ("idx-array-mid", X, R.standard_normal((4, 3, 3)), (np.array([4, 0, -1]),),
     (ALL, ("value",))),
    ("idx-repeat", np.zeros(5), np.array([1.0, 2.0, 3.0]), (np.array([2, 2, 0]),),
     (("value",),)),
    ("idx-2arrays", X, R.standard_normal(2), (np.array([0, 0]), np.array([1, 1])),
     (("value",), ("value",), ("int", 0))),
    ("idx-split", X, 4.0, (np.array([[1], [2]]), np.array([0, 2])),
     (("value",), ALL, ("value",))),
]


@pytest.mark.parametrize(("name", "x", "v", "dyn", "index"), CASES, ids=[c[0] for c in CASES])
def test_setitem_matches_numpy(name: str, x: Any, v: Any, dyn: tuple, index: tuple,
                               poison: bool) -> None:
    g = one_setitem(x, v, dyn, index, f"set_{name.replace('-', '_')}")
    want = numpy_setitem(x, v, dyn, index)
    got = cpu(g, [x, v, *dyn], poison)[0]
    same(got, want)
    same(interp(g, [x, v, *dyn])[0], want)


def test_graph_inputs_are_never_written(poison: bool) -> None:
    x = np.arange(12.0).reshape(3, 4)
    keep = x.copy()
    g = one_setitem(x, 0.0, (1,), (("value",),), "set_input")
    be = LLVMBackend()
    f = be.compile(_named(g, poison))
    out = f([x, -1.5, 1])[0]                       # no copies: the caller's own array
    same(x, keep)
    same(out, numpy_setitem(keep, -1.5, (1,), (("value",),)))


# ------------------------------------------------------------------ run-time bounds
_BOUNDS_SCRIPT = """
import numpy as np
from jitgraph import config
config.CACHE_DIR = "off"
from jitgraph.backends.llvm_jit import LLVMBackend
from jitgraph.ir import parse_ir
from jitgraph.ir.graph import Block, Builder, Graph, Value
from jitgraph.types import TensorType, type_of_python

def one(xt, vt, dts, index):
    ps = [Value(t, f"p{i}") for i, t in enumerate([xt, vt, *dts])]
    b = Builder(Block(ps))
    b.block.results = [b.op("setitem", *ps, index=index)]
    return LLVMBackend().compile(Graph("oob", b.block))

F = np.dtype(np.float64)
x = np.zeros((4, 3))
cases = [
    (one(TensorType(F, (4, 3)), type_of_python(1.0), [type_of_python(1)], (("value",),)),
     [x, 1.0, 4]),
    (one(TensorType(F, (4, 3)), type_of_python(1.0), [type_of_python(1)], (("value",),)),
     [x, 1.0, -5]),
    (one(TensorType(F, (4, 3)), type_of_python(1.0), [type_of_python(1)],
         (("int", 0), ("value",))), [x, 1.0, 3]),
    (one(TensorType(F, (4, 3)), type_of_python(1.0),
         [TensorType(np.dtype(np.int64), (3,))], (("value",),)), [x, 1.0, np.array([0, 9, 1])]),
    (one(TensorType(F, (4, 3)), type_of_python(1.0),
         [TensorType(np.dtype(np.int64), (2,)), TensorType(np.dtype(np.int64), (2,))],
         (("value",), ("value",))), [x, 1.0, np.array([0, 1]), np.array([2, 3])]),
]
N = 50
loop = LLVMBackend().compile(parse_ir(f'''graph oob_loop(%x: f64[{N}]) {{
  %out = zeros() {{dtype=None, shape=({N},)}} : f64[{N}]
  %n = constant {N} : pyint
  %t = constant True : pybool
  %one = constant 1 : pyint
  %r = loop(%n, %t, %out) (%i: pyint, %o: f64[{N}]) {{
    %j = add(%i, %one) : pyint
    %v = getitem(%x, %i) {{index=(('value',),)}} : f64[]
    %o2 = setitem(%o, %v, %j) {{index=(('value',),)}} : f64[{N}]
    yield %t, %o2
  }} : f64[{N}]
  return %r
}}'''))
cases.append((loop, [np.ones(N)]))
for k, (f, args) in enumerate(cases):
    before = [a.copy() for a in args if isinstance(a, np.ndarray)]
    for _ in range(2):                        # the native call path, then the cached one
        try:
            f(args)
        except IndexError as e:
            assert "out of bounds" in str(e), e
        else:
            raise SystemExit(f"case {k}: no IndexError")
    for a, b in zip([a for a in args if isinstance(a, np.ndarray)], before):
        assert np.array_equal(a, b), f"case {k}: an input changed"
print("OK", len(cases))
"""


def test_out_of_range_index_raises_in_a_subprocess(poison: bool) -> None:
    env = dict(os.environ, JITGRAPH_ARENA_POISON="1" if poison else "0", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_BOUNDS_SCRIPT)],
                         capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
                         check=False)
    assert out.returncode == 0, f"rc={out.returncode}\n{out.stdout}\n{out.stderr}"
    assert out.stdout.strip() == "OK 6", out.stdout + out.stderr


# ------------------------------------------------------------------ in place, in loops
N = 1000

FILL = f"""graph fill(%x: f64[{N}]) {{
  %out = zeros() {{dtype=None, shape=({N},)}} : f64[{N}]
  %n = constant {N} : pyint
  %t = constant True : pybool
  %r = loop(%n, %t, %out) (%i: pyint, %o: f64[{N}]) {{
    %v = getitem(%x, %i) {{index=(('value',),)}} : f64[]
    %two = constant 2.0 : pyfloat
    %w = mul(%v, %two) : f64[]
    %o2 = setitem(%o, %w, %i) {{index=(('value',),)}} : f64[{N}]
    yield %t, %o2
  }} : f64[{N}]
  return %r
}}"""


def _x(n: int = N) -> np.ndarray:
    return np.random.default_rng(3).standard_normal(n)


def test_fill_loop_writes_in_place(poison: bool) -> None:
    g = parse_ir(FILL)
    x = _x()
    keep = x.copy()
    same(cpu(g, [x], poison)[0], x * 2.0)
    same(x, keep)
    # in place: the carried buffer is the caller's output array, no temporaries at all;
    # copying: one temporary of the whole array per iteration
    assert arena(g) == ERR_INFO_BYTES
    assert arena(g, inplace=False) >= ERR_INFO_BYTES + N * 8


def test_running_sum_reads_before_it_writes(poison: bool) -> None:
    # out[i] = out[i - 1] + x[i] (out[-1] is the last element, 0 until the end)
    g = parse_ir(f"""graph cumsum_loop(%x: f64[{N}]) {{
      %out = zeros() {{dtype=None, shape=({N},)}} : f64[{N}]
      %n = constant {N} : pyint
      %t = constant True : pybool
      %one = constant 1 : pyint
      %r = loop(%n, %t, %out) (%i: pyint, %o: f64[{N}]) {{
        %j = sub(%i, %one) : pyint
        %prev = getitem(%o, %j) {{index=(('value',),)}} : f64[]
        %v = getitem(%x, %i) {{index=(('value',),)}} : f64[]
        %s = add(%prev, %v) : f64[]
        %o2 = setitem(%o, %s, %i) {{index=(('value',),)}} : f64[{N}]
        yield %t, %o2
      }} : f64[{N}]
      return %r
    }}""")
    x = _x()
    got = cpu(g, [x], poison)[0]
    same(got, interp(g, [x])[0])
    np.testing.assert_allclose(got, np.cumsum(x))
    assert arena(g) == ERR_INFO_BYTES


def test_overlapping_value_is_staged(poison: bool) -> None:
    # out[1:] = out[:-1] * 0.5 + x[1:] written as out[1:] = out[:-1] (a view of out), then
    # a second update; and a variant that reads the old view after the write (copy)
    M = 64
    for k, tail in enumerate(("", "%s = sum(%old) {axis=(0,), dtype=None, keepdims=False} "
                              ": f64[]\n        %o3 = setitem(%o2, %s, %i) "
                              "{index=(('value',),)} : f64[" + str(M) + "]")):
        res = "%o3" if tail else "%o2"
        g = parse_ir(f"""graph shift{k}(%x: f64[{M}]) {{
          %n = constant 5 : pyint
          %t = constant True : pybool
          %r = loop(%n, %t, %x) (%i: pyint, %o: f64[{M}]) {{
            %old = getitem(%o) {{index=(('slice', None, -1, None),)}} : f64[{M - 1}]
            %o2 = setitem(%o, %old) {{index=(('slice', 1, None, None),)}} : f64[{M}]
            {tail}
            yield %t, {res}
          }} : f64[{M}]
          return %r
        }}""")
        x = _x(M)
        keep = x.copy()
        same(cpu(g, [x], poison)[0], interp(g, [x])[0])
        same(x, keep)


def test_two_carried_arrays_and_a_scalar(poison: bool) -> None:
    g = parse_ir(f"""graph two(%x: f64[{N}]) {{
      %a0 = zeros() {{dtype=None, shape=({N},)}} : f64[{N}]
      %b0 = ones() {{dtype=i32, shape=({N},)}} : i32[{N}]
      %s0 = constant 0.0 : pyfloat
      %n = constant {N} : pyint
      %t = constant True : pybool
      %a, %b, %s = loop(%n, %t, %a0, %b0, %s0) (%i: pyint, %ap: f64[{N}], %bp: i32[{N}], %sp: pyfloat) {{  # noqa: E501
        %v = getitem(%x, %i) {{index=(('value',),)}} : f64[]
        %s1 = add(%sp, %v) : f64[]
        %a1 = setitem(%ap, %s1, %i) {{index=(('value',),)}} : f64[{N}]
        %b1 = setitem(%bp, %v, %i) {{index=(('value',),)}} : i32[{N}]
        yield %t, %a1, %b1, %s1
      }} : f64[{N}], i32[{N}], pyfloat
      return %a, %b
    }}""")
    x = _x() * 10
    got = cpu(g, [x], poison)
    want = interp(g, [x])
    for a, b in zip(got, want):
        same(a, b)
    np.testing.assert_allclose(got[0], np.cumsum(x))
    same(got[1], x.astype(np.int32))
    assert arena(g) == ERR_INFO_BYTES


def test_branches_update_the_carried_buffer(poison: bool) -> None:
    # for i: if x[i] > 0: out[i] = x[i] else: out[i] = -1   (and an `if` with no write)
    g = parse_ir(f"""graph relu_loop(%x: f64[{N}]) {{
      %out = zeros() {{dtype=None, shape=({N},)}} : f64[{N}]
      %n = constant {N} : pyint
      %t = constant True : pybool
      %zero = constant 0.0 : pyfloat
      %neg = constant -1.0 : pyfloat
      %half = constant 0.5 : pyfloat
      %r = loop(%n, %t, %out) (%i: pyint, %o: f64[{N}]) {{
        %v = getitem(%x, %i) {{index=(('value',),)}} : f64[]
        %c = gt(%v, %zero) : bool[]
        %o2 = if(%c) {{
          %o3 = setitem(%o, %v, %i) {{index=(('value',),)}} : f64[{N}]
          yield %o3
        }} else {{
          %o4 = setitem(%o, %neg, %i) {{index=(('value',),)}} : f64[{N}]
          yield %o4
        }} : f64[{N}]
        %big = gt(%v, %half) : bool[]
        %o5 = if(%big) {{
          %o6 = setitem(%o2, %half, %i) {{index=(('value',),)}} : f64[{N}]
          yield %o6
        }} else {{
          yield %o2
        }} : f64[{N}]
        yield %t, %o5
      }} : f64[{N}]
      return %r
    }}""")
    x = _x()
    got = cpu(g, [x], poison)[0]
    same(got, interp(g, [x])[0])
    same(got, np.where(x > 0.5, 0.5, np.where(x > 0, x, -1.0)))
    assert arena(g) == ERR_INFO_BYTES


def test_nested_loops_fill_a_matrix_in_place(poison: bool) -> None:
    # out = zeros((R, C)); for i: for j: out[i, j] = x[i] * y[j]
    Rn, Cn = 40, 30
    g = parse_ir(f"""graph outer(%x: f64[{Rn}], %y: f64[{Cn}]) {{
      %out = zeros() {{dtype=None, shape=({Rn}, {Cn})}} : f64[{Rn},{Cn}]
      %nr = constant {Rn} : pyint
      %nc = constant {Cn} : pyint
      %t = constant True : pybool
      %r = loop(%nr, %t, %out) (%i: pyint, %o: f64[{Rn},{Cn}]) {{
        %xi = getitem(%x, %i) {{index=(('value',),)}} : f64[]
        %q = loop(%nc, %t, %o) (%j: pyint, %p: f64[{Rn},{Cn}]) {{
          %yj = getitem(%y, %j) {{index=(('value',),)}} : f64[]
          %v = mul(%xi, %yj) : f64[]
          %p2 = setitem(%p, %v, %i, %j) {{index=(('value',), ('value',))}} : f64[{Rn},{Cn}]
          yield %t, %p2
        }} : f64[{Rn},{Cn}]
        yield %t, %q
      }} : f64[{Rn},{Cn}]
      return %r
    }}""")
    x, y = _x(Rn), _x(Cn) + 1
    got = cpu(g, [x, y], poison)[0]
    same(got, np.multiply.outer(x, y))
    # the inner loop takes the outer carried buffer over: nothing is copied per iteration
    assert arena(g) == ERR_INFO_BYTES
    assert arena(g, inplace=False) > ERR_INFO_BYTES + Rn * Cn * 8


def test_outer_value_read_every_iteration_is_copied(poison: bool) -> None:
    # y is made before the loop and read in every iteration: setitem must not change it
    g = parse_ir(f"""graph keep_outer(%x: f64[{N}]) {{
      %y = exp(%x) : f64[{N}]
      %n = constant 7 : pyint
      %t = constant True : pybool
      %r = loop(%n, %t, %x) (%i: pyint, %o: f64[{N}]) {{
        %v = getitem(%o, %i) {{index=(('value',),)}} : f64[]
        %o2 = setitem(%y, %v, %i) {{index=(('value',),)}} : f64[{N}]
        yield %t, %o2
      }} : f64[{N}]
      %z = add(%r, %y) : f64[{N}]
      return %z
    }}""")
    x = _x()
    same(cpu(g, [x], poison)[0], interp(g, [x])[0])


@pytest.mark.parametrize("read_after", [False, True])
def test_loop_takes_over_a_dead_init(read_after: bool, poison: bool) -> None:
    # init = exp(x), a temporary: the loop writes into it unless it is read afterwards
    last = "%z = sub(%r, %y)" if read_after else "%z = mul(%r, %y0)"
    g = parse_ir(f"""graph takeover{int(read_after)}(%x: f64[{N}]) {{
      %y = exp(%x) : f64[{N}]
      %n = constant {N} : pyint
      %t = constant True : pybool
      %r = loop(%n, %t, %y) (%i: pyint, %o: f64[{N}]) {{
        %v = getitem(%x, %i) {{index=(('value',),)}} : f64[]
        %o2 = setitem(%o, %v, %i) {{index=(('value',),)}} : f64[{N}]
        yield %t, %o2
      }} : f64[{N}]
      %y0 = constant 2.0 : pyfloat
      {last} : f64[{N}]
      return %z
    }}""")
    x = _x()
    keep = x.copy()
    got = cpu(g, [x], poison)[0]
    same(got, interp(g, [x])[0])
    same(got, x - np.exp(x) if read_after else x * 2.0)
    same(x, keep)
    # taken over, the loop needs no buffer of its own: y's is the only temporary
    assert (arena(g) < ERR_INFO_BYTES + 2 * N * 8) == (not read_after)


def test_loop_over_a_graph_input_leaves_it_alone(poison: bool) -> None:
    g = parse_ir(f"""graph from_input(%x: f64[{N}]) {{
      %n = constant {N} : pyint
      %t = constant True : pybool
      %c = constant 3.0 : pyfloat
      %r = loop(%n, %t, %x) (%i: pyint, %o: f64[{N}]) {{
        %v = getitem(%o, %i) {{index=(('value',),)}} : f64[]
        %w = mul(%v, %c) : f64[]
        %o2 = setitem(%o, %w, %i) {{index=(('value',),)}} : f64[{N}]
        yield %t, %o2
      }} : f64[{N}]
      return %r, %x
    }}""")
    x = _x()
    keep = x.copy()
    f = LLVMBackend().compile(_named(g, poison))
    r, x2 = f([x])                                   # the caller's array itself
    same(x, keep)
    same(r, keep * 3.0)
    same(x2, keep)


@pytest.mark.parametrize("also_return_y", [False, True])
def test_top_level_temporary(also_return_y: bool, poison: bool) -> None:
    # y = exp(x); z = y with z[idx] = 0 for an index array that is part of an int temp
    g = parse_ir(f"""graph toplevel{int(also_return_y)}(%x: f64[6,4], %k: i64[5]) {{
      %y = exp(%x) : f64[6,4]
      %yt = transpose(%y) {{axes=(1, 0)}} : f64[4,6]
      %zero = constant 0.0 : pyfloat
      %z = setitem(%yt, %zero, %k) {{index=(('slice', None, None, None), ('value',))}} : f64[4,6]
      %kk = add(%k, %k) : i64[5]
      %m = setitem(%kk, %kk, %kk) {{index=(('value',),)}} : i64[5]
      return %z, %m{", %y" if also_return_y else ""}
    }}""")
    x = _x(24).reshape(6, 4)
    k = np.array([0, -1, 2, 2, 1])
    got = cpu(g, [x, k], poison)
    want = interp(g, [x, k])
    assert len(got) == len(want)
    for a, b in zip(got, want):
        same(a, b)
    if also_return_y:
        np.testing.assert_allclose(got[2], np.exp(x))
