"""What `touchflow validate` reports about a webhook rule's ``webhook.json.j2``: each one
(and each locale's), rendered with the sample values SMS texts are measured with
(``touchflow.messages.sms_check.specimen``), must give a JSON object; one that does not
is a problem at the file (``touchflow.messages.webhook_fields`` says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from touchflow.errors import Problem, RenderError
from touchflow.messages.render import TemplateSet
from touchflow.messages.webhook_fields import FIELDS_PARTS, FieldsError


def fields_problems(templates: TemplateSet, name: str, context: Mapping[str, Any]) -> list[Problem]:
    """A problem for each webhook.json.j2 of template ``name`` (and its locales) that,
    rendered with ``context`` (sample values), gives no JSON object. A file the sample
    values cannot render is not judged (its output is not guessed)."""
    found: list[Problem] = []
    for source in templates.sources(name):
        if source.part != "webhook":
            continue
        try:
            templates.render(
                name,
                locale=source.locale or templates.default_locale,
                timezone="UTC",
                context=context,
                parts=FIELDS_PARTS,
            )
        except FieldsError as exc:
            message = f"template {name!r} (rendered with sample values): {exc.reason}"
            found.append(Problem(path=exc.path or source.display_path, line=None, message=message))
        except RenderError:
            continue
    return found
