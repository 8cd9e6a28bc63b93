"""save/load: a specialized, optimized graph in one .npz file (IR text, every constant's
array, and how results rebuild the Python return value), runnable without the source."""
from __future__ import annotations

import inspect
import json
import os
import zipfile
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
    from .api import ScriptFunction
    if not isinstance(f, ScriptFunction):
        what = getattr(f, "__name__", None)
        raise TypeError("jg.save takes a function made by jg.script (or jg.grad), got "
                        + (f"the plain function {what!r}; save jg.script({what})"
                           if inspect.isfunction(f) else type(f).__name__))
    entry = f._entry_for(example_args)
    g = entry.optimized
    try:
        tree = json.dumps(entry.tree.spec)
    except TypeError:
        raise TypeError("this function returns compile-time Python objects that cannot be "
                        "saved") from None
    # the arguments' structure (a pytree argument is several graph params): the loaded
    # function takes the arguments the scripted one took (its static ones left out)
    args = json.dumps({"names": [f._names[i] for i in entry.param_idx],
                       "specs": [_arg_spec(entry.key[i]) for i in entry.param_idx]})
    arrays = {f"c{i}": np.asarray(n.attrs["value"]) for i, n in enumerate(_constants(g))}
    with open(path, "wb") as fh:
        np.savez(fh, format=np.array(FORMAT), graph=np.array(g.text(locations=False)),
                 tree=np.array(tree), args=np.array(args),
                 **arrays)  # type: ignore[arg-type]  # keys are c0, c1...: never allow_pickle


def _arg_spec(k: Any) -> Any:
    """The structure of one argument from its signature key (api._arg_key): "v" for an
    array or scalar, ["t" | "l", [items]] for a tuple / list, ["d", keys, [items]]."""
    if isinstance(k, tuple) and k and k[0] in ("tree", "list"):
        return ["t" if k[0] == "tree" else "l", [_arg_spec(e) for e in k[1]]]
    if isinstance(k, tuple) and k and k[0] == "dict":
        keys = list(k[1])
        if not all(type(n) in (str, int) for n in keys):
            raise TypeError("jg.save: a dict argument's keys must be str or int to be saved")
        return ["d", keys, [_arg_spec(e) for e in k[2]]]
    return "v"


def _flatten(a: Any, spec: Any, out: list[Any]) -> bool:
    """Append a's leaves (in the order of the saved graph's params) to out; False if a
    does not have the saved structure."""
    if spec == "v":
        out.append(a)
        return True
    if spec[0] in ("t", "l"):
        if type(a) is not (tuple if spec[0] == "t" else list) or len(a) != len(spec[1]):
            return False
        return all(_flatten(e, sp, out) for e, sp in zip(a, spec[1]))
    if type(a) is not dict or len(a) != len(spec[1]) or any(n not in a for n in spec[1]):
        return False
    return all(_flatten(a[n], sp, out) for n, sp in zip(spec[1], spec[2]))


def _describe(spec: Any, types: Any) -> str:
    """The saved structure with its leaf types, e.g. (f64[2,3], {'w': f64[2,3]})."""
    if spec == "v":
        return str(next(types))
    if spec[0] in ("t", "l"):
        inner = ", ".join(_describe(sp, types) for sp in spec[1])
        return f"({inner}{',' if len(spec[1]) == 1 else ''})" if spec[0] == "t" \
            else f"[{inner}]"
    return "{" + ", ".join(f"{n!r}: {_describe(sp, types)}"
                           for n, sp in zip(spec[1], spec[2])) + "}"


class LoadedFunction:
    """A saved graph, compiled for the backends of this machine (cpu, else interp)."""

    def __init__(self, g: Graph, tree: Any, backend: str = "auto",
                 args: dict[str, Any] | None = None):
        from .frontend.emit import OutTree
        from .runtime import compile_graph
        self.graph = g
        self.tree = OutTree(tree)
        self.run, self.backend = compile_graph(g, backend, "eager", g.name)
        self.param_types = [p.type for p in g.params]
        # the arguments: names and structures (files saved without them: one per param)
        self.arg_names: list[str] = list(args["names"]) if args else list(g.arg_names)
        self.arg_specs: list[Any] = list(args["specs"]) if args else ["v"] * len(g.params)

    def __call__(self, *args: Any) -> Any:
        from .api import _arg_key, _key_type, _to_result
        if len(args) != len(self.arg_specs):
            raise TypeError(f"{self.graph.name}() takes {len(self.arg_specs)} arguments "
                            f"({len(args)} given)")
        leaves: list[Any] = []
        names: list[str] = []
        types = iter(self.param_types)
        for name, a, spec in zip(self.arg_names, args, self.arg_specs):
            n = len(leaves)
            if not _flatten(a, spec, leaves):
                raise JitTypeError(f"argument {name!r}: the saved graph takes "
                                   f"{_describe(spec, types)}, got {type(a).__name__}",
                                   arg=name)
            names += [name] * (len(leaves) - n)
            for _ in range(len(leaves) - n):
                next(types)
        if len(leaves) != len(self.param_types):
            raise ValueError(f"{self.graph.name}: the saved argument structure does not "
                             "match the graph's parameters")
        for name, a, t in zip(names, leaves, self.param_types):
            k = _arg_key(a)
            got = _key_type(k) if k is not None else None
            if not isinstance(got, TensorType):     # None, or a pytree (a tuple of types)
                raise JitTypeError(f"argument {name!r}: the saved graph takes {t}, got "
                                   f"{type(a).__name__}", arg=name)
            if (got.dtype, got.shape, got.weak) != (t.dtype, t.shape, t.weak):
                raise JitTypeError(f"argument {name!r}: the saved graph takes {t}, got {got}",
                                   arg=name)
        outs = self.run(leaves)
        return self.tree.build([_to_result(r, v.type) for r, v in zip(outs, self.graph.results)])


