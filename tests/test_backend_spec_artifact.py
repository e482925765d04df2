"""The self-describing artifact of the Nengo and Spyx backends (nirhub.backend.spec_artifact):
written atomically, read back without running the module, every defect a FileFormatError."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nirhub.backend.spec_artifact import (
    SPEC_PREFIX,
    artifact_paths,
    embedded_spec_lines,
    execute_generated,
    read_artifact,
    starts_with_marker,
    weights_loader_lines,
    write_artifact,
)
from nirhub.errors import FileFormatError, RefusedError, UsageError
from nirhub.testing.standalone import forbid_running

MARKER = "# nirhub artifact: backend=demo format=demo-v1"


def parse(text: str, arrays: dict) -> dict:
    spec = json.loads(text)
    if spec["array"] not in arrays:
        raise KeyError(spec["array"])
    return {**spec, "values": arrays[spec["array"]]}


def module_source(spec: dict, weights_name: str) -> str:
    """A generated module as the plugins write one: marker, a loader, the embedded spec."""
    lines = [
        MARKER,
        "import os",
        "",
        "import numpy as np",
        "",
        *weights_loader_lines(weights_name),
        "",
        "",
        "def total(weights=None):",
        f"    return float(_weights(weights)[{spec['array']!r}].sum())",
        *embedded_spec_lines("demo", json.dumps({**spec, "padding": "x" * 300})),
    ]
    return "\n".join(lines)


def test_written_artifact_reads_back_without_running(tmp_path) -> None:
    module, weights = artifact_paths(tmp_path / "demo")
    assert (module.name, weights.name) == ("demo.py", "demo.npz")
    spec = {"array": "w"}
    arrays = {"w": np.arange(6.0).reshape(2, 3)}
    written = write_artifact(module, weights, module_source(spec, weights.name), arrays)
    assert written == [module, weights]
    text = module.read_text()
    assert all(len(line) <= 100 for line in text.splitlines())
    assert sum(line.startswith(SPEC_PREFIX) for line in text.splitlines()) > 1  # cut to fit
    assert starts_with_marker(module, MARKER) and not starts_with_marker(module, "# other")
    namespace = execute_generated(text, "demo")
    assert namespace["__name__"] == "nirhub_demo_generated"
    assert namespace["total"](str(weights)) == namespace["total"](arrays) == 15.0
    forbid_running(module)
    back, npz = read_artifact(module, marker=MARKER, parse=parse, what="a demo", hint="h")
    assert npz == weights and back["array"] == "w"
    assert np.array_equal(back["values"], arrays["w"])


def test_nothing_is_overwritten_without_force_and_the_folder_must_exist(tmp_path) -> None:
    module, weights = artifact_paths(tmp_path / "a.py")
    write_artifact(module, weights, MARKER + "\n", {})
    with pytest.raises(RefusedError):
        write_artifact(module, weights, MARKER + "\n", {})
    write_artifact(module, weights, MARKER + "\nx = 1\n", {}, force=True)
    assert module.read_text().endswith("x = 1\n")
    with pytest.raises(UsageError, match="does not exist"):
        artifact_paths(tmp_path / "missing" / "a.py")


@pytest.mark.parametrize(
    ("defect", "message"),
    [
        ("plain", "is not a demo module"),
        ("no-spec", "no embedded nirhub spec"),
        ("no-weights", "weights file"),
        ("bad-weights", "cannot read the weights"),
        ("bad-spec", "embedded spec is damaged"),
        ("binary", "cannot read"),
    ],
)
def test_every_defect_is_a_file_format_error(tmp_path, defect: str, message: str) -> None:
    module, weights = artifact_paths(tmp_path / "m.py")
    spec = {"array": "w" if defect != "bad-spec" else "absent"}
    write_artifact(module, weights, module_source(spec, weights.name), {"w": np.ones(2)})
    if defect == "plain":
        module.write_text("x = 1\n")
    elif defect == "no-spec":
        module.write_text(MARKER + "\nx = 1\n")
    elif defect == "no-weights":
        weights.unlink()
    elif defect == "bad-weights":
        weights.write_bytes(b"not an npz")
    elif defect == "binary":
        module.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FileFormatError, match=message) as info:
        read_artifact(
            module, marker=MARKER, parse=parse, what="a demo module", hint="Give file.py:obj."
        )
    assert str(tmp_path) in str(info.value) or str(tmp_path) in repr(info.value.__dict__)
