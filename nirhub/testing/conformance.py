"""The conformance suite every backend's tests subclass.

.. code-block:: python

    from nirhub.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        backend_name = "mybackend"

What it checks, for every primitive graph of :mod:`nirhub.testing.graphs`:

* the backend is listed by the registry, its framework is installed and its descriptor is
  consistent with the methods the class implements;
* a graph the backend declares it can import (after nirhub's exact rewrites) round-trips:
  ``from_ir`` then ``to_ir`` gives a graph that behaves like the original under the reference
  simulator (within ``rtol``/``atol``), also through the backend's own file format when it
  has one; an import-only backend that can run is compared with the reference simulator
  instead;
* a graph with node types it does not declare is refused with an
  :class:`~nirhub.errors.UnsupportedError` that names *every* such node, instead of a silent
  drop;
* node names are data: a graph whose names are Python code (:mod:`nirhub.testing.hostile`)
  converts, saves, imports and runs like any other, and no name ever runs;
* importing the plugin module and reading its descriptors imports no heavy framework (checked
  in a fresh interpreter).

No test is skipped: each primitive either must round-trip or must be refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from nirhub.backend import Backend, UnsupportedError
from nirhub.hub.registry import Registry, make_registry
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import Input, Output
from nirhub.testing.graphs import (
    DT,
    PRIMITIVES,
    STEPS,
    behaviour_difference,
    compare_outputs,
    primitive_graph,
    random_inputs,
    simulate_outputs,
)

#: top-level packages a plugin module must not import when loaded to read its descriptor
HEAVY_MODULES: tuple[str, ...] = (
    "torch",
    "jax",
    "jaxlib",
    "flax",
    "lava",
    "rockpool",
    "sinabs",
    "samna",
    "snntorch",
    "norse",
    "spyx",
    "nirtorch",
    "tensorflow",
    "nengo",
    "brian2",
    "xylosim",
    "spinnaker2",
)

#: element-wise node types: any two of them can be chained on a shape-(3,) signal
_CHAINABLE = ("Scale", "Delay", "Threshold", "I", "IF", "LI", "LIF", "CubaLI", "CubaLIF")


class BackendConformance:
    """Subclass it in a plugin's tests and set :attr:`backend_name`."""

    #: the backend under test
    backend_name: ClassVar[str] = ""
    #: plugin modules/objects to register directly (when the plugin is not installed as a
    #: distribution); empty: find it through the ``nirhub.backends`` entry points
    extra_plugins: ClassVar[Sequence[Any]] = ()
    #: tolerance of the behavioural comparisons (frameworks often compute in float32)
    #: options for every reference simulation of the suite, e.g. ``{"reset": "subtract"}`` for
    #: a backend whose neurons can only reset by subtraction (pass the same to ``options``)
    reference_options: ClassVar[dict[str, Any]] = {}
    rtol: ClassVar[float] = 1e-5
    atol: ClassVar[float] = 1e-6
    #: packages the plugin module must not import at load time
    heavy_modules: ClassVar[tuple[str, ...]] = HEAVY_MODULES
    #: extra keyword options for from_ir/to_ir (``-O`` options)
    options: ClassVar[dict[str, Any]] = {}
    #: options of the hostile-name test, which converts *and saves* (default: ``options``; a
    #: backend whose ``options`` select an analysis mode that cannot be saved sets its own)
    hostile_options: ClassVar[dict[str, Any] | None] = None

    # -- fixtures ------------------------------------------------------------------------------
    @pytest.fixture
    def registry(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
        if not self.backend_name:
            pytest.fail(f"{type(self).__name__} must set backend_name")
        monkeypatch.setenv("NIRHUB_CONFIG", str(tmp_path / "environments.json"))
        if self.extra_plugins:
            return make_registry(plugins=False, extra=list(self.extra_plugins), environments=False)
        return make_registry(plugins=True, environments=False)

    @pytest.fixture
    def backend(self, registry: Registry) -> Backend:
        return registry.get(self.backend_name)

    # -- listing and descriptor --------------------------------------------------------------
    def test_listed_and_available(self, registry: Registry) -> None:
        rows = [s for s in registry.statuses() if s.name == self.backend_name]
        assert rows, f"{self.backend_name!r} is not listed; listed: {registry.names()}"
        row = rows[0]
        assert row.status == "ok", f"{self.backend_name!r} is {row.status}: {row.reason}"
        assert row.location == "local"
        assert not [c for c in registry.clashes() if repr(self.backend_name) in c]
        json.dumps(row.to_json())  # the listing must be JSON-serialisable

    def test_descriptor_matches_implementation(self, backend: Backend) -> None:
        desc = backend.descriptor
        cls = type(backend)

        def implements(method: str) -> bool:
            return getattr(cls, method) is not getattr(Backend, method)

        missing = []
        if desc.to_ir and not implements("to_ir"):
            missing.append("to_ir (descriptor.to_ir is not empty)")
        if desc.from_ir and not implements("from_ir"):
            missing.append("from_ir (descriptor.from_ir is not empty)")
        if desc.can_run and not implements("run"):
            missing.append("run (descriptor.can_run is True)")
        if desc.writes and not implements("save"):
            missing.append("save (descriptor.writes is not empty)")
        if desc.reads and not implements("load"):
            missing.append("load (descriptor.reads is not empty)")
        assert not missing, f"{cls.__name__} does not implement: {', '.join(missing)}"
        assert desc.directions, "a backend must declare at least one direction"
        for opt in desc.options:
            if opt.default is not None:
                assert opt.parse(opt.default) == opt.default

    # -- primitives ----------------------------------------------------------------------------
    @pytest.mark.parametrize("type_name", PRIMITIVES)
    def test_primitive(
        self, type_name: str, registry: Registry, backend: Backend, tmp_path: Path
    ) -> None:
        from nirhub.hub.convert import check_legality, from_ir
        from nirhub.passes import legalize

        graph = primitive_graph(type_name)
        desc = backend.descriptor
        legal, _, _ = legalize(graph, desc, registry.passes(loaded_only=True))
        # node types the descriptor does not declare, plus what the backend's own check()
        # refuses (chip limits, semantics it cannot express): all must be named in the error
        expected_problems = check_legality(legal, desc)
        if not expected_problems:
            expected_problems = list(backend.check(legal, **self.options))
        if expected_problems:
            with pytest.raises(UnsupportedError) as info:
                from_ir(graph, self.backend_name, registry=registry, **self.options)
            reported = {p.where for p in info.value.problems}
            for p in expected_problems:
                assert p.where in reported, (
                    f"{type_name}: node {p.where!r} is not in the error's problems "
                    f"({sorted(reported)})"
                )
            return
        obj = from_ir(graph, self.backend_name, registry=registry, dt=DT, **self.options)
        checked = False
        if set(_types(legal)) <= set(desc.to_ir) | {"Input", "Output"}:
            self._check_round_trip(graph, backend, obj, tmp_path)
            checked = True
        if desc.can_run:
            self._check_run(graph, registry)
            checked = True
        if not checked:
            # import-only and cannot run: the import must at least produce something savable
            assert obj is not None, f"from_ir returned None for {type_name}"
            if desc.writes:
                written = backend.save(obj, tmp_path / f"model{desc.writes[0]}", **self.options)
                assert written and all(Path(p).is_file() for p in written)

    def _check_round_trip(self, graph: Graph, backend: Backend, obj: Any, tmp_path: Path) -> None:
        back = backend.to_ir(obj, **self._export_options(backend))
        assert isinstance(back, Graph), f"to_ir returned {type(back).__name__}"
        back.validate()
        why = behaviour_difference(
            graph, back, rtol=self.rtol, atol=self.atol, **self.reference_options
        )
        assert not why, f"in-memory round trip differs: {why}"
        desc = backend.descriptor
        if desc.writes and desc.reads and desc.writes[0] in desc.reads:
            path = tmp_path / f"model{desc.writes[0]}"
            written = backend.save(obj, path, **self.options)
            assert written, "save() returned no files"
            for p in written:
                assert Path(p).is_file(), f"save() reported {p} but it does not exist"
            loaded = backend.load(path)
            again = backend.to_ir(loaded, **self._export_options(backend))
            again.validate()
            why = behaviour_difference(
                graph, again, rtol=self.rtol, atol=self.atol, **self.reference_options
            )
            assert not why, f"round trip through {path.name} differs: {why}"

    def _export_options(self, backend: Backend) -> dict[str, Any]:
        names = {o.name for o in backend.descriptor.options}
        opts = {k: v for k, v in self.options.items() if k in names}
        if "dt" in names:
            opts["dt"] = DT
        return opts

    def _check_run(self, graph: Graph, registry: Registry) -> None:
        from nirhub.hub.convert import simulate_with_backend

        inputs = random_inputs(graph)
        result = simulate_with_backend(
            graph, inputs, DT, self.backend_name, registry=registry, **self.options
        )
        actual = [result.outputs[name] for name in graph.outputs]
        expected = simulate_outputs(graph, inputs, DT, **self.reference_options)
        why = compare_outputs(expected, actual, rtol=self.rtol, atol=self.atol, names=graph.outputs)
        assert not why, f"run hook differs from the reference simulator over {STEPS} steps: {why}"

    def test_every_unsupported_node_is_reported(self, registry: Registry, backend: Backend) -> None:
        """Unsupported nodes are collected, all of them, by name; never silently dropped."""
        from nirhub.hub.convert import check_legality, from_ir
        from nirhub.passes import legalize

        desc = backend.descriptor
        passes = registry.passes(loaded_only=True)
        unsupported = []
        for t in _CHAINABLE:
            one = primitive_graph(t)
            legal, _, _ = legalize(one, desc, passes)
            if check_legality(legal, desc):
                unsupported.append(t)
        if not unsupported:
            # it takes every element-wise node: then a graph of them must import
            graph = _chain(_CHAINABLE[3:6])
            assert (
                from_ir(graph, self.backend_name, registry=registry, dt=DT, **self.options)
                is not None
            )
            return
        graph = _chain(unsupported)
        with pytest.raises(UnsupportedError) as info:
            from_ir(graph, self.backend_name, registry=registry, dt=DT, **self.options)
        reported = {p.where for p in info.value.problems}
        wanted = {f"n{i}" for i in range(len(unsupported))}
        assert wanted <= reported, f"reported {sorted(reported)}, expected all of {sorted(wanted)}"
        for name in wanted:
            assert name in str(info.value), f"the message does not name node {name!r}"

    # -- node names are data ------------------------------------------------------------------
    #: primitives tried for the hostile-names test: the first one the backend takes is used
    hostile_primitives: ClassVar[tuple[str, ...]] = ("NIRGraph", "LIF", "IF", "Affine", "LI")

    def test_hostile_node_names_stay_data(
        self,
        registry: Registry,
        backend: Backend,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Names that are Python code (quotes, brackets, triple quotes, backslashes, NFKC
        look-alikes, keywords; and line breaks and control characters) convert, save, import
        and run like any other name, or are refused as invalid input; none ever runs."""
        from nirhub.errors import ExitCode, NirhubError
        from nirhub.hub.convert import check_legality, from_ir
        from nirhub.passes import legalize
        from nirhub.testing.hostile import CONTROL_NAMES, MARKER, hostile_variants

        monkeypatch.chdir(tmp_path)
        opts = self.options if self.hostile_options is None else self.hostile_options
        desc = backend.descriptor
        passes = registry.passes(loaded_only=True)
        base, accepted = None, False
        for t in (*self.hostile_primitives, *PRIMITIVES):
            g = primitive_graph(t)
            legal, _, _ = legalize(g, desc, passes)
            if not check_legality(legal, desc) and not backend.check(legal, **opts):
                base, accepted = g, True
                break
        if base is None:  # a chip that takes no single primitive: its refusal names them
            base = primitive_graph(self.hostile_primitives[0])
        cases = [(g, False) for g in hostile_variants(base)]
        cases += [(g, True) for g in hostile_variants(base, CONTROL_NAMES)]
        for i, (graph, control) in enumerate(cases):
            if not accepted:
                with pytest.raises(NirhubError):
                    from_ir(graph, self.backend_name, registry=registry, dt=DT, **opts)
                assert not (tmp_path / MARKER).exists()
                continue
            try:
                obj = from_ir(graph, self.backend_name, registry=registry, dt=DT, **opts)
                if desc.writes:
                    folder = tmp_path / f"v{i}"
                    folder.mkdir()
                    written = backend.save(obj, folder / f"model{desc.writes[0]}", **opts)
                    for path in written:
                        if Path(path).suffix == ".py":
                            _import_artifact(Path(path))
                if desc.can_run:
                    self._check_run(graph, registry)
            except NirhubError as exc:
                if not (control and exc.exit_code == ExitCode.INVALID_INPUT):
                    raise
            assert not (tmp_path / MARKER).exists(), f"a node name ran as code: {list(graph.nodes)}"

    # -- import hygiene ----------------------------------------------------------------------
    def test_plugin_module_imports_no_framework(self, registry: Registry) -> None:
        row = registry.status(self.backend_name)
        module = row.plugin
        assert module, "the registry does not know the plugin module"
        code = (
            "import importlib, json, sys\n"
            f"m = importlib.import_module({module!r})\n"
            "from nirhub.hub.registry import make_registry\n"
            "r = make_registry(plugins=False, extra=[m], environments=False)\n"
            "rows = [s.to_json() for s in r.statuses()]\n"
            f"heavy = {list(self.heavy_modules)!r}\n"
            "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in heavy)))\n"
        )
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        loaded = json.loads(proc.stdout.strip().splitlines()[-1])
        assert not loaded, f"importing {module} imported {', '.join(loaded)}"


def _import_artifact(path: Path) -> None:
    """Import a generated module the way a user would (its folder on sys.path)."""
    import importlib.util

    name = f"_nirhub_artifact_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
        sys.modules.pop(name, None)


def _types(graph: Graph) -> list[str]:
    return [node.type_name for _, node in graph.walk()]


def _chain(types: Sequence[str]) -> Graph:
    """``Input(3) -> n0 -> n1 -> ... -> Output`` using the nodes of the primitive graphs."""
    from nirhub.ir.conventions import set_dt

    nodes: dict[str, Any] = {"input": Input((3,))}
    edges = []
    prev = "input"
    for i, t in enumerate(types):
        g = primitive_graph(t)
        node = next(n for n in g.nodes.values() if n.type_name == t)
        nodes[f"n{i}"] = node
        edges.append((prev, f"n{i}"))
        prev = f"n{i}"
    nodes["output"] = Output(None)
    edges.append((prev, "output"))
    graph = Graph(nodes, edges)
    set_dt(graph.metadata, DT)
    return graph
