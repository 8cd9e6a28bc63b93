"""Finding a lambda's AST. `inspect.getsource` of a lambda gives whole source lines, which
are often not a statement on their own (`'exp': jg.script(lambda x: np.exp(x)),` inside a
dict literal). So we read the file's lines, cut out each `lambda ...` expression that
starts on the code object's first line (trying the longest text that parses first, as
the end of a lambda is only known to the parser), and keep the candidate that compiled
into this code object: same argument names, the body at the source position the code's
instructions record, the same bytecode. The result is rewritten as
`def <lambda>(args): return body`, with locations in the user's file, so the rest of the
frontend sees an ordinary function.
"""
from __future__ import annotations

import ast
import inspect
import io
import re
import sys
import tokenize
import types
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ScriptError, SourceLoc

# After a lambda's body, these tokens (at bracket depth 0) cannot continue it.
_HARD_STOPS = {",", ")", "]", "}", ";", "=", ":=", "->"}
_HARD_KEYWORDS = {"for", "async"}
# ... and these may or may not (`lambda: a if c else b` vs `[f for f in fs if f]`).
_SOFT_KEYWORDS = {"if", "else"}
_MAX_LINES = 100  # how far a lambda's text is followed past its first line


def is_lambda(fn: Callable[..., Any]) -> bool:
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_name == "<lambda>"


def lambda_function_def(fn: Callable[..., Any], lines: list[str], filename: str
                        ) -> ast.FunctionDef:
    """`def <lambda>(args): return body` for the lambda `fn`, whose file holds `lines`."""
    code: types.CodeType = fn.__code__
    lineno = code.co_firstlineno
    where = SourceLoc(filename, lineno, 0)
    if not 1 <= lineno <= len(lines):
        raise ScriptError(f"cannot read the source of a lambda: {filename} has no line "
                          f"{lineno} (was the file changed after it was imported?)", where,
                          "lambda")
    cands = [lam for col in _lambda_columns(lines[lineno - 1])
             for lam in _candidates(lines, lineno, col)]
    if not cands:
        raise ScriptError("cannot find the source of this lambda: no lambda expression on "
                          "its line parses (was the file changed after it was imported?)",
                          where, "lambda")
    lam = _pick(cands, fn, code, where)
    return _as_function_def(lam)


# --------------------------------------------------------------------------------------
# Cutting lambda expressions out of a line


def _lambda_columns(line: str) -> list[int]:
    """Character columns of the `lambda` keywords on a line (not in strings or comments)."""
    cols = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type == tokenize.NAME and tok.string == "lambda":
                cols.append(tok.start[1])
    except (tokenize.TokenError, SyntaxError):
        # a fragment the tokenizer rejects (the line starts inside a string, say): every
        # textual match is a candidate, and the match against the code decides
        return [m.start() for m in re.finditer(r"\blambda\b", line)]
    return cols


def _candidates(lines: list[str], lineno: int, col: int) -> list[ast.Lambda]:
    """The parses of the lambda starting at (lineno, col), longest text first, each with
    locations in the file."""
    line = lines[lineno - 1]
    # NOTE: a "(" in front makes the tokenizer treat line breaks as inside brackets, as
    # they are when the lambda sits in a call or a literal; where it does not, the line
    # end is one of the soft stops tried below.
    snippet = ["(" + line[col:]] + lines[lineno:]
    ends = _expression_ends(snippet)
    out: list[ast.Lambda] = []
    seen: set[str] = set()
    for row, c in ends:
        text = "".join(snippet[:row - 1]) + snippet[row - 1][:c]
        try:
            tree = ast.parse(text + "\n)", mode="eval")
        except (SyntaxError, ValueError):
            continue
        if not isinstance(tree.body, ast.Lambda):
            continue
        key = ast.dump(tree.body)
        if key in seen:
            continue
        seen.add(key)
        _move(tree.body, lineno - 1, len(line[:col].encode()) - 1)
        out.append(tree.body)
    return out


def _expression_ends(snippet: list[str]) -> list[tuple[int, int]]:
    """Where the lambda at the start of snippet (after its "(") may end, as (row, col),
    most likely first: the first hard stop, then the soft stops from the last back."""
    soft: list[tuple[int, int]] = []
    hard: tuple[int, int] | None = None
    depth = 0
    colons_due = 0  # `lambda` keywords at depth 0 still waiting for their `:`
    last_end = (1, 1)
    it: Iterator[str] = iter(snippet)
    try:
        toks = tokenize.generate_tokens(lambda: next(it, ""))
        next(toks)  # our "("
        for tok in toks:
            kind, s = tok.type, tok.string
            if tok.start[0] > _MAX_LINES:
                break
            if kind in (tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if kind in (tokenize.NEWLINE, tokenize.ENDMARKER):
                hard = tok.start
                break
            if kind == tokenize.NL:
                if depth == 0:
                    soft.append(tok.start)
                continue
            if depth == 0 and colons_due:
                # in a parameter list, where `,` and `=` belong to the lambda
                colons_due += (s == "lambda") - (s == ":")
            elif depth == 0:
                if kind == tokenize.OP and (s in _HARD_STOPS or s == ":"):
                    hard = tok.start
                    break
                if kind == tokenize.NAME and s in _HARD_KEYWORDS:
                    hard = tok.start
                    break
                if kind == tokenize.NAME and s in _SOFT_KEYWORDS:
                    soft.append(tok.start)
                colons_due += s == "lambda"
            if kind == tokenize.OP and s in ("(", "[", "{"):
                depth += 1
            elif kind == tokenize.OP and s in (")", "]", "}"):
                depth -= 1
            last_end = tok.end
    except (tokenize.TokenError, SyntaxError):
        pass  # the source ended or broke off: what was read so far is the longest try
    if hard is None:
        hard = last_end
    return [hard] + soft[::-1]


def _move(tree: ast.AST, dline: int, dcol: int) -> None:
    """Shift locations parsed from a snippet to the file: every line by dline, columns on
    the snippet's first line by dcol (UTF-8 bytes, as ast and code positions count)."""
    node: Any
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) is None:
            continue
        if node.lineno == 1:
            node.col_offset += dcol
        if getattr(node, "end_lineno", None) == 1 and node.end_col_offset is not None:
            node.end_col_offset += dcol
        node.lineno += dline
        if getattr(node, "end_lineno", None) is not None:
            node.end_lineno += dline


