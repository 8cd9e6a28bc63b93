"""Reading a function's source: getsource + dedent + ast.parse, with line and column
offsets fixed so every location points into the user's file."""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ScriptError, SourceLoc


@dataclass
class FunctionSource:
    fn: Callable[..., Any]
    tree: ast.FunctionDef
    filename: str

    def loc(self, node: ast.AST) -> SourceLoc:
        return SourceLoc(self.filename, getattr(node, "lineno", self.tree.lineno),
                         getattr(node, "col_offset", 0))


@functools.lru_cache(maxsize=None)
def _parse(fn: Callable[..., Any]) -> FunctionSource:
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or inspect.getfile(fn)
    except (OSError, TypeError) as e:
        raise ScriptError(f"cannot read the source of {getattr(fn, '__qualname__', fn)!r}: {e}"
                          ) from None
    src = "".join(lines)
    dedented = textwrap.dedent(src)
    indent = _indent_of(src) - _indent_of(dedented)
    tree = ast.parse(dedented)
    ast.increment_lineno(tree, first - 1)
    if indent:
        for node in ast.walk(tree):
            if hasattr(node, "col_offset"):
                node.col_offset += indent
            if getattr(node, "end_col_offset", None) is not None:
                node.end_col_offset += indent  # type: ignore[operator]
    fdefs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not fdefs:
        raise ScriptError(f"{getattr(fn, '__qualname__', fn)!r} is not a function defined with "
                          "`def` (lambdas cannot be scripted)",
                          SourceLoc(filename, first, 0), "lambda")
    fdef = fdefs[0]
    if isinstance(fdef, ast.AsyncFunctionDef):
        raise ScriptError("async functions cannot be scripted", SourceLoc(filename, fdef.lineno,
                                                                         fdef.col_offset),
                          "async def")
    return FunctionSource(fn, fdef, filename)


def _indent_of(src: str) -> int:
    for line in src.splitlines():
        if line.strip():
            return len(line) - len(line.lstrip())
    return 0


def function_source(fn: Callable[..., Any]) -> FunctionSource:
    return _parse(getattr(fn, "__wrapped__", fn) if not inspect.isfunction(fn) else fn)
