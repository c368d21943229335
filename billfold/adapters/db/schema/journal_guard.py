"""The journal's guard: triggers by which the database itself keeps the books sound.

* **Append-only.** UPDATE and DELETE of ``journal_entries`` and ``journal_postings`` are
  refused (on PostgreSQL TRUNCATE too); a correction is a new, reversing entry.
* **Written postings first, entry row last.** A posting for an entry whose row exists is
  refused, so an entry's postings are fixed once its row is written; the posting's foreign
  key to its entry is ``DEFERRABLE INITIALLY DEFERRED``, so postings whose entry row never
  came cannot be committed (SQLite checks deferred foreign keys at COMMIT too).
* **Balanced.** An entry has at least two postings and they sum to zero in each currency.
  SQLite has no deferred triggers: the check runs when the entry row is inserted, which by
  the rule above is after all its postings. PostgreSQL runs it at COMMIT, in a
  ``DEFERRABLE INITIALLY DEFERRED`` constraint trigger on the entry row: one aggregate
  query per entry written.

``SQLITE`` and ``POSTGRESQL`` are the statements that create the guard; migration 0011
carries a frozen copy and a test compares the two. ``create_all`` runs them too.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from billfold.adapters.db.schema.core import journal_postings

__all__ = ["POSTGRESQL", "SQLITE", "TRIGGERS"]

_APPEND_ONLY = "is append-only: {what} refused; post a reversing entry instead"


def _sqlite_refusal(table: str, when: str) -> str:
    message = f"{table} {_APPEND_ONLY.format(what=when)}"
    return (
        f"CREATE TRIGGER {table}_no_{when.lower()} BEFORE {when} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


SQLITE: tuple[str, ...] = (
    _sqlite_refusal("journal_entries", "UPDATE"),
    _sqlite_refusal("journal_entries", "DELETE"),
    _sqlite_refusal("journal_postings", "UPDATE"),
    _sqlite_refusal("journal_postings", "DELETE"),
    "CREATE TRIGGER journal_postings_entry_open BEFORE INSERT ON journal_postings "
    "WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) "
    "BEGIN SELECT RAISE(ABORT, 'journal_postings: the entry is written already; "
    "its postings cannot change'); END",
    "CREATE TRIGGER journal_entries_balanced BEFORE INSERT ON journal_entries "
    "WHEN (SELECT count(*) FROM journal_postings WHERE entry_id = NEW.id) < 2 "
    "OR EXISTS (SELECT 1 FROM journal_postings WHERE entry_id = NEW.id "
    "GROUP BY currency HAVING sum(amount_fen) <> 0) "
    "BEGIN SELECT RAISE(ABORT, 'journal_entries: an entry needs two or more postings, "
    "written before it, that sum to zero in each currency'); END",
)

POSTGRESQL: tuple[str, ...] = (
    "CREATE FUNCTION billfold_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only: % refused; post a reversing entry instead', "
    "TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation'; END $$",
    "CREATE FUNCTION billfold_journal_entry_open() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN IF EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) THEN "
    "RAISE EXCEPTION 'journal_postings: entry % is written already; its postings cannot "
    "change', NEW.entry_id USING ERRCODE = 'integrity_constraint_violation'; END IF; "
    "RETURN NEW; END $$",
    "CREATE FUNCTION billfold_journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE n bigint; odd text; BEGIN "
    "SELECT sum(g.c), string_agg(g.s || ' fen ' || g.currency, ', ') FILTER (WHERE g.s <> 0) "
    "INTO n, odd FROM (SELECT currency, count(*) AS c, sum(amount_fen) AS s "
    "FROM journal_postings WHERE entry_id = NEW.id GROUP BY currency) AS g; "
    "IF coalesce(n, 0) < 2 OR odd IS NOT NULL THEN "
    "RAISE EXCEPTION 'journal_entries: entry % does not balance (% postings; sums %)', "
    "NEW.id, coalesce(n, 0), coalesce(odd, 'zero') USING ERRCODE = 'check_violation'; "
    "END IF; RETURN NULL; END $$",
    "CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries "
    "FOR EACH ROW EXECUTE FUNCTION billfold_journal_append_only()",
    "CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION billfold_journal_append_only()",
    "CREATE TRIGGER journal_postings_append_only BEFORE UPDATE OR DELETE ON journal_postings "
    "FOR EACH ROW EXECUTE FUNCTION billfold_journal_append_only()",
    "CREATE TRIGGER journal_postings_no_truncate BEFORE TRUNCATE ON journal_postings "
    "FOR EACH STATEMENT EXECUTE FUNCTION billfold_journal_append_only()",
    "CREATE TRIGGER journal_postings_entry_open BEFORE INSERT ON journal_postings "
    "FOR EACH ROW EXECUTE FUNCTION billfold_journal_entry_open()",
    "CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
    "EXECUTE FUNCTION billfold_journal_entry_balanced()",
)

#: dialect -> the names of the guard's triggers (what a sound database has).
TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": tuple(sql.split()[2] for sql in SQLITE),
    "postgresql": tuple(
        sql.split()[3 if sql.startswith("CREATE CONSTRAINT") else 2]
        for sql in POSTGRESQL
        if "TRIGGER" in sql.split()[1:3]
    ),
}

# create_all: both journal tables exist once journal_postings is created (it references
# journal_entries), so the guard goes in then
for _dialect, _statements in (("sqlite", SQLITE), ("postgresql", POSTGRESQL)):
    for _sql in _statements:  # DDL formats its text with "%": RAISE's placeholders doubled
        _ddl = DDL(_sql.replace("%", "%%"))  # type: ignore[no-untyped-call]
        event.listen(journal_postings, "after_create", _ddl.execute_if(dialect=_dialect))
