"""Migration 0018 on SQLite and PostgreSQL: billers that exist before it ask nothing more of
a payer (``none``); the setting is then changed, audited, and survives a reload."""

from __future__ import annotations

from sqlalchemy import text

from billfold import Biller, BillerKind
from billfold.adapters.db import migrate
from billfold.adapters.db.connect import make_engine
from billfold.clock import FixedClock
from billfold.engine import Engine
from billfold.merchants.biller import LookupCheck


def test_existing_billers_ask_for_nothing_more_after_the_upgrade(db_url: str) -> None:
    db = make_engine(db_url)
    migrate.downgrade(db, "0010")
    now = "2026-09-01 00:00:00+00:00"
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO billers (code, name, kind, timezone, status, created_at, updated_at)"
                " VALUES ('old', '老水司', 'utility', 'Asia/Shanghai', 'active', :now, :now)"
            ),
            {"now": now},
        )
    migrate.upgrade(db)
    db.dispose()
    engine = Engine.from_url(db_url, clock=FixedClock())
    try:
        assert engine.biller("old").lookup_check is LookupCheck.NONE
        changed = engine.set_lookup_check(
            "old", LookupCheck.NAME_LAST_CHAR, actor="ops", reason="户号连号，防枚举"
        )
        assert changed.lookup_check is LookupCheck.NAME_LAST_CHAR
        assert engine.biller("old").lookup_check is LookupCheck.NAME_LAST_CHAR
        [entry] = [
            e for e in engine.audit_log("biller", "old") if e["action"] == "set_lookup_check"
        ]
        assert entry["reason"] == "户号连号，防枚举"
        engine.create_biller(Biller(code="new", name="新水司", kind=BillerKind.UTILITY))
        assert engine.biller("new").lookup_check is LookupCheck.NONE
    finally:
        engine.close()
