"""The IR: graph classes, text printer and parser, verifier, DOT export."""
from .graph import STRUCTURAL, Block, Builder, Graph, Node, Value
from .parser import parse_ir
from .verify import VerifyError, verify

__all__ = ["STRUCTURAL", "Block", "Builder", "Graph", "Node", "Value", "VerifyError",
           "parse_ir", "verify"]
