"""Fuzzing the HTTP interface: no request gets a 5xx, and an error answer changes nothing.

Schema-driven: schemathesis makes requests, valid and invalid, from the daemon's
own /openapi.json and sends them to a real `touchflow run` over 127.0.0.1; every
answer is checked against the document. Property-based: hypothesis sends any
JSON at all as events to the app in-process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from daemon_support import DaemonProcess
from http_support import AUTH, ENV, NOW, booking, coupon, http_api, tables, write_http_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

_FACTS = ("customers", "events", "suppressions")  # what requests write; the daemon does not


def facts(project: Path) -> dict[str, list[tuple[Any, ...]]]:
    return tables(project / ".touchflow" / "store.sqlite3", _FACTS)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("fuzz")
    project = write_http_project(root, events=[coupon("X1", expires="NOW+48h")])
    process = DaemonProcess(project, "--now", NOW.isoformat(), env=ENV).start()
    try:
        yield process.http_url(), project
    finally:
        assert process.stop() == 0
        assert "Traceback" not in process.log(), process.log()


@pytest.fixture(scope="module")
def api_schema(running: tuple[str, Path]) -> schemathesis.BaseSchema:
    url, _ = running
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=40, database="none"
    )
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=40)
def test_no_request_gets_a_5xx_and_an_error_changes_nothing(
    case: schemathesis.Case, running: tuple[str, Path]
) -> None:
    url, project = running
    before = facts(project)
    response = case.call(base_url=url, headers=AUTH)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    if response.status_code >= 400:
        assert facts(project) == before, f"{case.method} {case.path} {response.status_code}"


# --- any JSON at all, in-process -------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": _json | st.text(max_size=5) | st.just("\ud800"),  # a lone surrogate: no character
        "type": _json
        | st.sampled_from(["appointment_booked", "coupon_issued", "newsletter_opened"]),
        "customer": _json | st.sampled_from(["c1", "c2", "c9"]),
        "at": _json | st.sampled_from(["2026-11-23T08:00:00Z", "2026-11-23T08:00:00", "now"]),
        "data": _json
        | st.fixed_dictionaries({}, optional={"appointment_id": _json, "starts_at": _json}),
    },
)
_bodies = _fields | st.fixed_dictionaries({"events": st.lists(_fields | _json, max_size=5)}) | _json


def test_any_json_as_events_is_answered_without_a_5xx_and_errors_change_nothing(
    tmp_path: Path,
) -> None:
    # Hypothesis drives a synchronous test: the app and its store get a loop of their own.
    loop = asyncio.new_event_loop()
    setup = http_api(tmp_path)
    api = loop.run_until_complete(setup.__aenter__())
    try:

        @settings(max_examples=150, deadline=None, database=None)
        @given(body=_bodies)
        def probe(body: Any) -> None:
            before = api.snapshot()
            content = json.dumps(body).encode()  # ASCII: a lone surrogate as "\ud800"
            answer = loop.run_until_complete(
                api.client.post("/v1/events", content=content, headers=AUTH)
            )
            assert answer.status_code < 500, answer.text
            if answer.status_code >= 400:
                assert answer.json()["problems"]
                assert api.snapshot() == before
            else:
                assert answer.status_code in (200, 201)

        probe()
        # A valid booking still goes through afterwards.
        final = loop.run_until_complete(
            api.client.post("/v1/events", json=booking("b-final"), headers=AUTH)
        )
        assert final.status_code == 201
    finally:
        loop.run_until_complete(setup.__aexit__(None, None, None))
        loop.close()
