"""Load a ``message_templates/`` directory: check its layout, then parse and check each file.

Layout, the contract with the people who write templates::

    message_templates/
      birthday/             one template, named after its directory ([a-z0-9_-]+)
        subject.txt         an email's subject; rendered, then collapsed to one line
        body.txt            an email's plain-text part (with subject.txt: both or neither)
        body.html           optional; the HTML part, the only one autoescaped
        sms.txt             the text an SMS rule sends (trailing whitespace dropped)
        webhook.json.j2     optional; a JSON object a webhook rule posts as "fields"
        de/                 a locale variant: any of the five files
          subject.txt
        de_AT/
          body.txt
      _layouts/             what files may ``{% extends %}`` (touchflow.messages.layouts)
        base.html

A template holds an email (subject.txt and body.txt), a text (sms.txt), a webhook's
fields (webhook.json.j2, never autoescaped: values go in with ``|tojson``), or several;
which one a rule needs depends on its channel, and ``validate`` checks that at the
rule (``touchflow.messages.template_parts``).

A variant directory is named by a locale: a language, optionally a script and
a region (``de``, ``de_AT``, ``zh_Hant_TW``), joined with ``_``. Names starting
with ``.`` are ignored (editor and VCS litter); names starting with ``_`` are reserved
(``_layouts/`` is the one there is); anything else unknown is an error,
so a misspelt ``body.htm`` cannot go unnoticed. Every problem is reported at once.

Each file is parsed and run through Jinja's code generator at load, which is where
every error Jinja can find before a render is found (a syntax error, an unknown filter,
a block defined twice…); turning the generated code into Python bytecode waits for
the file's first render. So ``validate`` and a daemon start that sends nothing do not
pay for compiling every template: about half of loading them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2 import nodes
from jinja2.compiler import generate

from touchflow.bounds import constant_overruns
from touchflow.errors import Problem, TemplateError
from touchflow.messages.environment import make_environment
from touchflow.messages.layouts import LAYOUT_FILE, LAYOUTS_DIR, Layouts, extended
from touchflow.messages.locales import normalize_locale

Part = Literal["subject", "text", "html", "sms", "webhook"]
PART_FILES: Mapping[str, Part] = {
    "subject.txt": "subject",
    "body.txt": "text",
    "body.html": "html",
    "sms.txt": "sms",
    "webhook.json.j2": "webhook",
}
EMAIL_FILES = ("subject.txt", "body.txt")  # an email needs both
_NAME_RE = re.compile(r"[a-z0-9_-]+")
_LOCALE_DIR_RE = re.compile(r"[a-z]{2,3}(?:_[A-Z][a-z]{3})?(?:_(?:[A-Z]{2}|[0-9]{3}))?")
_UNKNOWN_CALLABLE_RE = re.compile(r"No (filter|test) named '([^']+)'")
_LAYOUT = (
    "subject.txt and body.txt (optionally body.html) for email, sms.txt for texts, "
    "webhook.json.j2 for a webhook's fields"
)
_FILES = "subject.txt, body.txt, body.html, sms.txt and webhook.json.j2"
_LAYOUTS = "layouts named like base.html or base.txt, and locale directories like de/"
_EXAMPLE = '{% extends "base.html" %}'
_DASH = " \N{EM DASH} "
_TOO_DEEP = (
    "expressions nested too deeply (brackets or operators hundreds of levels deep): "
    "write them out in steps with {% set %}"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSource:
    """One file of a template, parsed, for the checker and for previews."""

    template: str
    display_path: str  # relative to the project, e.g. message_templates/birthday/de/body.txt
    locale: str | None  # None: the template directory itself (the default locale)
    part: Part
    ast: nodes.Template


# Levels of nested nodes a template may have: a chain of ~200 filters makes Python code
# its compiler refuses ("too many nested parentheses"); real templates stay far below.
MAX_TEMPLATE_DEPTH = 150


def deeper_than(ast: jinja2.nodes.Node, limit: int) -> int | None:
    """The line of a node nested more than ``limit`` levels deep in ``ast``, or None
    (walked with a stack of its own: a tree too deep for recursion is the point)."""
    stack = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return int(getattr(node, "lineno", 1) or 1)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


class LazyTemplate:
    """A file's Jinja template, compiled (as ``Environment.from_string`` would) when first
    asked for. Its source has passed the code generator's checks at load already."""

    __slots__ = ("_env", "_filename", "_name", "_template", "_text")

    def __init__(self, env: jinja2.Environment, text: str, name: str, filename: str) -> None:
        self._env, self._text, self._name, self._filename = env, text, name, filename
        self._template: jinja2.Template | None = None

    def template(self) -> jinja2.Template:
        # Two threads may both compile it the first time: the same template, either kept.
        template = self._template
        if template is None:
            env = self._env
            code = env.compile(self._text, self._name, self._filename)
            template = env.template_class.from_code(env, code, env.make_globals(None))
            self._template = template
        return template


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledFile:
    """One file of a template, compiled once (at its first render), with what a render of
    it needs."""

    source: TemplateSource
    filename: str  # the compiled code's co_filename: how error lines are found
    code: LazyTemplate
    globals: Mapping[str, Any]  # Jinja's globals as a plain dict (the environment's)

    @property
    def compiled(self) -> jinja2.Template:
        return self.code.template()


