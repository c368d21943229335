"""Presale-fund supervision (预售资金监管), end to end over one engine.

* **Projects and contracts.** A developer (a biller of kind ``housing_developer``) has one
  sub-unit per project; :meth:`PresaleDesk.add_project` records the bureau's project code and
  the supervised escrow account. A buyer's contract is a bill numbered by the contract, in
  the project's sub-unit, so the POS channel's project binding (a presale terminal takes
  only its project's bills) and the QR channel's orders apply to it unchanged.
* **The escrow ledger.** :meth:`PresaleDesk.sync` books every credited payment of a
  contract — and the reversal of one booked before — as a numbered entry of its project
  (``seq`` 1, 2, 3 … without gaps), each with its push to the housing bureau, in one
  transaction. The payments table is the source, so a crash between the credit and the
  booking loses nothing: the next sync finds it. A succeeded refund of a booked payment is
  booked the same way, as money out (``refund``, once per refund number); one that takes the
  balance below what was released already is booked all the same — the money has left
  through the channel — and alerted (``presale.alert``). Money into the account that names
  no contract is :meth:`PresaleDesk.receive_unmatched`: held, alerted, pushed; once the
  buyer is known, :meth:`PresaleDesk.assign_held` moves it onto the contract (``assign``).
* **Releases** to the developer are checked against the milestones and the balance
  (:func:`billfold.settlement.escrow.check_release`); a refused one changes nothing.
* **Pushes** are delivered by :func:`billfold.adapters.outbox.bureau_push.push_due`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog

from billfold.adapters.db.presale import SqlPresale
from billfold.adapters.db.schema import presale as schema_presale  # noqa: F401  (registers the tables)
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.clock import business_date
from billfold.collection.bill import Bill, BillItem
from billfold.collection.payer import IdentifierKind, Payer
from billfold.collection.payment import PaymentStatus
from billfold.engine import Engine
from billfold.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from billfold.merchants.biller import Biller
from billfold.merchants.presale import Contract, Milestone, Project, validate_milestones
from billfold.merchants.services import require_biller
from billfold.money import format_yuan
from billfold.settlement.escrow import (
    ContractRow,
    EntryKind,
    EscrowEntry,
    EscrowTotals,
    check_release,
    contract_sheet,
    summary_sheet,
    totals,
)
from billfold.settlement.exports import export_format, write_sheet

__all__ = ["PresaleDesk", "ReleaseRefused", "SyncReport", "held_id_of"]

log = structlog.get_logger("billfold.presale")
RELEASE_CHANNEL = "release"


class ReleaseRefused(LimitExceeded):
    """A release over the milestone limit or the balance; ``reason`` is the refusal code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SyncReport:
    payments: int = 0
    reversals: int = 0
    refunds: int = 0


def held_id_of(entry: EscrowEntry) -> str:
    """How an operator names held money: ``<channel>/<transaction reference>``."""
    return f"{entry.channel}/{entry.ref}"


def push_id(bureau_code: str, seq: int) -> str:
    """Our id of a push: the bureau deduplicates on it."""
    return f"{bureau_code}-{seq:08d}"


