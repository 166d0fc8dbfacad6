"""MaildirChannel: standard tmp/ → new/ delivery, one file per Message-ID."""

from __future__ import annotations

import stat
from pathlib import Path

from touchflow.channels import Envelope, Outcome
from touchflow.channels.maildir import MaildirChannel, file_name_for


def envelope(message_id: str = "<0001@lumen.example>", body: str = "See you.") -> Envelope:
    data = f"Message-ID: {message_id}\r\nSubject: Reminder\r\n\r\n{body}\r\n".encode()
    return Envelope(
        key="reminder:c1",
        sender="hello@lumen.example",
        recipient="ana@example.org",
        data=data,
        message_id=message_id,
    )


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_first_send_creates_the_maildir_and_writes_the_message_into_new(
    tmp_path: Path,
) -> None:
    maildir = tmp_path / "mail" / "outbox"
    channel = MaildirChannel(maildir)
    sent = envelope()

    delivery = await channel.send(sent)

    target = maildir / "new" / file_name_for(sent.message_id)
    assert delivery.outcome is Outcome.SENT
    assert delivery.detail == f"written to {target}"
    assert target.read_bytes() == sent.data
    assert files(maildir) == ["cur", "new", "tmp"]
    assert files(maildir / "tmp") == []  # moved, not copied
    assert files(maildir / "cur") == []


async def test_the_same_message_delivered_twice_is_one_file(tmp_path: Path) -> None:
    channel = MaildirChannel(tmp_path)
    await channel.send(envelope(body="first attempt"))
    second = envelope(body="second attempt")

    delivery = await channel.send(second)

    assert delivery.outcome is Outcome.SENT
    assert files(tmp_path / "new") == [file_name_for(second.message_id)]
    assert (tmp_path / "new" / file_name_for(second.message_id)).read_bytes() == second.data


async def test_different_messages_are_different_files(tmp_path: Path) -> None:
    channel = MaildirChannel(tmp_path)
    for n in range(3):
        await channel.send(envelope(message_id=f"<{n}@lumen.example>"))

    assert len(files(tmp_path / "new")) == 3


def test_file_names_are_stable_and_safe_for_any_message_id() -> None:
    name = file_name_for("<a/b:c@lumen.example>")
    assert name == file_name_for("<a/b:c@lumen.example>")
    assert name != file_name_for("<a/b:d@lumen.example>")
    assert name.endswith(".touchflow") and "/" not in name and ":" not in name


async def test_messages_are_readable_only_by_their_owner(tmp_path: Path) -> None:
    channel = MaildirChannel(tmp_path)
    sent = envelope()
    await channel.send(sent)

    mode = (tmp_path / "new" / file_name_for(sent.message_id)).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    for sub in ("tmp", "new", "cur"):
        assert stat.S_IMODE((tmp_path / sub).stat().st_mode) == 0o700


async def test_a_maildir_that_cannot_be_created_is_a_retry_with_an_alert(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the maildir should be")
    channel = MaildirChannel(blocker / "maildir")

    delivery = await channel.send(envelope())

    assert (delivery.outcome, delivery.alert) == (Outcome.RETRY, True)
    assert delivery.detail.startswith(f"could not write into the maildir {blocker / 'maildir'}: ")
    assert "Not a directory" in delivery.detail


async def test_a_failed_rename_leaves_nothing_in_tmp(tmp_path: Path) -> None:
    sent = envelope()
    # A directory where the message file should go: the rename into new/ fails.
    (tmp_path / "new" / file_name_for(sent.message_id) / "x").mkdir(parents=True)
    channel = MaildirChannel(tmp_path)

    delivery = await channel.send(sent)

    assert (delivery.outcome, delivery.alert) == (Outcome.RETRY, True)
    assert files(tmp_path / "tmp") == []


async def test_a_removed_maildir_is_created_again(tmp_path: Path) -> None:
    maildir = tmp_path / "maildir"
    channel = MaildirChannel(maildir)
    await channel.send(envelope(message_id="<1@lumen.example>"))
    for sub in ("tmp", "new", "cur"):
        for file in (maildir / sub).iterdir():
            file.unlink()
        (maildir / sub).rmdir()

    delivery = await channel.send(envelope(message_id="<2@lumen.example>"))

    assert delivery.outcome is Outcome.SENT


async def test_channel_names_its_directory(tmp_path: Path) -> None:
    channel = MaildirChannel(tmp_path)
    assert channel.name == f"maildir {tmp_path}"
    assert channel.concurrency >= 1
    await channel.aclose()
