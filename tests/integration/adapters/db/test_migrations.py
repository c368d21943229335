"""The migrations produce exactly the models' schema, and go down and up again cleanly."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.adapters.db.schema import metadata


def schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": migrate.billfold_owns}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_head_yields_exactly_the_models_schema(db_url: str) -> None:
    assert schema_diff(db_url) == []


def test_downgrade_then_upgrade_round_trips(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert migrate.current(engine) is not None
    finally:
        engine.dispose()
    assert schema_diff(db_url) == []


def test_an_in_memory_database_is_migrated_on_request() -> None:
    # ":memory:" reaches Alembic's configparser percent-encoded ("%3A"), which once failed
    from billfold import Biller, BillerKind, Engine

    engine = Engine.from_url("sqlite:///:memory:", upgrade=True)
    try:
        engine.create_biller(Biller(code="m1", name="内存", kind=BillerKind.SCHOOL))
        assert [b.code for b in engine.billers()] == ["m1"]
    finally:
        engine.close()


def test_a_percent_in_the_url_reaches_alembic_unchanged() -> None:
    engine = make_engine("postgresql+psycopg://u:p%25w@127.0.0.1:1/db")
    try:
        url = migrate.alembic_config(engine).get_main_option("sqlalchemy.url")
        assert url == "postgresql+psycopg://u:p%25w@127.0.0.1:1/db"
    finally:
        engine.dispose()


def test_the_heads_kept_in_migrate_are_the_scripts_heads() -> None:
    """A command's readiness check compares the database with ``migrate.HEADS`` without
    reading the scripts: a new migration must change it too."""
    assert migrate.shipped()[0] == migrate.HEADS


def test_the_version_table_is_read_as_alembic_reads_it(db_url: str, tmp_path: Path) -> None:
    for url in (db_url, f"sqlite:///{tmp_path / 'never-migrated.db'}"):
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                alembic_reads = sorted(MigrationContext.configure(conn).get_current_heads())
                assert migrate.stored_heads(conn) == alembic_reads
        finally:
            engine.dispose()
        assert alembic_reads == (list(migrate.HEADS) if url == db_url else [])
