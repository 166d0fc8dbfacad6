"""Open the channels ``delivery:`` configures: email (a Maildir by default, SMTP when set
up) and, with ``delivery.webhook`` and ``delivery.sms``, the webhook and SMS, behind one
router."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from touchflow.channels import Channel
from touchflow.channels.maildir import MaildirChannel
from touchflow.channels.router import Router
from touchflow.config.delivery import ChannelConfigError, ChannelKind, DeliverySettings
from touchflow.config.sms import SmsProviderKind, SmsSettings


def open_channel(settings: DeliverySettings, *, root: Path, environ: Mapping[str, str]) -> Channel:
    """The configured channels as one router; raises ``ChannelConfigError`` (a
    ``UserError``) if they cannot be opened.

    A router even without a webhook: a reload may bring webhook rules the running daemon
    has no channel for, and those must wait for a restart, not go out as email.
    ``environ`` is passed in (usually ``os.environ``) so the only place secrets
    come from stays visible, and tests can give a fake one.
    """
    email = open_email_channel(settings, root=root, environ=environ)
    channels: dict[str, Channel] = {"email": email}
    # Nothing of the email channel is open yet if these raise: SMTP connects on first send.
    if settings.sms is not None:
        channels["sms"] = open_sms_channel(settings.sms, root=root, environ=environ)
    if settings.webhook is not None:
        # Imported here: httpx is about as heavy as aiosmtplib, for projects that post.
        from touchflow.channels.webhook import WebhookChannel

        # An httpx client holds no connection before its first request: nothing to close.
        channels["webhook"] = WebhookChannel(settings.webhook, environ=environ)
    return Router(channels)


def open_sms_channel(settings: SmsSettings, *, root: Path, environ: Mapping[str, str]) -> Channel:
    """The SMS channel over the provider ``delivery.sms`` names."""
    from touchflow.channels.sms import SmsChannel

    if settings.provider is SmsProviderKind.FOLDER:
        from touchflow.channels.sms_folder import FolderProvider

        folder = settings.folder or Path(".touchflow/sms")
        return SmsChannel(FolderProvider(folder if folder.is_absolute() else root / folder))
    if settings.twilio is None:
        # read_sms reports this; a hand-built SmsSettings may still do it.
        raise ChannelConfigError("delivery.sms.provider is twilio but no Twilio settings are set")
    # Imported here: httpx is about as heavy as aiosmtplib, for projects that text.
    from touchflow.channels.sms_twilio import TwilioProvider

    return SmsChannel(TwilioProvider(settings.twilio, environ=environ))


def open_email_channel(
    settings: DeliverySettings, *, root: Path, environ: Mapping[str, str]
) -> Channel:
    """The channel email goes through: SMTP when configured, else the local Maildir."""
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
