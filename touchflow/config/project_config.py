"""The project: a directory with rules/, message_templates/ and an optional touchflow.yaml."""

from __future__ import annotations

import enum
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from touchflow.checks import Collector, did_you_mean, line_of
from touchflow.config.daemon import DaemonSettings, parse_daemon
from touchflow.config.delivery import DeliverySettings, parse_delivery
from touchflow.config.http import HttpSettings, parse_http
from touchflow.durations import parse_period, parse_time_of_day
from touchflow.errors import ConfigError, HeaderInjectionError, Problem, shown
from touchflow.headers import ComposeError, check_address, check_unsubscribe
from touchflow.models import Category, FieldType
from touchflow.yamlload import LineDict, load_yaml

CONFIG_FILE = "touchflow.yaml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class HolidayPolicy(enum.StrEnum):
    """What a send that falls on the customer's public holiday does."""

    SEND = "send"
    SKIP = "skip"
    NEXT_DAY = "next_day"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendWindow:
    """Hours in customer-local time when a send may go out (quiet hours outside)."""

    start: time
    end: time
    days: frozenset[int]  # 0 = Monday


@dataclass(frozen=True, slots=True, kw_only=True)
class Policies:
    send_window: SendWindow | None = None
    holidays: HolidayPolicy = HolidayPolicy.SEND
    caps: bool = False  # whether frequency caps count and limit this send
    require_consent: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Cap:
    category: Category
    max: int
    per: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class Lifecycle:
    """Stage thresholds from customer_since (no customer_since: prospect)."""

    new_days: int = 90
    long_time_years: int = 2
    integral_years: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings:
    from_addr: str = "touchflow <touchflow@localhost>"
    reply_to: str | None = None
    domain: str = "localhost"  # right side of Message-IDs
    unsubscribe: tuple[str, ...] = ()  # mailto:/https: URIs for List-Unsubscribe


DEFAULT_MARKETING = Policies(
    send_window=SendWindow(start=time(9), end=time(20), days=frozenset(range(6))),
    holidays=HolidayPolicy.SEND,
    caps=True,
    require_consent=True,
)
DEFAULT_TRANSACTIONAL = Policies()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectConfig:
    root: Path
    name: str = "touchflow project"
    timezone: str = "UTC"
    locale: str = "en"
    country: str | None = None
    send_time: time = time(9)
    business_days: frozenset[int] = frozenset(range(5))
    store_path: Path = Path(".touchflow/store.sqlite3")
    sample_dir: Path | None = None
    email: EmailSettings = field(default_factory=EmailSettings)
    vars: Mapping[str, Any] = field(default_factory=dict)
    customer_attributes: Mapping[str, FieldType] = field(default_factory=dict)
    events: Mapping[str, Mapping[str, FieldType]] = field(default_factory=dict)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    policies: Mapping[Category, Policies] = field(
        default_factory=lambda: {
            Category.MARKETING: DEFAULT_MARKETING,
            Category.TRANSACTIONAL: DEFAULT_TRANSACTIONAL,
        }
    )
    caps: tuple[Cap, ...] = ()
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    http: HttpSettings | None = None  # None: `touchflow run` serves no HTTP

    @property
    def rules_dir(self) -> Path:
        return self.root / "rules"

    @property
    def templates_dir(self) -> Path:
        return self.root / "message_templates"

    def store_file(self) -> Path:
        return self.store_path if self.store_path.is_absolute() else self.root / self.store_path

    @property
    def longest_cap(self) -> timedelta:
        """The longest cap period: how far back sends count, and ahead rivals compete."""
        return max((cap.per for cap in self.caps), default=timedelta(0))


_TOP_KEYS = (
    "name",
    "timezone",
    "locale",
    "country",
    "send_time",
    "business_days",
    "store",
    "sample",
    "email",
    "vars",
    "customer_attributes",
    "events",
    "lifecycle",
    "policies",
    "caps",
    "delivery",
    "daemon",
    "http",
)
_POLICY_KEYS = ("send_window", "holidays", "caps", "require_consent")


