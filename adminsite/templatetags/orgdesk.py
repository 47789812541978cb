"""Template filters shared by the pages."""

from __future__ import annotations

import hashlib

from django import template

register = template.Library()


@register.filter
def dom_id(value: str, prefix: str = "m") -> str:
    """A stable, selector-safe DOM id for an upstream id that may contain `|`, `/` or quotes."""
    return f"{prefix}-{hashlib.sha256(value.encode()).hexdigest()[:16]}"
