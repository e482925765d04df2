"""Crafted ``.pt`` files (issue 17, item 1): none runs code without ``--trust-pickle``.

Every payload here would create a marker file if it ran (``os.system("touch MARKER")``); each
test checks the refusal *and* that the marker does not exist. The files are built byte by byte
(a gadget is a few opcodes) or by editing a real ``torch.save`` archive. They go through the
command line (``convert``, ``simulate``), the Python API (``nirhub.to_ir``) and the legacy
(pre-zip) format.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _hubplugins import forget_modules, write_distribution
from test_hub_sources import FRAMEWORK, PLUGIN
from typer.testing import CliRunner

from nirhub.cli.app import app
from nirhub.errors import FileFormatError, RefusedError
from nirhub.hub import sources
from nirhub.hub.convert import to_ir
from nirhub.hub.descriptor import BackendDescriptor, DescriptorError
from nirhub.hub.registry import make_registry, reset_default_registry
from nirhub.hub.sources import pickle_globals, resolve_safe_class, scan_torch_file
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture

pytestmark = pytest.mark.torch


# -- pickle opcodes -------------------------------------------------------------------------------


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(text: str) -> bytes:
    data = text.encode()
    return b"X" + len(data).to_bytes(4, "little") + data


def _call_with(command: str) -> bytes:
    """``(callable on the stack)(command)``: TUPLE1, REDUCE."""
    return _str(command) + b"\x85R"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def fw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nirhub_config):  # noqa: F811
    """The fake framework of test_hub_sources, declaring its ``Net`` and torch's Linear safe."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    name = f"secfw_{id(tmp_path)}"
    safe = (f"{name}.Net", "torch.nn.modules.linear.Linear")
    write_distribution(
        site,
        "nirhub-secfw",
        entry_points={"fakefw": f"{name}_plugin"},
        modules={name: FRAMEWORK, f"{name}_plugin": PLUGIN.format(fw=name, safe=safe)},
    )
    monkeypatch.delenv("NIRHUB_NO_PLUGINS", raising=False)
    monkeypatch.delenv("NIRHUB_PLUGINS", raising=False)
    reset_default_registry()
    yield name
    reset_default_registry()
    forget_modules(name)
    forget_modules(f"{name}_plugin")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


def _zip_pt(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _legacy_pt(path: Path, payload: bytes) -> Path:
    """torch's pre-1.6 layout: magic number, protocol, sys info, the object, storage keys."""
    parts = [
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
        payload,
        pickle.dumps([], protocol=2),
    ]
    path.write_bytes(b"".join(parts))
    return path


def _gadgets(fw: str, marker: Path) -> dict[str, bytes]:
    """Pickles (protocol 2/4) that name the framework (so it is detected) and call os.system."""
    cmd = f"touch {marker}"
    net = _global(fw, "Net")  # the framework's class: the file is detected as fakefw's
    return {
        # the gadget: a module walked as an attribute chain; (Net, os.system(cmd))
        "torch.os.system": b"\x80\x02" + net + _global("torch.os", "system") + _call_with(cmd)
        + b"\x86.",
        "framework-module-walk": b"\x80\x02" + net + _global(fw, "torch.os.system")
        + _call_with(cmd) + b"\x86.",
        "nested-attribute-chain": b"\x80\x02" + net + _global(fw, "Net.__init__.__globals__")
        + b"\x86.",
        # strings the old scanner saw on top of its stack (it ignored POP); the unpickler's
        # STACK_GLOBAL takes "os", "system"
        "stack-desync": b"\x80\x04" + _str("os") + _str("system") + _str(fw) + _str("Net")
        + b"00\x93" + _call_with(cmd) + b".",
    }  # fmt: skip


def _cli(args: list[str], tmp_path: Path) -> tuple[int, str]:
    reset_default_registry()
    result = CliRunner().invoke(app, args, prog_name="nirhub", catch_exceptions=False)
    return result.exit_code, result.stderr


# -- the gadgets, six ways ------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_gadgets_never_run(fw: str, marker: Path, tmp_path: Path, layout: str) -> None:
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((5, 4), dtype=np.float32))
    for label, payload in _gadgets(fw, marker).items():
        path = tmp_path / f"{label}-{layout}.pt"
        if layout == "zip":
            _zip_pt(path, {"archive/data.pkl": payload, "archive/version": b"3\n"})
        else:
            _legacy_pt(path, payload)
        registry = make_registry(environments=False)
        with pytest.raises(RefusedError) as info:
            to_ir(path, registry=registry)
        assert "--trust-pickle" in info.value.hint, label
        with pytest.raises(RefusedError):
            to_ir(path, "fakefw", registry=registry)
        out = tmp_path / "out.nir"
        code, err = _cli(["convert", str(path), "--to", "nir", "-o", str(out)], tmp_path)
        assert code == 6 and "refusing to load" in err, (label, err)
        code, err = _cli(["convert", str(path), "--from", "fakefw", "--to", "nir"], tmp_path)
        assert code == 6, (label, err)
        sim = ["simulate", str(path), "-i", str(x), "--dt", "1e-3", "-o", str(tmp_path / "o.npz")]
        code, err = _cli(sim, tmp_path)
        assert code == 6, (label, err)
        assert not marker.exists(), f"{label} ({layout}) ran its payload"
        assert not out.exists()


def test_the_scanner_sees_what_the_unpickler_would(fw: str, marker: Path) -> None:
    gadgets = _gadgets(fw, marker)
    assert "os.system" in pickle_globals(gadgets["stack-desync"])
    assert f"{fw}.torch.os.system" in pickle_globals(gadgets["framework-module-walk"])
    # a stack underflow or a GET of an unset memo is not a pickle any unpickler runs
    with pytest.raises(FileFormatError):
        pickle_globals(b"\x80\x04\x93.")
    with pytest.raises(FileFormatError):
        pickle_globals(b"\x80\x04h\x05.")


