"""The background duties ``billfold worker`` runs, as plain calls into the engine and desks.

Each duty is one method of :class:`Duties`, returns a small JSON-able summary (logged by
the runner) and is **safe to run twice, or on two workers at once**: the work it does is
claimed in the database (``FOR UPDATE SKIP LOCKED``, leases, conditional updates, locked
slots), never in this process. Whatever runs the duties — procrastinate's workers
(:mod:`billfold.adapters.jobs`) or the single-machine loop (:mod:`billfold.jobs.loop`) —
calls the same methods; nothing here knows about procrastinate.

A duty that lacks what it needs (no channels for the requery, no watched folder) does
nothing and says why in its summary.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import structlog

from billfold.adapters.outbox import dispatcher as outbox
from billfold.adapters.outbox.bureau_push import BureauLink, BureauTransport, push_due
from billfold.adapters.outbox.reminders.api import run_reminders
from billfold.adapters.outbox.reminders.message import ReminderSender
from billfold.channels.autodebit import AutoDebit, DebitPolicy
from billfold.channels.autodebit_bank import DebitBank
from billfold.channels.base import Channel
from billfold.channels.collect import Collector
from billfold.clock import business_date
from billfold.engine import Engine
from billfold.errors import BillfoldError, ConfigurationError, Conflict
from billfold.jobs.config import WorkerConfig
from billfold.jobs.schedule import DUTIES
from billfold.merchants.biller import BillerStatus
from billfold.packs.presale import PresaleDesk
from billfold.settlement.parsers import PARSERS
from billfold.settlement.reconciler import Reconciler
from billfold.settlement.settler import Settler
from billfold.settlement.statement import StatementError

__all__ = ["Duties", "Ports", "statement_name"]

log = structlog.get_logger("billfold.jobs")

#: ``wechatpay_2026-09-01.csv``, ``alipay_20260901_shop1.csv``: format, business date, rest
STATEMENT_NAME = re.compile(r"(?P<format>[a-z0-9-]+)_(?P<day>\d{4}-?\d{2}-?\d{2})(?:[_.].*)?")
#: how long one outbox run keeps draining before it hands back to the scheduler
OUTBOX_RUN_SECONDS = 30.0


@dataclass
class Ports:
    """What the duties talk to beyond the database; ``None``/empty turns a duty off."""

    webhooks: outbox.WebhookTransport | None = None
    bank: DebitBank | None = None
    channels: Mapping[str, Channel] = field(default_factory=dict)
    bureau: BureauTransport | None = None
    #: payer reminder senders by channel ("sms", "wechat"); none: reminders wait unsent
    reminders: Mapping[str, ReminderSender] = field(default_factory=dict)


def statement_name(name: str) -> tuple[str, date] | None:
    """(format, business date) a watched-folder file's name gives, or ``None``."""
    found = STATEMENT_NAME.fullmatch(name)
    spec = PARSERS.get(found["format"]) if found else None
    if found is None or spec is None or spec.default_channel == "bank":
        return None  # bank statements are reconciled against channels' nets, not here
    try:
        return found["format"], date.fromisoformat(found["day"].replace("-", ""))
    except ValueError:
        return None


