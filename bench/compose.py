"""Composition: touchflow's composer vs the stdlib ``EmailMessage`` on the same messages.

    python bench/compose.py [--n 2000] [--rounds 5] [--smoke]

Builds N complete messages (From, To, Reply-To, Subject, Date, Message-ID,
List-Unsubscribe with one-click, text + HTML alternative; German and Japanese
names and subjects) with (a) ``EmailMessage(policy=SMTP)`` + ``as_bytes()``,
the stdlib baseline, and (b) ``touchflow.messages.compose.compose`` with all its checks,
interleaved round by round (the order alternates). Every touchflow message of
the last round is parsed back with ``policy.default`` and compared with what
was meant. Prints one line per figure; the target is a ratio >= 5.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, default

from touchflow.messages.compose import compose, message_id_for
from touchflow.messages.render import RenderedMessage

FROM = "Friseur Müller <hallo@lumen.example>"
REPLY_TO = "Kundenservice <hilfe@lumen.example>"
DOMAIN = "lumen.example"
UNSUBSCRIBE = ("https://lumen.example/unsubscribe?c=", "mailto:unsubscribe@lumen.example?c=")
PEOPLE = [
    ("Anna Schön", "de", "anna.schoen"),
    ("Jürgen Weiß", "de", "j.weiss"),
    ("Zoë Bäcker-Löwe", "de", "zoe"),
    ("山田 太郎", "ja", "taro.yamada"),
    ("佐藤 花子", "ja", "hanako"),
    ("Ana García", "de", "ana"),
]
SUBJECTS = {
    "de": "{name}, Ihr Termin am Dienstag, 12. Dezember um 14:30 Uhr — wir freuen uns!",
    "ja": "{name}様、12月12日(火)14:30のご予約のお知らせ",
}
TEXT = {
    "de": (
        "Hallo {name},\n\nwir möchten Sie an Ihren Termin am Dienstag, 12. Dezember 2026 "
        "um 14:30 Uhr erinnern. Bitte kommen Sie fünf Minuten früher.\n\n"
        "Falls Sie den Termin nicht wahrnehmen können, sagen Sie bitte bis Montag ab: "
        "https://lumen.example/termine/{n}\n\nHerzliche Grüße\nIhr Team von Friseur Müller\n"
    ),
    "ja": (
        "{name}様\n\n12月12日(火)14:30のご予約の確認です。\n"
        "ご来店の5分前にお越しください。\n\n"
        "ご都合が悪い場合は前日までにご連絡ください: https://lumen.example/termine/{n}\n\n"
        "Friseur Müller\n"
    ),
}
HTML = (
    '<!doctype html>\n<html lang="{lang}"><body style="font-family: sans-serif">\n'
    "<h1>{subject}</h1>\n<p>{body}</p>\n"
    '<p><a href="https://lumen.example/termine/{n}">Termin ansehen</a></p>\n'
    '<p style="font-size: small">Friseur Müller · Hauptstraße 1 · 1010 Wien</p>\n'
    "</body></html>\n"
)


@dataclass(frozen=True, slots=True)
class Input:
    key: str
    to: str
    rendered: RenderedMessage
    unsubscribe: tuple[str, ...]
    date: datetime


def inputs(n: int, round_no: int) -> list[Input]:
    """N distinct messages; each round gets new recipients, as a real run would."""
    made = []
    start = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
    for i in range(n):
        name, lang, local = PEOPLE[i % len(PEOPLE)]
        subject = SUBJECTS[lang].format(name=name)
        text = TEXT[lang].format(name=name, n=i)
        html = HTML.format(lang=lang, subject=subject, body=text.replace("\n", "<br>\n"), n=i)
        made.append(
            Input(
                key=f"appointment-reminder:c-{round_no}-{i}:a-{i}:-1d",
                to=f"{name} <{local}+{round_no}.{i}@example.org>",
                rendered=RenderedMessage(subject=subject, text=text, html=html, locale=lang),
                unsubscribe=(UNSUBSCRIBE[0] + str(i), UNSUBSCRIBE[1] + str(i)),
                date=start + timedelta(seconds=i),
            )
        )
    return made


def stdlib(item: Input) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = FROM
    msg["To"] = item.to
    msg["Reply-To"] = REPLY_TO
    msg["Subject"] = item.rendered.subject
    msg["Date"] = item.date
    msg["Message-ID"] = message_id_for(item.key, DOMAIN)
    msg["List-Unsubscribe"] = ", ".join(f"<{u}>" for u in item.unsubscribe)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(item.rendered.text)
    assert item.rendered.html is not None
    msg.add_alternative(item.rendered.html, subtype="html")
    return msg.as_bytes()


def touchflow(item: Input) -> bytes:
    return compose(
        rendered=item.rendered,
        key=item.key,
        from_addr=FROM,
        to_addr=item.to,
        reply_to=REPLY_TO,
        date=item.date,
        domain=DOMAIN,
        list_unsubscribe=item.unsubscribe,
        one_click=True,
    ).data


def timed(build: object, items: list[Input]) -> tuple[float, list[bytes]]:
    assert callable(build)
    started = time.perf_counter()
    out = [build(item) for item in items]
    return len(items) / (time.perf_counter() - started), out


def problems(item: Input, data: bytes) -> list[str]:
    """What does not read back as meant (policy.default), or is not clean on the wire."""
    found = []
    msg = message_from_bytes(data, policy=default)
    assert isinstance(msg, EmailMessage)
    want = {
        "From": FROM,
        "To": item.to,
        "Reply-To": REPLY_TO,
        "Subject": item.rendered.subject,
        "Message-ID": message_id_for(item.key, DOMAIN),
        "List-Unsubscribe": ", ".join(f"<{u}>" for u in item.unsubscribe),
    }
    found += [f"{k}: {msg[k]!r}" for k, v in want.items() if msg[k] != v]
    if msg["Date"].datetime != item.date:
        found.append(f"Date: {msg['Date']!r}")
    parts = [(p.get_content_type(), p.get_content()) for p in msg.iter_parts()]
    texts = (item.rendered.text, item.rendered.html or "")
    meant = [
        (f"text/{t}", s.replace("\n", "\r\n"))
        for t, s in zip(("plain", "html"), texts, strict=True)
    ]
    if parts != meant:
        found.append("body parts differ")
    lines = data.split(b"\r\n")
    if b"\n" in data.replace(b"\r\n", b"") or not data.isascii() or max(map(len, lines)) > 998:
        found.append("not CRLF-only 7-bit with lines <= 998")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.rounds = 20, 1
    rates: dict[str, list[float]] = {"stdlib": [], "touchflow": []}
    builders = {"stdlib": stdlib, "touchflow": touchflow}
    items: list[Input] = []
    built: list[bytes] = []
    for round_no in range(args.rounds):
        items = inputs(args.n, round_no)
        order = ["stdlib", "touchflow"] if round_no % 2 == 0 else ["touchflow", "stdlib"]
        for name in order:
            rate, out = timed(builders[name], items)
            rates[name].append(rate)
            if name == "touchflow":
                built = out
    bad = [
        (item.key, p) for item, data in zip(items, built, strict=True) for p in problems(item, data)
    ]
    print(f"compose.messages {args.n}")
    print(f"compose.rounds {args.rounds}")
    for name, values in rates.items():
        print(f"compose.{name}_msgs_per_s {statistics.median(values):.0f}")
        print(f"compose.{name}_min_max {min(values):.0f} {max(values):.0f}")
    ratio = statistics.median(rates["touchflow"]) / statistics.median(rates["stdlib"])
    print(f"compose.ratio {ratio:.1f}")
    print(f"compose.touchflow_avg_bytes {sum(map(len, built)) // max(1, len(built))}")
    print(f"compose.parse_back_ok {len(built) - len({key for key, _ in bad})}/{len(built)}")
    for key, problem in bad[:10]:
        print(f"{key}: {problem}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
