"""Bounds on what a template or a condition may compute: size caps and a time limit.

The people who write templates and conditions are trusted, but a typo
(``{{ 9**9**9 }}``, ``{{ " " * 10**9 }}``, ``{{ x | center(10**10) }}``) must
neither take the daemon down nor hang a preview. Jinja's sandbox lets us
intercept binary operators and calls; what it cannot intercept (its builtin
filters, ``~``) is wrapped here, and whatever still runs too long is stopped
by ``time_limit``.

Sizes are refused *before* they are built where the result size can be known
(``*``, ``**``, ``center``, ``indent``...), and right after otherwise: every
value a template builds is then at most ``MAX_CHARS`` long, so a ``~`` or a
``+`` of a few of them is too (induction), and the check after is enough.

Intercepted operators and calls are also what keeps Jinja's optimizer from
computing ``{{ 9**9**9 }}`` while it *compiles* the template: it folds only
what it may, and intercepted operators and sandboxed calls are never folded.
Builtin filters are folded, which is why the risky ones are replaced.
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import jinja2
from jinja2 import filters as jinja_filters
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import soft_str

from touchflow.watchdog import Watchdog

MAX_CHARS = 1_000_000  # a string or list a template builds (the output cap is 256 KiB)
MAX_WIDTH = 10_000  # a width or precision in a format, center, indent... argument
MAX_INT_BITS = 16_384  # about 4,900 decimal digits
MAX_LIPSUM = 100  # paragraphs of lorem ipsum
RENDER_SECONDS = 2.0  # one render of a template (all its parts) or one condition
_NODES = 100_000  # elements of nested lists/dicts str() may walk before it is refused


class LimitError(SecurityError):
    """A template asked for something too big; the message says what and the limit."""


class RenderTimeout(Exception):
    """Raised inside a render or condition that ran past its time limit."""


# --- the time limit ---------------------------------------------------------------


_WATCHDOG = Watchdog(RenderTimeout)


def time_limit(seconds: float | None = None) -> AbstractContextManager[None]:
    """Run the body with a deadline (RENDER_SECONDS): past it, RenderTimeout is raised in
    it, once (touchflow.watchdog)."""
    return _WATCHDOG.guard(RENDER_SECONDS if seconds is None else seconds)


# --- sizes ------------------------------------------------------------------------


def _refuse(what: str, size: int, limit: int) -> None:
    if size > limit:
        raise LimitError(f"{what} would be {size:,}; at most {limit:,} is allowed")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | bytes) else 0


def check_size(value: Any, what: str = "the length of a value") -> Any:
    """``value`` if it is not longer than MAX_CHARS; else LimitError."""
    _refuse(what, _length(value), MAX_CHARS)
    if isinstance(value, int) and not isinstance(value, bool):
        _refuse("the size of a number in bits", value.bit_length(), MAX_INT_BITS)
    return value


def check_printable(value: Any) -> Any:
    """Refuse nested lists/dicts whose text would be huge (``[a, a]`` doubled 60 times):
    ``str()`` of them runs in C, where even the time limit cannot stop it."""
    if not isinstance(value, list | tuple | dict):
        return value
    budget = _NODES
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            raise LimitError(f"a value to print has more than {_NODES:,} items")
        if isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item.keys())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return value


def _repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            _refuse("the length of a repeated string or list", len(seq) * max(times, 0), MAX_CHARS)


def _power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        _refuse(
            "the size of a power in bits", (abs(base).bit_length() - 1) * exponent, MAX_INT_BITS
        )


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def check_percent_format(fmt: str) -> None:
    """``"%0999999999d" % 1`` would build a gigabyte: widths are capped, ``*`` refused,
    and so is a format whose widths add up past MAX_CHARS (``"%9999s" * 100000``)."""
    total = len(fmt)
    for match in _PERCENT_SPEC.finditer(fmt.replace("%%", "")):
        for width in match.groups():
            if width == "*":
                raise LimitError("a '*' width in a % format is not allowed in templates")
            if width is not None:
                _refuse("a width or precision in a % format", int(width), MAX_WIDTH)
                total += int(width)
    _refuse("the length of a formatted string", total, MAX_CHARS)


def check_format_spec(spec: str) -> None:
    for digits in _DIGITS.findall(spec):
        _refuse("a width or precision in a format", int(digits), MAX_WIDTH)


def check_brace_format(fmt: str) -> None:
    """``"{:>999999999}".format(1)``: every field's spec, nested ones too, is checked,
    and the widths of all fields together (``"{0:>9999}" * 100000``)."""
    total = len(fmt)
    for _text, field, spec, _conversion in string.Formatter().parse(fmt):
        if field is not None and spec:
            if "{" in spec:
                raise LimitError("a format width given by another field is not allowed")
            check_format_spec(spec)
            total += sum(int(digits) for digits in _DIGITS.findall(spec))
    _refuse("the length of a formatted string", total, MAX_CHARS)


# --- str methods and filters --------------------------------------------------------


def _width_arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> int:
    width = args[0] if args else kwargs.get(name, 0)
    return width if isinstance(width, int) else 0


def _check_str_method(text: str, method: str, args: tuple[Any, ...], kwargs: Any) -> None:
    if method in ("center", "ljust", "rjust"):
        _refuse(f"the width for {method}()", _width_arg(args, kwargs, "width"), MAX_WIDTH)
    elif method == "zfill":
        _refuse("the width for zfill()", _width_arg(args, kwargs, "width"), MAX_WIDTH)
    elif method == "expandtabs":
        tabsize = _width_arg(args, kwargs, "tabsize")
        _refuse("the length after expandtabs()", len(text) + text.count("\t") * tabsize, MAX_CHARS)
    elif method == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1])
    elif method == "join" and args:
        items = args[0]
        if isinstance(items, list | tuple):
            total = len(text) * len(items) + sum(_length(i) for i in items)
            _refuse("the length after join()", total, MAX_CHARS)
    elif method in ("format", "format_map"):
        check_brace_format(text)
        for value in (*args, *kwargs.values()):  # str() of them runs in C: bounded first
            check_printable(value)


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        _refuse(
            "the length after replace", len(text) + hits * max(len(new) - len(old), 0), MAX_CHARS
        )


def _bounded_filters() -> dict[str, Callable[..., Any]]:
    """Jinja's builtin filters that can build a huge value from a small argument,
    checked first. Folded at compile time too: a refusal there leaves it to run time."""

    def center(value: Any, width: int = 80) -> str:
        _refuse("the width for center", width if isinstance(width, int) else 0, MAX_WIDTH)
        return jinja_filters.do_center(value, width)

    def indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
        size = len(width) if isinstance(width, str) else width
        _refuse("the width for indent", size, MAX_WIDTH)
        _refuse("the length after indent", len(str(s)) + str(s).count("\n") * size, MAX_CHARS)
        return jinja_filters.do_indent(s, width, first, blank)

    def format_(value: Any, *args: Any, **kwargs: Any) -> str:
        check_percent_format(str(value))
        result = jinja_filters.do_format(value, *args, **kwargs)
        check_size(result)
        return result

    @jinja2.pass_eval_context
    def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> str:
        _check_replace(str(s), str(old), str(new))
        return jinja_filters.do_replace(eval_ctx, s, old, new, count)

    @jinja2.pass_eval_context
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
        if isinstance(value, list | tuple):  # before joining: the C code builds it whole
            check_printable(value)
            total = len(str(d)) * max(len(value) - 1, 0) + sum(_length(i) for i in value)
            _refuse("the length after join", total, MAX_CHARS)
        result = jinja_filters.sync_do_join(eval_ctx, value, d, attribute)
        check_size(result)
        return result

    def wordwrap(s: str, width: int = 79, break_long_words: bool = True,
                 wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:  # fmt: skip
        wrap = "\n" if wrapstring is None else str(wrapstring)
        _refuse("the wrapstring of wordwrap", len(wrap), MAX_WIDTH)
        lines = len(str(s)) // max(width if isinstance(width, int) else 1, 1) + 1
        _refuse("the length after wordwrap", len(str(s)) + lines * len(wrap), MAX_CHARS)
        env = jinja2.Environment()  # only its newline_sequence is read, when wrapstring is None
        return jinja_filters.do_wordwrap(env, s, width, break_long_words, wrap, break_on_hyphens)

    def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        if fill_with is not None:
            _refuse("the size of a filled batch", linecount, MAX_WIDTH)
        return jinja_filters.do_batch(value, linecount, fill_with)

    def slice_(value: Any, slices: int, fill_with: Any = None) -> Any:
        _refuse("the number of slices", slices, MAX_WIDTH)
        return jinja_filters.sync_do_slice(value, slices, fill_with)

    @jinja2.pass_eval_context
    def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        _refuse("the indent for tojson", indent or 0, 100)
        return check_size(jinja_filters.do_tojson(eval_ctx, check_printable(value), indent))

    def string_(value: Any) -> str:
        return soft_str(check_printable(value))

    return {
        "center": center,
        "indent": indent,
        "format": format_,
        "replace": replace,
        "join": join,
        "batch": batch,
        "wordwrap": wordwrap,
        "slice": slice_,
        "tojson": tojson,
        "string": string_,
    }


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    _refuse("the number of lipsum paragraphs", n, MAX_LIPSUM)
    _refuse("the words of a lipsum paragraph", max, 1000)
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
        self.filters.update(_bounded_filters())
        self.globals["lipsum"] = _lipsum

    def printable(self, value: Any) -> Any:
        return check_printable(value)

    def checked_concat(self, value: Any) -> Any:
        return check_size(value, "the length of a joined string (~)")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _repeat(left, right)
        elif operator == "**":
            _power(left, right)
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


# --- validate: constant expressions are computed once, under the same bounds --------

_NOT_CONSTANT = (
    nodes.ContextReference,
    nodes.DerivedContextReference,
    nodes.EnvironmentAttribute,
    nodes.ExtensionAttribute,
    nodes.ImportedName,
    nodes.InternalName,
    nodes.NSRef,
)


def constant_overruns(env: jinja2.Environment, ast: nodes.Template) -> list[tuple[int, str]]:
    """(line, message) for each expression made of constants that breaks a bound.

    So ``validate`` reports ``{{ " " * 10**9 }}`` at its line instead of leaving it
    to every render. Expressions that read a variable can only be checked then.
    """
    stored = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    names = set(env.globals) - stored
    found: list[tuple[int, str]] = []

    def visit(node: nodes.Node) -> None:
        if isinstance(node, nodes.Expr) and _computes(node) and _constant(node, names):
            message = _overrun(env, node)
            if message is not None:
                found.append((node.lineno, message))
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(ast)
    return found


def _computes(node: nodes.Expr) -> bool:
    return not isinstance(node, nodes.Const | nodes.TemplateData | nodes.Name)


def _constant(node: nodes.Node, names: set[str]) -> bool:
    for inner in (node, *node.find_all(nodes.Node)):
        if isinstance(inner, _NOT_CONSTANT):
            return False
        if isinstance(inner, nodes.Name) and (inner.ctx != "load" or inner.name not in names):
            return False
    return True


def _overrun(env: jinja2.Environment, node: nodes.Expr) -> str | None:
    # Assigned, not printed: `range(100000) | list` is fine to loop over.
    target = nodes.Name("_tf_constant", "store", lineno=node.lineno)
    tree = nodes.Template([nodes.Assign(target, copy.deepcopy(node), lineno=node.lineno)])
    try:
        template = env.from_string(tree)  # Jinja takes an AST as well as text
        with time_limit():
            template.render()
    except LimitError as exc:
        return f"too large: {exc}"
    except RenderTimeout:
        return f"stopped: computing this took longer than {RENDER_SECONDS:g} s"
    except Exception:  # any other error needs the values a render has; not ours to judge
        return None
    return None
