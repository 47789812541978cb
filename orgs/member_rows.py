"""The members part's rows and roles cells, written in Python.

A page of 50 members is the biggest thing Org Desk renders: through the template engine its
rows cost about 5 ms (every `{{ }}` and `{% if %}` of every row is a lookup and a conditional
escape), more than the rest of the request. The same markup built here with `html.escape` costs
a fraction of that. The template keeps the partials `member-row` and `roles-cell` (rendered
alone after a change), each one tag (`{% member_row member %}`, `{% roles_cell member %}`,
adminsite/templatetags/orgdesk.py); the markup is the one documented in
templates/orgs/organization_detail.html.
"""

from __future__ import annotations

from html import escape
from typing import Any

from django.urls import reverse
from django.utils.safestring import SafeString

from adminsite.auth0 import Member
from adminsite.templatetags.orgdesk import dom_id, hx_vals, roles_cell_id


def _url(context: Any, name: str, view: str, org_id: str) -> str:
    """A URL the list looked up once (`{% url … as name %}`), else looked up now and kept."""
    url = context.get(name)
    if not url:
        url = reverse(view, args=[org_id])
        context[name] = url
    return str(url)


def roles_cell(context: Any, member: Member | dict[str, Any]) -> SafeString:
    """The member's roles: chips, and for an operator each chip's × and "Add roles…". `member`
    may also be a dict of `user_id` and `roles` (a cell rendered alone, orgs/members.py)."""
    org_id = str(context.get("org_id"))
    if isinstance(member, dict):
        user_id, roles = str(member["user_id"]), tuple(member["roles"])
    else:
        user_id, roles = member.user_id, member.roles
    cell_id = roles_cell_id(user_id, org_id)
    if context.get("is_operator"):
        picker = escape(_url(context, "picker_url", "orgs:role-picker", org_id))
        remove = escape(_url(context, "remove_url", "orgs:remove-role", org_id))
        parts = [
            f'\n\n<td id="{cell_id}" class="roles" data-label="Roles" data-testid="roles-cell" '
            f'hx-target="this" hx-swap="outerHTML" data-remove-role="{remove}">\n'
        ]
        for role in roles:
            name = escape(role.name)
            parts.append(
                f'<span class="chip">{name}<button type="button" class="chip-x" '
                f'data-chip-ask="{escape(role.id)}" aria-expanded="false" '
                f'aria-label="Remove role {name}…">×</button></span>\n'
            )
        if not roles:
            parts.append('<span class="muted">No roles</span>\n')
        parts.append(
            f'<button type="button" class="small" data-row-open hx-get="{picker}">'
            "Add roles…</button>\n</td>\n\n"
        )
    else:
        parts = [
            f'\n\n<td id="{cell_id}" class="roles" data-label="Roles" data-testid="roles-cell">\n'
        ]
        parts += [f'<span class="chip">{escape(role.name)}</span>\n' for role in roles]
        if not roles:
            parts.append('<span class="muted">No roles</span>\n')
        parts.append("</td>\n\n")
    return SafeString("".join(parts))


def member_row(context: Any, member: Member) -> SafeString:
    """One member's row: name, email, user id, roles cell, and for an operator "Remove…"."""
    operator = bool(context.get("is_operator"))
    user_id = escape(member.user_id)
    vals = f' hx-vals="{hx_vals(member.user_id, "user_id")}"' if operator else ""
    # An operator's checkbox for bulk changes: it belongs to the bulk panel's form (form=),
    # which may not be open; a form that is not on the page leaves it unsent.
    pick = (
        f'<td class="pick"><input type="checkbox" name="pick" value="{user_id}" '
        f'form="bulk-form" data-bulk-pick aria-label="Select {escape(member.label)}"></td>\n'
        if operator
        else ""
    )
    row = (
        f'\n<tr id="{dom_id(member.user_id, "member")}" data-testid="member-row"{vals}>\n'
        f"{pick}"
        f'<td data-label="Member">{escape(member.name) if member.name else "—"}</td>\n'
        f'<td data-label="Email">{escape(member.email) if member.email else "—"}</td>\n'
        f'<td data-label="User id"><code class="muted">{user_id}</code></td>\n'
        f"{roles_cell(context, member)}\n"
    )
    if operator:
        org_id = str(context.get("org_id"))
        remove = escape(_url(context, "remove_member_url", "orgs:remove-member", org_id))
        row += (
            f'\n<td class="actions"><button type="button" class="danger small" '
            f'hx-get="{remove}" hx-target="closest tr" hx-swap="outerHTML" '
            f'aria-label="Remove {escape(member.label)} from this organization…">Remove…</button>'
            "</td>\n"
        )
    return SafeString(row + "\n</tr>\n")
