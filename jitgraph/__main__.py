"""Command line: print a function's IR at each compilation stage.

    python -m jitgraph ir FILE.py:FUNC
        the generic IR (`f.graph`): the function's structure, types unknown
    python -m jitgraph ir FILE.py:FUNC --arg x=f32[64,1000] --arg lr=pyfloat
        also the "typed" and "optimized" stages for arguments of those types
    python -m jitgraph ir FILE.py:FUNC --arg ... --stage optimized
        just that stage (ir, typed, grad, optimized, llvm, asm, cuda), without a header

FILE.py is loaded from its path as a module that is not `__main__`, so its
`if __name__ == "__main__":` block does not run; FILE may also be an importable module
name (`pkg.mod:FUNC`). FUNC is a ScriptFunction or a plain function (scripted here), and
may be dotted (`Class.method`). An --arg gives each parameter a type in the IR's text
form: arrays get small example values of that dtype and shape (normal random floats,
ones for integers and bools), `pyfloat` -> 0.5, `pyint` -> 1, `pybool` -> True,
`pycomplex` -> 0.5+0j. A Python literal instead of a type (`--arg n=3`,
`--arg shape=(2,3)`) passes that value, for static arguments. Parameters with defaults
may be left out.

Exit status: 0 on success; 1 when the function itself cannot be compiled (ScriptError,
JitTypeError, CompileError: the message shows the source line); 2 for a usage error (no
such file or function, a bad --arg), with a one-line message.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import inspect
import itertools
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

_module_ids = itertools.count()


class UsageError(Exception):
    """A mistake on the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and sys.exit(2)
        raise UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    from .api import STAGES
    p = _Parser(prog="python -m jitgraph",
                description="Print a scripted function's IR at each compilation stage.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    ir = sub.add_parser("ir", help="print the IR of FILE.py:FUNC",
                        description="Print the IR of FILE.py:FUNC: the generic graph, and "
                        "with --arg the typed and optimized graphs.")
    ir.add_argument("target", metavar="FILE.py:FUNC")
    ir.add_argument("--arg", action="append", default=[], metavar="NAME=TYPE",
                    help="a parameter's type in IR text form (f32[64,1000], pyfloat, "
                    "i64[], ...) or a Python literal value; repeat for each parameter")
    ir.add_argument("--stage", choices=STAGES, default=None,
                    help="print only this stage (without a header)")
    ir.add_argument("--backend", choices=("auto", "cpu", "cuda", "interp"), default=None,
                    help="compile for this backend (default: the function's own, or "
                    "'interp' for a plain function)")
    return p


# ------------------------------------------------------------------------ loading
def load_target(target: str) -> Any:
    """The object named by FILE.py:FUNC (or module:FUNC)."""
    path, sep, qualname = target.rpartition(":")
    if not sep or not path or not qualname:
        raise UsageError(f"expected FILE.py:FUNC, got {target!r}")
    module = _load_module(path)
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = getattr(module, "__file__", None) or path
            raise UsageError(f"{where} has no function {qualname!r}") from None
    return obj


