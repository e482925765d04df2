"""Model sources: pickle scanning, safe ``.pt`` loading, model references, ``--weights``.

Tests marked ``torch`` need PyTorch; nox installs it on Python 3.11 and deselects them on 3.10
(``-m "not torch"``), where no torch wheel is available offline.

The PyTorch tests use a tiny "framework" package written into a temporary site folder: a
``torch.nn.Module`` subclass and a plugin whose descriptor claims the package and declares its
classes safe.
"""

from __future__ import annotations

import io
import itertools
import pickle
from pathlib import Path

import numpy as np
import pytest
from _hubplugins import forget_modules, write_distribution

from nirhub.errors import FileFormatError, RefusedError, UsageError
from nirhub.hub.convert import convert, to_ir
from nirhub.hub.registry import make_registry
from nirhub.hub.sources import pickle_globals, scan_torch_file
from nirhub.ir.nodes import LIF, Affine
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture

_ids = itertools.count()

FRAMEWORK = """
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.register_buffer("tau", torch.full((3,), 2e-3, dtype=torch.float64))


def make():
    torch.manual_seed(0)
    return Net()


def needs_args(width):
    return Net()


def explode():
    raise RuntimeError("the model code is broken")


net = make()
"""

PLUGIN = """
from nirhub.hub.backend import Backend
from nirhub.hub.descriptor import BackendDescriptor
from nirhub.hub.hookspecs import hookimpl


class FakeBackend(Backend):
    descriptor = BackendDescriptor(
        name="fakefw", kind="simulator", summary="a fake torch framework",
        to_ir=frozenset({{"Affine", "LIF"}}),
        modules=("{fw}",),
        safe_classes={safe!r},
    )

    def to_ir(self, model, **options):
        import numpy as np
        from nirhub.ir.graph import Graph
        from nirhub.ir.nodes import LIF, Affine

        n = model.fc.out_features
        return Graph.from_list(
            Affine(model.fc.weight.detach().double().numpy(),
                   model.fc.bias.detach().double().numpy()),
            LIF(model.tau.numpy(), np.ones(n), np.zeros(n), np.ones(n), np.zeros(n)),
        )


@hookimpl
def nirhub_backends():
    return [FakeBackend]
"""


@pytest.fixture
def torch():
    """PyTorch (the tests marked ``torch`` need it installed)."""
    import torch

    return torch


@pytest.fixture
def fw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nirhub_config):  # noqa: F811
    """(framework module, registry) with the fake framework's plugin installed."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    n = next(_ids)
    name = f"fakefw_{n}_{id(tmp_path)}"

    def install(safe: tuple[str, ...]) -> object:
        write_distribution(
            site,
            f"nirhub-fakefw-{n}",
            entry_points={"fakefw": f"{name}_plugin"},
            modules={name: FRAMEWORK, f"{name}_plugin": PLUGIN.format(fw=name, safe=safe)},
        )
        return make_registry(environments=False)

    import importlib

    yield name, install, importlib
    forget_modules(name)
    forget_modules(f"{name}_plugin")


def test_pickle_scanner_finds_every_kind_of_global() -> None:
    data = pickle.dumps([io.BytesIO, np.float64(1.0), io.StringIO], protocol=4)
    # STACK_GLOBAL; the module name of StringIO is read back from the memo (BINGET)
    assert pickle_globals(data) == [
        "_io.BytesIO",
        "numpy._core.multiarray.scalar",
        "numpy.dtype",
        "_io.StringIO",
    ]
    assert pickle_globals(pickle.dumps(io.BytesIO, protocol=0)) == ["_io.BytesIO"]  # GLOBAL
    # protocol 2 spells Python 3 builtins the Python 2 way; the scanner maps them back
    assert pickle_globals(pickle.dumps({1, 2}, protocol=2)) == ["builtins.set"]
    with pytest.raises(FileFormatError):
        pickle_globals(b"\x80\x04not a pickle at all")


@pytest.mark.torch
def test_whole_module_pt_loads_with_declared_safe_classes(torch, fw, tmp_path: Path) -> None:
    name, install, importlib = fw
    registry = install((f"{name}.*", "torch.nn.modules.linear.Linear"))
    model = importlib.import_module(name).make()
    path = tmp_path / "net.pt"
    torch.save(model, path)
    assert f"{name}.Net" in scan_torch_file(path)
    graph = to_ir(path, registry=registry)
    aff = graph.nodes["affine"]
    assert isinstance(aff, Affine) and isinstance(graph.nodes["lif"], LIF)
    np.testing.assert_array_equal(aff.weight, model.fc.weight.detach().double().numpy())
    report = convert(path, to="nir", output=tmp_path / "net.nir", registry=registry)
    assert report.source_backend == "fakefw" and report.outputs == [tmp_path / "net.nir"]


@pytest.mark.torch
def test_undeclared_class_is_refused_by_name(torch, fw, tmp_path: Path) -> None:
    name, install, importlib = fw
    registry = install((f"{name}.*",))  # torch.nn.Linear not declared safe
    path = tmp_path / "net.pt"
    torch.save(importlib.import_module(name).make(), path)
    with pytest.raises(RefusedError) as info:
        to_ir(path, registry=registry)
    message = str(info.value)
    assert "torch.nn.modules.linear.Linear" in message and "--trust-pickle" in message
    graph = to_ir(path, registry=registry, trust_pickle=True)
    assert isinstance(graph.nodes["affine"], Affine)


def test_a_payload_is_refused_without_torch(tmp_path: Path, nirhub_config) -> None:  # noqa: F811
    """The refusal comes from the opcode scan alone: no torch, no unpickling."""
    import zipfile

    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:  # the layout of torch.save
        z.writestr("archive/data.pkl", pickle.dumps(_Payload(target), protocol=2))
        z.writestr("archive/version", "3\n")
    registry = make_registry(plugins=False, environments=False)
    with pytest.raises(RefusedError) as info:
        convert(path, to="nir", output=tmp_path / "out.nir", registry=registry)
    assert "io.open" in str(info.value) and "--trust-pickle" in str(info.value)
    assert not target.exists() and not (tmp_path / "out.nir").exists()
    assert scan_torch_file(path) == ["io.open"]


class _Payload:
    """Unpickling this creates a file: what a malicious .pt would do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


