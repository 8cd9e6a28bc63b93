"""Elementwise ops: broadcasting shape rule, NumPy 2 dtype rule (by example), weak when
every input is a Python scalar."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import defop
from .adjoint import is_float
from .adjoint import unbroadcast as _ub
from .opdef import dtype_attr


def _unary(name: str, f: Any, *extra_py: Any, methods: tuple[str, ...] = (),
           differentiable: bool = True, vjp: Any = None) -> None:
    defop(name, f, nin=1, params=("x",), py=(f, *extra_py), methods=methods,
          elementwise=True, differentiable=differentiable, vjp=vjp)


def _binary(name: str, f: Any, *extra_py: Any, differentiable: bool = True,
            vjp: Any = None) -> None:
    defop(name, f, nin=2, params=("x1", "x2"), py=(f, *extra_py), elementwise=True,
          differentiable=differentiable, vjp=vjp)


# VJP rules: `(b, node, ct) -> one cotangent per input`. `y` is the node's output. Binary
# rules end with `_ub` (sum back over broadcast axes, cast back from promotion). Constants
# are weak Python floats, so they keep float32 gradients float32.
def _op(b: Any, name: str, *xs: Any, **attrs: Any) -> Any:
    return b.op(name, *xs, **attrs)


def _k(b: Any, value: float) -> Any:
    return b.const(float(value))


def _both(f: Any) -> Any:
    """A binary rule from f(b, ct, x1, x2, y) -> (g1, g2) at the output's shape."""
    def rule(b: Any, n: Any, ct: Any) -> list[Any]:
        x1, x2 = n.inputs
        g1, g2 = f(b, ct, x1, x2, n.out)
        return [_ub(b, g1, x1) if is_float(x1) else None,
                _ub(b, g2, x2) if is_float(x2) else None]
    return rule


def _one(f: Any) -> Any:
    """A unary rule from f(b, ct, x, y) -> g."""
    return lambda b, n, ct: [f(b, ct, n.inputs[0], n.out) if is_float(n.inputs[0]) else None]


def _pow_vjp(b: Any, ct: Any, x1: Any, x2: Any, y: Any) -> tuple[Any, Any]:
    # d/dx1 = x2 * x1**(x2-1); d/dx2 = y * log(x1), taken as 0 where x1 == 0 (JAX's choice)
    g1 = _op(b, "mul", _op(b, "mul", ct, x2), _op(b, "pow", x1, _op(b, "sub", x2, b.const(1))))
    safe = _op(b, "where", _op(b, "eq", x1, b.const(0)), b.const(1), x1)
    g2 = _op(b, "mul", _op(b, "mul", ct, y), _op(b, "log", safe))
    return g1, g2


def _chooser(cmp: str) -> Any:
    """maximum (cmp='gt') / minimum ('lt'): the gradient goes to the chosen input; at ties
    each input gets half (JAX's and autograd's convention), so the sum is ct."""
    def f(b: Any, ct: Any, x1: Any, x2: Any, y: Any) -> tuple[Any, Any]:
        half = _op(b, "where", _op(b, "eq", x1, x2), _op(b, "mul", ct, _k(b, 0.5)), _k(b, 0.0))
        g1 = _op(b, "where", _op(b, cmp, x1, x2), ct, half)
        g2 = _op(b, "where", _op(b, cmp, x2, x1), ct, half)
        return g1, g2
    return f


def _arctan2_vjp(b: Any, ct: Any, x1: Any, x2: Any, y: Any) -> tuple[Any, Any]:
    d = _op(b, "add", _op(b, "square", x1), _op(b, "square", x2))
    return (_op(b, "div", _op(b, "mul", ct, x2), d),
            _op(b, "neg", _op(b, "div", _op(b, "mul", ct, x1), d)))


def _where_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    c, x, y = n.inputs
    return [None, _ub(b, _op(b, "where", c, ct, _k(b, 0.0)), x),
            _ub(b, _op(b, "where", c, _k(b, 0.0), ct), y)]


