"""Where a request goes: organizations and members in orgs/, connections in connections/,
the audit log in adminsite/audit/."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from adminsite import converters, views

converters.register()

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="orgs:list"), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    # Sign-in and sign-out only: Org Desk sends no mail, so no password reset pages.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("orgs/", include("orgs.urls")),
    path("orgs/<org_id:org_id>/connections/", include("connections.urls")),
    path("audit/", include("adminsite.audit.urls")),
    path("jobs/", include("adminsite.jobs.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "adminsite.views.page_not_found"
