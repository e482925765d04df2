"""Generate ``docs/support-table.md``: backend x primitive, both directions, from the descriptors.

    python tools/support_table.py            # rewrite docs/support-table.md
    python tools/support_table.py --check    # exit 1 if the committed file is stale

The table is never written by hand. It covers the built-in backends and every plugin kept in
the repository (``plugins/<name>/``, except folders starting with ``_`` such as the template),
whose modules are imported straight from their source folders, so the result does not depend
on what happens to be installed. Importing a plugin module never imports its framework, so this
runs anywhere nirhub does.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nirhub.hub.descriptor import BackendDescriptor
from nirhub.hub.hookspecs import ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "docs" / "support-table.md"
#: rows, in the order of the NIR specification (Input/Output are accepted by every backend)
ORDER: tuple[str, ...] = (
    "Affine",
    "Linear",
    "Scale",
    "Conv1d",
    "Conv2d",
    "SumPool2d",
    "AvgPool2d",
    "Flatten",
    "Delay",
    "Threshold",
    "I",
    "IF",
    "LI",
    "LIF",
    "CubaLI",
    "CubaLIF",
    "NIRGraph",
)


class TableError(Exception):
    """A plugin in the repository cannot be read, so the table cannot be generated."""


def repo_plugins(root: Path = ROOT) -> list[tuple[str, str, Path]]:
    """``(distribution folder, plugin module, source folder)`` for each plugin in ``plugins/``."""
    out = []
    for folder in sorted((root / "plugins").glob("*")):
        pyproject = folder / "pyproject.toml"
        if folder.name.startswith(("_", ".")) or not pyproject.is_file():
            continue
        src = folder / "src" if (folder / "src").is_dir() else folder
        for module in sorted(set(_entry_points(pyproject.read_text(encoding="utf-8")).values())):
            out.append((folder.name, module, src))
    return out


def _entry_points(text: str) -> dict[str, str]:
    """The ``nirhub.backends`` entry points of a pyproject.toml (no TOML parser on 3.10)."""
    header = re.compile(
        r'^\[project\.entry-points\.["\']?' + re.escape(ENTRY_POINT_GROUP) + r'["\']?\]\s*$'
    )
    found: dict[str, str] = {}
    inside = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            inside = bool(header.match(line))
            continue
        m = re.match(r'^["\']?([\w.-]+)["\']?\s*=\s*["\']([\w.:]+)["\']$', line)
        if inside and m:
            found[m.group(1)] = m.group(2).split(":")[0]
    return found


def collect(root: Path = ROOT) -> list[tuple[BackendDescriptor, str]]:
    """Every descriptor to show, with the distribution folder it comes from."""
    from nirhub.hub.registry import make_registry

    plugins: list[Any] = []
    origin: dict[int, str] = {}
    for folder, module, src in repo_plugins(root):
        if str(src) not in sys.path:
            sys.path.insert(0, str(src))
        try:
            mod = importlib.import_module(module)
        except Exception as exc:
            raise TableError(
                f"plugins/{folder}: cannot import its plugin module {module} "
                f"({type(exc).__name__}: {exc})"
            ) from None
        plugins.append(mod)
        origin[id(mod)] = folder
    registry = make_registry(plugins=False, extra=plugins, environments=False)
    rows = []
    for status in registry.statuses():
        if status.descriptor is None:
            raise TableError(f"plugin {status.plugin} is broken: {status.reason}")
        rows.append(
            (
                status.descriptor,
                "nirhub"
                if status.distribution == "nirhub"
                else _folder_of(status.plugin, plugins, origin),
            )
        )
    return rows


def _folder_of(module: str, plugins: Sequence[Any], origin: dict[int, str]) -> str:
    for mod in plugins:
        if getattr(mod, "__name__", None) == module:
            return origin[id(mod)]
    return module


def _via_rewrite(type_name: str, desc: BackendDescriptor, passes: Sequence[Any]) -> str | None:
    """The pass that makes ``type_name`` importable into ``desc``'s backend, if one does."""
    from nirhub.hub.convert import check_legality
    from nirhub.passes import legalize
    from nirhub.testing.graphs import primitive_graph

    if not desc.from_ir:
        return None
    graph = primitive_graph(type_name)
    legal, applied, _ = legalize(graph, desc, passes)
    if applied and not check_legality(legal, desc):
        return ", ".join(applied)
    return None


def render(rows: list[tuple[BackendDescriptor, str]]) -> str:
    from nirhub.passes import builtin_passes

    passes = builtin_passes()
    names = [d.name for d, _ in rows]
    lines = [
        "# Backend support table",
        "",
        "<!-- Generated by `python tools/support_table.py` from the backend descriptors."
        " Do not edit by hand. -->",
        "",
        "Which NIR primitives each backend can export (framework → NIR) and import (NIR →"
        " framework), as declared in its descriptor. `Input` and `Output` are accepted by every"
        " backend. The hub checks a conversion against these declarations before it starts and"
        " reports every unsupported node at once (`nirhub convert --dry-run`).",
        "",
        "Legend: ✓ supported · (✓) imported after an exact rewrite (see the footnotes) · –"
        " not supported.",
        "",
        "## Backends",
        "",
        "| backend | kind | summary | directions | reads | writes | runs | requires |"
        " distribution |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d, dist in rows:
        requires = ", ".join(f"`{r}`" for r in d.requires) or "–"
        if d.python:
            requires += f" (Python {d.python})"
        lines.append(
            f"| `{d.name}` | {d.kind} | {d.summary} | {', '.join(d.directions) or '–'} | "
            f"{' '.join(d.reads) or '–'} | {' '.join(d.writes) or '–'} | "
            f"{'yes' if d.can_run else 'no'} | {requires} | {dist} |"
        )
    footnotes: dict[str, int] = {}
    for title, attr in (
        ("Export (framework → NIR)", "to_ir"),
        ("Import (NIR → framework)", "from_ir"),
    ):
        lines += [
            "",
            f"## {title}",
            "",
            "| primitive | " + " | ".join(f"`{n}`" for n in names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for t in ORDER:
            cells = []
            for d, _ in rows:
                if t in getattr(d, attr):
                    cells.append("✓")
                    continue
                via = _via_rewrite(t, d, passes) if attr == "from_ir" else None
                if via:
                    n = footnotes.setdefault(via, len(footnotes) + 1)
                    cells.append(f"(✓)<sup>{n}</sup>")
                else:
                    cells.append("–")
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
    if footnotes:
        lines += [""]
        for via, n in footnotes.items():
            lines.append(f"<sup>{n}</sup> via the exact rewrite `{via}`.  ")
    limits = [(d.name, item) for d, _ in rows for item in d.limitations]
    if limits:
        lines += ["", "## Limitations", ""]
        lines += [f"- `{name}`: {item}" for name, item in limits]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/support_table.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--output", "-o", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="repository whose plugins/ folder to read (default: this one)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the file differs from the descriptors",
    )
    args = parser.parse_args(argv)
    try:
        text = render(collect(args.root))
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(
                f"{args.output} is out of date; run python tools/support_table.py",
                file=sys.stderr,
            )
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(f".{args.output.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
