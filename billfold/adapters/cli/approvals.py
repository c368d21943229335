"""``billfold approvals …``: maker-checker from the command line — list what waits, approve
or reject it as a second person, and set each biller's policy.

The command line is run by operators who hold the database; the name given with ``--by`` is
taken at its word (``cli:<name>``), and the maker's own name is refused as the checker's.
Over HTTP the identity is the API key, whatever name a request carries.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from billfold.adapters.cli.common import DbUrl, fail, open_engine, yuan_option
from billfold.labels import label
from billfold.money import format_yuan

if TYPE_CHECKING:  # the engine and the maker-checker desk are imported when a command runs
    from billfold.engine import Engine

#: The kinds of change the maker-checker gates (``billfold.maker_checker.KINDS``, which
#: imports the engine; a test keeps the two the same).
KIND_NAMES = (
    "biller.limits",
    "discrepancy.write_off",
    "escrow.release",
    "payment.reverse",
    "refund",
    "settlement.approve",
)

if TYPE_CHECKING:
    from billfold.collection.approval import Approval

__all__ = ["app", "cli_identity", "print_proposal"]

app = typer.Typer(help="Maker-checker: what waits for a second person; approve, reject, policy.")

By = Annotated[str, typer.Option("--by", help="Who decides (not the maker), for the audit.")]


def cli_identity(name: str) -> str:
    """The maker's or checker's identity for a name given on the command line."""
    return f"cli:{name.strip()}"


def print_proposal(found: Approval) -> None:
    """Say that the action waits for a checker, and how to approve it."""
    typer.echo(
        f"proposed approval {found.id} ({found.kind}): it waits for a second person; "
        f"`billfold approvals approve {found.id} --by NAME`"
    )


def _line(a: Approval, codes: dict[int, str]) -> str:
    biller = codes.get(a.biller_id, "-") if a.biller_id is not None else "-"
    what = json.dumps(a.payload, ensure_ascii=False, sort_keys=True)
    decided = f" {a.checker} {a.decided_at:%Y-%m-%d %H:%M}" if a.decided_at else ""
    return (
        f"{a.id:>5} {label('approval_kind', a.kind):<12} {biller:<8} "
        f"{label('approval_state', a.state):<5} {a.maker:<20} "
        f"{a.created_at:%Y-%m-%d %H:%M}{decided} {what}"
    )


def _codes(engine: Engine) -> dict[int, str]:
    return {b.id: b.code for b in engine.billers() if b.id is not None}


@app.command("list")
def approvals_list(
    state: Annotated[
        str, typer.Option("--state", help="proposed, approved, rejected or all")
    ] = "proposed",
    biller: Annotated[str | None, typer.Option("--biller", help="Only this biller's")] = None,
    database_url: DbUrl = None,
) -> None:
    """List proposals (by default those still waiting)."""
    from billfold.collection.approval import ApprovalState
    from billfold.maker_checker import MakerChecker

    if state != "all" and state not in {s.value for s in ApprovalState}:
        fail(f"--state: {state!r}; use proposed, approved, rejected or all")
    chosen = None if state == "all" else ApprovalState(state)
    with open_engine(database_url) as engine:
        found = MakerChecker(engine).list(state=chosen, biller_code=biller)
        codes = _codes(engine)
    typer.echo(f"{'编号':>3} {'类型':<20} {'商户':<6} {'状态':<7} {'发起人':<17} 发起时间 内容")
    for a in found:
        typer.echo(_line(a, codes))
    typer.echo(f"{len(found)} 条")


@app.command("approve")
def approvals_approve(
    approval_id: Annotated[int, typer.Argument(help="The proposal's number")],
    by: By,
    reason: Annotated[str, typer.Option("--reason", help="A note, for the audit.")] = "",
    database_url: DbUrl = None,
) -> None:
    """Approve a proposal: its action runs now, once."""
    from billfold.maker_checker import MakerChecker

    with open_engine(database_url) as engine:
        done = MakerChecker(engine).approve(approval_id, checker=cli_identity(by), reason=reason)
    result = json.dumps(done.result or {}, ensure_ascii=False, sort_keys=True)
    typer.echo(f"approval {done.id} ({done.kind}) approved by {done.checker}: {result}")


@app.command("reject")
def approvals_reject(
    approval_id: Annotated[int, typer.Argument(help="The proposal's number")],
    by: By,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the maker and the audit.")],
    database_url: DbUrl = None,
) -> None:
    """Reject a proposal: its action never runs."""
    from billfold.maker_checker import MakerChecker

    with open_engine(database_url) as engine:
        done = MakerChecker(engine).reject(approval_id, checker=cli_identity(by), reason=reason)
    typer.echo(f"approval {done.id} ({done.kind}) rejected by {done.checker}")


@app.command("policy")
def approvals_policy(
    biller: Annotated[str, typer.Argument(help="The biller's code")],
    kind: Annotated[str | None, typer.Argument(help=", ".join(KIND_NAMES))] = None,
    on: Annotated[bool | None, typer.Option("--on/--off", help="Need a checker (or not)")] = None,
    threshold: Annotated[
        str | None, typer.Option("--threshold", help="refund: checked above this many yuan")
    ] = None,
    actor: Annotated[str, typer.Option("--actor", help="Who changes it")] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why")] = "",
    database_url: DbUrl = None,
) -> None:
    """Show a biller's policies, or set one (KIND with --on/--off, --actor and --reason)."""
    from billfold.maker_checker import MakerChecker

    with open_engine(database_url) as engine:
        desk = MakerChecker(engine)
        if on is not None:
            if kind is None:
                fail("give the KIND whose policy changes")
            fen = yuan_option(threshold, "--threshold") if threshold is not None else None
            who = cli_identity(actor) if actor.strip() else ""
            desk.set_policy(biller, kind, required=on, threshold_fen=fen, actor=who, reason=reason)
        for name in KIND_NAMES if kind is None else [kind]:
            p = desk.policy(biller, name)
            limit = (
                f" 超过 {format_yuan(p.threshold_fen)} 元" if p.threshold_fen is not None else ""
            )
            typer.echo(f"{biller} {name:<22} {'需复核' if p.required else '无需复核'}{limit}")