def _clip_vjp(b: Any, n: Any, ct: Any) -> list[Any]:
    # clip = minimum(maximum(a, lo), hi). The gradient goes to `a` on [lo, hi] (bounds
    # included, as PyTorch's clamp), to lo below it, to hi above it (also when lo > hi).
    a, lo, hi = n.inputs
    zero = _k(b, 0.0)
    inside = _op(b, "logical_and", _op(b, "ge", a, lo), _op(b, "le", a, hi))
    below = _op(b, "logical_and", _op(b, "lt", a, lo), _op(b, "le", lo, hi))
    above = _op(b, "gt", _op(b, "maximum", a, lo), hi)
    return [_ub(b, _op(b, "where", inside, ct, zero), a),
            _ub(b, _op(b, "where", below, ct, zero), lo),
            _ub(b, _op(b, "where", above, ct, zero), hi)]


# arithmetic
_binary("add", np.add, operator.add, vjp=_both(lambda b, c, x1, x2, y: (c, c)))
_binary("sub", np.subtract, operator.sub,
        vjp=_both(lambda b, c, x1, x2, y: (c, _op(b, "neg", c))))
_binary("mul", np.multiply, operator.mul,
        vjp=_both(lambda b, c, x1, x2, y: (_op(b, "mul", c, x2), _op(b, "mul", c, x1))))
_binary("div", np.true_divide, operator.truediv, np.divide,
        vjp=_both(lambda b, c, x1, x2, y: (
            _op(b, "div", c, x2), _op(b, "neg", _op(b, "div", _op(b, "mul", c, y), x2)))))
_binary("floordiv", np.floor_divide, operator.floordiv, differentiable=False)
_binary("mod", np.mod, operator.mod, np.remainder,  # mod = x1 - floor(x1/x2)*x2
        vjp=_both(lambda b, c, x1, x2, y: (
            c, _op(b, "neg", _op(b, "mul", c, _op(b, "floordiv", x1, x2))))))
_binary("pow", np.power, operator.pow, np.pow, vjp=_both(_pow_vjp))
_binary("maximum", np.maximum, vjp=_both(_chooser("gt")))
_binary("minimum", np.minimum, vjp=_both(_chooser("lt")))
_binary("arctan2", np.arctan2, vjp=_both(_arctan2_vjp))
_unary("neg", np.negative, operator.neg, vjp=_one(lambda b, c, x, y: _op(b, "neg", c)))
_unary("pos", np.positive, operator.pos, vjp=_one(lambda b, c, x, y: c))
_unary("abs", np.absolute, abs, np.abs,  # 0 at x == 0, as JAX
       vjp=_one(lambda b, c, x, y: _op(b, "mul", c, _op(b, "sign", x))))
_unary("sign", np.sign, differentiable=False)
_unary("square", np.square,
       vjp=_one(lambda b, c, x, y: _op(b, "mul", c, _op(b, "mul", x, _k(b, 2.0)))))
_unary("sqrt", np.sqrt,
       vjp=_one(lambda b, c, x, y: _op(b, "div", c, _op(b, "mul", y, _k(b, 2.0)))))
_unary("reciprocal", np.reciprocal,
       vjp=_one(lambda b, c, x, y: _op(b, "neg", _op(b, "mul", c, _op(b, "square", y)))))
_unary("exp", np.exp, vjp=_one(lambda b, c, x, y: _op(b, "mul", c, y)))
_unary("exp2", np.exp2,
       vjp=_one(lambda b, c, x, y: _op(b, "mul", _op(b, "mul", c, y), _k(b, 0.6931471805599453))))
_unary("expm1", np.expm1,
       vjp=_one(lambda b, c, x, y: _op(b, "mul", c, _op(b, "add", y, _k(b, 1.0)))))
_unary("log", np.log, vjp=_one(lambda b, c, x, y: _op(b, "div", c, x)))
_unary("log2", np.log2,
       vjp=_one(lambda b, c, x, y: _op(b, "div", c, _op(b, "mul", x, _k(b, 0.6931471805599453)))))
_unary("log10", np.log10,
       vjp=_one(lambda b, c, x, y: _op(b, "div", c, _op(b, "mul", x, _k(b, 2.302585092994046)))))
_unary("log1p", np.log1p,
       vjp=_one(lambda b, c, x, y: _op(b, "div", c, _op(b, "add", x, _k(b, 1.0)))))
