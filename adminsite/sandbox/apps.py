"""The sandbox tenant as a Django app: its transport and its `sandbox_api` command.

The service module knows nothing of the sandbox: this app hands the client a transport for
`SANDBOX_BASE_URL`, which the client builds (seeding the tenant) only when AUTH0_BASE_URL is
the sandbox's, so a real tenant never pays for it.
"""

from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "adminsite.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox tenant"

    def ready(self) -> None:
        from adminsite import auth0

        from . import SANDBOX_BASE_URL, SandboxAdapter, default_tenant, make_app

        auth0.register_transport(
            SANDBOX_BASE_URL + "/", lambda: SandboxAdapter(make_app(default_tenant()))
        )