def load_project(root: Path) -> ProjectConfig:
    """Read ``root/touchflow.yaml`` (optional) into a config; every problem at once."""
    root = root.resolve()
    if not root.is_dir():
        raise ConfigError([Problem(path=str(root), line=None, message="no such project directory")])
    if not (root / "rules").is_dir():
        raise ConfigError(
            [
                Problem(
                    path=str(root),
                    line=None,
                    message="not a touchflow project: it has no rules/ directory "
                    "(create one with `touchflow init DIR`, or pass --project DIR)",
                )
            ]
        )
    path = root / CONFIG_FILE
    if not path.exists():
        return ProjectConfig(root=root)
    raw = load_yaml(path, display=CONFIG_FILE)
    if raw is None:
        return ProjectConfig(root=root)
    out = Collector(CONFIG_FILE)
    doc = out.mapping(raw, 1, what=CONFIG_FILE)
    if doc is None:
        raise ConfigError(out.problems)
    config = _read(doc, root, out)
    if out.problems:
        raise ConfigError(out.problems)
    return config


def _read(doc: LineDict, root: Path, out: Collector) -> ProjectConfig:
    out.check_keys(doc, _TOP_KEYS, where=CONFIG_FILE)
    kw: dict[str, Any] = {"root": root}
    for key in ("name", "locale"):
        if key in doc:
            kw[key] = out.text(doc[key], doc.line_of(key), what=key)
    if "timezone" in doc:
        kw["timezone"] = read_zone(doc["timezone"], doc.line_of("timezone"), out)
    if "country" in doc:
        kw["country"] = read_country(doc["country"], doc.line_of("country"), out)
    if "send_time" in doc:
        kw["send_time"] = out.parse(
            parse_time_of_day, doc["send_time"], doc.line_of("send_time"), what="send_time"
        )
    if "business_days" in doc:
        kw["business_days"] = read_weekdays(doc["business_days"], doc.line_of("business_days"), out)
    if "store" in doc:
        kw["store_path"] = Path(str(doc["store"]))
    if "sample" in doc:
        kw["sample_dir"] = root / str(doc["sample"])
    if "email" in doc:
        kw["email"] = _read_email(doc["email"], doc.line_of("email"), out)
    if "vars" in doc:
        kw["vars"] = out.mapping(doc["vars"], doc.line_of("vars"), what="vars") or {}
    if "customer_attributes" in doc:
        kw["customer_attributes"] = _read_types(
            doc["customer_attributes"],
            doc.line_of("customer_attributes"),
            out,
            what="customer_attributes",
        )
    if "events" in doc:
        kw["events"] = _read_events(doc["events"], doc.line_of("events"), out)
    if "lifecycle" in doc:
        kw["lifecycle"] = _read_lifecycle(doc["lifecycle"], doc.line_of("lifecycle"), out)
    if "policies" in doc:
        kw["policies"] = _read_policies(doc["policies"], doc.line_of("policies"), out)
    if "caps" in doc:
        kw["caps"] = _read_caps(doc["caps"], doc.line_of("caps"), out)
    if "delivery" in doc:
        kw["delivery"] = parse_delivery(doc["delivery"], doc.line_of("delivery"), out, root)
    if "daemon" in doc:
        kw["daemon"] = parse_daemon(doc["daemon"], doc.line_of("daemon"), out)
    if "http" in doc:
        kw["http"] = parse_http(doc["http"], doc.line_of("http"), out)
    return ProjectConfig(**{k: v for k, v in kw.items() if v is not None})


def read_zone(value: Any, line: int, out: Collector) -> str | None:
    if not isinstance(value, str) or not value:
        out.add(line, f"time zone must be an IANA name like Europe/Berlin, not {shown(value)}")
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(value, zoneinfo.available_timezones())
        out.add(line, f"unknown time zone {value!r}{hint}")
        return None
    return value


def read_country(value: Any, line: int, out: Collector) -> str | None:
    if isinstance(value, str) and len(value) == 2 and value.isalpha():
        return value.upper()
    out.add(line, f"country must be an ISO 3166 two-letter code like DE or US, not {shown(value)}")
    return None


_DAY_NAMES = {
    **{short: i for i, short in enumerate(WEEKDAYS)},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}


