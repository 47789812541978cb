"""Template filters and tags shared by the pages.

The rows of the two long tables (50 organizations; 50 members with their roles) are built here
in Python, not in the templates: at about 12 µs per template variable on a modest CPU, the
members template alone took 15 ms, a third of one 50 ms Management API call, where issue #4
allows Org Desk 10% of the time. These functions are the only copy of that markup (the
templates and partials call them), and they escape as Django's autoescaping does: every value
interpolated into the markup goes through `_e` (django.utils.html.escape is html.escape plus a
lazy-string wrapper that costs more than the escaping) or is built from escaped parts.
tests/test_members_views.py and tests/test_orgs_views.py put hostile text in every field.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString

register = template.Library()

_e = html.escape  # & < > " ' as entities: safe in text and in double-quoted attributes


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


@register.filter
def dom_id(value: str, prefix: str = "m") -> str:
    """A stable, selector-safe DOM id for an upstream id that may contain `|`, `/` or quotes."""
    return f"{prefix}-{_digest(value)}"


def _vals(**values: str) -> str:
    """An hx-vals attribute's value: a JSON object of strings, escaped for the attribute.

    Each string is encoded by json.dumps (encoding a whole dict costs twice as much)."""
    pairs = ", ".join(f'"{name}": {json.dumps(value)}' for name, value in values.items())
    return _e("{" + pairs + "}")


# --- Organizations (organization list) -----------------------------------------------------


@register.simple_tag
def organization_rows(organizations: Iterable[Any]) -> SafeString:
    """The table rows of organizations (auth0.Organization), each linking to its page."""
    # One URL lookup per page, not per row: the page of a sample id, split around the id.
    sample = "org_0"
    before, _, after = (
        _e(part) for part in reverse("orgs:detail", args=[sample]).rpartition(sample)
    )
    return SafeString(
        "".join(
            f'<tr>\n<td><a href="{before}{_e(quote(o.id, safe=""))}{after}">'
            f"{_e(o.display_name)}</a></td>\n<td><code>{_e(o.name)}</code></td>\n"
            f'<td><code class="muted">{_e(o.id)}</code></td>\n</tr>\n'
            for o in organizations
        )
    )


# --- Members and their roles (organization page) --------------------------------------------


class _Role(Protocol):
    id: str
    name: str


class _RolesCells:
    """Roles cells of one organization's members: URLs looked up once, and each role's chip
    built once (the members of a page share roles)."""

    def __init__(self, org_id: str, operator: bool) -> None:
        self.operator = operator
        self.chips: dict[tuple[str, str], str] = {}
        if operator:
            self.remove_url = _e(reverse("orgs:remove-role", args=[org_id]))
            self.picker_url = _e(reverse("orgs:role-picker", args=[org_id]))

    def chip(self, role: _Role) -> str:
        key = (role.id, role.name)
        chip = self.chips.get(key)
        if chip is None:
            name = _e(role.name)
            if self.operator:  # the role's id joins the cell's user_id (hx-vals merge); its
                # name is not sent: the removal names the role from what Auth0 told Org Desk
                vals = _vals(role=role.id)
                chip = (
                    f'<span class="chip">{name}\n<button type="button" class="chip-x" '
                    f'hx-post="{self.remove_url}" hx-vals="{vals}" '
                    f'aria-label="Remove role {name}" title="Remove role {name}">×</button></span>'
                )
            else:
                chip = f'<span class="chip">{name}</span>'
            self.chips[key] = chip
        return chip

    def __call__(self, user_id: str, roles: Iterable[_Role], digest: str = "") -> str:
        """The cell; `digest` is _digest(user_id) when the caller has it already."""
        cell_id = f"roles-{digest or _digest(user_id)}"  # hex digits: nothing to escape
        chips = "\n".join(map(self.chip, roles)) or '<span class="muted">No roles</span>'
        if not self.operator:
            return f'<td id="{cell_id}" class="roles" data-testid="roles-cell">\n{chips}\n</td>'
        # Every button in the cell swaps the whole cell and sends the member's user_id: htmx
        # inherits hx-target, hx-swap and hx-vals from the cell.
        return (
            f'<td id="{cell_id}" class="roles" data-testid="roles-cell" hx-target="this" '
            f'hx-swap="outerHTML" hx-vals="{_vals(user_id=user_id)}">\n{chips}\n'
            f'<button type="button" class="small" hx-get="{self.picker_url}">Add roles…</button>'
            "\n</td>"
        )


def _cells(context: Mapping[str, Any]) -> _RolesCells:
    return _RolesCells(str(context["org_id"]), bool(context.get("is_operator")))


@register.simple_tag(takes_context=True)
def member_rows(context: Mapping[str, Any], members: Iterable[Any]) -> SafeString:
    """The table rows of members (auth0.Member), each with its roles cell."""
    cell = _cells(context)
    rows = []
    for m in members:
        digest = _digest(m.user_id)
        rows.append(
            f'<tr id="m-{digest}" data-testid="member-row">\n<td>{_e(m.name or "—")}</td>\n'
            f'<td>{_e(m.email or "—")}</td>\n<td><code class="muted">{_e(m.user_id)}</code></td>\n'
            f"{cell(m.user_id, m.roles, digest)}\n</tr>\n"
        )
    return SafeString("".join(rows))


@register.simple_tag(takes_context=True)
def roles_cell(context: Mapping[str, Any], user_id: str, roles: Iterable[Any]) -> SafeString:
    """One member's roles cell: role chips (with remove buttons for operators), Add roles…"""
    return SafeString(_cells(context)(user_id, roles))
