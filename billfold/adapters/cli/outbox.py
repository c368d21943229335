"""``billfold outbox``: deliver webhooks, manage billers' endpoints and dead deliveries.

``billfold outbox run`` fans out new events and sends due deliveries until SIGINT/SIGTERM
(it finishes the delivery in hand, then exits); ``--once`` makes one pass and prints what
it did. Any number of dispatchers may run against one PostgreSQL database; on SQLite run
one. Errors print ``error: <message>`` on stderr and exit 1.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine, stop_on_signals
from billfold.adapters.cli.listing import add_list_command

if TYPE_CHECKING:  # httpx and the database layer are imported when a command runs
    from billfold.adapters.outbox import dispatcher as outbox

__all__ = ["app"]

app = typer.Typer(
    help="Webhook outbox: deliver events to billers' endpoints; manage endpoints and dead "
    "deliveries.",
    no_args_is_help=True,
)
endpoints_app = typer.Typer(help="Billers' webhook endpoints.", no_args_is_help=True)
dead_app = typer.Typer(help="Deliveries that used up their attempts.", no_args_is_help=True)
app.add_typer(endpoints_app, name="endpoints")
app.add_typer(dead_app, name="dead")
add_list_command(app, "outbox_events", "List events written to the outbox.", "events")
add_list_command(app, "deliveries", "List webhook deliveries (-f status=dead).", "deliveries")

Actor = Annotated[str, typer.Option("--actor", help="Who does this, for the audit log.")]
Reason = Annotated[str, typer.Option("--reason", help="Why, for the audit log.")]


_engine = open_engine
_fail = fail


@app.command("run")
def run(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.05, help="Seconds to sleep when idle.")
    ] = 1.0,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Events and deliveries per pass.")
    ] = 100,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=120.0, help="HTTP timeout, seconds.")
    ] = 10.0,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, help="Attempts before a delivery is dead.")
    ] = 8,
    database_url: DbUrl = None,
) -> None:
    """Deliver webhooks: once, or until interrupted."""
    from billfold.adapters.outbox import dispatcher as outbox

    policy = outbox.RetryPolicy(max_attempts=max_attempts)
    with _engine(database_url) as engine, outbox.HttpxTransport(timeout) as transport:
        if once:
            stats = outbox.run_once(engine, transport, engine.clock, batch, policy=policy)
        else:
            stop = threading.Event()
            with stop_on_signals(stop):
                stats = outbox.run_forever(
                    engine,
                    transport,
                    engine.clock,
                    interval=interval,
                    batch=batch,
                    policy=policy,
                    stop=stop,
                )
    typer.echo(_summary(stats))


def _summary(stats: outbox.DispatchStats) -> str:
    text = (
        f"fanned out {stats.events_fanned_out} events into {stats.deliveries_created} "
        f"deliveries; delivered {stats.delivered}, retrying {stats.retried}, dead {stats.dead}"
    )
    return text + (f", stale {stats.stale}" if stats.stale else "")


@endpoints_app.command("add")
def endpoints_add(
    biller: Annotated[str, typer.Argument(help="Biller code.")],
    url: Annotated[str, typer.Argument(help="http:// or https:// URL receiving the POSTs.")],
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            envvar="BILLFOLD_WEBHOOK_SECRET",
            help="Signing secret, 16-128 characters (or BILLFOLD_WEBHOOK_SECRET). "
            "Omitted: a random one is made and printed once.",
        ),
    ] = None,
    events: Annotated[
        str, typer.Option("--events", help="Event types, comma-separated: '*', 'payment.*'.")
    ] = "*",
    actor: Actor = "cli",
    reason: Reason = "",
    database_url: DbUrl = None,
) -> None:
    """Register a webhook endpoint for a biller."""
    from billfold.adapters.outbox import dispatcher as outbox

    generated = secret is None
    key = outbox.new_secret() if secret is None else secret
    with _engine(database_url) as engine:
        ep = outbox.add_endpoint(engine, biller, url, key, events, actor=actor, reason=reason)
    typer.echo(f"endpoint {ep.id} for {ep.biller_code}: {ep.url} ({','.join(ep.event_types)})")
    if generated:
        typer.echo(f"secret (shown only now; give it to the receiver): {key}")


@endpoints_app.command("list")
def endpoints_list(
    biller: Annotated[str | None, typer.Option("--biller", help="Only this biller.")] = None,
    include_inactive: Annotated[
        bool, typer.Option("--all", help="Include deactivated endpoints.")
    ] = False,
    database_url: DbUrl = None,
) -> None:
    """List webhook endpoints (secrets are never shown)."""
    from billfold.adapters.outbox import dispatcher as outbox

    with _engine(database_url) as engine:
        found = outbox.list_endpoints(engine, biller, include_inactive=include_inactive)
    if not found:
        typer.echo("no endpoints")
    for ep in found:
        state = "active" if ep.active else "inactive"
        typer.echo(f"{ep.id}\t{ep.biller_code}\t{state}\t{','.join(ep.event_types)}\t{ep.url}")


@endpoints_app.command("deactivate")
def endpoints_deactivate(
    endpoint_id: Annotated[int, typer.Argument(help="Endpoint id (see 'list').")],
    reason: Reason = "",
    actor: Actor = "cli",
    database_url: DbUrl = None,
) -> None:
    """Stop sending to an endpoint; its pending deliveries wait for reactivation."""
    from billfold.adapters.outbox import dispatcher as outbox

    with _engine(database_url) as engine:
        ep = outbox.deactivate_endpoint(engine, endpoint_id, actor=actor, reason=reason)
    typer.echo(f"endpoint {ep.id} deactivated")


@endpoints_app.command("rotate")
def endpoints_rotate(
    endpoint_id: Annotated[int, typer.Argument(help="Endpoint id (see 'list').")],
    reason: Reason = "",
    actor: Actor = "cli",
    database_url: DbUrl = None,
) -> None:
    """Give an endpoint a new random signing secret, at once (printed once)."""
    from billfold.adapters.outbox import dispatcher as outbox

    with _engine(database_url) as engine:
        ep = outbox.rotate_secret(engine, endpoint_id, actor=actor, reason=reason)
    typer.echo(f"endpoint {ep.id} has a new secret; deliveries are signed with it from now")
    typer.echo(f"secret (shown only now; give it to the receiver): {ep.secret}")


@endpoints_app.command("reactivate")
def endpoints_reactivate(
    endpoint_id: Annotated[int, typer.Argument(help="Endpoint id (see 'list --all').")],
    reason: Reason = "",
    actor: Actor = "cli",
    database_url: DbUrl = None,
) -> None:
    """Send to an endpoint again, starting with what waited meanwhile."""
    from billfold.adapters.outbox import dispatcher as outbox

    with _engine(database_url) as engine:
        ep = outbox.reactivate_endpoint(engine, endpoint_id, actor=actor, reason=reason)
    typer.echo(f"endpoint {ep.id} reactivated")


@dead_app.command("list")
def dead_list(
    biller: Annotated[str | None, typer.Option("--biller", help="Only this biller.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    database_url: DbUrl = None,
) -> None:
    """List dead deliveries: id, event, endpoint, attempts and the last error."""
    from billfold.adapters.outbox import dispatcher as outbox

    with _engine(database_url) as engine:
        found = outbox.list_dead(engine, biller, limit)
    if not found:
        typer.echo("no dead deliveries")
    for d in found:
        typer.echo(
            f"{d.id}\t{d.biller_code}\t{d.event_type}\t{d.event_id}\tendpoint {d.endpoint_id}"
            f"\t{d.attempts} attempts\t{d.last_error or ''}"
        )


@dead_app.command("requeue")
def dead_requeue(
    delivery_id: Annotated[int, typer.Argument(help="Delivery id (see 'dead list').")],
    reason: Reason = "",
    actor: Actor = "cli",
    database_url: DbUrl = None,
) -> None:
    """Give a dead delivery a fresh set of attempts, starting now."""
    from billfold.adapters.outbox import dispatcher as outbox

    with _engine(database_url) as engine:
        d = outbox.requeue_dead(engine, delivery_id, actor=actor, reason=reason)
    typer.echo(f"delivery {d.id} ({d.event_type} {d.event_id}) requeued")
