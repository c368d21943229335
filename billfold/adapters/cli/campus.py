"""``billfold campus``: the school's term as the bursar runs it.

* ``billfold campus import-roster SCHOOL --roster R.csv --fees F.csv --term 2026秋
  --due 2026-09-10 [--installments --min-part 1000.00] --by bursar [--dry-run]`` — bills per
  student; prints what changed (added / changed / unchanged / removed);
* ``billfold campus grant SCHOOL 学号 --term … --amount 500.00 --kind scholarship
  --approved-by … --note … --request-id …`` — a scholarship or hardship waiver, once per
  request id (a repeat after a lost answer waives nothing more);
* ``billfold campus withdraw SCHOOL 学号 --term … --by … --reason …`` — refund and close;
* ``billfold campus reports SCHOOL --term … --date … --out DIR`` — arrears by class, paid and
  unpaid lists, the day's collections (CSV and one XLSX with the collection-rate chart);
* ``billfold campus notice SCHOOL 学号 --term … --base-url https://pay.example.edu.cn
  --out notice.png`` — a payment notice whose QR opens the bill on the payer pages;
* ``billfold campus notices SCHOOL --term … --grade 七年级 --class 1班 --base-url …
  --out 1班.pdf`` — the notices of a whole class: one PDF with a page per student, or
  (``--out 1班.zip``) a ZIP of PNG notices.

Exit codes: 0 done, 1 refused (the message says why), 2 usage errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from billfold.adapters.cli.common import DbUrl, day_option, fail, open_engine, yuan_option
from billfold.errors import BillfoldError, ImportFailed, InvariantViolated
from billfold.money import format_yuan
from billfold.packs.campus_kinds import GrantKind

__all__ = ["app"]

app = typer.Typer(help="Campus tuition: roster import, waivers, withdrawals, bursar reports.")

TermOpt = Annotated[str, typer.Option("--term", help="the term, e.g. 2026秋")]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"{what} {path}: cannot read it ({exc.strerror})")


@app.command("import-roster")
def import_roster(
    school: str,
    roster: Annotated[
        Path, typer.Option("--roster", help="roster CSV: 学号,姓名,年级,班级,家长电话")
    ],
    fees: Annotated[Path, typer.Option("--fees", help="fee items CSV per grade or class")],
    term: TermOpt,
    due: Annotated[str, typer.Option("--due", help="due date, e.g. 2026-09-10")],
    by: Annotated[str, typer.Option("--by", help="who imports")],
    installments: Annotated[bool, typer.Option("--installments/--in-full")] = False,
    min_part: Annotated[str, typer.Option("--min-part", help="smallest installment")] = "0",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report, change nothing")] = False,
    keep_missing: Annotated[
        bool, typer.Option("--keep-missing", help="a partial roster: cancel nobody")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DbUrl = None,
) -> None:
    """Bills for every student on the roster; the same files again change nothing."""
    from billfold.collection.roster import Term
    from billfold.packs.campus import Campus

    roster_data, fee_data = _read(roster, "--roster"), _read(fees, "--fees")
    with open_engine(database_url) as engine:
        plan = Term(term, day_option(due, "--due"), installments, yuan_option(min_part, "min_part"))
        try:
            changes = Campus(engine).import_roster(
                school,
                roster_data,
                fee_data,
                plan,
                actor=by,
                dry_run=dry_run,
                remove_missing=not keep_missing,
                roster_name=roster.name,
                fees_name=fees.name,
            )
        except ImportFailed as exc:
            for line in exc.errors:
                typer.echo(line, err=True)
            fail(exc.message)
    if as_json:
        typer.echo(json.dumps({"counts": changes.counts(), "lines": changes.lines()},
                              ensure_ascii=False, indent=2))  # fmt: skip
        return
    for line in changes.lines():
        typer.echo(line)
    if dry_run:
        typer.echo("dry run: nothing was changed")


@app.command()
def grant(
    school: str,
    student_no: str,
    term: TermOpt,
    amount: Annotated[str, typer.Option("--amount", help="e.g. 500.00")],
    kind: Annotated[GrantKind, typer.Option("--kind")],
    approved_by: Annotated[str, typer.Option("--approved-by")],
    note: Annotated[str, typer.Option("--note")],
    request_id: Annotated[
        str, typer.Option("--request-id", help="Makes a repeat harmless: waived once per id")
    ],
    item: Annotated[str | None, typer.Option("--item", help="waive one fee item only")] = None,
    database_url: DbUrl = None,
) -> None:
    """A scholarship (奖学金) or hardship waiver (困难减免), recorded with its approver."""
    from billfold.packs.campus import Campus

    with open_engine(database_url) as engine:
        bill = Campus(engine).grant(
            school,
            term,
            student_no,
            yuan_option(amount, "amount"),
            kind=kind,
            approved_by=approved_by,
            note=note,
            request_id=request_id,
            item_code=item,
        )
    typer.echo(
        f"{bill.bill_no}: {kind.label} {amount} approved by {approved_by}; "
        f"still owed {format_yuan(bill.outstanding_fen)}"
    )


@app.command()
def withdraw(
    school: str,
    student_no: str,
    term: TermOpt,
    by: Annotated[str, typer.Option("--by")],
    reason: Annotated[str, typer.Option("--reason")],
    database_url: DbUrl = None,
) -> None:
    """The student leaves: what was paid is refunded, the bill is cancelled."""
    from billfold.packs.campus import Campus

    with open_engine(database_url) as engine:
        done = Campus(engine).withdraw(school, term, student_no, by=by, reason=reason)
    refunds = ", ".join(r.refund_no for r in done.refunds) or "none"
    typer.echo(
        f"{done.bill_no}: cancelled; {format_yuan(done.refunded_fen)} to refund "
        f"(refunds: {refunds})"
    )


@app.command()
def reports(
    school: str,
    term: TermOpt,
    day: Annotated[str, typer.Option("--date", help="the collections day, e.g. 2026-09-01")],
    out: Annotated[Path, typer.Option("--out", help="directory for the files")],
    unmasked: Annotated[
        bool,
        typer.Option("--unmasked", help="names and parents' phones in full (--reason, --by)"),
    ] = False,
    reason: Annotated[str, typer.Option(help="why in full (audited)")] = "",
    by: Annotated[str, typer.Option(help="who asks (audited)")] = "",
    database_url: DbUrl = None,
) -> None:
    """Arrears by grade and class, paid/unpaid lists with parents' phones, due dates and days
    overdue, the day's collections: CSV and XLSX."""
    from billfold.packs.campus import Campus

    with open_engine(database_url) as engine:
        written = Campus(engine).reports(
            school,
            term,
            day_option(day, "--date"),
            out,
            mask=not unmasked,
            by=by,
            reason=reason,
        )
    for path in written:
        typer.echo(str(path))


