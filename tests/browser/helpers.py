"""Steps shared by the browser tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Locator, Page, expect

from tests.helpers import org_id


def sign_in(page: Page, site: str, username: str, password: str) -> None:
    page.goto(site + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Organizations")).to_be_visible()


def open_org(page: Page, site: str, name: str) -> str:
    oid = org_id(name)
    page.goto(f"{site}/orgs/{oid}/")
    expect(page.get_by_test_id("connection-row").first).to_be_visible()
    expect(page.get_by_test_id("member-row").first).to_be_visible()
    htmx_idle(page)
    return oid


def htmx_idle(page: Page) -> None:
    """Wait until every part of the page has loaded and htmx has settled it: htmx binds a new
    part's hx-* attributes when it settles (20 ms after the swap), so a key pressed on a button
    that is visible but not yet settled does nothing."""
    page.wait_for_function(
        "() => window.htmx && !document.querySelector("
        "'[hx-trigger=load], .htmx-request, .htmx-swapping, .htmx-settling')"
    )


def focused(page: Page) -> Locator:
    return page.locator(":focus")


def press_until(page: Page, key: str, locator: Locator, limit: int = 80) -> int:
    """Press `key` until `locator` has focus; the number of presses. Like a person, it starts
    once what it aims for is on the page and htmx has settled what came in."""
    locator.wait_for(state="attached")
    htmx_idle(page)
    for count in range(1, limit + 1):
        page.keyboard.press(key)
        if locator.evaluate("e => e === document.activeElement"):
            return count
    raise AssertionError(f"{key} × {limit} never reached {locator}")


def message(page: Page):
    """The newest flash message (htmx adds new ones on top)."""
    return page.locator("#messages .message").first


# --- Accessibility and layout (tests/browser/test_accessibility.py, tests/perf/a11y_figures.py) ---
# Every page and state a support person meets, opened through the UI, each with what must be on
# it; axe-core's verdict on a page; how far a page scrolls sideways and what sticks out.

# (width, height) of the windows: a laptop, a phone, and a 1280×900 window at 400% zoom.
DESKTOP = (1280, 900)
PHONE = (390, 844)
ZOOM_400 = (320, 225)


@dataclass(frozen=True)
class PageState:
    """A page in one state: `open` gets there (signed in as an operator unless `signed_in` is
    False) and returns the content that must be visible on it, already checked once."""

    name: str
    open: Callable[[Page, str], Locator]
    signed_in: bool = True
    expected_console_error: str | None = None  # e.g. the 404 page's own "status of 404"


def _sign_in_page(page: Page, site: str) -> Locator:
    page.goto(site + "/accounts/login/")
    fields = page.get_by_label("Username").or_(page.get_by_label("Password"))
    expect(fields).to_have_count(2)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    return fields


def _organization_list(page: Page, site: str) -> Locator:
    page.goto(site + "/orgs/")
    rows = page.locator("#org-table tbody tr")
    expect(rows).to_have_count(50)
    return rows


def _rows_of_acme(page: Page, site: str) -> Locator:
    open_org(page, site, "acme")
    expect(page.locator("#member-list nav.pager")).to_be_visible()  # the whole first page is in
    return page.get_by_test_id("connection-row").or_(page.get_by_test_id("member-row"))


def _domain_level_confirm(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    first = page.get_by_test_id("connection-row").first
    first.get_by_role("button", name=re.compile(r"domain-level…")).click()
    confirm = page.get_by_test_id("confirm-domain-level")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Cancel")).to_be_visible()
    return confirm


def _remove_confirm(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    page.get_by_test_id("connection-row").first.get_by_role("button", name="Remove…").click()
    confirm = page.get_by_test_id("confirm-remove")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Remove the connection")).to_be_visible()
    return confirm


def _open_role_picker(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    row = page.get_by_test_id("member-row").first
    row.get_by_role("button", name="Add roles…").click()
    options = row.get_by_test_id("role-picker").locator(".role-options label")
    expect(options.first).to_be_visible()
    return options


def _role_removal_confirm(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    chip = page.get_by_test_id("member-row").locator(".chip").first
    chip.get_by_role("button", name=re.compile("^Remove role")).click()
    keep = chip.get_by_role("button", name=re.compile("^Keep role"))
    expect(keep).to_be_focused()
    return chip


# --- connections: the "Add connection…" step and a row's edit step -------------------


def _add_connection_picker(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    page.get_by_role("button", name="Add connection…").click()
    options = page.get_by_test_id("add-connection").get_by_test_id("connection-option")
    expect(options.first).to_be_visible()
    return options


def _add_connection_settings(page: Page, site: str) -> Locator:
    _add_connection_picker(page, site)
    page.get_by_test_id("connection-option").filter(has_text="contoso-azure-ad").click()
    step = page.get_by_test_id("add-connection-settings")
    boxes = step.get_by_role("checkbox")
    expect(boxes).to_have_count(2)  # membership on login, show as button
    return boxes


def _edit_connection_settings(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    row = page.get_by_test_id("connection-row").filter(has_text="Username-Password-Authentication")
    row.get_by_role("button", name="Edit settings…").click()
    boxes = page.get_by_test_id("edit-settings").get_by_role("checkbox")
    expect(boxes).to_have_count(2)  # membership on login, signup
    return boxes


# Invitations (orgs/invitations.py): the part, the invite form, the revoke step, the link to copy.
def _invitations_of_acme(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    rows = page.get_by_test_id("invitation-row")
    expect(rows).to_have_count(4)
    return rows


def _invite_form(page: Page, site: str) -> Locator:
    _invitations_of_acme(page, site)
    page.get_by_role("button", name="Invite…").click()
    form = page.get_by_test_id("invite-form")
    expect(form.get_by_label("Email", exact=True)).to_be_focused()
    return form


def _revoke_invitation_confirm(page: Page, site: str) -> Locator:
    rows = _invitations_of_acme(page, site)
    rows.first.get_by_role("button", name=re.compile(r"^Revoke…")).click()
    confirm = page.get_by_test_id("confirm-revoke")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    return confirm


def _invite_link(page: Page, site: str) -> Locator:
    form = _invite_form(page, site)
    form.get_by_label("Email", exact=True).fill("a11y.person@example.org")
    form.get_by_label("Just give me the link (to copy; no email)").check()
    form.get_by_role("button", name="Send the invitation").click()
    panel = page.get_by_test_id("invite-link")
    expect(panel.get_by_label("Invitation link")).to_be_focused()
    return panel


def _search_results(text: str) -> Callable[[Page, str], Locator]:
    def opened(page: Page, site: str) -> Locator:
        page.goto(f"{site}/orgs/search/?q={quote(text, safe='')}")
        results = page.get_by_test_id("search-results").get_by_role("link")
        expect(results.first).to_be_visible()
        return results

    return opened


def _person(url: str) -> Callable[[Page, str], Locator]:
    """A person's page (a URL path, or a search that opens one); waits for every roles cell."""

    def opened(page: Page, site: str) -> Locator:
        page.goto(site + url)
        rows = page.get_by_test_id("person-organization")
        expect(rows.first).to_be_visible()
        expect(rows.get_by_test_id("roles-cell")).to_have_count(rows.count())
        return page.get_by_test_id("person").or_(rows)

    return opened


