"""Learning versus forgetting from hand-made result files: every number checked by hand."""

import pytest
import yaml

from loralab.analysis.learn_forget import study_points, write_learn_forget
from loralab.errors import LoralabError
from loralab.io import write_json
from loralab.report import write_report

# run -> system -> (humaneval pass@1, arc acc_norm, hellaswag acc_norm)
SCORES = {"lora": {"base": (0.10, 0.30, 0.40), "checkpoint-10": (0.15, 0.29, 0.40), "checkpoint-20": (0.20, 0.28, 0.38)},
          "full": {"base": (0.10, 0.30, 0.40), "checkpoint-10": (0.25, 0.20, 0.30)}}


def write_run(root, run, systems):
    d = root / "runs" / run
    (d / "config.yaml").parent.mkdir(parents=True, exist_ok=True)
    (d / "config.yaml").write_text(yaml.safe_dump({"adapter": {"method": run if run == "full" else "lora"}}))
    steps = {name: int(name.split("-")[1]) if "-" in name else 0 for name in systems}
    write_json(d / "eval" / "summary.json", {
        "report_on": "humaneval", "select_on": "humaneval",
        "best": {"name": list(systems)[-1], "step": steps[list(systems)[-1]], "pass@1": systems[list(systems)[-1]][0]},
        "systems": [{"name": n, "step": steps[n], "tasks": {"humaneval": {
            "n_problems": 20, "solved": round(20 * t), "pass@1": t, "pass@k": {"1": t}, "ci95": [0, 1]}}}
            for n, (t, _, _) in systems.items()]})
    write_json(d / "eval_mc" / "summary.json", {"tasks": ["arc_challenge", "hellaswag"], "systems": [
        {"name": n, "step": steps[n], "mean_primary": (a + h) / 2,
         "tasks": {"arc_challenge": {"acc": a - 0.01, "acc_norm": a, "primary": "acc_norm"},
                   "hellaswag": {"acc": h - 0.02, "acc_norm": h, "primary": "acc_norm"}}}
        for n, (_, a, h) in systems.items()]})


def test_points_are_base_relative(tmp_path):
    for run, systems in SCORES.items():
        write_run(tmp_path, run, systems)
    points = study_points(tmp_path)
    assert [(p.run, p.checkpoint) for p in points] == [("base", "base"), ("full", "checkpoint-10"),
                                                       ("lora", "checkpoint-10"), ("lora", "checkpoint-20")]
    base, full, _, lora20 = points
    assert (base.target_gain, base.source_change) == (0.0, 0.0)
    assert full.method == "full" and full.target_gain == pytest.approx(0.15)
    assert full.source_change == pytest.approx((0.20 + 0.30) / 2 - (0.30 + 0.40) / 2)  # -0.10
    assert lora20.target_gain == pytest.approx(0.10) and lora20.source_change == pytest.approx(-0.02)
    assert lora20.per_task == pytest.approx({"arc_challenge": -0.02, "hellaswag": -0.02})


def test_files_and_report_section(tmp_path):
    for run, systems in SCORES.items():
        write_run(tmp_path, run, systems)
    out, rows = write_learn_forget(tmp_path)
    assert rows[1]["target gain pp"] == 15.0 and rows[1]["source change pp"] == -10.0
    assert (out / "learn_forget.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| full | full | checkpoint-10 | 10 |" in (out / "learn_forget.md").read_text()
    md, html = write_report(tmp_path)
    assert "Learning versus forgetting" in md.read_text() and 'id="learn-forget-table"' in html.read_text()


def test_without_forgetting_results_one_clear_error(tmp_path):
    write_run(tmp_path, "lora", SCORES["lora"])
    (tmp_path / "runs" / "lora" / "eval_mc" / "summary.json").unlink()
    with pytest.raises(LoralabError, match="eval_mc/summary.json"):
        write_learn_forget(tmp_path)