# --------------------------------------------------------------------------------------
# Which candidate is this code object


def _pick(cands: list[ast.Lambda], fn: Callable[..., Any], code: types.CodeType,
          where: SourceLoc) -> ast.Lambda:
    """The one candidate that compiled into `code`: the same argument names, and the body
    where the code's instructions say it is and/or the same bytecode. Either test alone
    will do, as each can be unavailable (no positions under -X no_debug_ranges; bytecode
    that compiles differently in a class body), but the first level with exactly one
    candidate wins, and a level with several means they cannot be told apart."""
    by_name = [c for c in cands if _param_names(c) == _code_params(code)]
    spans = _code_spans(code)
    at_pos = [c for c in by_name if spans and _body_span(c) in spans
              and all(_within(sp, _body_span(c)) for sp in spans)]
    glob = getattr(fn, "__globals__", {})
    same_code = [c for c in by_name if _same_code(c, code, glob)]
    levels = [[c for c in at_pos if c in same_code], at_pos, same_code]
    for level in levels:
        if len(level) == 1:
            return level[0]
        if len(level) > 1:
            raise ScriptError(f"{len(level)} lambdas on line {where.lineno} match this one "
                              "and cannot be told apart; put it on a line of its own or "
                              "define it with `def`",
                              SourceLoc(where.filename, where.lineno, level[0].col_offset),
                              "lambda")
    raise ScriptError("cannot find the source of this lambda: no lambda on its line takes "
                      f"the arguments ({', '.join(_code_params(code))}) or compiles to the "
                      "same code (was the file changed after it was imported?)", where,
                      "lambda")


def _param_names(lam: ast.Lambda) -> list[str]:
    a = lam.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    names += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
    return names


def _code_params(code: types.CodeType) -> list[str]:
    # co_varnames order: positional, keyword-only, then *args and **kwargs
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    return list(code.co_varnames[:n])


def _code_spans(code: types.CodeType) -> set[tuple[int, int, int, int]]:
    """(line, end line, col, end col) of the code's instructions; the return instruction
    carries the whole body's. Empty when Python records no columns."""
    if not hasattr(code, "co_positions"):
        return set()
    return {p for p in code.co_positions()  # type: ignore[misc]
            if None not in p and p[2:] != (0, 0)}


def _body_span(lam: ast.Lambda) -> tuple[int, int, int, int]:
    b = lam.body
    return (b.lineno, b.end_lineno or b.lineno, b.col_offset, b.end_col_offset or 0)


def _within(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return ((outer[0], outer[2]) <= (inner[0], inner[2])
            and (inner[1], inner[3]) <= (outer[1], outer[3]))


def _same_code(lam: ast.Lambda, code: types.CodeType, glob: dict[str, Any]) -> bool:
    """Compile the candidate where its free variables are closure cells, as in `code`, and
    compare bytecode, constants and names (positions aside)."""
    free = list(code.co_freevars)
    # NOTE: CPython compiles `mod.f(x)` differently when `mod` is an imported name, so the
    # global modules the lambda reads are imported (never run) around it, as in its file
    imports: list[ast.stmt] = [ast.Import([ast.alias(n)]) for n in code.co_names
                               if inspect.ismodule(glob.get(n))]
    outer = ast.FunctionDef(
        name="_outer", args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[],
                                          kw_defaults=[], kwarg=None, defaults=[]),
        body=[], decorator_list=[], returns=None, type_comment=None)
    if sys.version_info >= (3, 12):
        outer.type_params = []
    if free:
        outer.body.append(ast.Assign(targets=[ast.Name(n, ast.Store()) for n in free],
                                     value=ast.Constant(None)))
    outer.body.append(ast.Return(lam))
    mod = ast.fix_missing_locations(ast.Module([*imports, outer], type_ignores=[]))
    try:
        compiled = compile(mod, "<lambda source>", "exec")
    except (SyntaxError, ValueError, TypeError):
        return False
    outer_code = next(c for c in compiled.co_consts
                      if isinstance(c, types.CodeType) and c.co_name == "_outer")
    mine = [c for c in outer_code.co_consts
            if isinstance(c, types.CodeType) and c.co_name == "<lambda>"]
    return any(_code_key(c) == _code_key(code) for c in mine)


def _code_key(code: types.CodeType) -> tuple[Any, ...]:
    def const(c: Any) -> Any:
        if isinstance(c, types.CodeType):
            return _code_key(c)
        if isinstance(c, tuple):
            return tuple(const(e) for e in c)
        return (type(c), repr(c))  # 1 and 1.0 and True differ here, unlike with ==
    return (code.co_code, tuple(const(c) for c in code.co_consts), code.co_names,
            code.co_varnames, code.co_freevars, code.co_cellvars)


def _as_function_def(lam: ast.Lambda) -> ast.FunctionDef:
    ret = ast.copy_location(ast.Return(lam.body), lam.body)
    fdef = ast.FunctionDef(name="<lambda>", args=lam.args, body=[ret], decorator_list=[],
                           returns=None, type_comment=None)
    if sys.version_info >= (3, 12):
        fdef.type_params = []
    return ast.copy_location(fdef, lam)