JANE_DOE = "samlp|acme-saml|jane/doe@acme.example"  # a seeded member of Acme (and kabushiki)


def assign_a_role_through_the_ui(page: Page, site: str) -> None:
    """A change for the audit log: Jane Doe in Acme gets the first role she does not have."""
    _rows_of_acme(page, site)
    row = page.get_by_test_id("member-row").filter(has_text=JANE_DOE)
    row.get_by_role("button", name="Add roles…").click()
    picker = row.get_by_test_id("role-picker")
    picker.locator(".role-options input[type=checkbox]:not([disabled])").first.check()
    picker.get_by_role("button", name="Assign selected roles").click()
    expect(message(page)).to_contain_text("Assigned")


def _audit_list(page: Page, site: str) -> Locator:
    assign_a_role_through_the_ui(page, site)
    page.get_by_test_id("nav-audit").click()
    entries = page.get_by_test_id("audit-entry")
    expect(entries.first).to_contain_text("Assign roles")
    expect(entries.first).to_contain_text(JANE_DOE)
    return entries


def _audit_detail(page: Page, site: str) -> Locator:
    entries = _audit_list(page, site)
    entries.first.locator("td.actions a").click()
    detail = page.get_by_test_id("audit-detail")
    expect(detail).to_contain_text(JANE_DOE)
    return detail


