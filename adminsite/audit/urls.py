"""The audit log's pages, mounted at /audit/."""

from __future__ import annotations

from django.urls import path

from adminsite.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_list, name="list"),
    path("<int:pk>/", views.audit_detail, name="detail"),
    path("<int:pk>/restore/", views.restore, name="restore"),
]
