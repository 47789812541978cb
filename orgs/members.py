"""An organization's members: one page of them with their roles, those matching an email, and
their roles: the role picker, assigning roles (within Auth0's 50 per member) and removing one.

Role changes are recorded in the audit log (adminsite.audit.recording), attempts that fail
included; the names of roles and people in entries and messages come from Auth0's answers
(orgs.names), never from the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from adminsite import auth0, flash, readahead
from adminsite.audit import recording as audit
from adminsite.audit.models import Action
from adminsite.http import HtmxHttpRequest
from adminsite.permissions import operator_required
from orgs import names, paging
from orgs.forms import MAX_ROLES_PER_MEMBER, AssignRolesForm, MemberForm, RemoveRoleForm

DETAIL = "orgs/organization_detail.html"


def _names_reads(ahead: readahead.Ahead) -> readahead.Reads:
    """The names of roles and people, and the members listed in the organization."""
    return readahead.Reads((*names.keys(), names.seen_key(ahead.org_id)))


def _roles_change_reads(ahead: readahead.Ahead) -> readahead.Reads:
    """A change of a member's roles: the role picker's read (taken), the names, the
    organization's name."""
    stash = audit.member_stash_key(ahead.owner, ahead.org_id, ahead.data.get("user_id", ""))
    return readahead.Reads((audit.org_name_key(ahead.org_id), *names.keys()), take=stash)


