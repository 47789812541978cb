"""An organization's members: one page of them with their roles, those matching an email, and
their roles: the role picker, assigning roles (within Auth0's 50 per member) and removing one.

Role changes are recorded in the audit log (adminsite.audit.recording), attempts that fail
included; the names in entries and messages come from Auth0's answers (orgs.role_names).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from adminsite import auth0, flash
from adminsite.audit import recording as audit
from adminsite.audit.models import Action
from adminsite.http import HtmxHttpRequest
from adminsite.permissions import operator_required
from orgs import paging, role_names
from orgs.forms import MAX_ROLES_PER_MEMBER, AssignRolesForm, MemberForm, RemoveRoleForm

DETAIL = "orgs/organization_detail.html"


@require_GET
def member_list(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """F5: one page of members with their roles, or the members matching an email."""
    if not request.htmx:
        return redirect("orgs:detail", org_id)
    email = request.GET.get("email", "").strip()[:254]
    try:
        cursor = None if email else paging.page_cursor(request)
    except paging.BadCursor:
        return flash.refuse(request, paging.BAD_CURSOR)
    members: list[auth0.Member] = []
    nxt = previous = None
    failed = False
    try:
        if email:
            members = auth0.find_members(org_id=org_id, email=email)
        else:
            page = auth0.list_members(org_id=org_id, from_=cursor, take=paging.PAGE_SIZE)
            members, nxt = page.members, page.next
    except auth0.InvalidId as exc:
        return flash.refuse(request, str(exc))
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        failed = True
    role_names.remember(r for m in members for r in m.roles)
    if not email:
        previous = paging.previous_cursor(request, f"member_pages:{org_id}", cursor, nxt)
    context = {
        "org_id": org_id,
        "members": members,
        "email": email,
        "cursor": cursor,
        "next": nxt,
        "previous": previous,
        "failed": failed,
    }
    return render(request, f"{DETAIL}#member-list", context)


# --- Member roles (F6) -----------------------------------------------------------------------

NOT_LOADED = "Nothing was loaded"
NOT_CHANGED = "Nothing was changed"


def _roles_cell(
    request: HtmxHttpRequest, org_id: str, user_id: str, roles: list[auth0.Role] | None = None
) -> HttpResponse:
    """Re-render one member's roles cell, fetching the roles unless given."""
    if roles is None:
        try:
            roles = auth0.get_member_roles(org_id=org_id, user_id=user_id)
        except auth0.InvalidId as exc:
            return flash.refuse(request, f"{NOT_LOADED}: {exc}")
        except auth0.Auth0Error as exc:
            flash.report(request, exc, subject="member")
            return flash.no_swap()
        role_names.remember(roles)
    context = {"org_id": org_id, "member": {"user_id": user_id, "roles": roles}}
    return render(request, f"{DETAIL}#roles-cell", context)


def _invalid(request: HtmxHttpRequest, form: MemberForm, outcome: str) -> HttpResponse:
    errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
    return flash.refuse(request, f"{outcome}: {errors}")


