"""Approved Python packages in a real workspace: pip installs them from the enclave's own index, asks for the rest.

A whole enclave of its own (its policies a copy, so approving writes no file of the repository), whose
allow-list holds one small wheel built here (`tinystat`, with its hash) and whose wheelhouse holds it: no PyPI.
Proves, from inside real workspace containers: an approved package installs and imports; another ends with the
command that asks for it; `enclave-packages request` makes a request that a steward's approval (with its checks:
the wheel fetched and checked into the wheelhouse) makes installable without restarting the index or the
workspace; the index answers a project's network at its gateway and nothing else; and what is installed is on the
project's disk, there after a restart and for the project's other members.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from enclave.db import session_scope
from enclave.settings import REPO_ROOT
from enclave_demo.data import DEMO_PROJECT
from enclave_demo.harness import Enclave, HubSession, instance
from hub.network import network_name
from packages import workflow
from policies import load_policies
from tests.tiny_wheel import write_wheel

PORTS = {"ENCLAVE_PUBLIC_PORT": "48000", "ENCLAVE_HUB_API_PORT": "48081", "ENCLAVE_IDP_PORT": "49000",
         "ENCLAVE_PROXY_API_PORT": "48001", "ENCLAVE_EGRESS_PORT": "48082", "ENCLAVE_GOVERNANCE_PORT": "48083",
         "ENCLAVE_JOBS_PORT": "48084", "ENCLAVE_PACKAGES_PORT": "48085",
         "ENCLAVE_ACTIVITY_PORT": "48086"}
FRANK = {"username": "frank", "name": "Frank Wu 吴凡", "groups": ["researcher"], "password": "frank-it-pw"}
STEWARD = "carol"  # a package steward in this enclave's packages.yaml
PROJECT_PYTHON = "/workspace/.enclave/python/bin/python"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enclave]:
    home: Path = tmp_path_factory.mktemp("enclave-packages")
    policy_dir = home.parent / f"{home.name}-policies"
    shutil.copytree(REPO_ROOT / "policies", policy_dir)
    wheel = write_wheel(home.parent / f"{home.name}-built", "tinystat", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (policy_dir / "packages.yaml").write_text(
        f"python:\n  tinystat: {{version: \"1.0\", sha256: [{digest}]}}\nrefused_names: [evilpkg]\n"
        f"top_names: [requests]\nstewards: [{STEWARD}]\n")

    def setup(settings: Any, _policies: Any) -> None:
        from enclave.projects import add_member, upsert_user

        settings.wheelhouse_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(wheel, settings.wheelhouse_dir / wheel.name)  # as `enclave packages build` leaves it
        with session_scope() as s:
            upsert_user(s, "test", "frank", display_name=FRANK["name"], roles=FRANK["groups"])
            add_member(s, "test", DEMO_PROJECT, "frank")

    saved = os.environ.get("ENCLAVE_POLICY_DIR")
    os.environ["ENCLAVE_POLICY_DIR"] = str(policy_dir)  # instance() takes it, and restores the rest
    try:
        with instance(home, name="enclavepkg", ports=PORTS, setup=setup, extra_users=[FRANK],
                      job_runner=False) as e:
            yield e
    finally:
        if saved is None:
            os.environ.pop("ENCLAVE_POLICY_DIR", None)
        else:
            os.environ["ENCLAVE_POLICY_DIR"] = saved


@pytest.fixture(scope="module")
def alice(site: Enclave) -> Iterator[HubSession]:
    session = site.login("alice")
    r = session.start(DEMO_PROJECT)
    assert r.status_code in (201, 202), r.text
    yield session
    session.stop()


def sh(site: Enclave, user: str, argv: list[str]) -> tuple[int, str, str]:
    """A command in the user's workspace as its own user, with the environment the hub gave the container."""
    res = site.container(user).exec_run(argv, demux=True, workdir="/workspace")
    out, err = res.output
    return res.exit_code, (out or b"").decode(), (err or b"").decode()


def imports(site: Enclave, user: str, module: str) -> str:
    code, out, err = sh(site, user, [PROJECT_PYTHON, "-c", f"import {module}; print({module}.VALUE)"])
    assert code == 0, err
    return out.strip()


def test_an_approved_package_installs_from_the_enclave_index_into_the_project_environment(site: Enclave, alice):
    code, out, err = sh(site, "alice", ["pip", "install", "tinystat"])
    assert code == 0, out + err
    assert "Successfully installed tinystat-1.0" in out
    assert imports(site, "alice", "tinystat") == "1.0"
    # the project's kernel runs that environment
    code, out, err = sh(site, "alice", ["jupyter", "kernelspec", "list", "--json"])
    assert code == 0, err
    spec = json.loads(out)["kernelspecs"]["project-python"]["spec"]
    assert spec["argv"][0] == PROJECT_PYTHON and spec["display_name"] == "Python (project packages)"
    # ...and the image's own "Python 3" kernel (IPython with the image's configuration) imports it too
    code, out, err = sh(site, "alice", ["ipython", "-c", "import tinystat; print(tinystat.VALUE)"])
    assert (code, out.strip().splitlines()[-1:]) == (0, ["1.0"]), out + err


