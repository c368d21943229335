"""Billers, sub-units, fee rules and payers in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.bulk import among, dialect_insert, insert_many
from billfold.adapters.db.fastpath import DriverResult, run_read, run_write, send_read
from billfold.collection.payer import IdentifierKind, Payer
from billfold.errors import Conflict
from billfold.masking import mask_id_number
from billfold.merchants.biller import (
    Biller,
    BillerKind,
    BillerStatus,
    FeeContext,
    Limits,
    LookupCheck,
    SettlementAccount,
    SubUnit,
    SubUnitKind,
)
from billfold.merchants.fees import FeeKind, FeeRule


@cache
def _payer_insert(dialect: str) -> Any:
    """New payers of an import (executemany); one stored already is left as it is."""
    return dialect_insert(dialect)(t.payers).on_conflict_do_nothing(
        index_elements=["biller_id", "id_kind", "identifier"]
    )


_PAYER_FILL = (
    update(t.payers)
    .where(t.payers.c.id == bindparam("p_id"))
    .values(name=bindparam("name"), phone=bindparam("phone"))
)

_FEE_CONTEXT_OF = select(
    t.billers.c.code,
    t.billers.c.timezone,
    t.fee_rules.c.kind,
    t.fee_rules.c.bps,
    t.fee_rules.c.min_fen,
    t.fee_rules.c.max_fen,
    t.fee_rules.c.fixed_fen,
).select_from(
    t.billers.outerjoin(
        t.fee_rules,
        and_(t.fee_rules.c.biller_id == t.billers.c.id, t.fee_rules.c.channel == bindparam("ch")),
    )
)
_FEE_CONTEXT = _FEE_CONTEXT_OF.where(t.billers.c.id == bindparam("biller_id"))
# the same, for the biller of an order (the confirm path sends it before the order is read)
_FEE_CONTEXT_BY_ORDER = _FEE_CONTEXT_OF.where(
    t.billers.c.id
    == select(t.orders.c.biller_id)
    .where(t.orders.c.order_no == bindparam("order_no"))
    .scalar_subquery()
)


class SqlBillers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, biller: Biller, now: datetime) -> int:
        if self.get_by_code(biller.code) is not None:
            raise Conflict(f"biller {biller.code} already exists")
        account = biller.settlement_account
        biller_id = self.conn.execute(
            t.billers.insert()
            .values(
                code=biller.code,
                name=biller.name,
                kind=biller.kind.value,
                timezone=biller.timezone,
                status=biller.status.value,
                settlement_bank=account.bank_name if account else None,
                settlement_account_name=account.account_name if account else None,
                settlement_account_no=account.account_no if account else None,
                single_limit_fen=biller.limits.single_payment_fen,
                daily_limit_fen=biller.limits.daily_fen,
                monthly_limit_fen=biller.limits.monthly_fen,
                lookup_check=biller.lookup_check.value,
                created_at=now,
                updated_at=now,
            )
            .returning(t.billers.c.id)
        ).scalar_one()
        for rule in biller.fee_rules:
            self.set_fee_rule(biller_id, rule)
        for unit in biller.sub_units:
            self.add_sub_unit(biller_id, unit)
        return int(biller_id)

    def _load(self, row: Row[tuple[object, ...]] | None) -> Biller | None:
        if row is None:
            return None
        m = row._mapping
        rules = tuple(
            FeeRule(
                channel=r.channel,
                kind=FeeKind(r.kind),
                bps=r.bps,
                min_fen=r.min_fen,
                max_fen=r.max_fen,
                fixed_fen=r.fixed_fen,
            )
            for r in self.conn.execute(
                select(t.fee_rules)
                .where(t.fee_rules.c.biller_id == m["id"])
                .order_by(t.fee_rules.c.channel)
            )
        )
        units = tuple(
            SubUnit(code=u.code, name=u.name, kind=SubUnitKind(u.kind), parent_code=u.parent_code)
            for u in self.conn.execute(
                select(t.sub_units)
                .where(t.sub_units.c.biller_id == m["id"])
                .order_by(t.sub_units.c.id)
            )
        )
        account = None
        if m["settlement_account_no"]:
            account = SettlementAccount(
                m["settlement_bank"] or "",
                m["settlement_account_name"] or "",
                m["settlement_account_no"],
            )
        return Biller(
            id=m["id"],
            code=m["code"],
            name=m["name"],
            kind=BillerKind(m["kind"]),
            timezone=m["timezone"],
            status=BillerStatus(m["status"]),
            settlement_account=account,
            limits=Limits(m["single_limit_fen"], m["daily_limit_fen"], m["monthly_limit_fen"]),
            fee_rules=rules,
            sub_units=units,
            lookup_check=LookupCheck(m["lookup_check"]),
        )

    def get_by_code(self, code: str) -> Biller | None:
        return self._load(
            self.conn.execute(select(t.billers).where(t.billers.c.code == code)).first()
        )

    def get(self, biller_id: int) -> Biller | None:
        return self._load(
            self.conn.execute(select(t.billers).where(t.billers.c.id == biller_id)).first()
        )

    def fee_context(self, biller_id: int, channel: str) -> FeeContext | None:
        """Code, timezone and the channel's fee rule, in one query (the confirm path's need)."""
        rows = run_read(self.conn, _FEE_CONTEXT, {"biller_id": biller_id, "ch": channel})
        return self.fee_context_of(rows, channel)

    def send_fee_context(self, order_no: str, channel: str) -> DriverResult:
        """:meth:`fee_context` of the biller of order ``order_no``, sent: read it with
        :meth:`fee_context_of`."""
        return send_read(self.conn, _FEE_CONTEXT_BY_ORDER, {"order_no": order_no, "ch": channel})

    @staticmethod
    def fee_context_of(rows: Sequence[Any], channel: str) -> FeeContext | None:
        if not rows:
            return None
        row = rows[0]
        rule = None
        if row.kind is not None:
            rule = FeeRule(
                channel=channel,
                kind=FeeKind(row.kind),
                bps=row.bps,
                min_fen=row.min_fen,
                max_fen=row.max_fen,
                fixed_fen=row.fixed_fen,
            )
        return FeeContext(row.code, row.timezone, rule)

    def list(self) -> list[Biller]:
        rows = self.conn.execute(select(t.billers).order_by(t.billers.c.code)).all()
        return [b for b in (self._load(r) for r in rows) if b is not None]

    def set_status(self, biller_id: int, status: BillerStatus, now: datetime) -> None:
        self.conn.execute(
            update(t.billers)
            .where(t.billers.c.id == biller_id)
            .values(status=status.value, updated_at=now)
        )

    def set_limits(self, biller_id: int, limits: Limits, now: datetime) -> None:
        self.conn.execute(
            update(t.billers)
            .where(t.billers.c.id == biller_id)
            .values(
                single_limit_fen=limits.single_payment_fen,
                daily_limit_fen=limits.daily_fen,
                monthly_limit_fen=limits.monthly_fen,
                updated_at=now,
            )
        )

    def set_lookup_check(self, biller_id: int, check: LookupCheck, now: datetime) -> None:
        self.conn.execute(
            update(t.billers)
            .where(t.billers.c.id == biller_id)
            .values(lookup_check=check.value, updated_at=now)
        )

    def lock_limits(self, biller_id: int) -> None:
        """Hold the biller's row until commit, so that orders checked against its daily and
        monthly limits are checked one after another (PostgreSQL; SQLite has one writer).
        ``FOR NO KEY UPDATE`` does not block rows that merely reference the biller."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                select(t.billers.c.id)
                .where(t.billers.c.id == biller_id)
                .with_for_update(key_share=True)
            )

    def set_fee_rule(self, biller_id: int, rule: FeeRule) -> None:
        values = {
            "kind": rule.kind.value,
            "bps": rule.bps,
            "min_fen": rule.min_fen,
            "max_fen": rule.max_fen,
            "fixed_fen": rule.fixed_fen,
        }
        done = self.conn.execute(
            update(t.fee_rules)
            .where(t.fee_rules.c.biller_id == biller_id, t.fee_rules.c.channel == rule.channel)
            .values(**values)
        ).rowcount
        if not done:
            self.conn.execute(
                t.fee_rules.insert().values(biller_id=biller_id, channel=rule.channel, **values)
            )

    def add_sub_unit(self, biller_id: int, unit: SubUnit) -> None:
        exists = self.conn.execute(
            select(t.sub_units.c.id).where(
                t.sub_units.c.biller_id == biller_id, t.sub_units.c.code == unit.code
            )
        ).first()
        if exists:
            raise Conflict(f"sub-unit {unit.code} already exists")
        self.conn.execute(
            t.sub_units.insert().values(
                biller_id=biller_id,
                code=unit.code,
                name=unit.name,
                kind=unit.kind.value,
                parent_code=unit.parent_code,
            )
        )


