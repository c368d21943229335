"""Prometheus metrics: counters kept by the process, gauges read from the database.

Counters and the histogram (notifications by channel and outcome, confirmation latency,
rate-limit refusals) count what this process did. Under ``billfold serve --workers N`` they
use prometheus-client's multiprocess mode: every worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape of any worker sums them all (``billfold serve``
makes that directory; it must be empty when the server starts). Without the variable they
live in this process only.

Gauges (outbox backlog and the age of its oldest event, webhook deliveries by status, dead
letters, open discrepancies by kind, jobs by status) are read from the database at scrape
time (:mod:`billfold.adapters.db.gauges`), so every worker answers the same figures.
docs/operations.md lists every metric.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from billfold.adapters.db.gauges import read_gauges
from billfold.clock import Clock
from billfold.engine import Engine

__all__ = [
    "CONFIRM_SECONDS",
    "NOTIFICATIONS",
    "RATE_LIMIT_REFUSALS",
    "render_metrics",
]

#: This process's counters (not prometheus-client's global registry: an embedding
#: application's own metrics stay its own).
PROCESS = CollectorRegistry(auto_describe=True)

NOTIFICATIONS = Counter(
    "billfold_notifications",
    "Channel notifications received at /v1/notify, by channel and outcome "
    "(accepted, duplicate, rejected, refused, failed)",
    ["channel", "outcome"],
    registry=PROCESS,
)
CONFIRM_SECONDS = Histogram(
    "billfold_confirm_seconds",
    "Time to verify and confirm an accepted notification (seconds), by channel",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=PROCESS,
)
RATE_LIMIT_REFUSALS = Counter(
    "billfold_rate_limit_refusals",
    "Requests refused by a rate limit (429), by limit (api_key, lookup)",
    ["limit"],
    registry=PROCESS,
)


class _DatabaseGauges(Collector):
    """The database's gauges, read when scraped."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        read = read_gauges(self.engine.db)
        backlog = GaugeMetricFamily(
            "billfold_outbox_backlog",
            "Outbox work waiting: events not yet fanned out, deliveries pending",
            labels=["kind"],
        )
        backlog.add_metric(["events"], read.events_unfanned)
        backlog.add_metric(["deliveries"], read.deliveries_pending)
        yield backlog
        age = 0.0
        if read.oldest_pending is not None:
            age = max(0.0, (self.clock.now() - read.oldest_pending).total_seconds())
        yield GaugeMetricFamily(
            "billfold_outbox_oldest_age_seconds",
            "Age of the oldest outbox event not yet fanned out or delivered (0: none waits)",
            value=age,
        )
        yield _by(
            "billfold_webhook_deliveries",
            "Webhook deliveries by status (pending, delivered, dead)",
            "status",
            read.deliveries,
        )
        yield _by(
            "billfold_dead_letters",
            "Deliveries given up on (webhook, bureau_push): they wait for a person",
            "kind",
            read.dead_letters,
        )
        yield _by(
            "billfold_reconciliation_discrepancies_open",
            "Open reconciliation discrepancies, by kind (code)",
            "kind",
            read.discrepancies_open,
        )
        if read.jobs is not None:
            yield _by("billfold_jobs", "procrastinate jobs by state", "state", read.jobs)


def _by(name: str, documentation: str, label: str, values: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key in sorted(values):
        family.add_metric([key], values[key])
    return family


class _ThisProcess(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from PROCESS.collect()


def render_metrics(engine: Engine, clock: Clock) -> bytes:
    """The Prometheus text exposition of every billfold metric, as scraped now."""
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(_DatabaseGauges(engine, clock))
    return generate_latest(registry)
