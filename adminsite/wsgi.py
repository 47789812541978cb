"""WSGI entry point: `gunicorn adminsite.wsgi`."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
django.setup(set_prefix=False)  # as django.core.wsgi.get_wsgi_application

from adminsite.readahead import Handler  # noqa: E402 (after the set-up)

# Django's handler, reusing the URL match the SSO middleware made (adminsite.readahead).
application = Handler()
