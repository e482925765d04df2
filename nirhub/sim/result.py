"""What a simulation returns, and how it is written to an ``.npz`` file."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nirhub._files import finish_output, make_temp_file, resolve_output
from nirhub.errors import FileFormatError, UsageError


@dataclass
class SimulationResult:
    """Signals of one simulation run, time-major.

    ``outputs[name]`` is the signal of each top-level Output node over time: ``(T, *shape)`` for
    a single sample or ``(T, B, *shape)`` for a batch, following the inputs. ``recorded[path]``
    maps a recorded node's variables (``"spikes"`` (bool), ``"v"``, ``"I"`` for neurons,
    ``"out"`` for other nodes) to arrays of the same layout. ``conventions`` records the
    decisions the run made that NIR leaves open (see ``docs/simulator.md``).
    """

    outputs: dict[str, np.ndarray]
    recorded: dict[str, dict[str, np.ndarray]]
    dt: float
    method: str
    steps: int
    #: batch size, or None when the inputs were a single sample (no batch axis)
    batch_size: int | None
    conventions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recorded = {
            path: normalize_spikes(variables) for path, variables in self.recorded.items()
        }

    def __getitem__(self, key: str) -> np.ndarray:
        """``result["output"]`` (an Output node) or ``result["lif1.lif.spikes"]`` (recorded)."""
        if key in self.outputs:
            return self.outputs[key]
        path, _, var = key.rpartition(".")
        if path in self.recorded and var in self.recorded[path]:
            return self.recorded[path][var]
        known = ", ".join(self.to_npz_dict()) or "(nothing)"
        raise KeyError(f"{key!r} is neither an Output nor a recorded signal; have: {known}")

    def spikes(self, path: str) -> np.ndarray:
        """Recorded spikes of a spiking node (bool, time-major)."""
        return self._var(path, "spikes")

    def v(self, path: str) -> np.ndarray:
        """Recorded membrane potential (after the reset of each step)."""
        return self._var(path, "v")

    def _var(self, path: str, var: str) -> np.ndarray:
        if path not in self.recorded:
            raise UsageError(
                f"node {path!r} was not recorded",
                hint=f"Pass record=[{path!r}] to simulate().",
            )
        if var not in self.recorded[path]:
            have = ", ".join(self.recorded[path])
            raise UsageError(f"node {path!r} has no recorded {var!r} (it has: {have})")
        return self.recorded[path][var]

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """Flat name -> array mapping: Output names and ``NODE.spikes``/``NODE.v``/``NODE.I``."""
        out: dict[str, np.ndarray] = dict(self.outputs)
        for path, variables in self.recorded.items():
            for var, arr in variables.items():
                key = f"{path}.{var}"
                if key in out:
                    raise UsageError(
                        f"the recorded signal {key!r} has the same name as an Output node; "
                        "cannot store both in one file"
                    )
                out[key] = arr
        return out

    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write :meth:`to_npz_dict` to a compressed ``.npz`` atomically (temp file + rename)."""
        target = Path(path)
        arrays = self.to_npz_dict()
        directory = target.parent if str(target.parent) else Path(".")
        if not directory.is_dir():
            raise UsageError(f"cannot write {target}: directory {directory} does not exist")
        real = resolve_output(target, force=force)
        fd, tmp = make_temp_file(real.parent, real)
        try:
            with os.fdopen(fd, "wb") as fh:
                _write_npz(fh, arrays)
            finish_output(tmp, real)
        except OSError as exc:
            raise FileFormatError(f"cannot write the results: {exc}", path=str(target)) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target


def normalize_spikes(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A recorded node's variables with ``spikes`` as bool, whatever the backend gave.

    Backends record spikes as bool, 0/1 integers (Xylo) or floats (torch-based runs); every
    result holds bool (``docs/cli.md``). A neuron that can fire several times in one step
    (Xylo's hidden neurons, up to 31) keeps its counts as ``count`` (int) beside them, as the
    reference simulator records a multi-spike node (``docs/simulator.md``), rather than
    losing them silently.
    """
    spikes = variables.get("spikes")
    if spikes is None or getattr(spikes, "dtype", None) == np.bool_:
        return variables
    arr = np.asarray(spikes)
    out = dict(variables)
    out["spikes"] = arr != 0
    if arr.size and arr.dtype.kind in "iuf" and arr.max() > 1 and "count" not in out:
        out["count"] = arr.astype(np.int64)
    return out


def _write_npz(fh: Any, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed``, but any key is allowed (``file``, ``allow_pickle``...)."""
    with zipfile.ZipFile(fh, mode="w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)