class SqlPayers:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ensure(self, biller_id: int, payer: Payer, now: datetime) -> int:
        """The payer's id, creating the payer if new (filling in a missing name or phone)."""
        c = t.payers.c
        self.conn.execute(
            self._insert()
            .values(**self._row(biller_id, payer, now))
            .on_conflict_do_nothing(index_elements=["biller_id", "id_kind", "identifier"])
        )
        row = self.conn.execute(
            select(c.id, c.name, c.phone).where(
                c.biller_id == biller_id,
                c.id_kind == payer.kind.value,
                c.identifier == payer.identifier,
            )
        ).one()
        fill = {}
        if payer.name and not row.name:
            fill["name"] = payer.name
        if payer.phone and not row.phone:
            fill["phone"] = payer.phone
        if fill:
            self.conn.execute(update(t.payers).where(c.id == row.id).values(**fill))
        return int(row.id)

    def ensure_many(
        self, biller_id: int, payers: Sequence[Payer], now: datetime
    ) -> dict[tuple[IdentifierKind, str], Payer]:
        """:meth:`ensure` for each payer in order, set-based: one multi-row INSERT … ON
        CONFLICT DO NOTHING, one read back, one executemany filling in missing names and
        phones. As with :meth:`ensure` one by one, a payer's name (and phone) is the stored
        one, else the first one given."""
        wanted: dict[tuple[IdentifierKind, str], Payer] = {}
        for payer in payers:
            key = (payer.kind, payer.identifier)
            first = wanted.get(key)
            if first is None:
                wanted[key] = payer
            elif (payer.name and not first.name) or (payer.phone and not first.phone):
                wanted[key] = replace(
                    first, name=first.name or payer.name, phone=first.phone or payer.phone
                )
        if not wanted:
            return {}
        insert_many(
            self.conn,
            _payer_insert(self.conn.dialect.name),
            [self._row(biller_id, payer, now) for payer in wanted.values()],
        )
        stored = self._stored(biller_id, wanted)
        fills = []
        for key, payer in wanted.items():
            row = stored[key]
            name = payer.name if payer.name and not row.name else row.name
            phone = payer.phone if payer.phone and not row.phone else row.phone
            if (name, phone) != (row.name, row.phone):
                fills.append({"p_id": row.id, "name": name, "phone": phone})
                stored[key] = replace(row, name=name, phone=phone)
        if fills:
            run_write(self.conn, _PAYER_FILL, fills)
        return stored

    def _insert(self) -> Any:
        return dialect_insert(self.conn.dialect.name)(t.payers)

    @staticmethod
    def _row(biller_id: int, payer: Payer, now: datetime) -> dict[str, Any]:
        return {
            "biller_id": biller_id,
            "id_kind": payer.kind.value,
            "identifier": payer.identifier,
            "name": payer.name,
            "phone": payer.phone,
            # the full ID number is never needed after onboarding: keep only its masked form
            "id_number": mask_id_number(payer.id_number) if payer.id_number else None,
            "created_at": now,
        }

    def _stored(
        self, biller_id: int, wanted: dict[tuple[IdentifierKind, str], Payer]
    ) -> dict[tuple[IdentifierKind, str], Payer]:
        c = t.payers.c
        identifiers = sorted({identifier for _, identifier in wanted})
        found: dict[tuple[IdentifierKind, str], Payer] = {}
        for among_them in among(self.conn, c.identifier, identifiers):
            rows = self.conn.execute(
                select(c.id, c.id_kind, c.identifier, c.name, c.phone, c.id_number).where(
                    c.biller_id == biller_id, among_them
                )
            )
            for row in rows:
                key = (IdentifierKind(row.id_kind), row.identifier)
                if key in wanted:
                    found[key] = Payer(
                        key[0], row.identifier, row.name, row.phone, row.id_number, row.id
                    )
        return found

    def get(self, payer_id: int) -> Payer | None:
        row = self.conn.execute(select(t.payers).where(t.payers.c.id == payer_id)).first()
        if row is None:
            return None
        return Payer(
            id=row.id,
            kind=IdentifierKind(row.id_kind),
            identifier=row.identifier,
            name=row.name,
            phone=row.phone,
            id_number=row.id_number,
        )

    def find(self, biller_id: int | None, identifier: str) -> list[tuple[int, Payer]]:
        """Payers with this identifier (any kind), optionally of one biller: (biller_id, payer)."""
        q = select(t.payers).where(t.payers.c.identifier == identifier)
        if biller_id is not None:
            q = q.where(t.payers.c.biller_id == biller_id)
        return [
            (
                row.biller_id,
                Payer(
                    id=row.id,
                    kind=IdentifierKind(row.id_kind),
                    identifier=row.identifier,
                    name=row.name,
                    phone=row.phone,
                    id_number=row.id_number,
                ),
            )
            for row in self.conn.execute(q.order_by(t.payers.c.id))
        ]
