"""Elementwise ops: broadcasting shape rule, NumPy 2 dtype rule (by example), weak when
every input is a Python scalar."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import defop
from .opdef import dtype_attr


def _unary(name: str, f: Any, *extra_py: Any, methods: tuple[str, ...] = (),
           differentiable: bool = True) -> None:
    defop(name, f, nin=1, params=("x",), py=(f, *extra_py), methods=methods,
          elementwise=True, differentiable=differentiable)


def _binary(name: str, f: Any, *extra_py: Any, differentiable: bool = True) -> None:
    defop(name, f, nin=2, params=("x1", "x2"), py=(f, *extra_py), elementwise=True,
          differentiable=differentiable)


# arithmetic
_binary("add", np.add, operator.add)
_binary("sub", np.subtract, operator.sub)
_binary("mul", np.multiply, operator.mul)
_binary("div", np.true_divide, operator.truediv, np.divide)
_binary("floordiv", np.floor_divide, operator.floordiv, differentiable=False)
_binary("mod", np.mod, operator.mod, np.remainder)
_binary("pow", np.power, operator.pow, np.pow)
_binary("maximum", np.maximum)
_binary("minimum", np.minimum)
_binary("arctan2", np.arctan2)
_unary("neg", np.negative, operator.neg)
_unary("pos", np.positive, operator.pos)
_unary("abs", np.absolute, abs, np.abs)
_unary("sign", np.sign, differentiable=False)
_unary("square", np.square)
_unary("sqrt", np.sqrt)
_unary("reciprocal", np.reciprocal)
_unary("exp", np.exp)
_unary("exp2", np.exp2)
_unary("expm1", np.expm1)
_unary("log", np.log)
_unary("log2", np.log2)
_unary("log10", np.log10)
_unary("log1p", np.log1p)
_unary("sin", np.sin)
_unary("cos", np.cos)
_unary("tan", np.tan)
_unary("arcsin", np.arcsin)
_unary("arccos", np.arccos)
_unary("arctan", np.arctan)
_unary("sinh", np.sinh)
_unary("cosh", np.cosh)
_unary("tanh", np.tanh)
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
      elementwise=True)
defop("clip", np.clip, nin=3, params=("a", "a_min", "a_max"), py=(np.clip,),
      elementwise=True)


def _cast_impl(x: Any, dtype: np.dtype, weak: bool = False) -> Any:
    if weak:  # float(x), int(x), bool(x): a Python scalar, as eager Python gives
        return {"b": bool, "i": int, "f": float, "c": complex}[np.dtype(dtype).kind](
            np.asarray(x).item())
    return np.asarray(x).astype(dtype)


defop("cast", _cast_impl, nin=1, params=("x", "dtype"), attrs={"dtype": None, "weak": False},
      methods=("astype",), elementwise=True, weak=lambda ins, a: bool(a["weak"]),
      canon=lambda ins, a: {"dtype": dtype_attr(a["dtype"])},
      dtype=lambda ins, a: np.dtype(a["dtype"]))
