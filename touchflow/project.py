"""A whole project, loaded and cross-checked: config, rules, templates, variables.

``load_project_checked`` is what `touchflow validate` runs and what every other
command runs first, so nothing previews or sends from a project that does not
validate.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from touchflow.checks import did_you_mean
from touchflow.config import ProjectConfig, load_project
from touchflow.context import rule_scope
from touchflow.errors import Problem, ProblemsError
from touchflow.expressions import parse_condition_ast
from touchflow.render import TemplateSet, TemplateSource
from touchflow.rules.loader import collect_rules
from touchflow.rules.schema import Rule
from touchflow.template_check import check_template

if TYPE_CHECKING:
    from touchflow.unsubscribe import UnsubscribeLinks

TEMPLATES_DIR = "message_templates"


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    config: ProjectConfig
    rules: tuple[Rule, ...]
    templates: TemplateSet
    # One-click unsubscribe links for marketing messages (http.public_url and its secret).
    unsubscribe: UnsubscribeLinks | None = None
    # What it was loaded from (``source_digest``), or None if the files changed while
    # loading. The dispatcher's worker process loads the same project and compares.
    digest: str | None = None


def source_digest(root: Path) -> str:
    """SHA-256 over the names and contents of touchflow.yaml, rules/ and message_templates/."""
    paths = [root / "touchflow.yaml"]
    for folder in ("rules", TEMPLATES_DIR):
        paths += sorted(p for p in (root / folder).rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in paths:
        try:
            content = path.read_bytes()
        except OSError:
            continue
        name = str(path.relative_to(root)).encode()
        digest.update(b"%d:%s%d:" % (len(name), name, len(content)) + content)
    return digest.hexdigest()


def load_project_checked(root: Path) -> Project:
    """Load and check everything; ``ProblemsError`` lists every problem found."""
    before = source_digest(root)
    project = _load_checked(root)
    same = source_digest(root) == before
    return dataclasses.replace(project, digest=before if same else None)


def _load_checked(root: Path) -> Project:
    config = load_project(root)  # a broken config stops here: nothing else can be read
    problems: list[Problem] = []
    templates: TemplateSet | None = None
    rules, rule_problems = collect_rules(config)
    problems.extend(rule_problems)
    try:
        templates = TemplateSet.load(
            config.templates_dir, display_root=TEMPLATES_DIR, default_locale=config.locale
        )
    except ProblemsError as exc:
        problems.extend(exc.problems)
    if not config.templates_dir.is_dir():
        problems.append(Problem(path=TEMPLATES_DIR, line=None, message="directory is missing"))
    if templates is not None:
        for rule in rules:
            problems.extend(check_rule_templates(rule, config, templates))
    for rule in rules:
        problems.extend(check_conditions(rule, config))
    if problems:
        raise ProblemsError(problems)
    assert templates is not None
    return Project(config=config, rules=tuple(rules), templates=templates)


def check_rule_templates(
    rule: Rule, config: ProjectConfig, templates: TemplateSet
) -> list[Problem]:
    if not templates.has(rule.template):
        hint = did_you_mean(rule.template, templates.names())
        return [
            Problem(
                path=rule.path,
                line=rule.line,
                message=f"rule {rule.id!r} uses template {rule.template!r}, which does not "
                f"exist in {TEMPLATES_DIR}/{hint}",
            )
        ]
    scope = rule_scope(rule, config)
    problems: list[Problem] = []
    for source in templates.sources(rule.template):
        problems.extend(check_template(source, scope, used_by=rule.id))
    return problems


def check_conditions(rule: Rule, config: ProjectConfig) -> list[Problem]:
    """Conditions see the same names as templates; check them the same way."""
    scope = rule_scope(rule, config)
    problems: list[Problem] = []
    for condition in rule.conditions:
        source = TemplateSource(
            template=rule.id,
            display_path=rule.path,
            locale=None,
            part="text",
            ast=parse_condition_ast(condition.source),
        )
        for problem in check_template(source, scope, used_by=f"{rule.id} (condition)"):
            problems.append(dataclasses.replace(problem, line=condition.line))
    return problems