def _not_found(page: Page, site: str) -> Locator:
    page.goto(site + "/no-such-page/")
    heading = page.get_by_role("heading", name="Not found (404)")
    expect(heading).to_be_visible()
    return heading


# --- Adding and removing members (orgs.membership) ---


def _add_members_form(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    page.get_by_role("button", name="Add members…").click()
    form = page.get_by_test_id("add-members-form")
    expect(form.locator(".role-options label").first).to_be_visible()
    return form


def _add_members_confirm(page: Page, site: str) -> Locator:
    """The review with every kind of line: an email with two accounts, a member already, one
    not found, one that is neither an email nor a user id."""
    form = _add_members_form(page, site)
    lines = ["sam.lee@shared.example", JANE_DOE, "nobody@nowhere.example", "<b>not a line</b>"]
    form.get_by_role("textbox").fill("\n".join(lines))
    form.locator(".role-options input[type=checkbox]").first.check()
    form.get_by_role("button", name="Review…").click()
    confirm = page.get_by_test_id("add-members-confirm")
    expect(confirm.get_by_test_id("add-unreadable")).to_be_visible()
    return confirm


def _remove_member_confirm(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    row = page.get_by_test_id("member-row").filter(has_text=JANE_DOE)
    row.get_by_role("button", name=re.compile("from this organization")).click()
    confirm = page.get_by_test_id("confirm-remove-member")
    expect(confirm.get_by_role("button", name="Remove the member")).to_be_visible()
    return confirm


def _audit_detail_removed_member(page: Page, site: str) -> Locator:
    _remove_member_confirm(page, site).get_by_role("button", name="Remove the member").click()
    expect(message(page)).to_contain_text("Removed Jane Doe")
    page.get_by_test_id("nav-audit").click()
    page.get_by_test_id("audit-entry").first.locator("td.actions a").click()
    restore = page.get_by_test_id("audit-restore")
    expect(restore.get_by_role("button", name="Restore the member")).to_be_visible()
    return restore


# --- Bulk changes and jobs (orgs.bulk, adminsite.jobs) ---


def _bulk_form(page: Page, site: str) -> Locator:
    _rows_of_acme(page, site)
    page.get_by_role("button", name="Bulk change…").click()
    form = page.get_by_test_id("bulk-form")
    expect(form.locator("#bulk-role-options label").first).to_be_visible()
    return form


def _bulk_confirm(page: Page, site: str) -> Locator:
    form = _bulk_form(page, site)
    page.locator("input[data-bulk-pick]").first.check()
    form.get_by_label(re.compile("Emails or user ids")).fill("nobody@nowhere.example\n<b>x</b>")
    form.locator("#bulk-role-options input").first.check()
    form.get_by_role("button", name="Review…").click()
    confirm = page.get_by_test_id("bulk-confirm")
    expect(confirm.get_by_test_id("bulk-estimate")).to_be_visible()
    return confirm


def _ended_job(page: Page, site: str) -> Locator:
    """A role job started through the confirm step and run to its end: the item table."""
    from adminsite.jobs import services
    from adminsite.jobs.models import Job

    _bulk_confirm(page, site).get_by_role("button", name="Start the job").click()
    expect(page.get_by_test_id("job-title")).to_be_visible()
    job_id = page.url.rstrip("/").rsplit("/", 1)[1]
    services.run(str(Job.objects.get(pk=job_id).pk))
    items = page.get_by_test_id("job-item")
    expect(items).to_have_count(1)  # the ticked row (the pasted email is not found)
    return page.get_by_test_id("job").or_(items)


def _job_list(page: Page, site: str) -> Locator:
    _ended_job(page, site)
    page.get_by_test_id("nav-jobs").click()
    rows = page.get_by_test_id("job-row")
    expect(rows.first).to_contain_text("Assign roles")
    return rows


PAGE_STATES: tuple[PageState, ...] = (
    PageState("sign-in", _sign_in_page, signed_in=False),
    PageState("organization-list", _organization_list),
    PageState("organization", _rows_of_acme),
    PageState("organization-domain-level-confirm", _domain_level_confirm),
    PageState("organization-remove-confirm", _remove_confirm),
    PageState("organization-role-picker", _open_role_picker),
    PageState("organization-role-removal-confirm", _role_removal_confirm),
    PageState("organization-add-connection", _add_connection_picker),
    PageState("organization-add-connection-settings", _add_connection_settings),
    PageState("organization-edit-connection-settings", _edit_connection_settings),
    PageState("organization-invitations", _invitations_of_acme),
    PageState("organization-invite-form", _invite_form),
    PageState("organization-revoke-invitation-confirm", _revoke_invitation_confirm),
    PageState("organization-invite-link", _invite_link),
    PageState("search-name", _search_results("acme")),
    PageState("search-shared-email", _search_results("sam.lee@shared.example")),
    # One account has this email: the search opens that person's page.
    PageState("search-email-one-person", _person("/orgs/search/?q=jane%40acme.example")),
    PageState("person", _person("/orgs/people/?user_id=" + quote(JANE_DOE, safe=""))),
    PageState("audit-list", _audit_list),
    PageState("audit-detail", _audit_detail),
    PageState("not-found", _not_found, expected_console_error="status of 404"),
    # adding and removing members (orgs.membership)
    PageState("organization-add-members-form", _add_members_form),
    PageState("organization-add-members-confirm", _add_members_confirm),
    PageState("organization-remove-member-confirm", _remove_member_confirm),
    PageState("audit-detail-removed-member", _audit_detail_removed_member),
    # bulk changes and jobs (orgs.bulk, adminsite.jobs)
    PageState("organization-bulk-form", _bulk_form),
    PageState("organization-bulk-confirm", _bulk_confirm),
    PageState("job-ended", _ended_job),
    PageState("job-list", _job_list),
)


def set_window(page: Page, size: tuple[int, int]) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})


