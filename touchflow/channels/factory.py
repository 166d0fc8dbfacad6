"""Open the channel ``delivery:`` configures: a Maildir by default, SMTP when set up."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from touchflow.channels import Channel
from touchflow.channels.maildir import MaildirChannel
from touchflow.config.delivery import ChannelConfigError, ChannelKind, DeliverySettings


def open_channel(settings: DeliverySettings, *, root: Path, environ: Mapping[str, str]) -> Channel:
    """The configured channel; raises ``ChannelConfigError`` (a ``UserError``) if it cannot be.

    ``environ`` is passed in (usually ``os.environ``) so the only place secrets
    come from stays visible, and tests can give a fake one.
    """
    if settings.channel is ChannelKind.SMTP:
        if settings.smtp is None:
            # parse_delivery reports this; a hand-built DeliverySettings may still do it.
            raise ChannelConfigError("delivery.channel is smtp but delivery.smtp is not set")
        # Imported here: aiosmtplib and ssl are about 15 ms a start that delivers to a Maildir
        # never needs (tests/acceptance/test_startup_imports.py).
        from touchflow.channels.smtp import SmtpChannel

        return SmtpChannel(settings.smtp, environ=environ)
    path = settings.maildir if settings.maildir.is_absolute() else root / settings.maildir
    return MaildirChannel(path)
