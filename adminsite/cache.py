"""Django's Redis cache backend, with one redis-py client per server instead of one per call.

Django's RedisCacheClient builds a new `redis.Redis` around its connection pool for every cache
call; with redis-py 8 that object costs more to build than a round trip on loopback takes (its
constructor sets up retries, encoders, callbacks). The clients built here are kept and reused:
a `redis.Redis` is safe to share between threads (each command takes a connection from the
pool), so nothing else changes. CACHE_URL=redis://... selects it (adminsite/settings.py).

One addition, `get_many_deleting`: read some keys and delete some in one round trip (a
MULTI/EXEC pipeline), for a value used once (a confirm step's before-state) read together with
what goes with it (adminsite.memo.take).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusedClients(RedisCacheClient):
    """RedisCacheClient whose `get_client` returns the same client for the same pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # its private helpers are not in django-stubs
        index = django_client._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = django_client._get_connection_pool(write)
            client = self._clients.setdefault(index, django_client._client(connection_pool=pool))
        return client

    def get_many_deleting(self, keys: list[Any], deleting: list[Any]) -> dict[Any, Any]:
        pipe = self.get_client(None, write=True).pipeline(transaction=True)
        pipe.mget(keys)
        pipe.delete(*deleting)
        values, _deleted = pipe.execute()
        loads = self._serializer.loads  # type: ignore[attr-defined]
        return {k: loads(v) for k, v in zip(keys, values, strict=True) if v is not None}


class Cache(RedisCache):
    """django.core.cache.backends.redis.RedisCache with ReusedClients."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClients

    def get_many_deleting(
        self, keys: list[str], deleting: list[str], version: int | None = None
    ) -> dict[str, Any]:
        """get_many(keys) and delete_many(deleting), in one round trip; what was read is the
        value before the delete."""
        if not deleting:
            return self.get_many(keys, version=version)
        made = {self.make_and_validate_key(k, version=version): k for k in keys}
        gone = [self.make_and_validate_key(k, version=version) for k in deleting]
        found = self._cache.get_many_deleting(list(made), gone)  # type: ignore[attr-defined]
        return {made[k]: v for k, v in found.items()}
