"""A confirm step's choice starts one job, even when its "Start the job" is posted twice at the
same moment (a double click, or two instances behind the load balancer): the stashed choice
is taken by whoever deletes it, so of two takers that both read it only one gets it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from adminsite.jobs import services


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    cache.clear()


def test_a_choice_is_taken_once() -> None:
    olivia = User(pk=7, username="olivia")
    token = services.stash_choice(olivia, "org_1", {"kind": "assign_roles"})
    assert services.take_choice(olivia, "org_1", token) == {"kind": "assign_roles"}
    assert services.take_choice(olivia, "org_1", token) is None


def test_two_takers_at_once_only_one_gets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second start reads the choice after the first has read it and before the first has
    deleted it (the interleaving two requests at once can have): one of them gets it."""
    olivia = User(pk=7, username="olivia")
    token = services.stash_choice(olivia, "org_1", {"kind": "assign_roles"})
    real_get = cache.get
    second: list[Any] = []

    def get_then_race(key: str, default: Any = None, version: int | None = None) -> Any:
        value = real_get(key, default, version)
        if not second:  # the first taker has read it: the second one comes in now
            second.append(None)
            second[0] = services.take_choice(olivia, "org_1", token)
        return value

    monkeypatch.setattr(cache, "get", get_then_race)
    first = services.take_choice(olivia, "org_1", token)
    taken = [c for c in (first, second[0]) if c is not None]
    assert taken == [{"kind": "assign_roles"}]


def test_another_operator_or_organization_cannot_take_it() -> None:
    olivia, bob = User(pk=7, username="olivia"), User(pk=8, username="bob")
    token = services.stash_choice(olivia, "org_1", {"kind": "assign_roles"})
    assert services.take_choice(bob, "org_1", token) is None
    assert services.take_choice(olivia, "org_2", token) is None
    assert services.take_choice(olivia, "org_1", token) is not None
