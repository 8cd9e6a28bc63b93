"""The supported Python subset, checked at decoration. Anything else raises ScriptError
naming the construct, with file, line, column, the source line and a caret.

Some constructs are allowed only in one place: strings and f-strings in the exception
of a `raise` (its message, evaluated at compile time), in the arguments that name a
dtype or a mode, and as dict keys (`params["w"]`, `{"w": w}`, `"w" in params`); `*x` in call arguments and tuple/list displays (not in assignment
targets); nested `def`s without decorators or *args/**kwargs/keyword-only parameters."""
from __future__ import annotations

import ast
from collections.abc import Sequence

from ..errors import ScriptError
from .source import FunctionSource

# AST node types that may appear anywhere in a scripted function body.
_ALLOWED = (
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.If, ast.For, ast.While,
    ast.Break, ast.Continue, ast.Pass, ast.Expr, ast.Assert,
    ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Attribute, ast.Subscript,
    ast.Name, ast.Constant, ast.Tuple, ast.List, ast.IfExp, ast.Slice, ast.keyword,
    ast.Load, ast.Store, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
    ast.Raise, ast.FunctionDef, ast.ListComp, ast.GeneratorExp, ast.Starred,
    ast.JoinedStr, ast.FormattedValue, ast.Dict, ast.DictComp,
)

_NAMES = {
    ast.Try: "try statement", ast.With: "with statement",
    ast.Yield: "yield", ast.YieldFrom: "yield from", ast.Await: "await",
    ast.Lambda: "lambda",
    ast.SetComp: "set comprehension",
    ast.ClassDef: "class definition", ast.AsyncFunctionDef: "async function",
    ast.Global: "global statement", ast.Nonlocal: "nonlocal statement",
    ast.Delete: "del statement", ast.Import: "import statement",
    ast.ImportFrom: "import statement", ast.Set: "set",
    ast.NamedExpr: "assignment expression (:=)", ast.AsyncFor: "async for",
    ast.AsyncWith: "async with", ast.Match: "match statement",
}
if hasattr(ast, "TryStar"):
    _NAMES[ast.TryStar] = "try statement"


def check_function(src: FunctionSource) -> None:
    _check_def(src.tree, src)


def _check_def(f: ast.FunctionDef, src: FunctionSource) -> None:
    """The scripted function, or a `def` nested in it (inlined where it is called)."""
    a = f.args
    if a.vararg is not None:
        raise ScriptError("*args parameters are not supported", src.loc(a.vararg), "*args")
    if a.kwarg is not None:
        raise ScriptError("**kwargs parameters are not supported", src.loc(a.kwarg), "**kwargs")
    if a.kwonlyargs:
        raise ScriptError("keyword-only parameters are not supported", src.loc(a.kwonlyargs[0]),
                          "keyword-only parameter")
    body = f.body
    if body and _is_docstring(body[0]):
        body = body[1:]
    for stmt in body:
        _check(stmt, src, in_loop=False)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _fail(node: ast.AST, src: FunctionSource, construct: str, why: str = "") -> None:
    msg = f"unsupported construct in scripted function: {construct}"
    if why:
        msg += f" ({why})"
    raise ScriptError(msg, src.loc(node), construct)


