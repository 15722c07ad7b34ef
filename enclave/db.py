"""Engine and session handling; the schema is owned by Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from enclave.errors import Unavailable
from enclave.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().db_url
    if url not in _ENGINES:
        _ENGINES[url] = _create(url)
    return _ENGINES[url]


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error, so nothing is half-done."""
    factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except (OperationalError, ProgrammingError) as exc:
        with suppress(Exception):
            session.rollback()
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        if _no_schema(exc):
            raise Unavailable("the database has no enclave tables yet ({reason}); run `enclave db upgrade` first; "
                              "nothing was changed", reason=reason) from exc
        if isinstance(exc, OperationalError) and (exc.connection_invalidated or "connect" in reason.lower()
                                                  or "unable to open" in reason):
            raise Unavailable("the database is unavailable ({reason}); nothing was changed, try again when it is "
                              "back", reason=reason) from exc
        raise
    except BaseException:
        with suppress(Exception):
            session.rollback()
        raise
    finally:
        session.close()


def _no_schema(exc: OperationalError | ProgrammingError) -> bool:
    """A table the enclave's schema has is missing: SQLite's 'no such table', PostgreSQL's undefined_table."""
    return "no such table" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == "42P01"


def upgrade(url: str | None = None) -> None:
    """Bring the schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().db_url).replace("%", "%%"))
    cfg.attributes["engine"] = get_engine(url)
    command.upgrade(cfg, "head")
