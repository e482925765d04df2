"""Option types shared by several commands, defined once (as in huggingface_hub's ``hf``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Json = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout instead of text."),
]
Force = Annotated[
    bool,
    typer.Option("--force", "-f", help="Overwrite output files that already exist."),
]
OutputPath = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Where to write the result.", metavar="PATH", show_default=False
    ),
]
Dt = Annotated[
    float | None,
    typer.Option(
        "--dt",
        help="Time step in seconds (overrides the one recorded in the model).",
        metavar="SECONDS",
        show_default=False,
    ),
]
KeyValues = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-O",
        metavar="KEY=VALUE",
        help="Backend option KEY=VALUE (repeatable; see `nirhub list-backends --json`).",
        show_default=False,
    ),
]
