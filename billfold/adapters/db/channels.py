"""Per-biller channel configuration and the notification nonce store in the database."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from billfold.adapters.db import schema as t
from billfold.adapters.db.orders import _insert
from billfold.merchants.channel_config import ChannelConfig


class SqlChannels:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def configs(self, biller_id: int) -> list[ChannelConfig]:
        q = (
            select(t.channel_configs)
            .where(t.channel_configs.c.biller_id == biller_id)
            .order_by(t.channel_configs.c.channel)
        )
        return [
            ChannelConfig(
                channel=r.channel,
                enabled=r.enabled,
                sole=r.sole,
                merchant_id=r.merchant_id,
                app_id=r.app_id,
                settings=json.loads(r.settings),
            )
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
