"""Which package may import which: the core has no arrows up, components use each other only through the
modules they offer, and production runs nothing from the demo package.

Read from the source with `ast`, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CORE = {"enclave", "policies"}
COMPONENTS = {"egress_review", "datasets_mount", "governance", "jobs", "packages", "activity", "hub", "imports"}
ENTRY_POINTS = {"enclave_ops", "enclave_demo"}
# What a component offers the others (anything else in it is its own business). Each entry says who uses it.
OFFERED = {
    "egress_review.scan": "jobs checks a job's outputs with the export checker",
    "egress_review.owndata": "jobs looks for the project's own rows in a job's outputs",
    "egress_review.scopes": "the hub's configuration grants the export service's scopes",
    "jobs.scopes": "the hub's configuration grants the jobs service's scope to workspace tokens",
    "packages.scopes": "the hub's configuration grants the package service's scope to workspace tokens",
    "activity.scopes": "the hub's configuration grants the code recorder's scope to workspace tokens",
    "activity.records": "governance shows auditors the executed-code record (the query `enclave audit code` runs)",
    "activity.i18n": "governance's executed-code page says it in the reader's language",
    "datasets_mount.mounts": "the spawner's plan mounts the project's approved datasets",
    "imports.pages": "the governance service mounts the import airlock's pages",
    "packages.rules": "the governance pages ask who may request, see and decide package requests",
    "packages.workflow": "the governance pages request, approve and refuse packages as the CLI does",
    "packages.models": "the governance pages and notifier read package requests and their states",
    "packages.i18n": "the governance pages show package refusals in zh-CN",
}


def imports_of(package: str, root: Path = ROOT) -> list[tuple[Path, int, str]]:
    """Every module a package's source imports, with the file and line that import it."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found += [(path, node.lineno, node.module)]
                found += [(path, node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def offered(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in OFFERED)


@pytest.mark.parametrize("package", sorted(CORE))
def test_the_core_imports_no_component_and_no_entry_point(package: str) -> None:
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {m}" for p, line, m in imports_of(package)
             if top(m) in COMPONENTS | ENTRY_POINTS]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(COMPONENTS))
def test_a_component_uses_another_only_through_what_it_offers(package: str) -> None:
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {m}" for p, line, m in imports_of(package)
             if top(m) in COMPONENTS - {package} and not offered(m) and not offered(m.rsplit(".", 1)[0])]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(CORE | COMPONENTS))
def test_nothing_below_the_entry_points_imports_them(package: str) -> None:
    wrong = [f"{p.relative_to(ROOT)}:{line} imports {m}" for p, line, m in imports_of(package)
             if top(m) in ENTRY_POINTS]
    assert not wrong, "\n".join(wrong)


def test_what_operators_run_uses_the_demo_package_only_for_the_demo_commands() -> None:
    users = {(p.relative_to(ROOT).as_posix(), m) for p, _line, m in imports_of("enclave_ops")
             if top(m) == "enclave_demo"}
    assert users == {("enclave_ops/cli.py", "enclave_demo.commands"),
                     ("enclave_ops/cli.py", "enclave_demo.commands.COMMANDS")}


def test_every_offered_module_exists_and_is_used() -> None:
    used = {m for pkg in COMPONENTS for _p, _l, m in imports_of(pkg)}
    for module in OFFERED:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
        assert any(u == module or u.startswith(module + ".") for u in used), f"{module} is offered but unused"


def test_the_production_units_start_nothing_from_the_demo_package() -> None:
    """The systemd units and configuration the playbooks install name no demo module and no demo IdP (the hub
    configuration they load is a component: the rules above keep its imports clear)."""
    templates = sorted((ROOT / "ansible").rglob("*.j2"))
    assert templates
    for path in templates:
        text = path.read_text(encoding="utf-8")
        assert "enclave_demo" not in text, path
        assert not re.search(r"-m\s+enclave_demo|enclave\s+up\b", text), path
    units = [p.name for p in (ROOT / "ansible").rglob("*.service.j2")]
    assert units and not [u for u in units if "idp" in u], units


def test_the_rule_notices_an_upward_import(tmp_path: Path) -> None:
    """The scanner itself: an upward import placed in a core module, even inside a function, is found."""
    (tmp_path / "enclave").mkdir()
    (tmp_path / "enclave" / "x.py").write_text("def f():\n    from egress_review.workflow import submit\n")
    assert [m for _p, _l, m in imports_of("enclave", tmp_path) if top(m) in COMPONENTS] == [
        "egress_review.workflow", "egress_review.workflow.submit"]


# Where things live, spelled once (enclave/settings.py): anything else names them by their constant.
SPELLED_ONCE = {
    r"org\.enclave\.[a-z-]+": "a container or network label",
    r"[\"']/(?:workspace|data)(?:/|[\"'])": "a mount point inside a container",
}
# The workspace-side client runs inside the container with nothing of the enclave installed beside it.
OWN_COPY = {"egress_review/client.py"}


@pytest.mark.parametrize("pattern", sorted(SPELLED_ONCE))
def test_labels_and_mount_points_are_spelled_only_in_settings(pattern: str) -> None:
    wrong = []
    for package in sorted(CORE | COMPONENTS | ENTRY_POINTS):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in {"enclave/settings.py"} | OWN_COPY:
                continue
            wrong += [f"{rel}: {m.group(0)} ({SPELLED_ONCE[pattern]})"
                      for m in re.finditer(pattern, path.read_text(encoding="utf-8"))]
    assert not wrong, "\n".join(wrong)


def test_the_units_python_never_imports_from_its_working_directory() -> None:
    """`python -m` puts the working directory first on sys.path; the hub's is the state directory, where a
    restored backup puts a `policies/` folder (it shadowed the policies package and the hub did not start)
    and where nothing should ever be importable by a root process. Every unit starts Python with -P."""
    starts = [(p.name, line) for p in sorted((ROOT / "ansible").rglob("*.service.j2"))
              for line in p.read_text(encoding="utf-8").splitlines()
              if line.startswith(("ExecStart=", "ExecStartPre=")) and re.search(r"/python3?\s", line)]
    assert len(starts) >= 3, starts
    assert all(re.search(r"/python3? -P ", line) for _name, line in starts), starts
