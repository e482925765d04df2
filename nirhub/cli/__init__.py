"""The ``nirhub`` command (entry point ``nirhub = "nirhub.cli:main"``); see ``docs/cli.md``."""

from __future__ import annotations


def main() -> None:
    """Run the command line; exits with a documented :class:`~nirhub.errors.ExitCode`."""
    from nirhub.cli.app import app

    app(prog_name="nirhub")


__all__ = ["main"]
