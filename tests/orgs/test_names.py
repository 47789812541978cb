"""How messages name roles and people (orgs.names), and where those names come from: the reads
the pages already make, never the browser, never an extra upstream call."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

import pytest
from django.core.cache import caches
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import AuditEntry
from orgs import names
from tests.helpers import HTMX, api_calls, mutations, org_id

JANE = "samlp|acme-saml|jane/doe@acme.example"  # "Jane Doe", jane.doe@acme.example, in acme
JANE_LABEL = f"Jane Doe (jane.doe@acme.example · {JANE})"


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


# --- Labels ----------------------------------------------------------------------------------


def test_a_person_with_name_and_email_is_named_by_both_with_the_id_as_detail() -> None:
    assert names.person_label("auth0|123", "Jane Smith", "jane@acme.example") == (
        "Jane Smith (jane@acme.example · auth0|123)"
    )


def test_a_person_without_a_name_is_named_by_email() -> None:
    assert names.person_label("auth0|123", "", "jane@acme.example") == (
        "jane@acme.example (auth0|123)"
    )


def test_a_name_that_is_the_email_is_not_said_twice() -> None:
    # Auth0 sets a database user's name to the email unless told otherwise.
    assert names.person_label("auth0|123", "Jane@Acme.example", "jane@acme.example") == (
        "jane@acme.example (auth0|123)"
    )


def test_a_person_without_an_email_is_named_by_name() -> None:
    assert names.person_label("auth0|123", "Jane Smith", "") == "Jane Smith (auth0|123)"


def test_an_unknown_person_is_the_id_and_says_so() -> None:
    assert names.person_label("auth0|123") == "auth0|123 (name unknown to Org Desk)"
    assert names.known().person_label("auth0|123") == "auth0|123 (name unknown to Org Desk)"


def test_roles_are_labelled_by_name_or_by_id_saying_so() -> None:
    assert names.role_label("rol_1", "Billing Admin") == "Billing Admin"
    assert names.role_label("rol_1", "") == "rol_1 (name unknown to Org Desk)"


def test_right_to_left_text_cannot_reorder_the_id_after_it() -> None:
    """A name with an override (or in a right-to-left script) is isolated: the id after it
    still reads as it is."""
    spoof = "Jane\u202eevil"
    label = names.person_label("auth0|123", spoof, "")
    assert label == "\u2068Jane\u202eevil\u2069 (auth0|123)"
    assert names.person_label("auth0|1", "مريم", "m@x.example") == (
        "\u2068مريم\u2069 (m@x.example · auth0|1)"
    )


def test_long_names_are_kept_short(tenant) -> None:
    member = auth0.Member("auth0|1", "e@x.example", "N" * 2000, "", ())
    names.remember(people=[member])
    name, email = names.known().person("auth0|1")
    assert len(name) == names.MAX_TEXT and name.endswith("…") and email == "e@x.example"


# --- The indexes ---------------------------------------------------------------------------


def _member(n: int, name: str = "") -> auth0.Member:
    return auth0.Member(f"auth0|{n}", f"p{n}@x.example", name or f"Person {n}", "", ())


def test_remember_then_known(tenant) -> None:
    role = auth0.Role("rol_1", "Billing", "")
    names.remember(roles=[role], people=[_member(1), auth0.User("auth0|2", "", "Bo", "db")])
    known = names.known()
    assert known.role_name("rol_1") == "Billing" and known.role_name("rol_2") == ""
    assert known.person("auth0|1") == ("Person 1", "p1@x.example")
    assert known.person_label("auth0|2") == "Bo (auth0|2)"
    assert known.person("auth0|3") == ("", "")


def test_a_person_renamed_in_auth0_is_renamed_here(tenant) -> None:
    names.remember(people=[_member(1, "Old Name")])
    names.remember(people=[_member(1, "New Name")])
    assert names.known().person("auth0|1")[0] == "New Name"


def test_the_people_index_is_bounded_oldest_forgotten_first(tenant, monkeypatch) -> None:
    monkeypatch.setattr(names, "MAX_PEOPLE", 3)
    for n in range(1, 5):
        names.remember(people=[_member(n)])
    names.remember(people=[_member(2)])  # seen again: unchanged, kept in place
    names.remember(people=[_member(5)])
    assert set(names.known().people) == {"auth0|3", "auth0|4", "auth0|5"}


@contextmanager
def counted_cache() -> Iterator[Counter[str]]:
    """Every operation on the default cache in the block (a round trip on Redis), by method,
    on keys under orgs: only; the backend's own calls inside one (locmem's get_many calls its
    get per key) are not counted again."""
    backend = caches["default"]
    counts: Counter[str] = Counter()
    methods = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "touch")
    depth = [0]

    def wrap(method: str):
        real = getattr(backend, method)

        def counting(*args, **kwargs):
            keys = args[0] if args else kwargs.get("key", kwargs.get("keys", kwargs.get("data")))
            listed = [keys] if isinstance(keys, str) else list(keys or [])
            if depth[0] == 0 and any(str(k).startswith("orgs:") for k in listed):
                counts[method] += 1
            depth[0] += 1
            try:
                return real(*args, **kwargs)
            finally:
                depth[0] -= 1

        return counting

    with patch.multiple(backend, **{m: wrap(m) for m in methods}):
        yield counts


def test_members_part_fills_both_indexes_with_one_read_and_at_most_one_write(
    operator_client, tenant, acme
) -> None:
    """No extra upstream call; one get_many of both indexes, one set_many when a name is new,
    none when the page was seen before."""
    url = reverse("orgs:members", args=[acme])
    tenant.clear_log()
    with counted_cache() as first:
        r = operator_client.get(url, headers=HTMX)
    assert len(api_calls(tenant)) == 1  # GET …/members with their roles, as before
    assert first == {"get_many": 1, "set_many": 1}
    known = names.known()
    for member in r.context["members"]:
        if member.name or member.email:
            assert known.person(member.user_id) == (member.name[:120], member.email[:120])
        for role in member.roles:
            assert known.role_name(role.id) == role.name
    assert known.person_label(JANE) == JANE_LABEL
    with counted_cache() as again:
        operator_client.get(url, headers=HTMX)
    assert again == {"get_many": 1}  # a page seen before writes nothing


def test_person_page_and_search_by_email_fill_the_index_without_extra_calls(
    operator_client, tenant
) -> None:
    tenant.clear_log()
    operator_client.get(reverse("orgs:person"), {"user_id": JANE})
    assert len(api_calls(tenant)) == 2  # the user and their organizations, as before
    assert names.known().person_label(JANE) == JANE_LABEL
    caches["default"].clear()
    tenant.clear_log()
    r = operator_client.get(reverse("orgs:search"), {"q": "jane.doe@acme.example"})
    assert r.status_code == 302 and len(api_calls(tenant)) == 1  # users-by-email
    assert names.known().person_label(JANE) == JANE_LABEL


def test_finding_a_member_by_email_fills_the_index(operator_client, tenant, acme) -> None:
    operator_client.get(
        reverse("orgs:members", args=[acme]), {"email": "jane.doe@acme.example"}, headers=HTMX
    )
    assert names.known().person_label(JANE) == JANE_LABEL


# --- Messages --------------------------------------------------------------------------------


def _free_role(acme: str) -> auth0.Role:
    held = {r.id for r in auth0.get_member_roles(org_id=acme, user_id=JANE)}
    return next(r for r in auth0.list_roles() if r.id not in held)


def _message(response) -> str:
    return html.unescape(response.content.decode())


def test_assign_and_remove_name_the_person_listed_before(operator_client, tenant, acme) -> None:
    role = _free_role(acme)
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": JANE, "roles": [role.id]},
        headers=HTMX,
    )
    assert f"Assigned the role {role.name} to {JANE_LABEL}." in _message(r)
    assert len(api_calls(tenant)) == 3  # her roles (no picker), the POST, her roles after
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": JANE, "role": role.id},
        headers=HTMX,
    )
    assert f"Removed the role {role.name} from {JANE_LABEL}." in _message(r)
    assert len(api_calls(tenant)) == 2  # the DELETE, her roles after: no call to name her


def test_a_name_posted_by_the_browser_is_never_used(operator_client, tenant, acme) -> None:
    """Whatever the form claims about the person, the message names her as Auth0 did, or by
    id when Org Desk has not read her; the audit entry holds nothing the browser named."""
    forged = {"name": "Mallory", "email": "mallory@evil.example", "person": "Mallory"}
    [role] = auth0.get_member_roles(org_id=acme, user_id=JANE)[:1]
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": JANE, "role": role.id, **forged},
        headers=HTMX,
    )
    answer = _message(r)
    assert f"from {JANE} (name unknown to Org Desk)." in answer  # not read yet: the id
    assert "Mallory" not in answer and "evil" not in answer
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    role = _free_role(acme)
    r = operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": JANE, "roles": [role.id], **forged},
        headers=HTMX,
    )
    answer = _message(r)
    assert f"to {JANE_LABEL}." in answer and "Mallory" not in answer and "evil" not in answer
    assert len(mutations(tenant)) == 2
    for entry in AuditEntry.objects.all():
        stored = json.dumps([entry.roles, entry.before, entry.after, entry.requested])
        assert "Mallory" not in stored and "evil" not in stored
    assert "Mallory" not in json.dumps(names.known().people)
