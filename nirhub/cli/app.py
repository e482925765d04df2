"""The ``nirhub`` command line.

Every command does three things only: parse its arguments, call **one** function of the Python
API (``nirhub.hub.convert``, ``nirhub.summary``, ``nirhub.validation``, ...), and render the
result or the error through the :class:`~nirhub.cli.output.Output` object. All checks and all
work happen in the API, so the command line and Python behave the same.

Start-up time matters (``nirhub --help`` must stay far below ``import torch``): the API modules,
numpy and the plugins are imported inside the commands, never at module level here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from nirhub.cli.options import (
    Dt,
    Force,
    Json,
    KeyValues,
    Method,
    OutputPath,
    Reset,
    SourceBackend,
    Tolerant,
    TrustPickle,
    Weights,
)
from nirhub.cli.output import Output
from nirhub.errors import ExitCode, UsageError

_NO_PLUGINS_META = "nirhub.no_plugins"


class State:
    """Per-invocation state shared by the root callback and the commands (``ctx.obj``)."""

    def __init__(self, out: Output, *, no_plugins: bool) -> None:
        self.out = out
        self.no_plugins = no_plugins
        self._registry: Any = None

    def registry(self) -> Any:
        """The backend registry: the process default, or built-ins only with --no-plugins."""
        if self._registry is None:
            from nirhub.hub.registry import default_registry, make_registry

            self._registry = make_registry(plugins=False) if self.no_plugins else default_registry()
        return self._registry

    def registry_warnings(self) -> None:
        if self._registry is None:
            return
        for text in dict.fromkeys(getattr(self._registry, "warnings", [])):
            self.out.warning(text)


def _is_control_flow(exc: BaseException) -> bool:
    """click/typer exceptions (usage errors, exit, abort) and broken pipes pass through."""
    module = type(exc).__module__ or ""
    return module.split(".")[0] in ("click", "typer") or isinstance(exc, BrokenPipeError)


class _PassThrough:
    """Coercion of the ``--help`` flag's value (None or True), which needs none."""

    def coerce(self, value: Any, param: Any = None, ctx: Any = None) -> Any:
        return value


