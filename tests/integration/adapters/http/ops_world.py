"""A world for the operations API tests (paying, reversals, mandates, reconciliation,
settlement, exports): two billers with bills and a settlement account, keys for each (s1
write and read, w2 write, a back-office key and a read-only back-office key), and the app
served in process through ``httpx`` (no ``starlette.testclient``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Table, func, select

from billfold import Biller, BillerKind, Engine, SettlementAccount
from billfold.adapters.http.app import create_app
from billfold.adapters.http.asgi_client import asgi_client
from billfold.adapters.http.keys import Scope, create_key
from billfold.adapters.http.ratelimit import RateLimit
from billfold.channels.base import Channel
from billfold.maker_checker import MakerChecker
from billfold.money import format_yuan

BILLS = b"bill_no,payer_id,amount\nT1,2024001,10.00\nT2,2024002,25.50\n"
ACCOUNT = "6222020200112233"


@dataclass
class Api:
    client: httpx.Client
    engine: Engine
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def count(self, table: Table) -> int:
        with self.engine.uow() as uow:
            return int(uow.conn.execute(select(func.count()).select_from(table)).scalar_one())

    def paid_order(self, code: str, bill_no: str, channel: str, txn: str) -> tuple[str, int]:
        """Order ``bill_no`` of ``code`` and confirm it paid: (order number, payment id)."""
        order = self.engine.create_order(code, [bill_no])
        paid = self.engine.confirm(channel, txn, order.order_no, order.total_fen)
        return order.order_no, paid.payment.id


def one_person(engine: Engine, code: str) -> None:
    """These tests check the actions themselves: no second person (test_http_approvals.py
    checks the maker-checker path)."""
    desk = MakerChecker(engine)
    for kind in ("settlement.approve", "payment.reverse", "discrepancy.write_off"):
        desk.set_policy(code, kind, required=False, actor="tests", reason="one person")


def seed(engine: Engine) -> dict[str, str]:
    for code, name, kind in (("s1", "一中", BillerKind.SCHOOL), ("w2", "水司", BillerKind.UTILITY)):
        account = SettlementAccount("工商银行", name, ACCOUNT)
        engine.create_biller(Biller(code=code, name=name, kind=kind, settlement_account=account))
        engine.import_bills(code, BILLS)
        one_person(engine, code)
    return {
        "s1": create_key(engine, "s1", Scope.WRITE).secret,
        "s1-read": create_key(engine, "s1", Scope.READ).secret,
        "w2": create_key(engine, "w2", Scope.WRITE).secret,
        "office": create_key(engine, None, Scope.WRITE).secret,
        "office-read": create_key(engine, None, Scope.READ).secret,
    }


@contextmanager
def open_api(engine: Engine, channels: Mapping[str, Channel] | None = None) -> Iterator[Api]:
    keys = seed(engine)
    app = create_app(engine, channels, rate_limit=RateLimit(per_second=1000, burst=1000))
    with asgi_client(app) as client:
        yield Api(client, engine, keys)


# -- a WeChat Pay trade bill (the public format: backtick-prefixed cells, a summary) ----------

WX_MCH = "1900000109"
WX_COLUMNS = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
WX_TOTALS = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
PAID_AT = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the test clock's now


def wx_line(txn: str, order_no: str, fen: int) -> str:
    amount = format_yuan(fen)
    cells: list[Any] = [
        "2026-09-01 10:00:00", "wx2421b1c4370ec43b", WX_MCH, "0", "", txn, order_no,
        "oUpF8uMuAJO_M2p", "NATIVE", "SUCCESS", "OTHERS", "CNY", amount, "0.00", "0", "0",
        "0.00", "0.00", "", "", "学费", "", "0.00000", "0.60%", amount, "0.00", "",
    ]  # fmt: skip
    return ",".join(f"`{cell}" for cell in cells)


def wx_statement(*lines: str) -> bytes:
    return "\n".join(
        [WX_COLUMNS, *lines, WX_TOTALS, "`0,`0.00,`0.00,`0.00,`0.00,`0.00,`0.00"]
    ).encode()
