"""Bounds on what a template or a condition may compute: size caps and a time limit.

The people who write templates and conditions are trusted, but a typo
(``{{ 9**9**9 }}``, ``{{ " " * 10**9 }}``, ``{{ x | center(10**10) }}``) must
neither take the daemon down nor hang a preview. The sandbox (``touchflow.sandbox``)
checks what a template computes against the caps here, and whatever still runs too
long is stopped by ``time_limit``.

Sizes are refused *before* they are built where the result size can be known
(``*``, ``**``, ``center``, ``indent``...), and right after otherwise: every
value a template builds is then at most ``MAX_CHARS`` long, so a ``~`` or a
``+`` of a few of them is too (induction), and the check after is enough.
"""

from __future__ import annotations

import copy
import re
import string
from contextlib import AbstractContextManager
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError

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


def refuse(what: str, size: int, limit: int) -> None:
    """LimitError saying ``what`` would be ``size`` if that is over ``limit``."""
    if size > limit:
        raise LimitError(f"{what} would be {size:,}; at most {limit:,} is allowed")


def length_of(value: Any) -> int:
    """The length of a string or sequence; 0 for anything else."""
    return len(value) if isinstance(value, str | list | tuple | bytes) else 0


def check_size(value: Any, what: str = "the length of a value") -> Any:
    """``value`` if it is not longer than MAX_CHARS; else LimitError."""
    refuse(what, length_of(value), MAX_CHARS)
    if isinstance(value, int) and not isinstance(value, bool):
        refuse("the size of a number in bits", value.bit_length(), MAX_INT_BITS)
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


def check_repeat(left: Any, right: Any) -> None:
    """``left * right`` of a string or list, refused before it is built."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            refuse("the length of a repeated string or list", len(seq) * max(times, 0), MAX_CHARS)


def check_power(base: Any, exponent: Any) -> None:
    """``base ** exponent`` of whole numbers, refused before it is computed."""
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        refuse("the size of a power in bits", (abs(base).bit_length() - 1) * exponent, MAX_INT_BITS)


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
                refuse("a width or precision in a % format", int(width), MAX_WIDTH)
                total += int(width)
    refuse("the length of a formatted string", total, MAX_CHARS)


def check_format_spec(spec: str) -> None:
    for digits in _DIGITS.findall(spec):
        refuse("a width or precision in a format", int(digits), MAX_WIDTH)


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
    refuse("the length of a formatted string", total, MAX_CHARS)


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
