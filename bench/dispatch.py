"""Dispatch end to end: `touchflow run --once` vs a raw aiosmtplib loop vs Postfix's smtp-source.

    python bench/dispatch.py [--n 20000] [--rounds 5] [--connections 4] [--smoke]

All send to one Postfix `smtp-sink` on 127.0.0.1 (Debian package `postfix`), in
the same run, interleaved round by round:

- touchflow: a project with N due touchpoints (one immediate answer per
  customer, text + HTML), `touchflow run --once` as a subprocess, at the
  daemon's default log level (`touchflow`) and at `--log-level error`
  (`touchflow_quiet`); its outbox is checked afterwards (every row `sent`).
  Timed whole (start-up, planning the N new events, sending) and, from the
  outbox's `sent_at`, its sending phase (`_sending`);
- raw: aiosmtplib sending N pre-built messages of the same size over the same
  number of connections (what a user's hand-written sender does);
- smtp_source: Postfix's C client with `-d` (connections kept open, as touchflow's
  are): the physical limit of this machine; `smtp_source_new_conn` without `-d`,
  a new connection per message, for comparison with older figures.

Prints one line per figure: medians (msgs/s), min-max and the ratios, and the CPU
each used per message: touchflow's daemon process and its worker process
separately, which other load on the machine changes far less than the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib

from touchflow.models import Customer, Event
from touchflow.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)
RULES = """\
- id: ack
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  send: immediately
  action: {template: ack}
"""
TEMPLATES = {
    "ack/subject.txt": "We received your question: {{ event.data.subject }}",
    "ack/body.txt": (
        "Hello {{ customer.first_name }},\n\nthank you for your question "
        '"{{ event.data.subject }}" (reference {{ event.data.inquiry_id }}).\n'
        "We will answer within one business day.\n\n{{ vars.shop }}\n"
    ),
    "ack/body.html": (
        "<p>Hello {{ customer.first_name }},</p><p>thank you for your question "
        "<em>{{ event.data.subject }}</em> (reference {{ event.data.inquiry_id }}).</p>"
        "<p>We will answer within one business day.</p><p>{{ vars.shop }}</p>\n"
    ),
}


def config(port: int, connections: int) -> str:
    return f"""\
timezone: UTC
email: {{from: "Bench Shop <shop@bench.example>"}}
vars: {{shop: Bench Shop}}
events:
  inquiry_received: {{inquiry_id: string, subject: string}}
