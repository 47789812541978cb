from __future__ import annotations

from django.urls import path

from connections import manage, views

app_name = "connections"
urlpatterns = [
    path("", views.connection_list, name="list"),
    path("add/", manage.add_connection, name="add"),
    path("<con_id:connection_id>/", views.connection_row, name="row"),
    path("<con_id:connection_id>/domain-level/", views.domain_level, name="domain-level"),
    path("<con_id:connection_id>/remove/", views.remove, name="remove"),
    path("<con_id:connection_id>/settings/", manage.edit_settings, name="settings"),
]
