"""The hub's own database is a setting: SQLite in ENCLAVE_HOME by default (`make up`), PostgreSQL in production,
with JupyterHub's own schema and alembic revision on either; site overrides for JupyterHub come from a folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from jupyterhub import orm
from sqlalchemy import create_engine, inspect

from enclave.settings import ConfigError, load_settings


def test_the_hub_database_is_sqlite_in_the_home_unless_configured(tmp_path: Path):
    s = load_settings({"ENCLAVE_HOME": str(tmp_path)})
    assert s.hub_db_url == f"sqlite:///{tmp_path.resolve() / 'jupyterhub.sqlite'}"
    pg = load_settings({"ENCLAVE_HOME": str(tmp_path), "ENCLAVE_HUB_DB_URL": "postgresql://hub@db.example/hub"})
    assert pg.hub_db_url == "postgresql+psycopg://hub@db.example/hub"  # psycopg 3, the driver the enclave installs


def test_the_hub_database_url_comes_from_the_config_file_too(tmp_path: Path):
    conf = tmp_path / "enclave.toml"
    conf.write_text('hub_db_url = "postgresql+psycopg://hub@127.0.0.1/hub"\n'
                    'hub_config_dir = "/etc/enclave/jupyterhub_config.d"\n')
    s = load_settings({"ENCLAVE_HOME": str(tmp_path), "ENCLAVE_CONFIG": str(conf)})
    assert s.hub_db_url == "postgresql+psycopg://hub@127.0.0.1/hub"
    assert s.hub_config_dir == "/etc/enclave/jupyterhub_config.d"


def test_a_hub_database_url_that_is_not_a_database_url_names_the_setting(tmp_path: Path):
    with pytest.raises(ConfigError, match="ENCLAVE_HUB_DB_URL: must start with sqlite:///, postgresql://"):
        load_settings({"ENCLAVE_HOME": str(tmp_path), "ENCLAVE_HUB_DB_URL": "mysql://hub@db/hub"})


def test_site_overrides_are_the_folders_python_files_in_name_order(tmp_path: Path):
    d = tmp_path / "jupyterhub_config.d"
    d.mkdir()
    for name in ("50-site.py", "10-first.py", "README", "90-last.py"):
        (d / name).write_text("")
    s = load_settings({"ENCLAVE_HOME": str(tmp_path), "ENCLAVE_HUB_CONFIG_DIR": str(d)})
    assert [p.name for p in s.hub_config_overrides()] == ["10-first.py", "50-site.py", "90-last.py"]
    assert load_settings({"ENCLAVE_HOME": str(tmp_path)}).hub_config_overrides() == []
    missing = load_settings({"ENCLAVE_HOME": str(tmp_path), "ENCLAVE_HUB_CONFIG_DIR": str(tmp_path / "none")})
    assert missing.hub_config_overrides() == []


def test_jupyterhub_makes_its_schema_at_its_alembic_head_on_the_configured_database(db_url: str, tmp_path: Path):
    """What the hub does at start (db_url with upgrade_db): tables made and stamped, then reopened as current."""
    url = load_settings({"ENCLAVE_HOME": str(tmp_path), "ENCLAVE_HUB_DB_URL": db_url}).hub_db_url
    factory = orm.new_session_factory(url)
    session = factory()
    session.add(orm.User(name="dave"))
    session.commit()
    session.close()
    engine = create_engine(url)
    try:
        assert {"users", "spawners", "api_tokens", "alembic_version"} <= set(inspect(engine).get_table_names())
        orm.check_db_revision(engine)  # raises when the schema is not at JupyterHub's head
    finally:
        engine.dispose()
    again = orm.new_session_factory(url)()
    assert [u.name for u in again.query(orm.User)] == ["dave"]
    again.close()
