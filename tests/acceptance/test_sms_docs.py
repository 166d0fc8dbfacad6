"""docs/channels.md's SMS section as written: the folder provider tried out in a copy of
the sample, and the examples of validate's words matching what validate says."""

from __future__ import annotations

import json
from pathlib import Path

from daemon_support import invoke
from docs_support import REPO, example_blocks, run_example, steps, touchflow_on_path

from touchflow.project import load_project_checked, project_warnings


def test_trying_the_folder_provider_in_the_sample_works_as_docs_channels_md_shows(
    sample: Path, tmp_path: Path
) -> None:
    found = steps(example_blocks("channels.md", "### Try it with the folder provider"))
    assert [out is None for _, out in found] == [True, False], "the example lost a step"
    run_example(found, sample, touchflow_on_path(tmp_path))
    assert project_warnings(load_project_checked(sample)) == []
    # The preview shows the text: whole in the JSON, its start in the table.
    args = ("preview", "--now", "2026-12-11T11:00:00Z", "--days", "1", "--customer", "c-100")
    (item,) = json.loads(invoke(sample, *args, "--format", "json").output)
    text = "Lumen Studio: reminder of your Massage on Dec 11, 2026 at 3:00 PM. To move it: "
    assert (item["channel"], item["to"], item["sms"]) == (
        "sms",
        "+4915112345678",
        text + "https://lumen.example/book",
    )
    assert (item["subject"], item["text"]) == ("", "")
    table = " ".join(invoke(sample, *args).output.split())
    assert "Lumen Studio: reminder of your Massage on Dec 11, 2026 at 3…" in table


def test_the_sample_s_texts_are_one_segment_each_in_gsm7(sample: Path) -> None:
    config = sample / "touchflow.yaml"
    text = config.read_text(encoding="utf-8")
    assert "    provider: folder\n" in text  # as the docs say the sample has it
    config.write_text(
        text.replace("    provider: folder\n", "    provider: folder\n    max_segments: 1\n")
    )
    # The reminder as the English and the German customer get it: GSM-7, one segment each.
    assert project_warnings(load_project_checked(sample)) == []


def test_the_documented_problem_and_warning_read_as_validate_writes_them() -> None:
    text = (REPO / "docs" / "channels.md").read_text(encoding="utf-8")
    assert (
        "rules/texts.yaml:1: rule 'appointment-text' uses template 'welcome', which cannot be "
        "sent on its channel: sms needs sms.txt in message_templates/welcome/"
    ) in text
    assert (
        "warning: the text of template 'appointment_reminder' renders (with sample values) "
        "to 4 SMS segments, more than delivery.sms.max_segments (3), in UCS-2"
    ) in text
