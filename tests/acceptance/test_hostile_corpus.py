"""Every hostile template and YAML document in tests/hostile/ is refused clearly.

Each runs in a subprocess with 1 GiB of address space and a timeout: a
regression (a render that hangs, a MemoryError, an error message that formats
a billion laughs) fails here instead of taking CI down. tests/hostile/README.md
says how to add a case.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from daemon_support import copy_sample

CORPUS = Path(__file__).resolve().parents[1] / "hostile"
TEMPLATES = sorted((CORPUS / "templates").glob("*.j2"))
YAMLS = sorted((CORPUS / "yaml").glob("*.yaml"))
ADDRESS_SPACE = 1 << 30
TIMEOUT = 60
_EXPECT = re.compile(r"^(?:\{#|#) expect( at render)?: (.*?)(?: #\})?$")

# Renders every case with validate's constant check left out, as if the hostile
# expression read a variable: the render itself must refuse or stop it.
_RENDER = """
import json, sys
from pathlib import Path
import touchflow.messages.render as render
import touchflow.messages.template_files as template_files
from touchflow.errors import RenderError
template_files.constant_overruns = lambda env, ast: []
templates = render.TemplateSet.load(Path(sys.argv[1]), display_root="message_templates")
results = {}
for name in sorted(templates.names()):
    try:
        templates.render(name, locale=None, timezone="UTC", context={})
        results[name] = "rendered"
    except RenderError as exc:
        results[name] = str(exc)
print(json.dumps(results))
"""


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_limited,
        check=False,
    )


def expectation(path: Path) -> tuple[bool, str]:
    """(only a render can catch it, the words its error must contain)."""
    match = _EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name}: the first line must say what to expect (README.md)"
    return bool(match.group(1)), match.group(2)


def _template_dir(path: Path) -> str:
    return f"hostile-{path.stem}"


@cache
def _project(root: Path) -> Path:
    for path in TEMPLATES:
        folder = root / "message_templates" / _template_dir(path)
        folder.mkdir()
        (folder / "subject.txt").write_text("hostile\n", encoding="utf-8")
        (folder / "body.txt").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    for path in YAMLS:
        (root / "rules" / f"hostile-{path.name}").write_bytes(path.read_bytes())
    return root


@pytest.fixture(scope="module")
def corpus_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _project(copy_sample(tmp_path_factory.mktemp("hostile")))


@pytest.fixture(scope="module")
def validated(corpus_project: Path) -> tuple[int, list[str]]:
    done = _run("-m", "touchflow", "validate", cwd=corpus_project)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.returncode, (done.stdout + done.stderr).splitlines()


@pytest.fixture(scope="module")
def rendered(corpus_project: Path) -> dict[str, str]:
    done = _run("-c", _RENDER, str(corpus_project / "message_templates"), cwd=corpus_project)
    assert done.returncode == 0, done.stderr[-3000:]
    results: dict[str, str] = json.loads(done.stdout)
    return results


def test_the_corpus_has_cases() -> None:
    assert len(TEMPLATES) >= 10 and len(YAMLS) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_validate_reports_a_hostile_template_at_its_line(
    path: Path, validated: tuple[int, list[str]]
) -> None:
    at_render, words = expectation(path)
    code, lines = validated
    shown = f"message_templates/{_template_dir(path)}/body.txt"
    mine = [line for line in lines if line.startswith(shown)]
    if at_render:
        assert mine == []
    else:
        assert code == 2
        assert len(mine) == 1 and words in mine[0], mine
        assert re.match(rf"{re.escape(shown)}:\d+: too large: ", mine[0])


@pytest.mark.slow
@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_rendering_a_hostile_template_is_refused_or_stopped(
    path: Path, rendered: dict[str, str]
) -> None:
    _, words = expectation(path)
    result = rendered[_template_dir(path)]
    assert words in result
    assert re.match(rf"message_templates/{_template_dir(path)}/body.txt:\d+: ", result), result


@pytest.mark.slow
@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.stem)
def test_validate_reports_a_hostile_yaml_file_briefly(
    path: Path, validated: tuple[int, list[str]]
) -> None:
    _, words = expectation(path)
    code, lines = validated
    mine = [line for line in lines if line.startswith(f"rules/hostile-{path.name}:")]
    assert code == 2
    assert any(words in line for line in mine), mine
    # An error quotes what the user wrote, cut short: never a whole expanded value.
    assert all(len(line) < 500 for line in mine), max(map(len, mine))