def _check(node: ast.AST, src: FunctionSource, in_loop: bool, in_raise: bool = False) -> None:
    """in_raise: inside the exception of a `raise`, where strings and f-strings build the
    message (evaluated at compile time, statements.py)."""
    if type(node) in _NAMES:
        _fail(node, src, _NAMES[type(node)])
    if not isinstance(node, _ALLOWED):
        _fail(node, src, type(node).__name__)
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and \
            id(node) not in _DTYPE_STRINGS and id(node) not in _KEY_STRINGS and not in_raise:
        _fail(node, src, "string", "strings are not values jitgraph can compute with")
    if isinstance(node, ast.JoinedStr) and not in_raise:
        _fail(node, src, "f-string", "f-strings are allowed only in the message of a raise")
    if isinstance(node, ast.Raise):
        if node.exc is None:
            _fail(node, src, "bare raise", "there is no exception being handled to re-raise")
        for part in (node.exc, node.cause):
            if part is not None:
                _check(part, src, in_loop, in_raise=True)
        return
    if isinstance(node, ast.FunctionDef):
        if node.decorator_list:
            _fail(node.decorator_list[0], src, "decorated nested function",
                  "nested functions are inlined where they are called; decorate a "
                  "module-level function instead")
        _check_def(node, src)
        for d in node.args.defaults:
            _check(d, src, in_loop)
        return
    if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.DictComp)):
        for g in node.generators:
            if g.is_async:
                _fail(node, src, "async comprehension")
            _check_target(g.target, src, augmented=False)
            for part in [g.iter, *g.ifs]:
                _check(part, src, in_loop, in_raise)
        if isinstance(node, ast.DictComp):
            _KEY_STRINGS.update(_strings([node.key]))
            _check(node.key, src, in_loop, in_raise)
            _check(node.value, src, in_loop, in_raise)
        else:
            _check(node.elt, src, in_loop, in_raise)
        return
    _KEY_STRINGS.update(_key_strings(node))
    if isinstance(node, ast.Starred) and not isinstance(node.ctx, ast.Load):
        _fail(node, src, "starred assignment")
    if isinstance(node, ast.Call):
        _DTYPE_STRINGS.update(id(a) for a in _dtype_string_args(node))
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        pass
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            _check_target(t, src, augmented=isinstance(node, ast.AugAssign))
        if isinstance(node, ast.AnnAssign) and node.value is None:
            _fail(node, src, "annotation without a value")
    if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
        _fail(node, src, "expression statement",
              "its result would be discarded; scripted functions have no side effects")
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return  # a docstring or a bare constant: nothing to compute
    if isinstance(node, ast.Assert):
        _check(node.test, src, in_loop)  # the message is never computed with
        return
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.LShift, ast.RShift)):
        _fail(node, src, "bit shift", "<< and >> are not supported")
    if isinstance(node, (ast.Break, ast.Continue)) and not in_loop:
        _fail(node, src, type(node).__name__.lower() + " outside a loop")
    if isinstance(node, ast.For):
        _check_target(node.target, src, augmented=False)
        if node.orelse:
            _fail(node, src, "for ... else")
        for s in node.body:
            _check(s, src, in_loop=True)
        _check(node.iter, src, in_loop)
        return
    if isinstance(node, ast.While):
        if node.orelse:
            _fail(node, src, "while ... else")
        _check(node.test, src, in_loop)
        for s in node.body:
            _check(s, src, in_loop=True)
        return
    for child in ast.iter_child_nodes(node):
        if isinstance(node, ast.Call) and child is node.func and isinstance(child, ast.Name):
            continue
        _check(child, src, in_loop, in_raise)


# Strings that name a number or a dtype, never computed with: float("inf"),
# x.astype("float32"), np.zeros(3, dtype="int32"), np.einsum's subscripts
# ("ij,jk->ik"), np.pad's mode ("edge") and np.sort's kind ("stable"). Marked by the
# enclosing call.
_DTYPE_STRINGS: set[int] = set()


def _dtype_string_args(call: ast.Call) -> list[ast.expr]:
    out: list[ast.expr] = []
    f = call.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    if name in ("float", "astype", "dtype", "einsum") and call.args:
        out.append(call.args[0])
    out += [k.value for k in call.keywords if k.arg == "dtype"]
    if name == "pad":
        out += call.args[2:3] + [k.value for k in call.keywords if k.arg == "mode"]
    if name in ("sort", "argsort"):
        out += [k.value for k in call.keywords if k.arg == "kind"]
    return [a for a in out if isinstance(a, ast.Constant) and isinstance(a.value, str)]


# Strings that name a dict entry: d["w"], {"w": w}, "w" in d, k == "w", d.get("w").
_KEY_STRINGS: set[int] = set()


def _strings(nodes: Sequence[ast.expr | None]) -> list[int]:
    return [id(n) for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _key_strings(node: ast.AST) -> list[int]:
    if isinstance(node, ast.Subscript):
        sl = node.slice
        return _strings(list(sl.elts) if isinstance(sl, ast.Tuple) else [sl])
    if isinstance(node, ast.Dict):
        return _strings(list(node.keys))
    if isinstance(node, ast.Compare):
        return _strings([node.left, *node.comparators])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in ("get", "pop") and node.args:
        return _strings(node.args[:1])
    return []


def _check_target(t: ast.AST, src: FunctionSource, augmented: bool) -> None:
    if isinstance(t, ast.Name):
        return
    if isinstance(t, (ast.Tuple, ast.List)) and not augmented:
        for e in t.elts:
            _check_target(e, src, augmented)
        return
    if isinstance(t, ast.Subscript):
        if isinstance(t.value, ast.Name):
            return   # name[index] = v: checked against aliasing at specialization
        _fail(t, src, "item assignment into an expression", "assign through a name with one "
              "subscript: a[i, j] = v, not a[i][j] = v")
    if isinstance(t, ast.Attribute):
        _fail(t, src, "attribute assignment")
    if isinstance(t, ast.Starred):
        _fail(t, src, "starred assignment")
    _fail(t, src, f"assignment to {type(t).__name__}")