def test_the_default_health_data_set_is_there_out_of_the_box(site: Enclave, alice):
    """pandas, scipy, statsmodels, lifelines, seaborn and tableone import in a fresh workspace, with nothing
    installed: they are in the image, at the allow-list's versions."""
    script = ("import pandas, scipy, statsmodels, lifelines, seaborn, tableone\n"
              "from lifelines import KaplanMeierFitter\n"
              "df = pandas.DataFrame({'t': [5, 6, 6, 2, 4, 4], 'e': [1, 0, 0, 1, 1, 1]})\n"
              "km = KaplanMeierFitter().fit(df.t, df.e)\n"
              "print(pandas.__version__, round(float(km.median_survival_time_), 1))")
    code, out, err = sh(site, "alice", ["python", "-c", script])
    assert code == 0, err
    assert out.split() == ["2.2.3", "5.0"]  # S(4) = 5/6 · 3/5 = 0.5 exactly; below it first at 5


def test_a_package_not_on_the_allow_list_ends_with_the_command_that_asks_for_it(site: Enclave, alice):
    code, out, err = sh(site, "alice", ["pip", "install", "tinyplot"])
    assert code != 0 and "Traceback" not in out + err
    assert 'enclave-packages request tinyplot --reason "what it is for in this project"' in err
    assert err.rstrip().endswith("enclave-packages list")


def test_a_request_from_the_workspace_once_approved_installs_without_any_restart(site: Enclave, alice,
                                                                                 tmp_path: Path):
    code, out, err = sh(site, "alice", ["enclave-packages", "--json", "request", "tinyplot==0.3", "--reason",
                                        "figures for the paper"])
    assert code == 0, out + err
    asked = json.loads(out)
    assert (asked["project"], asked["requester"], asked["state"]) == (DEMO_PROJECT, "alice", "requested")
    container_before = site.container("alice").id
    # the steward approves: the package joins the allow-list, its wheel is fetched (here from a local folder, no
    # PyPI) and checked into the wheelhouse by packages.wheelhouse
    write_wheel(tmp_path / "upstream", "tinyplot", "0.3")
    settings = site.settings
    with session_scope() as s:
        req = workflow.approve(s, settings, load_policies(settings.policy_dir).packages, STEWARD, asked["id"],
                               "fine", index_args=["--no-index", "--find-links", str(tmp_path / "upstream")])
        assert req.fetch == "ok", req.fetch
    code, out, err = sh(site, "alice", ["pip", "install", "tinyplot"])
    assert code == 0, out + err
    assert imports(site, "alice", "tinyplot") == "0.3"
    assert site.container("alice").id == container_before  # the same workspace, never restarted
    code, out, err = sh(site, "alice", ["enclave-packages", "list"])
    assert code == 0 and "pip install tinyplot==0.3" in out, out + err


CONNECT = r"""
import errno, json, socket, sys
out = {}
for host in json.loads(sys.argv[1]):
    s = socket.socket(); s.settimeout(5)
    try:
        s.connect((host, int(sys.argv[2]))); out[host] = "connected"
    except OSError as e:
        out[host] = errno.errorcode.get(e.errno, type(e).__name__) if e.errno else type(e).__name__
    finally:
        s.close()
print(json.dumps(out))
"""


def test_the_index_answers_a_project_network_at_its_gateway_and_no_other_network(site: Enclave, alice):
    client = docker.from_env()
    port = site.settings.packages_port
    project_gw = client.networks.get(network_name(site.settings.instance, DEMO_PROJECT)).attrs["IPAM"]["Config"][0][
        "Gateway"]
    code, out, err = sh(site, "alice", ["python", "-c", CONNECT, json.dumps([project_gw]), str(port)])
    assert code == 0 and json.loads(out) == {project_gw: "connected"}, out + err
    net = client.networks.create(f"enclavepkg-outsider-{uuid.uuid4().hex[:6]}", driver="bridge")
    try:
        net.reload()
        outsider_gw = net.attrs["IPAM"]["Config"][0]["Gateway"]
        raw = client.containers.run(site.settings.image, ["python", "-c", CONNECT,
                                                          json.dumps([outsider_gw, project_gw]), str(port)],
                                    network=net.name, remove=True, user="1000:1000", stderr=True)
        got = json.loads(raw.decode().strip().splitlines()[-1])
    finally:
        net.remove()
    assert set(got.values()) <= {"ECONNREFUSED", "EHOSTUNREACH", "ETIMEDOUT", "timeout"}, got


def test_installed_packages_stay_after_a_restart_and_are_there_for_the_other_members(site: Enclave, alice):
    code, out, err = sh(site, "alice", ["pip", "install", "tinystat"])  # whatever ran before: installed now
    assert code == 0, out + err
    alice.stop()
    r = alice.start(DEMO_PROJECT)
    assert r.status_code in (201, 202), r.text
    assert imports(site, "alice", "tinystat") == "1.0"
    frank = site.login("frank", lang="zh-CN")
    r = frank.start(DEMO_PROJECT)
    assert r.status_code in (201, 202), r.text
    try:
        assert imports(site, "frank", "tinystat") == "1.0"
        code, out, err = sh(site, "frank", ["jupyter", "kernelspec", "list", "--json"])
        assert json.loads(out)["kernelspecs"]["project-python"]["spec"]["display_name"] == "Python（项目软件包）"
    finally:
        frank.stop()