@pytest.mark.torch
@pytest.mark.parametrize("with_model", [False, True], ids=["payload-only", "inside-a-model"])
def test_malicious_pickle_leaves_no_file(torch, fw, tmp_path: Path, with_model: bool) -> None:
    name, install, importlib = fw
    registry = install((f"{name}.*", "torch.nn.modules.*"))
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    obj = _Payload(target)
    if with_model:
        obj = {"model": importlib.import_module(name).make(), "x": _Payload(target)}
    torch.save(obj, path)
    assert not target.exists()
    with pytest.raises(RefusedError) as info:
        convert(path, to="nir", output=tmp_path / "out.nir", registry=registry)
    assert "io.open" in str(info.value)
    assert not target.exists(), "the payload ran"
    assert not (tmp_path / "out.nir").exists()
    # the payload is real: an unsafe load does create the file
    torch.load(path, weights_only=False)
    assert target.exists()


@pytest.mark.torch
def test_state_dict_is_not_a_model(torch, fw, tmp_path: Path) -> None:
    name, install, importlib = fw
    registry = install((f"{name}.*",))
    path = tmp_path / "sd.pt"
    torch.save(importlib.import_module(name).make().state_dict(), path)
    with pytest.raises(UsageError, match="holds tensors only"):
        to_ir(path, registry=registry)


@pytest.mark.torch
def test_model_reference_with_weights(torch, fw, tmp_path: Path) -> None:
    name, install, importlib = fw
    registry = install((f"{name}.*",))
    module = importlib.import_module(name)
    trained = module.Net()
    with torch.no_grad():
        trained.fc.weight.fill_(0.5)
    weights = tmp_path / "w.pt"
    torch.save(trained.state_dict(), weights)
    graph = to_ir(f"{name}:make", weights=weights, registry=registry)
    assert np.all(graph.nodes["affine"].weight == 0.5)
    plain = to_ir(f"{name}:make", registry=registry)
    assert not np.all(plain.nodes["affine"].weight == 0.5)
    assert to_ir(f"{name}:net", registry=registry) == plain  # an object, not a factory
    # the same through a file path reference; the file's own class is not the framework's,
    # so the backend is found from the framework classes inside it, or named with --from
    script = tmp_path / "model_file.py"
    script.write_text(
        f"import torch\nfrom {name} import Net\n\n"
        "class Wrapped(Net):\n    pass\n\n"
        "def make():\n    return Net()\n\ndef wrapped():\n    return Wrapped()\n"
    )
    graph = to_ir(f"{script}:make", weights=weights, registry=registry)
    assert np.all(graph.nodes["affine"].weight == 0.5)
    with pytest.raises(UsageError, match="cannot tell which backend"):
        to_ir(f"{script}:wrapped", registry=registry)
    graph = to_ir(f"{script}:wrapped", "fakefw", weights=weights, registry=registry)
    assert np.all(graph.nodes["affine"].weight == 0.5)


