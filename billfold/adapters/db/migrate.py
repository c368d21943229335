"""Running the Alembic migrations from code (``billfold db upgrade`` and ``Engine.from_url``).

Alembic is imported when a migration runs or its scripts are read, not to learn whether a
database is at the newest revision: every command asks that when it opens the engine, and
the answer is one query against :data:`HEADS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, column, inspect, select, table

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).parent / "migrations"

#: The heads of the shipped migrations, sorted: what :func:`shipped` reads from the scripts,
#: written here so that the readiness check on every command's start imports no Alembic and
#: no script (a test compares the two; a new migration changes both).
HEADS = ("0024",)
#: Alembic's table of the revisions a database is at (its default name).
VERSION_TABLE = table("alembic_version", column("version_num"))


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("version_locations", str(HERE / "versions"))
    if engine is not None:
        # configparser reads "%" as interpolation; percent-encoded URLs (":memory:") need "%%"
        url = engine.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


#: Tables, types and functions another library owns in billfold's database (procrastinate's
#: job queue, created by migration 0013): Alembic's comparison leaves them alone.
FOREIGN_PREFIXES = ("procrastinate_",)


def billfold_owns(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: ``False`` for what another library owns."""
    return not (name or "").startswith(FOREIGN_PREFIXES)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """One transaction for the whole migration. On SQLite with foreign keys off meanwhile
    (they can only be switched outside a transaction): a batch migration rebuilds a table
    by dropping it, which foreign keys from other tables would refuse. Before the commit
    ``PRAGMA foreign_key_check`` must find nothing, or the migration is rolled back."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(
                            f"migration left {broken[0]} row {broken[1]} pointing at no "
                            f"{broken[2]} row; rolled back"
                        )
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Migrate ``engine``'s database up to ``revision``. At the newest revision already
    (every start of ``Engine.from_url(upgrade=True)``, a repeated ``billfold db upgrade``),
    one query says so and Alembic is not imported."""
    if revision == "heads":
        with engine.connect() as conn:
            if stored_heads(conn) == list(HEADS):
                return
    from alembic import command

    with _migrating(engine) as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    with _migrating(engine) as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def current(engine: Engine) -> str | None:
    return current_heads(engine) or None


@cache
def shipped() -> tuple[tuple[str, ...], frozenset[str]]:
    """The migrations shipped with billfold: their heads (sorted) and every revision. Read
    from the scripts once per process — they do not change under it — not on every
    readiness check (each ``/readyz`` and each command asks)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    revisions = frozenset(rev.revision for rev in script.walk_revisions())
    return tuple(sorted(script.get_heads())), revisions


def head() -> str:
    """The newest migration revision shipped with billfold (heads joined by ',' while the
    history has parallel branches)."""
    return ",".join(shipped()[0])


def current_heads(engine: Engine) -> str:
    """The database's revision(s), joined like :func:`head`."""
    with engine.connect() as conn:
        return ",".join(stored_heads(conn))


def stored_heads(conn: Connection) -> list[str]:
    """The revisions Alembic's version table records, sorted; ``[]`` when it has none or
    there is no such table (what Alembic's ``get_current_heads`` reads, without Alembic)."""
    if not inspect(conn).has_table(VERSION_TABLE.name):
        return []
    return sorted(conn.execute(select(VERSION_TABLE.c.version_num)).scalars())
