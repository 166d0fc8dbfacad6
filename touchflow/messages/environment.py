"""The Jinja environment templates run in: the bounded sandbox, StrictUndefined, touchflow's
filters, and no empty value printed."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from touchflow.bounds import check_printable
from touchflow.messages.filters import FILTERS
from touchflow.messages.layouts import Layouts
from touchflow.sandbox import BoundedEnvironment


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


class MessageEnvironment(BoundedEnvironment):
    """The sandbox, with ``{% extends %}`` finding layouts by the extending file's locale."""

    def join_path(self, template: str, parent: str) -> str:
        loader = self.loader
        if isinstance(loader, Layouts):
            return loader.resolve(template, parent) or template
        return template


def make_environment(layouts: Layouts | None = None) -> BoundedEnvironment:
    # Immutable: a template must not change the context (lists, dicts) that the
    # planner hands to other renders. Names are display paths, so .html decides.
    env = MessageEnvironment(
        loader=layouts,
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
