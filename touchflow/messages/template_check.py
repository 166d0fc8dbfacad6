"""Check, before deploy, that a template uses only what its rules can provide.

Rendering with ``StrictUndefined`` would catch a misspelt variable too, but
only when a customer's touchpoint comes due; this finds it at ``validate``.

The caller describes what a rule provides as a ``Scope``: a mapping from a
name to either a nested ``Scope`` (a value with known fields) or ``None`` (a
leaf: anything below it is allowed, e.g. a string's methods or a list's
items)::

    {"customer": {"first_name": None, "tags": None},
     "event": {"id": None, "at": None, "data": {"starts_at": None, "service": None}},
     "occurrence": {"date": None, "years": None},
     "vars": {"shop_name": None}}

Names a template binds itself (``set``, ``for``, macro arguments, ``with``,
``loop``, ``caller``...) and Jinja's globals are always fine. ``Getattr`` and
constant-string ``Getitem`` chains (``event.data["starts_at"]``) are followed
down the scope; a computed subscript ends the check of that chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from jinja2 import nodes

from touchflow.errors import Problem
from touchflow.messages.environment import environment_names
from touchflow.messages.filters import FILTERS, RESERVED_NAMES
from touchflow.messages.template_files import TemplateSource, did_you_mean

Scope: TypeAlias = Mapping[str, "Scope | None"]

_Bound = frozenset[str]
# Calls on a mapping that Jinja resolves to dict methods, not to keys.
_MAPPING_METHODS = frozenset({"items", "keys", "values", "get"})
_MACRO_NAMES = frozenset({"varargs", "kwargs", "caller"})
_BLOCK_NAMES = frozenset({"super", "self"})  # a block's parent, and the template's blocks
_LISTED = 20  # names shown in a message before "and N more"


def check_template(
    source: TemplateSource,
    scope: Scope,
    *,
    used_by: str,
    labels: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every variable, filter and test of ``source`` that ``scope`` does not provide.

    ``used_by`` is the id of the rule the scope comes from (messages say "used
    by rule <id>"). ``labels`` optionally names where the fields of a dotted
    path come from, e.g. ``{"event.data": "event appointment_booked declares"}``.
    """
    filters, tests, globals_ = environment_names()
    checker = _Checker(
        path=source.display_path,
        scope=scope,
        used_by=used_by,
        labels=labels or {},
        filters=filters,
        tests=tests,
        globals_=globals_,
    )
    macros = frozenset(m.name for m in source.ast.find_all(nodes.Macro))
    # Macros may call macros defined further down: they resolve at call time.
    checker.body(source.ast.body, macros)
    return sorted(checker.found.values(), key=lambda p: (p.line or 0, p.message))


def _stored(*targets: nodes.Node) -> _Bound:
    names = [n for t in targets for n in (t, *t.find_all(nodes.Name))]
    return frozenset(
        n.name for n in names if isinstance(n, nodes.Name) and n.ctx in ("store", "param")
    )


def _listing(names: Sequence[str]) -> str:
    if not names:
        return "nothing"
    shown = ", ".join(names[:_LISTED])
    more = len(names) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown


