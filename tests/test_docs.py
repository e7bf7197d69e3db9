"""The manual agrees with the code: generated pages are current, the README stays a front page, links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from realdata import load_script  # noqa: E402

from loralab.config import describe

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Pages other helpers write in this round; a link to one is allowed while it does not exist yet.
# Empty this once they are merged, so a broken link to them fails again.
PENDING: set[str] = set()  # pages linked before they exist (none now)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


gen_docs = load_script(ROOT / "scripts" / "gen_docs.py")


@pytest.mark.parametrize("path", sorted(gen_docs.pages()), ids=lambda p: p.name)
def test_generated_page_is_current(path):
    assert path.exists(), f"{path.relative_to(ROOT)} is missing; regenerate: {gen_docs.REGENERATE}"
    assert path.read_text(encoding="utf-8") == gen_docs.pages()[path], \
        f"{path.relative_to(ROOT)} differs from the code; regenerate: {gen_docs.REGENERATE}"


def test_every_run_config_key_is_explained():
    # the configuration page is only as good as the descriptions in loralab/config.py
    assert [key for key, _, doc in describe() if not doc.strip()] == []


def test_configuration_page_lists_allowed_values():
    page = gen_docs.configuration_page()
    assert "| `eval.backend` | `'transformers'` |" in page
    assert "One of: `transformers`, `vllm`, `openai`." in page and "Any of: `tensorboard`, `mlflow`." in page
    assert "| `matrix` | `(required)` |" in page


def test_readme_is_a_front_page_that_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    first_block = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "demo"], ["make", "test"]]


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            if dest.name not in PENDING:
                broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_the_readme_study_is_a_valid_study(tmp_path):
    from loralab.studies.matrix import load_study

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    study = tmp_path / "study.yaml"
    study.write_text(text.split("```yaml\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    spec, runs = load_study(study)
    assert spec.study.name == "quickstart" and sorted(runs) == ["lr2e-3", "lr5e-4"]
    assert runs["lr5e-4"].train.learning_rate == 5e-4 and runs["lr2e-3"].eval.select_on == "val"
    assert runs["lr2e-3"].data.source == "bundled:acme"


def test_data_formats_page_documents_every_result_schema():
    # the result-files section is generated from loralab/results.py; the prose around it is kept
    from loralab import results

    page = gen_docs.data_formats_page()
    assert page.startswith("# Data formats and prompt templates") and "## Prepared row schema" in page
    section = page.split(gen_docs.RESULTS_START, 1)[1].split(gen_docs.RESULTS_END, 1)[0]
    for name in ("EvalSummary", "Comparison", "TrainSummary", "RoutingSummary", "StudyFile", "TaskScore"):
        assert f"### `{name}`" in section
    assert "| `pass@1` | `float` | `(required)` |" in section  # the key as the file spells it (the alias)
    assert "| `mcnemar_p_holm` | `float \\| None` | `None` | Holm-adjusted" in section  # the source comment
    assert results.STUDY in section and results.SAMPLES in section  # the layout from results.py's docstring
