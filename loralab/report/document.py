"""The whole report as one Document: the facts at the top and the sections in order."""

from __future__ import annotations

import time

from loralab.report.blocks import Document
from loralab.report.charts import charts_section, learn_forget_section
from loralab.report.configs import config_section
from loralab.report.format import DASH, duration
from loralab.report.iterations import iterations_section
from loralab.report.judges import judge_section
from loralab.report.load import StudyResults
from loralab.report.sections import (
    checkpoints_section,
    environment_section,
    problems_section,
    routing_section,
    significance_section,
    summary_section,
    training_section,
)


def build_document(study: StudyResults) -> Document:
    meta = study.meta or {}
    hw = meta.get("hardware") if isinstance(meta.get("hardware"), dict) else meta
    where = f"{hw.get('cpu') or 'unknown CPU'} × {hw.get('cores') or '?'} cores, GPU: {hw.get('gpu') or 'none'}"
    facts = [("study directory", str(study.dir.resolve())),
             ("study finished", str(meta.get("finished_at") or f"{DASH} (no meta.json yet)")),
             ("wall time", duration(meta.get("seconds"))),
             ("hardware", where if study.meta else DASH),
             ("runs", ", ".join(r.name for r in study.runs)),
             ("report written", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))]
    sections = [summary_section(study), significance_section(study),
                charts_section(study, study.dir / "figures"), config_section(study), training_section(study),
                checkpoints_section(study), problems_section(study), environment_section(study)]
    extra = [routing_section(study), learn_forget_section(study, study.dir / "figures")]
    sections[2:2] = [x for x in extra if x is not None]
    judged = judge_section(study)  # beside the pass@1 table, only in studies with a judge stage
    if judged is not None:
        sections.insert(1, judged)
    if (iterations := iterations_section(study)) is not None:  # only for studies marked as iterations
        sections.insert(1, iterations)
    return Document(f"Study report: {study.name}", facts, sections)
