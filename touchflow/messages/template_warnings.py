"""What `touchflow validate` warns about in templates: a message that would still go out,
but is not one worth receiving.

- A marketing message whose body (text or HTML) does not show the unsubscribe link:
  neither its file nor the layout it extends prints ``message.unsubscribe_url`` (a block
  the file overrides without ``super()`` hides what the layout has there).
- A message whose parts come from different languages: ``de/`` has a subject and a
  text, but the HTML part falls back to the English root (the fallback is per file), or
  a German body extends an English layout. A regional variant that overrides only the
  subject (``de_AT/subject.txt`` over ``de/``) is the same language, and fine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from jinja2 import nodes

from touchflow.errors import Problem
from touchflow.messages.render import TemplateSet
from touchflow.messages.template_files import TemplateSource

UNSUBSCRIBE_NAME = "message.unsubscribe_url"


def missing_unsubscribe(templates: TemplateSet, name: str) -> list[Problem]:
    """A warning for each body file of template ``name`` that shows no unsubscribe link."""
    found = []
    for source in templates.sources(name):
        # A text says STOP instead (touchflow.messages.sms_check); a webhook's fields
        # go to the business's own system, not to the customer.
        if source.part in ("subject", "sms", "webhook") or _shows_link(templates, source):
            continue
        found.append(
            Problem(
                path=source.display_path,
                line=_last_line(source.ast),
                message=f"warning: template {name!r} is sent as marketing, but this part "
                f"shows no unsubscribe link: print {{{{ {UNSUBSCRIBE_NAME} }}}} in it (or "
                'extend a layout that does, e.g. {% extends "base.html" %})',
            )
        )
    return found


def mixed_locales(templates: TemplateSet, name: str) -> list[Problem]:
    """A warning for each locale of template ``name`` whose parts are in different languages."""
    default = templates.default_locale
    variants = sorted({s.locale for s in templates.sources(name) if s.locale is not None})
    found = []
    for locale in variants:
        files: list[tuple[str, str]] = []  # (shown path, language)
        for source in templates.chosen(name, locale):
            files.append((source.display_path, _language(source.locale, default)))
            for layout in _chain(templates, source):
                files.append((layout.display_path, _language(layout.locale, default)))
        if len({language for _, language in files}) > 1:
            parts = ", ".join(f"{path} ({language})" for path, language in files)
            found.append(
                Problem(
                    path=f"{_directory(templates, name)}/{locale}",
                    line=None,
                    message=f"warning: a customer in {locale} gets one message in more "
                    f"than one language: {parts}; translate the missing files into {locale}/",
                )
            )
    return found


def _directory(templates: TemplateSet, name: str) -> str:
    root = next(s for s in templates.sources(name) if s.locale is None)
    return root.display_path.rsplit("/", 1)[0]


def _language(locale: str | None, default: str) -> str:
    return (locale or default).split("_")[0]


def _chain(templates: TemplateSet, source: TemplateSource) -> list[TemplateSource]:
    """The layouts ``source`` extends, nearest first."""
    chain: list[TemplateSource] = []
    shown = templates.extends(source.display_path)
    layouts = {s.display_path: s for s in templates.layouts(source.template)}
    while shown is not None and shown in layouts and layouts[shown] not in chain:
        chain.append(layouts[shown])
        shown = templates.extends(shown)
    return chain


def _shows_link(templates: TemplateSet, source: TemplateSource) -> bool:
    hidden: set[str] = set()
    for current in [source, *_chain(templates, source)]:
        if _mentions(current.ast, hidden):
            return True
        hidden |= {
            block.name
            for block in current.ast.find_all(nodes.Block)
            if not any(_is_super(call) for call in block.find_all(nodes.Call))
        }
    return False


def _mentions(node: nodes.Node, hidden: set[str]) -> bool:
    if isinstance(node, nodes.Block) and node.name in hidden:
        return False
    if _is_link(node):
        return True
    return any(_mentions(child, hidden) for child in node.iter_child_nodes())


def _is_link(node: nodes.Node) -> bool:
    if isinstance(node, nodes.Getattr):
        attr: object = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        attr = node.arg.value
    else:
        return False
    inner = node.node
    return attr == "unsubscribe_url" and isinstance(inner, nodes.Name) and inner.name == "message"


def _is_super(call: nodes.Call) -> bool:
    return isinstance(call.node, nodes.Name) and call.node.name == "super"


def _last_line(ast: nodes.Template) -> int:
    """The last line with content: where a footer with the link would go."""
    lines = [1]
    for node in ast.find_all(nodes.Node):
        line = getattr(node, "lineno", 1) or 1
        if isinstance(node, nodes.TemplateData):  # text spanning lines starts at its first
            line += node.data.rstrip("\n").count("\n")
        lines.append(line)
    return max(lines)


def unique(problems: Iterable[Problem]) -> Sequence[Problem]:
    """Each problem once, in the order first found (a template many rules use, once)."""
    return list(dict.fromkeys(problems))
