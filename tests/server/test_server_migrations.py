"""Alembic is the only way the schema is made: every revision goes up and down on SQLite and PostgreSQL, and
head matches the ORM models exactly (nothing autogenerate would still want to change)."""
from __future__ import annotations

from sqlalchemy import inspect


def test_upgrade_downgrade_upgrade(blank_db_url):
    from server.core.db import current_revision, downgrade, make_engine, upgrade
    from server.models import Base

    upgrade(blank_db_url)
    engine = make_engine(blank_db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        head = current_revision(blank_db_url)
        assert head is not None
        downgrade(blank_db_url, "base")
        assert current_revision(blank_db_url) is None
        engine.dispose()
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(blank_db_url)
        assert current_revision(blank_db_url) == head
    finally:
        engine.dispose()


def test_head_matches_the_models(blank_db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from server.core.db import make_engine, upgrade
    from server.models import Base

    upgrade(blank_db_url)
    engine = make_engine(blank_db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diffs == [], f"models and migrations differ (write a migration): {diffs}"


def test_the_identity_revision_is_the_root():
    from alembic.script import ScriptDirectory

    from server.core.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_base() == "0001_identity"
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()}"
