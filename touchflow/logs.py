"""Log lines for people (text) or machines (``--log-format json``).

Every outbox state change is one line carrying the key, rule, customer,
states and reason as fields (``extra={"tf": {...}}``). Nothing here formats a
secret: channel details are secret-free by contract.

A record is one line whatever the data holds: the text log shows line breaks and
other controls in the message and the fields as escapes (``touchflow.ids.one_line``),
quotes a field value that could pass for more fields, and indents a traceback's
lines, so every line that starts with a time was written by touchflow. The JSON log
escapes what JSON leaves as it is (U+2028, U+2029, NEL and the other C1 controls,
lone surrogates).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from touchflow.ids import one_line
from touchflow.models import Transition

LOGGER = "touchflow"
log = logging.getLogger(LOGGER)
# The free-text detail (a server's reply) comes last, so it cannot pose as another field.
_FIELDS_SHOWN = ("key", "rule", "customer", "reason", "detail")
# A value holding these could read as two fields ("c1 reason=x") or end the brackets.
_AMBIGUOUS = re.compile(r'[\s="\[\]]')
# What JSON leaves unescaped but some readers take for a line end or a control, and
# half a surrogate pair, which could not even be written as UTF-8.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# The daemon's instance id (``touchflow.send.instance``): a field of every JSON record,
# so the lines of several daemons gathered in one place say whose each one is.
_instance: dict[str, str] = {}


def set_instance(instance: str) -> None:
    _instance["instance"] = instance


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{when} {record.levelname:<7} {one_line(record.getMessage())}"
        fields: dict[str, Any] = getattr(record, "tf", {})
        extra = " ".join(f"{k}={_field(k, fields[k])}" for k in _FIELDS_SHOWN if fields.get(k))
        if extra:
            line += f"  [{extra}]"
        if record.exc_info:
            line += _indented(self.formatException(record.exc_info))
        if record.stack_info:
            line += _indented(self.formatStack(record.stack_info))
        return line


def _field(name: str, value: Any) -> str:
    text = one_line(str(value))
    if name != "detail" and _AMBIGUOUS.search(text):
        return one_line(json.dumps(str(value), ensure_ascii=False))
    return text


def _indented(text: str) -> str:
    """A traceback's lines, each escaped and indented: none can pass for a record."""
    return "".join(f"\n    {one_line(part)}" for part in text.split("\n"))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            **_instance,
            **getattr(record, "tf", {}),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        line = json.dumps(doc, ensure_ascii=False, default=str)
        # These can only stand inside a JSON string, where an escape means the same.
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def setup(fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.setLevel(level.upper())
    root = logging.getLogger(LOGGER)
    root.handlers[:] = [handler]
    # The handler filters by --log-level. The logger does too until an observer (the
    # metrics) needs INFO lines: then `observe` lowers it, and the handler still filters.
    root.setLevel(handler.level)
    root.propagate = False
    # APScheduler's and uvicorn's own lines go through the same handler, quieter.
    for name in ("apscheduler", "uvicorn"):
        other = logging.getLogger(name)
        other.handlers[:] = [handler]
        other.setLevel(max(logging.WARNING, handler.level))
        other.propagate = False


def observe(handler: logging.Handler) -> int:
    """Let ``handler`` see every INFO line (the metrics count state changes from them),
    whatever ``--log-level`` prints. Returns the logger's level before, for ``unobserve``."""
    before = log.level
    if not log.isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)
    log.addHandler(handler)
    return before


def unobserve(handler: logging.Handler, level: int) -> None:
    log.removeHandler(handler)
    log.setLevel(level)


def transition(t: Transition) -> None:
    """One line per state change: ``KEY pending → sent``."""
    row = t.row
    level = logging.INFO
    if row.state.value == "failed":
        level = logging.ERROR
    elif row.state.value == "retry" or (row.state.value == "expired" and t.old is not None):
        # A new row that is already expired is one of maybe thousands after downtime:
        # the plan's one summary line warns for them all (touchflow.send.replan).
        level = logging.WARNING
    if not log.isEnabledFor(level):
        return  # one per message at full speed: skip building what nobody reads
    old = t.old.value if t.old else "new"
    fields = {
        "event": "state",
        "key": row.key,
        "rule": row.rule_id,
        "customer": row.customer_id,
        "channel": row.channel,
        "from": old,
        "to": row.state.value,
        "reason": row.reason,
        "detail": row.last_error,
        "attempts": row.attempts,
        "due_at": row.due_at.isoformat(),
    }
    log.log(level, "%s %s → %s", row.key, old, row.state.value, extra={"tf": fields})
