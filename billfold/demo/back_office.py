"""The back office's day after the demo's payments, done in the open (each step printed):

* the water company's daily collection file, in the layout the demo ships
  (``billfold/demo/layouts/demo-water-collections.json``), written to ``out/water/``;
* the bank leg: the collection account's camt.053 statement for 2026-09-02 — the credit each
  reconciled channel statement promised, and one credit nobody promised (the bank's interest)
  — reconciled, so no money is left falsely in transit; the unexplained credit is a
  discrepancy a reconciler then works (written off to the bank account, with the reason);
* a complaint the engine cannot answer by itself (a parent says the counter charged twice):
  opened by the clerk, answered by the engine (no duplicate found), assigned, resolved.

Each step finds what an earlier run stored before acting, and the statement is built from the
channel runs (not from what is still open), so a second run changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

from rich.console import Console

from billfold.clock import FixedClock
from billfold.engine import Engine
from billfold.labels import label
from billfold.money import format_yuan
from billfold.packs.utility import collection_file_for
from billfold.settlement.banking import Route
from billfold.settlement.complaint import ComplaintKind, ComplaintSource, ComplaintStatus
from billfold.settlement.complaints import ComplaintDesk, NewComplaint
from billfold.settlement.discrepancy import Action, Code, DiscrepancyStatus
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.run import RunKind
from billfold.settlement.utility_files import COLLECTION_FIELDS, Layout

__all__ = ["BANK_DAY", "WATER", "settle_bank_leg", "water_collection_file", "work_a_complaint"]

WATER = "demo-water"
#: The bank statement's day: the channels settle the demo's day (2026-09-01) and the
#: utilities' second day on 2026-09-02; the statement is read the next morning.
BANK_DAY = date(2026, 9, 2)
BANK_READ_AT = datetime(2026, 9, 3, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
COLLECTION_ACCOUNT = "3301040160000001"
INTEREST_FEN = 50  # the bank's interest: a credit no channel promised
INTEREST_PAYER = "示范银行 结息"
RECONCILER = "对账员 张敏"
COMPLAINT_BILL = "T2026-001"  # paid once at the counter (CTR-0001)


def _layout(name: str) -> Layout:
    text = (resources.files("billfold.demo") / "layouts" / name).read_text(encoding="utf-8")
    return Layout.from_dict(json.loads(text), known=COLLECTION_FIELDS)


def water_collection_file(engine: Engine, day: date, out_dir: Path) -> Path:
    """The water company's collection file of ``day`` (its own layout, GBK CSV)."""
    folder = out_dir / "water"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{WATER}-collections-{day:%Y%m%d}.csv"
    path.write_bytes(
        collection_file_for(engine, WATER, day, _layout("demo-water-collections.json"))
    )
    return path


def _printer(console: Console) -> Callable[[str], None]:
    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False)

    return say


# -- the bank leg ------------------------------------------------------------------------------


def _payer(channel: str) -> str:
    return f"{label('channel', channel)}清算"


def _entry(ref: str, fen: int, payer: str, text: str) -> str:
    return (
        "\n      <Ntry>"
        f'\n        <Amt Ccy="CNY">{format_yuan(fen)}</Amt>'
        "\n        <CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>BOOK</Sts>"
        f"\n        <BookgDt><Dt>{BANK_DAY.isoformat()}</Dt></BookgDt>"
        f"\n        <AcctSvcrRef>{ref}</AcctSvcrRef>"
        "\n        <NtryDtls><TxDtls>"
        f"\n          <RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties>"
        f"\n          <RmtInf><Ustrd>{text}</Ustrd></RmtInf>"
        "\n        </TxDtls></NtryDtls>\n      </Ntry>"
    )


def _statement(engine: Engine) -> tuple[bytes, list[Route], int]:
    """The camt.053 statement: one credit per current channel run up to :data:`BANK_DAY`
    (its promised net, its business date in the remittance text), and the interest."""
    runs = [
        run
        for run in Reconciler(engine).runs(kind=RunKind.CHANNEL, current_only=True)
        if run.business_date <= BANK_DAY and run.totals.net_fen > 0
    ]
    runs.sort(key=lambda r: (r.business_date, r.channel, r.merchant_id))
    entries = [
        _entry(
            f"B{BANK_DAY:%Y%m%d}{number:04d}",
            run.totals.net_fen,
            _payer(run.channel),
            f"{run.merchant_id or run.channel} {run.business_date:%Y%m%d} 结算款",
        )
        for number, run in enumerate(runs, start=1)
    ]
    entries.append(_entry(f"B{BANK_DAY:%Y%m%d}9999", INTEREST_FEN, INTEREST_PAYER, "活期存款利息"))
    routes = [Route(channel, _payer(channel)) for channel in sorted({r.channel for r in runs})]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n'
        "  <BkToCstmrStmt>\n"
        f"    <GrpHdr><MsgId>DEMO-{BANK_DAY:%Y%m%d}</MsgId>"
        f"<CreDtTm>{BANK_DAY.isoformat()}T18:00:00</CreDtTm></GrpHdr>\n"
        "    <Stmt>\n"
        f"      <Id>STMT-{BANK_DAY:%Y%m%d}</Id>\n"
        f"      <CreDtTm>{BANK_DAY.isoformat()}T18:00:00</CreDtTm>\n"
        f"      <Acct><Id><Othr><Id>{COLLECTION_ACCOUNT}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>"
        + "".join(entries)
        + "\n    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n"
    )
    return body.encode("utf-8"), routes, sum(r.totals.net_fen for r in runs)