delivery:
  smtp: {{host: 127.0.0.1, port: {port}, tls: none, connections: {connections}}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_sink(port: int) -> subprocess.Popen[bytes]:
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    proc = subprocess.Popen(
        [sink, "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("smtp-sink did not start (apt-get install postfix)")


async def fill(project: Path, n: int) -> None:
    async with await SqliteStore.open(project / ".touchflow" / "store.sqlite3") as store:
        await store.upsert_customers(
            [
                Customer(id=f"c{i}", email=f"c{i}@bench.example", first_name="Jürgen")
                for i in range(n)
            ]
        )
        at = NOW - timedelta(minutes=1)
        await store.add_events(
            [
                Event(
                    id=f"q{i}",
                    type="inquiry_received",
                    customer_id=f"c{i}",
                    at=at,
                    data={"inquiry_id": f"q-{i}", "subject": "Gift cards?"},
                )
                for i in range(n)
            ]
        )


def make_project(root: Path, port: int, n: int, connections: int) -> Path:
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "rules.yaml").write_text(RULES)
    for name, text in TEMPLATES.items():
        (root / "message_templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "message_templates" / name).write_text(text)
    (root / "touchflow.yaml").write_text(config(port, connections))
    asyncio.run(fill(root, n))
    return root


# `python -m touchflow`, writing at exit the CPU seconds of its own process and of the
# processes it waited for (its worker) to the file named by its first argument.
_MEASURED = """\
import atexit, resource, sys
out = sys.argv.pop(1)
def report():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        f.write(f"{own.ru_utime + own.ru_stime} {kids.ru_utime + kids.ru_stime}")
atexit.register(report)
sys.argv[0] = "touchflow"
from touchflow.cli.main import main
main()
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One `touchflow run --once`: seconds whole and sending, CPU seconds per process."""

    seconds: float
    sending: float
    daemon_cpu: float
    worker_cpu: float


def run_touchflow(template: Path, work: Path, *, level: str) -> Run:
    """One run on a fresh copy of the project, at ``level``; every row must end sent."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work)
    cpu_file = work / "cpu.txt"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable, "-c", _MEASURED, str(cpu_file), "run", "--once",
            "--log-level", level, "--now", NOW.isoformat(),
        ],
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    daemon_cpu, worker_cpu = map(float, cpu_file.read_text().split())
    with sqlite3.connect(work / ".touchflow" / "store.sqlite3") as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
        first, last = db.execute("SELECT MIN(sent_at), MAX(sent_at) FROM outbox").fetchone()
    if set(states) != {"sent"}:
        raise SystemExit(f"touchflow left rows unsent: {states}")
    sending = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return Run(
        seconds=seconds, sending=max(sending, 1e-6), daemon_cpu=daemon_cpu, worker_cpu=worker_cpu
    )


def prebuilt(n: int, size: int) -> list[bytes]:
    body = ("x" * 70 + "\r\n") * max(1, size // 72)
    return [
        (
            f"From: shop@bench.example\r\nTo: c{i}@bench.example\r\nSubject: Hello {i}\r\n"
            f"Message-ID: <{i}@bench.example>\r\n\r\n{body}"
        ).encode()
        for i in range(n)
    ]


def raw_round(port: int, messages: list[bytes], connections: int) -> tuple[float, float]:
    """Seconds and CPU seconds of one raw loop (it runs in this process)."""
    cpu = time.process_time()
    seconds = asyncio.run(raw_loop(port, messages, connections))
    return seconds, time.process_time() - cpu


async def raw_loop(port: int, messages: list[bytes], connections: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for message in messages:
        queue.put_nowait(message)

    async def worker() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        while not queue.empty():
            data = queue.get_nowait()
            await smtp.sendmail("shop@bench.example", ["c@bench.example"], data)
        await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - started


def smtp_source(port: int, n: int, size: int, sessions: int, *, keep: bool) -> float:
    """Seconds Postfix's client takes; ``keep``: connections kept open (``-d``)."""
    source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    started = time.perf_counter()
    subprocess.run(
        [
            source, *(["-d"] if keep else []), "-s", str(sessions), "-m", str(n),
            "-l", str(size), "-c", "-f", "shop@bench.example", "-t", "c@bench.example",
            f"127.0.0.1:{port}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.rounds = 50, 1
    port = free_port()
    sink = start_sink(port)
    times: dict[str, list[float]] = {name: [] for name in _RATES}
    cpu: dict[str, list[float]] = {name: [] for name in _CPU}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            template = make_project(Path(tmp) / "template", port, args.n, args.connections)
            size = 1800  # about the size of touchflow's text + HTML message
            messages = prebuilt(args.n, size)
            for _ in range(args.rounds):
                for name, level in (("touchflow", "info"), ("touchflow_quiet", "error")):
                    run = run_touchflow(template, Path(tmp) / "work", level=level)
                    times[name].append(run.seconds)
                    times[f"{name}_sending"].append(run.sending)
                    cpu[f"{name}_daemon"].append(run.daemon_cpu)
                    cpu[f"{name}_worker"].append(run.worker_cpu)
                seconds, used = raw_round(port, messages, args.connections)
                times["raw"].append(seconds)
                cpu["raw"].append(used)
                for name, keep in (("smtp_source", True), ("smtp_source_new_conn", False)):
                    times[name].append(smtp_source(port, args.n, size, args.connections, keep=keep))
    finally:
        sink.terminate()
        sink.wait()
    report(args.n, times)
    report_cpu(args.n, cpu)


_RATES = (
    "touchflow", "touchflow_sending", "touchflow_quiet", "touchflow_quiet_sending",
    "raw", "smtp_source", "smtp_source_new_conn",
)  # fmt: skip
_CPU = (
    "touchflow_daemon", "touchflow_worker", "touchflow_quiet_daemon", "touchflow_quiet_worker",
    "raw",
)  # fmt: skip


def report(n: int, times: dict[str, list[float]]) -> None:
    """touchflow runs at the daemon's default log level (info) unless named ``_quiet``
    (``--log-level error``); ``smtp_source`` keeps its connections open (``-d``)."""
    rate = {name: [n / t for t in ts] for name, ts in times.items()}
    med = {name: statistics.median(r) for name, r in rate.items()}
    print(f"dispatch.messages {n}")
    for name, values in rate.items():
        print(f"dispatch.{name}_msgs_per_s {med[name]:.0f}")
        print(f"dispatch.{name}_min_max {min(values):.0f} {max(values):.0f}")
    for name in ("touchflow", "touchflow_quiet"):
        # The whole run, and the run minus its start-up (loading, planning the new
        # events): from the first message recorded sent to the last.
        for phase in (name, f"{name}_sending"):
            print(f"dispatch.ratio_{phase}_to_raw {med[phase] / med['raw']:.2f}")
            print(f"dispatch.ratio_{phase}_to_smtp_source {med[phase] / med['smtp_source']:.2f}")
    print(f"dispatch.ratio_raw_to_smtp_source {med['raw'] / med['smtp_source']:.2f}")
    print(
        "dispatch.ratio_smtp_source_new_conn_to_smtp_source "
        f"{med['smtp_source_new_conn'] / med['smtp_source']:.2f}"
    )


def report_cpu(n: int, cpu: dict[str, list[float]]) -> None:
    """CPU per message, per process: what the run costs whatever else the machine does."""
    per = {name: statistics.median(values) / n * 1e6 for name, values in cpu.items()}
    for name, value in per.items():
        print(f"dispatch.{name}_cpu_us_per_msg {value:.0f}")
    for name in ("touchflow", "touchflow_quiet"):
        total = per[f"{name}_daemon"] + per[f"{name}_worker"]
        print(f"dispatch.{name}_cpu_us_per_msg {total:.0f}")
        print(f"dispatch.ratio_cpu_{name}_to_raw {total / per['raw']:.2f}")


if __name__ == "__main__":
    main()
