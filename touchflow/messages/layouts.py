"""Layouts: the files of ``message_templates/_layouts/`` that message files extend.

A layout is a Jinja template with blocks; a message file starts with
``{% extends "base.html" %}`` and fills the blocks (``{% block content %}``)::

    message_templates/
      _layouts/             not a template: no rule can name it (``_`` starts no template name)
        base.html           what {% extends "base.html" %} finds
        base.txt
        de/base.html        what a file in a de/ variant finds first

A file names a layout by its file name alone. The layout is looked up in the locale
the file is written in, then along the same fallback as message files
(``de_AT/`` → ``de/`` → ``_layouts/`` itself), so a German body gets a German footer
where one is written. Which layout a file gets is decided here, at load and at
render alike (``join_path``), so the check and the message cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import jinja2

from touchflow.messages.locales import locale_candidates

LAYOUTS_DIR = "_layouts"
LAYOUT_FILE = re.compile(r"[a-z0-9_-]+\.(?:html|txt)")


class Layouts(jinja2.BaseLoader):
    """The layouts of one ``message_templates/`` directory, found by the file that extends."""

    def __init__(self, display_root: str) -> None:
        self.prefix = f"{display_root}/{LAYOUTS_DIR}"
        self._files: dict[str, tuple[str, str]] = {}  # shown path -> (text, file name)
        self._locales: dict[str, str | None] = {}  # any file's shown path -> its locale

    def add(self, shown: str, text: str, filename: str, locale: str | None) -> None:
        self._files[shown] = (text, filename)
        self.written_in(shown, locale)

    def written_in(self, shown: str, locale: str | None) -> None:
        """Record the locale of a file (message or layout) that may extend a layout."""
        self._locales[shown] = locale

    def names(self) -> list[str]:
        """The layout file names a file may extend (those at the top of _layouts/)."""
        top = f"{self.prefix}/"
        return sorted(p.removeprefix(top) for p in self._files if "/" not in p.removeprefix(top))

    def resolve(self, name: str, parent: str) -> str | None:
        """The shown path of layout ``name`` for the file shown as ``parent``, or None."""
        locale = self._locales.get(parent)
        for candidate in [*locale_candidates(locale), None]:
            shown = f"{self.prefix}/{candidate}/{name}" if candidate else f"{self.prefix}/{name}"
            if shown in self._files:
                return shown
        return None

    def locale_of(self, shown: str) -> str | None:
        return self._locales.get(shown)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        found = self._files.get(template)
        if found is None:
            raise jinja2.TemplateNotFound(template)
        text, filename = found
        return text, filename, lambda: True


def extended(names: Iterable[jinja2.nodes.Extends]) -> list[tuple[int, str | None]]:
    """(line, the layout name or None when not a name in quotes) of each ``extends``."""
    found: list[tuple[int, str | None]] = []
    for node in names:
        target = node.template
        name = target.value if isinstance(target, jinja2.nodes.Const) else None
        found.append((node.lineno, name if isinstance(name, str) else None))
    return found
