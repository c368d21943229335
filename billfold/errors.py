"""The one exception hierarchy of billfold.

Exceptions are for broken invariants, bad input and transport faults. A decline or a
rejection that a caller is expected to handle (a payment held for review, a channel
saying "insufficient funds") is a value with a code, not an exception.

Every message is written for the clerk who will read it.
"""

from __future__ import annotations

__all__ = [
    "BadCursor",
    "BadQuery",
    "BillfoldError",
    "BillsAlreadyPaid",
    "ChannelError",
    "ConcurrencyConflict",
    "ConfigurationError",
    "Conflict",
    "ImportFailed",
    "InvalidAmount",
    "InvalidInput",
    "InvalidTransition",
    "InvariantViolated",
    "LimitExceeded",
    "NotFound",
    "SelfApproval",
    "SignatureInvalid",
]


class BillfoldError(Exception):
    """Base of every error billfold raises on purpose. ``code`` is stable for APIs."""

    code = "billfold_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(BillfoldError):
    """Input that cannot be accepted; the message names the field (and line)."""

    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class NotFound(BillfoldError):
    code = "not_found"


class Conflict(BillfoldError):
    """The request clashes with what is already stored (duplicate number, wrong state)."""

    code = "conflict"


class InvalidTransition(Conflict):
    """A state machine was asked for a transition it does not allow."""

    code = "invalid_transition"


class SelfApproval(Conflict):
    """Maker-checker: the person who proposed an action may not approve it too."""

    code = "self_approval"


class BillsAlreadyPaid(Conflict):
    """Paying would send the money to suspense: these bills are paid already."""

    code = "bills_already_paid"

    def __init__(self, message: str, bill_nos: list[str]) -> None:
        super().__init__(message)
        self.bill_nos = bill_nos


class LimitExceeded(Conflict):
    code = "limit_exceeded"


class ConcurrencyConflict(Conflict):
    """Somebody else changed the row first; retrying the operation is safe."""

    code = "concurrency_conflict"


class ImportFailed(InvalidInput):
    """A file import was rejected as a whole; ``errors`` lists every problem found."""

    code = "import_failed"

    def __init__(self, message: str, errors: list[str]) -> None:
        super().__init__(message)
        self.errors = errors


class SignatureInvalid(BillfoldError):
    """A notification or request failed verification; nothing was changed."""

    code = "signature_invalid"


class ChannelError(BillfoldError):
    """A channel could not be reached or answered something unintelligible."""

    code = "channel_error"


class ConfigurationError(BillfoldError):
    code = "configuration_error"


class InvariantViolated(BillfoldError):
    """Something that must always hold does not: a bug or damaged data, never the user's
    input. Raised where code checks a money or state invariant (``python -O`` strips
    ``assert`` statements, so billfold's own code uses none; ruff's S101 keeps it so)."""

    code = "invariant_violated"


class BadQuery(BillfoldError):
    """A list was asked for with a filter, sort or cursor it does not know (HTTP 400)."""

    code = "bad_query"


class BadCursor(BadQuery):
    """A page cursor billfold did not issue, or issued for another list, sort or filters."""

    code = "bad_cursor"