def _load_module(path: str) -> Any:
    if path.endswith(".py") or os.sep in path or os.path.exists(path):
        if not os.path.isfile(path):
            raise UsageError(f"no such file: {path}")
        full = os.path.abspath(path)
        stem = os.path.splitext(os.path.basename(full))[0]
        # Not "__main__", so the file's `if __name__ == "__main__":` block stays asleep;
        # a private name, so it never shadows a module of the same name.
        name = f"_jitgraph_cli_{next(_module_ids)}_{stem}"
        spec = importlib.util.spec_from_file_location(name, full)
        if spec is None or spec.loader is None:
            raise UsageError(f"cannot load {path} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        folder = os.path.dirname(full)
        if folder not in sys.path:  # sibling imports work as when running the script
            sys.path.insert(0, folder)
        from .errors import JitError
        try:
            spec.loader.exec_module(module)
        except JitError:
            raise
        except Exception as e:  # noqa: BLE001  (the user's module failed to import)
            sys.modules.pop(name, None)
            first = str(e).splitlines()[0] if str(e) else ""
            raise UsageError(f"importing {path} failed: {type(e).__name__}: {first}"
                             ) from None
        return module
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as e:
        if e.name and path.startswith(e.name):
            raise UsageError(f"no such file or module: {path}") from None
        raise


def as_script_function(obj: Any, backend: str | None) -> Any:
    from .api import ScriptFunction, script
    if isinstance(obj, ScriptFunction):
        if backend is None or backend == obj.backend or type(obj) is not ScriptFunction:
            return obj
        return ScriptFunction(obj.fn, backend, obj.fallback, obj.static_argnums, obj.cache)
    fn = obj
    if not inspect.isfunction(fn):
        raise UsageError(f"{getattr(obj, '__qualname__', type(obj).__name__)!s} is not a "
                         "function or a ScriptFunction")
    return script(fn, backend=backend or "interp")


# ---------------------------------------------------------------------- arguments
def example_for(text: str, rng: np.random.Generator) -> Any:
    """An example argument for one --arg value: a type in IR text form, or a literal."""
    from .types import parse_type
    try:
        t = parse_type(text)
    except (KeyError, ValueError, TypeError):
        t = None
    if t is None:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise UsageError(f"{text!r} is neither a type (f32[3,4], pyfloat, i64[], ...) "
                             "nor a Python literal") from None
        return value
    if not t.known:
        raise UsageError(f"type {text!r} must have a dtype and a static shape")
    assert t.dtype is not None and t.shape is not None
    if t.weak:
        return {"f": 0.5, "i": 1, "b": True, "c": 0.5 + 0j}[t.dtype.kind]
    if any(d < 0 for d in t.shape):
        raise UsageError(f"type {text!r} has a negative dimension")
    kind = t.dtype.kind
    if kind == "f":
        a = rng.standard_normal(t.shape).astype(t.dtype)
    elif kind == "c":
        a = (rng.standard_normal(t.shape) + 1j * rng.standard_normal(t.shape)).astype(t.dtype)
    else:
        a = np.ones(t.shape, dtype=t.dtype)
    return a[()] if t.shape == () else a  # `f32[]` is a NumPy scalar


def parse_args_for(sf: Any, specs: Sequence[str]) -> tuple[Any, ...]:
    """The positional example arguments for the --arg specs, checked against the
    function's parameters."""
    rng = np.random.default_rng(0)
    given: dict[str, Any] = {}
    for spec in specs:
        name, eq, text = spec.partition("=")
        name, text = name.strip(), text.strip()
        if not eq or not name or not text:
            raise UsageError(f"--arg expects NAME=TYPE, got {spec!r}")
        if name in given:
            raise UsageError(f"--arg {name} is given twice")
        given[name] = (text, example_for(text, rng))
    sig = inspect.signature(sf.fn)
    unknown = [n for n in given if n not in sig.parameters]
    if unknown:
        raise UsageError(f"{sf.__name__} has no parameter {unknown[0]!r} (parameters: "
                         f"{', '.join(sig.parameters)})")
    missing = [n for n, p in sig.parameters.items()
               if n not in given and p.default is inspect.Parameter.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if missing:
        raise UsageError(f"missing --arg for {', '.join(missing)} (every parameter of "
                         f"{sf.__name__} without a default needs a type)")
    try:
        ba = sig.bind(**{n: v for n, (_, v) in given.items()})
    except TypeError as e:
        raise UsageError(f"{sf.__name__}: {e}") from None
    ba.apply_defaults()
    return tuple(ba.args)


# --------------------------------------------------------------------------- main
def _cmd_ir(ns: argparse.Namespace) -> int:
    from .errors import JitError
    obj = load_target(ns.target)
    try:
        sf = as_script_function(obj, ns.backend)
        if not ns.arg:
            if ns.stage not in (None, "ir"):
                raise UsageError(f"--stage {ns.stage} needs the argument types: give "
                                 "--arg NAME=TYPE for each parameter")
            print(str(sf.graph).rstrip("\n"))
            return 0
        args = parse_args_for(sf, ns.arg)
        if ns.stage is not None:
            print(_stage(sf, args, ns.stage).rstrip("\n"))
            return 0
        texts = [(stage, _stage(sf, args, stage)) for stage in ("ir", "typed", "optimized")]
        for stage, text in texts:  # all computed first: an error prints no partial output
            print(f"=== {stage} ===")
            print(text.rstrip("\n"))
        return 0
    except JitError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1


def _stage(sf: Any, args: tuple[Any, ...], stage: str) -> str:
    if stage == "ir":
        return str(sf.graph)
    return sf.dump(*args, stage=stage)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m jitgraph` and the `jitgraph` console script."""
    from .errors import JitError
    parser = _build_parser()
    try:
        ns = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        if ns.command is None:
            parser.print_help(sys.stderr)
            return 2
        return _cmd_ir(ns)
    except UsageError as e:
        print(f"jitgraph: error: {e}", file=sys.stderr)
        return 2
    except JitError as e:  # raised while loading the file (a module-level @jg.script)
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)


if __name__ == "__main__":
    sys.exit(main())