def read_weekdays(value: Any, line: int, out: Collector) -> frozenset[int] | None:
    days = out.text_list(value, line, what="days")
    result: set[int] = set()
    for i, day in enumerate(days):
        item_line = line_of(value, i, line)
        index = _DAY_NAMES.get(day.lower())
        if index is None:
            hint = did_you_mean(day.lower(), _DAY_NAMES)
            out.add(item_line, f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)}){hint}")
            continue
        result.add(index)
    return frozenset(result) if days else None


def read_window(value: Any, line: int, out: Collector) -> SendWindow | None:
    doc = out.mapping(value, line, what="send_window")
    if doc is None:
        return None
    out.check_keys(doc, ("from", "to", "days"), where="send_window", required=("from", "to"))
    start = out.parse(parse_time_of_day, doc.get("from"), doc.line_of("from"), what="from")
    end = out.parse(parse_time_of_day, doc.get("to"), doc.line_of("to"), what="to")
    days = read_weekdays(doc["days"], doc.line_of("days"), out) if "days" in doc else None
    if start is None or end is None:
        return None
    if end <= start:
        out.add(doc.line, "send_window 'to' must be later than 'from' on the same day")
        return None
    return SendWindow(start=start, end=end, days=days if days is not None else frozenset(range(7)))


def read_policies(value: Any, line: int, out: Collector, base: Policies) -> Policies:
    """Policy keys over a base (the project default for the rule's category)."""
    doc = out.mapping(value, line, what="policies")
    if doc is None:
        return base
    out.check_keys(doc, _POLICY_KEYS, where="policies")
    window = base.send_window
    if "send_window" in doc:
        raw = doc["send_window"]
        window = (
            None
            if raw in (None, "none", False)
            else read_window(raw, doc.line_of("send_window"), out)
        )
    holidays = base.holidays
    if "holidays" in doc:
        raw_h = doc["holidays"]
        if raw_h in [p.value for p in HolidayPolicy]:
            holidays = HolidayPolicy(raw_h)
        else:
            choices = ", ".join(p.value for p in HolidayPolicy)
            out.add(
                doc.line_of("holidays"), f"holidays must be one of {choices}, not {shown(raw_h)}"
            )
    flags: dict[str, bool] = {"caps": base.caps, "require_consent": base.require_consent}
    for key in flags:
        if key in doc:
            if isinstance(doc[key], bool):
                flags[key] = doc[key]
            else:
                out.add(doc.line_of(key), f"{key} must be true or false, not {shown(doc[key])}")
    return Policies(
        send_window=window,
        holidays=holidays,
        caps=flags["caps"],
        require_consent=flags["require_consent"],
    )


def _read_policies(value: Any, line: int, out: Collector) -> dict[Category, Policies] | None:
    doc = out.mapping(value, line, what="policies")
    if doc is None:
        return None
    out.check_keys(doc, [c.value for c in Category], where="policies")
    defaults = {
        Category.MARKETING: DEFAULT_MARKETING,
        Category.TRANSACTIONAL: DEFAULT_TRANSACTIONAL,
    }
    return {
        cat: read_policies(doc[cat.value], doc.line_of(cat.value), out, base)
        if cat.value in doc
        else base
        for cat, base in defaults.items()
    }


def _read_caps(value: Any, line: int, out: Collector) -> tuple[Cap, ...]:
    if not isinstance(value, list):
        out.add(line, "caps must be a list of {category, max, per}")
        return ()
    caps: list[Cap] = []
    for i, item in enumerate(value):
        doc = out.mapping(item, line_of(value, i, line), what="a cap")
        if doc is not None:
            cap = _read_cap(doc, out)
            if cap is not None:
                caps.append(cap)
    return tuple(caps)


def _read_cap(doc: LineDict, out: Collector) -> Cap | None:
    """One cap; every problem of it is reported, not just the first."""
    out.check_keys(
        doc, ("category", "max", "per"), where="a cap", required=("category", "max", "per")
    )
    cat = doc.get("category")
    ok = True
    if "category" in doc and cat not in [c.value for c in Category]:
        out.add(
            doc.line_of("category"),
            f"cap category must be marketing or transactional, not {shown(cat)}",
        )
        ok = False
    limit = doc.get("max")
    if "max" in doc and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        out.add(doc.line_of("max"), f"cap max must be a whole number ≥ 0, not {shown(limit)}")
        ok = False
    per = None
    if "per" in doc:
        per = out.parse(parse_period, doc["per"], doc.line_of("per"), what="cap per")
    if not ok or per is None or cat is None or not isinstance(limit, int):
        return None
    return Cap(category=Category(cat), max=limit, per=per)


