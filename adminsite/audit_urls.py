"""The audit log's pages (F7), mounted at /audit/."""

from __future__ import annotations

from django.urls import path

from adminsite import audit_views

app_name = "audit"
urlpatterns = [
    path("", audit_views.audit_list, name="list"),
    path("<int:pk>/", audit_views.audit_detail, name="detail"),
    path("<int:pk>/restore/", audit_views.restore, name="restore"),
]