class _CheapHelp:
    """typer >= 0.27 coerces every parameter through a pydantic TypeAdapter, built on first
    use; for ``--help`` (value None when not given) that imports pydantic on *every* run,
    about 0.1 s of ``nirhub list-backends``. The help flag needs no coercion, so it gets a
    pass-through (only where typer has that lazy slot; other typer versions are untouched)."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and getattr(option, "_runtime_param", "absent") is None:
            option._runtime_param = _PassThrough()
        return option


def _argument_label(param: Any) -> str:
    """``MODEL`` (``NAME...`` for several): the metavar alone, as in the usage line."""
    name = param.metavar or (param.name or "").upper()
    if param.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name


class _PlainMetavars:
    """Help in the form of ``docs/cli.md``: ``Usage: nirhub convert [OPTIONS] MODEL`` and
    ``MODEL  help``, not typer's ``{MODEL}`` and ``MODEL <str>`` (typer >= 0.27); options
    show the metavars given where they are declared (``--to BACKEND``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []  # type: ignore[attr-defined]
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if param.param_type_name != "argument" or getattr(param, "hidden", False):
                continue
            label = _argument_label(param)
            pieces.append(label if param.required else f"[{label}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                args.append((_argument_label(param), record[1]))
            elif param.metavar is None and re.search(r" <[^>]*>$", record[0]):
                # an option declared without a metavar (a plugin's): its name, not its type
                name = re.sub(r" <[^>]*>$", " " + (param.name or "value").upper(), record[0])
                opts.append((name, record[1]))
            else:
                opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


class NirhubCommand(_PlainMetavars, _CheapHelp, TyperCommand):
    """A sub-command (see :class:`_PlainMetavars` and :class:`_CheapHelp`)."""


class EnvGroup(_CheapHelp, TyperGroup):
    """The ``env`` sub-group (see :class:`_CheapHelp`)."""


class NirhubGroup(_CheapHelp, TyperGroup):
    """The root command group: turns exceptions into messages + exit codes and adds plugin
    commands (hook ``nirhub_cli_commands``) when they are first needed."""

    #: how far plugin commands were collected: 0 not yet, 1 from plugins already imported,
    #: 2 after importing every plugin
    _plugin_commands_level = 0
    _from_plugins: dict[str, Any]

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            from nirhub.errors import Terminated

            if isinstance(exc, Terminated):  # SIGTERM: the shell's convention is 128 + 15
                sys.stderr.write("terminated\n")
                raise typer.Exit(143) from None
            sys.stderr.write("interrupted\n")
            raise typer.Exit(130) from None
        except Exception as exc:
            if _is_control_flow(exc):
                raise
            raise typer.Exit(_report(ctx, exc)) from None

    # -- plugin commands --------------------------------------------------------------------
    def _load_plugin_commands(self, ctx: Any, *, import_plugins: bool = True) -> None:
        """Add plugin commands. ``import_plugins=False`` (``--help``) imports no plugin: only
        plugins this process already holds contribute (a plugin that hangs or exits at
        import cannot break ``nirhub --help``); running a command nirhub does not know
        imports every plugin to look for it."""
        level = 2 if import_plugins else 1
        if self._plugin_commands_level >= level:
            return
        self._plugin_commands_level = level
        if not hasattr(self, "_from_plugins"):
            self._from_plugins = {}
        if _plugins_disabled(ctx):
            return
        if import_plugins and not _plugin_commands_possible():
            return  # the built-in plugins add no commands: no need to load the registry
        if not import_plugins and "nirhub.hub.registry" not in sys.modules:
            return  # no registry in this process: no plugin is imported yet
        from nirhub.hub.registry import default_registry

        out = _output(ctx)
        try:
            contributed = default_registry().cli_commands(loaded_only=not import_plugins)
        except Exception as exc:  # listing plugin commands must never break `nirhub --help`
            out.warning(f"plugin commands are unavailable: {type(exc).__name__}: {exc}")
            return
        for name, obj in contributed:
            if name in self.commands and self.commands[name] is self._from_plugins.get(name):
                continue
            if name in self.commands:
                out.warning(f"a plugin command named {name!r} clashes with a nirhub command")
                continue
            try:
                self.commands[name] = self._from_plugins[name] = _as_click_command(name, obj)
            except Exception as exc:  # a broken plugin must not break the hub
                out.warning(f"plugin command {name!r} could not be added: {exc}")

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        declared = _declared_commands(ctx) if cmd is None else {}
        if cmd_name in declared:
            return declared[cmd_name]  # listed by `--help`: nothing imported
        if cmd is None:
            self._load_plugin_commands(ctx)
            cmd = super().get_command(ctx, cmd_name)
        return cmd

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if isinstance(cmd, DeclaredCommand):  # to run it, its plugin must be imported
            self._load_plugin_commands(ctx)
            real = super().get_command(ctx, name) if name else None
            if real is None:
                raise UsageError(
                    f"the command {name!r} is declared by {cmd.distribution} but its plugin "
                    "did not provide it",
                    hint="Run `nirhub list-backends` to see why the plugin is broken, or "
                    f"reinstall {cmd.distribution}.",
                )
            cmd = real
        return name, cmd, rest

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_plugin_commands(ctx, import_plugins=False)
        declared = [n for n in _declared_commands(ctx) if n not in self.commands]
        return [*self.commands, *declared]


#: the entry-point group in which a plugin distribution names its commands (metadata only, so
#: ``nirhub --help`` lists them without importing the plugin); the commands themselves come
#: from the plugin's ``nirhub_cli_commands`` hook, imported when one is run
COMMANDS_GROUP = "nirhub.commands"


class DeclaredCommand(NirhubCommand):
    """A plugin command known from its distribution's metadata, not imported yet: what
    ``nirhub --help`` lists. Running it swaps in the real command (``resolve_command``)."""

    def __init__(self, name: str, distribution: str) -> None:
        super().__init__(
            name,
            help=f"From the plugin {distribution} (see `nirhub {name} --help`).",
            add_help_option=False,
        )
        self.distribution = distribution


def _declared_commands(ctx: Any) -> dict[str, DeclaredCommand]:
    """Commands named in the ``nirhub.commands`` entry points of installed plugins (none with
    ``--no-plugins``); names that are not valid command names are passed over."""
    if _plugins_disabled(ctx):
        return {}
    from nirhub.hub.discovery import plugin_entry_points

    out: dict[str, DeclaredCommand] = {}
    for entry in plugin_entry_points(COMMANDS_GROUP):
        name = str(entry.name)
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,40}", name):
            continue
        dist = str(getattr(getattr(entry, "dist", None), "name", None) or "")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}", dist):
            dist = "an installed plugin"
        out.setdefault(name, DeclaredCommand(name, dist))
    return out


