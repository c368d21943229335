"""Which channels a biller takes, and each channel's per-biller settings.

Kept in the database (table ``channel_configs``), never in code. Secrets are not stored
here: settings name where a secret lives (an environment variable or a file), e.g.
``{"api_v3_key_env": "SCHOOL1_WECHAT_V3_KEY"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from billfold.errors import InvalidInput

__all__ = ["ChannelConfig", "channel_refusal"]


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    channel: str
    enabled: bool = True
    sole: bool = False  # the designated sole channel: every other channel is refused
    merchant_id: str | None = None
    app_id: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.channel or len(self.channel) > 32:
            raise InvalidInput("channel: 1-32 characters required")
        if self.sole and not self.enabled:
            raise InvalidInput(f"channel {self.channel}: a designated sole channel must be enabled")


def channel_refusal(biller_code: str, configs: Sequence[ChannelConfig], channel: str) -> str | None:
    """Why ``channel`` may not collect for this biller, or ``None`` if it may.

    A biller with no channel configuration takes every channel; once configured, only
    enabled channels; with a designated sole channel, only that one.
    """
    if not configs:
        return None
    sole = [c for c in configs if c.sole]
    if sole and sole[0].channel != channel:
        return (
            f"{biller_code} collects only through {sole[0].channel} "
            f"(its designated sole channel); {channel} is not accepted"
        )
    for config in configs:
        if config.channel == channel:
            return None if config.enabled else f"{channel} is disabled for {biller_code}"
    return f"{channel} is not enabled for {biller_code}"
