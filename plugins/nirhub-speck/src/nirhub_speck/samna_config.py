"""``python -m nirhub_speck.samna_config model.json [--device speck2fmodule:0] -o config.json``

Turns a nirhub-speck artifact (``model.json`` + ``model.npz``) into the samna chip
configuration, on a machine with SynSense's real samna: rebuilds the ``DynapcnnNetwork`` with
the artifact's integers (:func:`nirhub_speck.artifact.rebuild_network`), calls sinabs'
``make_config(layer2core_map=<the artifact's core map>, device=...)`` and writes the
configuration's JSON. UNTESTED on the nirhub CI (samna is not installable there); without the
real samna it stops with a clear message and starts no pip process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nirhub.backend import NirhubError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nirhub_speck.samna_config")
    parser.add_argument("artifact", type=Path, help="the <stem>.json written by nirhub-speck")
    parser.add_argument("-o", "--output", type=Path, required=True, help="configuration file")
    parser.add_argument("--device", help="samna device name (default: the artifact's)")
    parser.add_argument("--force", action="store_true", help="overwrite the output")
    args = parser.parse_args(argv)
    try:
        from nirhub_speck.artifact import rebuild_network, write_samna_config
        from nirhub_speck.samna_guard import real_samna

        if not real_samna():
            raise NirhubError(
                "making the Speck configuration needs SynSense's real samna; pip's samna is a "
                "stub (nirhub never imports it)",
                hint="Install samna from SynSense on this machine, then run this again.",
            )
        net, core_map, device = rebuild_network(args.artifact)
        written = write_samna_config(
            (net, core_map, args.device or device), args.output, force=args.force
        )
    except NirhubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
