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
#: ``--method``: the same flag for ``convert`` and ``simulate`` (``-O method=`` is the same option)
Method = Annotated[
    str | None,
    typer.Option(
        "--method",
        help="Discretisation of the neuron equations: euler or exact (default: the one "
        "recorded in the model, else euler).",
        metavar="METHOD",
    ),
]
#: ``--reset``: the same flag for ``convert`` and ``simulate`` (``-O reset=`` is the same option)
Reset = Annotated[
    str | None,
    typer.Option(
        "--reset",
        help="Reset mode of every spiking node: zero, subtract, ... (docs/simulator.md). "
        "Default: the mode recorded in the file, else zero.",
        metavar="MODE",
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