@require_GET
def member_roles(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """A member's roles cell (also what Cancel in the role picker goes back to)."""
    form = MemberForm(request.GET)
    if not form.is_valid():
        return _invalid(request, form, NOT_LOADED)
    if not request.htmx:  # a part of the organization page, not a page
        return redirect("orgs:detail", org_id)
    return _roles_cell(request, org_id, form.cleaned_data["user_id"])


@require_GET
@operator_required
def role_picker(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """F6: the searchable picker of tenant roles for one member (GET /roles?name_filter=).

    Operators only, like the assignment it leads to: a viewer gets 403 and no upstream call."""
    form = MemberForm(request.GET)
    if not form.is_valid():
        return _invalid(request, form, NOT_LOADED)
    if not request.htmx:  # a part of the organization page, not a page
        return redirect("orgs:detail", org_id)
    user_id = form.cleaned_data["user_id"]
    query = request.GET.get("q", "").strip()[:100]
    only_options = request.htmx and request.GET.get("options") == "1"
    try:
        roles = auth0.list_roles(name_filter=query)
        current = [] if only_options else auth0.get_member_roles(org_id=org_id, user_id=user_id)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_LOADED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member")
        return flash.no_swap()
    role_names.remember([*roles, *current])
    if not only_options:  # what an assignment from this picker starts from (audit, limit)
        audit.stash_member_roles(request, org_id, user_id, current)
    if only_options:  # the roles the picker showed as assigned: only well-formed ids count
        assigned = {r for r in request.GET.getlist("assigned") if auth0.ROLE_ID.fullmatch(r)}
    else:
        assigned = {r.id for r in current}
    context = {
        "org_id": org_id,
        "member": {"user_id": user_id, "roles": current},
        "assigned": assigned,
        "roles": roles,
        "q": query,
        "max_roles": MAX_ROLES_PER_MEMBER,
    }
    partial = "role-options" if only_options else "role-picker"
    return render(request, f"{DETAIL}#{partial}", context)


def _role_list(roles: list[auth0.Role]) -> list[dict[str, str]]:
    return [{"id": r.id, "name": r.name} for r in roles]


def _known_roles(role_ids: list[str]) -> list[dict[str, str]]:
    """Role ids with the names Auth0 last sent Org Desk ("" when unknown), never posted ones."""
    return [{"id": r, "name": role_names.name_of(r)} for r in role_ids]


@require_POST
@operator_required
def assign_roles(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """F6: assign the picked roles, within Auth0's limit of 50 roles per member."""
    form = AssignRolesForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form, NOT_CHANGED)
    user_id, picked = form.cleaned_data["user_id"], form.cleaned_data["roles"]
    current: list[auth0.Role] = []
    new: list[str] = []
    refused = ""
    roles: list[auth0.Role] | None = None
    try:
        with audit.record(
            request,
            action=Action.ASSIGN_ROLES,
            org_id=org_id,
            member_id=user_id,
            roles=_known_roles(picked),
            requested={"roles": picked},
        ) as entry:
            # The current roles, for the 50-role limit and the audit's before-state: as the
            # role picker read them moments ago (no call), or read now if there was no picker.
            stashed = audit.stashed_member_roles(request, org_id, user_id)
            audit.forget_member_roles(request, org_id, user_id)  # the roles are about to change
            if stashed is None:
                current = auth0.get_member_roles(org_id=org_id, user_id=user_id)
            else:
                current = stashed
            entry.before = {"roles": _role_list(current)}
            new = [r for r in picked if r not in {c.id for c in current}]
            if not new:
                refused = "The member already has every role you picked."
                entry.roles = _role_list([c for c in current if c.id in picked])
            elif len(current) + len(new) > MAX_ROLES_PER_MEMBER:
                refused = (
                    f"Nothing was assigned: the member has {len(current)} roles in this "
                    f"organization and Auth0 allows at most {MAX_ROLES_PER_MEMBER}. Pick at most "
                    f"{MAX_ROLES_PER_MEMBER - len(current)}, or remove some roles first."
                )
            if refused:
                entry.not_sent(refused)
            else:
                auth0.assign_member_roles(org_id=org_id, user_id=user_id, role_ids=new)
                entry.succeeded()
                entry.roles = _known_roles(new)
                try:  # refresh what changed (the one extra call); it also names the roles
                    roles = auth0.get_member_roles(org_id=org_id, user_id=user_id)
                    entry.after = {"roles": _role_list(roles)}
                    entry.roles = _role_list([r for r in roles if r.id in new]) or entry.roles
                except auth0.Auth0Error:
                    roles = None
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_CHANGED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member", changing=True)
        return flash.no_swap()
    if refused:
        if new:
            messages.error(request, refused)
        else:
            messages.info(request, refused)
        return _roles_cell(request, org_id, user_id, current)
    if roles is None:
        messages.success(request, f"Assigned {len(new)} role(s) to {user_id}; reload to see them.")
        return flash.no_swap()
    role_names.remember(roles)
    names = ", ".join(r.name for r in roles if r.id in new)
    messages.success(request, f"Assigned {names or len(new)} to {user_id}.")
    return _roles_cell(request, org_id, user_id, roles)


@require_POST
@operator_required
def remove_role(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """F6: remove one role from a member.

    Only the ids are taken from the form. The role's name in the audit entry and the message is
    the one Auth0 last sent Org Desk (orgs.role_names); when there is none, they show the id
    and say the name is unknown."""
    form = RemoveRoleForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form, NOT_CHANGED)
    user_id, role_id = form.cleaned_data["user_id"], form.cleaned_data["role"]
    [role] = _known_roles([role_id])
    roles: list[auth0.Role] | None = None
    # The roles before: only as Org Desk itself read them (an open role picker), never what the
    # page claimed; otherwise unknown (Auth0 answers 204 whether or not the member had it).
    stashed = audit.stashed_member_roles(request, org_id, user_id)
    try:
        with audit.record(
            request,
            action=Action.REMOVE_ROLE,
            org_id=org_id,
            member_id=user_id,
            roles=[role],
            before=None if stashed is None else {"roles": _role_list(stashed)},
            requested={"roles": [role_id]},
        ) as entry:
            audit.forget_member_roles(request, org_id, user_id)  # a picker stash is stale now
            auth0.remove_member_roles(org_id=org_id, user_id=user_id, role_ids=[role_id])
            entry.succeeded()
            try:  # refresh what changed (the one extra call)
                roles = auth0.get_member_roles(org_id=org_id, user_id=user_id)
                entry.after = {"roles": _role_list(roles)}
            except auth0.Auth0Error as exc:
                flash.report(request, exc, subject="member")
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_CHANGED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member", changing=True)
        return flash.no_swap()
    label = role_names.label(role_id, role["name"])
    messages.success(request, f"Removed the role {label} from {user_id}.")
    if roles is None:
        return flash.no_swap()
    role_names.remember(roles)
    return _roles_cell(request, org_id, user_id, roles)
