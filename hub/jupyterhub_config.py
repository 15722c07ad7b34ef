"""JupyterHub configuration for Enclave; every value comes from enclave settings and policies."""

import sys

from activity.scopes import CUSTOM_SCOPES as RECORD_SCOPES
from activity.scopes import SCOPE_RECORD
from egress_review.scopes import CUSTOM_SCOPES, SCOPE_DOWNLOAD, SCOPE_REQUEST, SERVICE_ACCESS
from enclave.settings import (
    ACTIVITY_SERVICE,
    EGRESS_SERVICE,
    GOVERNANCE_SERVICE,
    JOBS_SERVICE,
    PACKAGES_SERVICE,
    get_settings,
)
from enclave.workspaces import HUB_SCOPES, HUB_SERVICE
from hub.forwarded import install as install_forwarded_headers_check
from hub.i18n import install as install_i18n
from hub.lab_uploads import extra_handlers as lab_upload_handlers
from hub.landing import default_url as landing_url
from hub.network import ensure_external_firewall
from hub.roles import check_roles_hold_no_data_scopes, enclave_roles, log_request
from jobs.scopes import CUSTOM_SCOPES as JOB_SCOPES
from jobs.scopes import SCOPE_SUBMIT
from packages.scopes import CUSTOM_SCOPES as PACKAGE_SCOPES
from packages.scopes import SCOPE_REQUEST as SCOPE_PACKAGES
from policies import load_policies

c = get_config()  # type: ignore[name-defined]  # noqa: F821
settings = get_settings()
policies = load_policies(settings.policy_dir)  # a wrong policy file stops start-up here, naming file and key
settings.run_dir.mkdir(parents=True, exist_ok=True)
resolv = settings.run_dir / "empty-resolv.conf"
resolv.write_text("# Enclave workspaces have no DNS resolver.\n")

c.JupyterHub.bind_url = f"http://0.0.0.0:{settings.public_port}"
# The hub API is plain HTTP: loopback only. Workspaces reach it at their gateway, redirected (hub.network).
c.JupyterHub.hub_bind_url = f"http://{settings.internal_address}:{settings.hub_api_port}"
c.JupyterHub.hub_connect_url = f"http://{settings.internal_address}:{settings.hub_api_port}"
# From outside (any interface but loopback and the enclave bridges) only the public proxy port answers.
ensure_external_firewall(settings.internal_ports)
# The hub's own database: SQLite in ENCLAVE_HOME by default, PostgreSQL with ENCLAVE_HUB_DB_URL. Every start brings
# its schema to JupyterHub's head with JupyterHub's alembic migrations (as `enclave db upgrade` does for ours).
c.JupyterHub.db_url = settings.hub_db_url
c.JupyterHub.upgrade_db = True
c.JupyterHub.cookie_secret = bytes.fromhex(settings.secret("hub-cookie"))
c.JupyterHub.cleanup_servers = False  # a hub restart leaves running workspaces alone
c.JupyterHub.allow_named_servers = False
c.JupyterHub.concurrent_spawn_limit = 20
c.JupyterHub.log_datefmt = "%Y-%m-%dT%H:%M:%S"
# X-Forwarded-For is believed only past the configured reverse proxies (addresses or networks), X-Real-Ip and
# X-Scheme from nobody: tornado, which JupyterHub runs with xheaders, would believe them from anyone (hub.forwarded).
install_forwarded_headers_check()
c.JupyterHub.trusted_downstream_ips = list(settings.trusted_proxies)
# The access log also audits refused attempts at another user's server or tokens (hub.roles).
# A start that is not refused within a second goes to the spawn-pending page, which shows its steps
# (hub.spawn_form.STAGES); refusals come sooner and are shown on the spawn form.
c.JupyterHub.tornado_settings = {"log_function": log_request, "slow_spawn_timeout": 1}

c.ConfigurableHTTPProxy.should_start = False  # enclave_demo.runner (or systemd) runs it, so hub restarts keep routes
c.ConfigurableHTTPProxy.api_url = f"http://{settings.internal_address}:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = settings.secret("proxy-auth")

# Login: the institution's OIDC provider, known only by its issuer URL (endpoints and keys from its discovery
# document, ID tokens verified in hub.oidc); code flow with PKCE and a nonce. The demo IdP is configured the same way.
c.JupyterHub.authenticator_class = "hub.auth.EnclaveAuthenticator"
c.EnclaveAuthenticator.oidc_issuer = settings.oidc_issuer
c.EnclaveAuthenticator.client_id = settings.oidc_client_id
c.EnclaveAuthenticator.client_secret = settings.oidc_client_secret()
c.EnclaveAuthenticator.oauth_callback_url = f"{settings.public_url}/hub/oauth_callback"
c.EnclaveAuthenticator.post_logout_redirect_url = f"{settings.public_url}/hub/login"
c.EnclaveAuthenticator.scope = ["openid", "profile", "email", "groups"]
c.EnclaveAuthenticator.enable_pkce = True
c.EnclaveAuthenticator.username_claim = settings.oidc_username_claim  # `sub` by default: stable, never reassigned
c.EnclaveAuthenticator.name_claim = settings.oidc_name_claim
c.EnclaveAuthenticator.institution_claim = settings.oidc_institution_claim
c.EnclaveAuthenticator.login_service = "Institution IdP"
c.EnclaveAuthenticator.manage_groups = True
c.EnclaveAuthenticator.auth_state_groups_key = f"oauth_user.{settings.oidc_groups_claim}"
c.EnclaveAuthenticator.allowed_groups = {"researcher", "reviewer", "admin", "auditor"}
# Nobody is a JupyterHub admin (that role can open any server and mint tokens): see hub.roles.

