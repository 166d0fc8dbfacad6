"""``POST /v1/sms/inbound`` in this process: Twilio's signed replies against a real SQLite store.

The route is mounted as `touchflow run` mounts it (``open_inbound`` from delivery.sms
settings and the environment); the project itself sends email only, so its channel
needs no Twilio credentials. tests/acceptance/test_sms_replies_run.py drives a real
`touchflow run` with Twilio configured.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from http_support import Setup, http_api, metric
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from touchflow.config.http import HttpConfigError
from touchflow.config.sms import SmsProviderKind, SmsSettings, TwilioSettings
from touchflow.console.offline import offline_app
from touchflow.http.app import create_app
from touchflow.http.sms_inbound import (
    MAX_BODY,
    MAX_FIELDS,
    START_WORDS,
    STOP_WORDS,
    TWIML,
    open_inbound,
)
from touchflow.http.twilio_signature import signature
from touchflow.models import Suppression, SuppressionScope

TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"
INBOUND_URL = "https://touch.example.com/v1/sms/inbound"
NUMBER = "+4915112345678"
SMS = SmsSettings(
    provider=SmsProviderKind.TWILIO,
    twilio=TwilioSettings(sender="+15017122661", inbound_url=INBOUND_URL),
)
FORM = "application/x-www-form-urlencoded"


@dataclass
class Inbound:
    setup: Setup
    client: httpx.AsyncClient

    async def text(
        self, body: str, *, sender: str = NUMBER, url: str = INBOUND_URL, token: str = TWILIO_TOKEN
    ) -> httpx.Response:
        """Post what Twilio posts for a text ``body`` from ``sender``, signed for ``url``."""
        params = twilio_form(body, sender)
        return await self.post(params, signature(token, url, params))

    async def post(
        self, params: list[tuple[str, str]], signed: str | None, content_type: str = FORM
    ) -> httpx.Response:
        headers = {"Content-Type": content_type}
        if signed is not None:
            headers["X-Twilio-Signature"] = signed
        return await self.client.post(
            "/v1/sms/inbound", content=urlencode(params).encode(), headers=headers
        )

    async def suppressions(self) -> list[Suppression]:
        return await self.setup.store.list_suppressions(email=NUMBER)

    async def replies(self, action: str) -> float:
        text = (await self.setup.client.get("/metrics")).text
        return metric(text, f'touchflow_sms_replies_total{{action="{action}"}}')


_sids = itertools.count(1)


def twilio_form(body: str, sender: str = NUMBER) -> list[tuple[str, str]]:
    """The parameters of Twilio's inbound message webhook, blank ones included; each
    call is a new message (a MessageSid of its own)."""
    sid = f"SM{next(_sids):032x}"
    return [
        ("ToCountry", "US"), ("ToState", "CA"), ("SmsMessageSid", sid),
        ("NumMedia", "0"), ("ToCity", ""), ("FromZip", ""), ("SmsSid", sid),
        ("FromState", ""), ("SmsStatus", "received"), ("FromCity", ""), ("Body", body),
        ("FromCountry", "DE"), ("To", "+15017122661"), ("ToZip", ""), ("NumSegments", "1"),
        ("MessageSid", sid), ("AccountSid", "AC" + "0" * 32), ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]  # fmt: skip


@pytest.fixture
async def sms(tmp_path: Path) -> AsyncIterator[Inbound]:
    async with http_api(tmp_path) as setup:
        environ = {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
        inbound = open_inbound(SMS, environ, setup.api.metrics.registry)
        transport = httpx.ASGITransport(app=create_app(setup.api, inbound=inbound))
        async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as client:
            yield Inbound(setup=setup, client=client)


async def test_stop_suppresses_the_number_for_everything(sms: Inbound) -> None:
    answer = await sms.text("STOP")
    assert answer.status_code == 200
    assert answer.text == TWIML
    assert answer.headers["content-type"].startswith("text/xml")
    [entry] = await sms.suppressions()
    assert (entry.email, entry.scope, entry.reason) == (NUMBER, SuppressionScope.ALL, "texted STOP")
    assert await sms.replies("stop") == 1
    assert await sms.replies("refused") == 0


@pytest.mark.parametrize("word", sorted(STOP_WORDS))
async def test_every_stop_word_in_any_case_trimmed(sms: Inbound, word: str) -> None:
    assert (await sms.text(f"  {word.lower().capitalize()}\n")).status_code == 200
    [entry] = await sms.suppressions()
    assert entry.reason == f"texted {word}"


@pytest.mark.parametrize("word", sorted(START_WORDS))
async def test_start_lifts_the_suppression_stop_wrote(sms: Inbound, word: str) -> None:
    await sms.text("stop")
    assert len(await sms.suppressions()) == 1
    answer = await sms.text(word.lower())
    assert (answer.status_code, answer.text) == (200, TWIML)
    assert await sms.suppressions() == []
    assert await sms.replies("start") == 1


async def test_start_without_a_suppression_changes_nothing(sms: Inbound) -> None:
    before = sms.setup.snapshot()
    assert (await sms.text("START")).status_code == 200
    assert sms.setup.snapshot() == before


@pytest.mark.parametrize(
    "body", ["HELP", "INFO", "stop please", "Stopp", "", "S T O P", "\u017ftop", "STOP 😀"]
)
async def test_anything_else_changes_nothing(sms: Inbound, body: str) -> None:
    before = sms.setup.snapshot()
    answer = await sms.text(body)
    assert (answer.status_code, answer.text) == (200, TWIML)
    assert sms.setup.snapshot() == before
    assert await sms.replies("other") == 1


@pytest.mark.parametrize("sender", ["004915112345678", "+0123456789", "Shop", "", "+49 151 1"])
async def test_a_sender_not_in_e164_form_changes_nothing(sms: Inbound, sender: str) -> None:
    before = sms.setup.snapshot()
    assert (await sms.text("STOP", sender=sender)).status_code == 200
    assert sms.setup.snapshot() == before


async def test_a_wrong_or_missing_signature_is_refused_and_logged_without_the_token(
    sms: Inbound, caplog: pytest.LogCaptureFixture
) -> None:
    before = sms.setup.snapshot()
    params = twilio_form("STOP")
    good = signature(TWILIO_TOKEN, INBOUND_URL, params)
    with caplog.at_level(logging.WARNING, logger="touchflow"):
        wrong_token = await sms.text("STOP", token="another-token-0123456789")
        missing = await sms.post(params, None)
        changed = await sms.post([*params[:-1], ("ApiVersion", "2010-04-02")], good)
    for answer in (wrong_token, missing, changed):
        assert answer.status_code == 403
        assert answer.json()["error"] == "invalid_signature"
    assert sms.setup.snapshot() == before
    refused = [r.getMessage() for r in caplog.records if "SMS reply refused" in r.getMessage()]
    assert len(refused) == 1  # one line a minute per client address
    assert "has a wrong X-Twilio-Signature" in refused[0]
    assert "has no X-Twilio-Signature header" in missing.text
    assert not any(TWILIO_TOKEN in r.getMessage() for r in caplog.records)
    assert await sms.replies("refused") == 3


async def test_a_replayed_reply_is_answered_but_changes_nothing(
    sms: Inbound, caplog: pytest.LogCaptureFixture
) -> None:
    stop = twilio_form("STOP")
    signed = signature(TWILIO_TOKEN, INBOUND_URL, stop)
    assert (await sms.post(stop, signed)).status_code == 200
    assert (await sms.text("START")).status_code == 200  # the customer's later START
    assert await sms.suppressions() == []
    with caplog.at_level(logging.INFO, logger="touchflow"):
        again = await sms.post(stop, signed)  # the STOP, captured and posted again
    assert (again.status_code, again.text) == (200, TWIML)
    assert await sms.suppressions() == []
    assert any("was handled already" in r.getMessage() for r in caplog.records)
    assert (await sms.replies("stop"), await sms.replies("other")) == (1, 1)


@pytest.mark.parametrize(("body", "kind"), [("ARRET", "STOP"), ("stop", "STOP"), ("Halt!", "STOP")])
async def test_twilio_s_opt_out_type_stop_suppresses_whatever_the_word(
    sms: Inbound, body: str, kind: str
) -> None:
    params = [*twilio_form(body), ("OptOutType", kind)]
    assert (await sms.post(params, signature(TWILIO_TOKEN, INBOUND_URL, params))).is_success
    [entry] = await sms.suppressions()
    assert entry.reason == (
        "texted STOP" if body == "stop" else "texted a keyword Twilio calls STOP"
    )


async def test_twilio_s_opt_out_type_start_lifts_and_help_changes_nothing(sms: Inbound) -> None:
    await sms.text("STOP")
    helped = [*twilio_form("AIDE"), ("OptOutType", "HELP")]
    assert (await sms.post(helped, signature(TWILIO_TOKEN, INBOUND_URL, helped))).is_success
    assert len(await sms.suppressions()) == 1
    started = [*twilio_form("DEMARRER"), ("OptOutType", "START")]
    assert (await sms.post(started, signature(TWILIO_TOKEN, INBOUND_URL, started))).is_success
    assert await sms.suppressions() == []
    assert (await sms.replies("other"), await sms.replies("start")) == (1, 1)


async def test_a_flood_of_forged_replies_logs_one_line_a_minute_per_address(
    sms: Inbound, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="touchflow"):
        for _ in range(20):
            assert (await sms.text("STOP", token="forged-0123456789")).status_code == 403
    refused = [r for r in caplog.records if "SMS reply refused" in r.getMessage()]
    assert len(refused) == 1
    assert await sms.replies("refused") == 20


async def test_a_signature_for_another_url_fails_closed(sms: Inbound) -> None:
    """Behind a proxy: Twilio signs the public URL; one that differs in anything fails."""
    before = sms.setup.snapshot()
    for url in (
        "http://touch.example.com/v1/sms/inbound",
        "https://touch.example.com/v1/sms/inbound/",
        "https://touch.example.com:8443/v1/sms/inbound",
        "http://127.0.0.1:8787/v1/sms/inbound",
    ):
        assert (await sms.text("STOP", url=url)).status_code == 403, url
    assert sms.setup.snapshot() == before
    # The default port written out is the same URL (Twilio signs either form).
    assert (await sms.text("STOP", url="https://touch.example.com:443/v1/sms/inbound")).is_success


async def test_a_content_type_with_a_charset_is_a_form(sms: Inbound) -> None:
    params = twilio_form("STOP")
    answer = await sms.post(
        params, signature(TWILIO_TOKEN, INBOUND_URL, params), content_type=f"{FORM}; charset=UTF-8"
    )
    assert answer.status_code == 200
    assert len(await sms.suppressions()) == 1


async def test_unicode_bodies_and_repeated_parameters_are_signed_as_twilio_signs_them(
    sms: Inbound,
) -> None:
    params = [*twilio_form("Stop 😀 ü"), ("MediaUrl0", "a"), ("MediaUrl0", "b")]
    answer = await sms.post(params, signature(TWILIO_TOKEN, INBOUND_URL, params))
    assert answer.status_code == 200
    assert await sms.replies("other") == 1


async def test_a_repeated_from_is_not_a_number(sms: Inbound) -> None:
    params = [*twilio_form("STOP"), ("From", "+4915199999999")]
    assert (await sms.post(params, signature(TWILIO_TOKEN, INBOUND_URL, params))).is_success
    assert await sms.suppressions() == []


async def test_what_is_not_a_small_form_is_refused_before_the_signature(sms: Inbound) -> None:
    before = sms.setup.snapshot()
    params = twilio_form("STOP")
    signed = signature(TWILIO_TOKEN, INBOUND_URL, params)
    assert (await sms.post(params, signed, content_type="application/json")).status_code == 415
    assert (await sms.post(params, signed, content_type="")).status_code == 415
    big = [*params, ("Padding", "x" * MAX_BODY)]
    assert (await sms.post(big, signature(TWILIO_TOKEN, INBOUND_URL, big))).status_code == 413
    many = [(f"P{n}", "") for n in range(MAX_FIELDS + 1)]
    assert (await sms.post(many, signature(TWILIO_TOKEN, INBOUND_URL, many))).status_code == 400
    not_utf8 = await sms.client.post(
        "/v1/sms/inbound", content=b"Body=\xff", headers={"Content-Type": FORM}
    )
    assert not_utf8.status_code == 400
    assert sms.setup.snapshot() == before
    assert await sms.replies("refused") == 5


async def test_a_trailing_slash_a_proxy_adds_reaches_the_route(sms: Inbound) -> None:
    params = twilio_form("STOP")
    answer = await sms.client.post(
        "/v1/sms/inbound/",
        content=urlencode(params).encode(),
        headers={"Content-Type": FORM,
                 "X-Twilio-Signature": signature(TWILIO_TOKEN, INBOUND_URL, params)},
    )  # fmt: skip
    assert (answer.status_code, answer.text) == (200, TWIML)
    assert len(await sms.suppressions()) == 1


async def test_a_get_is_not_taken(sms: Inbound) -> None:
    answer = await sms.client.get("/v1/sms/inbound", params=twilio_form("STOP"))
    assert answer.status_code == 405
    assert await sms.suppressions() == []


async def test_a_body_without_a_content_length_stops_at_the_bound(sms: Inbound) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"x" * 1024

    answer = await sms.client.post(
        "/v1/sms/inbound", content=chunks(), headers={"Content-Type": FORM}
    )
    assert answer.status_code == 413


async def test_the_route_is_absent_without_inbound_url(api: Setup) -> None:
    answer = await api.client.post("/v1/sms/inbound", content=b"Body=STOP")
    assert answer.status_code == 404
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert "/v1/sms/inbound" not in paths
    assert "touchflow_sms_replies" not in (await api.client.get("/metrics")).text


async def test_the_read_only_console_never_takes_replies(sms: Inbound) -> None:
    """`touchflow console` is a server of its own (touchflow.console.offline): no route."""
    setup = sms.setup
    app = offline_app(setup.daemon.project, setup.store, setup.daemon.clock, "t" * 20)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console.test"
    ) as console:
        params = twilio_form("STOP")
        answer = await console.post(
            "/v1/sms/inbound", content=urlencode(params).encode(),
            headers={"Content-Type": FORM,
                     "X-Twilio-Signature": signature(TWILIO_TOKEN, INBOUND_URL, params)},
        )  # fmt: skip
    assert answer.status_code == 404
    assert await sms.suppressions() == []


async def test_the_route_is_in_openapi_when_mounted(sms: Inbound) -> None:
    paths = (await sms.client.get("/openapi.json")).json()["paths"]
    assert set(paths["/v1/sms/inbound"]["post"]["responses"]) == {
        "200", "400", "403", "413", "415", "503"
    }  # fmt: skip


def test_no_inbound_route_without_inbound_url_or_twilio() -> None:
    environ = {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
    plain = SmsSettings(provider=SmsProviderKind.TWILIO, twilio=TwilioSettings(sender=NUMBER))
    folder = SmsSettings(provider=SmsProviderKind.FOLDER, folder=Path("/tmp/x"))
    for given_settings in (None, plain, folder):
        assert open_inbound(given_settings, environ, CollectorRegistry()) is None


@pytest.mark.parametrize(
    ("environ", "state"), [({}, "not set"), ({"TWILIO_AUTH_TOKEN": " "}, "empty")]
)
def test_a_missing_auth_token_names_its_variable(environ: dict[str, str], state: str) -> None:
    with pytest.raises(HttpConfigError) as caught:
        open_inbound(SMS, environ, CollectorRegistry())
    assert "TWILIO_AUTH_TOKEN" in str(caught.value)
    assert state in str(caught.value)


async def test_a_query_in_inbound_url_is_signed_and_kept_out_of_the_log(tmp_path: Path) -> None:
    url = INBOUND_URL + "?key=s3cret-in-the-query"
    settings = SmsSettings(
        provider=SmsProviderKind.TWILIO, twilio=TwilioSettings(sender=NUMBER, inbound_url=url)
    )
    async with http_api(tmp_path) as setup:
        inbound = open_inbound(settings, {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN}, CollectorRegistry())
        assert inbound is not None
        assert inbound.shown_url == INBOUND_URL
        assert "s3cret" not in repr(inbound) and TWILIO_TOKEN not in repr(inbound)
        transport = httpx.ASGITransport(app=create_app(setup.api, inbound=inbound))
        async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as client:
            sms = Inbound(setup=setup, client=client)
            assert (await sms.text("STOP", url=INBOUND_URL)).status_code == 403
            assert (await sms.text("STOP", url=url)).status_code == 200
            assert len(await sms.suppressions()) == 1


# --- any form at all, in-process -------------------------------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_names = st.sampled_from(["Body", "From", "To", "MediaUrl0", ""]) | _text
_values = st.sampled_from(["STOP", " start ", "help", NUMBER, "+1", ""]) | _text
_pairs = st.lists(st.tuples(_names, _values), max_size=8)
# Replies from a real number, with more around them: the signed branch acts on these.
_words = st.sampled_from(["STOP", " quit\n", "start", "Yes", "help", "stop please"]) | _values
_replies = st.builds(lambda body, more: [("From", NUMBER), ("Body", body), *more], _words, _pairs)


def expected_act(pairs: list[tuple[str, str]]) -> tuple[str, bool | None]:
    """What a signed form should do: (its number, True to suppress it, False to lift it,
    None to change nothing), as docs/channels.md says (a parameter sent twice is none)."""

    def one(name: str) -> str:
        values = {value for key, value in pairs if key == name}
        return values.pop() if len(values) == 1 else ""

    number, body = one("From"), one("Body").strip()
    word = body.upper() if body.isascii() else ""
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", number):
        return number, None
    return number, True if word in STOP_WORDS else False if word in START_WORDS else None


def test_any_form_is_answered_without_a_5xx_and_only_a_signed_one_acts(tmp_path: Path) -> None:
    # Hypothesis drives a synchronous test: the app and its store get a loop of their own.
    loop = asyncio.new_event_loop()
    context = http_api(tmp_path)
    setup = loop.run_until_complete(context.__aenter__())
    environ = {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
    app = create_app(setup.api, inbound=open_inbound(SMS, environ, CollectorRegistry()))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t.test")
    sms = Inbound(setup=setup, client=client)
    try:

        @settings(max_examples=100, deadline=None, database=None)
        @given(pairs=_pairs | _replies)
        def signed(pairs: list[tuple[str, str]]) -> None:
            before = setup.snapshot()
            answer = loop.run_until_complete(
                sms.post(pairs, signature(TWILIO_TOKEN, INBOUND_URL, pairs))
            )
            assert (answer.status_code, answer.text) == (200, TWIML)
            number, stop = expected_act(pairs)
            if stop is None:
                assert setup.snapshot() == before
                return
            found = loop.run_until_complete(setup.store.list_suppressions(email=number))
            assert [e.scope for e in found] == ([SuppressionScope.ALL] if stop else [])

        @settings(max_examples=100, deadline=None, database=None)
        @given(pairs=_pairs | _replies, raw=st.binary(max_size=40))
        def forged(pairs: list[tuple[str, str]], raw: bytes) -> None:
            before = setup.snapshot()
            wrong = base64.b64encode(raw[:20]).decode()  # the size of a signature, or less
            headers = {"Content-Type": FORM, "X-Twilio-Signature": wrong}
            content = urlencode(pairs).encode() + raw
            answer = loop.run_until_complete(
                client.post("/v1/sms/inbound", content=content, headers=headers)
            )
            assert answer.status_code in (400, 403), answer.text
            assert setup.snapshot() == before

        signed()
        forged()
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()
