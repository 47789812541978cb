"""Paging follows whatever cursor Auth0 sends; a cursor Org Desk refuses is said, not ignored.

The sandbox's cursors are opaque and full of URL-special characters (`|`, `+`, `/`, `=`, `&`),
as Auth0's may be: these tests click the pages' own Next → links."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from adminsite import auth0
from tests.helpers import HTMX, api_calls, org_id

NEXT = re.compile(r'hx-get="([^"]*)"[^>]*>Next →')


def _next_url(body: str) -> str:
    [url] = NEXT.findall(body)
    return html.unescape(url)


def test_next_on_organizations_follows_an_opaque_cursor(operator_client, tenant) -> None:
    first = auth0.list_organizations(take=50)
    second = auth0.list_organizations(from_=first.next, take=50)
    assert first.next and {"|", "+", "/", "=", "&"} <= set(first.next)  # not base64-looking
    list_url = reverse("orgs:list")
    r = operator_client.get(list_url)
    url = _next_url(r.content.decode())
    assert "%7C" in url and "%2B" in url and "%26" in url  # percent-encoded in the link
    page = operator_client.get(list_url + url, headers=HTMX | {"HX-Target": "org-table"})
    assert page.status_code == 200
    assert [o.id for o in page.context["page"].organizations] == [
        o.id for o in second.organizations
    ]
    assert page.context["cursor"] == first.next


def test_next_on_members_follows_an_opaque_cursor(operator_client, tenant) -> None:
    big = org_id("big-co")
    first = auth0.list_members(org_id=big, take=50)
    second = auth0.list_members(org_id=big, from_=first.next, take=50)
    assert first.next and "|" in first.next
    r = operator_client.get(reverse("orgs:members", args=[big]), headers=HTMX)
    page = operator_client.get(_next_url(r.content.decode()), headers=HTMX)
    assert page.status_code == 200
    assert [m.user_id for m in page.context["members"]] == [m.user_id for m in second.members]
    assert page.context["members"] and page.context["members"] != first.members


@pytest.mark.parametrize("cursor", ["abc\n", "ck~1|x\x00", "a\x1bb", "a" * 1025])
def test_a_refused_cursor_is_said_not_turned_into_the_first_page(
    operator_client, tenant, cursor
) -> None:
    big = org_id("big-co")
    tenant.clear_log()
    plain = operator_client.get(reverse("orgs:list"), {"from": cursor})
    assert plain.status_code == 400
    assert "That page link is not one Org Desk can follow" in plain.content.decode()
    assert 'data-testid="refused"' in plain.content.decode()
    for url, target in (
        (reverse("orgs:list"), "org-table"),
        (reverse("orgs:members", args=[big]), ""),
    ):
        r = operator_client.get(url, {"from": cursor}, headers=HTMX | {"HX-Target": target})
        assert r.status_code == 400 and r["HX-Reswap"] == "none"
        body = r.content.decode()
        assert "That page link is not one Org Desk can follow" in body
        assert "member-row" not in body and "<table" not in body  # no first page instead
    assert api_calls(tenant) == []


def test_a_cursor_auth0_refuses_is_said_too(operator_client, tenant) -> None:
    """Within the rule, Auth0 judges the cursor; its refusal is a message, not page 1."""
    r = operator_client.get(reverse("orgs:list"), {"from": "no|such+cursor/=&"})
    assert r.status_code == 200 and r.context["page"] is None
    assert "Auth0 rejected the request (400" in html.unescape(r.content.decode())
    [call] = api_calls(tenant)
    assert "from=no%7Csuch%2Bcursor%2F%3D%26" in call["query"]


def test_the_views_use_the_service_modules_cursor_rule(rf) -> None:
    """One rule: what auth0.is_cursor accepts is sent and followed by the pages; the rest is
    refused by the service module and by the pages alike."""
    from orgs import paging

    for value in ["ck~1|a+b/=&", "x" * 1024, "abc\n", "x" * 1025, "a\x85b"]:
        try:
            auth0.api._from(value)
            sent = True
        except auth0.InvalidId:
            sent = False
        assert sent == auth0.is_cursor(value), value
        try:
            followed = paging.page_cursor(rf.get("/", {"from": value})) == value
        except paging.BadCursor:
            followed = False
        assert followed == sent, value
