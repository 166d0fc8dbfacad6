"""Which files of a template each channel needs, checked at the rule that uses it.

A template may hold an email (subject.txt and body.txt, optionally body.html), a text
(sms.txt), a webhook's fields (webhook.json.j2), or several; the rule's channel decides
which it must have (a webhook: the e-mail parts or webhook.json.j2), so the problem is
reported at the rule's line: ``rule 'reminder' sends by sms, but template
'appointment_reminder' has no sms.txt``. A rule with a fallback list of channels
(``channels: [sms, email]``) needs every one of them. The files must be in the
template's own directory: a locale variant only overrides them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from touchflow.messages.render import TemplateSet
from touchflow.messages.template_files import PART_FILES, Part

# What each channel needs: any one of its sets of parts. A webhook's document carries the
# rendered subject and text (and HTML when there is one), or the fields of webhook.json.j2.
CHANNEL_PARTS: Mapping[str, tuple[tuple[Part, ...], ...]] = {
    "email": (("subject", "text"),),
    "webhook": (("subject", "text"), ("webhook",)),
    "sms": (("sms",),),
}
_FILE_OF: Mapping[Part, str] = {part: name for name, part in PART_FILES.items()}


def missing_files(templates: TemplateSet, name: str, channels: Iterable[str]) -> list[str]:
    """For each of ``channels`` that template ``name`` cannot serve, what it lacks, e.g.
    ``"sms needs sms.txt"``; empty when it serves them all (or does not exist)."""
    if not templates.has(name):
        return []
    present = templates.parts(name)
    found = []
    for channel in dict.fromkeys(channels):
        options = CHANNEL_PARTS.get(channel, ())
        if options and not any(present.issuperset(parts) for parts in options):
            needs = ", or ".join(" and ".join(_FILE_OF[p] for p in parts) for parts in options)
            found.append(f"{channel} needs {needs}")
    return found


def missing_message(rule_id: str, template: str, root: str, missing: list[str]) -> str:
    """The problem reported at the rule, from ``missing_files``' answer."""
    return (
        f"rule {rule_id!r} uses template {template!r}, which cannot be sent on its "
        f"channel: {'; '.join(missing)} in {root}/{template}/"
    )