def _read_types(value: Any, line: int, out: Collector, *, what: str) -> dict[str, FieldType]:
    doc = out.mapping(value, line, what=what)
    if doc is None:
        return {}
    types: dict[str, FieldType] = {}
    names = [t.value for t in FieldType]
    for key, raw in doc.items():
        if raw in names:
            types[key] = FieldType(raw)
        else:
            out.add(
                doc.line_of(key),
                f"{what}.{key}: unknown type {raw!r}"
                f"{did_you_mean(str(raw), names)} (types: {', '.join(names)})",
            )
    return types


def _read_events(value: Any, line: int, out: Collector) -> dict[str, dict[str, FieldType]]:
    doc = out.mapping(value, line, what="events")
    if doc is None:
        return {}
    return {
        name: _read_types(fields or LineDict(), doc.line_of(name), out, what=f"events.{name}")
        for name, fields in doc.items()
    }


def _read_lifecycle(value: Any, line: int, out: Collector) -> Lifecycle | None:
    doc = out.mapping(value, line, what="lifecycle")
    if doc is None:
        return None
    keys = ("new_days", "long_time_years", "integral_years")
    out.check_keys(doc, keys, where="lifecycle")
    values: dict[str, int] = {}
    for key in keys:
        if key in doc:
            raw = doc[key]
            if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
                values[key] = raw
            else:
                out.add(doc.line_of(key), f"lifecycle.{key} must be a whole number > 0")
    result = Lifecycle(**values)
    if result.long_time_years >= result.integral_years:
        where = doc.line_of("long_time_years") if "long_time_years" in doc else doc.line
        out.add(
            where,
            f"lifecycle.long_time_years ({result.long_time_years}) must be smaller "
            f"than integral_years ({result.integral_years})",
        )
    return result


def _read_email(value: Any, line: int, out: Collector) -> EmailSettings | None:
    doc = out.mapping(value, line, what="email")
    if doc is None:
        return None
    out.check_keys(doc, ("from", "reply_to", "domain", "unsubscribe"), where="email")
    kw: dict[str, Any] = {}
    if "from" in doc:
        kw["from_addr"] = out.text(doc["from"], doc.line_of("from"), what="email.from")
    if "reply_to" in doc:
        kw["reply_to"] = out.text(doc["reply_to"], doc.line_of("reply_to"), what="email.reply_to")
    if "domain" in doc:
        kw["domain"] = out.text(doc["domain"], doc.line_of("domain"), what="email.domain")
    elif kw.get("from_addr") and "@" in kw["from_addr"]:
        kw["domain"] = kw["from_addr"].rsplit("@", 1)[1].rstrip(">").strip()
    for key, field_name in (("from", "from_addr"), ("reply_to", "reply_to")):
        if kw.get(field_name):
            _check_address(kw[field_name], doc.line_of(key), f"email.{key}", out)
    if "unsubscribe" in doc:
        kw["unsubscribe"] = tuple(
            out.text_list(doc["unsubscribe"], doc.line_of("unsubscribe"), what="unsubscribe")
        )
        try:
            check_unsubscribe(kw["unsubscribe"])
        except (ComposeError, HeaderInjectionError) as exc:
            out.add(
                doc.line_of("unsubscribe"),
                f"email.unsubscribe: {str(exc).removeprefix('List-Unsubscribe: ')} "
                "(write a mailto: or https:// address without spaces or angle brackets)",
            )
    return EmailSettings(**{k: v for k, v in kw.items() if v is not None})


def _check_address(value: str, line: int, what: str, out: Collector) -> None:
    # The composer's own check, so validate and sending can never disagree.
    try:
        check_address(what, value)
    except (ComposeError, HeaderInjectionError):
        out.add(
            line, f'{what} must be one address like "Shop <hello@example.com>", not {shown(value)}'
        )