class PresaleDesk:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- projects, milestones, contracts ---------------------------------------------------
    def add_project(self, project: Project, *, actor: str) -> Project:
        """Supervise a project of a developer; the same project again returns it unchanged."""
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            biller = require_biller(uow, project.developer)
            if project.project_code not in {u.code for u in biller.sub_units}:
                raise InvalidInput(
                    f"project_code: {project.developer} has no project {project.project_code!r}"
                )
            repo = SqlPresale(uow.conn)
            known = repo.project(project.bureau_code)
            if known is not None:
                if known.developer == project.developer and _same(known, project):
                    return known
                raise Conflict(f"bureau_code: project {project.bureau_code} is supervised already")
            if repo.project_of(_pk(biller), project.project_code) is not None:
                raise Conflict(
                    f"project_code: {project.developer}/{project.project_code} is supervised "
                    "under another bureau code"
                )
            repo.add_project(_pk(biller), project, now)
            uow.audit.append(
                actor=actor,
                action="presale.project",
                target_type="presale_project",
                target_id=project.bureau_code,
                reason="supervision agreement",
                before=None,
                after={
                    "developer": project.developer,
                    "project": project.project_code,
                    "escrow_account": project.escrow_account_no,
                },
                now=now,
            )
            uow.commit()
        return self.project(project.bureau_code)

    def project(self, bureau_code: str) -> Project:
        with self.engine.uow() as uow:
            return _project(SqlPresale(uow.conn), bureau_code)

    def projects(self) -> list[Project]:
        with self.engine.uow() as uow:
            return SqlPresale(uow.conn).projects()

    def set_milestones(self, bureau_code: str, stages: Sequence[Milestone], *, actor: str) -> None:
        validate_milestones(stages)
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            project = _project(repo, bureau_code)
            before = repo.milestones(_ppk(project))
            if [_plan(m) for m in before] == [_plan(m) for m in stages]:
                return
            if any(m.reached_on for m in before):
                raise Conflict(
                    f"milestones: project {bureau_code} has reached a stage; its plan is fixed"
                )
            repo.set_milestones(_ppk(project), list(stages))
            uow.audit.append(
                actor=actor,
                action="presale.milestones",
                target_type="presale_project",
                target_id=bureau_code,
                reason="release plan",
                before=None,
                after={m.stage: m.cumulative_bps for m in stages},
                now=now,
            )
            uow.commit()

    def milestones(self, bureau_code: str) -> list[Milestone]:
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            return repo.milestones(_ppk(_project(repo, bureau_code)))

    def reach(self, bureau_code: str, stage: str, day: date, *, actor: str) -> None:
        """Record that construction reached ``stage`` on ``day`` (the bureau's acceptance)."""
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            project = _project(repo, bureau_code)
            stages = {m.stage: m for m in repo.milestones(_ppk(project))}
            if stage not in stages:
                raise NotFound(f"stage {stage!r} is not a milestone of project {bureau_code}")
            if not repo.reach(_ppk(project), stage, day):
                return
            uow.audit.append(
                actor=actor,
                action="presale.milestone_reached",
                target_type="presale_project",
                target_id=bureau_code,
                reason=stage,
                before=None,
                after={"stage": stage, "reached_on": day.isoformat()},
                now=now,
            )
            uow.commit()

    def add_contract(
        self, bureau_code: str, contract: Contract, *, phone: str | None = None
    ) -> Bill:
        """A buyer's contract and the bill its payments go to (part payments allowed: down
        payment, then loans). The same contract again returns its bill unchanged."""
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            project = _project(repo, bureau_code)
            owner = repo.contract_project(contract.contract_no)
        if owner is not None:
            if owner != project.id:
                raise Conflict(
                    f"contract_no: contract {contract.contract_no} belongs to another project"
                )
            return self.engine.bill(project.developer, contract.contract_no)
        payer = Payer(
            IdentifierKind.CONTRACT_NO, contract.contract_no, name=contract.buyer_name, phone=phone
        )
        bill = Bill(
            0,
            contract.contract_no,
            0,
            [BillItem("house", f"购房款 {contract.unit_no}", contract.total_fen)],
            allow_partial=True,
            sub_unit=project.project_code,
            description=f"商品房买卖合同 {contract.contract_no}",
        )
        stored = self.engine.add_bill(project.developer, payer, bill)
        assert stored.id is not None
        with self.engine.uow() as uow:
            SqlPresale(uow.conn).add_contract(_ppk(project), contract, stored.id, now)
            uow.commit()
        return stored

    def contracts(self, bureau_code: str) -> list[Contract]:
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            return repo.contracts(_ppk(_project(repo, bureau_code)))

    # -- the escrow ledger -----------------------------------------------------------------
    def sync(self) -> SyncReport:
        """Book every contract payment (and reversal) not booked yet, with its push."""
        now = self.engine.clock.now()
        booked = SyncReport()
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            projects = {p.id: p for p in repo.projects()}
            for row in repo.contract_payments():
                project = projects[int(row.project_pk)]
                tz = self._tz(uow, project)
                paid = not repo.has_entry(EntryKind.PAYMENT, row.channel, row.channel_txn_id)
                if paid and row.status == PaymentStatus.CREDITED.value:
                    made = self._book(
                        repo,
                        project,
                        EntryKind.PAYMENT,
                        row.channel,
                        row.channel_txn_id,
                        int(row.amount_fen),
                        row.paid_at,
                        tz,
                        contract_no=row.contract_no,
                        payment_id=int(row.id),
                        note="购房款",
                        now=now,
                    )
                    booked = SyncReport(booked.payments + (made is not None), booked.reversals)
                elif (
                    not paid
                    and row.status == PaymentStatus.REVERSED.value
                    and not repo.has_entry(EntryKind.REVERSAL, row.channel, row.channel_txn_id)
                ):
                    made = self._book(
                        repo,
                        project,
                        EntryKind.REVERSAL,
                        row.channel,
                        row.channel_txn_id,
                        int(row.amount_fen),
                        now,
                        tz,
                        contract_no=row.contract_no,
                        payment_id=int(row.id),
                        note="冲正/撤销",
                        now=now,
                    )
                    booked = SyncReport(booked.payments, booked.reversals + (made is not None))
            refunds = 0
            for row in repo.contract_refunds():
                if repo.has_entry(EntryKind.REFUND, row.channel, row.refund_no):
                    continue
                if not repo.has_entry(EntryKind.PAYMENT, row.channel, row.channel_txn_id):
                    continue  # never booked (reversed before a sync): nothing of it is here
                project = projects[int(row.project_pk)]
                refunds += self._book_refund(uow, repo, project, row, now)
            booked = SyncReport(booked.payments, booked.reversals, refunds)
            uow.commit()
        if booked.payments or booked.reversals or booked.refunds:
            log.info(
                "escrow synced",
                payments=booked.payments,
                reversals=booked.reversals,
                refunds=booked.refunds,
            )
        return booked

    def _book_refund(
        self, uow: SqlUnitOfWork, repo: SqlPresale, project: Project, row: Any, now: datetime
    ) -> int:
        """Book one succeeded refund (1), or nothing when another sync booked it (0). A refund
        cannot be refused — the channel has paid it out — so one that leaves less in the
        account than was released is booked and alerted."""
        amount = int(row.amount_fen)
        made = self._book(
            repo,
            project,
            EntryKind.REFUND,
            row.channel,
            row.refund_no,
            amount,
            row.completed_at or row.created_at,
            self._tz(uow, project),
            contract_no=row.contract_no,
            payment_id=int(row.payment_id),
            note=f"退款 原交易 {row.channel}/{row.channel_txn_id}",
            now=now,
        )
        if made is None:
            return 0
        book = totals(repo.entries(_ppk(project)))
        if book.balance_fen < 0:
            why = (
                f"refund {row.refund_no} of {format_yuan(amount)} on contract {row.contract_no} "
                f"leaves {format_yuan(book.net_received_fen)} received against "
                f"{format_yuan(book.released_fen)} released: the balance is "
                f"{format_yuan(book.balance_fen)}"
            )
            alert = {
                "bureau_code": project.bureau_code,
                "escrow_account": project.escrow_account_no,
                "channel": row.channel,
                "ref": row.refund_no,
                "contract_no": row.contract_no,
                "amount": format_yuan(amount),
                "amount_fen": amount,
                "balance_fen": book.balance_fen,
                "reason": why,
            }
            uow.outbox.add("presale.alert", require_biller(uow, project.developer).id, alert, now)
            log.warning(
                "escrow overdrawn by a refund",
                bureau_code=project.bureau_code,
                refund_no=row.refund_no,
                balance_fen=book.balance_fen,
            )
        return 1

    def receive_unmatched(
        self,
        bureau_code: str,
        channel: str,
        ref: str,
        amount_fen: int,
        *,
        paid_at: datetime,
        contract_no: str | None = None,
        payer: str = "",
    ) -> EscrowEntry:
        """Money into the supervised account that names no contract of the project (or an
        unknown one): held, alerted and pushed — never dropped, never a buyer's. The same
        transaction again returns the entry booked the first time."""
        if amount_fen <= 0:
            raise InvalidInput(f"amount: must be more than 0.00, not {format_yuan(amount_fen)}")
        if not ref.strip() or len(ref) > 64:
            raise InvalidInput("ref: the transaction reference is 1-64 characters")
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            project = _project(repo, bureau_code, lock=True)
            if contract_no is not None and repo.contract_project(contract_no) == project.id:
                raise Conflict(
                    f"contract {contract_no} exists; pay it through the project's POS or QR"
                )
            known = [e for e in repo.entries(_ppk(project)) if e.kind is EntryKind.HELD]
            for entry in known:
                if (entry.channel, entry.ref) == (channel, ref):
                    return entry
            if repo.has_entry(EntryKind.HELD, channel, ref):
                raise Conflict(f"ref: {channel}/{ref} is held in another project already")
            why = (
                f"no contract {contract_no} in project {bureau_code}"
                if contract_no
                else "no contract named"
            )
            note = f"{why}; payer {payer}" if payer else why
            held = self._book(
                repo,
                project,
                EntryKind.HELD,
                channel,
                ref,
                amount_fen,
                paid_at,
                self._tz(uow, project),
                contract_no=None,
                payment_id=None,
                note=note,
                now=now,
            )
            assert held is not None  # the project row was locked before the check above
            alert = {
                "bureau_code": bureau_code,
                "escrow_account": project.escrow_account_no,
                "held_id": held_id_of(held),
                "channel": channel,
                "ref": ref,
                "amount": format_yuan(amount_fen),
                "amount_fen": amount_fen,
                "reason": why,
            }
            biller = require_biller(uow, project.developer)
            uow.outbox.add("presale.alert", biller.id, alert, now)
            uow.commit()
        log.warning("escrow payment held", bureau_code=bureau_code, ref=ref, reason=why)
        return held

    def assign_held(self, held_id: str, contract_no: str, by: str, reason: str) -> EscrowEntry:
        """Move money held without a contract (``held_id`` is ``<channel>/<ref>``, as the alert
        names it) onto a contract of the same project, once: an ``assign`` entry, received for
        the contract, pushed to the bureau and audited. The held entry itself stays as booked
        and pushed. Refused, changing nothing, when the held money is unknown or assigned
        already, or the contract is unknown or of another project."""
        if not by.strip():
            raise InvalidInput("by: who assigns the held money is required")
        if not reason.strip():
            raise InvalidInput("reason: why the held money belongs to the contract is required")
        channel, _, ref = held_id.partition("/")
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            found = repo.entry(EntryKind.HELD, channel, ref) if ref else None
            if found is None:
                raise NotFound(f"held_id: no money is held as {held_id!r}")
            project_pk, entry = found
            project = next(p for p in repo.projects() if p.id == project_pk)
            project = _project(repo, project.bureau_code, lock=True)
            done = repo.entry(EntryKind.ASSIGN, channel, ref)
            if done is not None:
                raise Conflict(
                    f"held_id: {held_id} was assigned to contract {done[1].contract_no} already"
                )
            owner = repo.contract_project(contract_no)
            if owner is None:
                raise NotFound(f"contract_no: no contract {contract_no!r}")
            if owner != project_pk:
                raise Conflict(
                    f"contract_no: contract {contract_no} is not of project "
                    f"{project.bureau_code}, where {held_id} is held"
                )
            made = self._book(
                repo,
                project,
                EntryKind.ASSIGN,
                channel,
                ref,
                entry.amount_fen,
                now,
                self._tz(uow, project),
                contract_no=contract_no,
                payment_id=None,
                note=reason,
                now=now,
            )
            assert made is not None  # the project row was locked before the check above
            uow.audit.append(
                actor=by,
                action="presale.assign_held",
                target_type="escrow_entry",
                target_id=held_id,
                reason=reason,
                before={"contract_no": None, "held": format_yuan(entry.amount_fen)},
                after={"contract_no": contract_no, "amount": format_yuan(entry.amount_fen)},
                now=now,
            )
            uow.commit()
        log.info("escrow held money assigned", bureau_code=project.bureau_code, held=held_id)
        return made

    def entries(self, bureau_code: str) -> list[EscrowEntry]:
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            return repo.entries(_ppk(_project(repo, bureau_code)))

    def balance(self, bureau_code: str) -> EscrowTotals:
        return totals(self.entries(bureau_code))

    def release(
        self, bureau_code: str, amount_fen: int, *, request_id: str, by: str, reason: str
    ) -> EscrowEntry:
        """Release money to the developer, within the reached stage's limit and the balance.
        Refused with the reason (:class:`ReleaseRefused`), changing nothing; the same request
        id again returns the release made the first time."""
        if not request_id.strip() or len(request_id) > 64:
            raise InvalidInput("request_id: 1-64 characters")
        now = self.engine.clock.now()
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            project = _project(repo, bureau_code, lock=True)
            entries = repo.entries(_ppk(project))
            for entry in entries:
                if entry.kind is EntryKind.RELEASE and entry.ref == request_id:
                    if entry.amount_fen != amount_fen:
                        raise Conflict(
                            f"request_id: release {request_id} was for "
                            f"{format_yuan(entry.amount_fen)}, not {format_yuan(amount_fen)}"
                        )
                    return entry
            tz = self._tz(uow, project)
            today = business_date(now, tz)
            refusal = check_release(
                amount_fen, totals(entries), repo.milestones(_ppk(project)), today
            )
            if refusal is not None:
                log.warning("escrow release refused", bureau_code=bureau_code, code=refusal.code)
                raise ReleaseRefused(refusal.code, refusal.message)
            made = self._book(
                repo,
                project,
                EntryKind.RELEASE,
                RELEASE_CHANNEL,
                request_id,
                amount_fen,
                now,
                tz,
                contract_no=None,
                payment_id=None,
                note=reason,
                now=now,
            )
            assert made is not None  # the project row was locked before the check above
            uow.audit.append(
                actor=by,
                action="presale.release",
                target_type="presale_project",
                target_id=bureau_code,
                reason=reason,
                before=None,
                after={"request_id": request_id, "amount": format_yuan(amount_fen)},
                now=now,
            )
            uow.commit()
        return made

    # -- reports ---------------------------------------------------------------------------
    def daily_report(
        self, bureau_code: str, day: date, out_dir: Path, fmt: str = "csv"
    ) -> list[Path]:
        """The day's escrow report of a project: per contract, and the summary (received,
        released, balance). Writes ``escrow-<bureau code>-<date>.<fmt>`` and
        ``escrow-<bureau code>-<date>-summary.<fmt>``; the same day again gives the same files."""
        kind = export_format(f"x.{fmt}")
        with self.engine.uow() as uow:
            repo = SqlPresale(uow.conn)
            project = _project(repo, bureau_code)
            entries = repo.entries(_ppk(project))
            contracts = repo.contracts(_ppk(project))
        rows = [
            ContractRow(c.contract_no, c.unit_no, c.buyer_masked, c.total_fen) for c in contracts
        ]
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"escrow-{bureau_code}-{day:%Y%m%d}"
        sheets = (
            (out_dir / f"{stem}.{fmt}", contract_sheet(day, rows, entries)),
            (
                out_dir / f"{stem}-summary.{fmt}",
                summary_sheet(day, bureau_code, project.name, project.escrow_account_no, entries),
            ),
        )
        for path, sheet in sheets:
            with path.open("wb") as out:
                write_sheet(sheet, out, kind)
        return [path for path, _ in sheets]

    # -- helpers -----------------------------------------------------------------------------
    def _book(
        self,
        repo: SqlPresale,
        project: Project,
        kind: EntryKind,
        channel: str,
        ref: str,
        amount_fen: int,
        occurred_at: datetime,
        tz: str,
        *,
        contract_no: str | None,
        payment_id: int | None,
        note: str,
        now: datetime,
    ) -> EscrowEntry | None:
        """One ledger entry and its push, numbered next in the project (row locked first);
        ``None`` when the same (kind, channel, ref) is booked already."""
        locked = _project(repo, project.bureau_code, lock=True)
        seq = repo.next_seq(_ppk(locked))
        entry = EscrowEntry(
            seq,
            kind,
            channel,
            ref,
            contract_no,
            amount_fen,
            business_date(occurred_at, tz),
            occurred_at,
            note,
            payment_id,
        )
        entry_pk = repo.add_entry(_ppk(locked), entry)
        if entry_pk is None:  # another process booked it since we looked: nothing to do
            return None
        ident = push_id(project.bureau_code, seq)
        repo.add_push(entry_pk, _ppk(locked), seq, ident, _push_body(ident, project, entry), now)
        return entry

    @staticmethod
    def _tz(uow: SqlUnitOfWork, project: Project) -> str:
        return require_biller(uow, project.developer).timezone


