"""Text -> Graph (`jg.parse_ir`): the inverse of printer.py, so `parse_ir(str(g)) == g`.

One statement per line; indentation is ignored and braces nest:

    graph NAME(%p: TYPE, ...) {
      %a, %b = OP(%x, %y) {key=ATTR, ...} : TYPE, TYPE     # file.py:12
      %c = constant ATTR : TYPE
      %d = if(%c) {                  <- structural: the node's blocks follow
        yield %a
      } else {
        yield %b
      } : TYPE
      %e = loop(%n, %t, %s0) (%k: i64, %s: f32[3]) {   <- block params
        yield %t, %s
      } : f32[3]
      return %d, %e
    }

ATTR is a Python-like literal: ints, floats (inf, -inf, nan), complex `(1+2j)`, True/False/
None, strings, tuples, lists, dicts, dtype short names (`f32` -> np.dtype), inline arrays
`array([[1.0, 2.0]], f32)`, elided arrays `array<f32[1000,100]>` and `%name` references.

- `%x` and `%x.1` give Value.hint "x" (the printer adds `.N` to repeated names, so printing
  the parsed graph gives the same text); `%3` gives a value without hint.
- NOTE: an elided array has no data in the text; it parses to np.zeros of its dtype and
  shape (serialize.py keeps constants apart from the text for this reason).
- A literal scalar held by a constant of a strong 0-d type (`constant 2.0 : f32[]`) becomes
  a NumPy scalar of that dtype, which is what such a constant held when it printed so.
- `# file:line` comments become SourceLoc(file, line); equality ignores locations.
- A use before the definition parses (a broken graph prints so); `verify` reports it. A
  name never defined, a name defined twice or any malformed line raises ValueError with
  the line number.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from ..errors import SourceLoc
from ..types import UNKNOWN, TensorType, dtype_from_short, parse_type
from .graph import Block, Graph, Node, Value

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#.*)
  | (?P<name>%[A-Za-z0-9_.]+|%<undefined>|%\?)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?j?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()\[\]{},:=<>+\-?])
""", re.VERBOSE)
_LOC = re.compile(r"#\s*(\S+?):(\d+)(?::\d+)?\s*$")
_NAME = re.compile(r"%([A-Za-z0-9_]+?)(?:\.\d+)?")
_DTYPES = {"bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64",
           "f16", "f32", "f64", "c64", "c128"}
_CONSTS = {"True": True, "False": False, "None": None, "inf": float("inf"),
           "nan": float("nan"), "Ellipsis": Ellipsis}
_IMAG = {"infj": complex(0, float("inf")), "nanj": complex(0, float("nan"))}
_EOL = ("eol", "")


def parse_ir(text: str) -> Graph:
    """Parse the printer's text back into a Graph; raises ValueError naming the line."""
    return _Parser(text).parse()


@dataclass
class _Open:
    """A structural node whose blocks are being read; outputs get types at `} : types`."""
    op: str
    inputs: list[Value]
    attrs: dict[str, Any]
    outputs: list[Value]
    loc: SourceLoc | None
    blocks: list[Block] = field(default_factory=list)


@dataclass
class _Frame:
    block: Block
    owner: _Open | None          # None: the graph's body
    done: bool = False           # after `yield` / `return`: only a closing brace may follow


