"""AST rewrites that leave one exit per function and no jumps inside loops, so the
emitter only ever sees structured control flow:

- `return` inside a branch: the statements after the `if` move into the branches that
  fall through, so every path ends in a return.
- `return` inside a loop: stores the value and a flag, then breaks; after the loop,
  `if flag: return value`.
- `break` / `continue`: become assignments to per-iteration flags; the statements after a
  jump run under `if not (brk or cont):`, and the loop's condition gains `not brk`.

A `raise` ends its path like a `return` (statements after it never run), so a branch that
raises counts as one that returns. Nested `def`s are left alone: each is rewritten when
it is inlined.
"""
from __future__ import annotations

import ast
import copy
import itertools

_counter = itertools.count()


def always_returns(stmts: list[ast.stmt]) -> bool:
    for s in stmts:
        if isinstance(s, (ast.Return, ast.Raise)):
            return True
        if isinstance(s, ast.If) and always_returns(s.body) and always_returns(s.orelse):
            return True
    return False


def always_raises(stmts: list[ast.stmt]) -> bool:
    """Every path through stmts ends in a raise."""
    for s in stmts:
        if isinstance(s, ast.Raise):
            return True
        if isinstance(s, ast.Return):
            return False
        if isinstance(s, ast.If) and always_raises(s.body) and always_raises(s.orelse):
            return True
    return False


def _has_return(s: ast.stmt) -> bool:
    return any(isinstance(n, ast.Return) for n in _walk_scope(s))


def _walk_scope(s: ast.AST) -> list[ast.AST]:
    """ast.walk without entering nested function definitions (their own scope)."""
    out: list[ast.AST] = []
    stack = [s]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(c for c in ast.iter_child_nodes(n) if not isinstance(c, ast.FunctionDef))
    return out


def normalize_returns(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for i, s in enumerate(stmts):
        if isinstance(s, (ast.Return, ast.Raise)):
            out.append(s)
            return out  # statements after a return (or a raise) never run
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


def _loop_returns(stmts: list[ast.stmt]) -> list[ast.Return]:
    """Returns of this loop level (inner loops were rewritten first)."""
    out: list[ast.Return] = []
    for s in stmts:
        if isinstance(s, ast.Return):
            out.append(s)
        elif isinstance(s, ast.If):
            out += _loop_returns(s.body) + _loop_returns(s.orelse)
    return out


def _replace_returns(stmts: list[ast.stmt], flag: str, names: list[str]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for s in stmts:
        if isinstance(s, ast.Return):
            if len(names) == 1:
                target: ast.expr = ast.Name(id=names[0], ctx=ast.Store())
            else:
                target = ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Store()) for n in names],
                                   ctx=ast.Store())
            value = s.value if s.value is not None else ast.Constant(value=None)
            out.append(ast.copy_location(ast.Assign(targets=[target], value=value), s))
            out.append(_flag(flag, True, s))
            out.append(ast.copy_location(ast.Break(), s))
            return out
        if isinstance(s, ast.If):
            s = copy.copy(s)
            s.body = _replace_returns(s.body, flag, names)
            s.orelse = _replace_returns(s.orelse, flag, names)
        out.append(s)
    return out


def lower_loop_returns(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for s in stmts:
        if isinstance(s, ast.If):
            s = copy.copy(s)
            s.body = lower_loop_returns(s.body)
            s.orelse = lower_loop_returns(s.orelse)
        elif isinstance(s, (ast.For, ast.While)):
            s = copy.copy(s)
            s.body = lower_loop_returns(s.body)
            rets = _loop_returns(s.body)
            if rets:
                arity = {len(r.value.elts) if isinstance(r.value, ast.Tuple) else 1
                         for r in rets}
                k = next(_counter)
                n = arity.pop() if len(arity) == 1 else 1
                names = [f"__retval{k}_{i}" for i in range(n)]
                flag = f"__returned{k}"
                s.body = _replace_returns(s.body, flag, names)
                out.append(_flag(flag, False, s))
                out.append(s)
                value: ast.expr = (ast.Name(id=names[0], ctx=ast.Load()) if n == 1 else
                                   ast.Tuple(elts=[ast.Name(id=x, ctx=ast.Load())
                                                   for x in names], ctx=ast.Load()))
                ret = ast.copy_location(ast.Return(value=value), s)
                out.append(ast.copy_location(
                    ast.If(test=ast.Name(id=flag, ctx=ast.Load()), body=[ret], orelse=[]), s))
                continue
        out.append(s)
    return out