@dataclass(slots=True, kw_only=True)
class _Checker:
    path: str
    scope: Scope
    used_by: str
    labels: Mapping[str, str]
    filters: frozenset[str]
    tests: frozenset[str]
    globals_: frozenset[str]
    found: dict[tuple[int, str], Problem] = field(default_factory=dict)

    def report(self, line: int, key: str, message: str) -> None:
        # One problem per (line, name): a name used twice on a line is one mistake.
        self.found.setdefault((line, key), Problem(path=self.path, line=line, message=message))

    # --- statements: they thread the names bound so far -------------------------

    def body(self, statements: Iterable[nodes.Node], bound: _Bound) -> _Bound:
        for statement in statements:
            bound = self.statement(statement, bound)
        return bound

    def statement(self, node: nodes.Node, bound: _Bound) -> _Bound:
        if isinstance(node, nodes.Assign):
            self.expr(node.node, bound)
            self.expr(node.target, bound)  # `set ns.attr = ...` reads ns
            return bound | _stored(node.target)
        if isinstance(node, nodes.AssignBlock):
            self.body(node.body, bound)
            if node.filter is not None:
                self.expr(node.filter, bound)
            return bound | _stored(node.target)
        if isinstance(node, nodes.If):
            return self.if_(node, bound)
        if isinstance(node, nodes.For):
            self.for_(node, bound)
        elif isinstance(node, nodes.Macro | nodes.CallBlock):
            self.macro(node, bound)
            if isinstance(node, nodes.Macro):
                return bound | {node.name}
        elif isinstance(node, nodes.With):
            for value in node.values:
                self.expr(value, bound)
            self.body(node.body, bound | _stored(*node.targets))
        elif isinstance(node, nodes.Extends):
            pass  # the loader found its layout (touchflow.messages.layouts)
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport):
            message = (
                "templates cannot include or import other templates; "
                'extend a layout of message_templates/_layouts/ ({% extends "base.html" %})'
            )
            self.report(node.lineno, f"|{type(node).__name__}", message)
        else:
            self.generic(node, bound)
        return bound

    def if_(self, node: nodes.If, bound: _Bound) -> _Bound:
        # `if` opens no scope in Jinja: a `set` inside it is seen after it.
        self.expr(node.test, bound)
        after = self.body(node.body, bound)
        for branch in node.elif_:
            self.expr(branch.test, bound)
            after |= self.body(branch.body, bound)
        return after | self.body(node.else_, bound)

    def for_(self, node: nodes.For, bound: _Bound) -> None:
        self.expr(node.iter, bound)
        inner = bound | _stored(node.target) | {"loop"}
        if node.test is not None:
            self.expr(node.test, inner)
        self.body(node.body, inner)
        self.body(node.else_, bound)

    def macro(self, node: nodes.Macro | nodes.CallBlock, bound: _Bound) -> None:
        if isinstance(node, nodes.CallBlock):
            self.expr(node.call, bound)
        for default in node.defaults:
            self.expr(default, bound)
        params = _stored(*node.args)
        self.body(node.body, bound | params | _MACRO_NAMES)

    def generic(self, node: nodes.Node, bound: _Bound) -> None:
        # Output, blocks, scopes, filter blocks...: a body of their own, no leak.
        inner = bound
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.Stmt):
                inner = self.statement(child, inner)
            else:
                self.expr(child, inner)

    # --- expressions -------------------------------------------------------------

    def expr(self, node: nodes.Node, bound: _Bound) -> None:
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            self.chain(node, bound)
            return
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                self.lookup(node.name, [], node.lineno, bound)
            return
        if isinstance(node, nodes.NSRef):
            self.lookup(node.name, [], node.lineno, bound)
            return
        if isinstance(node, nodes.Filter):
            self.known(node, "filter", self.filters)
        elif isinstance(node, nodes.Test):
            self.known(node, "test", self.tests)
        for child in node.iter_child_nodes():
            self.expr(child, bound)

    def chain(self, node: nodes.Getattr | nodes.Getitem, bound: _Bound) -> None:
        segments: list[str | None] = []
        current: nodes.Node = node
        while isinstance(current, nodes.Getattr | nodes.Getitem):
            if isinstance(current, nodes.Getattr):
                segments.append(current.attr)
            elif isinstance(current.arg, nodes.Const) and isinstance(current.arg.value, str):
                segments.append(current.arg.value)
            else:
                segments.append(None)  # computed: nothing after it can be checked
                self.expr(current.arg, bound)
            current = current.node
        segments.reverse()
        if None in segments:
            segments = segments[: segments.index(None)]
        if isinstance(current, nodes.Name) and current.ctx == "load":
            self.lookup(current.name, [s for s in segments if s is not None], node.lineno, bound)
        else:
            self.expr(current, bound)

    def lookup(self, root: str, segments: list[str], line: int, bound: _Bound) -> None:
        if root in bound or root in self.globals_ or root in _BLOCK_NAMES:
            return
        if root in RESERVED_NAMES or root not in self.scope:
            self.unknown([root], self.scope, line)
            return
        level = self.scope[root]
        for depth, segment in enumerate(segments, start=1):
            if level is None:
                return
            if segment not in level:
                if segment not in _MAPPING_METHODS:
                    self.unknown([root, *segments[:depth]], level, line)
                return
            level = level[segment]

    def unknown(self, path: list[str], level: Scope, line: int) -> None:
        dotted = ".".join(path)
        parent = ".".join(path[:-1])
        names = sorted(k for k in level if k not in RESERVED_NAMES)
        where = self.labels.get(parent) or (f"{parent} has" if parent else "available")
        message = f"unknown variable {dotted} (used by rule {self.used_by}; {where}: "
        message += f"{_listing(names)})"
        hint = did_you_mean(path[-1], names, prefix=f"{parent}." if parent else "")
        self.report(line, dotted, message + (hint or self.nested_hint(path)))

    def nested_hint(self, path: list[str]) -> str:
        # `{{ first_name }}` most likely meant `customer.first_name`.
        if len(path) != 1:
            return ""
        for root, level in sorted(self.scope.items()):
            if level is not None and path[0] in level:
                return f" \N{EM DASH} did you mean {root}.{path[0]}?"
        return ""

    def known(self, node: nodes.Filter | nodes.Test, kind: str, names: frozenset[str]) -> None:
        if node.name in names:
            return
        ours = ", ".join(FILTERS) if kind == "filter" else ""
        extra = f" (touchflow adds {ours} to Jinja's built-in filters)" if ours else ""
        hint = did_you_mean(node.name, names)
        self.report(node.lineno, f"|{kind}|{node.name}", f"unknown {kind} {node.name}{extra}{hint}")