def _push_body(ident: str, project: Project, entry: EscrowEntry) -> str:
    """The push as the bureau receives it: an event envelope like billfold's webhooks."""
    data: dict[str, Any] = {
        "bureau_code": project.bureau_code,
        "escrow_account": project.escrow_account_no,
        "seq": entry.seq,
        "kind": entry.kind.value,
        "contract_no": entry.contract_no,
        "channel": entry.channel,
        "txn_id": entry.ref,
        "amount": format_yuan(entry.amount_fen),
        "amount_fen": entry.amount_fen,
        "business_date": entry.business_date.isoformat(),
        "occurred_at": entry.occurred_at.isoformat(),
    }
    envelope = {
        "id": ident,
        "type": f"presale.{entry.kind.value}",
        "created_at": entry.occurred_at.isoformat(),
        "data": data,
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True)


def _plan(stage: Milestone) -> tuple[str, str, int]:
    return (stage.stage, stage.name, stage.cumulative_bps)


def _same(a: Project, b: Project) -> bool:
    keys = ("project_code", "name", "escrow_bank", "escrow_account_no")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _pk(biller: Biller) -> int:
    assert biller.id is not None
    return biller.id


def _ppk(project: Project) -> int:
    assert project.id is not None
    return project.id


def _project(repo: SqlPresale, bureau_code: str, *, lock: bool = False) -> Project:
    found = repo.project(bureau_code, lock=lock)
    if found is None:
        raise NotFound(f"no supervised project with bureau code {bureau_code!r}")
    return found