_unary("sin", np.sin, vjp=_one(lambda b, c, x, y: _op(b, "mul", c, _op(b, "cos", x))))
_unary("cos", np.cos,
       vjp=_one(lambda b, c, x, y: _op(b, "neg", _op(b, "mul", c, _op(b, "sin", x)))))
_unary("tan", np.tan, vjp=_one(lambda b, c, x, y: _op(
    b, "mul", c, _op(b, "add", _op(b, "square", y), _k(b, 1.0)))))
_unary("arcsin", np.arcsin, vjp=_one(lambda b, c, x, y: _op(
    b, "div", c, _op(b, "sqrt", _op(b, "sub", _k(b, 1.0), _op(b, "square", x))))))
_unary("arccos", np.arccos, vjp=_one(lambda b, c, x, y: _op(b, "neg", _op(
    b, "div", c, _op(b, "sqrt", _op(b, "sub", _k(b, 1.0), _op(b, "square", x)))))))
_unary("arctan", np.arctan, vjp=_one(lambda b, c, x, y: _op(
    b, "div", c, _op(b, "add", _op(b, "square", x), _k(b, 1.0)))))
_unary("sinh", np.sinh, vjp=_one(lambda b, c, x, y: _op(b, "mul", c, _op(b, "cosh", x))))
_unary("cosh", np.cosh, vjp=_one(lambda b, c, x, y: _op(b, "mul", c, _op(b, "sinh", x))))
_unary("tanh", np.tanh, vjp=_one(lambda b, c, x, y: _op(
    b, "mul", c, _op(b, "sub", _k(b, 1.0), _op(b, "square", y)))))
_unary("floor", np.floor, differentiable=False)
_unary("ceil", np.ceil, differentiable=False)
_unary("rint", np.rint, np.round, methods=("round",), differentiable=False)
_unary("isnan", np.isnan, differentiable=False)
_unary("isinf", np.isinf, differentiable=False)
_unary("isfinite", np.isfinite, differentiable=False)

# comparisons and logic: never differentiable
_binary("lt", np.less, operator.lt, differentiable=False)
_binary("le", np.less_equal, operator.le, differentiable=False)
_binary("gt", np.greater, operator.gt, differentiable=False)
_binary("ge", np.greater_equal, operator.ge, differentiable=False)
_binary("eq", np.equal, operator.eq, differentiable=False)
_binary("ne", np.not_equal, operator.ne, differentiable=False)
_binary("logical_and", np.logical_and, differentiable=False)
_binary("logical_or", np.logical_or, differentiable=False)
_binary("logical_xor", np.logical_xor, differentiable=False)
_unary("logical_not", np.logical_not, differentiable=False)
_binary("bitwise_and", np.bitwise_and, operator.and_, differentiable=False)
_binary("bitwise_or", np.bitwise_or, operator.or_, differentiable=False)
_binary("bitwise_xor", np.bitwise_xor, operator.xor, differentiable=False)
_unary("invert", np.invert, operator.invert, np.bitwise_not, differentiable=False)

defop("where", np.where, nin=3, params=("condition", "x", "y"), py=(np.where,),
      elementwise=True, vjp=_where_vjp)
defop("clip", np.clip, nin=3, params=("a", "a_min", "a_max"), py=(np.clip,),
      elementwise=True, vjp=_clip_vjp)


def _cast_impl(x: Any, dtype: np.dtype, weak: bool = False) -> Any:
    if weak:  # float(x), int(x), bool(x): a Python scalar, as eager Python gives
        return {"b": bool, "i": int, "f": float, "c": complex}[np.dtype(dtype).kind](
            np.asarray(x).item())
    return np.asarray(x).astype(dtype)


defop("cast", _cast_impl, nin=1, params=("x", "dtype"), attrs={"dtype": None, "weak": False},
      methods=("astype",), elementwise=True, weak=lambda ins, a: bool(a["weak"]),
      canon=lambda ins, a: {"dtype": dtype_attr(a["dtype"])},
      dtype=lambda ins, a: np.dtype(a["dtype"]),
      # float -> float passes ct through, cast back; to or from int/bool: no gradient
      vjp=lambda b, n, ct: [_ub(b, ct, n.inputs[0]) if is_float(n.out) else None])
