"""Schema migrations (Alembic): upgrade, and the start-up check that refuses a schema behind the code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from siteplane.store.database import make_engine, normalise_url, redact

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database's schema is not the one this version of siteplane needs."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def ensure_current(engine: Engine) -> None:
    """Refuse to run against a schema that is behind (or ahead of) this code."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        url = redact(engine.url.render_as_string(hide_password=False))
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaOutOfDate(
            f"database {url} is {state}, this siteplane needs revision {head}: "
            f"run `siteplane db upgrade --database-url {url}` first"
        )
