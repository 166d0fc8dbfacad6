"""The project: a directory with rules/, message_templates/ and an optional touchflow.yaml."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from touchflow.checks import Collector, did_you_mean
from touchflow.config.caps import Cap, parse_caps
from touchflow.config.daemon import DaemonSettings, parse_daemon
from touchflow.config.delivery import DeliverySettings, parse_delivery
from touchflow.config.email import EmailSettings, parse_email
from touchflow.config.fields import parse_customer_attributes, parse_event_types
from touchflow.config.http import HttpSettings, parse_http
from touchflow.config.lifecycle import Lifecycle, parse_lifecycle
from touchflow.config.policies import (
    DEFAULT_MARKETING,
    DEFAULT_TRANSACTIONAL,
    Policies,
    parse_policies,
    read_weekdays,
)
from touchflow.config.store import StoreLocation, location_in_environment, read_store
from touchflow.durations import parse_time_of_day
from touchflow.errors import ConfigError, Problem, shown
from touchflow.models import Category, FieldType
from touchflow.yamlload import LineDict, load_yaml

CONFIG_FILE = "touchflow.yaml"


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
    store_url: str | None = None  # `store: postgresql://...`: wins over store_path
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
        """The SQLite file ``store:`` names (or would: see ``store_location``)."""
        return self.store_path if self.store_path.is_absolute() else self.root / self.store_path

    def store_location(self, environ: Mapping[str, str] = os.environ) -> StoreLocation:
        """Where the store is: ``TOUCHFLOW_STORE_URL`` if set, else ``store:`` (a SQLite
        file or a PostgreSQL URL), else the default file. Read when asked: the
        environment of the process that opens the store counts."""
        found = location_in_environment(environ, self.root)
        if found is not None:
            return found
        return self.store_url if self.store_url is not None else self.store_file()

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
        where = out.parse(read_store, doc["store"], doc.line_of("store"), what="store")
        if isinstance(where, str):
            kw["store_url"] = where
        elif where is not None:
            kw["store_path"] = where
    if "sample" in doc:
        kw["sample_dir"] = root / str(doc["sample"])
    for key, read in _section_readers(root).items():
        if key in doc:
            kw[key] = read(doc[key], doc.line_of(key), out)
    return ProjectConfig(**{k: v for k, v in kw.items() if v is not None})


def _section_readers(root: Path) -> dict[str, Callable[[Any, int, Collector], Any]]:
    """The reader of each section of touchflow.yaml, in the order their problems are
    reported; each fills the ProjectConfig field of its name (None: the default)."""
    return {
        "email": parse_email,
        "vars": _read_vars,
        "customer_attributes": parse_customer_attributes,
        "events": parse_event_types,
        "lifecycle": parse_lifecycle,
        "policies": parse_policies,
        "caps": parse_caps,
        "delivery": lambda value, line, out: parse_delivery(value, line, out, root),
        "daemon": parse_daemon,
        "http": parse_http,
    }


def _read_vars(value: Any, line: int, out: Collector) -> Mapping[str, Any]:
    return out.mapping(value, line, what="vars") or {}


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