def test_only_exact_classes_resolve() -> None:
    import torch

    assert resolve_safe_class("torch.nn.modules.linear.Linear") is torch.nn.Linear
    for ref in (
        "os.system",  # a function
        "torch.os.system",  # an attribute chain through a module
        "torch.nn.modules.linear.math",  # a module
        "torch.nn.Linear",  # re-exported, not defined there
        "torch.nn.modules.linear.Linear.forward",  # a dotted attribute chain
        "torch.nn.modules.*",  # a glob
    ):
        with pytest.raises(ImportError):
            resolve_safe_class(ref)


def test_descriptors_refuse_globs() -> None:
    for bad in ("torch.nn.modules.*", "norse.torch.functional.*.*Parameters", "Linear", "a..b"):
        with pytest.raises(DescriptorError, match="exact module.Class"):
            BackendDescriptor(name="x", kind="simulator", summary="", safe_classes=(bad,))


# -- archives that could make torch load another pickle than the one scanned ----------------------


def test_archives_with_ambiguous_pickles_are_refused(fw: str, marker: Path, tmp_path: Path) -> None:
    import torch

    real = tmp_path / "real.pt"
    torch.save(__import__(fw).make(), real)
    with zipfile.ZipFile(real) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    (pkl,) = [n for n in members if n.endswith("/data.pkl")]
    evil = _gadgets(fw, marker)["torch.os.system"]
    cases = {
        "two-pickles": {**members, "other/data.pkl": evil},
        "dotdot": {**members, "../data.pkl": evil},
        "absolute": {"/abs/data.pkl": evil, **members},
        "elsewhere": {"archive/version": b"3\n", "other/data.pkl": evil},
    }
    registry = make_registry(environments=False)
    assert to_ir(real, registry=registry).nodes  # the real file loads
    for label, content in cases.items():
        path = _zip_pt(tmp_path / f"{label}.pt", content)
        with pytest.raises(FileFormatError):
            scan_torch_file(path)
        with pytest.raises(FileFormatError):
            to_ir(path, "fakefw", registry=registry)
        code, err = _cli(["convert", str(path), "--from", "fakefw", "--to", "nir"], tmp_path)
        assert code == 3, (label, err)
    # a duplicate member name: zipfile reads the last, another reader the first
    dup = tmp_path / "dup.pt"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(dup, "w") as z:
        z.writestr(pkl, members[pkl])
        z.writestr(pkl, evil)
    with pytest.raises(FileFormatError, match="2 pickles"):
        scan_torch_file(dup)
    assert not marker.exists()


# -- bounded scanning -----------------------------------------------------------------------------


def test_the_empty_tuple_bomb_is_refused_without_scanning(tmp_path: Path) -> None:
    """The issue's file: 200 MB of EMPTY_TUPLE opcodes deflated to ~200 KB."""
    path = tmp_path / "bomb.pt"
    chunk = b")" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("archive/data.pkl", "w", force_zip64=True) as f:
            f.write(b"\x80\x02")
            for _ in range(200):
                f.write(chunk)
            f.write(b".")
    assert path.stat().st_size < 400_000
    with pytest.raises(FileFormatError, match="limit"):
        scan_torch_file(path)
    code, err = _cli(["convert", str(path), "--to", "nir"], tmp_path)
    assert code == 3 and "limit" in err


def test_opcode_count_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_PICKLE_OPS", 10_000)
    path = _zip_pt(tmp_path / "ops.pt", {"archive/data.pkl": b"\x80\x02" + b")0" * 6000 + b"N."})
    with pytest.raises(FileFormatError, match="more than 10000 opcodes"):
        scan_torch_file(path)
    small = _zip_pt(tmp_path / "ok.pt", {"archive/data.pkl": b"\x80\x02" + b")0" * 100 + b"N."})
    assert scan_torch_file(small) == []


def test_damaged_archives_are_invalid_input(tmp_path: Path) -> None:
    import torch

    real = tmp_path / "real.pt"
    torch.save({"w": torch.ones(3)}, real)
    data = bytearray(real.read_bytes())
    with zipfile.ZipFile(real) as z:
        off = z.getinfo([n for n in z.namelist() if n.endswith("data.pkl")][0]).header_offset
    name_len = int.from_bytes(data[off + 26 : off + 28], "little")
    extra_len = int.from_bytes(data[off + 28 : off + 30], "little")
    data[off + 30 + name_len + extra_len + 2] ^= 0xFF  # a byte of the (stored) pickle
    bad = tmp_path / "crc.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="damaged"):
        scan_torch_file(bad)


def test_the_gadgets_are_real(fw: str, marker: Path, tmp_path: Path) -> None:
    """The payloads above do run without nirhub's checks (so the tests that find no marker
    file prove something): the stack trick under plain pickle, the attribute chain under
    torch's weights-only loader once it is told the chain is safe (what nirhub did before)."""
    import os

    import torch

    gadgets = _gadgets(fw, marker)
    pickle.loads(gadgets["stack-desync"])  # noqa: S301 - the point of the test
    assert marker.exists()
    marker.unlink()
    path = _zip_pt(
        tmp_path / "chain.pt",
        {"archive/data.pkl": gadgets["torch.os.system"], "archive/version": b"3\n"},
    )
    allowed = [__import__(fw).Net, (os.system, "torch.os.system")]
    with torch.serialization.safe_globals(allowed):
        try:
            torch.load(path, weights_only=True)
        except Exception:  # noqa: BLE001 - whatever follows the call does not matter
            pass
    assert marker.exists()
