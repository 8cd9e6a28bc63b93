"""save/load: a specialized, optimized graph in one .npz file (IR text, every constant's
array, and how results rebuild the Python return value), runnable without the source."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import JitTypeError
from .ir.graph import Graph
from .types import TensorType

FORMAT = "jitgraph-graph-v1"


def _constants(g: Graph) -> list[Any]:
    return [n for n in g.walk() if n.op == "constant"]


def save(f: Any, path: str | os.PathLike, *example_args: Any) -> None:
    entry = f._entry_for(example_args)
    g = entry.optimized
    try:
        tree = json.dumps(entry.tree.spec)
    except TypeError:
        raise TypeError("this function returns compile-time Python objects that cannot be "
                        "saved") from None
    arrays = {f"c{i}": np.asarray(n.attrs["value"]) for i, n in enumerate(_constants(g))}
    with open(path, "wb") as fh:
        np.savez(fh, format=np.array(FORMAT), graph=np.array(g.text(locations=False)),
                 tree=np.array(tree),
                 **arrays)  # type: ignore[arg-type]  # keys are c0, c1...: never allow_pickle


class LoadedFunction:
    """A saved graph, compiled for the backends of this machine (cpu, else interp)."""

    def __init__(self, g: Graph, tree: Any, backend: str = "auto"):
        from .frontend.emit import OutTree
        from .runtime import compile_graph
        self.graph = g
        self.tree = OutTree(tree)
        self.run, self.backend = compile_graph(g, backend, "eager", g.name)
        self.param_types = [p.type for p in g.params]

    def __call__(self, *args: Any) -> Any:
        from .api import _arg_key, _key_type, _to_result
        if len(args) != len(self.param_types):
            raise TypeError(f"{self.graph.name}() takes {len(self.param_types)} arguments "
                            f"({len(args)} given)")
        for name, a, t in zip(self.graph.arg_names, args, self.param_types):
            k = _arg_key(a)
            got = _key_type(k) if k is not None else None
            if got is None or (got.dtype, got.shape, got.weak) != (t.dtype, t.shape, t.weak):
                raise JitTypeError(f"argument {name!r}: the saved graph takes {t}, got "
                                   f"{got if got is not None else type(a).__name__}", arg=name)
        outs = self.run(list(args))
        return self.tree.build([_to_result(r, v.type) for r, v in zip(outs, self.graph.results)])


def load(path: str | os.PathLike) -> LoadedFunction:
    from .ir.parser import parse_ir
    with np.load(path, allow_pickle=False) as z:
        if str(z["format"]) != FORMAT:
            raise ValueError(f"{path}: not a jitgraph graph file")
        g = parse_ir(str(z["graph"]))
        tree = json.loads(str(z["tree"]))
        consts = _constants(g)
        for i, n in enumerate(consts):
            t: TensorType = n.outputs[0].type
            arr = z[f"c{i}"]
            n.attrs["value"] = _scalar(arr, t) if t.weak else arr.astype(t.dtype)
    return LoadedFunction(g, _untuple(tree))


def _scalar(arr: np.ndarray, t: TensorType) -> Any:
    return {"b": bool, "i": int, "f": float, "c": complex}[t.dtype.kind](arr.item())  # type: ignore


def _untuple(spec: Sequence[Any]) -> Any:
    """JSON turned the tree's tuples into lists; the tree reads either."""
    return spec
