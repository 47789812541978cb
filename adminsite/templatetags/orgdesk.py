"""Template filters shared by the pages.

The markup itself lives in the templates (the organization rows in orgs/organization_list.html,
the member rows and roles cells in orgs/organization_detail.html, as partials); these filters
only compute values that a template cannot: a selector-safe DOM id for an upstream id, and the
JSON of an hx-vals attribute.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any

from django import template
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def dom_id(value: str, prefix: str = "m") -> SafeString:
    """A stable, selector-safe DOM id for an upstream id that may contain `|`, `/` or quotes."""
    # Hex digits after a fixed prefix: nothing to escape, so marked safe (autoescaping skips it).
    return SafeString(f"{prefix}-{hashlib.sha256(value.encode()).hexdigest()[:16]}")


@register.filter
def roles_cell_id(user_id: str, org_id: str) -> SafeString:
    """The DOM id of a member's roles cell in one organization: a person's page shows the same
    user in several organizations, so the id depends on both."""
    digest = hashlib.sha256(f"{org_id}\0{user_id}".encode()).hexdigest()[:16]
    return SafeString(f"roles-{digest}")


@register.filter
def hx_vals(value: object, name: str) -> SafeString:
    """The JSON object `{"name": "value"}` for a double-quoted hx-vals attribute, e.g.
    `hx-vals="{{ member.user_id|hx_vals:'user_id' }}"`.

    Escaped here for the attribute (quotes, `<`, `&` become entities, so htmx reads back the
    exact string) and marked safe, so autoescaping does not pay for a second look."""
    return SafeString(html.escape(f"{{{json.dumps(name)}: {json.dumps(str(value))}}}"))


@register.simple_tag(takes_context=True)
def member_row(context: template.Context, member: Any) -> SafeString:
    """A member's row of the members part (orgs/member_rows.py)."""
    from orgs import member_rows

    return member_rows.member_row(context, member)


@register.simple_tag
def organization_rows(orgs_url: str, organizations: Any) -> SafeString:
    """The organization list's rows (orgs/org_rows.py)."""
    from orgs import org_rows

    return org_rows.organization_rows(str(orgs_url), organizations)


@register.simple_tag(takes_context=True)
def roles_cell(context: template.Context, member: Any) -> SafeString:
    """A member's roles cell (orgs/member_rows.py)."""
    from orgs import member_rows

    return member_rows.roles_cell(context, member)
