"""Per-biller channel configuration and the notification nonce store in the database."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, bindparam, delete, select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.fastpath import run_read
from billfold.adapters.db.liveness import watch_read
from billfold.adapters.db.orders import _ORDER_BY_NO, SqlOrders, _insert
from billfold.collection.order import Order
from billfold.merchants.channel_config import ChannelConfig

_C = t.channel_configs.c
# the order with its lines, its biller's code and the biller's config of one channel: what
# verifying a channel's notification needs, in one query (the config columns prefixed c_)
_ORDER_SETTINGS = (
    _ORDER_BY_NO.add_columns(
        t.billers.c.code.label("biller_code"),
        _C.id.label("c_id"),
        _C.enabled.label("c_enabled"),
        _C.sole.label("c_sole"),
        _C.merchant_id.label("c_merchant_id"),
        _C.app_id.label("c_app_id"),
        _C.settings.label("c_settings"),
    )
    .join(t.billers, t.billers.c.id == t.orders.c.biller_id)
    .outerjoin(
        t.channel_configs,
        and_(_C.biller_id == t.orders.c.biller_id, _C.channel == bindparam("channel")),
    )
)


def read_order_settings(
    db: Engine, order_no: str, channel: str
) -> tuple[Order | None, str | None, ChannelConfig | None]:
    """:meth:`SqlChannels.order_settings` on a connection of its own, in one round trip on
    PostgreSQL: its one SELECT runs outside a transaction (autocommit), so neither a BEGIN
    nor a ROLLBACK goes to the server — one statement sees one consistent snapshot anyway.
    SQLite reads in a transaction as every unit of work does (no network to spare).
    A dead pooled connection fails the read under :func:`~.liveness.watch_read`, for
    :func:`~.liveness.once_more_if_dead` to read again on a fresh one."""
    if db.dialect.name == "postgresql":
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, watch_read(conn):
            return SqlChannels(conn).order_settings(order_no, channel)
    with db.connect() as conn, conn.begin():
        return SqlChannels(conn).order_settings(order_no, channel)


def _config(
    channel: str,
    enabled: object,
    sole: object,
    merchant_id: str | None,
    app_id: str | None,
    settings: str,
) -> ChannelConfig:
    """A stored channel config (SQLite's driver gives its flags as 0/1)."""
    return ChannelConfig(
        channel=channel,
        enabled=bool(enabled),
        sole=bool(sole),
        merchant_id=merchant_id,
        app_id=app_id,
        settings=json.loads(settings),
    )


class SqlChannels:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def order_settings(
        self, order_no: str, channel: str
    ) -> tuple[Order | None, str | None, ChannelConfig | None]:
        """The order numbered ``order_no``, its biller's code and the biller's config of
        ``channel`` (``None`` for what is not there), in one round trip."""
        rows = run_read(self.conn, _ORDER_SETTINGS, {"order_no": order_no, "channel": channel})
        order = SqlOrders.from_rows(rows)
        if order is None:
            return None, None, None
        row = rows[0]
        config = None
        if row.c_id is not None:
            config = _config(
                channel, row.c_enabled, row.c_sole, row.c_merchant_id, row.c_app_id, row.c_settings
            )
        return order, str(row.biller_code), config

    def configs(self, biller_id: int) -> list[ChannelConfig]:
        q = (
            select(t.channel_configs)
            .where(t.channel_configs.c.biller_id == biller_id)
            .order_by(t.channel_configs.c.channel)
        )
        return [
            _config(r.channel, r.enabled, r.sole, r.merchant_id, r.app_id, r.settings)
            for r in self.conn.execute(q)
        ]

    def save_config(self, biller_id: int, config: ChannelConfig, now: datetime) -> None:
        c = t.channel_configs.c
        if config.sole:  # only one designated sole channel per biller
            self.conn.execute(
                update(t.channel_configs).where(c.biller_id == biller_id).values(sole=False)
            )
        values = {
            "enabled": config.enabled,
            "sole": config.sole,
            "merchant_id": config.merchant_id,
            "app_id": config.app_id,
            "settings": json.dumps(dict(config.settings), ensure_ascii=False, sort_keys=True),
            "updated_at": now,
        }
        done = self.conn.execute(
            update(t.channel_configs)
            .where(c.biller_id == biller_id, c.channel == config.channel)
            .values(**values)
        ).rowcount
        if not done:
            self.conn.execute(
                t.channel_configs.insert().values(
                    biller_id=biller_id, channel=config.channel, **values
                )
            )

    def remember_nonce(self, channel: str, nonce: str, now: datetime) -> bool:
        """Record a notification nonce; ``True`` if it had been seen before (a replay)."""
        stmt = (
            _insert(self.conn, t.channel_nonces)
            .values(channel=channel, nonce=nonce, seen_at=now)
            .on_conflict_do_nothing(index_elements=["channel", "nonce"])
            .returning(t.channel_nonces.c.id)
        )
        return self.conn.execute(stmt).scalar_one_or_none() is None

    def forget_nonces_before(self, before: datetime) -> int:
        """Nonces older than the freshness window can go: their timestamps are refused anyway."""
        return int(
            self.conn.execute(
                delete(t.channel_nonces).where(t.channel_nonces.c.seen_at < before)
            ).rowcount
        )
