"""Use cases for billers: create, suspend/resume, fee rules, limits and channel settings — each
audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from billfold.clock import Clock
from billfold.collection.ports import UnitOfWork
from billfold.errors import InvariantViolated, NotFound
from billfold.merchants.biller import Biller, BillerStatus, Limits, LookupCheck
from billfold.merchants.channel_config import ChannelConfig
from billfold.merchants.fees import FeeRule
from billfold.money import format_yuan


def require_biller(uow: UnitOfWork, code: str) -> Biller:
    """The stored biller ``code``, or :class:`NotFound` naming it."""
    biller = uow.billers.get_by_code(code)
    if biller is None or biller.id is None:
        raise NotFound(f"biller {code!r} does not exist")
    return biller


def create_biller(uow: UnitOfWork, clock: Clock, biller: Biller, *, actor: str) -> Biller:
    now = clock.now()
    with uow:
        uow.billers.add(biller, now)
        uow.audit.append(
            actor=actor,
            action="create_biller",
            target_type="biller",
            target_id=biller.code,
            reason="onboarding",
            before=None,
            after={"name": biller.name, "kind": biller.kind.value, "status": biller.status.value},
            now=now,
        )
        created = require_biller(uow, biller.code)
        uow.commit()
        return created


def _change_biller(
    uow: UnitOfWork,
    clock: Clock,
    code: str,
    action: str,
    write: Callable[[int, datetime], None],
    view: Callable[[Biller], dict[str, object]],
    *,
    actor: str,
    reason: str,
) -> Biller:
    """Change one setting of biller ``code`` by ``write(biller_id, now)``, audited as
    ``action`` with ``view`` of the biller before and after; the biller as stored now."""
    now = clock.now()
    with uow:
        biller = require_biller(uow, code)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        write(biller.id, now)
        changed = require_biller(uow, code)
        uow.audit.append(
            actor=actor,
            action=action,
            target_type="biller",
            target_id=code,
            reason=reason,
            before=view(biller),
            after=view(changed),
            now=now,
        )
        uow.commit()
        return changed


def set_status(
    uow: UnitOfWork, clock: Clock, code: str, status: BillerStatus, *, actor: str, reason: str
) -> Biller:
    return _change_biller(
        uow,
        clock,
        code,
        "set_status",
        lambda biller_id, now: uow.billers.set_status(biller_id, status, now),
        lambda b: {"status": b.status.value},
        actor=actor,
        reason=reason,
    )


def _rule_view(rule: FeeRule | None) -> dict[str, object] | None:
    if rule is None:
        return None
    return {
        "kind": rule.kind.value,
        "bps": rule.bps,
        "min": format_yuan(rule.min_fen),
        "max": format_yuan(rule.max_fen) if rule.max_fen is not None else None,
        "fixed": format_yuan(rule.fixed_fen),
    }


def set_fee_rule(
    uow: UnitOfWork, clock: Clock, code: str, rule: FeeRule, *, actor: str, reason: str
) -> Biller:
    now = clock.now()
    with uow:
        biller = require_biller(uow, code)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        before = _rule_view(biller.fee_rule(rule.channel))
        uow.billers.set_fee_rule(biller.id, rule)
        uow.audit.append(
            actor=actor,
            action="set_fee_rule",
            target_type="biller",
            target_id=f"{code}/{rule.channel}",
            reason=reason,
            before=before,
            after=_rule_view(rule),
            now=now,
        )
        changed = require_biller(uow, code)
        uow.commit()
        return changed


def _limits_view(limits: Limits) -> dict[str, object]:
    def show(v: int | None) -> str | None:
        return format_yuan(v) if v is not None else None

    return {
        "single_payment": show(limits.single_payment_fen),
        "daily": show(limits.daily_fen),
        "monthly": show(limits.monthly_fen),
    }


def set_limits(
    uow: UnitOfWork, clock: Clock, code: str, limits: Limits, *, actor: str, reason: str
) -> Biller:
    return _change_biller(
        uow,
        clock,
        code,
        "set_limits",
        lambda biller_id, now: uow.billers.set_limits(biller_id, limits, now),
        lambda b: _limits_view(b.limits),
        actor=actor,
        reason=reason,
    )


def set_lookup_check(
    uow: UnitOfWork, clock: Clock, code: str, check: LookupCheck, *, actor: str, reason: str
) -> Biller:
    """What the public pages ask of a payer besides the identifier (audited)."""
    return _change_biller(
        uow,
        clock,
        code,
        "set_lookup_check",
        lambda biller_id, now: uow.billers.set_lookup_check(biller_id, check, now),
        lambda b: {"lookup_check": b.lookup_check.value},
        actor=actor,
        reason=reason,
    )


def _config_view(config: ChannelConfig) -> dict[str, Any]:
    return {
        "enabled": config.enabled,
        "sole": config.sole,
        "merchant_id": config.merchant_id,
        "app_id": config.app_id,
        "settings": dict(config.settings),
    }


def set_channel_config(
    uow: UnitOfWork, clock: Clock, code: str, config: ChannelConfig, *, actor: str, reason: str
) -> None:
    """Enable, disable or configure a channel for a biller (audited)."""
    now = clock.now()
    with uow:
        biller = require_biller(uow, code)
        if biller.id is None:
            raise InvariantViolated("biller.id is missing")
        before = {c.channel: _config_view(c) for c in uow.channels.configs(biller.id)}
        uow.channels.save_config(biller.id, config, now)
        uow.audit.append(
            actor=actor,
            action="set_channel_config",
            target_type="biller",
            target_id=f"{code}/{config.channel}",
            reason=reason,
            before=before.get(config.channel),
            after=_config_view(config),
            now=now,
        )
        uow.commit()
