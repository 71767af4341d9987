"""The approval state machine of the original campaign platform: scopes, states and the allowed moves.

    pending --approve--> approved        pending --reject--> rejected
    approved --invalidate--> needs_review   (what it approved changed: a strategy change cascades here)
    rejected --reopen--> needs_review       (a person addressed the feedback; or a strategy change, unless
                                             moderation quarantined it)
    needs_review --approve--> approved   needs_review --reject--> rejected

Nothing goes back to pending, nothing is decided twice in a row (approving what is approved is refused, so
a stale screen cannot hide a newer decision), and a rejection is never approved without a review first.
"""

from __future__ import annotations

SCOPES = ("strategy", "content", "schedule", "ads")
PENDING, APPROVED, REJECTED, NEEDS_REVIEW = "pending", "approved", "rejected", "needs_review"
STATUSES = (PENDING, APPROVED, REJECTED, NEEDS_REVIEW)
OPEN = (PENDING, NEEDS_REVIEW)  # waiting for a person (or an auto rule)

TRANSITIONS: dict[str, tuple[str, ...]] = {
    PENDING: (APPROVED, REJECTED),
    APPROVED: (NEEDS_REVIEW,),
    REJECTED: (NEEDS_REVIEW,),
    NEEDS_REVIEW: (APPROVED, REJECTED),
}

# what a strategy change does to the scopes that depend on the strategy
CASCADE_FROM = (APPROVED, REJECTED)
DEPENDENT_SCOPES = ("content", "schedule", "ads")


class ApprovalError(ValueError):
    """A decision that cannot be made: an unknown scope, state or subject."""


class IllegalTransition(ApprovalError):
    """A move the state machine does not allow (e.g. rejected -> approved without a review)."""

    def __init__(self, scope: str, subject_id: str, from_status: str, to_status: str):
        allowed = ", ".join(TRANSITIONS.get(from_status, ())) or "nothing"
        hint = ""
        if from_status == REJECTED and to_status == APPROVED:
            hint = f"; reopen it first (`actp approve reopen {scope} {subject_id}`)"
        elif from_status == to_status:
            hint = f"; it is already {to_status}"
        super().__init__(f"{scope} {subject_id}: {from_status} -> {to_status} is not allowed "
                         f"(from {from_status}: {allowed}){hint}")
        self.scope, self.subject_id, self.from_status, self.to_status = scope, subject_id, from_status, to_status


def check_scope(scope: str) -> str:
    """The scope, or a clear error naming the known ones."""
    if scope not in SCOPES:
        raise ApprovalError(f"unknown approval scope {scope!r}; one of: {', '.join(SCOPES)}")
    return scope


def check_transition(scope: str, subject_id: str, from_status: str, to_status: str) -> None:
    """Raise IllegalTransition unless the state machine allows from_status -> to_status."""
    if to_status not in STATUSES:
        raise ApprovalError(f"unknown approval state {to_status!r}; one of: {', '.join(STATUSES)}")
    if to_status not in TRANSITIONS.get(from_status, ()):
        raise IllegalTransition(scope, subject_id, from_status, to_status)
