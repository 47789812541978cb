"""Django's cached_db sessions, whose cache read can ride along with other keys.

Behind the SSO proxy every request reads its session and then its user from the cache: two
round trips to Redis, one after the other. The proxy's header names the user before either is
read, so adminsite.sso reads both in one `get_many` and hands the session's part to the store
(`offer`); `load` then uses it instead of reading the cache again. Anything else (no offer, a
session the cache lost) is cached_db's own behaviour: the cache, then the database.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import cached_db

_NOTHING = object()


class SessionStore(cached_db.SessionStore):
    _offered: Any = _NOTHING

    def cache_key_if_any(self) -> str | None:
        """The cache key of the session the cookie named (None: there is none to read)."""
        key = self.session_key  # None unless the cookie held a well-formed key
        return self.cache_key_prefix + key if key else None

    def offer(self, data: Any) -> None:
        """What the cache held at `cache_key_if_any()`, read by someone else (None: nothing)."""
        self._offered = data

    def load(self) -> dict[str, Any]:
        data, self._offered = self._offered, _NOTHING
        if isinstance(data, dict):
            return data
        return super().load()  # not offered, or not in the cache: as cached_db does
