"""The production path: a Debian host booted by systemd, the enclave installed into it by the Ansible playbooks
(ansible/inventory/production.yml's layout), its units running under that systemd.

What is real: systemd as PID 1 of the host container (enclave-prodhost, scripts/prod_host_image.sh), the units
Ansible templates (proxy, hub, egress-review, the daily jobs' timers), Debian's PostgreSQL for the enclave's
and the hub's databases, a Docker engine inside the host running the workspaces, HTTPS on the site's own name
(`enclave.test`, not 127.0.0.1) with a CA this test makes, and a third-party OIDC provider (npm `oidc-provider`,
scripts/oidc_test_provider.mjs, on `idp.test` over HTTPS) that the enclave knows only by its issuer URL.
Chromium reaches both names through --host-resolver-rules and trusts only certificates chained to the test CA.

The compromises: the host container is privileged (its Docker engine and loop-mounted project filesystems need
it); it shares the test machine's checkout, Python and Node.js read-only (bind mounts at the same paths, as
`enclave_repo` on a real host is a checkout there), so the playbooks' software step (scripts/setup.sh) is off
(enclave_install_software: false; test_ansible.py runs it); the workspace image is loaded into its engine.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Browser, Page, expect, sync_playwright

from enclave.settings import INSTANCE_LABEL, PROJECT_LABEL, REPO_ROOT

STATE = Path(os.environ.get("ENCLAVE_PROD_IT_STATE", "/tmp/enclave-prod-it"))
RUN = STATE / "run"  # made afresh by every run; STATE/docker (the inner engine's images) is kept
CONTAINER = NETWORK = "enclaveprod"
IMAGE = "enclave-prodhost:latest"
HOST_SUBNET, HOST_GATEWAY = "10.213.7.0/24", "10.213.7.1"
SITE, IDP = "enclave.test", "idp.test"
IDP_PORT = 39443
ISSUER = f"https://{IDP}:{IDP_PORT}"
SITE_URL = f"https://{SITE}"
PROJECT = "prod-study"
NOTE = "site override 50-site.py loaded"
ACCOUNTS = {
    "dave": {"name": "Dave Zhou 周大伟", "institution": "Test Hospital", "groups": ["researcher"],
             "email": "dave@hospital.test"},
    "olga": {"name": "Olga Operator", "institution": "Test Hospital", "groups": ["admin"],
             "email": "olga@hospital.test"},
}
CHROMIUM = "/usr/bin/chromium"
# The host shares this machine's checkout, virtualenv, Python and Node.js at the paths they have here, wherever
# the checkout is (CI's is not where a developer's is): the venv's scripts name their interpreter by absolute path
REPO = str(REPO_ROOT)
VENV = f"{REPO}/.venv"
PYTHON_PREFIX = str(Path(VENV, "bin", "python3").resolve().parent.parent)
NODE = os.path.realpath(shutil.which("node") or "/usr/bin/node")
NODE_MODULES = "/usr/lib/node_modules"


def _shared_mounts() -> list[str]:
    """Bind mounts of the checkout, Python and Node.js at their own paths; a Python or Node.js under /usr is
    the image's own Debian one (mounting /usr over the host's would replace its system)."""
    mounts = [REPO, NODE] + ([PYTHON_PREFIX] if not PYTHON_PREFIX.startswith("/usr") else [])
    mounts += [NODE_MODULES] if Path(NODE_MODULES).is_dir() else []
    return [a for m in mounts for a in ("-v", f"{m}:{m}:ro")]


# every long-running unit the playbook installs (the wipe must stop them all: a running one writes into the state)
UNITS = ["enclave-proxy", "enclave-egress-review", "enclave-governance", "enclave-jobs", "enclave-packages",
         "enclave-activity", "enclave-hub", "enclave-job-runner"]


def sh(*cmd: str, ok: bool = True, timeout: float = 600, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run(list(cmd), capture_output=True, timeout=timeout, input=stdin)
    if ok and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {res.returncode}\n{res.stdout.decode()[-4000:]}"
                             f"\n{res.stderr.decode()[-4000:]}")
    return res


def on_host(*cmd: str, **kw) -> str:
    """A command on the production host (inside its container), as root; its stdout."""
    return sh("docker", "exec", CONTAINER, *cmd, **kw).stdout.decode()


def enclave_cli(*args: str) -> object:
    """The enclave CLI on the host, with the environment the units get from /etc/enclave/enclave.env."""
    out = on_host("sh", "-c", "set -a && . /etc/enclave/enclave.env && set +a && "
                  f"ENCLAVE_ACTOR=test {VENV}/bin/enclave {' '.join(args)} --json")
    return json.loads(out)


# --- a test CA and the two sites' certificates --------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(dest: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("Enclave production-test CA"))
            .issuer_name(_name("Enclave production-test CA")).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    (dest / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def issue(dest: Path, hostname: str, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> None:
    """hostname.pem (certificate then the CA: the chain the server presents) and hostname.key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(hostname)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (dest / f"{hostname}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                                           + ca.public_bytes(serialization.Encoding.PEM))
    (dest / f"{hostname}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))


def spki_hash(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


# --- the host ---------------------------------------------------------------------------------------------

def _inventory(client_secret_file: str) -> dict:
    """ansible/inventory/production.yml with this test's names, ports and CA (JSON is YAML)."""
    return {"all": {"children": {"enclave_hosts": {
        "hosts": {"localhost": {"ansible_connection": "local",
                                "ansible_python_interpreter": f"{VENV}/bin/python"}},
        "vars": {
            "enclave_repo": REPO, "enclave_home": "/var/lib/enclave", "enclave_config_dir": "/etc/enclave",
            "enclave_build_cache": "/srv/enclave-test/build",
            # the checkout is this machine's, read-only: its software was installed by scripts/setup.sh here
            # (the playbooks' software step is tests/integration/test_ansible.py's)
            "enclave_install_software": False,
            "enclave_backup_dir": "/var/backups/enclave",
            "enclave_backup_repository": "/var/backups/enclave/restic",
            "enclave_postgres_local": True,
            "enclave_db_url": "postgresql+psycopg://root@/enclave?host=/var/run/postgresql",
            "enclave_hub_db_url": "postgresql+psycopg://root@/jupyterhub?host=/var/run/postgresql",
            "enclave_public_url": SITE_URL,
            "enclave_ports": {"public": 443, "hub_api": 8081, "idp": 9000, "proxy_api": 8001, "egress": 8082,
                              "governance": 8083},
            "enclave_tls_cert": f"/etc/enclave/tls/{SITE}.pem", "enclave_tls_key": f"/etc/enclave/tls/{SITE}.key",
            "enclave_oidc_issuer": ISSUER, "enclave_oidc_client_id": "enclave-hub",
            "enclave_oidc_client_secret_file": client_secret_file,
            # the institution's CA, trusted system-wide on the host (update-ca-certificates)
            "enclave_extra_env": {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"},
            "enclave_hub_overrides": {"50-site.py": f"c.JupyterHub.template_vars = {{'announcement': {NOTE!r}}}"},
            "enclave_users": [{"username": "dave", "name": ACCOUNTS["dave"]["name"], "roles": ["researcher"]},
                              {"username": "pia", "name": "Pia Investigator", "roles": ["researcher"]}],
            "enclave_projects": [{"slug": PROJECT, "title": "Production path", "approval_ref": "ETH-PROD-1",
                                  "purpose": "The production-path test", "pi": "pia", "expiry": "2099-12-31",
                                  "state": "active", "members": [{"user": "dave", "role": "researcher"}],
                                  "datasets": []}],
        }}}}}


# What --privileged would give, but CAP_SYS_RESOURCE, which this machine's own engine lacks and so cannot grant
CAPS = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK",
        "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN",
        "SYS_BOOT", "SYS_NICE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
        "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ")


def _start_container(gateway: str) -> None:
    """systemd as PID 1 needs /run and /run/lock as tmpfs and the cgroup tree writable (its engine too);
    loop devices for the projects' filesystems."""
    (STATE / "docker").mkdir(parents=True, exist_ok=True)
    loops = sorted(str(p) for p in Path("/dev").glob("loop*"))
    sh("docker", "run", "-d", "--name", CONTAINER, "--hostname", "enclave-host",
       *[a for c in CAPS for a in ("--cap-add", c)], *[a for d in loops for a in ("--device", d)],
       "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
       "--security-opt", "systempaths=unconfined",  # /proc/sys writable: the hub sets route_localnet per bridge
       "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
       "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
       "--network", NETWORK, "--add-host", f"{IDP}:{gateway}",
       *_shared_mounts(),
       "-v", f"{STATE / 'docker'}:/var/lib/docker", "-v", f"{RUN}:/srv/enclave-test", IMAGE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = sh("docker", "exec", CONTAINER, "systemctl", "is-system-running", ok=False).stdout.decode().strip()
        if state in ("running", "degraded") and sh("docker", "exec", CONTAINER, "docker", "info",
                                                   ok=False).returncode == 0:
            return
        time.sleep(2)
    raise AssertionError(f"the host did not boot: {on_host('systemctl', '--failed', ok=False)}")


def _load_images() -> None:
    """The workspace image (and its bases, which setup.sh --check looks for) into the host's engine, once;
    the wheelhouse it was built from (linked, not copied) so the check finds the image current."""
    wheels = RUN / "build" / "context" / "wheelhouse"
    wheels.parent.mkdir(parents=True)
    sh("cp", "-al", str(REPO_ROOT / "var" / "build" / "context" / "wheelhouse"), str(wheels))
    for image in ("enclave-base:bookworm", "enclave-base:bookworm-r", "enclave-workspace:latest"):
        want = sh("docker", "image", "inspect", "-f", "{{.Id}}", image).stdout.decode().strip()
        have = sh("docker", "exec", CONTAINER, "docker", "image", "inspect", "-f", "{{.Id}}", image,
                  ok=False).stdout.decode().strip()
        if have != want:
            save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
            load = subprocess.run(["docker", "exec", "-i", CONTAINER, "docker", "load"], stdin=save.stdout,
                                  capture_output=True, timeout=900)
            assert save.wait(timeout=60) == 0 and load.returncode == 0, load.stderr.decode()[-2000:]


def playbook(*names: str) -> str:
    res = sh("docker", "exec", "-w", f"{REPO}/ansible", "-e", "ANSIBLE_NOCOLOR=1",
             "-e", "ANSIBLE_LOCAL_TEMP=/tmp/ansible-local", "-e", "ANSIBLE_REMOTE_TEMP=/tmp/ansible-remote",
             CONTAINER, f"{VENV}/bin/ansible-playbook", "-i", "/srv/enclave-test/inventory.yml", *names,
             timeout=1200)
    return res.stdout.decode()


def site_pool() -> urllib3.HTTPSConnectionPool:
    """HTTPS to the site by its name, verified against the test CA only (the name resolves to the host)."""
    return urllib3.HTTPSConnectionPool(container_ip(), 443, server_hostname=SITE, assert_hostname=SITE,
                                       ca_certs=str(RUN / "tls" / "ca.pem"), cert_reqs="CERT_REQUIRED",
                                       headers={"Host": SITE}, retries=False, timeout=30)


def container_ip() -> str:
    return sh("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
              CONTAINER).stdout.decode().strip()


def wait_for_hub(timeout: float = 180) -> None:
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            r = site_pool().request("GET", "/hub/api/")
            if r.status == 200:
                return
            last = f"HTTP {r.status}"
        except urllib3.exceptions.HTTPError as exc:
            last = str(exc)
        time.sleep(2)
    raise AssertionError(f"hub not answering on {SITE_URL}: {last}\n"
                         f"{on_host('journalctl', '-u', 'enclave-hub', '-n', '40', '--no-pager', ok=False)}")


def _teardown() -> None:
    sh("docker", "rm", "-f", CONTAINER, ok=False)
    sh("docker", "network", "rm", NETWORK, ok=False)


@pytest.fixture(scope="module")
def host() -> Iterator[dict]:
    sh("bash", str(REPO_ROOT / "scripts" / "prod_host_image.sh"), timeout=1800)
    _teardown()
    shutil.rmtree(RUN, ignore_errors=True)
    (RUN / "tls").mkdir(parents=True)
    # a subnet outside Docker's default pools: the host's own engine (state kept between runs) makes its project
    # networks from those pools, and one on the same subnet as the host's own address cut the host off
    sh("docker", "network", "create", "--subnet", HOST_SUBNET, "--gateway", HOST_GATEWAY, NETWORK)
    gateway = HOST_GATEWAY  # the test machine, where the identity provider listens
    ca_key, ca = make_ca(RUN / "tls")
    issue(RUN / "tls", SITE, ca_key, ca)
    issue(RUN / "tls", IDP, ca_key, ca)
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
    (RUN / "idp.json").write_text(json.dumps({
        "issuer": ISSUER, "host": gateway, "port": IDP_PORT, "cert": str(RUN / "tls" / f"{IDP}.pem"),
        "key": str(RUN / "tls" / f"{IDP}.key"), "client_id": "enclave-hub", "client_secret": secret,
        "redirect_uri": f"{SITE_URL}/hub/oauth_callback", "post_logout_redirect_uri": f"{SITE_URL}/hub/login",
        "accounts": ACCOUNTS}))
    idp_log = (RUN / "idp.log").open("w")
    idp = subprocess.Popen(["node", str(REPO_ROOT / "scripts" / "oidc_test_provider.mjs"), str(RUN / "idp.json")],
                           stdout=idp_log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    try:
        (RUN / "inventory.yml").write_text(json.dumps(_inventory("/etc/enclave/oidc-client-secret")))
        _start_container(gateway)
        _load_images()
        # what the admin does before running the playbooks: the institution's CA trusted, the site's certificate
        # and key, the client secret from the identity provider's registration (root-only files in /etc/enclave)
        on_host("sh", "-ec", f"cp /srv/enclave-test/tls/ca.pem /usr/local/share/ca-certificates/test-ca.crt && "
                "update-ca-certificates >/dev/null && install -d -m 0750 /etc/enclave /etc/enclave/tls && "
                f"install -m 0600 /srv/enclave-test/tls/{SITE}.pem /srv/enclave-test/tls/{SITE}.key /etc/enclave/tls/"
                " && umask 077 && printf %s \"$0\" > /etc/enclave/oidc-client-secret", secret)
        out = playbook("site.yml", "projects.yml")
        wait_for_hub()
        yield {"ca": ca, "gateway": gateway, "playbook": out}
    finally:
        idp.terminate()
        idp.wait(timeout=30)
        idp_log.close()
        if os.environ.get("ENCLAVE_PROD_IT_KEEP") != "1":
            _teardown()


@pytest.fixture(scope="module")
def browser(host: dict) -> Iterator[Browser]:
    ip = container_ip()
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            f"--host-resolver-rules=MAP {SITE} {ip}, MAP {IDP} {host['gateway']}, EXCLUDE localhost",
            # certificates whose chain holds the test CA's key are accepted; anything else is a TLS error
            f"--ignore-certificate-errors-spki-list={spki_hash(host['ca'])}"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        yield b
        b.close()


def sign_in(page: Page, username: str) -> None:
    """Through the hub's login button to the provider's own sign-in and consent pages, and back."""
    page.goto(f"{SITE_URL}/hub/login")
    page.click("#idp-login")
    page.wait_for_url(f"{ISSUER}/**")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", "any")  # oidc-provider's development sign-in takes any password
    page.click("button[type=submit]")
    page.wait_for_url(f"{ISSUER}/**")
    page.click("button[type=submit]")  # consent: the hub may read the profile, e-mail and groups
    page.wait_for_url(f"{SITE_URL}/**")


class Lab:
    """dave's open notebook; each run uses the next cell, whichever tests ran before."""

    def __init__(self, page: Page):
        self.page, self.cells = page, 0

    def run(self, code: str, expect_text: str) -> str:
        self.cells += 1
        return run_cell(self.page, code, expect_text, self.cells - 1)


def run_cell(page: Page, code: str, expect_text: str, index: int) -> str:
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").nth(index)
    cell.click()
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")
    out = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output")
    expect(out).to_contain_text(expect_text, timeout=90_000)
    return out.inner_text()


@pytest.fixture(scope="module")
def dave_lab(browser: Browser) -> Iterator[Lab]:
    """dave signed in at the provider, his workspace started from the project page, a cell run."""
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    sign_in(page, "dave")
    page.wait_for_url("**/hub/spawn*")
    page.check(f"#project-{PROJECT}")
    page.click("#start-workspace")
    page.wait_for_url("**/user/dave/lab/**", timeout=180_000)
    page.goto(f"{SITE_URL}/user/dave/lab/tree/workspace?reset")  # a fresh layout: the launcher, whatever was open
    page.locator(".jp-LauncherCard[data-category='Notebook']").first.click()
    expect(page.locator(".jp-Notebook .jp-Cell .cm-content").first).to_be_visible()
    expect(page.locator(".jp-StatusBar-Widget").filter(has_text="Idle").first).to_be_visible(timeout=90_000)
    yield Lab(page)
    context.close()


def test_the_playbooks_install_systemd_units_config_in_etc_state_in_var_lib_logs_in_journald(host: dict):
    assert "failed=0" in host["playbook"], host["playbook"][-3000:]
    for unit in [*UNITS, "postgresql", "docker"]:
        assert on_host("systemctl", "is-active", unit).strip() == "active", unit
    timers = on_host("systemctl", "list-timers", "--all", "--no-pager")
    for job in ("expire-due", "purge-archives", "backup", "backup-drill"):
        assert f"enclave-{job}.timer" in timers, timers
    assert on_host("systemctl", "show", "-p", "StandardOutput", "enclave-hub").strip() == "StandardOutput=journal"
    assert "JupyterHub" in on_host("journalctl", "-u", "enclave-hub", "--no-pager")  # the hub's log is in journald
    files = on_host("sh", "-c", "ls /etc/enclave /etc/enclave/policies /etc/enclave/jupyterhub_config.d "
                    "/var/lib/enclave")
    for name in ("enclave.env", "workspace.yaml", "50-site.py", "secrets", "audit"):
        assert name in files, files
    # the demo identity provider is never installed on a production host: no unit, nothing on its port
    assert "enclave-idp" not in on_host("systemctl", "list-unit-files", "--no-pager")
    closed = on_host(f"{VENV}/bin/python", "-c", "import socket,sys; s=socket.socket(); "
                     "print(s.connect_ex(('127.0.0.1', 9000)))").strip()
    assert closed != "0"


def test_the_enclave_and_the_hub_keep_their_databases_on_postgresql(host: dict, dave_lab: Lab):
    def psql(db: str, query: str) -> str:
        return on_host("runuser", "-u", "postgres", "--", "psql", "-d", db, "-tAc", query).strip()

    assert psql("jupyterhub", "SELECT version_num FROM alembic_version")  # JupyterHub's own migrations ran
    assert "dave" in psql("jupyterhub", "SELECT name FROM users").split()
    assert "dave" in psql("enclave", "SELECT username FROM users").split()
    assert on_host("sh", "-c", "ls /var/lib/enclave/*.sqlite 2>/dev/null || true").strip() == ""


def test_https_on_the_sites_name_is_signed_by_the_test_ca_and_login_goes_to_the_issuer(host: dict):
    r = site_pool().request("GET", "/hub/oauth_login", redirect=False)
    assert r.status == 302, r.data[:500]
    location = r.headers["Location"]
    assert location.startswith(f"{ISSUER}/auth?"), location  # from the provider's discovery document
    assert f"redirect_uri={SITE_URL.replace(':', '%3A').replace('/', '%2F')}%2Fhub%2Foauth_callback" in location
    assert "127.0.0.1" not in location
    login = site_pool().request("GET", "/hub/login")
    assert login.status == 200 and NOTE in login.data.decode()  # the site's jupyterhub_config.d override is in
    wrong = urllib3.HTTPSConnectionPool(container_ip(), 443, server_hostname="other.test",
                                        assert_hostname="other.test", ca_certs=str(RUN / "tls" / "ca.pem"),
                                        cert_reqs="CERT_REQUIRED", retries=False, timeout=30)
    with pytest.raises(urllib3.exceptions.SSLError):  # the certificate is for the site's name only
        wrong.request("GET", "/hub/api/")


def test_a_researcher_signs_in_at_the_institution_provider_and_runs_a_cell(host: dict, dave_lab: Lab):
    out = dave_lab.run("import getpass\nprint('ANSWER', 6 * 7, getpass.getuser())", "ANSWER")
    assert "ANSWER 42 researcher" in out, out  # dave's code runs in his workspace as the workspace user
    users = {u["username"]: u for u in enclave_cli("user", "list")}  # type: ignore[union-attr]
    assert users["dave"]["name"] == ACCOUNTS["dave"]["name"], users["dave"]


def test_an_operator_is_refused_the_researchers_workspace_and_it_is_audited(host: dict, browser: Browser,
                                                                           dave_lab: Lab):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        sign_in(page, "olga")
        response = page.goto(f"{SITE_URL}/user/dave/lab")
        assert response is not None and response.status == 403, (response and response.status, page.url)
        assert "/hub/api/oauth2/authorize" in page.url
        assert "Launcher" not in page.content()
    finally:
        context.close()
    denied = enclave_cli("audit", "query", "--action", "hub.access.denied", "--user", "olga")
    assert any(r["target"] == "dave" for r in denied), denied  # type: ignore[union-attr, index]


def test_restarting_every_unit_with_a_workspace_running_loses_nothing(host: dict, dave_lab: Lab):
    dave_lab.run("x = 6 * 7\nprint('BEFORE', x)", "BEFORE 42")
    dave_lab.page.keyboard.press("Control+s")
    dave_lab.page.get_by_role("button", name="Rename and Save").click()  # JupyterLab asks on a first save
    expect(dave_lab.page.locator(".jp-mod-dirty")).to_have_count(0)  # the notebook is saved in the workspace
    containers = on_host("docker", "ps", "-q", "--filter", f"label={PROJECT_LABEL}").split()
    assert len(containers) == 1, containers
    on_host("systemctl", "restart", "postgresql", *UNITS, timeout=300)
    wait_for_hub()
    for unit in UNITS:
        assert on_host("systemctl", "is-active", unit).strip() == "active", unit
    assert on_host("docker", "ps", "-q", "--filter", f"label={PROJECT_LABEL}").split() == containers
    # dave's session still valid, his notebook back from the workspace, the same kernel (x is still there)
    dave_lab.page.reload()
    expect(dave_lab.page.locator(".jp-StatusBar-Widget").filter(has_text="Idle").first).to_be_visible(timeout=90_000)
    assert "/user/dave/lab" in dave_lab.page.url
    out = dave_lab.run("print('AFTER', x)", "AFTER")
    assert "AFTER 42" in out, out
    assert enclave_cli("audit", "verify")["ok"] is True  # type: ignore[index]


def test_the_nightly_backup_and_drill_units_pass_and_a_tampered_snapshot_fails_the_drill(host: dict):
    """The timers' own units, started by systemd now: a restic snapshot of the PostgreSQL enclave, a drill that
    restores it into a scratch database and verifies it; then packs changed in the repository fail the drill."""
    on_host("systemctl", "start", "enclave-backup.service", timeout=600)
    on_host("systemctl", "start", "enclave-backup-drill.service", timeout=600)
    drills = enclave_cli("audit", "query", "--action", "backup.drill")
    assert [(d["actor"], d["details"]["outcome"]) for d in drills] == [("timer:backup-drill", "pass")], drills  # type: ignore[index, union-attr]
    on_host("sh", "-c", "for f in $(find /var/backups/enclave/restic/data -type f); do "
                        "chmod u+w $f; printf X | dd of=$f bs=1 seek=200 conv=notrunc status=none; done")
    failed = sh("docker", "exec", CONTAINER, "systemctl", "start", "enclave-backup-drill.service", ok=False,
                timeout=600)
    assert failed.returncode != 0  # the unit fails: the operator's monitoring sees a failed unit
    drills = enclave_cli("audit", "query", "--action", "backup.drill")
    assert [d["details"]["outcome"] for d in drills] == ["pass", "fail"], drills  # type: ignore[index, union-attr]
    assert drills[1]["details"]["problems"], drills  # type: ignore[index]
    assert enclave_cli("audit", "verify")["ok"] is True  # type: ignore[index]


def test_a_wiped_host_comes_back_from_its_latest_snapshot_with_both_databases_and_the_trail(
        host: dict, browser: Browser):
    """The host loses all the enclave keeps on it: its containers, /var/lib/enclave and both PostgreSQL
    databases. What the operator keeps elsewhere brings it back: the restic repository (one of this test's own,
    so the drill test's damage to the nightly one does not matter) and offline copies of the repository password
    and the backup signing key, which no snapshot holds. Last in the module: it leaves the host rebuilt, with
    dave's workspace gone (workspaces are the researchers' scratch space, not in a backup)."""
    env = ("set -a && . /etc/enclave/enclave.env && set +a && export ENCLAVE_ACTOR=test "
           "ENCLAVE_BACKUP_REPOSITORY=/var/backups/enclave/wiped-host && ")

    def cli(command: str, extra_env: str = "", ok: bool = True) -> dict:
        res = sh("docker", "exec", CONTAINER, "sh", "-c", f"{env}{extra_env}{VENV}/bin/enclave {command} --json",
                 ok=ok, timeout=900)
        return json.loads(res.stdout.decode())

    def psql(db: str, query: str) -> str:
        return on_host("runuser", "-u", "postgres", "--", "psql", "-d", db, "-tAc", query).strip()

    trail = enclave_cli("audit", "verify")  # the snapshot holds exactly these (backup.create comes after it)
    made = cli("backup")
    assert made["hub_database"] == "postgresql" and made["database"] == "postgresql", made
    hub_users = psql("jupyterhub", "SELECT name FROM users ORDER BY name").split()
    assert "dave" in hub_users, hub_users
    on_host("sh", "-ec", "install -d -m 0700 /root/offline && cp /var/lib/enclave/secrets/backup-signing.jwk "
                         "/var/lib/enclave/secrets/restic-password /root/offline/")

    # the wipe: units, containers, the projects' mounted filesystems, the state directory, both databases
    on_host("systemctl", "stop", *UNITS, timeout=300)
    on_host("sh", "-c", f"docker rm -f $(docker ps -aq --filter label={INSTANCE_LABEL}) >/dev/null 2>&1; true")
    on_host("sh", "-ec", "for m in $(findmnt -rn -o TARGET | grep '^/var/lib/enclave/' | sort -r); do umount $m; "
                         "done; find /var/lib/enclave -mindepth 1 -delete")
    assert on_host("ls", "-A", "/var/lib/enclave").strip() == ""
    for db in ("enclave", "jupyterhub"):
        psql("postgres", f'DROP DATABASE "{db}" WITH (FORCE)')
        psql("postgres", f'CREATE DATABASE "{db}" OWNER root')

    urls = ("--db-url 'postgresql+psycopg://root@/enclave?host=/var/run/postgresql' "
            "--hub-db-url 'postgresql+psycopg://root@/jupyterhub?host=/var/run/postgresql'")
    offline = "ENCLAVE_BACKUP_PASSWORD_FILE=/root/offline/restic-password "
    # without the offline key nothing is restored, and the operator is told what to give
    refused = cli(f"restore --snapshot latest --target /var/lib/enclave {urls}", offline, ok=False)
    assert "signing key" in refused["error"] and "--key" in refused["error"], refused
    restored = cli(f"restore --snapshot latest --target /var/lib/enclave {urls} "
                   "--key /root/offline/backup-signing.jwk", offline)
    assert restored["ok"] and restored["snapshot"] == made["snapshot"], restored
    assert restored["checked"]["audit_records"] >= trail["records"], (trail, restored)  # type: ignore[index]
    assert restored["checked"]["hub_users"] == len(hub_users), restored
    on_host("sh", "-ec", "install -m 0600 /root/offline/backup-signing.jwk /root/offline/restic-password "
                         "/var/lib/enclave/secrets/")

    on_host("systemctl", "start", *UNITS, timeout=300)
    wait_for_hub()
    after = enclave_cli("audit", "verify")
    assert after["ok"] is True and after["records"] > trail["records"], (trail, after)  # type: ignore[index]
    rebuilt = enclave_cli("audit", "query", "--action", "backup.restore")
    assert [r["target"] for r in rebuilt] == [made["snapshot"]], rebuilt  # type: ignore[index, union-attr]
    assert psql("jupyterhub", "SELECT name FROM users ORDER BY name").split() == hub_users

    # and the rebuilt enclave is used as before: dave signs in again and his workspace starts afresh
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        sign_in(page, "dave")
        page.wait_for_url("**/hub/spawn*")  # his project is back, his old server is not
        page.check(f"#project-{PROJECT}")
        page.click("#start-workspace")
        page.wait_for_url("**/user/dave/lab/**", timeout=180_000)
        expect(page.locator(".jp-LauncherCard[data-category='Notebook']").first).to_be_visible(timeout=90_000)
    finally:
        context.close()
