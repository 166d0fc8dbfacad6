"""The ``email:`` section of touchflow.yaml: sender, reply-to, Message-ID domain, unsubscribe,
and the postal address marketing messages show in their footer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from touchflow.checks import Collector
from touchflow.errors import HeaderInjectionError, shown
from touchflow.headers import ComposeError, check_address, check_unsubscribe


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings:
    from_addr: str = "touchflow <touchflow@localhost>"
    reply_to: str | None = None
    domain: str = "localhost"  # right side of Message-IDs
    unsubscribe: tuple[str, ...] = ()  # mailto:/https: URIs for List-Unsubscribe
    # The business's postal address (CAN-SPAM asks marketing mail to show one): lines
    # joined with ", "; templates see it as message.postal_address.
    postal_address: str | None = None


_MAX_POSTAL = 300  # characters: an address, not a letter


def parse_email(value: Any, line: int, out: Collector) -> EmailSettings | None:
    doc = out.mapping(value, line, what="email")
    if doc is None:
        return None
    out.check_keys(
        doc, ("from", "reply_to", "domain", "unsubscribe", "postal_address"), where="email"
    )
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
    if "postal_address" in doc:
        kw["postal_address"] = _postal_address(
            doc["postal_address"], doc.line_of("postal_address"), out
        )
    return EmailSettings(**{k: v for k, v in kw.items() if v is not None})


def _postal_address(value: Any, line: int, out: Collector) -> str | None:
    """One line of text, or a list of lines, joined with ", " (a footer shows it on one line)."""
    lines = value.splitlines() if isinstance(value, str) else value
    before = len(out.problems)
    parts = [p for p in out.text_list(lines, line, what="email.postal_address") if p]
    if len(out.problems) > before:
        return None
    text = ", ".join(parts)
    if not text or len(text) > _MAX_POSTAL or not text.isprintable():
        problem = "is empty" if not text else f"must be printable text of at most {_MAX_POSTAL}"
        example = '"Lumen Studio, Lindenstraße 1, 10115 Berlin, Germany"'
        out.add(line, f"email.postal_address {problem}; write the address, e.g. {example}")
        return None
    return text


def _check_address(value: str, line: int, what: str, out: Collector) -> None:
    # The composer's own check, so validate and sending can never disagree.
    try:
        check_address(what, value)
    except (ComposeError, HeaderInjectionError):
        out.add(
            line, f'{what} must be one address like "Shop <hello@example.com>", not {shown(value)}'
        )
