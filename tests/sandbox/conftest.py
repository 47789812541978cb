"""The sandbox tenant for its own tests: one per module, reset per test, in process or over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from adminsite.sandbox import (
    SANDBOX_BASE_URL,
    SandboxAdapter,
    SandboxServer,
    Tenant,
    make_app,
    serve,
)
from tests.sandbox.helpers import BIG, ORGS, Api


@pytest.fixture(scope="module")
def _shared() -> Tenant:
    return Tenant(organizations=ORGS, big_org_members=BIG)


@pytest.fixture
def sandbox(_shared: Tenant) -> Tenant:
    _shared.reset()
    return _shared


@pytest.fixture
def api(sandbox: Tenant) -> Api:
    session = requests.Session()
    session.mount(SANDBOX_BASE_URL + "/", SandboxAdapter(make_app(sandbox)))
    return Api(session, SANDBOX_BASE_URL).login()


@pytest.fixture(scope="module")
def _server(_shared: Tenant) -> Iterator[SandboxServer]:
    server = serve(_shared)
    yield server
    server.shutdown()


@pytest.fixture
def http(sandbox: Tenant, _server: SandboxServer) -> Api:
    return Api(requests.Session(), _server.url).login()