#: the entry-point group of plugins (``nirhub.hub.hookspecs.ENTRY_POINT_GROUP``, which imports
#: pluggy; a test keeps the two equal)
ENTRY_POINT_GROUP = "nirhub.backends"


def _plugin_commands_possible() -> bool:
    """Can a plugin add commands? Only if a plugin distribution is installed (read from package
    metadata, nothing imported) or a registry was already built in this process (tests, or a
    program embedding the CLI). Otherwise `nirhub --help` need not load the registry."""
    if "nirhub.hub.registry" in sys.modules:
        return True
    from nirhub.hub.discovery import plugin_entry_points  # kept for the registry's own look

    return bool(plugin_entry_points(ENTRY_POINT_GROUP))


def _plugins_disabled(ctx: Any) -> bool:
    import os

    root = ctx.find_root()
    if root.meta.get(_NO_PLUGINS_META) or root.params.get("no_plugins"):
        return True
    return os.environ.get("NIRHUB_NO_PLUGINS", "").strip() not in ("", "0", "false", "no")


def _as_click_command(name: str, obj: Any) -> Any:
    if isinstance(obj, typer.Typer):
        command = typer.main.get_command(obj)
    elif hasattr(obj, "invoke") and hasattr(obj, "make_context"):  # already a click command
        command = obj
    elif callable(obj):
        single = typer.Typer(
            add_completion=False,
            rich_markup_mode=None,
            pretty_exceptions_enable=False,
            context_settings={"help_option_names": ["-h", "--help"]},
        )
        single.command(name, cls=NirhubCommand)(obj)
        command = typer.main.get_command(single)
    else:
        raise TypeError(f"expected a typer.Typer or a function, got {type(obj).__name__}")
    _full_short_help(command)
    return command


def _full_short_help(command: Any) -> None:
    """List a plugin command in ``nirhub --help`` by its whole first line (click would cut
    it at 45 characters with "...", as it does not for nirhub's own short first lines)."""
    if getattr(command, "short_help", None) or not getattr(command, "help", None):
        return
    first = command.help.strip().split("\n\n", 1)[0]
    command.short_help = " ".join(first.split())


def _output(ctx: Any) -> Output:
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, State):
        return obj.out
    return Output()


def _report(ctx: Any, exc: BaseException) -> int:
    """Print an exception the way the Output object decides; return the exit code."""
    return _output(ctx).error(exc)


app = typer.Typer(
    cls=NirhubGroup,
    name="nirhub",
    help=(
        "Move spiking neural networks between simulators and neuromorphic chips through "
        "the Neuromorphic Intermediate Representation (NIR)."
    ),
    epilog="Exit codes: 0 ok, 1 check failed, 2 usage, 3 invalid input, 4 unsupported, "
    "5 backend unavailable, 6 refused, 70 internal error. Docs: docs/cli.md",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --------------------------------------------------------------------------------------------
# global options
# --------------------------------------------------------------------------------------------


def _no_plugins_callback(ctx: typer.Context, value: bool) -> bool:
    if value:
        ctx.meta[_NO_PLUGINS_META] = True
    return value


def _version_callback(ctx: typer.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    out = Output()
    try:
        from nirhub.cli import render
        from nirhub.hub.registry import make_registry

        disabled = _plugins_disabled(ctx)
        registry = make_registry(plugins=False if disabled else None, environments=False)
        # from the installed metadata: a plugin that hangs or exits at import cannot stop it
        render.version(out, registry.plugins(load=False), disabled=disabled)
    except Exception as exc:
        raise typer.Exit(out.error(exc)) from None
    raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Show nirhub's version and the installed plugins, then exit.",
            callback=_version_callback,
            is_eager=True,
        ),
    ] = False,
    no_plugins: Annotated[
        bool,
        typer.Option(
            "--no-plugins",
            help="Use only the built-in backends (for when a plugin misbehaves).",
            callback=_no_plugins_callback,
            is_eager=True,
        ),
    ] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the full traceback of errors.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only results and errors.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print more details.")] = False,
) -> None:
    """Move spiking neural networks between simulators and neuromorphic chips through NIR."""
    out = Output(quiet=quiet, verbose=int(verbose), show_traceback=traceback)
    ctx.obj = State(out, no_plugins=no_plugins)