TemplateFiles = Mapping[tuple[str | None, Part], CompiledFile]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedTemplates:
    """Every template's files, the layouts, and which layout each extending file extends."""

    files: Mapping[str, TemplateFiles]
    layouts: Mapping[str, TemplateSource]  # by shown path
    parents: Mapping[str, str]  # shown path of a file -> shown path of the layout it extends


def load_template_files(root: Path, display_root: str) -> LoadedTemplates:
    """Every template under ``root``, shown as ``display_root``; TemplateError lists all
    problems."""
    loader = _Loader(root, display_root)
    files = loader.load_all()
    if loader.problems:
        raise TemplateError(loader.problems)
    return LoadedTemplates(files=files, layouts=loader.layout_sources, parents=loader.parents)


def did_you_mean(word: str, choices: Iterable[str], *, prefix: str = "") -> str:
    """`` — did you mean <prefix><closest>?`` or "" when nothing is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"{_DASH}did you mean {prefix}{close[0]}?" if close else ""


class _Loader:
    """Walks message_templates/, collecting compiled files and every problem."""

    def __init__(self, root: Path, display_root: str) -> None:
        self.root = root
        self.display_root = display_root.rstrip("/") or display_root
        self.layouts = Layouts(self.display_root)
        self.env = make_environment(self.layouts)
        self.files: dict[str, dict[tuple[str | None, Part], CompiledFile]] = {}
        self.layout_sources: dict[str, TemplateSource] = {}
        self.extending: dict[str, nodes.Template] = {}  # files holding {% extends %}
        self.parents: dict[str, str] = {}
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(path=path, line=line, message=message))

    def load_all(self) -> dict[str, TemplateFiles]:
        if not self.root.is_dir():
            self.problem(self.display_root, "template directory not found")
        else:
            layouts = self.root / LAYOUTS_DIR
            if layouts.is_dir():
                self.load_layouts(layouts, self.layouts.prefix, None)
            for entry in _entries(self.root):
                if entry != layouts:
                    self.load_template(entry, f"{self.display_root}/{entry.name}")
            self.check_extends()
        return dict(self.files)

    def load_layouts(self, directory: Path, shown: str, locale: str | None) -> None:
        for entry in _entries(directory):
            path = f"{shown}/{entry.name}"
            if entry.is_file() and LAYOUT_FILE.fullmatch(entry.name):
                self.load_layout(entry, path, locale)
            elif locale is None and entry.is_dir() and _LOCALE_DIR_RE.fullmatch(entry.name):
                self.load_layouts(entry, path, entry.name)
            else:
                self.problem(path, f"unknown entry: {LAYOUTS_DIR}/ holds {_LAYOUTS}")

    def load_layout(self, path: Path, shown: str, locale: str | None) -> None:
        text = self.read(path, shown)
        ast = None if text is None else self.parsed(text, shown, path)
        if text is None or ast is None:
            return
        for line, message in constant_overruns(self.env, ast):
            self.problem(shown, message, line)
        self.layouts.add(shown, text, str(path), locale)
        part: Part = "html" if path.name.endswith(".html") else "text"
        self.layout_sources[shown] = TemplateSource(
            template=LAYOUTS_DIR, display_path=shown, locale=locale, part=part, ast=ast
        )
        self.extending[shown] = ast

    def check_extends(self) -> None:
        """Every ``{% extends %}`` names a layout there is, and no layout extends itself."""
        for shown, ast in self.extending.items():
            for line, name in extended(ast.find_all(nodes.Extends)):
                found = None if name is None else self.layouts.resolve(name, shown)
                if found is not None:
                    self.parents.setdefault(shown, found)
                elif name is None:
                    self.problem(shown, f"extends needs a layout name in quotes: {_EXAMPLE}", line)
                else:
                    self.problem(shown, self.no_layout(name), line)
        for shown in self.layout_sources:
            chain = [shown]
            while chain[-1] in self.parents and len(chain) <= len(self.layout_sources):
                chain.append(self.parents[chain[-1]])
                if chain[-1] in chain[:-1]:
                    self.problem(shown, f"this layout extends itself: {' → '.join(chain)}")
                    break

    def no_layout(self, name: str) -> str:
        names = self.layouts.names()
        known = ", ".join(names) or "none yet"
        hint = did_you_mean(name, names)
        return f"no layout {name!r} in {self.layouts.prefix}/ (layouts: {known}){hint}"

    def load_template(self, directory: Path, shown: str) -> None:
        if not directory.is_dir():
            self.problem(shown, f"not a template: a template is a directory ({_LAYOUT})")
        elif directory.name.startswith("_"):
            hint = f"names starting with _ are reserved ({LAYOUTS_DIR}/ holds layouts)"
            self.problem(shown, f"invalid template name {directory.name!r}: {hint}")
        elif not _NAME_RE.fullmatch(directory.name):
            hint = "use lower-case letters, digits, '_' and '-'"
            self.problem(shown, f"invalid template name {directory.name!r}: {hint}")
        else:
            self.files[directory.name] = {}
            present = self.load_dir(directory.name, directory, shown, None)
            if not present:
                self.problem(shown, f"empty template: it holds {_LAYOUT}")
            elif present & {*EMAIL_FILES, "body.html"}:
                for missing in sorted(set(EMAIL_FILES) - present):
                    self.problem(
                        shown, f"missing {missing}: an email needs subject.txt and body.txt"
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

    def read(self, path: Path, shown: str) -> str | None:
        try:
            data = path.read_bytes()
            # A BOM from a Windows editor would otherwise end up in the message.
            return data.decode("utf-8").removeprefix("\ufeff")
        except OSError as exc:
            self.problem(shown, f"cannot read: {exc.strerror}")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.problem(shown, "not UTF-8 text; save the file as UTF-8", line)
        return None

    def load_file(self, template: str, path: Path, shown: str, locale: str | None) -> None:
        text = self.read(path, shown)
        ast = None if text is None else self.parsed(text, shown, path)
        if text is None or ast is None:
            return
        self.layouts.written_in(shown, locale)
        if any(True for _ in ast.find_all(nodes.Extends)):
            self.extending[shown] = ast
        for line, message in constant_overruns(self.env, ast):
            self.problem(shown, message, line)
        part = PART_FILES[path.name]
        source = TemplateSource(
            template=template, display_path=shown, locale=locale, part=part, ast=ast
        )
        file = CompiledFile(
            source=source,
            filename=str(path),
            code=LazyTemplate(self.env, text, shown, str(path)),
            globals=dict(self.env.make_globals(None)),
        )
        self.files[template][locale, part] = file

    def parsed(self, text: str, shown: str, path: Path) -> nodes.Template | None:
        """The file's tree, if Jinja finds no error in it and Python could compile its
        code (which happens at the first render); else None, its problem added."""
        try:
            ast = self.env.parse(text, shown, str(path))
            # Unoptimized, the generator leaves the tree as it is (the optimizer folds
            # constants in place) and finds the same errors; its code is not kept.
            generate(ast, self.env, shown, str(path), optimized=False)
        except jinja2.TemplateSyntaxError as exc:
            self.problem(shown, self.syntax_message(exc), exc.lineno)
            return None
        except RecursionError:  # Jinja's parser and compiler recurse once per level
            self.problem(shown, _TOO_DEEP)
            return None
        too_deep = deeper_than(ast, MAX_TEMPLATE_DEPTH)
        if too_deep is not None:
            # Python refuses calls nested about 200 deep (a chain of filters): said here,
            # at load, not at every send.
            self.problem(shown, _TOO_DEEP, too_deep)
            return None
        return ast

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