@dataclass(frozen=True, slots=True)
class BankLeg:
    statement: Path
    credits: int
    settled: int
    settled_fen: int
    in_transit_fen: int
    discrepancy: dict[str, str]

    def view(self) -> dict[str, object]:
        return {
            "statement": self.statement.name,
            "credits": self.credits,
            "settled": self.settled,
            "settled_amount": format_yuan(self.settled_fen),
            "in_transit": format_yuan(self.in_transit_fen),
            "discrepancy": self.discrepancy,
        }


def settle_bank_leg(url: str, out_dir: Path, console: Console) -> BankLeg:
    """Reconcile the collection account's statement against every channel's promise, then
    work the one discrepancy it leaves; print each step."""
    engine = Engine.from_url(url, clock=FixedClock(BANK_READ_AT))
    try:
        return _bank_leg(engine, out_dir, console)
    finally:
        engine.close()


def _bank_leg(engine: Engine, out_dir: Path, console: Console) -> BankLeg:
    data, routes, promised = _statement(engine)
    folder = out_dir / "bank"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"camt053-{BANK_DAY:%Y%m%d}.xml"
    path.write_bytes(data)
    reconciler = Reconciler(engine)
    result = reconciler.reconcile_bank(
        data, format="camt053", business_date=BANK_DAY, routes=routes, file_name=path.name
    )
    settled = reconciler.settlements(result.run.id)
    settled_fen = sum(int(row["received_fen"]) for row in settled if row["status"] == "settled")
    waiting = sum(w.net_fen for w in reconciler.in_transit(BANK_DAY))
    credits = data.count(b"<Ntry>")
    matched = sum(1 for row in settled if row["status"] == "settled")
    say = _printer(console)
    say(
        f"bank leg: {path.name} — {credits} credits on the collection account; {matched} settle "
        f"the channels' statements ({format_yuan(settled_fen)} of {format_yuan(promised)} "
        f"promised); in transit after: {format_yuan(waiting)}"
    )
    found = [d for d in result.discrepancies if d.code is Code.UNEXPLAINED_CREDIT]
    view: dict[str, str] = {}
    if found:
        item = found[0]
        say(
            f"discrepancy #{item.id} {item.code.value} ({label('discrepancy_code', item.code)}): "
            f"{item.message} → {label('discrepancy_status', item.status)}"
        )
        if item.status is DiscrepancyStatus.OPEN:
            item = reconciler.resolve(
                item.id or 0,
                Action.WRITE_OFF,
                by=RECONCILER,
                reason="银行季度结息，核销入银行存款（对账差异）",
                request_id=f"demo-bank-interest-{BANK_DAY:%Y%m%d}",
            )
        say(
            f"discrepancy #{item.id} → {label('discrepancy_status', item.status)}: "
            f"{item.action.value if item.action else ''} "
            f"({label('discrepancy_action', item.action)}) by {item.resolved_by}: "
            f"{item.resolution}"
        )
        view = {
            "code": item.code.value,
            "amount": format_yuan(item.difference_fen),
            "status": item.status.value,
            "action": item.action.value if item.action else "",
            "by": item.resolved_by or "",
        }
    return BankLeg(path, credits, matched, settled_fen, waiting, view)


# -- a complaint worked by people ----------------------------------------------------------------


def work_a_complaint(engine: Engine, console: Console) -> dict[str, str]:
    """A parent tells the school's clerk the counter took the tuition twice: the engine looks
    for a second payment, finds none and hands the complaint to people; the bursar takes it,
    checks the counter's records and resolves it. A rerun finds the same complaint."""
    desk = ComplaintDesk(engine)
    school = engine.biller("demo-school").id or 0
    found = next(
        (
            c
            for c in desk.complaints(biller_ids=[school])
            if c.bill_no == COMPLAINT_BILL and c.kind is ComplaintKind.CHARGED_TWICE
        ),
        None,
    )
    say = _printer(console)
    if found is None:
        found = desk.open(
            NewComplaint(
                "demo-school",
                ComplaintKind.CHARGED_TWICE,
                "柜员 李娜",
                ComplaintSource.CLERK,
                bill_no=COMPLAINT_BILL,
                description="家长来电：学费在柜台被扣了两次",
            )
        )
    answer = found.answer.value if found.answer else ""
    say(
        f"complaint {found.complaint_no} {found.kind.value} "
        f"({label('complaint_kind', found.kind)}) on {COMPLAINT_BILL}: engine answered "
        f"{answer} ({label('complaint_answer', answer)})"
    )
    if found.status is ComplaintStatus.OPEN:
        found = desk.assign(found.complaint_no, to="财务 王芳", by="柜员 李娜", reason="需人工核对")
    if found.status is ComplaintStatus.ASSIGNED:
        say(f"complaint {found.complaint_no} → assigned to {found.assigned_to}")
        found = desk.resolve(
            found.complaint_no,
            by="财务 王芳",
            resolution="核对柜台流水 CTR-0001：仅收款一次，已电话告知家长",
        )
    say(
        f"complaint {found.complaint_no} → {found.status.value} "
        f"({label('complaint_status', found.status)}) by {found.assigned_to}: {found.resolution}"
    )
    return {
        "bill_no": COMPLAINT_BILL,
        "kind": found.kind.value,
        "answer": answer,
        "status": found.status.value,
        "resolved_by": found.assigned_to or "",
    }
