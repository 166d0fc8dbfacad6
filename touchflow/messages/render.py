"""Render a message template for a customer, in the customer's locale and time zone.

Files are looked up one at a time: for a customer in ``de_AT`` (``de-AT`` works too)
each file comes from ``de_AT/``, else ``de/``, else the template directory itself,
which is written in the project's default locale (``touchflow.messages.template_files``
has the layout). So a variant may override just the subject.

Templates are Jinja in an immutable sandbox with ``StrictUndefined``: a missing
value is an error (the touchpoint is held), never an empty string. Filters
format in the customer's locale and time zone (``touchflow.messages.filters``).
A render is bounded in time and in the size of each part. An email renders the
subject and the bodies (``EMAIL_PARTS``), a text only ``sms.txt`` (``SMS_PARTS``): a
template that holds both never holds a message back for the part it does not send. A
webhook renders those of the e-mail parts there are and ``webhook.json.j2`` (``WEBHOOK_PARTS``),
which must give a JSON object (``touchflow.messages.webhook_fields``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import babel
import jinja2
from jinja2.exceptions import SecurityError

from touchflow.bounds import RENDER_SECONDS, LimitError, RenderTimeout, time_limit
from touchflow.errors import RenderError
from touchflow.messages.filters import FilterError
from touchflow.messages.locales import (
    FALLBACK_LOCALE,
    babel_locale,
    locale_candidates,
    normalize_locale,
)
from touchflow.messages.template_files import (
    CompiledFile,
    LoadedTemplates,
    Part,
    TemplateFiles,
    TemplateSource,
    load_template_files,
)
from touchflow.messages.webhook_fields import parse_fields

MAX_PART_BYTES = 256 * 1024
# What ``message`` holds for the body parts and their layouts when the caller does not say
# (touchflow.messages.build fills them in); the renderer adds ``subject``.
MESSAGE_FIELDS: Mapping[str, Any] = {"unsubscribe_url": None, "postal_address": None}
MAX_SUBJECT_CHARS = 998  # RFC 5322 line limit; longer subjects are a template bug
EMAIL_PARTS: tuple[Part, ...] = ("subject", "text", "html")
SMS_PARTS: tuple[Part, ...] = ("sms",)
WEBHOOK_PARTS: tuple[Part, ...] = (*EMAIL_PARTS, "webhook")  # each only where the file is
# No-break, figure, thin and narrow no-break spaces (CLDR puts them in dates and times).
_PLAIN_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u202f"), " ")
_ORDER: Mapping[Part, int] = {"subject": 0, "text": 1, "html": 2, "sms": 3, "webhook": 4}
_TOO_LONG = f"stopped: rendering took longer than {RENDER_SECONDS:g} s (a loop too long?)"


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedMessage:
    subject: str  # one line
    text: str
    html: str | None
    locale: str  # the locale dates and numbers were formatted in, e.g. "de_AT"
    sms: str | None = None  # the text of an SMS, its trailing whitespace dropped
    fields: Mapping[str, Any] | None = None  # webhook.json.j2's JSON object, if rendered


class TemplateSet:
    """Every template of a project, checked at load, compiled once, rendered many times."""

    __slots__ = ("_files", "_loaded", "_plans", "default_locale")
    _plans: dict[
        tuple[str, str, tuple[Part, ...]], tuple[tuple[Part, CompiledFile, babel.Locale], ...]
    ]

    def __init__(self, *, loaded: LoadedTemplates, default_locale: str) -> None:
        self._loaded = loaded
        self._files = loaded.files
        self.default_locale = default_locale
        self._plans = {}

    @classmethod
    def load(
        cls, root: Path, *, display_root: str | None = None, default_locale: str = FALLBACK_LOCALE
    ) -> TemplateSet:
        """Load ``root`` (a ``message_templates/`` directory); report every problem at once.

        ``display_root`` is how ``root`` is shown in problems (relative to the
        project); ``default_locale`` is the locale the template roots are written in.
        """
        loaded = load_template_files(root, display_root if display_root is not None else str(root))
        return cls(loaded=loaded, default_locale=normalize_locale(default_locale))

    def names(self) -> frozenset[str]:
        return frozenset(self._files)

    def has(self, name: str) -> bool:
        return name in self._files

    def sources(self, name: str) -> list[TemplateSource]:
        """Every file of template ``name``: the root first, then variants by locale."""
        files = self._files[name]
        keys = sorted(files, key=lambda k: (k[0] is not None, k[0] or "", _ORDER[k[1]]))
        return [files[key].source for key in keys]

    def layouts(self, name: str) -> list[TemplateSource]:
        """The layouts the files of template ``name`` extend, each once, nearest first."""
        found: dict[str, TemplateSource] = {}
        for source in self.sources(name):
            shown = self._loaded.parents.get(source.display_path)
            while shown is not None and shown not in found:
                found[shown] = self._loaded.layouts[shown]
                shown = self._loaded.parents.get(shown)
        return list(found.values())

    def extends(self, shown: str) -> str | None:
        """The shown path of the layout the file shown as ``shown`` extends, if it does."""
        return self._loaded.parents.get(shown)

    def parts(self, name: str) -> frozenset[Part]:
        """The parts template ``name`` has in its own directory (the default locale)."""
        return frozenset(part for locale, part in self._files[name] if locale is None)

    def chosen(
        self, name: str, locale: str, parts: tuple[Part, ...] = EMAIL_PARTS
    ) -> list[TemplateSource]:
        """The file each of ``parts`` of template ``name`` comes from for a customer in
        ``locale``."""
        return [file.source for _, file, _ in self._parts(name, normalize_locale(locale), parts)]

    def render(
        self,
        name: str,
        *,
        locale: str | None,
        timezone: str,
        context: Mapping[str, Any],
        parts: tuple[Part, ...] = EMAIL_PARTS,
    ) -> RenderedMessage:
        """Render ``parts`` of template ``name`` for a customer; raises RenderError (held,
        not sent).

        The body parts (and their layouts) see the rendered subject as ``message.subject``,
        beside what the caller put in ``context["message"]`` (``MESSAGE_FIELDS`` by default).
        """
        files = self._files.get(name)
        if files is None:
            raise RenderError(name, f"unknown template {name!r}")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RenderError(name, f"unknown time zone {timezone!r}") from None
        tag = normalize_locale(locale or "") or self.default_locale
        formats = babel_locale(tag)
        chosen = self._parts(name, tag, parts)
        # What every part sees, merged once: Jinja would copy its globals and the context
        # into a new dict for each part. Templates cannot change it (their assignments
        # go into their own Context), so one dict serves all parts: only the locale differs.
        parent = {**chosen[0][1].globals, **context, "_tf_timezone": zone} if chosen else {}
        texts = _render_parts(name, chosen, parent, context.get("message", {}))
        # A subject may wrap in its file or take a line break from data: folded, not held,
        # since whitespace is all it loses and no header can start (docs/rules.md §8.1).
        # Other controls (NUL, ESC) stay, and compose() holds them as invalid_message.
        subject = " ".join(texts.get("subject", "").split())
        if len(subject) > MAX_SUBJECT_CHARS:
            raise RenderError(name, f"subject is {len(subject)} characters; at most 998 allowed")
        sms = texts.get("sms")
        fields = texts.get("webhook")
        return RenderedMessage(
            subject=subject,
            text=texts.get("text", ""),
            html=texts.get("html"),
            locale=str(formats),
            sms=None if sms is None else sms_text(sms),
            fields=None if fields is None else parse_fields(fields, _source(chosen, "webhook")),
        )

    def _parts(
        self, name: str, tag: str, parts: tuple[Part, ...]
    ) -> tuple[tuple[Part, CompiledFile, babel.Locale], ...]:
        """Which file renders each part for a locale, and in which locale it formats."""
        key = (name, tag, parts)
        found = self._plans.get(key)
        if found is None:
            files = self._files[name]
            found = self._plans[key] = _choose_parts(files, tag, self.default_locale, parts)
        return found


def _render_parts(
    name: str,
    chosen: tuple[tuple[Part, CompiledFile, babel.Locale], ...],
    parent: dict[str, Any],
    given: Mapping[str, Any],
) -> dict[Part, str]:
    texts: dict[Part, str] = {}
    try:
        with time_limit():
            for which, file, shown_in in chosen:
                parent["_tf_locale"] = shown_in
                texts[which] = _render_file(file, parent)
                if which == "subject":
                    subject = " ".join(texts["subject"].split())
                    parent["message"] = {**MESSAGE_FIELDS, **given, "subject": subject}
    except RenderTimeout:  # between two parts: outside the template's own lines
        raise RenderError(name, _TOO_LONG) from None
    return texts


def _source(
    chosen: tuple[tuple[Part, CompiledFile, babel.Locale], ...], part: Part
) -> TemplateSource:
    return next(file.source for which, file, _ in chosen if which == part)


def sms_text(rendered: str) -> str:
    """A rendered sms.txt as it is sent: no whitespace at the ends of lines, no blank lines
    before or after (the ones ``{% if %}`` lines leave), so no segment pays for them; and
    the no-break spaces of formatted times ("10:30\u202fAM" in English) as plain spaces:
    they are not in GSM-7, and one would send the whole text as UCS-2 (70 a segment)."""
    text = rendered.translate(_PLAIN_SPACES)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _choose_parts(
    files: TemplateFiles, tag: str, default_locale: str, parts: tuple[Part, ...]
) -> tuple[tuple[Part, CompiledFile, babel.Locale], ...]:
    candidates: list[str | None] = [*locale_candidates(tag), None]
    chosen: list[tuple[Part, CompiledFile, babel.Locale]] = []
    for which in parts:
        found = next(((c, files[c, which]) for c in candidates if (c, which) in files), None)
        if found is None:
            continue
        written_in = found[0] or default_locale
        # Dates and numbers follow the language the text is written in, so a French
        # customer reading the English fallback does not get "25 nov. 2026" in it;
        # within the same language the customer's region still wins (en_GB dates).
        same_language = written_in.split("_")[0] == tag.split("_")[0]
        chosen.append((which, found[1], babel_locale(tag if same_language else written_in)))
    return tuple(chosen)


def _render_file(file: CompiledFile, parent: dict[str, Any]) -> str:
    """Render one part. ``parent`` holds Jinja's globals and the context, merged; this is
    ``Template.generate`` without its two copies of them, so a runaway loop can still be
    stopped at the cap instead of being built whole."""
    chunks: list[str] = []
    chars = 0
    size: int | None = None  # exact UTF-8 bytes, counted once the output nears the cap
    try:
        template = file.compiled  # compiled at its first render; checked at load
    except Exception as exc:
        raise _render_error(file, exc) from exc
    context = template.new_context(parent, shared=True)
    stream = cast(Generator[str, None, None], template.root_render_func(context))
    try:
        for chunk in stream:
            chunks.append(chunk)
            if size is None:
                chars += len(chunk)
                # At most 4 bytes a character: below a quarter of the cap, no need to count.
                if chars * 4 > MAX_PART_BYTES:
                    size = len("".join(chunks).encode())
            else:
                size += len(chunk.encode())
            if size is not None and size > MAX_PART_BYTES:
                break
        else:
            return "".join(chunks)
    except Exception:
        try:  # as generate() does: template frames get the template's file and line
            template.environment.handle_exception()
        except Exception as exc:
            raise _render_error(file, exc) from exc
        raise  # pragma: no cover - handle_exception always raises
    finally:
        stream.close()
    source = file.source
    name = source.display_path.rsplit("/", 1)[-1]
    raise RenderError(
        source.template,
        f"{name}: output exceeds {MAX_PART_BYTES // 1024} KiB",
        path=source.display_path,
    )


def _render_error(file: CompiledFile, exc: Exception) -> RenderError:
    if isinstance(exc, jinja2.UndefinedError):
        message = f"undefined value: {exc.message}"
    elif isinstance(exc, RenderTimeout):
        message = _TOO_LONG
    elif isinstance(exc, LimitError):
        message = f"too large: {exc}"
    elif isinstance(exc, SecurityError):
        message = f"not allowed in a template: {exc}"
    elif isinstance(exc, FilterError):
        message = str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    source = file.source
    return RenderError(
        source.template, message, path=source.display_path, line=_template_line(exc, file.filename)
    )


def _template_line(exc: BaseException, filename: str) -> int | None:
    # Jinja rewrites tracebacks so that template frames carry the template's own
    # file name and line; the innermost one is where it went wrong.
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
