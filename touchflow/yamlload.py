"""Safe YAML loading that remembers where each value came from.

``yaml.SafeLoader`` semantics (no Python tags), but mappings and sequences come
back as ``LineDict``/``LineList`` that know the 1-based line of themselves, of
each key and of each item, so errors can say ``file:line``.

A file is read with libyaml (PyYAML's C parser, about 8 times faster) when it can be: no
anchors (so no aliases to count) and nesting within the limit. Anything else, and
any error, goes through the pure-Python loader, whose checks and words the error
messages are written for, so both ways give the same values and the same problems.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from touchflow.errors import Problem, ProblemsError
from touchflow.yamlhints import explain


class LineDict(dict[str, Any]):
    """A mapping from YAML with the line of the mapping and of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML with the line of the sequence and of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


MAX_YAML_BYTES = 1024 * 1024  # a rules file or touchflow.yaml; split bigger rule sets
MAX_ALIAS_NODES = 100_000  # values reached through aliases (*name), counted expanded
MAX_YAML_DEPTH = 100  # levels of nested mappings and lists


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts what aliases expand to.

    PyYAML shares an aliased value instead of copying it, so a "billion laughs"
    document loads small; but every walk of it (checks, error messages, JSON)
    sees it expanded. Refused while composing, at the alias that goes too far.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> nodes it stands for, expanded
        self._through_aliases = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        # Composing (and constructing) recurse once per level: a deep enough file
        # would end in Python's RecursionError, a traceback instead of a line.
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"values nested more than {MAX_YAML_DEPTH} levels deep; "
                    "no touchflow file needs that many: check the brackets or indentation",
                    event.start_mark,
                )
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        if isinstance(event, yaml.AliasEvent):
            self._through_aliases += self._sizes.get(id(node), 1)
            if self._through_aliases > MAX_ALIAS_NODES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} values "
                    "(a 'billion laughs' document?); write the values out or use fewer *aliases",
                    event.start_mark,  # type: ignore[arg-type]
                )
        else:
            self._sizes[id(node)] = 1 + sum([self._sizes.get(id(c), 1) for c in _children(node)])
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            # Keys like `1:` or `yes:` are almost always a typo in our files.
            key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_timestamp_as_text(loader: _Loader, node: yaml.ScalarNode) -> str:
    # Dates stay text: the rule language parses them itself with clear errors,
    # and "09:00" must never become sexagesimal 540.
    return str(loader.construct_scalar(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def _is_sexagesimal(tag: str, regexp: Any) -> bool:
    return tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in str(
        regexp.pattern
    )


# YAML 1.1 reads 09:00 as the integer 540 (base 60). Rebuild the int and float
# resolvers without their sexagesimal branches so times of day stay text.
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$""", re.X
)
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
    re.X,
)
_NUMERIC = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMERIC]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser and composer with _Loader's constructors and resolvers."""

    yaml_constructors = _Loader.yaml_constructors
    yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def _too_deep(root: yaml.Node) -> bool:
    """Whether the composed document nests deeper than MAX_YAML_DEPTH (walked, not recursed)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_YAML_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in _children(node))
    return False


def _load_fast(text: str) -> tuple[bool, Any]:
    """(True, the value) when libyaml read ``text`` cleanly; (False, None) to read it again
    with _Loader, which then names the problem (or counts the aliases)."""
    if not yaml.__with_libyaml__ or "&" in text:  # "&": maybe an anchor, so aliases
        return False, None
    if "\t" in text:  # libyaml takes tabs the pure loader refuses (after ":", ",", "{")
        return False, None
    try:
        loader = _FastLoader(text)
    except ValueError:  # text libyaml cannot take (a lone surrogate): the pure loader says so
        return False, None
    try:
        node = loader.get_single_node()
        if node is None:
            return True, None
        if _too_deep(node):
            return False, None
        return True, loader.construct_document(node)
    except (yaml.YAMLError, ValueError):  # the pure loader names it
        return False, None
    finally:
        loader.dispose()


def load_yaml(path: Path, *, display: str | None = None) -> Any:
    """Load one YAML file; raise ``ProblemsError`` with file:line on bad syntax."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:  # before reading: a YAML file is never this big on purpose
            limit = f"at most {MAX_YAML_BYTES:,} bytes; split it into several files"
            raise ProblemsError(
                [Problem(path=shown, line=None, message=f"too large: {size:,} bytes ({limit})")]
            )
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        raise ProblemsError(
            [Problem(path=shown, line=None, message=f"cannot read: {exc}")]
        ) from exc
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ProblemsError(
            [Problem(path=shown, line=line, message="not UTF-8 text: save the file as UTF-8")]
        ) from exc
    return load_yaml_text(text, display=shown)


def load_yaml_text(text: str, *, display: str) -> Any:
    read, value = _load_fast(text)
    if read:
        return value
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        line, what = explain(exc, text.splitlines())
        raise ProblemsError(
            [Problem(path=display, line=line, message=f"invalid YAML: {what}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise ProblemsError(
            [Problem(path=display, line=None, message=f"invalid YAML: {exc}")]
        ) from exc
    except ValueError as exc:  # a tagged value PyYAML's constructor cannot read: !!int 09
        message = f"invalid YAML: a tagged value cannot be read ({exc})"
        raise ProblemsError([Problem(path=display, line=None, message=message)]) from exc
