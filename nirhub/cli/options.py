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
#: ``--from``: the backend of a model source (``convert``, ``simulate``, ``verify``)
SourceBackend = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Backend of the model source, when it cannot be detected from the file or object.",
        metavar="BACKEND",
    ),
]
#: ``--weights``: a state dict for a Python model reference
Weights = Annotated[
    Path | None,
    typer.Option(
        "--weights",
        help="State dict (.pt) to load into a Python model reference.",
        metavar="FILE",
    ),
]
#: ``--trust-pickle``: the one way a whole-module .pt may run code
TrustPickle = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        help="Allow a whole-module .pt file to run code while loading (only for files you trust).",
    ),
]
#: ``--tolerant`` for a model source (``validate`` has its own: it reports, not repairs)
Tolerant = Annotated[
    bool,
    typer.Option(
        "--tolerant",
        help="Read a damaged .nir file anyway, repairing its known defects (with warnings).",
    ),
]
