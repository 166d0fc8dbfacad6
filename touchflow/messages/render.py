"""Message templates: load and compile them, render one in a customer's locale.

Layout, the contract with the people who write templates::

    message_templates/
      birthday/             one template, named after its directory ([a-z0-9_-]+)
        subject.txt         required; rendered, then collapsed to one line
        body.txt            required; the plain-text part
        body.html           optional; the HTML part, the only one autoescaped
        de/                 a locale variant: any of the three files
          subject.txt
        de_AT/
          body.txt

A variant directory is named by a locale: a language, optionally a script and
a region (``de``, ``de_AT``, ``zh_Hant_TW``), joined with ``_``. Files are
looked up one at a time: for a customer in ``de_AT`` (``de-AT`` works too)
each file comes from ``de_AT/``, else ``de/``, else the template directory
itself, which is written in the project's default locale. So a variant may
override just the subject. Names starting with ``.`` are ignored (editor and
VCS litter); anything else unknown is an error, so a misspelt ``body.htm``
cannot go unnoticed.

Templates are Jinja in an immutable sandbox with ``StrictUndefined``: a missing
value is an error (the touchpoint is held), never an empty string. Filters
format in the customer's locale and time zone; values may be aware datetimes,
dates or ISO 8601 strings (a date-time string needs an offset)::

    {{ event.data.starts_at | datetime }}      medium: "01.05.2024, 16:30:00"
    {{ event.data.starts_at | date("full") }}  short, medium, long, full ...
    {{ event.data.starts_at | time("HH:mm") }} ... or a CLDR pattern
    {{ event.data.starts_at | weekday }}       "Mittwoch"
    {{ event.data.price | money("EUR") }}      "12,50 €"
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import babel
import babel.dates
import babel.numbers
import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from touchflow.bounds import (
    RENDER_SECONDS,
    BoundedEnvironment,
    LimitError,
    RenderTimeout,
    check_printable,
    constant_overruns,
    time_limit,
)
from touchflow.errors import Problem, RenderError, TemplateError

Part = Literal["subject", "text", "html"]
PART_FILES: Mapping[str, Part] = {"subject.txt": "subject", "body.txt": "text", "body.html": "html"}
REQUIRED_FILES = ("subject.txt", "body.txt")
MAX_PART_BYTES = 256 * 1024
MAX_SUBJECT_CHARS = 998  # RFC 5322 line limit; longer subjects are a template bug
FALLBACK_LOCALE = "en"
# Injected by render() for the filters; never available to template authors.
RESERVED_NAMES = frozenset({"_tf_locale", "_tf_timezone"})

_NAME_RE = re.compile(r"[a-z0-9_-]+")
_LOCALE_DIR_RE = re.compile(r"[a-z]{2,3}(?:_[A-Z][a-z]{3})?(?:_(?:[A-Z]{2}|[0-9]{3}))?")
_UNKNOWN_CALLABLE_RE = re.compile(r"No (filter|test) named '([^']+)'")
_LAYOUT = "subject.txt, body.txt and optionally body.html"
_FILES = "subject.txt, body.txt and body.html"
_DASH = " \N{EM DASH} "
_TOO_DEEP = (
    "expressions nested too deeply (brackets or operators hundreds of levels deep): "
    "write them out in steps with {% set %}"
)
_TOO_LONG = f"stopped: rendering took longer than {RENDER_SECONDS:g} s (a loop too long?)"


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSource:
    """One file of a template, parsed, for the checker and for previews."""

    template: str
    display_path: str  # relative to the project, e.g. message_templates/birthday/de/body.txt
    locale: str | None  # None: the template directory itself (the default locale)
    part: Part
    ast: nodes.Template


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedMessage:
    subject: str  # one line
    text: str
    html: str | None
    locale: str  # the locale dates and numbers were formatted in, e.g. "de_AT"


@dataclass(frozen=True, slots=True, kw_only=True)
class _File:
    source: TemplateSource
    filename: str  # the compiled code's co_filename: how error lines are found
    compiled: jinja2.Template
    globals: Mapping[str, Any]  # Jinja's globals as a plain dict (the environment's)


_Files = Mapping[tuple[str | None, Part], _File]


class TemplateSet:
    """Every template of a project, compiled once, rendered many times."""

    __slots__ = ("_files", "_plans", "default_locale")

    def __init__(self, *, files: Mapping[str, _Files], default_locale: str) -> None:
        self._files = files
        self.default_locale = default_locale
        self._plans: dict[tuple[str, str], tuple[tuple[Part, _File, babel.Locale], ...]] = {}

    @classmethod
    def load(
        cls, root: Path, *, display_root: str | None = None, default_locale: str = FALLBACK_LOCALE
    ) -> TemplateSet:
        """Load ``root`` (a ``message_templates/`` directory); report every problem at once.

        ``display_root`` is how ``root`` is shown in problems (relative to the
        project); ``default_locale`` is the locale the template roots are written in.
        """
        loader = _Loader(root, display_root if display_root is not None else str(root))
        files = loader.load_all()
        if loader.problems:
            raise TemplateError(loader.problems)
        return cls(files=files, default_locale=normalize_locale(default_locale))

    def names(self) -> frozenset[str]:
        return frozenset(self._files)

    def has(self, name: str) -> bool:
        return name in self._files

    def sources(self, name: str) -> list[TemplateSource]:
        """Every file of template ``name``: the root first, then variants by locale."""
        files = self._files[name]
        order = {"subject": 0, "text": 1, "html": 2}
        keys = sorted(files, key=lambda k: (k[0] is not None, k[0] or "", order[k[1]]))
        return [files[key].source for key in keys]

    def render(
        self, name: str, *, locale: str | None, timezone: str, context: Mapping[str, Any]
    ) -> RenderedMessage:
        """Render template ``name`` for a customer; raises RenderError (held, not sent)."""
        files = self._files.get(name)
        if files is None:
            raise RenderError(name, f"unknown template {name!r}")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RenderError(name, f"unknown time zone {timezone!r}") from None
        tag = normalize_locale(locale or "") or self.default_locale
        formats = babel_locale(tag)
        parts = self._parts(name, tag)
        # What every part sees, merged once: Jinja would copy its globals and the context
        # into a new dict for each part. Templates cannot change it (their assignments
        # go into their own Context), so one dict serves all parts: only the locale differs.
        parent = {**parts[0][1].globals, **context, "_tf_timezone": zone} if parts else {}
        texts: dict[Part, str] = {}
        try:
            with time_limit():
                for which, file, shown_in in parts:
                    parent["_tf_locale"] = shown_in
                    texts[which] = _render_file(file, parent)
        except RenderTimeout:  # between two parts: outside the template's own lines
            raise RenderError(name, _TOO_LONG) from None
        # A subject may wrap in its file or take a line break from data: folded, not held,
        # since whitespace is all it loses and no header can start (docs/rules.md §8.1).
        # Other controls (NUL, ESC) stay, and compose() holds them as invalid_message.
        subject = " ".join(texts.get("subject", "").split())
        if len(subject) > MAX_SUBJECT_CHARS:
            raise RenderError(name, f"subject is {len(subject)} characters; at most 998 allowed")
        return RenderedMessage(
            subject=subject, text=texts.get("text", ""), html=texts.get("html"), locale=str(formats)
        )

    def _parts(self, name: str, tag: str) -> tuple[tuple[Part, _File, babel.Locale], ...]:
        """Which file renders each part for a locale, and in which locale it formats."""
        key = (name, tag)
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = _choose_parts(self._files[name], tag, self.default_locale)
        return found


def _choose_parts(
    files: _Files, tag: str, default_locale: str
) -> tuple[tuple[Part, _File, babel.Locale], ...]:
    candidates: list[str | None] = [*locale_candidates(tag), None]
    chosen: list[tuple[Part, _File, babel.Locale]] = []
    parts: tuple[Part, ...] = ("subject", "text", "html")
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


def normalize_locale(tag: str) -> str:
    """``de-at`` -> ``de_AT``, ``zh-hant-tw`` -> ``zh_Hant_TW``; drops ``.UTF-8``/``@euro``."""
    parts = [p for p in re.split(r"[-_]", tag.split(".")[0].split("@")[0].strip()) if p]
    if not parts:
        return ""
    rest = [p.title() if len(p) == 4 else p.upper() for p in parts[1:]]
    return "_".join([parts[0].lower(), *rest])


def locale_candidates(tag: str | None) -> list[str]:
    """Most specific first: ``de_AT`` -> ``["de_AT", "de"]``."""
    parts = normalize_locale(tag).split("_") if tag else []
    return ["_".join(parts[:n]) for n in range(len(parts), 0, -1) if parts[0]]


@lru_cache(maxsize=256)
def babel_locale(tag: str | None) -> babel.Locale:
    """The babel locale for ``tag``, falling back along its candidates, then to English."""
    for candidate in [*locale_candidates(tag), FALLBACK_LOCALE]:
        try:
            return babel.Locale.parse(candidate)
        except (ValueError, babel.UnknownLocaleError):
            continue
    raise AssertionError("babel does not know English")  # pragma: no cover


# --- rendering -------------------------------------------------------------------


def _render_file(file: _File, parent: dict[str, Any]) -> str:
    """Render one part. ``parent`` holds Jinja's globals and the context, merged; this is
    ``Template.generate`` without its two copies of them, so a runaway loop can still be
    stopped at the cap instead of being built whole."""
    chunks: list[str] = []
    chars = 0
    size: int | None = None  # exact UTF-8 bytes, counted once the output nears the cap
    template = file.compiled
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


def _render_error(file: _File, exc: Exception) -> RenderError:
    if isinstance(exc, jinja2.UndefinedError):
        message = f"undefined value: {exc.message}"
    elif isinstance(exc, RenderTimeout):
        message = _TOO_LONG
    elif isinstance(exc, LimitError):
        message = f"too large: {exc}"
    elif isinstance(exc, SecurityError):
        message = f"not allowed in a template: {exc}"
    elif isinstance(exc, _FilterError):
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


# --- filters ---------------------------------------------------------------------


class _FilterError(ValueError):
    """A filter got a value it cannot format; becomes a RenderError with the line."""


def _settings(ctx: Context) -> tuple[babel.Locale, ZoneInfo]:
    locale, zone = ctx.get("_tf_locale"), ctx.get("_tf_timezone")
    if not isinstance(locale, babel.Locale) or not isinstance(zone, ZoneInfo):
        raise _FilterError("formatting filters only work in templates rendered by touchflow")
    return locale, zone


def _defined(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return value


def _instant(value: Any, what: str) -> date | datetime:
    value = _defined(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
        except ValueError:
            raise _FilterError(f"{what}: {value!r} is not an ISO 8601 date or date-time") from None
    if isinstance(value, datetime) and value.utcoffset() is None:
        # Without an offset we cannot know which hour it is in the customer's zone.
        raise _FilterError(f"{what}: {value.isoformat()} has no UTC offset; add one like +00:00")
    if not isinstance(value, date):  # datetime is a date too
        kind = type(value).__name__
        raise _FilterError(f"{what}: expects a date, a date-time or an ISO 8601 string, not {kind}")
    return value


def _moment(value: Any, what: str) -> datetime:
    instant = _instant(value, what)
    if not isinstance(instant, datetime):
        raise _FilterError(f"{what}: needs a date and time, got the date {instant.isoformat()}")
    return instant


def _local_date(value: Any, zone: ZoneInfo, what: str) -> date:
    instant = _instant(value, what)
    return instant.astimezone(zone).date() if isinstance(instant, datetime) else instant


@jinja2.pass_context
def _date_filter(ctx: Context, value: Any, format: str = "medium") -> str:
    locale, zone = _settings(ctx)
    return babel.dates.format_date(_local_date(value, zone, "date"), format, locale=locale)


@jinja2.pass_context
def _weekday_filter(ctx: Context, value: Any) -> str:
    locale, zone = _settings(ctx)
    return babel.dates.format_date(_local_date(value, zone, "weekday"), "EEEE", locale=locale)


@jinja2.pass_context
def _time_filter(ctx: Context, value: Any, format: str = "short") -> str:
    locale, zone = _settings(ctx)
    return babel.dates.format_time(_moment(value, "time"), format, tzinfo=zone, locale=locale)


@jinja2.pass_context
def _datetime_filter(ctx: Context, value: Any, format: str = "medium") -> str:
    locale, zone = _settings(ctx)
    moment = _moment(value, "datetime")
    return babel.dates.format_datetime(moment, format, tzinfo=zone, locale=locale)


@jinja2.pass_context
def _money_filter(ctx: Context, value: Any, currency: str) -> str:
    value, currency = _defined(value), _defined(currency)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise _FilterError(f"money: {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _FilterError(f"money: expects a number, not {type(value).__name__}")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise _FilterError(f"money: the currency must be a code like 'EUR', not {currency!r}")
    return babel.numbers.format_currency(value, currency, locale=_settings(ctx)[0])


FILTERS: Mapping[str, Callable[..., str]] = {
    "date": _date_filter,
    "time": _time_filter,
    "datetime": _datetime_filter,
    "weekday": _weekday_filter,
    "money": _money_filter,
}


# --- environment and loading -----------------------------------------------------


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith(".html")


class EmptyValueError(ValueError):
    """A template printed a value that is empty (None): "Hello None," must never go out."""


def _refuse_none(value: Any) -> Any:
    if value is None:
        raise EmptyValueError(
            "a value printed here is empty; give a fallback, e.g. "
            "{{ customer.first_name or 'there' }}"
        )
    return check_printable(value)


def make_environment() -> BoundedEnvironment:
    # Immutable: a template must not change the context (lists, dicts) that the
    # planner hands to other renders. Names are display paths, so .html decides.
    env = BoundedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=_autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        finalize=_refuse_none,
    )
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=1)
def environment_names() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(filters, tests, globals) a template may use: what the checker checks against."""
    env = make_environment()
    return frozenset(env.filters), frozenset(env.tests), frozenset(env.globals)


