"""The request Org Desk's views receive, typed with what its middleware adds to Django's."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """An HttpRequest after django-htmx's HtmxMiddleware, which sets `request.htmx`.

    For annotations only (django-htmx's documented pattern): requests are never of this class.
    """

    htmx: HtmxDetails