def hidden_among(content: Locator) -> tuple[int, int]:
    """(how many, how many of them have no box): what must be visible really is."""
    return content.count(), content.evaluate_all(
        "els => els.filter(e => e.getClientRects().length === 0).length"
    )


_AXE = Axe()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, every rule axe runs by default."""
    return _AXE.run(page).response["violations"]


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{where}: {len(violations)} axe rule(s) violated"]
    for v in violations:
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]")
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            html = " ".join(node["html"].split())
            lines.append(f"    - {target}  {html[:160]}")
    return "\n".join(lines)


_SIDEWAYS_JS = """() => {
  const root = document.documentElement;
  const width = root.clientWidth;
  // An element inside a box that scrolls or clips sideways does not widen the page.
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body && p !== root; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  const out = (el) => {
    const r = el.getBoundingClientRect();
    return (r.width > 0 || r.height > 0) && r.right + window.scrollX > width + 0.5 && !clipped(el);
  };
  const offenders = [];
  for (const el of document.body.querySelectorAll("*")) {
    // The outermost ones: their parent fits (or is the body), so they are what sticks out.
    if (!out(el) || (el.parentElement !== document.body && out(el.parentElement))) continue;
    const r = el.getBoundingClientRect();
    offenders.push({
      tag: el.tagName.toLowerCase(),
      id: el.id,
      testid: el.dataset.testid || "",
      cls: typeof el.className === "string" ? el.className : "",
      text: (el.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 60),
      right: Math.round(r.right + window.scrollX),
      width: Math.round(r.width),
    });
  }
  offenders.sort((a, b) => b.right - a.right);
  return {overflow: root.scrollWidth - width, width: width, offenders: offenders};
}"""


def sideways_scroll(page: Page) -> dict[str, Any]:
    """How far the page scrolls sideways (scrollWidth − clientWidth, px) and the outermost
    elements past the viewport's right edge, furthest first."""
    return page.evaluate(_SIDEWAYS_JS)


def describe_sideways(where: str, found: dict[str, Any], top: int = 5) -> str:
    offenders = found["offenders"]
    lines = [
        f"{where}: scrolls {found['overflow']} px sideways "
        f"({len(offenders)} element(s) stick out past {found['width']} px; widest {top}):"
    ]
    for o in offenders[:top]:
        name = o["tag"] + (f"#{o['id']}" if o["id"] else "")
        name += "".join(f".{c}" for c in o["cls"].split())
        name += f'[data-testid="{o["testid"]}"]' if o["testid"] else ""
        lines.append(f"    - {name} right={o['right']} width={o['width']}  “{o['text']}”")
    return "\n".join(lines)
