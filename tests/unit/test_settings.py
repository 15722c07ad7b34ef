"""What an operator configures: the public URL, TLS, trusted proxies and the identity provider, from the
environment over an optional TOML file (ENCLAVE_CONFIG); a bad value names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclave.settings import ConfigError, load_settings


def _file(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "enclave.toml"
    path.write_text(text)
    return {"ENCLAVE_CONFIG": str(path)}


def test_without_configuration_browsers_and_the_demo_idp_use_loopback():
    s = load_settings({})
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.oidc_issuer == "http://127.0.0.1:9000"
    assert s.oidc_username_claim == "sub" and s.oidc_groups_claim == "groups"
    assert s.trusted_proxies == ()


def test_public_url_and_issuer_from_the_environment_keep_their_hostnames():
    s = load_settings({"ENCLAVE_PUBLIC_URL": "http://enclave.example.org:8000/",
                       "ENCLAVE_OIDC_ISSUER": "https://login.example.org/realms/hospital"})
    assert s.public_url == "http://enclave.example.org:8000"
    assert s.oidc_issuer == "https://login.example.org/realms/hospital"
    assert s.local_url == "http://127.0.0.1:8000"  # health checks still go to the local port


def test_settings_come_from_the_config_file_and_the_environment_overrides_it(tmp_path: Path):
    env = _file(tmp_path, 'public_url = "https://enclave.example.org"\ntrusted_proxies = ["10.0.0.5", "10.1.0.0/16"]\n'
                          'oidc_issuer = "https://login.example.org"\noidc_username_claim = "employee_id"\n'
                          "public_port = 8443\n")
    s = load_settings(env)
    assert s.public_url == "https://enclave.example.org"
    assert s.trusted_proxies == ("10.0.0.5/32", "10.1.0.0/16")
    assert s.oidc_username_claim == "employee_id" and s.public_port == 8443
    s = load_settings({**env, "ENCLAVE_PUBLIC_URL": "https://research.example.org", "ENCLAVE_PUBLIC_PORT": "9443"})
    assert s.public_url == "https://research.example.org" and s.public_port == 9443


@pytest.mark.parametrize(("value", "problem"), [
    ("enclave.example.org", "must start with https:// or http://"),
    ("ftp://enclave.example.org", "must start with https:// or http://"),
    ("http://", "has no hostname"),
    ("http://enclave.example.org:99999", "port that is not a number"),
    ("http://enclave.example.org/hub", "must not hold a path"),
    ("http://enclave.example.org/?x=1", "must not hold a query"),
    ("http://user:pw@enclave.example.org", "credentials"),
])
def test_a_bad_public_url_is_refused_naming_the_variable(value: str, problem: str):
    with pytest.raises(ConfigError, match="ENCLAVE_PUBLIC_URL") as err:
        load_settings({"ENCLAVE_PUBLIC_URL": value})
    assert problem in str(err.value)


def test_a_bad_value_in_the_file_names_the_key_and_the_file(tmp_path: Path):
    env = _file(tmp_path, 'public_url = "enclave.example.org"\n')
    with pytest.raises(ConfigError, match=r"public_url in .*enclave\.toml='enclave\.example\.org' must start"):
        load_settings(env)
    with pytest.raises(ConfigError, match=r"public_port in .*enclave\.toml='eighty' is not a whole number"):
        load_settings(_file(tmp_path, 'public_port = "eighty"\n'))


def test_the_config_file_itself_must_exist_parse_and_hold_only_known_settings(tmp_path: Path):
    with pytest.raises(ConfigError, match="ENCLAVE_CONFIG=.*does not exist"):
        load_settings({"ENCLAVE_CONFIG": str(tmp_path / "missing.toml")})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_file(tmp_path, "public_url = \n"))
    with pytest.raises(ConfigError, match="unknown setting.*publc_url"):
        load_settings(_file(tmp_path, 'publc_url = "https://x.example.org"\n'))


def test_https_needs_a_certificate_or_a_trusted_proxy_that_terminates_tls():
    with pytest.raises(ConfigError, match="ENCLAVE_PUBLIC_URL.*is https, but neither ENCLAVE_TLS_CERT"):
        load_settings({"ENCLAVE_PUBLIC_URL": "https://enclave.example.org"})
    assert load_settings({"ENCLAVE_PUBLIC_URL": "https://enclave.example.org",
                          "ENCLAVE_TRUSTED_PROXIES": "127.0.0.1"}).trusted_proxies == ("127.0.0.1/32",)
    assert load_settings({"ENCLAVE_PUBLIC_URL": "https://enclave.example.org", "ENCLAVE_TLS_CERT": "/c.pem",
                          "ENCLAVE_TLS_KEY": "/k.pem"}).tls_cert == "/c.pem"


def test_tls_certificate_and_key_go_together():
    with pytest.raises(ConfigError, match="ENCLAVE_TLS_CERT and ENCLAVE_TLS_KEY go together"):
        load_settings({"ENCLAVE_TLS_CERT": "/etc/enclave/tls/cert.pem"})


def test_a_trusted_proxy_that_is_not_an_address_is_refused_naming_it():
    with pytest.raises(ConfigError, match="ENCLAVE_TRUSTED_PROXIES: 'proxy.example.org' is not an IP address"):
        load_settings({"ENCLAVE_TRUSTED_PROXIES": "10.0.0.5, proxy.example.org"})


def test_a_bad_issuer_is_refused_naming_the_variable():
    with pytest.raises(ConfigError, match="ENCLAVE_OIDC_ISSUER='login.example.org' must start"):
        load_settings({"ENCLAVE_OIDC_ISSUER": "login.example.org"})


def test_the_client_secret_is_read_from_its_file(tmp_path: Path):
    secret = tmp_path / "client-secret"
    secret.write_text("s3cret\n")
    assert load_settings({"ENCLAVE_OIDC_CLIENT_SECRET_FILE": str(secret)}).oidc_client_secret() == "s3cret"
    with pytest.raises(ConfigError, match="ENCLAVE_OIDC_CLIENT_SECRET_FILE=.*missing: cannot read it"):
        load_settings({"ENCLAVE_OIDC_CLIENT_SECRET_FILE": str(tmp_path / "missing")}).oidc_client_secret()
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="ENCLAVE_OIDC_CLIENT_SECRET_FILE=.* is empty"):
        load_settings({"ENCLAVE_OIDC_CLIENT_SECRET_FILE": str(secret)}).oidc_client_secret()


def test_a_secret_asked_for_by_many_threads_at_once_is_one_whole_secret(tmp_path: Path):
    """The service's threads and the hub may create the same secret together: one value, never an error or half."""
    from concurrent.futures import ThreadPoolExecutor

    from enclave.settings import Settings

    settings = Settings(home=tmp_path / "home", db_url="sqlite://", policy_dir=tmp_path)
    with ThreadPoolExecutor(16) as pool:
        values = list(pool.map(lambda _i: settings.secret("egress-cookie"), range(64)))
    assert len(set(values)) == 1 and len(values[0]) == 64
    assert [p.name for p in settings.secrets_dir.iterdir()] == ["egress-cookie"]
