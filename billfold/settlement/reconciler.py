"""Reconciliation use cases: run a statement, resolve what it found, settle the third leg.

:class:`Reconciler` works on an :class:`~billfold.engine.Engine`:

* :meth:`Reconciler.reconcile` — one channel statement for one business date: parsed as it
  streams, loaded in bulk into a staging table, matched with two joins, judged by the pure
  rules, stored as a run with its discrepancies — all in one transaction. The same file
  again returns the stored run and changes nothing; a corrected file makes a new revision
  and supersedes the earlier run, with an audit record. Then the common case resolves
  itself: a success the engine never heard of is confirmed through ``engine.confirm`` (the
  one exactly-once path), which credits the order or, if the order is gone, keeps the
  money in suspense and queues its refund.
* :meth:`Reconciler.resolve` — close a discrepancy with an action, recording who, when, why.
* :meth:`Reconciler.reconcile_bank` and :meth:`Reconciler.in_transit` — the bank leg.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import structlog

from billfold.adapters.db.recon import SqlRecon
from billfold.adapters.db.statement_ingest import ParseRequest, ingest
from billfold.adapters.db.statement_stage import create_stage, drop_stage, index_stage
from billfold.adapters.db.uow import SqlUnitOfWork
from billfold.clock import DEFAULT_TZ, end_of_business_day, start_of_business_day
from billfold.collection.journal import JournalEntry, Posting, clearing
from billfold.engine import Engine
from billfold.errors import BillfoldError, InvalidInput, NotFound
from billfold.money import format_yuan
from billfold.settlement.banking import (
    DEFAULT_ROUTES,
    BankMatch,
    InTransit,
    MatchStatus,
    Route,
    in_transit,
    match_credits,
    settlement_entry,
)
from billfold.settlement.discrepancy import (
    BANK,
    CHANNEL_FEES,
    Action,
    Code,
    Discrepancy,
    DiscrepancyStatus,
    check_action,
    write_off_entry,
)
from billfold.settlement.parsers import PARSERS, OnError, parse
from billfold.settlement.reconcile import (
    EnginePayment,
    EngineRefund,
    RunContext,
    StatementTotals,
    classify_payment,
    classify_refund,
    engine_only_payment,
    engine_only_refund,
    statement_totals,
    unreadable,
)
from billfold.settlement.run import ReconRun, RunKind
from billfold.settlement.statement import Direction, LineStatus, LineType, StatementLine

__all__ = ["Reconciler", "RunResult", "Source"]

log = structlog.get_logger("billfold.settlement")

#: A statement: a path to read (twice: once to fingerprint it) or its bytes.
Source = Path | bytes
AUTO = "billfold"
_AUTO_REASONS = {
    Action.CREDIT: "automatic: the channel reported a success the engine never heard of",
    Action.COMPLETE_REFUND: "automatic: the channel's statement shows the refund paid out",
}
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class RunResult:
    run: ReconRun
    created: bool  # False: this very file had been reconciled for the slot already
    discrepancies: list[Discrepancy] = field(default_factory=list)
    replaced: ReconRun | None = None
    auto_resolved: list[Discrepancy] = field(default_factory=list)


def _fingerprint(source: Source) -> tuple[str, str]:
    digest = hashlib.sha256()
    if isinstance(source, bytes):
        digest.update(source)
        return digest.hexdigest(), "<bytes>"
    with source.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest(), source.name


def _chunks(source: Source, progress: Callable[[int], object] | None) -> Iterator[bytes]:
    if isinstance(source, bytes):
        for i in range(0, len(source), _CHUNK):
            block = source[i : i + _CHUNK]
            if progress:
                progress(len(block))
            yield block
        return
    with source.open("rb") as handle:
        while block := handle.read(_CHUNK):
            if progress:
                progress(len(block))
            yield block


def _payment_key(line: StatementLine) -> str:
    return line.channel_txn_id


def _refund_key(line: StatementLine) -> str:
    return line.refund_id or line.channel_txn_id


class Reconciler:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _uow(self) -> SqlUnitOfWork:
        return self.engine.uow()

    # -- channel statements -------------------------------------------------------------------
    def reconcile(
        self,
        source: Source,
        *,
        format: str,
        business_date: date,
        channel: str | None = None,
        merchant_id: str | None = None,
        file_name: str | None = None,
        column_map: Mapping[str, Any] | None = None,
        encoding: str | None = None,
        check_fees: bool | None = None,
        on_error: OnError = "quarantine",
        actor: str = AUTO,
        reason: str = "",
        auto_resolve: bool = True,
        progress: Callable[[int], object] | None = None,
        workers: int | None = None,
    ) -> RunResult:
        """Reconcile one channel statement for ``business_date`` (see the module docs).

        ``check_fees`` defaults to yes, except for a generic CSV without a fee column.
        Lines the parser cannot read become ``unreadable_line`` discrepancies
        (``on_error="quarantine"``) or refuse the whole file (``"reject"``). A big file
        given as a path is parsed by ``workers`` processes (default: the CPUs, at most 4;
        ``1`` keeps it in this process; see :mod:`billfold.adapters.db.statement_ingest`).
        """
        spec = PARSERS.get(format)
        if spec is None:
            known = ", ".join(sorted(PARSERS))
            raise InvalidInput(f"format: unknown statement format {format!r}; known: {known}")
        if format in ("camt053", "camt054", "mt940"):
            raise InvalidInput(
                f"format: {format} is a bank statement; reconcile it with reconcile_bank"
            )
        channel = channel or spec.default_channel
        if check_fees is None:
            columns = dict((column_map or {}).get("columns") or {}) | dict(column_map or {})
            check_fees = format != "generic-csv" or "fee" in columns
        sha, default_name = _fingerprint(source)
        name = file_name or default_name
        with self._uow() as uow:
            seen = SqlRecon(uow.conn).current_with_file(
                RunKind.CHANNEL, channel, business_date, sha
            )
        if seen is not None and merchant_id in (None, seen.merchant_id):
            return self._existing(seen)
        now = self.engine.clock.now()
        with self._uow() as uow:
            recon = SqlRecon(uow.conn)
            create_stage(uow.conn)
            request = ParseRequest(format, channel, name, on_error, encoding, column_map)
            errors = ingest(
                uow.conn,
                source,
                lambda: _chunks(source, progress),
                request,
                workers=workers,
                progress=progress,
            )
            index_stage(uow.conn)
            merchant = self._merchant(recon, channel, merchant_id)
            tz = self._timezone(recon, channel, merchant)
            recon.lock_slot(RunKind.CHANNEL, channel, merchant, business_date)
            current = recon.current_run(RunKind.CHANNEL, channel, merchant, business_date)
            if current is not None and current.file_sha256 == sha:
                uow.rollback()
                return self._existing(current)
            ctx = RunContext(channel, business_date, check_fees)
            totals = statement_totals(recon.stage_totals())
            found, matched_count, matched_fen = self._match(recon, ctx, merchant, tz, name, totals)
            found.extend(unreadable(error, channel) for error in errors)
            engine_count, engine_fen = recon.engine_totals(channel, merchant, business_date)
            revision = recon.next_revision(RunKind.CHANNEL, channel, merchant, business_date)
            run_id = recon.insert_run(
                _run_values(
                    RunKind.CHANNEL,
                    channel,
                    merchant,
                    business_date,
                    revision,
                    format,
                    name,
                    sha,
                    tz,
                    check_fees,
                    totals,
                    len(errors),
                    (matched_count, matched_fen, engine_count, engine_fen, len(found)),
                    actor,
                    now,
                )
            )
            recon.insert_discrepancies(run_id, found, now, AUTO)
            if current is not None:
                self._replace(uow, recon, current, run_id, actor, reason, now)
            self._close_found_elsewhere(recon, uow, found, actor, now)
            drop_stage(uow.conn)
            run = recon.run(run_id)
            stored = recon.discrepancies(run_id=run_id)
            uow.commit()
        assert run is not None
        log.info(
            "statement reconciled",
            slot=run.slot,
            revision=run.revision,
            lines=totals.line_count,
            matched=matched_count,
            discrepancies=len(found),
        )
        auto = self.auto_resolve(run.id) if auto_resolve else []
        return RunResult(run, True, stored, current, auto)

    def _existing(self, run: ReconRun) -> RunResult:
        with self._uow() as uow:
            stored = SqlRecon(uow.conn).discrepancies(run_id=run.id)
        return RunResult(run, False, stored)

    def _merchant(self, recon: SqlRecon, channel: str, given: str | None) -> str:
        if given is not None:
            if given and not recon.merchant_billers(channel, given):
                raise InvalidInput(
                    f"merchant: no biller takes {channel} under merchant id {given!r}; "
                    "set it in the biller's channel configuration"
                )
            return given
        seen = recon.stage_merchants()
        if len(seen) == 1 and recon.merchant_billers(channel, seen[0]):
            return seen[0]
        return ""

    def _timezone(self, recon: SqlRecon, channel: str, merchant: str) -> str:
        zones = (
            sorted({tz for _, tz in recon.merchant_billers(channel, merchant)})
            if merchant
            else recon.timezones()
        )
        return zones[0] if len(zones) == 1 else DEFAULT_TZ

    def _match(
        self,
        recon: SqlRecon,
        ctx: RunContext,
        merchant: str,
        tz: str,
        source_file: str,
        totals: StatementTotals,
    ) -> tuple[list[Discrepancy], int, int]:
        found: list[Discrepancy] = []
        groups: dict[str, list[StatementLine]] = defaultdict(list)
        payments: dict[str, EnginePayment | None] = {}
        for line, payment in recon.payment_exceptions(
            ctx.channel, ctx.business_date, ctx.check_fees, source_file
        ):
            groups[_payment_key(line)].append(line)
            payments[_payment_key(line)] = payment
        unclean = [
            line
            for lines in groups.values()
            for line in lines
            if line.type is LineType.PAYMENT and line.status is LineStatus.SUCCESS
        ]
        matched_count = totals.payment_count - len(unclean)
        matched_fen = totals.payment_fen - sum(line.amount_fen for line in unclean)
        for key, lines in groups.items():
            verdict = classify_payment(lines, payments[key], ctx)
            found.extend(verdict.discrepancies)
            matched_count += int(verdict.matched)
            matched_fen += verdict.matched_fen
        missing = recon.engine_only_payments(ctx.channel, merchant, ctx.business_date)
        claimed = recon.claimed_elsewhere([p.id for p in missing], None)
        found.extend(engine_only_payment(p, ctx) for p in missing if p.id not in claimed)
        refund_found, refund_matched = self._match_refunds(recon, ctx, merchant, tz, source_file)
        return found + refund_found, matched_count + refund_matched, matched_fen

    def _match_refunds(
        self, recon: SqlRecon, ctx: RunContext, merchant: str, tz: str, source_file: str
    ) -> tuple[list[Discrepancy], int]:
        lines = recon.refund_lines(ctx.channel, source_file)
        groups: dict[str, list[StatementLine]] = defaultdict(list)
        for line in lines:
            groups[_refund_key(line)].append(line)
        known = recon.engine_refunds(
            ctx.channel,
            [line.refund_id for line in lines if line.refund_id],
            [line.channel_txn_id for line in lines],
        )
        by_no = {r.refund_no: r for r in known}
        by_channel_id = {r.channel_refund_id: r for r in known if r.channel_refund_id}
        found: list[Discrepancy] = []
        seen: set[int] = set()
        matched = 0
        for group in groups.values():
            first = group[0]
            refund: EngineRefund | None = by_no.get(first.refund_id or "") or by_channel_id.get(
                first.channel_txn_id
            )
            if refund is not None:
                seen.add(refund.id)
            verdict = classify_refund(group, refund, ctx)
            found.extend(verdict.discrepancies)
            matched += int(verdict.matched)
        start = start_of_business_day(ctx.business_date, tz)
        end = end_of_business_day(ctx.business_date, tz)
        for refund in recon.engine_only_refunds(ctx.channel, merchant, start, end):
            if refund.id not in seen:
                found.append(engine_only_refund(refund, ctx))
        return found, matched

    def _replace(
        self,
        uow: SqlUnitOfWork,
        recon: SqlRecon,
        old: ReconRun,
        new_id: int,
        actor: str,
        reason: str,
        now: Any,
    ) -> None:
        superseded = recon.supersede(old.id, new_id, now)
        new = recon.run(new_id)
        assert new is not None
        uow.audit.append(
            actor=actor,
            action="reconcile_replace",
            target_type="recon_run",
            target_id=old.slot[:64],
            reason=reason or "a corrected statement file replaces the earlier one",
            before={
                "run_id": old.id,
                "revision": old.revision,
                "file": old.file_name,
                "sha256": old.file_sha256,
                "net": format_yuan(old.totals.net_fen),
                "discrepancies": old.discrepancy_count,
                "open_discrepancies_superseded": superseded,
            },
            after={
                "run_id": new.id,
                "revision": new.revision,
                "file": new.file_name,
                "sha256": new.file_sha256,
                "net": format_yuan(new.totals.net_fen),
                "discrepancies": new.discrepancy_count,
            },
            now=now,
        )

    def _close_found_elsewhere(
        self,
        recon: SqlRecon,
        uow: SqlUnitOfWork,
        found: Sequence[Discrepancy],
        actor: str,
        now: Any,
    ) -> None:
        """A payment matched across days closes the 短款 another day's run reported for it."""
        for d in found:
            if d.code is not Code.CROSS_DAY or d.payment_id is None:
                continue
            for missing in recon.open_engine_only(d.payment_id):
                assert missing.id is not None
                why = f"found in {d.source} (the statement for another business date)"
                if recon.resolve(missing.id, action=Action.ACCEPT, by=AUTO, at=now, reason=why):
                    self._audit(uow, missing, Action.ACCEPT, AUTO, why, None, now)

    # -- resolving ----------------------------------------------------------------------------
    def discrepancy(self, discrepancy_id: int) -> Discrepancy:
        with self._uow() as uow:
            found = SqlRecon(uow.conn).discrepancy(discrepancy_id)
        if found is None:
            raise NotFound(f"discrepancy {discrepancy_id} does not exist")
        return found

    def discrepancies(
        self,
        *,
        run_id: int | None = None,
        status: DiscrepancyStatus | None = None,
        code: Code | None = None,
    ) -> list[Discrepancy]:
        with self._uow() as uow:
            return SqlRecon(uow.conn).discrepancies(run_id=run_id, status=status, code=code)

    def run(self, run_id: int) -> ReconRun:
        with self._uow() as uow:
            found = SqlRecon(uow.conn).run(run_id)
        if found is None:
            raise NotFound(f"reconciliation run {run_id} does not exist")
        return found

    def runs(
        self,
        *,
        kind: RunKind | None = None,
        channel: str | None = None,
        business_date: date | None = None,
        current_only: bool = False,
    ) -> list[ReconRun]:
        with self._uow() as uow:
            return SqlRecon(uow.conn).runs(
                kind=kind, channel=channel, day=business_date, current_only=current_only
            )

    def auto_resolve(self, run_id: int) -> list[Discrepancy]:
        """Resolve what billfold may resolve alone (late credits, refunds paid out)."""
        with self._uow() as uow:
            pending = SqlRecon(uow.conn).discrepancies(
                run_id=run_id, status=DiscrepancyStatus.OPEN, auto_only=True
            )
        done: list[Discrepancy] = []
        for d in pending:
            assert d.auto_action is not None and d.id is not None
            why = _AUTO_REASONS.get(d.auto_action, "automatic")
            try:
                done.append(self.resolve(d.id, d.auto_action, by=AUTO, reason=why))
            except BillfoldError as exc:
                log.warning("automatic resolution failed", discrepancy=d.id, error=exc.message)
        return done

    def resolve(
        self,
        discrepancy_id: int,
        action: Action,
        *,
        by: str,
        reason: str,
        amount_fen: int | None = None,
    ) -> Discrepancy:
        """Close an open discrepancy with ``action``; who, when and why are recorded and
        audited. Money moves only through the engine's own paths (confirm, refund,
        reverse, complete_refund) or, for a write-off, one balanced journal entry."""
        d = self.discrepancy(discrepancy_id)
        check_action(d, action, by, reason)
        ref: str | None = None
        payment_id: int | None = None
        note = reason
        if action is Action.CREDIT:
            payment_id, ref, note = self._credit(d, reason)
        elif action is Action.REFUND:
            ref, note = self._refund(d, by, reason, amount_fen)
        elif action is Action.REVERSE:
            ref, note = self._reverse(d, by, reason)
        elif action is Action.COMPLETE_REFUND:
            ref, note = self._complete_refund(d, reason)
        now = self.engine.clock.now()
        with self._uow() as uow:
            recon = SqlRecon(uow.conn)
            if action is Action.WRITE_OFF:
                account = BANK if d.code is Code.UNEXPLAINED_CREDIT else clearing(d.channel)
                uow.journal.post([write_off_entry(d, account)], now)
                ref = f"write-off {format_yuan(d.difference_fen)} to {account}"
            if not recon.resolve(
                discrepancy_id,
                action=action,
                by=by,
                at=now,
                reason=note,
                ref=ref,
                payment_id=payment_id,
            ):
                uow.rollback()
                again = recon.discrepancy(discrepancy_id)
                assert again is not None
                return again
            self._audit(uow, d, action, by, note, ref, now)
            closed = recon.discrepancy(discrepancy_id)
            uow.commit()
        assert closed is not None
        return closed

    def _audit(
        self,
        uow: SqlUnitOfWork,
        d: Discrepancy,
        action: Action,
        by: str,
        reason: str,
        ref: str | None,
        now: Any,
    ) -> None:
        uow.audit.append(
            actor=by,
            action="resolve_discrepancy",
            target_type="discrepancy",
            target_id=str(d.id),
            reason=reason,
            before={"status": d.status.value, "code": d.code.value, "source": d.source},
            after={"status": DiscrepancyStatus.RESOLVED.value, "action": action.value, "ref": ref},
            now=now,
        )

    def _credit(self, d: Discrepancy, reason: str) -> tuple[int, str, str]:
        if not d.order_no or not d.channel_txn_id or not d.line_amount_fen:
            raise InvalidInput(
                f"action: discrepancy {d.id} names no order and amount to credit; "
                "the statement line lacks them"
            )
        result = self.engine.confirm(
            d.channel,
            d.channel_txn_id,
            d.order_no,
            d.line_amount_fen,
            paid_at=d.occurred_at,
            currency=d.currency,
        )
        payment = result.payment
        if result.credited:
            outcome = f"credited order {d.order_no} (payment {payment.id})"
        elif payment.status.value == "suspense":
            outcome = (
                f"order {d.order_no} cannot take it ({payment.reason}): kept in suspense "
                f"as payment {payment.id}, its refund queued"
            )
        else:
            outcome = f"payment {payment.id} is {payment.status.value} ({payment.reason})"
        return payment.id, f"payment {payment.id}", f"{reason}; {outcome}"

    def _refund(
        self, d: Discrepancy, by: str, reason: str, amount_fen: int | None
    ) -> tuple[str, str]:
        if d.payment_id is None:
            raise InvalidInput(
                f"action: discrepancy {d.id} has no engine payment to refund; credit it first"
            )
        payment = self.engine.payment(d.payment_id)
        amount = payment.refundable_fen if amount_fen is None else amount_fen
        refund = self.engine.refund(
            payment.id, amount, request_id=f"recon-{d.id}", reason=reason, requested_by=by
        )
        return refund.refund_no, f"{reason}; refund {refund.refund_no} of {format_yuan(amount)}"

    def _reverse(self, d: Discrepancy, by: str, reason: str) -> tuple[str, str]:
        if not d.channel_txn_id:
            raise InvalidInput(f"action: discrepancy {d.id} names no transaction to reverse")
        record = self.engine.reverse(
            d.channel, d.channel_txn_id, reason=reason, requested_by=by, order_no=d.order_no or ""
        )
        return f"payment {record.id}", f"{reason}; payment {record.id} reversed"

    def _complete_refund(self, d: Discrepancy, reason: str) -> tuple[str, str]:
        if not d.refund_no:
            raise InvalidInput(f"action: discrepancy {d.id} names no refund to complete")
        refund = self.engine.complete_refund(
            d.refund_no, succeeded=True, channel_refund_id=d.channel_txn_id
        )
        return refund.refund_no, f"{reason}; refund {refund.refund_no} {refund.status.value}"

    # -- the bank leg -------------------------------------------------------------------------
    def reconcile_bank(
        self,
        source: Source,
        *,
        format: str,
        business_date: date,
        routes: Sequence[Route] = DEFAULT_ROUTES,
        file_name: str | None = None,
        encoding: str | None = None,
        on_error: OnError = "reject",
        actor: str = AUTO,
        reason: str = "",
    ) -> RunResult:
        """Match each channel's credit on a bank statement to the net its statement
        promised; post what arrived (Dr bank, Dr channel fees, Cr clearing)."""
        if format not in ("camt053", "camt054", "mt940"):
            raise InvalidInput(
                f"format: {format} is not a bank statement (camt053, camt054, mt940)"
            )
        sha, default_name = _fingerprint(source)
        name = file_name or default_name
        reader = parse(
            _chunks(source, None), format, source_file=name, on_error=on_error, encoding=encoding
        )
        lines = list(reader)
        accounts = sorted({line.merchant_id for line in lines if line.merchant_id})
        account = accounts[0] if len(accounts) == 1 else ""
        now = self.engine.clock.now()
        with self._uow() as uow:
            recon = SqlRecon(uow.conn)
            recon.lock_slot(RunKind.BANK, "bank", account, business_date)
            current = recon.current_run(RunKind.BANK, "bank", account, business_date)
            if current is not None and current.file_sha256 == sha:
                uow.rollback()
                return self._existing(current)
            promises = recon.open_promises(
                business_date, exclude_bank_run=current.id if current else None
            )
            matches, found = match_credits(lines, promises, routes, tz=DEFAULT_TZ)
            found.extend(unreadable(error, "bank") for error in reader.errors)
            totals = _bank_totals(lines)
            settled = [m for m in matches if m.status is MatchStatus.SETTLED]
            revision = recon.next_revision(RunKind.BANK, "bank", account, business_date)
            run_id = recon.insert_run(
                _run_values(
                    RunKind.BANK,
                    "bank",
                    account,
                    business_date,
                    revision,
                    format,
                    name,
                    sha,
                    DEFAULT_TZ,
                    False,
                    totals,
                    len(reader.errors),
                    (
                        len(settled),
                        sum(m.line.amount_fen for m in settled),
                        len(promises),
                        sum(p.net_fen for p in promises),
                        len(found),
                    ),
                    actor,
                    now,
                )
            )
            recon.insert_bank_settlements([_settlement_row(run_id, m) for m in matches])
            entries = [e for e in (settlement_entry(m) for m in matches) if e is not None]
            if current is not None:
                entries.extend(_undo_settlements(recon.bank_settlements(current.id)))
                self._replace(uow, recon, current, run_id, actor, reason, now)
            if entries:
                uow.journal.post(entries, now)
            recon.insert_discrepancies(run_id, found, now, AUTO)
            run = recon.run(run_id)
            stored = recon.discrepancies(run_id=run_id)
            uow.commit()
        assert run is not None
        return RunResult(run, True, stored, current)

    def in_transit(self, as_of: date) -> list[InTransit]:
        """在途资金: what reconciled channel statements promised and no bank credit settled."""
        with self._uow() as uow:
            promises = SqlRecon(uow.conn).open_promises(as_of)
        return in_transit(promises, as_of)

    def settlements(self, bank_run_id: int) -> list[dict[str, Any]]:
        with self._uow() as uow:
            return [dict(row._mapping) for row in SqlRecon(uow.conn).bank_settlements(bank_run_id)]


