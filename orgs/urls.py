from __future__ import annotations

from django.urls import path

from orgs import views

app_name = "orgs"
urlpatterns = [
    path("", views.organization_list, name="list"),
    path("<org_id:org_id>/", views.organization_detail, name="detail"),
    path("<org_id:org_id>/members/", views.member_list, name="members"),
    # User ids contain "|" and "/", so they travel in the query string or form, not the path.
    path("<org_id:org_id>/members/roles/", views.member_roles, name="member-roles"),
    path("<org_id:org_id>/members/roles/picker/", views.role_picker, name="role-picker"),
    path("<org_id:org_id>/members/roles/assign/", views.assign_roles, name="assign-roles"),
    path("<org_id:org_id>/members/roles/remove/", views.remove_role, name="remove-role"),
]
