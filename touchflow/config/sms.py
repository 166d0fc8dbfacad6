"""``delivery.sms:`` in touchflow.yaml: which provider sends text messages, and its settings.

Two providers: ``twilio`` (Twilio's Messages REST API) and ``folder`` (each text is
written as a file into a folder of the project: for trying rules out and for the
sample, nothing leaves the machine). Twilio's account SID and auth token come from
the environment variables named here (``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN``
by default); they never sit in touchflow.yaml. The API's address is Twilio's own
unless a test points it at a fake on this machine: plain ``http://`` only there.

``marketing_hours`` (``{from: "08:00", to: "21:00"}`` by default) bound when a marketing
text may go out in the customer's zone, whatever the rule's own send window says.
``inbound_url`` is the public address Twilio calls with replies (STOP, START): its
signatures are computed over that address, so it must be given as Twilio has it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

from touchflow.checks import Collector
from touchflow.config.webhook import positive, url_problem
from touchflow.durations import parse_time_of_day
from touchflow.errors import shown
from touchflow.yamlload import LineDict

TWILIO_API = "https://api.twilio.com"
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# Twilio's senders: a number in E.164 form, a short code (3 to 8 digits), or an
# alphanumeric sender ID (1 to 11 letters, digits and spaces, at least one letter).
_SENDER = re.compile(r"\+[1-9][0-9]{6,14}|[0-9]{3,8}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_SENDER_WORDS = (
    'a number in E.164 form ("+15017122661"), a short code (3 to 8 digits) or an '
    "alphanumeric sender ID (1 to 11 letters, digits and spaces, at least one letter)"
)
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_COMMON = ("provider", "max_segments", "marketing_hours")
_TWILIO = (
    "account_sid_env",
    "auth_token_env",
    "from",
    "messaging_service_sid",
    "api_url",
    "timeout",
    "connections",
    "inbound_url",
)
_FOLDER = ("folder",)


class SmsProviderKind(enum.StrEnum):
    TWILIO = "twilio"
    FOLDER = "folder"


@dataclass(frozen=True, slots=True, kw_only=True)
class TwilioSettings:
    sender: str | None = None  # the `from:` number, E.164; or a messaging service
    messaging_service_sid: str | None = None  # MG…: Twilio picks the number
    account_sid_env: str = "TWILIO_ACCOUNT_SID"  # names of environment variables
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    api_url: str = TWILIO_API  # http:// only to this machine (tests' fake API)
    timeout: float = 10.0  # seconds for the whole request
    connections: int = 4  # requests in flight at once
    inbound_url: str | None = None  # what Twilio calls with replies; None: no inbound route


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsSettings:
    provider: SmsProviderKind
    twilio: TwilioSettings | None = None  # with provider twilio
    folder: Path | None = None  # with provider folder: absolute
    max_segments: int = 3  # `validate` warns about a text longer than this
    marketing_hours: tuple[time, time] = (time(8), time(21))  # local [start, end)


def read_sms(value: Any, line: int, out: Collector, root: Path) -> SmsSettings | None:
    """Read ``delivery.sms``; every problem goes to ``out`` with its line."""
    doc = out.mapping(value, line, what="delivery.sms")
    if doc is None:
        return None
    out.check_keys(
        doc, (*_COMMON, *_TWILIO, *_FOLDER), where="delivery.sms", required=("provider",)
    )
    raw = doc.get("provider")
    kinds = [kind.value for kind in SmsProviderKind]
    if "provider" in doc and raw not in kinds:
        out.add(
            doc.line_of("provider"),
            f"delivery.sms.provider must be twilio or folder, not {shown(raw)}",
        )
        return None
    if raw is None:
        return None
    kind = SmsProviderKind(raw)
    before = len(out.problems)
    common = _read_common(doc, out)
    if kind is SmsProviderKind.TWILIO:
        _refuse_other(doc, out, _FOLDER, "twilio")
        twilio = _read_twilio(doc, out)
        if len(out.problems) > before or twilio is None:
            return None
        return SmsSettings(provider=kind, twilio=twilio, **common)
    _refuse_other(doc, out, _TWILIO, "folder")
    folder = root / ".touchflow/sms"
    if "folder" in doc:
        text = out.text(doc["folder"], doc.line_of("folder"), what="delivery.sms.folder")
        folder = root / text if text else folder
    if len(out.problems) > before:
        return None
    return SmsSettings(provider=kind, folder=folder, **common)


def _refuse_other(doc: LineDict, out: Collector, keys: tuple[str, ...], kind: str) -> None:
    for key in keys:
        if key in doc:
            out.add(doc.line_of(key), f"delivery.sms.{key} does not apply to provider {kind}")


def _read_common(doc: LineDict, out: Collector) -> dict[str, Any]:
    common: dict[str, Any] = {}
    if "max_segments" in doc:
        raw = doc["max_segments"]
        if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 10:
            common["max_segments"] = raw
        else:
            out.add(
                doc.line_of("max_segments"),
                f"delivery.sms.max_segments must be a whole number from 1 to 10, not {shown(raw)}",
            )
    if "marketing_hours" in doc:
        hours = _read_hours(doc["marketing_hours"], doc.line_of("marketing_hours"), out)
        if hours is not None:
            common["marketing_hours"] = hours
    return common


def _read_hours(value: Any, line: int, out: Collector) -> tuple[time, time] | None:
    doc = out.mapping(value, line, what="delivery.sms.marketing_hours")
    if doc is None:
        return None
    out.check_keys(
        doc, ("from", "to"), where="delivery.sms.marketing_hours", required=("from", "to")
    )
    found: list[time] = []
    for key in ("from", "to"):
        if key not in doc:
            return None
        try:
            found.append(parse_time_of_day(doc[key]))
        except ValueError as exc:
            out.add(doc.line_of(key), f"delivery.sms.marketing_hours.{key}: {exc}")
    if len(found) != 2:
        return None
    if found[0] >= found[1]:
        out.add(
            line,
            "delivery.sms.marketing_hours: from must come before to, "
            'within one day (e.g. from: "08:00", to: "21:00")',
        )
        return None
    return found[0], found[1]


def _read_twilio(doc: LineDict, out: Collector) -> TwilioSettings | None:
    kw: dict[str, Any] = {}
    for key in ("account_sid_env", "auth_token_env"):
        if key in doc:
            kw[key] = _env_name(doc, key, out)
    if ("from" in doc) == ("messaging_service_sid" in doc):
        out.add(
            doc.line_of("provider"),
            "delivery.sms needs exactly one of `from:` (your Twilio number, like "
            '"+15017122661") and `messaging_service_sid:` (MG…)',
        )
    if "from" in doc:
        kw["sender"] = _matching(doc, "from", _SENDER, _SENDER_WORDS, out, digits=True)
    if "messaging_service_sid" in doc:
        kw["messaging_service_sid"] = _matching(
            doc, "messaging_service_sid", _SERVICE_SID, "MG followed by 32 hex digits", out
        )
    for key in ("api_url", "inbound_url"):
        if key in doc:
            kw[key] = _url(doc, key, out)
    if "timeout" in doc:
        kw["timeout"] = positive(doc, "timeout", out, whole=False, where="delivery.sms")
    if "connections" in doc:
        kw["connections"] = positive(doc, "connections", out, whole=True, where="delivery.sms")
    if None in kw.values():
        return None
    return TwilioSettings(**kw)


def _env_name(doc: LineDict, key: str, out: Collector) -> str | None:
    raw = doc[key]
    if isinstance(raw, str) and _ENV_NAME.fullmatch(raw):
        return raw
    out.add(
        doc.line_of(key),
        f"delivery.sms.{key} names an environment variable, e.g. TWILIO_AUTH_TOKEN "
        "(capital letters, digits and _); never put the value itself in touchflow.yaml",
    )
    return None


def _matching(
    doc: LineDict,
    key: str,
    pattern: re.Pattern[str],
    what: str,
    out: Collector,
    *,
    digits: bool = False,
) -> str | None:
    raw = doc[key]
    if digits and isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # a short code written without quotes
    if isinstance(raw, str) and pattern.fullmatch(raw.strip()):
        return raw.strip()
    out.add(doc.line_of(key), f"delivery.sms.{key} must be {what}, not {shown(raw)}")
    return None


def _url(doc: LineDict, key: str, out: Collector) -> str | None:
    text = out.text(doc[key], doc.line_of(key), what=f"delivery.sms.{key}")
    if text is None:
        return None
    problem = url_problem(text)
    if problem is not None:
        out.add(doc.line_of(key), f"delivery.sms.{key} {problem}")
        return None
    return text.rstrip("/") if key == "api_url" else text