@app.command()
def notice(
    school: str,
    student_no: str,
    term: TermOpt,
    out: Annotated[Path, typer.Option("--out", help="the PNG to write")],
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="where the school serves the payer pages, e.g. https://pay.example.edu.cn",
        ),
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """A printable payment notice with a QR code that opens the bill on the payer pages."""
    from billfold.packs.campus import Campus, notice_url

    try:
        notice_url(base_url or "", school, "-")
    except BillfoldError as exc:
        fail(f"--base-url: {exc.message.partition(': ')[2]}")
    if base_url is None:
        raise InvariantViolated("base_url is missing")
    with open_engine(database_url) as engine:
        campus = Campus(engine)
        link = campus.notice_link(school, term, student_no, base_url=base_url)
        png = campus.notice_png(school, term, student_no, base_url=base_url)
    out.write_bytes(png)
    typer.echo(f"notice written to {out}")
    typer.echo(f"QR: {link}")


@app.command()
def notices(
    school: str,
    term: TermOpt,
    grade: Annotated[str, typer.Option("--grade", help="the grade, as in the roster")],
    class_name: Annotated[str, typer.Option("--class", help="the class, as in the roster")],
    out: Annotated[Path, typer.Option("--out", help="FILE.pdf (a page per student) or FILE.zip")],
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url",
            help="where the school serves the payer pages, e.g. https://pay.example.edu.cn",
        ),
    ],
    database_url: DbUrl = None,
) -> None:
    """Payment notices for a whole class: one PDF with a page per student who owes, or a ZIP
    of PNG notices; each QR opens the student's bill on the payer pages."""
    from billfold.packs.campus import Campus, NoticeFormat

    suffix = out.suffix.lower().lstrip(".")
    if suffix not in {f.value for f in NoticeFormat}:
        fail(f"--out: {out.name!r} must end in .pdf or .zip")
    with open_engine(database_url) as engine:
        made = Campus(engine).class_notices(
            school, term, grade, class_name, base_url=base_url, fmt=suffix
        )
    out.write_bytes(made.content)
    typer.echo(f"{len(made.students)} notices written to {out}")
    if made.skipped:
        typer.echo(f"nothing due, no notice: {', '.join(made.skipped)}")
