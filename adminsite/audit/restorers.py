"""What restoring a removal means, one kind of removal at a time.

The restore view (adminsite.audit.views.restore) is the same for every kind: it asks the kind's
Restorer whether the entry can be restored, writes the attempt's pending entry under a lock on
the removal's row (so that a removal is restored once), then lets the Restorer make the call and
say how it went. Each feature registers its kind in its AppConfig.ready().
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from django.http import HttpRequest

if TYPE_CHECKING:
    from adminsite.audit.models import AuditEntry
    from adminsite.audit.recording import Recording


class Restorer(Protocol):
    what: str  # what is restored, for people: "connection", "member", "invitation"

    def possible(self, removal: AuditEntry) -> bool:
        """A successful removal whose state before is known well enough to give it back."""
        ...

    def attempt(self, request: HttpRequest, removal: AuditEntry) -> Recording:
        """The restore's audit entry, not yet written (`restores=removal`)."""
        ...

    def apply(self, request: HttpRequest, removal: AuditEntry, attempt: Recording) -> None:
        """Make the call inside `with attempt:` and leave a message saying how it went."""
        ...


_restorers: dict[str, Restorer] = {}


def register(action: str, restorer: Restorer) -> None:
    _restorers[action] = restorer


def for_entry(entry: AuditEntry) -> Restorer | None:
    """The Restorer of this entry's kind when the entry can be restored, else None."""
    restorer = _restorers.get(entry.action)
    return restorer if restorer is not None and restorer.possible(entry) else None