def _run_values(
    kind: RunKind,
    channel: str,
    merchant: str,
    day: date,
    revision: int,
    format: str,
    name: str,
    sha: str,
    tz: str,
    check_fees: bool,
    totals: StatementTotals,
    quarantined: int,
    counts: tuple[int, int, int, int, int],
    actor: str,
    now: Any,
) -> dict[str, Any]:
    matched_count, matched_fen, engine_count, engine_fen, found = counts
    return {
        "kind": kind.value,
        "channel": channel,
        "merchant_id": merchant,
        "business_date": day,
        "revision": revision,
        "status": "current",
        "format": format,
        "file_name": name[:255],
        "file_sha256": sha,
        "timezone": tz,
        "check_fees": check_fees,
        "line_count": totals.line_count + quarantined,
        "quarantined": quarantined,
        "payment_count": totals.payment_count,
        "payment_fen": totals.payment_fen,
        "refund_count": totals.refund_count,
        "refund_fen": totals.refund_fen,
        "fee_fen": totals.fee_fen,
        "net_fen": totals.net_fen,
        "matched_count": matched_count,
        "matched_fen": matched_fen,
        "engine_count": engine_count,
        "engine_fen": engine_fen,
        "discrepancy_count": found,
        "created_by": actor[:100],
        "created_at": now,
    }


