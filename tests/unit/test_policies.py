"""Policy files are validated; a wrong file is rejected with file, key and problem named."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from enclave.settings import REPO_ROOT
from policies import PolicyError, load_policies


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    d = tmp_path / "policies"
    d.mkdir()
    for f in (REPO_ROOT / "policies").glob("*.yaml"):
        shutil.copy(f, d / f.name)
    return d


def test_shipped_policies_are_valid():
    p = load_policies(REPO_ROOT / "policies")
    assert p.workspace.defaults.mem_limit == "2G"
    assert p.datasets.tiers[4].allowed_in_workspaces is False


def test_unknown_key_is_named(policy_dir: Path):
    f = policy_dir / "workspace.yaml"
    f.write_text(f.read_text() + "idle_timout_seconds: 5\n")
    with pytest.raises(PolicyError) as err:
        load_policies(policy_dir)
    assert "workspace.yaml" in str(err.value) and "idle_timout_seconds" in str(err.value)


def test_bad_value_is_named(policy_dir: Path):
    f = policy_dir / "workspace.yaml"
    f.write_text(f.read_text().replace("mem_limit: 2G", "mem_limit: lots"))
    with pytest.raises(PolicyError) as err:
        load_policies(policy_dir)
    msg = str(err.value)
    assert "defaults.mem_limit" in msg and "lots" in msg


def test_default_above_maximum_is_rejected(policy_dir: Path):
    f = policy_dir / "workspace.yaml"
    f.write_text(f.read_text().replace("cpu_limit: 1.0", "cpu_limit: 4.0"))
    with pytest.raises(PolicyError, match="defaults.cpu_limit is above maximum"):
        load_policies(policy_dir)


def test_broken_yaml_and_unknown_file(policy_dir: Path):
    (policy_dir / "datasets.yaml").write_text("tiers: [unclosed\n")
    with pytest.raises(PolicyError, match="datasets.yaml: not valid YAML"):
        load_policies(policy_dir)
    shutil.copy(REPO_ROOT / "policies" / "datasets.yaml", policy_dir / "datasets.yaml")
    (policy_dir / "egres.yaml").write_text("a: 1\n")
    with pytest.raises(PolicyError, match="egres.yaml: unknown policy file"):
        load_policies(policy_dir)


def test_missing_file(policy_dir: Path):
    (policy_dir / "datasets.yaml").unlink()
    with pytest.raises(PolicyError, match="missing policy file.*datasets.yaml"):
        load_policies(policy_dir)


def test_project_limits_within_maximum():
    p = load_policies(REPO_ROOT / "policies")
    assert p.limits_for(None, None, None) == p.workspace.defaults
    assert p.limits_for(2.0, "4G", 100).mem_limit == "4G"
    with pytest.raises(PolicyError, match="mem_limit 64G is above the maximum"):
        p.limits_for(None, "64G", None)


def test_hub_refuses_to_start_with_a_bad_policy(policy_dir: Path, tmp_path: Path):
    import os
    import subprocess
    import sys

    (policy_dir / "workspace.yaml").write_text("defaults: {cpu_limit: -1}\n")
    home = tmp_path / "h"
    home.mkdir()
    env = dict(os.environ, ENCLAVE_POLICY_DIR=str(policy_dir), ENCLAVE_HOME=str(home))
    proc = subprocess.run([sys.executable, "-m", "jupyterhub", "-f", str(REPO_ROOT / "hub" / "jupyterhub_config.py"),
                           ], cwd=home, env=env, capture_output=True, text=True,
                          timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "workspace.yaml" in out and "defaults.cpu_limit" in out


def test_an_accreditation_levels_chinese_name_must_be_chinese(policy_dir: Path):
    f = policy_dir / "governance.yaml"
    f.write_text(f.read_text().replace("name_zh: 标准", "name_zh: standard"))
    with pytest.raises(PolicyError) as err:
        load_policies(policy_dir)
    assert "governance.yaml" in str(err.value) and "name_zh" in str(err.value)


def test_a_level_without_a_chinese_name_shows_its_name_as_it_is(policy_dir: Path):
    f = policy_dir / "governance.yaml"
    f.write_text(f.read_text().replace(" name_zh: 标准,", ""))
    levels = load_policies(policy_dir).governance.levels
    assert (levels[2].name_in("zh-CN"), levels[2].name_in("en")) == ("standard", "standard")
    assert (levels[3].name_in("zh-CN"), levels[3].name_in("en")) == ("高级", "advanced")


def test_the_r_list_takes_only_debian_r_package_names_once(policy_dir: Path):
    """packages.yaml's `r:` is what build.sh hands apt-get: any other Debian package (a tool, a daemon) is
    refused by name, and so is a package listed twice."""
    f = policy_dir / "packages.yaml"
    shipped = f.read_text()
    assert load_policies(policy_dir).packages.r  # the image's starter set is on the list
    for bad, named in (("[r-cran-survival, netcat-openbsd]", "netcat-openbsd"), ("[R-CRAN-Survival]", "R-CRAN"),
                       ("[r-cran-survival, r-cran-survival]", "listed more than once")):
        f.write_text(re.sub(r"(?m)^r: \[.*\]$", f"r: {bad}", shipped))
        with pytest.raises(PolicyError) as err:
            load_policies(policy_dir)
        assert "packages.yaml" in str(err.value) and named in str(err.value), str(err.value)


def test_approving_a_python_package_keeps_the_r_list(policy_dir: Path):
    """The allow-list writer of `enclave packages approve` rewrites only the python: block."""
    from packages.wheelhouse import update_allow_list
    from policies.schema import PinnedPackage

    f = policy_dir / "packages.yaml"
    before = load_policies(policy_dir).packages.r
    updated = update_allow_list(f, {"tqdm": PinnedPackage(version="4.67.1")})
    assert "tqdm" in updated.python and updated.r == before == load_policies(policy_dir).packages.r


def test_the_images_default_set_carries_the_allow_lists_pins():
    """The health-data default set is in the workspace image (out of the box) at the very versions the package
    allow-list approves, so pip in a project never sees two versions of one of them."""
    allowed = load_policies(REPO_ROOT / "policies").packages.python
    pinned = dict(line.split("==", 1) for line in
                  (REPO_ROOT / "images" / "workspace" / "requirements.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    for name in ("pandas", "scipy", "statsmodels", "lifelines", "seaborn", "tableone"):
        assert pinned[name] == allowed[name].version, name
