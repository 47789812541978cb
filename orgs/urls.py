"""Organizations and their members, mounted at /orgs/."""

from __future__ import annotations

from django.urls import path

from orgs import bulk, invitations, members, membership, organizations, people, search

app_name = "orgs"

organization_urls = [
    path("", organizations.organization_list, name="list"),
    path("<org_id:org_id>/", organizations.organization_detail, name="detail"),
]

# User ids contain "|" and "/", so they travel in the query string or form, not the path.
member_urls = [
    path("<org_id:org_id>/members/", members.member_list, name="members"),
    path("<org_id:org_id>/members/roles/", members.member_roles, name="member-roles"),
    path("<org_id:org_id>/members/roles/picker/", members.role_picker, name="role-picker"),
    path("<org_id:org_id>/members/roles/assign/", members.assign_roles, name="assign-roles"),
    path("<org_id:org_id>/members/roles/remove/", members.remove_role, name="remove-role"),
    # Adding and removing members (orgs.membership)
    path("<org_id:org_id>/members/add/form/", membership.add_form, name="add-members-form"),
    path("<org_id:org_id>/members/add/review/", membership.add_review, name="add-members-review"),
    path("<org_id:org_id>/members/add/", membership.add_members, name="add-members"),
    path("<org_id:org_id>/members/row/", membership.member_row, name="member-row"),
    path("<org_id:org_id>/members/remove/", membership.remove_member, name="remove-member"),
    # Bulk changes and the export, run as jobs (orgs.bulk, adminsite.jobs)
    path("<org_id:org_id>/members/bulk/form/", bulk.bulk_form, name="bulk-form"),
    path("<org_id:org_id>/members/bulk/review/", bulk.bulk_review, name="bulk-review"),
    path("<org_id:org_id>/members/bulk/", bulk.bulk_start, name="bulk-start"),
    path("<org_id:org_id>/members/export/", bulk.export_members, name="export-members"),
]

# One search box (organization id, email, user id or part of a name) and a person's page.
search_urls = [
    path("search/", search.search, name="search"),
    path("people/", people.person, name="person"),
]

# An organization's invitations: the list, inviting, revoking and resending one.
invitation_urls = [
    path("<org_id:org_id>/invitations/", invitations.invitation_list, name="invitations"),
    path("<org_id:org_id>/invitations/new/", invitations.invite_form, name="invite-form"),
    path("<org_id:org_id>/invitations/new/roles/", invitations.role_options, name="invite-roles"),
    path("<org_id:org_id>/invitations/invite/", invitations.invite, name="invite"),
    path(
        "<org_id:org_id>/invitations/<inv_id:invitation_id>/",
        invitations.invitation_row,
        name="invitation-row",
    ),
    path(
        "<org_id:org_id>/invitations/<inv_id:invitation_id>/revoke/",
        invitations.revoke,
        name="revoke-invitation",
    ),
    path(
        "<org_id:org_id>/invitations/<inv_id:invitation_id>/resend/",
        invitations.resend,
        name="resend-invitation",
    ),
]

urlpatterns = [*search_urls, *organization_urls, *member_urls, *invitation_urls]