def _state(ctx: typer.Context, json_mode: bool = False) -> State:
    state = ctx.find_root().obj
    if not isinstance(state, State):  # pragma: no cover - the callback always runs first
        state = State(Output(), no_plugins=False)
        ctx.find_root().obj = state
    state.out.json_mode = json_mode
    return state


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------


@app.command("list-backends", cls=NirhubCommand)
def list_backends(
    ctx: typer.Context,
    json_: Json = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Ask every worker environment again instead of using the cached answers.",
        ),
    ] = False,
) -> None:
    """List the backends and whether each can be used.

    One row per backend: its kind, the directions it converts (to-ir: export a framework model
    to NIR; from-ir: import NIR), its status (ok, missing dependency with the install command,
    broken with the reason), the framework version, the distribution providing it, and where
    it runs (local, or a worker environment). What worker environments provide is cached until
    something is installed in them (see `nirhub env refresh`).
    """
    state = _state(ctx, json_)
    from nirhub.cli import render

    registry = state.registry()
    if refresh:
        registry.refresh_environments()
    rows = registry.statuses()  # = nirhub.backends(); skips importing the converter
    state.out.result(
        lambda: {"backends": [row.to_json() for row in rows]},
        lambda: render.backends(state.out, rows),
    )
    for clash in state.registry().clashes():
        state.out.warning(clash)
    state.registry_warnings()


@app.command("convert", cls=NirhubCommand)
def convert(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="Model to convert: a .nir file, a framework file, or a Python reference "
            "path/to/file.py:name or package.module:name.",
            metavar="MODEL",
            show_default=False,
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            "-t",
            help="Target backend (see `nirhub list-backends`).",
            metavar="BACKEND",
            show_default=False,
        ),
    ],
    from_: SourceBackend = None,
    output: OutputPath = None,
    dt: Dt = None,
    method: Method = None,
    reset: Reset = None,
    option: KeyValues = None,
    force: Force = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", "-n", help="Check that the conversion is possible; write nothing."
        ),
    ] = False,
    json_: Json = False,
    weights: Weights = None,
    trust_pickle: TrustPickle = False,
    tolerant: Tolerant = False,
) -> None:
    """Convert a model to another backend.

    The model is exported to the NIR graph, checked against everything the target can express
    (every node it cannot is listed, not only the first), imported into the target and saved
    atomically. Nothing is overwritten without --force; --dry-run only checks.
    """
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.hub.convert import convert as convert_model

    with state.out.progress(f"Converting {source} to {to}"):
        report = convert_model(
            source,
            to=to,
            from_=from_,
            output=output,
            dt=dt,
            method=method,
            reset=reset,
            options=parse_key_values(option),
            force=force,
            dry_run=dry_run,
            weights=weights,
            trust_pickle=trust_pickle,
            registry=state.registry(),
            tolerant=tolerant,
        )
    state.out.result(report.to_json, lambda: render.conversion(state.out, report))
    if not state.out.json_mode:
        target = state.registry().status(report.target_backend).descriptor
        hardware = target is not None and target.kind == "hardware"
        render.conversion_messages(state.out, report, show_report=hardware)
    state.registry_warnings()
    if report.problems:
        raise typer.Exit(int(ExitCode.UNSUPPORTED))


@app.command("inspect", cls=NirhubCommand)
def inspect(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="The .nir file to show.", metavar="FILE", show_default=False)
    ],
    json_: Json = False,
) -> None:
    """Show a graph's nodes, shapes and parameters.

    A tree of the nodes (nested graphs included) with their input and output shapes, neuron
    and synapse counts, and each parameter's dtype, shape, min/max/mean; then the edges and
    the metadata. The file is read tolerantly: repairs are reported as warnings.
    """
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.summary import summarize

    summary = summarize(source)
    state.out.result(summary.to_json, lambda: render.summary(state.out, summary))