@readahead.reads(_names_reads)
@require_GET
def member_list(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """One page of members with their roles, or the members matching an email."""
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
    names.remember(roles=(r for m in members for r in m.roles), people=members, members_of=org_id)
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


# --- Member roles ----------------------------------------------------------------------------

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
        names.remember(roles=roles)
    context = {"org_id": org_id, "member": {"user_id": user_id, "roles": roles}}
    return render(request, f"{DETAIL}#roles-cell", context)


@require_GET
def member_roles(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """A member's roles cell (also what Cancel in the role picker goes back to)."""
    form = MemberForm(request.GET)
    if not form.is_valid():
        return flash.refuse_form(request, form, NOT_LOADED)
    if not request.htmx:  # a part of the organization page, not a page
        return redirect("orgs:detail", org_id)
    return _roles_cell(request, org_id, form.cleaned_data["user_id"])


@readahead.reads(lambda ahead: readahead.Reads(names.keys()))
@require_GET
@operator_required
def role_picker(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The searchable picker of tenant roles for one member (GET /roles?name_filter=).

    Operators only, like the assignment it leads to: a viewer gets 403 and no upstream call."""
    form = MemberForm(request.GET)
    if not form.is_valid():
        return flash.refuse_form(request, form, NOT_LOADED)
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
    names.remember(roles=[*roles, *current])
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


def _known_roles(known: names.Known, role_ids: list[str]) -> list[dict[str, str]]:
    """Role ids with the names Auth0 last sent Org Desk ("" when unknown), never posted ones."""
    return [{"id": r, "name": known.role_name(r)} for r in role_ids]


@dataclass(frozen=True, slots=True)
class Assignment:
    """What assigning the picked roles to a member does, decided before anything is sent."""

    new: list[str]  # the picked roles the member does not have yet, in the order picked
    why_not: str = ""  # why nothing is sent to Auth0, with {who} for the member; "" when sent

    @property
    def refused(self) -> bool:
        return bool(self.why_not)

    @property
    def refusal(self) -> str:
        """Why nothing was sent, naming nobody (the audit entry names the member by its id)."""
        return self.refusal_for("the member")

    def refusal_for(self, who: str) -> str:
        """Why nothing was sent, naming the member as `who` (names.person_label)."""
        text = self.why_not.format(who=who)
        return text[:1].upper() + text[1:]


def plan_assignment(
    current: list[str], picked: list[str], limit: int = MAX_ROLES_PER_MEMBER
) -> Assignment:
    """The roles an assignment adds to a member who has `current`, and whether it may be sent.

    Nothing is sent when the member already has every picked role, or when the new ones would
    take the member past Auth0's limit of roles per member in one organization (Auth0 would
    refuse the whole request with a 400)."""
    have = set(current)
    new = [r for r in picked if r not in have]
    if not new:
        return Assignment(new, "{who} already has every role you picked.")
    if len(current) + len(new) > limit:
        return Assignment(
            new,
            f"Nothing was assigned: {{who}} has {len(current)} roles in this organization "
            f"and Auth0 allows at most {limit}. Pick at most {limit - len(current)}, "
            "or remove some roles first.",
        )
    return Assignment(new)


def _count(n: int) -> str:
    return f"{n} role" if n == 1 else f"{n} roles"


def assigned_message(person: str, new: list[str], after: list[auth0.Role] | None) -> str:
    """The success message of an assignment to `person` (names.person_label): the new roles
    by the names Auth0 gave, if the roles after were read."""
    assigned = [names.role_label(r.id, r.name) for r in after or [] if r.id in new]
    if after is None:
        return f"Assigned {_count(len(new))} to {person}; reload to see them."
    if not assigned:
        return f"Assigned {_count(len(new))} to {person}."
    what = "the role" if len(assigned) == 1 else "the roles"
    return f"Assigned {what} {', '.join(assigned)} to {person}."


def _roles_before_assigning(
    stashed: list[auth0.Role] | None, org_id: str, user_id: str
) -> list[auth0.Role]:
    """The member's roles, for the limit and the audit's before-state: as the role picker read
    them moments ago (`stashed`, taken with the names: no call), or read now if there was no
    picker."""
    if stashed is not None:
        return stashed
    return auth0.get_member_roles(org_id=org_id, user_id=user_id)


def _assign(
    request: HtmxHttpRequest,
    org_id: str,
    user_id: str,
    picked: list[str],
    known: names.Known,
    stashed: list[auth0.Role] | None,
) -> tuple[list[auth0.Role], Assignment, list[auth0.Role] | None]:
    """Assign the picked roles the member lacks, recorded in the audit log.

    Returns the roles before, the plan, and the roles after (None: not assigned, or the
    refresh failed). Auth0's errors on the way are raised for the view to report."""
    with audit.record(
        request,
        action=Action.ASSIGN_ROLES,
        org_id=org_id,
        member_id=user_id,
        roles=_known_roles(known, picked),
        requested={"roles": picked},
    ) as entry:
        current = _roles_before_assigning(stashed, org_id, user_id)
        entry.before = {"roles": _role_list(current)}
        plan = plan_assignment([c.id for c in current], picked)
        if plan.refused:
            if not plan.new:
                entry.roles = _role_list([c for c in current if c.id in picked])
            entry.not_sent(plan.refusal)
            return current, plan, None
        auth0.assign_member_roles(org_id=org_id, user_id=user_id, role_ids=plan.new)
        entry.succeeded()
        entry.roles = _known_roles(known, plan.new)
        try:  # refresh what changed (the one extra call); it also names the roles
            after = auth0.get_member_roles(org_id=org_id, user_id=user_id)
        except auth0.Auth0Error:
            return current, plan, None
        entry.after = {"roles": _role_list(after)}
        entry.roles = _role_list([r for r in after if r.id in plan.new]) or entry.roles
        return current, plan, after


@readahead.reads(_roles_change_reads)
@require_POST
@operator_required
def assign_roles(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """Assign the picked roles, within Auth0's limit of 50 roles per member."""
    form = AssignRolesForm(request.POST)
    if not form.is_valid():
        return flash.refuse_form(request, form, NOT_CHANGED)
    user_id, picked = form.cleaned_data["user_id"], form.cleaned_data["roles"]
    # The role picker's read of the member's roles, used once (the roles are about to change),
    # with the names as Auth0 last sent them and the organization's name: one round trip.
    stashed = audit.take_member_roles(request, org_id, user_id, *names.keys())
    known = names.known()
    try:
        current, plan, after = _assign(request, org_id, user_id, picked, known, stashed)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_CHANGED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member", changing=True)
        return flash.no_swap()
    if plan.refused:  # an error when something could not be added, news when nothing was new
        refusal = plan.refusal_for(known.person_label(user_id))
        (messages.error if plan.new else messages.info)(request, refusal)
        return _roles_cell(request, org_id, user_id, current)
    messages.success(request, assigned_message(known.person_label(user_id), plan.new, after))
    if after is None:
        return flash.no_swap()
    names.remember(roles=after)
    return _roles_cell(request, org_id, user_id, after)


def _remove(
    request: HtmxHttpRequest,
    org_id: str,
    user_id: str,
    role: dict[str, str],
    stashed: list[auth0.Role] | None,
) -> list[auth0.Role] | None:
    """Remove one role from a member, recorded in the audit log; the roles after (None: the
    refresh failed, and said so). Auth0's errors on the removal are raised for the view.

    The roles before (`stashed`): only as Org Desk itself read them (an open role picker),
    never what the page claimed; otherwise unknown (Auth0 answers 204 whether or not the
    member had it)."""
    with audit.record(
        request,
        action=Action.REMOVE_ROLE,
        org_id=org_id,
        member_id=user_id,
        roles=[role],
        before=None if stashed is None else {"roles": _role_list(stashed)},
        requested={"roles": [role["id"]]},
    ) as entry:
        auth0.remove_member_roles(org_id=org_id, user_id=user_id, role_ids=[role["id"]])
        entry.succeeded()
        try:  # refresh what changed (the one extra call)
            after = auth0.get_member_roles(org_id=org_id, user_id=user_id)
        except auth0.Auth0Error as exc:
            flash.report(request, exc, subject="member")
            return None
        entry.after = {"roles": _role_list(after)}
        return after


@readahead.reads(_roles_change_reads)
@require_POST
@operator_required
def remove_role(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """Remove one role from a member.

    Only the ids are taken from the form. The names of the role (in the audit entry and the
    message) and of the member (in the message) are the ones Auth0 last sent Org Desk
    (orgs.names); when there are none, the message shows the id and says the name is unknown."""
    form = RemoveRoleForm(request.POST)
    if not form.is_valid():
        return flash.refuse_form(request, form, NOT_CHANGED)
    user_id, role_id = form.cleaned_data["user_id"], form.cleaned_data["role"]
    # An open role picker's read of the roles (stale once one is removed: used once), with the
    # names as Auth0 last sent them and the organization's name: one round trip.
    stashed = audit.take_member_roles(request, org_id, user_id, *names.keys())
    known = names.known()
    [role] = _known_roles(known, [role_id])
    try:
        after = _remove(request, org_id, user_id, role, stashed)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_CHANGED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member", changing=True)
        return flash.no_swap()
    label, person = names.role_label(role_id, role["name"]), known.person_label(user_id)
    messages.success(request, f"Removed the role {label} from {person}.")
    if after is None:
        return flash.no_swap()
    names.remember(roles=after)
    return _roles_cell(request, org_id, user_id, after)
