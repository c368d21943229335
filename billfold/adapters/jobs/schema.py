"""procrastinate's tables, functions and types in billfold's PostgreSQL database.

Importable without procrastinate: only :func:`apply_schema` needs it (going down does not).

Migration 0013 calls :func:`apply_schema` (and :func:`drop_schema` going down). A database
migrated while procrastinate was not installed gets them later with
``billfold worker --install-schema``, which calls the same function.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

__all__ = ["apply_schema", "drop_schema", "has_schema"]


def has_schema(conn: Connection) -> bool:
    return inspect(conn).has_table("procrastinate_jobs")


def apply_schema(conn: Connection) -> bool:
    """Create procrastinate's objects in ``conn``'s transaction; ``False`` when they exist.
    Raises ImportError without procrastinate (the ``worker`` extra)."""
    if has_schema(conn):
        return False
    from procrastinate.schema import SchemaManager

    # straight to psycopg without parameters (so its "%" are not read as placeholders):
    # several statements at once, in the caller's transaction
    with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(SchemaManager.get_schema())
    return True


def drop_schema(conn: Connection) -> None:
    """Drop every object procrastinate's schema made: its tables (their triggers go with
    them), then its functions and types, found by their ``procrastinate_`` prefix."""
    conn.execute(
        text(
            """
            DO $$
            DECLARE item record;
            BEGIN
                DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
                    procrastinate_jobs, procrastinate_workers CASCADE;
                FOR item IN
                    SELECT p.oid::regprocedure AS signature FROM pg_proc p
                    JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
                LOOP
                    EXECUTE 'DROP FUNCTION ' || item.signature || ' CASCADE';
                END LOOP;
                FOR item IN
                    SELECT t.typname FROM pg_type t
                    JOIN pg_namespace n ON n.oid = t.typnamespace
                    WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
                        AND t.typtype IN ('e', 'c')
                LOOP
                    EXECUTE 'DROP TYPE ' || quote_ident(item.typname) || ' CASCADE';
                END LOOP;
            END $$
            """
        )
    )
