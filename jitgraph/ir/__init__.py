"""The IR: graph classes, text printer and parser, verifier, DOT export."""
from .graph import STRUCTURAL, Block, Builder, Graph, Node, Value

__all__ = ["STRUCTURAL", "Block", "Builder", "Graph", "Node", "Value"]
