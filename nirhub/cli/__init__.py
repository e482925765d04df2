"""The ``nirhub`` command (entry point ``nirhub = "nirhub.cli:main"``); see ``docs/cli.md``."""

from __future__ import annotations


def main() -> None:
    """Run the command line; exits with a documented :class:`~nirhub.errors.ExitCode`."""
    import signal

    from nirhub.cli.app import app

    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="nirhub")


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM: unwind like Ctrl-C (temporary outputs are removed), then exit 143."""
    from nirhub.errors import Terminated

    raise Terminated()


__all__ = ["main"]