def load(path: str | os.PathLike) -> LoadedFunction:
    """The function jg.save wrote to `path`. A file that cannot be opened raises OSError;
    one that is not a whole jitgraph saved function (another .npz or .npy, truncated,
    empty, edited) raises ValueError "...: not a jitgraph saved function: why"."""
    with open(path, "rb") as fh:    # (a missing or unreadable file: OSError, as open)
        try:
            g, tree, args = _read(fh)
        except _NotSaved as e:
            raise ValueError(f"{os.fspath(path)}: not a jitgraph saved function: {e}") from None
        except zipfile.BadZipFile as e:
            raise ValueError(f"{os.fspath(path)}: not a jitgraph saved function: a damaged "
                             f"or truncated .npz archive ({e})") from None
        except Exception as e:  # whatever else is wrong with the file
            raise ValueError(f"{os.fspath(path)}: not a jitgraph saved function: "
                             f"{type(e).__name__}: {e}") from e
    return LoadedFunction(g, _untuple(tree), args=args)


class _NotSaved(Exception):
    pass


def _read(fh: Any) -> tuple[Graph, Any, dict[str, Any] | None]:
    from .ir.parser import parse_ir
    head = fh.read(6)
    fh.seek(0)
    if head.startswith(b"\x93NUMPY"):
        raise _NotSaved("a single NumPy array (.npy), not an .npz archive")
    if not head.startswith(b"PK"):
        raise _NotSaved("not an .npz (zip) archive" if head else "the file is empty")
    z = np.load(fh, allow_pickle=False)
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise _NotSaved(f"not an .npz archive (np.load read a {type(z).__name__})")
    with z:
        if "format" not in z.files:
            raise _NotSaved(f"an .npz archive without a 'format' entry (it holds "
                            f"{', '.join(map(repr, z.files[:8])) or 'nothing'})")
        if str(z["format"]) != FORMAT:
            raise _NotSaved(f"format {str(z['format'])[:80]!r}, not {FORMAT!r}")
        try:
            g = parse_ir(str(z["graph"]))
        except ValueError as e:
            raise _NotSaved(f"its graph does not parse: {e}") from None
        tree = json.loads(str(z["tree"]))
        args = json.loads(str(z["args"])) if "args" in z.files else None
        if args is not None:
            specs = args["specs"]
            if not (isinstance(args["names"], list) and isinstance(specs, list)
                    and len(args["names"]) == len(specs)
                    and sum(map(_count_leaves, specs)) == len(g.params)):
                raise _NotSaved("its argument structure does not match its graph")
        consts = _constants(g)
        for i, n in enumerate(consts):
            t: TensorType = n.outputs[0].type
            arr = z[f"c{i}"]
            n.attrs["value"] = _scalar(arr, t) if t.weak else arr.astype(t.dtype)
    return g, tree, args


def _count_leaves(spec: Any) -> int:
    if spec == "v":
        return 1
    if isinstance(spec, list) and len(spec) == 2 and spec[0] in ("t", "l"):
        return sum(map(_count_leaves, spec[1]))
    if isinstance(spec, list) and len(spec) == 3 and spec[0] == "d" \
            and len(spec[1]) == len(spec[2]):
        return sum(map(_count_leaves, spec[2]))
    raise _NotSaved(f"a bad argument structure {spec!r:.80}")


def _scalar(arr: np.ndarray, t: TensorType) -> Any:
    return {"b": bool, "i": int, "f": float, "c": complex}[t.dtype.kind](arr.item())  # type: ignore


def _untuple(spec: Sequence[Any]) -> Any:
    """JSON turned the tree's tuples into lists; the tree reads either."""
    return spec
