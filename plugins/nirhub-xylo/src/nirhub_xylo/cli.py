"""``nirhub xylo-config SPEC.npz -o CONFIG.json``: the chip configuration from a specification.

Added to nirhub's command line through the ``nirhub_cli_commands`` hook. (No
``from __future__ import annotations`` here: typer reads the annotations at run time.)
"""

from pathlib import Path
from typing import Annotated

import typer


def xylo_config(
    spec: Annotated[
        Path, typer.Argument(help="The .npz specification written by `nirhub convert --to xylo`.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The configuration (.json).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT.")] = False,
) -> None:
    """Turn a Xylo specification (.npz) into the chip configuration (.json).

    Needs SynSense's real samna (the PyPI samna is a stub and is never imported).
    """
    from nirhub_xylo.artifact import read_spec, write_config

    data, meta = read_spec(spec)
    write_config(data, meta, output, force=force)
