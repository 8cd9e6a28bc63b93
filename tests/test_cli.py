"""`python -m jitgraph ir FILE.py:FUNC [--arg NAME=TYPE ...] [--stage S]`: the stages it
prints, how it loads the file, and its one-line usage errors (exit status 2). Most cases
call `jitgraph.__main__.main(argv)` in process (fast); a few run the real subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import jitgraph as jg
from jitgraph.__main__ import main

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
CORPUS = os.path.join("tests", "golden_corpus.py")
MODEL_ARGS = ["--arg", "x=f32[64,1000]", "--arg", "y=f32[64,10]", "--arg", "w1=f32[1000,100]",
              "--arg", "w2a=f32[100,10]", "--arg", "w2b=f32[100,10]", "--arg", "prev_loss=pyfloat"]


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jitgraph", *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)


def call(capsys, *argv: str) -> tuple[int, str, str]:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        rc = main(list(argv))
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    return rc, out, err


# ================================================================== subprocess runs
def test_subprocess_generic_ir():
    p = run_cli("ir", f"{CORPUS}:model")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("graph model(%x: ?, %y: ?, %w1: ?")
    assert "if(" in out and "%y_pred = matmul" in out and "return %loss" in out
    assert "golden_corpus.py:" in out
    assert "===" not in out                       # just the one stage
    assert p.stderr == ""


def test_subprocess_all_stages_with_args():
    p = run_cli("ir", f"{CORPUS}:model", *MODEL_ARGS)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    i, t, o = (out.index(f"=== {s} ===") for s in ("ir", "typed", "optimized"))
    assert i < t < o
    ir, typed, opt = out[i:t], out[t:o], out[o:]
    assert "%x: ?" in ir
    assert "%x: f32[64,1000]" in typed and "%prev_loss: pyfloat" in typed
    assert "%y_pred = matmul(%h, %w2) : f32[64,10]" in typed
    assert "f32[]" in opt and "graph model(" in opt
    # the printed stages are what the API gives
    assert ir.split("\n", 1)[1].strip() == str(jg.script(
        _corpus().model).graph).strip()


def test_subprocess_errors_exit_2_one_line():
    for argv in (["ir", "no/such/file.py:f"],
                 ["ir", f"{CORPUS}:no_such_function"],
                 ["ir", f"{CORPUS}:model", "--arg", "x=f99[3]"]):
        p = run_cli(*argv)
        assert p.returncode == 2, (argv, p.stdout, p.stderr)
        assert p.stdout == ""
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "Traceback" not in p.stderr


def _corpus():
    sys.path.insert(0, TESTS)
    try:
        import golden_corpus
    finally:
        sys.path.remove(TESTS)
    return golden_corpus


# ===================================================================== in process
def test_main_generic_ir(capsys):
    rc, out, err = call(capsys, "ir", f"{CORPUS}:piecewise")
    assert rc == 0, err
    assert out.startswith("graph piecewise(%x: ?, %t: ?)")
    assert out.count("if(") == 2


def test_main_single_stage(capsys):
    rc, out, err = call(capsys, "ir", f"{CORPUS}:power_loop", "--arg", "x=f32[8]",
                        "--arg", "n=pyint", "--stage", "optimized")
    assert rc == 0, err
    assert out.startswith("graph power_loop(%x: f32[8], %n: pyint)")
    assert "loop(" in out and "===" not in out
    rc, out, err = call(capsys, "ir", f"{CORPUS}:power_loop", "--arg", "x=f32[8]",
                        "--arg", "n=pyint", "--stage", "typed")
    assert rc == 0 and out.startswith("graph power_loop(%x: f32[8], %n: pyint)")
    rc, out, err = call(capsys, "ir", f"{CORPUS}:power_loop", "--stage", "ir")
    assert rc == 0 and out.startswith("graph power_loop(%x: ?, %n: ?)")


def test_main_plain_function_is_scripted(capsys):
    rc, out, err = call(capsys, "ir", f"{CORPUS}:mlp", "--arg", "x=f32[64,1000]",
                        "--arg", "w1=f32[1000,10]", "--arg", "b1=f32[10]",
                        "--arg", "w2=f32[10,2]", "--arg", "b2=f32[2]")
    assert rc == 0, err
    assert "=== typed ===" in out and "f32[64,2]" in out
    assert "_affine" not in out                   # the helper is inlined


def test_main_types_of_every_kind(capsys, tmp_path):
    src = tmp_path / "kinds.py"
    src.write_text(textwrap.dedent("""
        import numpy as np

        def f(a, b, c, d, e, g, h):
            return a * b + c, d.sum() + e, g, h
    """))
    rc, out, err = call(capsys, "ir", f"{src}:f", "--arg", "a=f64[2,3]", "--arg", "b=pyfloat",
                        "--arg", "c=pyint", "--arg", "d=i32[4]", "--arg", "e=f32[]",
                        "--arg", "g=bool[2]", "--arg", "h=pybool", "--stage", "typed")
    assert rc == 0, err
    assert ("graph f(%a: f64[2,3], %b: pyfloat, %c: pyint, %d: i32[4], %e: f32[], "
            "%g: bool[2], %h: pybool)") in out


def test_main_literal_values_for_static_args(capsys, tmp_path):
    src = tmp_path / "statics.py"
    src.write_text(textwrap.dedent("""
        import numpy as np
        import jitgraph as jg

        def reshape_to(x, shape):
            return x.reshape(shape)

        f = jg.script(reshape_to, static_argnums=1)
    """))
    rc, out, err = call(capsys, "ir", f"{src}:f", "--arg", "x=f32[6]", "--arg", "shape=(2,3)",
                        "--stage", "typed")
    assert rc == 0, err
    assert "f32[2,3]" in out


def test_main_does_not_run_main_block(capsys, tmp_path):
    src = tmp_path / "script_like.py"
    src.write_text(textwrap.dedent("""
        import numpy as np

        def g(x):
            return np.exp(x)

        if __name__ == "__main__":
            raise SystemExit("the __main__ block ran")
    """))
    rc, out, err = call(capsys, "ir", f"{src}:g")
    assert rc == 0, err
    assert "exp(%x)" in out


def test_main_sibling_imports_and_dotted_names(capsys, tmp_path):
    (tmp_path / "helpers_cli_mod.py").write_text("def double(x):\n    return x * 2.0\n")
    src = tmp_path / "uses_sibling.py"
    src.write_text(textwrap.dedent("""
        from helpers_cli_mod import double

        class Holder:
            @staticmethod
            def run(x):
                return double(x) + 1.0
    """))
    rc, out, err = call(capsys, "ir", f"{src}:Holder.run", "--arg", "x=f32[3]")
    assert rc == 0, err
    assert "mul(" in out and "add(" in out


@pytest.mark.parametrize("argv,needle", [
    (["ir", "missing_file_xyz.py:f"], "no such file"),
    (["ir", f"{CORPUS}:nope"], "nope"),
    (["ir", f"{CORPUS}"], "FILE.py:FUNC"),
    (["ir", f"{CORPUS}:EXAMPLES"], "not a function"),
    (["ir", f"{CORPUS}:model", "--arg", "x=f33[3]"], "f33[3]"),
    (["ir", f"{CORPUS}:model", "--arg", "x"], "NAME=TYPE"),
    (["ir", f"{CORPUS}:model", "--arg", "x=f32[3]"], "missing"),
    (["ir", f"{CORPUS}:power_loop", "--arg", "x=f32[3]", "--arg", "n=pyint",
      "--arg", "q=pyint"], "'q'"),
    (["ir", f"{CORPUS}:power_loop", "--arg", "x=f32[3]", "--arg", "x=f32[4]",
      "--arg", "n=pyint"], "twice"),
    (["ir", f"{CORPUS}:power_loop", "--arg", "x=f32[?]", "--arg", "n=pyint"], "shape"),
    (["ir", f"{CORPUS}:model", "--stage", "typed"], "--arg"),
    (["ir", f"{CORPUS}:model", "--stage", "bogus"], "bogus"),
    (["ir"], "required"),
    (["frobnicate"], "frobnicate"),
], ids=lambda v: "-".join(v)[:40] if isinstance(v, list) else None)
def test_main_usage_errors(capsys, argv, needle):
    rc, out, err = call(capsys, *argv)
    assert rc == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0], err


def test_main_no_command(capsys):
    rc, _out, err = call(capsys)
    assert rc == 2 and "usage" in err


def test_main_compile_error_exit_1_with_source_line(capsys):
    rc, out, err = call(capsys, "ir", f"{CORPUS}:mlp", "--arg", "x=f32[3,4]",
                        "--arg", "w1=f32[5,2]", "--arg", "b1=f32[2]", "--arg", "w2=f32[2,2]",
                        "--arg", "b2=f32[2]")
    assert rc == 1
    assert out == ""                                  # nothing half-printed
    assert "JitTypeError" in err and "return x @ w + b" in err and "^" in err


def test_main_script_error_in_file(capsys, tmp_path):
    src = tmp_path / "refused.py"
    src.write_text(textwrap.dedent("""
        import jitgraph as jg

        @jg.script
        def bad(x):
            return {x for _ in range(2)}
    """))
    rc, _out, err = call(capsys, "ir", f"{src}:bad")
    assert rc == 1
    assert "ScriptError" in err and "comprehension" in err


def test_main_import_failure_is_usage_error(capsys, tmp_path):
    src = tmp_path / "broken.py"
    src.write_text("raise RuntimeError('boom')\n")
    rc, _out, err = call(capsys, "ir", f"{src}:f")
    assert rc == 2 and "boom" in err and len(err.strip().splitlines()) == 1


def test_main_help_exits_zero(capsys):
    rc, out, _err = call(capsys, "--help")
    assert rc == 0 and "ir" in out