def _bank_totals(lines: Sequence[StatementLine]) -> StatementTotals:
    booked = [ln for ln in lines if ln.status is LineStatus.SUCCESS]
    credits = [ln for ln in booked if ln.direction is Direction.CREDIT]
    debits = [ln for ln in booked if ln.direction is not Direction.CREDIT]
    fees = sum(ln.amount_fen for ln in debits if ln.type is LineType.FEE)
    credit_fen = sum(ln.amount_fen for ln in credits)
    debit_fen = sum(ln.amount_fen for ln in debits)
    return StatementTotals(
        line_count=len(lines),
        payment_count=len(credits),
        payment_fen=credit_fen,
        refund_count=len(debits),
        refund_fen=debit_fen,
        fee_fen=fees,
        net_fen=credit_fen - debit_fen,
    )


def _settlement_row(run_id: int, match: BankMatch) -> dict[str, Any]:
    promise = match.promise
    return {
        "bank_run_id": run_id,
        "channel_run_id": promise.run_id if promise else None,
        "channel": match.channel,
        "settles_date": promise.business_date if promise else None,
        "status": match.status.value,
        "expected_fen": promise.net_fen if promise else None,
        "received_fen": match.line.amount_fen,
        "fee_fen": promise.fee_fen if promise else 0,
        "bank_ref": match.line.channel_txn_id[:64],
        "source_file": match.line.source_file[:255],
        "source_line": match.line.source_line,
        "booked_at": match.line.occurred_at,
    }


def _undo_settlements(rows: Sequence[Any]) -> list[JournalEntry]:
    """Take back what a superseded bank run posted (its replacement posts afresh)."""
    undo: list[JournalEntry] = []
    for row in rows:
        if row.channel_run_id is None or row.channel is None:
            continue
        received, fees = int(row.received_fen), int(row.fee_fen)
        undo.append(
            JournalEntry.build(
                "channel_settlement_undone",
                [
                    Posting(BANK, -received),
                    Posting(CHANNEL_FEES, -fees),
                    Posting(clearing(row.channel), received + fees),
                ],
                memo=f"{row.channel} settlement {row.bank_ref} replaced by a corrected statement",
            )
        )
    return undo