class _Line:
    """The tokens of one line and a cursor over them."""

    def __init__(self, text: str, lineno: int):
        self.text, self.lineno = text, lineno
        self.toks: list[tuple[str, str]] = []
        self.comment = ""
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                self.fail(f"unexpected character {text[pos]!r}")
            assert m is not None and m.lastgroup is not None
            pos = m.end()
            if m.lastgroup == "comment":
                self.comment = m.group()
            elif m.lastgroup != "ws":
                self.toks.append((m.lastgroup, m.group()))
        self.pos = 0

    def fail(self, msg: str) -> NoReturn:
        raise ValueError(f"line {self.lineno}: {msg}\n  {self.text.strip()}")

    def peek(self, k: int = 0) -> tuple[str, str]:
        i = self.pos + k
        return self.toks[i] if i < len(self.toks) else _EOL

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is _EOL:
            self.fail("unexpected end of line")
        self.pos += 1
        return tok

    def at(self, text: str) -> bool:
        return self.peek()[1] == text and self.peek()[0] != "str"

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            got = self.peek()[1] or "end of line"
            self.fail(f"expected {text!r}, got {got!r}")

    def expect_kind(self, kind: str) -> str:
        k, t = self.next()
        if k != kind:
            self.fail(f"expected a {kind}, got {t!r}")
        return t

    def end(self) -> None:
        if self.peek() is not _EOL:
            self.fail(f"unexpected {self.peek()[1]!r}")

    def loc(self) -> SourceLoc | None:
        m = _LOC.match(self.comment)
        return SourceLoc(m.group(1), int(m.group(2))) if m else None


