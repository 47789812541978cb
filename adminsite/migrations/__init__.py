"""Migrations of the adminsite app (the audit log)."""

from __future__ import annotations
