"""metrics.jsonl (always) and the optional trackers: TensorBoard, MLflow (local file store by default).

Training logs its losses here; `log_eval_summary` adds every evaluated checkpoint's pass@k
and solved count at its training step, so the trackers show them beside the loss curve.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from loralab.errors import missing_extra
from loralab.io import write_jsonl
from loralab.results import METRICS, SUMMARY


def read_metrics(path: Path) -> list[dict]:
    """Rows of metrics.jsonl; a line a SIGKILL cut in half is skipped, not an error."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class MetricsLog:
    """Appends one JSON line per logging step or evaluation, and mirrors it to trackers."""

    def __init__(self, run_dir: Path, report_to: list[str], config: dict, resume_step: int | None):
        self.path = run_dir / METRICS
        if resume_step is None:
            write_jsonl(self.path, [])
        else:  # rows after the checkpoint we resume from are replayed, so drop them
            write_jsonl(self.path, [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step])
        self.trackers = [_tracker(name, run_dir, config) for name in report_to]

    def log(self, row: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, sort_keys=True) + "\n")
        numbers = {k: v for k, v in row.items() if k not in ("step", "epoch") and isinstance(v, (int, float))}
        for tracker in self.trackers:
            tracker.log(numbers, row["step"])

    def rows(self) -> list[dict]:
        return read_metrics(self.path)

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()
        self.trackers = []


def eval_metrics(summary: dict) -> dict[int, dict[str, float]]:
    """{training step: {metric: value}} of an eval summary.json: per task pass@1, pass@k
    (as pass_at_K: MLflow refuses '@' in names), solved and problems; the base is step 0."""
    by_step: dict[int, dict[str, float]] = {}
    for system in summary["systems"]:
        row = by_step.setdefault(system["step"], {})
        for task, score in system["tasks"].items():
            row[f"eval/{task}/pass_at_1"] = score["pass@1"]
            for k, value in score.get("pass@k", {}).items():
                row[f"eval/{task}/pass_at_{k}"] = value
            row[f"eval/{task}/solved"] = score["solved"]
            row[f"eval/{task}/n_problems"] = score["n_problems"]
    return by_step


def log_eval_summary(eval_dir: Path, log_dir: Path, report_to: list[str], config: dict) -> bool:
    """Send eval_dir/summary.json's metrics, one step per checkpoint, to each tracker of
    `report_to`, writing under `log_dir` (the run directory: beside the training curves).

    Logged once per summary: eval_dir/tracked.json records what was sent, so re-running a
    finished evaluation adds no duplicate points. True when something was logged."""
    from loralab.io import read_json, sha256_file, write_json

    eval_dir, log_dir = Path(eval_dir), Path(log_dir)
    if not report_to:
        return False
    marker = {"summary_sha256": sha256_file(eval_dir / SUMMARY), "report_to": sorted(report_to),
              "log_dir": str(log_dir.resolve())}
    if (eval_dir / TRACKED).is_file() and read_json(eval_dir / TRACKED) == marker:
        return False
    trackers = [_tracker(name, log_dir, config) for name in report_to]
    try:
        for step, numbers in sorted(eval_metrics(read_json(eval_dir / SUMMARY)).items()):
            for tracker in trackers:
                tracker.log(numbers, step)
    finally:
        for tracker in trackers:
            tracker.close()
    write_json(eval_dir / TRACKED, marker)
    return True


TRACKED = "tracked.json"  # in an eval directory: the summary last sent to the trackers


def _tracker(name: str, run_dir: Path, config: dict):
    return {"tensorboard": TensorBoard, "mlflow": MLflow}[name](run_dir, config)


class TensorBoard:
    def __init__(self, run_dir: Path, config: dict):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise missing_extra("tensorboard", "tracking") from None
        self.writer = SummaryWriter(str(run_dir / "tensorboard"))
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```")

    def log(self, numbers: dict, step: int) -> None:
        for key, value in numbers.items():
            tag = key if "/" in key else f"train/{key}" if key != "val_loss" else "eval/loss"  # eval/TASK/... kept
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        self.writer.close()


class MLflow:
    """A local file store under RUN/mlruns unless MLFLOW_TRACKING_URI points elsewhere."""

    def __init__(self, run_dir: Path, config: dict):
        try:
            import mlflow
        except ImportError:
            raise missing_extra("mlflow", "tracking") from None
        self.mlflow = mlflow
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri((run_dir / "mlruns").resolve().as_uri())
        mlflow.set_experiment("loralab")
        mlflow.start_run(run_name=run_dir.name)
        flat = {f"{s}.{k}": v for s, section in config.items() for k, v in section.items()}
        mlflow.log_params({k: str(v)[:250] for k, v in flat.items()})

    def log(self, numbers: dict, step: int) -> None:
        self.mlflow.log_metrics(numbers, step=step)

    def close(self) -> None:
        self.mlflow.end_run()
