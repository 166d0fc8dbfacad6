"""The sandbox templates and conditions run in: Jinja's immutable sandbox with size caps.

Jinja's sandbox lets us intercept binary operators and calls; what it cannot
intercept (its builtin filters, ``~``) is wrapped here. The caps and the time limit
are ``touchflow.bounds``.

Intercepted operators and calls are also what keeps Jinja's optimizer from
computing ``{{ 9**9**9 }}`` while it *compiles* the template: it folds only
what it may, and intercepted operators and sandboxed calls are never folded.
Builtin filters are folded, which is why the risky ones are replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import filters as jinja_filters
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import soft_str

from touchflow.bounds import (
    MAX_CHARS,
    MAX_LIPSUM,
    MAX_WIDTH,
    check_brace_format,
    check_percent_format,
    check_power,
    check_printable,
    check_repeat,
    check_size,
    length_of,
    refuse,
)

# --- str methods ------------------------------------------------------------------


def _width_arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> int:
    width = args[0] if args else kwargs.get(name, 0)
    return width if isinstance(width, int) else 0


def _check_str_method(text: str, method: str, args: tuple[Any, ...], kwargs: Any) -> None:
    if method in ("center", "ljust", "rjust"):
        refuse(f"the width for {method}()", _width_arg(args, kwargs, "width"), MAX_WIDTH)
    elif method == "zfill":
        refuse("the width for zfill()", _width_arg(args, kwargs, "width"), MAX_WIDTH)
    elif method == "expandtabs":
        tabsize = _width_arg(args, kwargs, "tabsize")
        refuse("the length after expandtabs()", len(text) + text.count("\t") * tabsize, MAX_CHARS)
    elif method == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1])
    elif method == "join" and args:
        items = args[0]
        if isinstance(items, list | tuple):
            total = len(text) * len(items) + sum(length_of(i) for i in items)
            refuse("the length after join()", total, MAX_CHARS)
    elif method in ("format", "format_map"):
        check_brace_format(text)
        for value in (*args, *kwargs.values()):  # str() of them runs in C: bounded first
            check_printable(value)


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        refuse(
            "the length after replace", len(text) + hits * max(len(new) - len(old), 0), MAX_CHARS
        )


# --- builtin filters --------------------------------------------------------------


def _center(value: Any, width: int = 80) -> str:
    refuse("the width for center", width if isinstance(width, int) else 0, MAX_WIDTH)
    return jinja_filters.do_center(value, width)


def _indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    size = len(width) if isinstance(width, str) else width
    refuse("the width for indent", size, MAX_WIDTH)
    refuse("the length after indent", len(str(s)) + str(s).count("\n") * size, MAX_CHARS)
    return jinja_filters.do_indent(s, width, first, blank)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    check_percent_format(str(value))
    result = jinja_filters.do_format(value, *args, **kwargs)
    check_size(result)
    return result


@jinja2.pass_eval_context
def _replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    _check_replace(str(s), str(old), str(new))
    return jinja_filters.do_replace(eval_ctx, s, old, new, count)


@jinja2.pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    if isinstance(value, list | tuple):  # before joining: the C code builds it whole
        check_printable(value)
        total = len(str(d)) * max(len(value) - 1, 0) + sum(length_of(i) for i in value)
        refuse("the length after join", total, MAX_CHARS)
    result = jinja_filters.sync_do_join(eval_ctx, value, d, attribute)
    check_size(result)
    return result


def _wordwrap(
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    wrap = "\n" if wrapstring is None else str(wrapstring)
    refuse("the wrapstring of wordwrap", len(wrap), MAX_WIDTH)
    lines = len(str(s)) // max(width if isinstance(width, int) else 1, 1) + 1
    refuse("the length after wordwrap", len(str(s)) + lines * len(wrap), MAX_CHARS)
    env = jinja2.Environment()  # only its newline_sequence is read, when wrapstring is None
    return jinja_filters.do_wordwrap(env, s, width, break_long_words, wrap, break_on_hyphens)


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    if fill_with is not None:
        refuse("the size of a filled batch", linecount, MAX_WIDTH)
    return jinja_filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    refuse("the number of slices", slices, MAX_WIDTH)
    return jinja_filters.sync_do_slice(value, slices, fill_with)


@jinja2.pass_eval_context
def _tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
    refuse("the indent for tojson", indent or 0, 100)
    return check_size(jinja_filters.do_tojson(eval_ctx, check_printable(value), indent))


def _string(value: Any) -> str:
    return soft_str(check_printable(value))


# Jinja's builtin filters that can build a huge value from a small argument, checked
# first. Folded at compile time too: a refusal there leaves it to run time.
_BOUNDED_FILTERS: Mapping[str, Callable[..., Any]] = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "replace": _replace,
    "join": _join,
    "wordwrap": _wordwrap,
    "batch": _batch,
    "slice": _slice,
    "tojson": _tojson,
    "string": _string,
}


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    refuse("the number of lipsum paragraphs", n, MAX_LIPSUM)
    refuse("the words of a lipsum paragraph", max, 1000)
    return str(jinja2.utils.generate_lorem_ipsum(n, html, min, max))


# --- the environment ----------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """``a ~ b`` cannot be intercepted by the sandbox: each operand is checked before
    ``str()`` turns it into text (in C), and what it built after. Not folded."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        self.write(f"environment.checked_concat({join}((")
        for arg in node.nodes:
            self.write("environment.printable(")
            self.visit(arg, frame)
            self.write("), ")
        self.write(")))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with size caps on operators, str methods and filters."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters.update(_BOUNDED_FILTERS)
        self.globals["lipsum"] = _lipsum

    def printable(self, value: Any) -> Any:
        return check_printable(value)

    def checked_concat(self, value: Any) -> Any:
        return check_size(value, "the length of a joined string (~)")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            check_repeat(left, right)
        elif operator == "**":
            check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            check_percent_format(left)
            check_printable(right)
        return check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # str.format arrives wrapped by the sandbox; the method it wraps tells the string.
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            _check_str_method(owner, getattr(method, "__name__", ""), args, kwargs)
        return check_size(super().call(__context, __obj, *args, **kwargs))
