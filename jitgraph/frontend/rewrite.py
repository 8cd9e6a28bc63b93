"""AST rewrites that leave one exit per function and no jumps inside loops, so the
emitter only ever sees structured control flow:

- `return` inside a branch: the statements after the `if` move into the branches that
  fall through, so every path ends in a return.
- `break` / `continue`: become assignments to per-iteration flags; the statements after a
  jump run under `if not (brk or cont):`, and the loop's condition gains `not brk`.
"""
from __future__ import annotations

import ast
import copy
import itertools

_counter = itertools.count()


def always_returns(stmts: list[ast.stmt]) -> bool:
    for s in stmts:
        if isinstance(s, ast.Return):
            return True
        if isinstance(s, ast.If) and always_returns(s.body) and always_returns(s.orelse):
            return True
    return False


def _has_return(s: ast.stmt) -> bool:
    return any(isinstance(n, ast.Return) for n in ast.walk(s))


def normalize_returns(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.Return):
            out.append(s)
            return out  # statements after a return never run
        if isinstance(s, ast.If) and _has_return(s):
            rest = stmts[i + 1:]
            s = copy.copy(s)
            body = s.body if always_returns(s.body) else s.body + copy.deepcopy(rest)
            orelse = s.orelse if always_returns(s.orelse) else s.orelse + copy.deepcopy(rest)
            s.body = normalize_returns(body)
            s.orelse = normalize_returns(orelse)
            out.append(s)
            return out
        out.append(s)
    return out


def _jumps(stmts: list[ast.stmt]) -> tuple[bool, bool]:
    """(has break, has continue) belonging to this loop level (not nested loops)."""
    brk = cont = False
    stack = list(stmts)
    while stack:
        s = stack.pop()
        if isinstance(s, ast.Break):
            brk = True
        elif isinstance(s, ast.Continue):
            cont = True
        elif isinstance(s, ast.If):
            stack.extend(s.body)
            stack.extend(s.orelse)
    return brk, cont


def _flag(name: str, value: bool, like: ast.AST) -> ast.stmt:
    node = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())],
                      value=ast.Constant(value=value))
    return ast.copy_location(node, like)


def _guarded(stmts: list[ast.stmt], brk: str, cont: str) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.Break):
            out.append(_flag(brk, True, s))
            return out
        if isinstance(s, ast.Continue):
            out.append(_flag(cont, True, s))
            return out
        if isinstance(s, ast.If) and any(_jumps([s])):
            s = copy.copy(s)
            s.body = _guarded(s.body, brk, cont)
            s.orelse = _guarded(s.orelse, brk, cont)
            out.append(s)
            rest = _guarded(stmts[i + 1:], brk, cont)
            if rest:
                test = ast.UnaryOp(op=ast.Not(), operand=ast.BoolOp(
                    op=ast.Or(), values=[ast.Name(id=brk, ctx=ast.Load()),
                                         ast.Name(id=cont, ctx=ast.Load())]))
                guard = ast.If(test=ast.copy_location(test, s), body=rest, orelse=[])
                out.append(ast.copy_location(guard, rest[0]))
            return out
        out.append(s)
    return out


def lower_jumps(loop: ast.For | ast.While) -> tuple[list[ast.stmt], str | None]:
    """The loop body without break/continue, and the name of the break flag (None when
    the body never breaks)."""
    brk, cont = _jumps(loop.body)
    if not (brk or cont):
        return loop.body, None
    k = next(_counter)
    bname, cname = f"__break{k}", f"__continue{k}"
    body = [_flag(bname, False, loop), _flag(cname, False, loop)]
    body += _guarded(loop.body, bname, cname)
    return body, (bname if brk else None)
