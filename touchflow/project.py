"""A whole project, loaded and cross-checked: config, rules, templates, variables.

``load_project_checked`` is what `touchflow validate` runs and what every other
command runs first, so nothing previews or sends from a project that does not
validate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from touchflow.checks import did_you_mean
from touchflow.collector import collector_paused
from touchflow.config.http import UNSUBSCRIBE_SECRET_ENV, HttpConfigError, secret
from touchflow.config.project_config import CONFIG_FILE, ProjectConfig, load_project
from touchflow.errors import ConfigError, Problem, ProblemsError
from touchflow.messages.render import MESSAGE_FIELDS, TemplateSet
from touchflow.messages.sms_check import sms_warnings, specimen
from touchflow.messages.template_check import check_template
from touchflow.messages.template_files import TemplateSource
from touchflow.messages.template_parts import missing_files, missing_message
from touchflow.messages.template_warnings import missing_unsubscribe, mixed_locales, unique
from touchflow.messages.unsubscribe import UnsubscribeLinks
from touchflow.messages.webhook_check import fields_problems
from touchflow.models import Category
from touchflow.rules.context import rule_scope
from touchflow.rules.expressions import parse_condition_ast
from touchflow.rules.loader import collect_rules
from touchflow.rules.schema import Rule
from touchflow.yamlload import load_yaml

TEMPLATES_DIR = "message_templates"

# What a preview signs its links with when no secret is set: links no server accepts.
_PREVIEW_SECRET = "preview: TOUCHFLOW_UNSUBSCRIBE_SECRET was not set"


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
    # What its plans follow (``planning_digest``): daemons that share a full plan compare.
    plan_digest: str | None = None
    # Rules whose messages answer one the customer sent: Auto-Submitted: auto-replied.
    auto_replied: frozenset[str] = frozenset()


# Sections of touchflow.yaml each machine may set its own way: no plan depends on them.
_MACHINE_SECTIONS = ("store", "sample", "delivery", "http", "daemon")


def source_digest(root: Path) -> str:
    """SHA-256 over the names and contents of touchflow.yaml, rules/ and message_templates/."""
    return _digest(root, [root / CONFIG_FILE]).hexdigest()


def planning_digest(root: Path) -> str:
    """SHA-256 over what a plan follows: rules/, message_templates/ and touchflow.yaml but
    its sections of the machine (store, sample, delivery, http, daemon), so daemons
    that deliver or listen differently still plan alike."""
    digest = _digest(root, [])
    config = load_yaml(root / CONFIG_FILE)
    if isinstance(config, dict):
        config = {k: v for k, v in config.items() if k not in _MACHINE_SECTIONS}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _digest(root: Path, paths: list[Path]) -> hashlib._Hash:
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
    return digest


def load_project_checked(root: Path) -> Project:
    """Load and check everything; ``ProblemsError`` lists every problem found."""
    before = source_digest(root)
    with collector_paused():  # tens of thousands of lasting objects, no garbage cycles
        project = _load_checked(root)
    if source_digest(root) != before:
        return project  # changed while loading: no digest vouches for it
    try:
        plans = planning_digest(root)
    except ProblemsError:  # changed since, into YAML that does not parse: as above
        return project
    return dataclasses.replace(project, digest=before, plan_digest=plans)


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
        raise ProblemsError(unique(problems))  # a layout many rules share: its problem once
    assert templates is not None
    replied = frozenset(r.id for r in rules if r.auto_submitted == "auto-replied")
    return Project(config=config, rules=tuple(rules), templates=templates, auto_replied=replied)


# What templates see as ``message`` beside the rule's names (touchflow.messages.build).
MESSAGE_SCOPE = {"message": {"subject": None, **dict.fromkeys(MESSAGE_FIELDS)}}


def project_warnings(project: Project) -> list[Problem]:
    """What `validate` warns about: marketing messages without an unsubscribe link or a
    postal address to show, and messages whose parts are in different languages."""
    warnings: list[Problem] = []
    marketing = sorted({r.template for r in project.rules if r.category is Category.MARKETING})
    for name in marketing:
        warnings.extend(missing_unsubscribe(project.templates, name))
    for name in sorted({r.template for r in project.rules}):
        warnings.extend(mixed_locales(project.templates, name))
    warnings.extend(_sms_warnings(project))
    if marketing and project.config.email.postal_address is None:
        message = (
            "warning: marketing rules send, but email.postal_address is not set: "
            "marketing mail should show the business's postal address (CAN-SPAM)"
        )
        warnings.append(Problem(path=CONFIG_FILE, line=None, message=message))
    return warnings


def _sms_warnings(project: Project) -> list[Problem]:
    """Texts longer than delivery.sms.max_segments, marketing texts without STOP."""
    sms = project.config.delivery.sms
    if sms is None:
        return []
    warnings: list[Problem] = []
    for rule in project.rules:
        if "sms" not in rule.channels or not project.templates.has(rule.template):
            continue
        scope = {**rule_scope(rule, project.config), **MESSAGE_SCOPE}
        context = specimen(scope, project.config, rule_id=rule.id)
        marketing = rule.category is Category.MARKETING
        warnings.extend(
            sms_warnings(
                project.templates,
                rule.template,
                context,
                max_segments=sms.max_segments,
                marketing=marketing,
            )
        )
    return list(unique(warnings))


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
    scope = {**rule_scope(rule, config), **MESSAGE_SCOPE}
    problems: list[Problem] = []
    missing = missing_files(templates, rule.template, rule.channels)
    if missing:
        message = missing_message(rule.id, rule.template, TEMPLATES_DIR, missing)
        problems.append(Problem(path=rule.path, line=rule.line, message=message))
    for source in [*templates.sources(rule.template), *templates.layouts(rule.template)]:
        problems.extend(check_template(source, scope, used_by=rule.id))
    if "webhook" in rule.channels and not problems:  # rendered only once it checks
        context = specimen(scope, config, rule_id=rule.id)
        problems.extend(fields_problems(templates, rule.template, context))
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


def with_links(project: Project, environ: Mapping[str, str], *, preview: bool = False) -> Project:
    """``project`` with the unsubscribe links its messages carry (when http.public_url is set).

    Without the secret a daemon refuses to start (``HttpConfigError`` naming it); a
    preview shows links of the same shape that no server accepts.
    """
    http = project.config.http
    if http is None or http.public_url is None:
        return dataclasses.replace(project, unsubscribe=None)
    if preview and not environ.get(UNSUBSCRIBE_SECRET_ENV):
        key = _PREVIEW_SECRET
    else:
        key = secret(environ, UNSUBSCRIBE_SECRET_ENV, needed_for="http.public_url is set")
    return dataclasses.replace(
        project, unsubscribe=UnsubscribeLinks(public_url=http.public_url, key=key)
    )


def load_with_links(root: Path, environ: Mapping[str, str]) -> Project:
    """``load_project_checked`` and ``with_links``: how `touchflow run` loads and reloads.

    A missing secret is reported as a problem of touchflow.yaml, so a reload that
    adds ``http.public_url`` without it is refused like any other broken change.
    """
    project = load_project_checked(root)
    try:
        return with_links(project, environ)
    except HttpConfigError as exc:
        raise ConfigError([Problem(path=CONFIG_FILE, line=None, message=str(exc))]) from None