# Workspaces.
c.JupyterHub.spawner_class = "hub.spawner.EnclaveSpawner"
# workspaces report the uploads their JupyterLab refused (images/workspace/enclave_lockdown.py): audited
c.JupyterHub.extra_handlers = lab_upload_handlers()
c.EnclaveSpawner.image = settings.image
c.EnclaveSpawner.pull_policy = "never"
c.EnclaveSpawner.remove = True
c.EnclaveSpawner.use_internal_ip = True
c.EnclaveSpawner.empty_resolv_conf = str(resolv)
c.EnclaveSpawner.cmd = ["jupyterhub-singleuser"]
c.EnclaveSpawner.default_url = "/lab/tree/workspace"
c.EnclaveSpawner.start_timeout = policies.workspace.start_timeout_seconds
c.EnclaveSpawner.http_timeout = policies.workspace.start_timeout_seconds
# A workspace's own token may post activity, ask for exports, submit jobs, ask for packages and post its executed
# code to the record (activity.service), nothing else (no downloads, no admin).
c.EnclaveSpawner.server_token_scopes = ["users:activity!user", "access:servers!server", f"{SCOPE_REQUEST}!user",
                                        f"{SCOPE_SUBMIT}!user", f"{SCOPE_PACKAGES}!user",
                                        f"{SCOPE_RECORD}!user"]
c.EnclaveSpawner.debug = False

# Idle culler, with only the scopes it needs.
c.JupyterHub.load_roles = [
    *enclave_roles(),  # operators (the `admin` group) and auditors: no access to servers, no tokens for others
    # Blind-mode jobs (jobs.service): its role, for the hub API token it checks callers' tokens with.
    {"name": JOBS_SERVICE, "api_token": settings.secret("jobs-service-token")},
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    # the enclave CLI stops a project's workspaces when it is suspended, expired or a dataset is revoked
    {"name": HUB_SERVICE, "services": [HUB_SERVICE], "scopes": HUB_SCOPES},
]
# Export requests, reviews and releases: a hub service (run by enclave_demo.runner or systemd) behind the proxy.
c.JupyterHub.custom_scopes = {**CUSTOM_SCOPES, **JOB_SCOPES, **PACKAGE_SCOPES, **RECORD_SCOPES}
c.JupyterHub.extra_user_scopes = {SERVICE_ACCESS, f"{SCOPE_REQUEST}!user", f"{SCOPE_DOWNLOAD}!user",
                                  f"access:services!service={GOVERNANCE_SERVICE}", f"{SCOPE_SUBMIT}!user",
                                  f"access:services!service={JOBS_SERVICE}", f"{SCOPE_PACKAGES}!user",
                                  f"{SCOPE_RECORD}!user"}
# Each role lands where its work is (hub.landing.landing_for): researchers the spawn page, admins the operations
# view, stewards with steps waiting their applications, reviewers the export review queue, auditors the audit view.
c.JupyterHub.default_url = landing_url
c.JupyterHub.services = [
    {"name": EGRESS_SERVICE, "url": f"http://{settings.internal_address}:{settings.egress_port}",
     "api_token": settings.secret("egress-review-token"), "oauth_no_confirm": True, "display": True,
     "oauth_client_allowed_scopes": [f"{SCOPE_REQUEST}!user", f"{SCOPE_DOWNLOAD}!user"]},
    # Catalogue, applications and approvals, accreditation, audit view (governance.service): people only, by OAuth.
    {"name": GOVERNANCE_SERVICE, "url": f"http://{settings.internal_address}:{settings.governance_port}",
     "api_token": settings.secret("governance-token"), "oauth_no_confirm": True, "display": True},
    # Blind-mode jobs (jobs.service, on settings.jobs_port): output checkers' pages behind the proxy, by OAuth; its
    # JSON API answers workspace tokens only from their own container (a call through the proxy is from 127.0.0.1).
    {"name": JOBS_SERVICE, "url": f"http://{settings.internal_address}:{settings.jobs_port}",
     "api_token": settings.secret("jobs-service-token"), "oauth_no_confirm": True, "display": True},
    # The package index and its requests API (packages.service, on settings.packages_port): workspaces only, at
    # their gateway; no route through the proxy (the stewards' pages are the governance service's).
    {"name": PACKAGES_SERVICE, "api_token": settings.secret("packages-service-token")},
    # The code recorder (activity.service, on settings.activity_port): a JSON API for workspace tokens only, no pages.
    {"name": ACTIVITY_SERVICE, "api_token": settings.secret("activity-token")},
    {"name": "idle-culler",
     "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                 f"--timeout={policies.workspace.idle_timeout_seconds}",
                 f"--cull-every={policies.workspace.cull_every_seconds}"]},
    {"name": HUB_SERVICE, "api_token": settings.secret("hub-admin-token")},
]

install_i18n(c)

# The site's overrides (ENCLAVE_HUB_CONFIG_DIR, /etc/enclave/jupyterhub_config.d on a production host), in name
# order after ours; the role check below runs on the result, so no override can give operators users' servers.
for override in settings.hub_config_overrides():
    load_subconfig(str(override))  # type: ignore[name-defined]  # noqa: F821

check_roles_hold_no_data_scopes(c.JupyterHub.load_roles)