class _Parser:
    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.values: dict[str, Value] = {}                  # defined names
        self.pending: dict[str, tuple[Value, int]] = {}     # used before defined: first line
        self.ln: _Line = _Line("", 0)

    # -- names ------------------------------------------------------------------------
    def define(self, name: str, type: TensorType = UNKNOWN) -> Value:
        if name in self.values:
            self.ln.fail(f"{name} is defined twice")
        m = _NAME.fullmatch(name)
        if m is None:
            self.ln.fail(f"bad value name {name}")
        hint = None if m.group(1).isdigit() else m.group(1)
        v = self.pending.pop(name, (Value(), 0))[0]
        v.type, v.hint = type, hint
        self.values[name] = v
        return v

    def ref(self, name: str) -> Value:
        if name in ("%<undefined>", "%?"):
            self.ln.fail(f"{name} refers to a value that was not defined when printed")
        if name in self.values:
            return self.values[name]
        if name not in self.pending:
            self.pending[name] = (Value(), self.ln.lineno)
        return self.pending[name][0]

    def refs(self) -> list[Value]:
        out: list[Value] = []
        while self.ln.peek()[0] == "name":
            out.append(self.ref(self.ln.next()[1]))
            if not self.ln.accept(","):
                break
        return out

    # -- statements -------------------------------------------------------------------
    def parse(self) -> Graph:
        header: tuple[str, list[Value]] | None = None
        frames: list[_Frame] = []
        finished = False
        for i, text in enumerate(self.lines, start=1):
            self.ln = _Line(text, i)
            if not self.ln.toks:
                continue  # blank or comment
            if finished:
                self.ln.fail("text after the end of the graph")
            if header is None:
                header = self.header(text)
                frames.append(_Frame(Block(header[1]), None))
                continue
            finished = self.statement(frames)
        if header is None:
            raise ValueError("line 1: expected 'graph NAME(...) {'")
        if not finished:
            raise ValueError(f"line {len(self.lines)}: unexpected end of text: missing '}}'")
        if self.pending:
            name, (_, line) = min(self.pending.items(), key=lambda kv: kv[1][1])
            raise ValueError(f"line {line}: {name} is used but never defined")
        return Graph(header[0], frames[0].block)

    def header(self, text: str) -> tuple[str, list[Value]]:
        # NOTE: a graph's name may hold parentheses (`grad(f)`): the params are the last
        # parenthesized group before the opening brace.
        rest = text.strip()
        if not (rest.startswith("graph ") and rest.endswith("{")):
            self.ln.fail("expected 'graph NAME(...) {'")
        rest = rest[len("graph "):-1].rstrip()
        depth, start = 0, -1
        for j in range(len(rest) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(rest[j], 0)
            if depth == 0:
                start = j
                break
        if not rest.endswith(")") or start <= 0:
            self.ln.fail("expected 'graph NAME(...) {'")
        name = rest[:start].strip()
        self.ln = _Line(rest[start:], self.ln.lineno)
        params = self.params()
        self.ln.end()
        return name, params

    def statement(self, frames: list[_Frame]) -> bool:
        """One line inside the graph; True when it closes the graph."""
        ln, frame = self.ln, frames[-1]
        kind, tok = ln.peek()
        if tok == "}" and kind == "punct":
            return self.close(frames)
        if frame.done:
            ln.fail("only a closing brace may follow 'yield' or 'return'")
        if kind == "ident" and tok in ("yield", "return"):
            ln.next()
            if (tok == "return") != (frame.owner is None):
                ln.fail(f"'{tok}' outside of " + ("a block" if tok == "yield" else "the graph"))
            frame.block.results = self.refs()
            ln.end()
            frame.done = True
            return False
        self.node(frames)
        return False

    def close(self, frames: list[_Frame]) -> bool:
        ln, frame = self.ln, frames[-1]
        ln.expect("}")
        if not frame.done:
            ln.fail("block ends without " + ("'return'" if frame.owner is None else "'yield'"))
        if frame.owner is None:
            ln.end()
            return True
        frames.pop()
        owner = frame.owner
        owner.blocks.append(frame.block)
        if ln.accept("else"):
            frames.append(_Frame(Block(self.block_params()), owner))
            ln.expect("{")
            ln.end()
            return False
        ln.expect(":")
        self.set_types(owner.outputs)
        frames[-1].block.nodes.append(Node(owner.op, owner.inputs, owner.attrs, owner.outputs,
                                           owner.blocks, owner.loc))
        return False

    def node(self, frames: list[_Frame]) -> None:
        ln = self.ln
        names: list[str] = []
        if ln.peek()[0] == "name":
            names.append(ln.next()[1])
            while ln.accept(","):
                names.append(ln.expect_kind("name"))
            ln.expect("=")
        op = ln.expect_kind("ident")
        outputs = [self.define(n) for n in names]
        if op == "constant":
            value = self.literal()
            ln.expect(":")
            self.set_types(outputs)
            if len(outputs) == 1:
                value = _conform_scalar(value, outputs[0].type)
            frames[-1].block.nodes.append(Node(op, [], {"value": value}, outputs, (), ln.loc()))
            return
        ln.expect("(")
        inputs = self.refs()
        ln.expect(")")
        attrs: dict[str, Any] = {}
        if ln.at("{") and ln.peek(1) is not _EOL:
            attrs = self.attrs()
        if ln.accept(":"):
            self.set_types(outputs)
            frames[-1].block.nodes.append(Node(op, inputs, attrs, outputs, (), ln.loc()))
            return
        owner = _Open(op, inputs, attrs, outputs, ln.loc())
        frames.append(_Frame(Block(self.block_params()), owner))
        ln.expect("{")
        ln.end()

    # -- pieces -----------------------------------------------------------------------
    def params(self) -> list[Value]:
        """`(%a: T, %b: T)`, defining each name."""
        ln = self.ln
        ln.expect("(")
        out: list[Value] = []
        while not ln.at(")"):
            name = ln.expect_kind("name")
            ln.expect(":")
            out.append(self.define(name, self.type()))
            if not ln.accept(","):
                break
        ln.expect(")")
        return out

    def block_params(self) -> list[Value]:
        return self.params() if self.ln.at("(") else []

    def type(self) -> TensorType:
        ln = self.ln
        if ln.accept("?"):
            return UNKNOWN
        text = ln.expect_kind("ident")
        if ln.accept("["):
            dims: list[str] = []
            while not ln.accept("]"):
                dims.append(ln.next()[1])
            text += "[" + "".join(dims) + "]"
        try:
            return parse_type(text)
        except (KeyError, ValueError):
            ln.fail(f"bad type {text!r}")

    def set_types(self, outputs: list[Value]) -> None:
        """The `: T1, T2` tail of a node (after the colon), one type per output."""
        ln = self.ln
        types: list[TensorType] = []
        if ln.peek() is not _EOL:
            types.append(self.type())
            while ln.accept(","):
                types.append(self.type())
        ln.end()
        if len(types) != len(outputs):
            ln.fail(f"{len(outputs)} output(s) but {len(types)} type(s)")
        for v, t in zip(outputs, types, strict=True):
            v.type = t

    def attrs(self) -> dict[str, Any]:
        ln = self.ln
        ln.expect("{")
        out: dict[str, Any] = {}
        while not ln.at("}"):
            key = ln.expect_kind("ident")
            if key in out:
                ln.fail(f"attribute {key} given twice")
            ln.expect("=")
            out[key] = self.literal()
            if not ln.accept(","):
                break
        ln.expect("}")
        return out

    def literal(self) -> Any:
        ln = self.ln
        kind, tok = ln.next()
        if kind == "num":
            return _number(tok)
        if kind == "str":
            return ast.literal_eval(tok)
        if kind == "name":
            return self.ref(tok)
        if tok == "-" and kind == "punct":
            x = self.literal()
            if isinstance(x, bool) or not isinstance(x, (int, float, complex)):
                ln.fail("'-' before a non-number")
            if isinstance(x, complex):  # `-1j` is complex(0.0, -1.0): keep the real +0.0
                return complex(x.real, -x.imag)
            return -x
        if kind == "ident":
            return self.word(tok)
        if tok == "(":
            return self.paren()
        if tok == "[":
            return self.sequence("]")
        if tok == "{":
            d: dict[Any, Any] = {}
            while not ln.at("}"):
                k = self.literal()
                ln.expect(":")
                d[k] = self.literal()
                if not ln.accept(","):
                    break
            ln.expect("}")
            return d
        ln.fail(f"unexpected {tok!r} in a literal")

    def word(self, tok: str) -> Any:
        ln = self.ln
        if tok in _CONSTS:
            return _CONSTS[tok]
        if tok in _IMAG:
            return _IMAG[tok]
        if tok in _DTYPES:
            return dtype_from_short(tok)
        if tok == "array" and ln.accept("<"):
            t = self.type()
            ln.expect(">")
            if not t.known:
                ln.fail("an elided array needs a dtype and shape")
            return np.zeros(t.shape, dtype=t.dtype)
        if tok == "array":
            ln.expect("(")
            data = self.literal()
            ln.expect(",")
            dtype = ln.expect_kind("ident")
            ln.expect(")")
            if dtype not in _DTYPES:
                ln.fail(f"unknown dtype {dtype!r}")
            return np.array(data, dtype=dtype_from_short(dtype))
        if tok == "slice":
            ln.expect("(")
            args = self.sequence(")")
            return slice(*args)
        ln.fail(f"unknown name {tok!r} in a literal")

    def paren(self) -> Any:
        """After '(': a tuple, or a complex number as repr() writes it: `(1+2j)`."""
        ln = self.ln
        if ln.accept(")"):
            return ()
        negative = ln.at("-")
        first = self.literal()
        if ln.at("+") or ln.at("-"):
            sign = -1.0 if ln.next()[1] == "-" else 1.0
            imag = self.literal()
            ln.expect(")")
            if (isinstance(first, bool) or not isinstance(first, (int, float))
                    or not isinstance(imag, complex)):
                ln.fail("bad complex literal")
            real = float(first)
            if negative and real == 0:
                real = -0.0  # repr writes complex(-0.0, 1.0) as `(-0+1j)`
            return complex(real, sign * imag.imag)
        if ln.accept(")"):
            ln.fail("a parenthesized value that is not a tuple needs a trailing comma")
        ln.expect(",")
        return (first, *self.sequence(")"))

    def sequence(self, close: str) -> list[Any]:
        ln = self.ln
        out: list[Any] = []
        while not ln.at(close):
            out.append(self.literal())
            if not ln.accept(","):
                break
        ln.expect(close)
        return out


def _number(tok: str) -> Any:
    if tok.endswith("j"):
        return complex(0, float(tok[:-1]))
    if any(c in tok for c in ".eE"):
        return float(tok)
    return int(tok)


def _conform_scalar(value: Any, t: TensorType) -> Any:
    if (t.known and not t.weak and t.shape == () and type(value) in (bool, int, float, complex)):
        return t.dtype.type(value)  # type: ignore[union-attr]
    return value
