"""What the back office is advised to do with a discrepancy, and when a reversal is refused.

A 短款 (``engine_only``: the engine holds a payment the statement does not show) is not
proof that the payment never happened: the statement may cover another merchant, be late, or
the line may sit in tomorrow's file. Reversing it undoes a payment the payer made. So
``reverse`` is advised — and allowed — for an engine-only line only after the channel has
been asked (the T+0 requery) and said the payment does not exist; a channel that confirms
it rules the reversal out.
"""

from __future__ import annotations

from enum import StrEnum

from billfold.channels.base import RemoteState
from billfold.money import format_yuan
from billfold.settlement.discrepancy import Action, Code, Discrepancy, allowed_actions

__all__ = ["ChannelWord", "advised_actions", "reversal_refusal", "word_of"]


class ChannelWord(StrEnum):
    """What the channel said, asked about the order of a discrepancy."""

    CONFIRMS = "confirms"  # the channel has the payment
    DENIES = "denies"  # the channel has no payment for it (not found, closed, failed)
    UNSURE = "unsure"  # still pending at the channel


def word_of(state: RemoteState) -> ChannelWord:
    if state is RemoteState.PAID:
        return ChannelWord.CONFIRMS
    if state is RemoteState.PENDING:
        return ChannelWord.UNSURE
    return ChannelWord.DENIES


def _needs_word(d: Discrepancy) -> bool:
    return d.code is Code.ENGINE_ONLY


def advised_actions(d: Discrepancy, word: ChannelWord | None) -> tuple[Action, ...]:
    """The actions to offer for ``d``, given what its channel said (``None``: not asked)."""
    allowed = allowed_actions(d.code)
    if _needs_word(d) and word is not ChannelWord.DENIES:
        return tuple(a for a in allowed if a is not Action.REVERSE)
    return allowed


def reversal_refusal(d: Discrepancy, word: ChannelWord | None) -> str | None:
    """Why reversing ``d`` is refused, or ``None`` when it may be reversed."""
    if not _needs_word(d) or word is ChannelWord.DENIES:
        return None
    what = f"payment {d.channel_txn_id} ({format_yuan(-d.difference_fen)})"
    if word is ChannelWord.CONFIRMS:
        return (
            f"action: 渠道确认该笔支付存在，不能冲正 (the channel confirms {what}); it is not "
            "reversed — accept the discrepancy (the statement missed it) or write it off"
        )
    if word is ChannelWord.UNSURE:
        return (
            f"action: 渠道尚无定论，暂不能冲正 (the channel still has {what} pending); ask it "
            "again later"
        )
    return (
        f"action: 冲正前须先向渠道查询 (ask the channel first): the engine holds {what}; a "
        f"statement that does not show it is no proof it never happened — ask the channel "
        f"(billfold reconcile ask {d.id} --channels …) and reverse only if it says the payment "
        "does not exist"
    )
