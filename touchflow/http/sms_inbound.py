"""``POST /v1/sms/inbound``: replies to texts, from Twilio; STOP suppresses the number.

Mounted only when ``delivery.sms`` is Twilio with an ``inbound_url`` (and the
HTTP interface is on). No bearer token: Twilio's ``X-Twilio-Signature`` over
``inbound_url`` and the form is the proof (touchflow.http.twilio_signature),
checked with the auth token read once at the start.

The whole trimmed body is the keyword, in any case, as with Twilio's Advanced
Opt-Out: STOP and its synonyms suppress the sender's number for every message
(scope ``all``); START, YES and UNSTOP lift that number's ``all`` suppressions;
anything else changes nothing. Where Twilio says what a reply is (``OptOutType``:
STOP, START or HELP, sent when a Messaging Service has Advanced Opt-Out, whose own
keywords may be localised), that decides instead of the body. The changed customers
are re-planned before the answer (as for one-click unsubscribe), so a text waiting
in the outbox is held by then. The answer is empty TwiML: Twilio itself confirms
the standard keywords. A reply whose ``MessageSid`` was handled already (a replay)
changes nothing (touchflow.http.sms_inbound_guard); a flood of refused requests
logs one line a minute per client address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from touchflow import logs
from touchflow.channels.sms import masked
from touchflow.config.http import HttpConfigError
from touchflow.config.sms import SmsSettings
from touchflow.http.errors import ApiError, fail
from touchflow.http.sms_inbound_guard import Handled, RefusalLog
from touchflow.http.state import Api, api_of
from touchflow.http.twilio_signature import HEADER, is_valid
from touchflow.models import Suppression, SuppressionScope

PATH = "/v1/sms/inbound"
MAX_BODY = 64 * 1024  # Twilio's inbound form is a few hundred bytes
MAX_FIELDS = 200  # parameters in a form (Twilio sends about 20, more with media)
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
OPT_OUT_TYPES = {"STOP": "stop", "START": "start", "HELP": "other"}  # Twilio's OptOutType
ACTIONS = ("stop", "start", "other", "refused")  # the metric's label values
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_FORM = "application/x-www-form-urlencoded"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """The route's settings as of the start: the signed URL, the auth token, its counter."""

    url: str = field(repr=False)  # its query may carry a token
    token: str = field(repr=False)
    replies: Counter
    handled: Handled = field(default_factory=Handled, repr=False)
    refusals: RefusalLog = field(default_factory=RefusalLog, repr=False)

    @property
    def shown_url(self) -> str:
        """The URL without its query (which may carry a token), for the log."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    async def receive(self, request: Request) -> Response:
        try:
            form = await _form(request)
            self._check(request, form)
        except ApiError:
            self.replies.labels("refused").inc()
            raise
        sid = _one(form, "MessageSid")
        if sid and sid in self.handled:
            action = "other"
            logs.log.info(
                "SMS reply ignored: %s was handled already (a repeat)", _one_line(sid)[:40],
                extra={"tf": {"event": "sms_reply", "action": "repeat"}},
            )  # fmt: skip
        else:
            action = await _act(api_of(request), form)
            if sid:
                self.handled.add(sid)  # after acting: a reply the store refused may come again
        self.replies.labels(action).inc()
        return Response(TWIML, media_type="text/xml", headers={"Cache-Control": "no-store"})

    def _check(self, request: Request, form: list[tuple[str, str]]) -> None:
        given = request.headers.get(HEADER)
        if is_valid(self.token, self.url, form, given):
            return
        why = "has no X-Twilio-Signature header" if not given else "has a wrong X-Twilio-Signature"
        client = request.client.host if request.client else "?"
        quiet = self.refusals.refused(client)
        if quiet is not None:
            more = f" ({quiet} more from there since its last line, not logged)" if quiet else ""
            logs.log.warning(
                "SMS reply refused: a request from %s %s (is delivery.sms.inbound_url exactly "
                "the URL set in Twilio's console, and is the auth token the current one?)%s",
                client, why, more, extra={"tf": {"event": "sms_reply", "action": "refused"}},
            )  # fmt: skip
        raise fail(403, "invalid_signature", HEADER, f"the request {why}")


def open_inbound(
    sms: SmsSettings | None, environ: Mapping[str, str], registry: CollectorRegistry
) -> Inbound | None:
    """The route's settings, or None without Twilio's ``inbound_url``; ``HttpConfigError``
    naming the auth token's variable when it is not set."""
    twilio = sms.twilio if sms is not None else None
    if twilio is None or twilio.inbound_url is None:
        return None
    name = twilio.auth_token_env
    token = environ.get(name, "")
    if not token.strip():
        state = "empty" if name in environ else "not set"
        raise HttpConfigError(
            f"delivery.sms.inbound_url is set, so the environment variable {name} "
            f"(delivery.sms.auth_token_env) must hold your Twilio auth token, which signs "
            f"the replies Twilio posts; it is {state}"
        )
    replies = Counter(
        "touchflow_sms_replies",
        "Texts Twilio posted to /v1/sms/inbound, by what was done (stop: the number was "
        "suppressed; start: its suppression lifted; other: nothing, a repeat too; refused: a wrong "
        "signature, too large or not a form).",
        ["action"], registry=registry,
    )  # fmt: skip
    for action in ACTIONS:  # a series from the start, not from the first reply
        replies.labels(action)
    return Inbound(url=twilio.inbound_url, token=token, replies=replies)


