"""Damaged ``.pt`` files given to ``--from norse`` are input errors (exit 3), not crashes (issue 17
item 9)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys


def nirhub(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "NIRHUB_PLUGINS": "norse"}
    return subprocess.run(
        [sys.executable, "-m", "nirhub", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_empty_pt_from_norse(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    result = nirhub(
        "convert", str(empty), "--from", "norse", "--to", "nir", "-o", str(tmp_path / "o.nir")
    )
    assert result.returncode == 3, result.stderr
    assert "empty.pt" in result.stderr and "internal error" not in result.stderr


def test_bad_crc_pt_from_norse(tmp_path):
    import torch

    good = tmp_path / "good.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), good)
    raw = bytearray(good.read_bytes())
    i = 0
    while (i := raw.find(b"PK\x01\x02", i)) >= 0:  # central directory: CRC of data.pkl
        n = struct.unpack_from("<H", raw, i + 28)[0]
        if raw[i + 46 : i + 46 + n].endswith(b"data.pkl"):
            raw[i + 16] ^= 0xFF
        i += 4
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes(raw))
    for extra in ([], ["--from", "norse"]):
        result = nirhub("convert", str(bad), *extra, "--to", "nir", "-o", str(tmp_path / "o.nir"))
        assert result.returncode == 3, result.stderr
        assert "damaged zip archive" in result.stderr and "CRC" in result.stderr