class Duties:
    """Every duty over one engine. ``stop`` is set when the worker is asked to stop: a duty
    that loops (the outbox) ends after the pass in hand."""

    def __init__(
        self,
        engine: Engine,
        config: WorkerConfig,
        ports: Ports,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.ports = ports
        self.stop = stop or threading.Event()

    def run(self, duty: str, **kwargs: Any) -> dict[str, Any]:
        """Run ``duty`` by name and log its summary (``jobs.duty``), or its failure
        (``jobs.duty_failed``, then re-raised for the runner to retry later)."""
        method = getattr(self, duty) if duty in DUTIES else None
        if method is None:
            raise ConfigurationError(f"no duty named {duty!r}; known: {', '.join(DUTIES)}")
        started = time.monotonic()
        try:
            summary: dict[str, Any] = method(**kwargs)
        except Exception as exc:
            log.error("jobs.duty_failed", duty=duty, error=type(exc).__name__)
            raise
        took = round(time.monotonic() - started, 3)
        did = any(isinstance(v, int) and v for v in summary.values()) or bool(summary.get("dates"))
        # a pass that found nothing to do is only worth a debug line (the outbox passes often)
        (log.info if did else log.debug)("jobs.duty", duty=duty, seconds=took, **summary)
        return summary

    def outbox(self) -> dict[str, Any]:
        """Fan out new events and send due webhooks until nothing is due (or 30 s)."""
        if self.ports.webhooks is None:
            return {"skipped": "no webhook transport"}
        get = self.config.get
        policy = outbox.RetryPolicy(
            max_attempts=get("outbox.max_attempts"),
            lease=timedelta(seconds=get("outbox.lease_seconds")),
        )
        total = outbox.DispatchStats()
        clock = self.engine.clock
        started = clock.now()
        while not self.stop.is_set():
            stats = outbox.run_once(
                self.engine, self.ports.webhooks, clock, get("outbox.batch"), policy=policy
            )
            total += stats
            spent = (clock.now() - started).total_seconds()
            if not stats.busy or spent > OUTBOX_RUN_SECONDS:
                break
        return asdict(total)

    def expiry(self) -> dict[str, Any]:
        """Orders past their time to pay become expired (their bills are free again)."""
        return {"expired": self.engine.expire_orders()}

    def requery(self) -> dict[str, Any]:
        """T+0: ask the channels about orders stuck paying; settle them through confirm."""
        if not self.ports.channels:
            return {"skipped": "no channels (--channels or BILLFOLD_CHANNELS)"}
        older = timedelta(minutes=self.config.get("requery.older_than_minutes"))
        settled = Collector(self.engine, self.ports.channels).requery_stuck(older)
        return {"settled": sum(1 for r in settled if not r.duplicate), "known": len(settled)}

    def refunds(self) -> dict[str, Any]:
        """Send pending refunds to the channel that took the money (keyed by refund number,
        which the channel deduplicates on)."""
        if not self.ports.channels:
            return {"skipped": "no channels (--channels or BILLFOLD_CHANNELS)"}
        paid = Collector(self.engine, self.ports.channels).pay_out_refunds()
        return {"sent": len(paid), "accepted": sum(1 for p in paid if p.succeeded)}

    def autodebit(self) -> dict[str, Any]:
        """Expire mandates, send pre-debit notices, debit what is due."""
        if self.ports.bank is None:
            return {"skipped": "no debit bank"}
        lead = timedelta(hours=self.config.get("autodebit.notice_hours"))
        report = AutoDebit(self.engine, self.ports.bank, DebitPolicy(notice_lead=lead))
        return asdict(report.run_once())

    def bureau(self) -> dict[str, Any]:
        """Presale: book contract payments not booked yet, then push what is due."""
        booked = asdict(PresaleDesk(self.engine).sync())
        url = self.config.get("bureau.url")
        secret = os.environ.get(self.config.get("bureau.secret_env"), "")
        if not url or not secret or self.ports.bureau is None:
            return {**booked, "pushes": "skipped: no bureau url, secret or transport"}
        stats = push_due(self.engine, BureauLink(url, secret), self.ports.bureau)
        return {**booked, **asdict(stats)}

    def reminders(self) -> dict[str, Any]:
        """Payer reminders: write today's due-soon and overdue reminder events (each biller's
        business date), fan the outbox out (reminders are made there, once per bill, kind and
        day), then send what is due outside quiet hours to payers who did not opt out."""
        get = self.config.get
        policy = outbox.RetryPolicy(max_attempts=get("reminders.max_attempts"))
        return run_reminders(
            self.engine, self.ports.reminders, batch=get("reminders.batch"), policy=policy
        )

    def nonces(self) -> dict[str, Any]:
        """Forget notification nonces older than the replay window needs."""
        keep = timedelta(minutes=max(10, self.config.get("nonces.older_than_minutes")))
        with self.engine.uow() as uow:
            gone = uow.channels.forget_nonces_before(self.engine.clock.now() - keep)
            uow.commit()
        return {"forgotten": gone}

    def reconcile(self) -> dict[str, Any]:
        """T+1: reconcile each statement dropped into the watched folder, then move it to
        ``done/`` (or ``failed/``, with the reason in the log). A file reconciled before is
        recognised by its content and not reconciled twice."""
        folder = self.config.get("reconcile.folder")
        if not folder:
            return {"skipped": "no watched folder (reconcile.folder)", "dates": []}
        root = Path(folder)
        days: set[date] = set()
        done = failed = 0
        # a file being written should be hidden (".name") and renamed when complete
        for path in sorted(p for p in root.iterdir() if p.is_file() and p.name[0] != "."):
            if self.stop.is_set():
                break
            ok = self._reconcile_file(path, days)
            if ok is not None:
                done, failed = done + ok, failed + (not ok)
        return {"reconciled": done, "failed": failed, "dates": sorted(str(d) for d in days)}

    def _reconcile_file(self, path: Path, days: set[date]) -> bool | None:
        """Reconcile one dropped file: ``True`` done, ``False`` failed, ``None`` when the
        file went away meanwhile — another worker reconciled it and moved it aside (its run
        is stored once, the database's lock on the run's slot sees to that)."""
        try:
            return self._reconcile_named(path, days)
        except FileNotFoundError:
            if path.exists():
                raise
            log.info("jobs.statement_taken", file=path.name)
            return None

    def _reconcile_named(self, path: Path, days: set[date]) -> bool:
        named = statement_name(path.name)
        if named is None:
            log.warning("jobs.statement_name_unknown", file=path.name)
            _move(path, "failed")
            return False
        format, day = named
        try:
            Reconciler(self.engine).reconcile(
                path,
                format=format,
                business_date=day,
                file_name=path.name,
                actor=self.config.get("reconcile.by"),
                workers=1,
            )
        except (StatementError, BillfoldError) as exc:
            log.warning("jobs.statement_refused", file=path.name, error=str(exc)[:300])
            _move(path, "failed")
            return False
        days.add(day)
        _move(path, "done")
        return True

    def settle(self, on: str | None = None) -> dict[str, Any]:
        """Draft (or redraft) each active biller's settlement batch for the business date
        ``on`` (ISO; default: yesterday in the configured timezone). An approved batch
        stays as it is."""
        if on:
            day = date.fromisoformat(on)
        else:
            now = self.engine.clock.now()
            day = business_date(now, self.config.timezone) - timedelta(days=1)
        settler = Settler(self.engine)
        drafted = kept = 0
        for biller in self.engine.billers():
            if biller.status is not BillerStatus.ACTIVE:
                continue
            try:
                settler.draft(biller.code, day, by=self.config.get("settle.by"))
            except Conflict:
                kept += 1  # approved or paid: never redrafted
            else:
                drafted += 1
        return {"date": str(day), "drafted": drafted, "kept": kept}


def _move(path: Path, where: str) -> None:
    """Move a handled statement aside; another worker having moved it first is fine."""
    target = path.parent / where
    target.mkdir(exist_ok=True)
    with suppress(FileNotFoundError):
        path.replace(target / path.name)
