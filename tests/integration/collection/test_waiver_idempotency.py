"""A waiver is made once per request id (the database keeps it unique per bill): a client
that retries after a lost answer — or a crash after the commit — waives nothing more."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from billfold import Biller, BillerKind, Engine
from billfold.adapters.db import schema as t
from billfold.errors import Conflict, InvalidInput

BILLS = b"""bill_no,payer_id,items
T1,2026001,tuition:T=4500.00;books:B=380.00
T2,2026002,tuition:T=100.00
"""


@pytest.fixture
def school(engine: Engine) -> Engine:
    engine.create_biller(Biller(code="s1", name="一中", kind=BillerKind.SCHOOL))
    engine.import_bills("s1", BILLS)
    return engine


def counts(engine: Engine) -> dict[str, int]:
    with engine.uow() as uow:
        return {
            table.name: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.waivers, t.outbox_events, t.audit_log)
        }


def test_a_retried_waiver_is_applied_once(school: Engine) -> None:
    first = school.waive("s1", "T1", 10_000, reason="助学", granted_by="head", request_id="W-1")
    before = counts(school)
    again = school.waive("s1", "T1", 10_000, reason="助学", granted_by="head", request_id="W-1")
    assert again.waived_fen == first.waived_fen == 10_000
    assert again.outstanding_fen == 478_000
    assert school.bill("s1", "T1").waived_fen == 10_000
    assert counts(school) == before


def test_another_request_id_is_another_waiver(school: Engine) -> None:
    school.waive("s1", "T1", 10_000, reason="助学", granted_by="head", request_id="W-1")
    school.waive("s1", "T1", 10_000, reason="助学", granted_by="head", request_id="W-2")
    assert school.bill("s1", "T1").waived_fen == 20_000


def test_the_same_request_id_for_another_amount_is_refused_and_changes_nothing(
    school: Engine,
) -> None:
    school.waive("s1", "T1", 10_000, reason="助学", granted_by="head", request_id="W-1")
    before = counts(school)
    with pytest.raises(Conflict) as refused:
        school.waive("s1", "T1", 20_000, reason="助学", granted_by="head", request_id="W-1")
    assert refused.value.message == (
        "waiver request W-1 was made before for 100.00 of *, not 200.00 of *"
    )
    assert counts(school) == before and school.bill("s1", "T1").waived_fen == 10_000


@pytest.mark.parametrize("request_id", ["", " ", "x" * 65])
def test_a_waiver_needs_a_request_id_and_changes_nothing_without_one(
    school: Engine, request_id: str
) -> None:
    before = counts(school)
    with pytest.raises(InvalidInput) as refused:
        school.waive("s1", "T2", 100, reason="r", granted_by="g", request_id=request_id)
    assert refused.value.message == (
        "request_id: 1-64 characters required (it makes the waiver idempotent)"
    )
    assert counts(school) == before


def test_the_database_refuses_a_second_waiver_row_with_the_same_request_id(
    school: Engine,
) -> None:
    school.waive("s1", "T2", 100, reason="r", granted_by="g", request_id="W-9")
    with school.uow() as uow:
        row = uow.conn.execute(select(t.waivers)).one()._asdict()
        row.pop("id")
        with pytest.raises(Exception, match="(?i)unique"):
            uow.conn.execute(t.waivers.insert().values(**row))
