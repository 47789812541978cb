"""Test settings: always the sandbox tenant, whatever a developer's .env says."""

from __future__ import annotations

import os
import tempfile
from typing import Any, cast

os.environ["AUTH0_DOMAIN"] = ""  # read_env() never overrides a variable that is set
os.environ["AUTH0_SANDBOX"] = "true"  # asked for by name: DEBUG is off in tests
os.environ["CACHE_URL"] = os.environ.get("TEST_CACHE_URL", "locmemcache://org-desk-tests")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-deployment")
os.environ.setdefault("DEBUG", "false")

from adminsite.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The live server is plain http on 127.0.0.1: the browser would drop Secure cookies.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
# Tests seed a smaller sandbox unless a test asks for more.
SANDBOX_ORGANIZATIONS = 1100
SANDBOX_BIG_ORG_MEMBERS = 1100

# A file, not SQLite's in-memory database: with an in-memory database Django hands the live
# server's threads one shared connection, and a page whose two parts load at once would use it
# from two threads together ("bad parameter or other API misuse").
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"orgdesk-tests-{os.getpid()}.sqlite3")
    }

# Every stream handler (the console, the audit log's JSON lines) writes to the stderr of the
# moment (tests/logstream.py): a live-server thread may log after pytest closed a capture file.
_handlers = cast(dict[str, dict[str, Any]], LOGGING["handlers"])  # noqa: F405
for _handler in _handlers.values():
    if _handler.get("class") == "logging.StreamHandler":
        _handler["class"] = "tests.logstream.CurrentStderrHandler"
        _handler.pop("stream", None)
