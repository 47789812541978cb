"""Views stay short: no function in a views module is over 40 lines.

A function's length runs from its `def` line to its last line (decorators excluded, docstring
included). Run `python -m tests.test_view_length` to list every view module's functions,
longest first.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

MAX_LINES = 40
ROOT = Path(__file__).resolve().parent.parent
VIEW_MODULES = (
    "adminsite/views.py",
    "adminsite/audit/views.py",
    "adminsite/jobs/views.py",
    "connections/manage.py",
    "connections/views.py",
    "orgs/bulk.py",
    "orgs/invitations.py",
    "orgs/members.py",
    "orgs/membership.py",
    "orgs/organizations.py",
    "orgs/people.py",
    "orgs/search.py",
)


def function_lengths(path: Path) -> dict[str, int]:
    """Every top-level function of the module at `path` with its length in lines."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name: (node.end_lineno or node.lineno) - node.lineno + 1
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def view_lengths() -> list[tuple[int, str]]:
    """(lines, "module:function") for every function of the view modules, longest first."""
    return sorted(
        (
            (lines, f"{module}:{name}")
            for module in VIEW_MODULES
            for name, lines in function_lengths(ROOT / module).items()
        ),
        reverse=True,
    )


def _view_modules_in_urls(patterns: list[URLPattern | URLResolver]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found |= _view_modules_in_urls(pattern.url_patterns)
        elif pattern.callback.__module__.split(".")[0] in {"adminsite", "orgs", "connections"}:
            found.add(pattern.callback.__module__)
    return found


def test_every_view_module_is_measured() -> None:
    measured = {m.removesuffix(".py").replace("/", ".") for m in VIEW_MODULES}
    assert _view_modules_in_urls(get_resolver().url_patterns) <= measured


def test_no_view_is_over_40_lines() -> None:
    too_long = [(lines, name) for lines, name in view_lengths() if lines > MAX_LINES]
    assert not too_long, f"views over {MAX_LINES} lines: {too_long}"


if __name__ == "__main__":
    for lines, name in view_lengths():
        sys.stdout.write(f"{lines:4d}  {name}\n")