def routes(inbound: Inbound | None) -> list[Route]:
    """The route, also with a trailing slash: a proxy may add one, and Starlette's redirect
    to the path without it would send Twilio to the daemon's own address. The signature
    is checked over ``inbound_url`` either way."""
    if inbound is None:
        return []
    return [Route(path, inbound.receive, methods=["POST"]) for path in (PATH, PATH + "/")]


def openapi_path() -> dict[str, Any]:
    """The path in /openapi.json (only where the route is mounted)."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    refusals = {
        "400": "The body is not a form of UTF-8 text.",
        "403": "No or a wrong X-Twilio-Signature; nothing changed.",
        "413": f"The body is over {MAX_BODY} bytes.",
        "415": f"The body is not {_FORM}.",
        "503": "The store could not be written (nothing was); Twilio may try again.",
    }
    form = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        PATH: {
            "post": {
                "summary": "A reply to a text, posted by Twilio: STOP suppresses the number, "
                "START lifts it (signed with X-Twilio-Signature; see docs/channels.md).",
                "parameters": [
                    {"name": HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {"required": True, "content": {_FORM: {"schema": form}}},
                "responses": {
                    "200": {
                        "description": "Done; an empty TwiML answer.",
                        "content": {"text/xml": {"schema": {"type": "string"}}},
                    },
                    **{
                        code: {"description": text, "content": error}
                        for code, text in refusals.items()
                    },
                },
            }
        }
    }


async def _form(request: Request) -> list[tuple[str, str]]:
    """The form's (name, value) pairs, blank values kept; 415, 413 or 400 if it is not one."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != _FORM:
        raise fail(415, "unsupported_media_type", "Content-Type", f"send {_FORM}")
    too_large = fail(413, "body_too_large", "body", f"the body is over {MAX_BODY} bytes")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise too_large
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:  # no (or a false) Content-Length: stop at the bound
            raise too_large
    try:
        return parse_qsl(
            data.decode("utf-8"), keep_blank_values=True, errors="strict",
            max_num_fields=MAX_FIELDS,
        )  # fmt: skip
    except (UnicodeError, ValueError):
        message = f"not a form of UTF-8 text with at most {MAX_FIELDS} fields"
        raise fail(400, "invalid_form", "body", message) from None


async def _act(api: Api, form: list[tuple[str, str]]) -> str:
    """Suppress or lift the sender's number as the body asks; the metric's action."""
    number, word = _one(form, "From"), _one(form, "Body").strip()
    keyword = word.upper() if word.isascii() else ""  # ASCII only: "\u017ftop".upper() is "STOP"
    action = "stop" if keyword in STOP_WORDS else "start" if keyword in START_WORDS else "other"
    opt_out_type = _one(form, "OptOutType").strip().upper()
    if opt_out_type in OPT_OUT_TYPES:  # Twilio knows the Messaging Service's own keywords
        action = OPT_OUT_TYPES[opt_out_type]
        if keyword not in STOP_WORDS | START_WORDS:
            keyword = f"a keyword Twilio calls {opt_out_type}"
    fields: dict[str, Any] = {"event": "sms_reply", "action": action}
    if not _E164.fullmatch(number):
        fields["action"] = "other"
        logs.log.info("SMS reply ignored: From is not a number in E.164 form", extra={"tf": fields})
        return "other"
    shown = masked(number)
    if action == "stop":
        entry = Suppression(
            email=number, scope=SuppressionScope.ALL, reason=f"texted {keyword}",
            created_at=api.engine.clock.now(),
        )  # fmt: skip
        await api.engine.store.add_suppression(entry)
        logs.log.info("SMS: %s texted %s: suppressed", shown, keyword, extra={"tf": fields})
    elif action == "start":
        removed = await api.engine.store.remove_suppressions(number, [SuppressionScope.ALL])
        logs.log.info(
            "SMS: %s texted %s: %s", shown, keyword,
            "suppression lifted" if removed else "was not suppressed", extra={"tf": fields},
        )  # fmt: skip
    else:
        logs.log.info("SMS: %s replied (no keyword): nothing changes", shown, extra={"tf": fields})
        return action
    await api.replanner.replan()  # pending texts to the number are held before the answer
    return action


def _one(form: list[tuple[str, str]], name: str) -> str:
    """The value of a parameter sent once; "" when it is missing or sent more than once."""
    values = {value for key, value in form if key == name}
    return values.pop() if len(values) == 1 else ""


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)
