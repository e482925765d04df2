"""The registry: entry-point discovery, lazy loading, broken plugins, requirements, clashes."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest
from _hubplugins import backend_module, forget_modules, write_distribution

from nirhub.errors import BackendUnavailableError, ExitCode
from nirhub.hub.descriptor import BackendDescriptor, Requirement
from nirhub.hub.registry import make_registry
from nirhub.hub.requirements import (
    check_requirement,
    compare_versions,
    python_satisfies,
    version_key,
)
from nirhub.testing.fixtures import nirhub_config  # noqa: F401 - fixture

_counter = itertools.count()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nirhub_config):  # noqa: F811
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.name.endswith(".dist-info"):
            forget_modules(entry.name)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}_{id(object())}"


def test_lazy_loading_imports_only_the_requested_plugin(site: Path) -> None:
    a, b = unique("plug_a"), unique("plug_b")
    write_distribution(
        site,
        "nirhub-alpha",
        entry_points={"alpha": f"{a}.plugin"},
        modules={f"{a}.__init__": "", f"{a}.plugin": backend_module("alpha")},
    )
    write_distribution(
        site,
        "nirhub-beta",
        entry_points={"beta": f"{b}.plugin"},
        modules={f"{b}.__init__": "", f"{b}.plugin": backend_module("beta")},
    )
    registry = make_registry(environments=False)
    backend = registry.get("alpha")
    assert backend.descriptor.name == "alpha"
    assert f"{a}.plugin" in sys.modules
    assert f"{b}.plugin" not in sys.modules, "asking for alpha imported beta's plugin"
    rows = {r.name: r for r in registry.statuses()}
    assert f"{b}.plugin" in sys.modules
    assert rows["alpha"].distribution == "nirhub-alpha"
    assert rows["beta"].status == "ok" and rows["beta"].location == "local"
    assert rows["nir"].distribution == "nirhub"
    assert registry.names()[0] == "nir", "built-ins come first"
    json.dumps([r.to_json() for r in rows.values()])


def test_alias_lookup_loads_all_and_finds_it(site: Path) -> None:
    a = unique("plug_alias")
    write_distribution(
        site,
        "nirhub-gamma",
        entry_points={"gamma": f"{a}"},
        modules={a: backend_module("gamma", aliases=("gam",))},
    )
    registry = make_registry(environments=False)
    assert registry.get("gam").descriptor.name == "gamma"
    assert registry.descriptor("gam").name == "gamma"


def test_broken_plugin_is_listed_not_fatal(site: Path) -> None:
    bad, good = unique("plug_bad"), unique("plug_good")
    write_distribution(
        site,
        "nirhub-bad",
        entry_points={"bad": bad},
        modules={bad: "import this_module_does_not_exist_xyz\n"},
    )
    write_distribution(
        site, "nirhub-good", entry_points={"good": good}, modules={good: backend_module("good")}
    )
    registry = make_registry(environments=False)
    rows = {r.name: r for r in registry.statuses()}
    assert rows["good"].status == "ok"
    bad_row = rows["bad"]
    assert bad_row.status == "broken"
    assert "ModuleNotFoundError" in bad_row.reason and "this_module_does_not_exist_xyz" in (
        bad_row.reason
    )
    assert bad_row.distribution == "nirhub-bad"
    assert "nirhub-bad" in bad_row.install_hint and "--no-plugins" in bad_row.install_hint
    with pytest.raises(BackendUnavailableError) as info:
        registry.get("bad")
    assert "this_module_does_not_exist_xyz" in str(info.value)
    assert info.value.exit_code == ExitCode.BACKEND_UNAVAILABLE


def test_plugin_raising_at_import_or_in_hook_is_broken(site: Path) -> None:
    boom, hook, wrong = unique("plug_boom"), unique("plug_hook"), unique("plug_wrong")
    write_distribution(
        site,
        "nirhub-boom",
        entry_points={"boom": boom},
        modules={boom: "raise RuntimeError('kaput at import')\n"},
    )
    write_distribution(
        site,
        "nirhub-hook",
        entry_points={"hooky": hook},
        modules={
            hook: """
        from nirhub.hub.hookspecs import hookimpl

        @hookimpl
        def nirhub_backends():
            raise ValueError("the hook failed")
    """
        },
    )
    write_distribution(
        site,
        "nirhub-wrong",
        entry_points={"wrong": wrong},
        modules={
            wrong: """
        from nirhub.hub.hookspecs import hookimpl

        @hookimpl
        def nirhub_backends():
            return [object]
    """
        },
    )
    typo = unique("plug_typo")
    write_distribution(
        site,
        "nirhub-typo",
        entry_points={"typo": typo},
        modules={typo: backend_module("typo").replace("def nirhub_backends", "def nirhub_backend")},
    )
    registry = make_registry(environments=False)
    rows = {r.name: r for r in registry.statuses()}
    assert rows["typo"].status == "broken" and "nirhub_backend" in rows["typo"].reason
    assert rows["boom"].status == "broken" and "kaput at import" in rows["boom"].reason
    assert rows["hooky"].status == "broken" and "the hook failed" in rows["hooky"].reason
    assert rows["wrong"].status == "broken" and "not a nirhub Backend" in rows["wrong"].reason


def test_entry_point_name_must_match_a_backend(site: Path) -> None:
    m = unique("plug_mismatch")
    write_distribution(
        site, "nirhub-mismatch", entry_points={"expected": m}, modules={m: backend_module("actual")}
    )
    registry = make_registry(environments=False)
    rows = {r.name: r for r in registry.statuses()}
    assert rows["actual"].status == "ok"
    assert rows["expected"].status == "broken"
    assert "provides no backend named 'expected'" in rows["expected"].reason
    assert "actual" in rows["expected"].reason


def test_missing_framework_is_reported_with_install_command(site: Path) -> None:
    m = unique("plug_missing")
    write_distribution(
        site,
        "nirhub-needy",
        entry_points={"needy": m},
        modules={
            m: backend_module("needy", requires='(Requirement("no-such-framework-xyz", "2.0"),)')
        },
    )
    registry = make_registry(environments=False)
    row = registry.status("needy")
    assert row.status == "missing-dependency"
    assert "no-such-framework-xyz>=2.0 is not installed" in row.reason
    assert row.install_hint == 'pip install "no-such-framework-xyz>=2.0"'
    assert row.descriptor is not None  # the descriptor is still readable
    with pytest.raises(BackendUnavailableError, match='pip install "no-such-framework-xyz'):
        registry.get("needy")
    assert registry.descriptor("needy").name == "needy"


def test_version_bounds_come_from_metadata(site: Path) -> None:
    import numpy

    m = unique("plug_bounds")
    write_distribution(
        site,
        "nirhub-old",
        entry_points={"old": m},
        modules={m: backend_module("old", requires='(Requirement("numpy", below_version="1.0"),)')},
    )
    registry = make_registry(environments=False)
    row = registry.status("old")
    assert row.status == "missing-dependency"
    assert f"numpy {numpy.__version__} is installed" in row.reason
    assert row.version == numpy.__version__


def test_name_clashes_are_reported_all_at_once(site: Path) -> None:
    one, two, three, four = (unique(p) for p in ("clash_one", "clash_two", "clash_3", "clash_4"))
    write_distribution(
        site,
        "nirhub-one",
        entry_points={"dup": one},
        modules={one: backend_module("dup", aliases=("shared",))},
    )
    write_distribution(
        site, "nirhub-two", entry_points={"dup": two}, modules={two: backend_module("dup")}
    )
    write_distribution(
        site,
        "nirhub-three",
        entry_points={"other": three},
        modules={three: backend_module("other", aliases=("shared",))},
    )
    write_distribution(
        site, "nirhub-four", entry_points={"nir": four}, modules={four: backend_module("nir")}
    )
    registry = make_registry(environments=False)
    clashes = registry.clashes()
    text = "\n".join(clashes)
    assert len(clashes) == 3, clashes
    assert "'dup'" in text and "nirhub-one" in text and "nirhub-two" in text
    assert "'shared'" in text and "nirhub-three" in text
    assert "'nir'" in text and "nirhub-four" in text and "built-in one is used" in text
    with pytest.raises(BackendUnavailableError, match="several plugins"):
        registry.get("dup")
    assert registry.get("nir").descriptor.summary.startswith("NIR graph files")
    with pytest.raises(BackendUnavailableError, match="unknown backend 'shared'"):
        registry.get("shared")
    dup_rows = [r for r in registry.statuses() if r.name == "dup"]
    assert {r.status for r in dup_rows} == {"broken"} and len(dup_rows) == 2


def test_no_plugins_and_allow_list(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = unique("plug_env_a"), unique("plug_env_b")
    write_distribution(
        site, "nirhub-delta", entry_points={"delta": a}, modules={a: backend_module("delta")}
    )
    write_distribution(
        site, "nirhub-eps", entry_points={"eps": b}, modules={b: backend_module("eps")}
    )
    monkeypatch.setenv("NIRHUB_NO_PLUGINS", "1")
    registry = make_registry(environments=False)
    assert registry.names() == ["nir"]
    with pytest.raises(BackendUnavailableError, match="plugins are disabled"):
        registry.get("delta")
    monkeypatch.delenv("NIRHUB_NO_PLUGINS")
    monkeypatch.setenv("NIRHUB_PLUGINS", "eps,not-installed")
    registry = make_registry(environments=False)
    assert registry.names() == ["nir", "eps"]
    assert any("not-installed" in w for w in registry.warnings)
    monkeypatch.delenv("NIRHUB_PLUGINS")
    assert make_registry(plugins=["nirhub-delta"], environments=False).names() == ["nir", "delta"]
    assert make_registry(plugins=False, environments=False).names() == ["nir"]
    assert set(make_registry(plugins=True, environments=False).names()) >= {"delta", "eps"}


def test_unknown_backend_suggests(site: Path) -> None:
    registry = make_registry(environments=False)
    with pytest.raises(BackendUnavailableError) as info:
        registry.get("nri")
    message = str(info.value)
    assert "unknown backend 'nri'" in message and "known backends: nir" in message
    assert "Did you mean 'nir'" in message


def test_passes_and_cli_commands_from_plugins(site: Path) -> None:
    m = unique("plug_extras")
    write_distribution(
        site,
        "nirhub-extras",
        entry_points={"extras": m},
        modules={
            m: (
                backend_module("extras")
                + '''
from dataclasses import dataclass

@dataclass(frozen=True)
class Noop:
    name: str = "noop"
    description: str = "does nothing"
    eliminates: frozenset = frozenset()
    produces: frozenset = frozenset()
    targets: frozenset = frozenset({"extras"})

    def run(self, graph):
        return graph, []

def hello():
    """Say hello."""

@hookimpl
def nirhub_passes():
    return [Noop()]

@hookimpl
def nirhub_cli_commands():
    return [("hello", hello)]
'''
            )
        },
    )
    registry = make_registry(environments=False)
    names = [p.name for p in registry.passes()]
    assert names[:4] == ["fold-scale", "linear-to-affine", "affine-to-linear", "inline-subgraphs"]
    assert "noop" in names
    # installed plugins may add their own commands too (nirhub-xylo: xylo-config)
    commands = dict(registry.cli_commands())
    assert "hello" in commands and commands["hello"].__doc__ == "Say hello."
    assert {p["distribution"] for p in registry.plugins()} >= {"nirhub", "nirhub-extras"}


def test_extra_plugin_objects_are_registered() -> None:
    from nirhub.hub.backend import Backend
    from nirhub.hub.hookspecs import hookimpl

    class Tiny(Backend):
        descriptor = BackendDescriptor(
            name="tiny", kind="format", summary="t", from_ir=frozenset({"LIF"})
        )

    class Plugin:
        @hookimpl
        def nirhub_backends(self):
            return [Tiny]

    registry = make_registry(plugins=False, extra=[Plugin()], environments=False)
    assert registry.names() == ["nir", "tiny"]
    assert isinstance(registry.get("tiny"), Tiny)


def test_requirement_checks_without_import() -> None:
    assert version_key("2.13.0+cpu") == ((2, 13), 1)
    assert compare_versions("2.0", "2.0.0") == 0
    assert compare_versions("2.0.0rc1", "2.0") < 0
    assert compare_versions("1.10", "1.9") > 0
    assert check_requirement(Requirement("pluggy", "1.0")).ok
    assert not check_requirement(Requirement("pluggy", "999")).ok
    assert not check_requirement(Requirement("pluggy", below_version="1.0")).ok
    assert check_requirement(Requirement("no-such-dist-abc")).installed is None
    assert python_satisfies(">=3.10,<3.11", (3, 10, 13)) is True
    assert python_satisfies(">=3.10,<3.11", (3, 11, 7)) is False
    assert python_satisfies("") is None


def test_descriptor_json_round_trip() -> None:
    from nirhub.hub.builtin import NirFileBackend

    desc = NirFileBackend.descriptor
    again = BackendDescriptor.from_json(json.loads(json.dumps(desc.to_json())))
    assert again == desc


def test_descriptor_node_types_match_the_ir() -> None:
    from nirhub.hub.descriptor import ALL_NODE_TYPES
    from nirhub.ir.nodes import TYPE_NAMES

    assert set(TYPE_NAMES) == ALL_NODE_TYPES


def test_listing_backends_imports_no_numpy() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from nirhub.hub.registry import make_registry\n"
        "rows = make_registry(plugins=False, environments=False).statuses()\n"
        "assert rows[0].name == 'nir'\n"
        "print('numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the framework's version; versions from folder names ----------------------------------------


def test_the_version_shown_is_the_frameworks_own() -> None:
    import numpy
    import pluggy

    from nirhub.hub.backend import Backend
    from nirhub.hub.hookspecs import hookimpl

    def backend(name: str, **fields) -> type[Backend]:
        class B(Backend):
            descriptor = BackendDescriptor(
                name=name, kind="simulator", summary=name, from_ir=frozenset({"LIF"}), **fields
            )

        return B

    both = (Requirement("numpy"), Requirement("pluggy"))
    classes = [
        backend("pluggy", requires=both),  # named like its second requirement (snntorch's case)
        backend("explicit", requires=both, framework="pluggy"),
        backend("first", requires=both),  # neither: the first requirement
        backend("bare"),
    ]

    class Plugin:
        @hookimpl
        def nirhub_backends(self):
            return classes

    registry = make_registry(plugins=False, extra=[Plugin()], environments=False)
    rows = {r.name: r for r in registry.statuses()}
    assert rows["pluggy"].version == pluggy.__version__ != numpy.__version__
    assert rows["explicit"].version == pluggy.__version__
    assert rows["first"].version == numpy.__version__
    assert rows["bare"].version == "" and rows["nir"].version == ""
    assert classes[0].descriptor.primary_distribution == "pluggy"
    again = BackendDescriptor.from_json(json.loads(json.dumps(classes[1].descriptor.to_json())))
    assert again.framework == "pluggy"


def test_installed_versions_come_from_folder_names(site: Path) -> None:
    from importlib import metadata

    from nirhub.hub.requirements import installed_version, normalize_name

    # agrees with importlib.metadata on every distribution of this environment
    seen = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if normalize_name(name) in seen:
            continue  # importlib.metadata lists shadowed copies too; the first one counts
        seen.add(normalize_name(name))
        assert compare_versions(installed_version(name), metadata.version(name)) == 0, name
    assert len(seen) > 10
    # a distribution appearing in (or leaving) a folder already listed is noticed
    assert installed_version("Late_Comer.pkg") is None
    write_distribution(site, "late-comer-pkg", entry_points={}, modules={}, version="2.5rc1")
    assert installed_version("late.comer_PKG") == "2.5rc1"
    import shutil

    shutil.rmtree(site / "late_comer_pkg-2.5rc1.dist-info")
    assert installed_version("late-comer-pkg") is None


def test_listing_reads_no_metadata_file(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing METADATA (an e-mail message) per plugin and requirement was most of the time of
    `nirhub list-backends`; names and versions come from the folder names."""
    from importlib import metadata

    m = unique("plug_fast")
    write_distribution(
        site,
        "nirhub-fast",
        entry_points={"fast": m},
        modules={m: backend_module("fast", requires='(Requirement("pluggy"),)')},
    )
    pluggy_version = metadata.version("pluggy")
    read: list[str] = []
    original = metadata.PathDistribution.read_text

    def spy(self, filename):
        read.append(filename)
        return original(self, filename)

    monkeypatch.setattr(metadata.PathDistribution, "read_text", spy)
    rows = {r.name: r for r in make_registry(environments=False).statuses()}
    assert rows["fast"].status == "ok" and rows["fast"].distribution == "nirhub-fast"
    assert rows["fast"].version == pluggy_version
    assert "entry_points.txt" in read  # the spy works
    assert not {"METADATA", "PKG-INFO"} & set(read), read


def test_plugin_discovery_is_kept_until_a_folder_changes(site: Path) -> None:
    import os

    from nirhub.hub.discovery import plugin_entry_points
    from nirhub.hub.requirements import installed_version

    def names() -> set[str]:
        return {ep.name for ep in plugin_entry_points()}

    a, b = unique("plug_keep_a"), unique("plug_keep_b")
    write_distribution(site, "nirhub-keep-a", entry_points={"keepa": a}, modules={})
    assert "keepa" in names()
    # written in the same clock tick as the look before: still noticed (the folder is "racy")
    write_distribution(site, "nirhub-keep-b", entry_points={"keepb": b}, modules={})
    assert {"keepa", "keepb"} <= names()
    assert installed_version("nirhub-keep-b") == "1.0"
    # a folder that has settled is not read again while it is unchanged ...
    old = site.stat().st_mtime_ns - 10**10
    os.utime(site, ns=(old, old))
    first = plugin_entry_points()
    assert plugin_entry_points() is first
    # ... and is as soon as something is installed into it
    c = unique("plug_keep_c")
    write_distribution(site, "nirhub-keep-c", entry_points={"keepc": c}, modules={})
    assert "keepc" in names() and installed_version("nirhub-keep-c") == "1.0"
