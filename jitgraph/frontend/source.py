"""Reading a function's source: getsource + dedent + ast.parse, with line and column
offsets fixed so every location points into the user's file. A lambda's source is cut
out of its line by lambdas.py and comes back as an equivalent `def`."""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ScriptError, SourceLoc
from .lambdas import is_lambda, lambda_function_def


@dataclass
class FunctionSource:
    fn: Callable[..., Any]
    tree: ast.FunctionDef
    filename: str

    def loc(self, node: ast.AST) -> SourceLoc:
        return SourceLoc(self.filename, getattr(node, "lineno", self.tree.lineno),
                         getattr(node, "col_offset", 0))


@functools.cache
def _parse(fn: Callable[..., Any]) -> FunctionSource:
    if is_lambda(fn):
        lines, _, filename = _read(fn, whole_file=True)
        return FunctionSource(fn, lambda_function_def(fn, lines, filename), filename)
    lines, first, filename = _read(fn, whole_file=False)
    src = "".join(lines)
    dedented = textwrap.dedent(src)
    indent = _indent_of(src) - _indent_of(dedented)
    try:
        tree = ast.parse(dedented)
    except SyntaxError as e:
        raise ScriptError(f"cannot parse the source of {_name(fn)!r}: {e.msg}",
                          SourceLoc(filename, first + (e.lineno or 1) - 1, 0)) from None
    ast.increment_lineno(tree, first - 1)
    if indent:
        node: Any
        for node in ast.walk(tree):
            if hasattr(node, "col_offset"):
                node.col_offset += indent
            if getattr(node, "end_col_offset", None) is not None:
                node.end_col_offset += indent
    fdefs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not fdefs:
        raise ScriptError(f"{_name(fn)!r} is not a function defined with `def` or `lambda`",
                          SourceLoc(filename, first, 0), "def")
    fdef = fdefs[0]
    if isinstance(fdef, ast.AsyncFunctionDef):
        raise ScriptError("async functions cannot be scripted", SourceLoc(filename, fdef.lineno,
                                                                         fdef.col_offset),
                          "async def")
    return FunctionSource(fn, fdef, filename)


def _read(fn: Callable[..., Any], whole_file: bool) -> tuple[list[str], int, str]:
    """The function's source lines (or all lines of its file), the line number of the
    first, and the file's name; a ScriptError saying why when Python kept no source."""
    try:
        filename = inspect.getsourcefile(fn) or inspect.getfile(fn)
        if whole_file:
            lines, first = inspect.findsource(fn)[0], 1
        else:
            lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError, SyntaxError, tokenize.TokenError) as e:
        code = getattr(fn, "__code__", None)
        where = f" (defined in {code.co_filename})" if code is not None else ""
        raise ScriptError(
            f"cannot read the source of {_name(fn)!r}{where}: {e}. jg.script compiles a "
            "function from its source code, which functions made by exec/eval or typed at "
            "the interactive prompt do not have; define it in a file") from None
    return lines, first, filename


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", fn))


def _indent_of(src: str) -> int:
    for line in src.splitlines():
        if line.strip():
            return len(line) - len(line.lstrip())
    return 0


def function_source(fn: Callable[..., Any]) -> FunctionSource:
    return _parse(getattr(fn, "__wrapped__", fn) if not inspect.isfunction(fn) else fn)