def did_you_mean(word: str, choices: Iterable[str], *, prefix: str = "") -> str:
    """`` — did you mean <prefix><closest>?`` or "" when nothing is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"{_DASH}did you mean {prefix}{close[0]}?" if close else ""


class _Loader:
    """Walks message_templates/, collecting compiled files and every problem."""

    def __init__(self, root: Path, display_root: str) -> None:
        self.env = make_environment()
        self.root = root
        self.display_root = display_root.rstrip("/") or display_root
        self.files: dict[str, dict[tuple[str | None, Part], _File]] = {}
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(path=path, line=line, message=message))

    def load_all(self) -> dict[str, _Files]:
        if not self.root.is_dir():
            self.problem(self.display_root, "template directory not found")
        else:
            for entry in _entries(self.root):
                self.load_template(entry, f"{self.display_root}/{entry.name}")
        return dict(self.files)

    def load_template(self, directory: Path, shown: str) -> None:
        if not directory.is_dir():
            self.problem(shown, f"not a template: a template is a directory ({_LAYOUT})")
        elif not _NAME_RE.fullmatch(directory.name):
            hint = "use lower-case letters, digits, '_' and '-'"
            self.problem(shown, f"invalid template name {directory.name!r}: {hint}")
        else:
            self.files[directory.name] = {}
            present = self.load_dir(directory.name, directory, shown, None)
            for missing in sorted(set(REQUIRED_FILES) - present):
                self.problem(
                    shown, f"missing {missing}: every template needs subject.txt and body.txt"
                )

    def load_dir(self, template: str, directory: Path, shown: str, locale: str | None) -> set[str]:
        present: set[str] = set()
        for entry in _entries(directory):
            path = f"{shown}/{entry.name}"
            if entry.name in PART_FILES and entry.is_file():
                present.add(entry.name)
                self.load_file(template, entry, path, locale)
            elif locale is None and entry.is_dir() and _LOCALE_DIR_RE.fullmatch(entry.name):
                self.load_dir(template, entry, path, entry.name)
            elif not entry.is_dir():
                hint = did_you_mean(entry.name, PART_FILES)
                self.problem(path, f"unknown file {entry.name!r}: a template holds {_LAYOUT}{hint}")
            elif locale is not None:
                self.problem(path, f"unknown directory: a locale variant holds only {_FILES}")
            else:
                fixed = normalize_locale(entry.name)
                hint = f"{_DASH}did you mean {fixed}?" if _LOCALE_DIR_RE.fullmatch(fixed) else ""
                self.problem(
                    path, f"unknown directory: name locale variants like de or de_AT{hint}"
                )
        return present

    def load_file(self, template: str, path: Path, shown: str, locale: str | None) -> None:
        try:
            data = path.read_bytes()
            # A BOM from a Windows editor would otherwise end up in the message.
            text = data.decode("utf-8").removeprefix("\ufeff")
        except OSError as exc:
            self.problem(shown, f"cannot read: {exc.strerror}")
            return
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.problem(shown, "not UTF-8 text; save the file as UTF-8", line)
            return
        try:
            ast = self.env.parse(text, shown, str(path))
            code = self.env.compile(text, shown, str(path))
        except jinja2.TemplateSyntaxError as exc:
            self.problem(shown, self.syntax_message(exc), exc.lineno)
            return
        except RecursionError:  # Jinja's parser and compiler recurse once per level
            self.problem(shown, _TOO_DEEP)
            return
        for line, message in constant_overruns(self.env, ast):
            self.problem(shown, message, line)
        part = PART_FILES[path.name]
        source = TemplateSource(
            template=template, display_path=shown, locale=locale, part=part, ast=ast
        )
        compiled = self.env.template_class.from_code(self.env, code, self.env.make_globals(None))
        file = _File(
            source=source, filename=str(path), compiled=compiled, globals=dict(compiled.globals)
        )
        self.files[template][locale, part] = file

    def syntax_message(self, exc: jinja2.TemplateSyntaxError) -> str:
        message = exc.message or "syntax error"
        unknown = _UNKNOWN_CALLABLE_RE.search(message)
        if unknown is None:
            return message
        kind, name = unknown.groups()
        known = self.env.filters if kind == "filter" else self.env.tests
        return f"unknown {kind} {name}{did_you_mean(name, known)}"


def _entries(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if not p.name.startswith("."))