@app.command("validate", cls=NirhubCommand)
def validate(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="The .nir file to check.", metavar="FILE", show_default=False)
    ],
    tolerant: Annotated[
        bool,
        typer.Option(
            "--tolerant",
            help="Accept the known defects of real files that a tolerant read repairs "
            "(each repair is listed).",
        ),
    ] = False,
    json_: Json = False,
) -> None:
    """Check a .nir file; list every problem.

    Exits 0 when the file is valid and 1 when it is not, listing every problem at once (with
    what --tolerant reading would do about each).
    """
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.validation import validate_file

    report = validate_file(source, tolerant=tolerant)
    state.out.result(report.to_json, lambda: render.validation(state.out, report))
    if not report.valid:
        raise typer.Exit(1)


@app.command("simulate", cls=NirhubCommand)
def simulate(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="The model to run: a .nir file, or any source `nirhub convert` accepts.",
            metavar="MODEL",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the results (.npz).",
            metavar="PATH",
            show_default=False,
        ),
    ],
    input_: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="Input spikes/currents: .npy (one Input node) or .npz (one array per Input "
            "node), time first.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    dt: Dt = None,
    method: Method = None,
    reset: Reset = None,
    record: Annotated[
        list[str] | None,
        typer.Option(
            "--record",
            "-r",
            help="Also record the state of this node (repeatable): NODE.spikes, NODE.v, NODE.I.",
            metavar="NODE",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            "-b",
            help="Run in this backend instead of nirhub's reference simulator.",
            metavar="BACKEND",
            show_default=False,
        ),
    ] = None,
    option: KeyValues = None,
    tolerant: Tolerant = False,
    force: Force = False,
    json_: Json = False,
    from_: SourceBackend = None,
    weights: Weights = None,
    trust_pickle: TrustPickle = False,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps",
            help="Run a graph without Input nodes (driven by its biases alone) for T steps.",
            metavar="T",
            show_default=False,
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            help="Threads of the reference simulator (default 1). 2 or more: a graph without "
            "loops runs as a pipeline over chunks, each stage's matrix products on one BLAS "
            "thread (results those of a one-BLAS-thread run; see docs/simulator.md).",
            metavar="N",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a graph and save its outputs (.npz).

    The .npz holds one array per Output node (by name, time first) and NODE.spikes, NODE.v and
    NODE.I for every node given with --record. The reference simulator runs unless --backend
    names a backend that can run graphs.
    """
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.hub.simulation import simulate_file

    with state.out.progress(f"Simulating {source}"):
        run = simulate_file(
            source,
            input_,
            output=output,
            dt=dt,
            method=method,
            reset=reset,
            record=tuple(record or ()),
            backend=backend,
            options=parse_key_values(option),
            force=force,
            tolerant=tolerant,
            registry=state.registry() if backend else None,
            source_backend=from_,
            weights=weights,
            trust_pickle=trust_pickle,
            steps=steps,
            threads=threads,
        )
    state.out.result(run.to_json, lambda: render.simulation(state.out, run))


@app.command("verify", cls=NirhubCommand)
def verify(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="The model: a .nir file, or any source `nirhub convert` accepts.",
            metavar="MODEL",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Report folder (report.json, report.html, per-sample results; rerun to resume).",
            metavar="REPORT_DIR",
            show_default=False,
        ),
    ],
    input_: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="One sample: .npy (one Input node) or .npz (one array per Input node), "
            "time first.",
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            help="A test set: .npz with x (N, T, ...) and optional y (N,), or a folder of .npy "
            "samples with labels.npy|labels.txt|labels.csv. Streamed sample by sample.",
            show_default=False,
            metavar="DATA",
        ),
    ] = None,
    backends: Annotated[
        str | None,
        typer.Option(
            "--backends",
            "-b",
            help="Comma-separated backends (default: every installed backend that can run graphs).",
            show_default=False,
            metavar="LIST",
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every installed backend that can run graphs.")
    ] = False,
    dt: Dt = None,
    method: Method = None,
    reset: Reset = None,
    record: Annotated[
        list[str] | None,
        typer.Option(
            "--record",
            "-r",
            help="Also compare the spikes (and voltages) of this node (repeatable).",
            show_default=False,
            metavar="NODE",
        ),
    ] = None,
    option: KeyValues = None,
    min_similarity: Annotated[
        list[str] | None,
        typer.Option(
            "--min-similarity",
            help="Fail (exit 1) below this activity similarity: S for every backend or "
            "BACKEND=S (repeatable). Default: 0.99 for simulators, the documented figure "
            "for hardware (docs/verify.md).",
            show_default=False,
            metavar="S|BACKEND=S",
        ),
    ] = None,
    labels_from_output: Annotated[
        bool,
        typer.Option(
            "--labels-from-output",
            help="Take the reference simulator's predictions as the labels.",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", "-j", help="Local processes (default: the cores).", min=1, metavar="N"
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Run the samples on a Dask cluster: tcp://host:port (pip install 'nirhub[dask]').",
            show_default=False,
            metavar="ADDRESS",
        ),
    ] = None,
    sample: Annotated[
        int, typer.Option("--raster-sample", help="The sample drawn in the raster plots.")
    ] = 0,
    html: Annotated[
        bool | None,
        typer.Option(
            "--html/--no-html",
            help="Write report.html (needs matplotlib: pip install 'nirhub[report]'). "
            "Default: when matplotlib is installed.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", "-f", help="Start over when REPORT_DIR holds a run of other settings."
        ),
    ] = False,
    json_: Json = False,
    from_: SourceBackend = None,
    weights: Weights = None,
    trust_pickle: TrustPickle = False,
    tolerant: Tolerant = False,
) -> None:
    """Check each backend against the reference simulator.

    Proves that a conversion still does its job. Runs the model on nirhub's reference
    simulator and on every backend named (default: all installed that can run graphs; a
    backend that refuses the graph is listed with its reason), on one sample or a whole test
    set, and compares per backend and layer: activity similarity, differing spikes,
    spike-count ratio, latency, voltage r, accuracy. Writes REPORT_DIR/report.json and
    report.html; exits 1 when a backend falls under its minimum similarity or fails on a
    sample (a CI gate).
    """
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.hub.verify import verify as verify_model

    if backends is not None and all_:
        raise UsageError("give --backends or --all, not both")
    names = None if all_ or backends is None else [n.strip() for n in backends.split(",") if n]
    with render.verify_progress(state.out, f"Verifying {source}") as progress:
        report = verify_model(
            source,
            output_dir=output,
            input=input_,
            dataset=dataset,
            backends=names,
            dt=dt,
            method=method,
            reset=reset,
            record=tuple(record or ()),
            options=parse_key_values(option),
            min_similarity=parse_thresholds(min_similarity),
            labels_from_output=labels_from_output,
            workers=workers,
            scheduler=scheduler,
            raster_sample=sample,
            html=html,
            force=force,
            from_=from_,
            weights=weights,
            trust_pickle=trust_pickle,
            tolerant=tolerant,
            registry=state.registry(),
            on_progress=progress,
        )
    state.out.result(report.to_json, lambda: render.verification(state.out, report))
    state.registry_warnings()
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def parse_thresholds(items: list[str] | None) -> float | dict[str, float] | None:
    """``["0.95"]`` -> 0.95; ``["xylo=0.9", "norse=0.99"]`` -> a dict (parsing only)."""
    if not items:
        return None
    out: dict[str, float] = {}
    single: float | None = None
    for item in items:
        key, sep, value = item.rpartition("=") if "=" in item else ("", "", item)
        try:
            number = float(value)
        except ValueError:
            raise UsageError(
                f"--min-similarity {item!r} is not a number or BACKEND=NUMBER"
            ) from None
        if not 0.0 <= number <= 1.0:
            raise UsageError(f"--min-similarity {item!r}: a similarity is between 0 and 1")
        if sep:
            out[key.strip()] = number
        else:
            single = number
    if single is not None and out:
        raise UsageError("give --min-similarity S once, or BACKEND=S for each backend")
    return single if single is not None else out


# --------------------------------------------------------------------------------------------
# env: backends in other Python environments
# --------------------------------------------------------------------------------------------

env_app = typer.Typer(
    cls=EnvGroup,
    name="env",
    help="Manage environments for backends that need another Python.\n\n"
    "A worker environment is a Python interpreter with nirhub and some plugins installed; "
    "nirhub runs the backends it provides there (for a framework that needs another Python "
    "version or conflicting dependencies).",
    no_args_is_help=True,
)
app.add_typer(env_app, name="env")


@env_app.command("list", cls=NirhubCommand)
def env_list(ctx: typer.Context, json_: Json = False) -> None:
    """List the configured environments."""
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.hub.envconfig import environments

    envs = list(environments().values())
    state.out.result(
        lambda: {"environments": [render.environment_json(e) for e in envs]},
        lambda: render.environments(state.out, envs),
    )


@env_app.command("add", cls=NirhubCommand)
def env_add(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="A name for the environment.", metavar="NAME", show_default=False)
    ],
    python: Annotated[
        Path,
        typer.Argument(
            help="Its Python interpreter (nirhub and the plugins must be installed in it).",
            metavar="PYTHON",
            show_default=False,
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Replace an environment of the same name.")
    ] = False,
    json_: Json = False,
) -> None:
    """Register an existing Python environment that has nirhub and some plugins installed."""
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.hub.workers import add_environment

    env = add_environment(name, python, force=force)
    state.out.result(
        lambda: render.environment_json(env), lambda: render.environment_added(state.out, env)
    )


@env_app.command("create", cls=NirhubCommand)
def env_create(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="A name for the environment.", metavar="NAME", show_default=False)
    ],
    python: Annotated[
        str,
        typer.Option(
            "--python",
            help="Python version (3.10) or interpreter path to create the environment with.",
            metavar="VERSION",
            show_default=False,
        ),
    ],
    plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--plugin",
            "-p",
            help="Plugin to install into it: a distribution name or a local path (repeatable).",
            metavar="PLUGIN",
            show_default=False,
        ),
    ] = None,
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            help="Folder for the new environment (default: NIRHUB_ENVS_DIR/NAME).",
            metavar="DIR",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", "-f", help="Replace an environment (and its folder) of the same name."
        ),
    ] = False,
    json_: Json = False,
) -> None:
    """Create a virtual environment with nirhub and the given plugins, and register it."""
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.hub.workers import create_environment

    with state.out.progress(f"Creating environment {name} (Python {python})"):
        env = create_environment(name, python, plugins=list(plugin or ()), path=path, force=force)
    state.out.result(
        lambda: render.environment_json(env), lambda: render.environment_added(state.out, env)
    )


@env_app.command("refresh", cls=NirhubCommand)
def env_refresh(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="The environments to ask (default: all).", metavar="NAME", show_default=False
        ),
    ] = None,
    json_: Json = False,
) -> None:
    """Ask environments again which backends they provide (updates the cache).

    `nirhub list-backends` caches what each environment provides until something is installed
    in it; refresh after editing a plugin installed there in editable mode.
    """
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.hub.workers import refresh_environments

    with state.out.progress("Asking the worker environments"):
        found = refresh_environments(tuple(names or ()))
    state.out.result(
        lambda: {
            "environments": [
                {"name": name, "backends": [row.to_json() for row in rows]}
                for name, rows in found.items()
            ]
        },
        lambda: render.refreshed(state.out, found),
    )


@env_app.command("remove", cls=NirhubCommand)
def env_remove(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="The environment to forget.", metavar="NAME", show_default=False)
    ],
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the folder of an environment nirhub created."),
    ] = False,
    json_: Json = False,
) -> None:
    """Forget an environment; delete its folder if `nirhub env create` made it."""
    state = _state(ctx, json_)
    from nirhub.cli import render
    from nirhub.hub.workers import remove_environment

    env = remove_environment(name, delete=not keep)

    def human() -> None:
        state.out.info(f"removed environment {name}")
        if env.extra.get("deleted"):
            state.out.info(f"deleted its folder {env.path}")
        elif env.extra.get("kept"):
            state.out.warning(
                f"kept its folder {env.path}: {env.extra['kept']}; delete it yourself if you "
                "no longer need it"
            )

    state.out.result(lambda: {"removed": render.environment_json(env)}, human)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def parse_key_values(items: list[str] | None) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}`` (argument parsing, not validation)."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"backend option {item!r} is not KEY=VALUE",
                hint="Example: -O nir-version=1.0.4 (`nirhub list-backends --json` lists each "
                "backend's options).",
            )
        out[key.strip()] = value
    return out
