"""Conditions: Jinja expressions evaluated in the sandbox (never ``eval``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from touchflow.bounds import RENDER_SECONDS, RenderTimeout, constant_overruns, time_limit
from touchflow.errors import shown
from touchflow.sandbox import BoundedEnvironment

# The templates' sandbox, size caps included: a condition is a template expression.
_ENV = BoundedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class ConditionError(ValueError):
    """The expression cannot be compiled or evaluated."""


def compile_condition(source: str) -> Any:
    """Compile one condition; ``ConditionError`` with Jinja's words on bad syntax."""
    try:
        compiled = _ENV.compile_expression(source, undefined_to_none=False)
        ast = parse_condition_ast(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConditionError(f"cannot read condition {source!r}: {exc.message}") from exc
    except RecursionError:  # Jinja's parser recurses once per level of brackets
        raise ConditionError(
            f"condition {shown(source)} is nested too deeply: write it in simpler steps"
        ) from None
    for _line, message in constant_overruns(_ENV, ast):
        raise ConditionError(f"condition {source!r}: {message}")
    return compiled


def parse_condition_ast(source: str) -> jinja2.nodes.Template:
    """The AST of ``{{ source }}``, for variable checks."""
    return _ENV.parse("{{ " + source + " }}")


def evaluate(compiled: Any, context: Mapping[str, Any]) -> bool:
    try:
        with time_limit():
            return bool(compiled(**context))
    except RenderTimeout as exc:
        message = f"stopped: the condition took longer than {RENDER_SECONDS:g} s"
        raise ConditionError(message) from exc
    except jinja2.UndefinedError as exc:
        raise ConditionError(exc.message or "undefined variable") from exc
    except Exception as exc:  # a user expression can raise anything: report, never crash
        raise ConditionError(f"{type(exc).__name__}: {exc}") from exc