@pytest.mark.torch
def test_weights_with_a_payload_are_refused(torch, fw, tmp_path: Path) -> None:
    name, install, _ = fw
    registry = install((f"{name}.*",))
    target = tmp_path / "pwned.txt"
    weights = tmp_path / "w.pt"
    torch.save({"fc.weight": _Payload(target)}, weights)
    with pytest.raises(RefusedError, match="io.open"):
        to_ir(f"{name}:make", weights=weights, registry=registry)
    assert not target.exists()


@pytest.mark.torch
def test_reference_errors_are_explained(torch, fw, tmp_path: Path) -> None:
    name, install, _ = fw
    registry = install((f"{name}.*",))
    with pytest.raises(UsageError, match="needs arguments"):
        to_ir(f"{name}:needs_args", registry=registry)
    with pytest.raises(UsageError, match="no attribute 'missing'") as info:
        to_ir(f"{name}:missing", registry=registry)
    assert "make" in str(info.value)  # lists what the module defines
    with pytest.raises(FileFormatError, match="the model code is broken"):
        to_ir(f"{name}:explode", registry=registry)
    with pytest.raises(UsageError, match="cannot import"):
        to_ir("no_such_package_xyz.models:net", registry=registry)
    with pytest.raises(UsageError, match="no such file"):
        to_ir(tmp_path / "nothing.pt", registry=registry)
    bad = tmp_path / "bad.py"
    bad.write_text("raise SystemExit('no')\n")
    with pytest.raises(FileFormatError, match="SystemExit"):
        to_ir(f"{bad}:x", registry=registry)


def test_nir_files_written_by_nirhub_are_detected(tmp_path: Path, nirhub_config) -> None:  # noqa: F811
    """nirhub's writer puts a 512-byte HDF5 user block in front of the superblock: the source
    sniffer must look for the signature there too, or `nirhub convert` refuses our own files."""
    import nirhub
    from nirhub.hub.sources import sniff

    graph = nirhub.Graph.from_list(
        Affine(np.ones((2, 3)), np.zeros(2)),
        LIF(np.full(2, 1e-3), np.ones(2), np.zeros(2), np.ones(2), np.zeros(2)),
    )
    path = tmp_path / "written.nir"
    nirhub.write(graph, path)
    assert path.read_bytes()[:4] != b"\x89HDF"  # the user block comes first
    assert sniff(path) == "hdf5"
    renamed = tmp_path / "written.h5"  # no .nir suffix: detected from the content alone
    renamed.write_bytes(path.read_bytes())
    registry = make_registry(plugins=False, environments=False)
    for source in (path, renamed):
        report = convert(
            source, to="nir", output=tmp_path / f"out-{source.suffix[1:]}.nir", registry=registry
        )
        assert report.source_backend == "nir" and report.graph.nodes.keys() == graph.nodes.keys()


@pytest.mark.torch
def test_simulate_a_model_reference_with_weights(torch, fw, tmp_path: Path) -> None:
    """`nirhub simulate MODEL.py:name --weights W.pt --from B`: the same sources as convert."""
    from nirhub.hub.simulation import simulate_file
    from nirhub.sim import simulate

    name, install, importlib = fw
    registry = install((f"{name}.*",))
    trained = importlib.import_module(name).Net()
    with torch.no_grad():
        trained.fc.weight.fill_(2.0)
    weights = tmp_path / "w.pt"
    torch.save(trained.state_dict(), weights)
    x = (np.random.default_rng(0).random((30, 4)) < 0.5).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = simulate_file(
        f"{name}:make",
        tmp_path / "x.npy",
        output=tmp_path / "out.npz",
        dt=1e-4,
        source_backend="fakefw",
        weights=weights,
        registry=registry,
    )
    want = simulate(to_ir(f"{name}:make", weights=weights, registry=registry), x, 1e-4)
    with np.load(run.output) as got:
        np.testing.assert_array_equal(got["output"], want.outputs["output"])
    assert want.outputs["output"].sum() > 0
    with pytest.raises(UsageError, match="--weights is for model sources"):
        nir = tmp_path / "g.nir"
        convert(f"{name}:make", to="nir", output=nir, registry=registry)
        simulate_file(nir, tmp_path / "x.npy", output=tmp_path / "o2.npz", weights=weights)
