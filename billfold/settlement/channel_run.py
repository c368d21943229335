"""A channel statement reconciled for one business date, in one transaction.

The statement is parsed and staged (the :class:`~billfold.settlement.ports.StatementStaging`
port: loaded in bulk into the run's staging table, or — a big bill read column by column —
kept as a frame beside the day's payments), its scope settled
(:mod:`~billfold.settlement.scope`), matched in bulk (two joins), judged by the
pure rules (:mod:`~billfold.settlement.reconcile`) and stored as a run with its
discrepancies. The same file again returns the stored run and changes nothing; a corrected
file makes a new revision and supersedes the earlier run, with an audit record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog

from billfold.clock import end_of_business_day, start_of_business_day
from billfold.collection.ports import Runtime
from billfold.errors import InvalidInput, InvariantViolated
from billfold.settlement.discrepancy import Action, Code, Discrepancy
from billfold.settlement.parsers import PARSERS, OnError, ParserSpec
from billfold.settlement.ports import ReconRepository, SettlementUnitOfWork, StatementStaging
from billfold.settlement.reconcile import (
    EnginePayment,
    EngineRefund,
    RunContext,
    classify_payment,
    classify_refund,
    engine_only_payment,
    engine_only_refund,
    statement_totals,
    unreadable,
)
from billfold.settlement.run import ReconRun, RunKind
from billfold.settlement.run_record import (
    AUTO,
    RunFigures,
    RunHeader,
    RunResult,
    audit_resolution,
    record_replacement,
    run_values,
)
from billfold.settlement.scope import run_scope
from billfold.settlement.source import ParseRequest, Progress, Source, fingerprint, source_name
from billfold.settlement.statement import LineError, LineStatus, LineType, StatementLine
from billfold.settlement.totals import StatementTotals

__all__ = ["BANK_FORMATS", "ChannelStatement", "existing_run", "reconcile_channel"]

log = structlog.get_logger("billfold.settlement")

BANK_FORMATS = ("camt053", "camt054", "mt940")


@dataclass(frozen=True, slots=True)
class ChannelStatement:
    """One channel statement to reconcile, and how (see :meth:`Reconciler.reconcile`)."""

    source: Source
    format: str
    business_date: date
    channel: str | None = None
    merchant_id: str | None = None
    file_name: str | None = None
    column_map: Mapping[str, Any] | None = None
    encoding: str | None = None
    check_fees: bool | None = None
    on_error: OnError = "quarantine"
    actor: str = AUTO
    reason: str = ""
    progress: Progress | None = None
    workers: int | None = None


def _parser(format: str) -> ParserSpec:
    spec = PARSERS.get(format)
    if spec is None:
        known = ", ".join(sorted(PARSERS))
        raise InvalidInput(f"format: unknown statement format {format!r}; known: {known}")
    if format in BANK_FORMATS:
        raise InvalidInput(
            f"format: {format} is a bank statement; reconcile it with reconcile_bank"
        )
    return spec


def _checks_fees(statement: ChannelStatement) -> bool:
    """Fees are compared unless told otherwise — except for a generic CSV without a fee column."""
    if statement.check_fees is not None:
        return statement.check_fees
    mapping = statement.column_map or {}
    columns = dict(mapping.get("columns") or {}) | dict(mapping)
    return statement.format != "generic-csv" or "fee" in columns


def existing_run(runtime: Runtime[SettlementUnitOfWork], run: ReconRun) -> RunResult:
    with runtime.uow() as uow:
        stored = uow.recon.discrepancies(run_id=run.id)
    return RunResult(run, False, stored)


def reconcile_channel(
    runtime: Runtime[SettlementUnitOfWork], statement: ChannelStatement
) -> RunResult:
    """Reconcile ``statement`` (see the module docs); nothing is resolved here."""
    spec = _parser(statement.format)
    channel = statement.channel or spec.default_channel
    day = statement.business_date
    with ThreadPoolExecutor(1, thread_name_prefix="recon-sha") as pool:
        # the file's fingerprint (hashlib releases the GIL) while its first run of the day
        # reads it; when the day has a run, the same file again is answered before reading
        hashing = pool.submit(fingerprint, statement.source)
        with runtime.uow() as uow:
            known = uow.recon.any_current(RunKind.CHANNEL, channel, day)
        if known:
            sha, _ = hashing.result()
            with runtime.uow() as uow:
                seen = uow.recon.current_with_file(RunKind.CHANNEL, channel, day, sha)
            if seen is not None and statement.merchant_id in (None, seen.merchant_id):
                return existing_run(runtime, seen)
        return _reconcile(runtime, statement, channel, hashing)


def _reconcile(
    runtime: Runtime[SettlementUnitOfWork],
    statement: ChannelStatement,
    channel: str,
    hashing: Future[tuple[str, str]],
) -> RunResult:
    """Stage, match and store the statement: a new run, unless the slot's current run is
    of the same file."""
    day = statement.business_date
    now = runtime.clock.now()
    name = statement.file_name or source_name(statement.source)
    with runtime.uow() as uow:
        errors = _stage(uow, statement, channel, name)
        sha, _ = hashing.result()
        summary = uow.statements.summary()
        paying = uow.statements.paying_billers()
        scope = run_scope(uow.recon, channel, day, statement.merchant_id, summary.merchants, paying)
        head = RunHeader(
            RunKind.CHANNEL, channel, scope.merchant, day, statement.format, name, sha,
            scope.timezone, _checks_fees(statement),
        )  # fmt: skip
        uow.recon.lock_slot(RunKind.CHANNEL, channel, scope.merchant, day)
        current = uow.recon.current_run(RunKind.CHANNEL, channel, scope.merchant, day)
        if current is not None and current.file_sha256 == sha:
            uow.rollback()
            return existing_run(runtime, current)
        result = _store(
            uow, head, errors, statement_totals(summary.groups), current, statement, now
        )
        uow.commit()
    log.info(
        "statement reconciled",
        slot=result.run.slot,
        revision=result.run.revision,
        lines=result.run.totals.line_count,
        matched=result.run.matched_count,
        discrepancies=len(result.discrepancies),
    )
    return result


def _stage(
    uow: SettlementUnitOfWork, statement: ChannelStatement, channel: str, name: str
) -> list[LineError]:
    """Stage the statement for matching; returns the quarantined lines."""
    request = ParseRequest(
        statement.format,
        channel,
        name,
        statement.on_error,
        statement.encoding,
        statement.column_map,
    )
    return uow.statements.stage(
        statement.source,
        request,
        day=statement.business_date,
        workers=statement.workers,
        progress=statement.progress,
    )


def _store(
    uow: SettlementUnitOfWork,
    head: RunHeader,
    errors: Sequence[LineError],
    totals: StatementTotals,
    current: ReconRun | None,
    statement: ChannelStatement,
    now: datetime,
) -> RunResult:
    """Match the staged statement, judge it, and store the run with what it found."""
    recon = uow.recon
    ctx = RunContext(head.channel, head.day, head.check_fees)
    found, matched_count, matched_fen = _match(uow, ctx, head, totals)
    found.extend(unreadable(error, head.channel) for error in errors)
    engine_count, engine_fen = uow.statements.engine_totals(head.channel, head.merchant, head.day)
    figures = RunFigures(
        totals, len(errors), matched_count, matched_fen, engine_count, engine_fen, len(found)
    )
    revision = recon.next_revision(RunKind.CHANNEL, head.channel, head.merchant, head.day)
    run_id = recon.insert_run(run_values(head, revision, figures, statement.actor, now))
    recon.insert_discrepancies(run_id, found, now, AUTO)
    if current is not None:
        record_replacement(uow, current, run_id, statement.actor, statement.reason, now)
    _close_found_elsewhere(uow, found, now)
    uow.statements.unstage()
    run = recon.run(run_id)
    if run is None:
        raise InvariantViolated("run is missing")
    return RunResult(run, True, recon.discrepancies(run_id=run_id), current)


def _match(
    uow: SettlementUnitOfWork, ctx: RunContext, head: RunHeader, totals: StatementTotals
) -> tuple[list[Discrepancy], int, int]:
    """Every finding of the run, and how many lines (and how much) matched."""
    recon, staged = uow.recon, uow.statements
    groups: dict[str, list[StatementLine]] = defaultdict(list)
    payments: dict[str, EnginePayment | None] = {}
    for line, payment in staged.payment_exceptions(
        ctx.channel, ctx.business_date, ctx.check_fees, head.name
    ):
        groups[line.channel_txn_id].append(line)
        payments[line.channel_txn_id] = payment
    unclean = [
        line
        for lines in groups.values()
        for line in lines
        if line.type is LineType.PAYMENT and line.status is LineStatus.SUCCESS
    ]
    matched_count = totals.payment_count - len(unclean)
    matched_fen = totals.payment_fen - sum(line.amount_fen for line in unclean)
    found: list[Discrepancy] = []
    for key, lines in groups.items():
        verdict = classify_payment(lines, payments[key], ctx)
        found.extend(verdict.discrepancies)
        matched_count += int(verdict.matched)
        matched_fen += verdict.matched_fen
    missing = staged.engine_only_payments(ctx.channel, head.merchant, ctx.business_date)
    claimed = recon.claimed_elsewhere([p.id for p in missing], None)
    found.extend(engine_only_payment(p, ctx) for p in missing if p.id not in claimed)
    refund_found, refund_matched = _match_refunds(recon, staged, ctx, head)
    return found + refund_found, matched_count + refund_matched, matched_fen


def _match_refunds(
    recon: ReconRepository, staged: StatementStaging, ctx: RunContext, head: RunHeader
) -> tuple[list[Discrepancy], int]:
    lines = staged.refund_lines(ctx.channel, head.name)
    groups: dict[str, list[StatementLine]] = defaultdict(list)
    for line in lines:
        groups[line.refund_id or line.channel_txn_id].append(line)
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
    start = start_of_business_day(ctx.business_date, head.tz)
    end = end_of_business_day(ctx.business_date, head.tz)
    for paid_out in recon.engine_only_refunds(ctx.channel, head.merchant, start, end):
        if paid_out.id not in seen:
            found.append(engine_only_refund(paid_out, ctx))
    return found, matched


def _close_found_elsewhere(
    uow: SettlementUnitOfWork, found: Sequence[Discrepancy], now: datetime
) -> None:
    """A payment matched across days closes the 短款 another day's run reported for it."""
    for d in found:
        if d.code is not Code.CROSS_DAY or d.payment_id is None:
            continue
        for missing in uow.recon.open_engine_only(d.payment_id):
            if missing.id is None:
                raise InvariantViolated("missing.id is missing")
            why = f"found in {d.source} (the statement for another business date)"
            if uow.recon.resolve(missing.id, action=Action.ACCEPT, by=AUTO, at=now, reason=why):
                audit_resolution(uow, missing, Action.ACCEPT, AUTO, why, None, now)
