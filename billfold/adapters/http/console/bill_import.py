"""Bursar: import a bill file (CSV or XLSX) for a biller, as ``billfold bills import`` does —
all or nothing: a file with a bad line writes nothing and the page lists every bad line
(line number, the field's Chinese name, the message in Chinese); a good file is imported
and the page says how many bills were created and how many were there already.

Who imported it, and which file, is in the audit log (``console.import_bills``) besides the
importer's own record.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from billfold.adapters.http.console.guard import BillerInPath, pages, role
from billfold.adapters.http.console.sessions import ConsoleUser
from billfold.adapters.http.console.web import PREFIX, Refusal, console_state, render
from billfold.collection.import_messages import shown_line_error
from billfold.errors import ImportFailed, InvalidInput
from billfold.merchants.biller import Biller
from billfold.merchants.roles import Role

__all__ = ["router"]

router = pages()
Bursar = Annotated[ConsoleUser, role(Role.BURSAR)]
MAX_BYTES = 20 * 1024 * 1024  # a school's or a utility's month of bills is far less


def import_url(code: str) -> str:
    return f"{PREFIX}/billers/{code}/bills/import"


@router.get("/bills/import")
def choose(request: Request, user: Bursar) -> Response:
    """A biller's user goes straight to their biller's page; back-office users choose one."""
    if user.biller_code is not None:
        return RedirectResponse(import_url(user.biller_code), status_code=303)
    billers = console_state(request).engine.billers()
    return render(request, user, "bills/import.html", biller=None, billers=billers)


@router.get("/billers/{code}/bills/import")
def form(request: Request, user: Bursar, biller: BillerInPath) -> Response:
    return render(request, user, "bills/import.html", biller=biller)


@router.post("/billers/{code}/bills/import")
def upload(
    request: Request,
    user: Bursar,
    biller: BillerInPath,
    file: Annotated[UploadFile, File()],
) -> Response:
    name = (file.filename or "账单文件.csv")[:200]
    data = file.file.read(MAX_BYTES + 1)
    if not data:
        raise Refusal(400, "请选择要导入的账单文件，未做任何更改")
    if len(data) > MAX_BYTES:
        raise Refusal(413, f"文件超过 {MAX_BYTES // 1024 // 1024} MB，未做任何更改")
    engine = console_state(request).engine
    try:
        report = engine.import_bills(biller.code, data, file_name=name)
    except ImportFailed as exc:
        errors = [shown_line_error(e) for e in exc.errors]
        return _page(request, user, biller, name, errors=errors, status=422)
    except InvalidInput as exc:  # unreadable: not CSV/XLSX, a wrong encoding …
        errors = [shown_line_error(exc.message)]
        return _page(request, user, biller, name, errors=errors, status=422)
    _audit(request, user, biller, name, report.created, report.unchanged)
    warnings = [shown_line_error(str(w)) for w in [*report.warnings, *report.changes]]
    return _page(request, user, biller, name, report=report, warnings=warnings)


def _page(
    request: Request,
    user: ConsoleUser,
    biller: Biller,
    name: str,
    *,
    status: int = 200,
    **more: Any,
) -> Response:
    return render(
        request, user, "bills/import.html", biller=biller, file_name=name, status=status, **more
    )


def _audit(
    request: Request, user: ConsoleUser, biller: Biller, name: str, created: int, unchanged: int
) -> None:
    state = console_state(request)
    with state.engine.uow() as uow:
        uow.audit.append(
            actor=user.actor,
            action="console.import_bills",
            target_type="biller",
            target_id=biller.code,
            reason=name,
            before=None,
            after={"created": created, "unchanged": unchanged},
            now=state.clock.now(),
        )
        uow.commit()
