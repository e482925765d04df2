"""The npjson format: a JSON document (``model.npjson``) and its arrays (``model.npz``).

The JSON holds the graph's structure, every non-array field and the metadata; arrays are
replaced by ``{"$array": "a3"}`` references into the ``.npz``. Tuples, dictionaries and numpy
scalars are tagged (``$tuple``, ``$dict``) so that reading gives back exactly the same values
and dtypes; nothing is ever unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nirhub.backend import FileFormatError
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import NODE_TYPES, Node
from nirhub_npjson.types import NODE_TYPES as FORMAT_NODE_TYPES

FORMAT = "nirhub-npjson"
VERSION = 1


@dataclass
class NpjsonModel:
    """The in-memory form: the JSON document and the arrays it refers to."""

    spec: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Graph <-> NpjsonModel
# --------------------------------------------------------------------------------------------


class _Encoder:
    def __init__(self, float32: bool) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.float32 = float32

    def value(self, v: Any, *, param: bool = False) -> Any:
        if isinstance(v, np.generic):
            v = np.asarray(v)
        if isinstance(v, np.ndarray):
            if param and self.float32 and v.dtype == np.float64:
                v = v.astype(np.float32)
            key = f"a{len(self.arrays)}"
            self.arrays[key] = v
            return {"$array": key}
        if isinstance(v, tuple):
            return {"$tuple": [self.value(x) for x in v]}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            return {"$dict": {str(k): self.value(x) for k, x in v.items()}}
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        raise FileFormatError(f"cannot store a {type(v).__name__} in the npjson format")

    def node(self, node: Node) -> dict[str, Any]:
        if isinstance(node, Graph):
            return {
                "type": "NIRGraph",
                "nodes": {name: self.node(n) for name, n in node.nodes.items()},
                "edges": [[s, d] for s, d in node.edges],
                "metadata": self.value(node.metadata),
            }
        return {
            "type": node.type_name,
            "params": {k: self.value(v, param=True) for k, v in node.params().items()},
            "metadata": self.value(node.metadata),
        }


def graph_to_model(graph: Graph, *, float32: bool = False) -> NpjsonModel:
    enc = _Encoder(float32)
    spec = {"format": FORMAT, "version": VERSION, "graph": enc.node(graph)}
    return NpjsonModel(spec, enc.arrays)


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], where: str) -> None:
        self.arrays = arrays
        self.where = where

    def fail(self, message: str, location: str) -> FileFormatError:
        return FileFormatError(message, path=self.where, location=location)

    def value(self, v: Any, loc: str) -> Any:
        if isinstance(v, list):
            return [self.value(x, loc) for x in v]
        if isinstance(v, dict):
            if set(v) == {"$array"}:
                key = v["$array"]
                if key not in self.arrays:
                    raise self.fail(f"refers to array {key!r}, which the .npz lacks", loc)
                return self.arrays[key]
            if set(v) == {"$tuple"}:
                return tuple(self.value(x, loc) for x in v["$tuple"])
            if set(v) == {"$dict"}:
                return {k: self.value(x, f"{loc}/{k}") for k, x in v["$dict"].items()}
            raise self.fail(f"unknown tagged value with keys {sorted(v)}", loc)
        return v

    def node(self, spec: Any, loc: str) -> Node:
        if not isinstance(spec, dict) or "type" not in spec:
            raise self.fail("a node must be an object with a 'type'", loc)
        meta = self.value(spec.get("metadata", {"$dict": {}}), f"{loc}/metadata")
        if spec["type"] == "NIRGraph":
            nodes = {
                name: self.node(s, f"{loc}/nodes/{name}")
                for name, s in spec.get("nodes", {}).items()
            }
            return Graph(nodes, [tuple(e) for e in spec.get("edges", [])], meta)
        cls = NODE_TYPES.get(spec["type"])
        if cls is None or spec["type"] not in _FORMAT_TYPES:
            raise self.fail(
                f"node type {spec['type']!r} is not part of npjson version {VERSION}", loc
            )
        params = {k: self.value(v, f"{loc}/params/{k}") for k, v in spec["params"].items()}
        return cls(**params, metadata=meta)


def model_to_graph(model: NpjsonModel, where: str = "<npjson model>") -> Graph:
    spec = model.spec
    if spec.get("format") != FORMAT:
        raise FileFormatError(
            f"is not an npjson document (format {spec.get('format')!r})", path=where
        )
    if spec.get("version") != VERSION:
        raise FileFormatError(
            f"npjson version {spec.get('version')} is not supported "
            f"(this plugin reads version {VERSION})",
            path=where,
        )
    graph = _Decoder(model.arrays, where).node(spec["graph"], "/graph")
    if not isinstance(graph, Graph):
        raise FileFormatError("the top-level node is not a graph", path=where)
    return graph


_FORMAT_TYPES = FORMAT_NODE_TYPES


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def write_model(model: NpjsonModel, path: Path) -> list[Path]:
    """Write ``path`` (the JSON) and the ``.npz`` beside it; return both paths.

    The hub calls this inside a temporary folder and moves the files into place, so it
    does not need to be atomic itself.
    """
    npz = path.with_suffix(".npz")
    spec = {**model.spec, "arrays": npz.name}
    with open(npz, "wb") as fh:  # a file object: numpy appends no second suffix
        np.savez(fh, **model.arrays)
    path.write_text(json.dumps(spec, indent=1, allow_nan=True), encoding="utf-8")
    return [path, npz]


def read_model(path: Path) -> NpjsonModel:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FileFormatError(f"cannot be read as JSON: {exc}", path=str(path)) from None
    if not isinstance(spec, dict):
        raise FileFormatError("is not an npjson document", path=str(path))
    name = spec.get("arrays")
    if not isinstance(name, str) or Path(name).name != name:
        raise FileFormatError(
            "its 'arrays' entry must be a file name beside it", path=str(path), location="/arrays"
        )
    npz = path.parent / name
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise FileFormatError(
            f"cannot read its arrays from {npz.name}: {exc}", path=str(path)
        ) from None
    model = NpjsonModel(spec, arrays)
    model_to_graph(model, str(path))  # validate now, with the path in the message
    return model
