"""`make a11y-figures`: the keyboard and phone figures, measured in Debian's chromium.

Org Desk runs on Django's live-server thread in this process (a throwaway test database, nothing
written to the project) and talks over real HTTP to the sandbox tenant served from another
process, seeded like the tests' (tests/perf/bench.py's `SandboxTenant`). A
signed-in operator's browser opens each page and state of `PAGE_STATES`
(tests/browser/helpers.py, the same steps as tests/browser/test_accessibility.py) and this prints:

* the Tab presses from the top of an organization page (nothing focused) to the members pager's
  "Next →", at 1280×900, once connections and members have loaded: on Acme, and on big-co (whose
  members take more than one page);
* for each page and state, how far it scrolls sideways (scrollWidth − clientWidth, px) on a
  390 px phone and at 320 px (a 1280 px window at 400% zoom), opened at 390 px as in the test.

    .venv/bin/python -m tests.perf.a11y_figures     # or: make a11y-figures
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any

TAB_LIMIT = 2000


def tabs_to(page: Any, target: Any) -> int | str:
    """Tab presses from nothing focused until `target` has the focus ("never": not within
    TAB_LIMIT presses, or the focus came round to the document first)."""
    is_target = "el => el === document.activeElement"
    for presses in range(1, TAB_LIMIT + 1):
        page.keyboard.press("Tab")
        if target.evaluate(is_target):
            return presses
        if presses > 1 and page.evaluate("() => document.activeElement === document.body"):
            return "never"
    return "never"


def tab_figures(browser: Any, site: str) -> list[str]:
    from playwright.sync_api import expect

    from tests.browser.helpers import DESKTOP, open_org, set_window, sign_in

    lines = []
    for name in ("acme", "big-co"):
        page = browser.new_page()
        set_window(page, DESKTOP)
        sign_in(page, site, "olivia", "pw-operator")
        open_org(page, site, name)  # a fresh load: both parts in, nothing focused
        pager = page.locator("#member-list nav.pager")
        expect(pager).to_be_visible()
        rows = page.get_by_test_id("member-row").count()
        assert page.evaluate("() => document.activeElement === document.body")
        following = pager.get_by_role("link", name="Next →")
        presses = tabs_to(page, following) if following.count() else "no"
        lines.append(
            f"  {name}: {presses} Tab presses to the members pager's “Next →” "
            f"({rows} member rows on the page)"
        )
        page.close()
    return lines


def sideways_figures(browser: Any, site: str) -> list[str]:
    from tests.browser.helpers import (
        PAGE_STATES,
        PHONE,
        ZOOM_400,
        set_window,
        sideways_scroll,
        sign_in,
    )

    head = f"  {'page or state':40} {'390 px':>7} {'320 px':>7}"
    lines = [head, "  " + "-" * (len(head) - 2)]
    for state in PAGE_STATES:  # the two audit states make a change: they come last
        context = browser.new_context()
        page = context.new_page()
        set_window(page, PHONE)
        if state.signed_in:
            sign_in(page, site, "olivia", "pw-operator")
        state.open(page, site)
        widths = []
        for size in (PHONE, ZOOM_400):
            set_window(page, size)
            widths.append(sideways_scroll(page)["overflow"])
        lines.append(f"  {state.name:40} {widths[0]:>7} {widths[1]:>7}")
        context.close()
    return lines


def main() -> int:
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    # Playwright's sync API keeps an asyncio loop in this thread (see tests/conftest.py).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connection
    from django.test.testcases import LiveServerThread
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM
    from tests.perf.bench import SandboxTenant

    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 404 page is meant
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # A file database (tests.settings): the live server's threads each open their own connection.
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    get_user_model().objects.create_user("olivia", password="pw-operator", is_superuser=True)
    print("Seeding the sandbox tenant as the tests do …", flush=True)
    tenant = SandboxTenant(settings.SANDBOX_ORGANIZATIONS, settings.SANDBOX_BIG_ORG_MEMBERS)
    tenant.activate()
    server = LiveServerThread("localhost", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    try:
        if server.error:
            raise server.error
        site = f"http://localhost:{server.port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            print(f"chromium {browser.version}, Org Desk at {site}\n", flush=True)
            print("Keyboard, 1280×900, signed in as an operator, from the top of the page:")
            print("\n".join(tab_figures(browser, site)))
            print("\nSideways scroll (scrollWidth − clientWidth) in px; 0 = none:")
            print("\n".join(sideways_figures(browser, site)))
            browser.close()
    finally:
        server.terminate()
        tenant.close()
        connection.creation.destroy_test_db(test_db, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
