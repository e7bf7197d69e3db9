"""The study's judge stage: each run's chosen checkpoint against its base model, by a pairwise judge.

A matrix study with a `judge:` section runs it after every run is trained and evaluated,
with `loralab judge`'s machinery (loralab/eval/judge.py): both systems answer every
instruction greedily, a judge compares each pair in both orders, and the rates are
AlpacaEval's (win rate, standard error, loralab's length-controlled win rate) and
MT-Bench's (win/loss/tie, win_rate_adjusted).

    judge:
      endpoint: https://api.openai.com/v1      # an OpenAI-compatible URL, or local
      model: gpt-4o-mini                       # the judge (local: default the embedded model)
      api_key_env: OPENAI_API_KEY              # the key is read from this variable, never the YAML
      instructions: [../shared/data/judge/alpaca_eval.jsonl, ../shared/data/judge/mt_bench_question.jsonl]
      limit: 100
      checkpoint: selected                     # selected | val_loss | last

Files (loralab/results.py):

    STUDY/runs/NAME/judge/SET/        one `loralab judge` directory per instruction file (SET = its stem)
    STUDY/runs/NAME/judge/summary.json  JudgeSummary: the judged checkpoint, each set's settings and rates
    STUDY/cache/judge/                the answer and verdict caches every run shares (the base answers once)

A set is skipped when summary.json records it with the same settings (checkpoint contents,
instruction file hash, judge, limit, lengths); anything else re-judges it, and the caches
make the answers and verdicts that did not change free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loralab import results
from loralab.config import RunConfig
from loralab.errors import LoralabError
from loralab.io import read_json, write_json

OPENAI_DEFAULT_JUDGE = "gpt-4o-mini"
NAMED_TEMPLATES = ("alpaca", "dolly", "plain")


class JudgeSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field("local", description="Judge: an OpenAI-compatible base URL, or 'local' (judge.model "
                                               "loaded in the study's process).")
    model: str | None = Field(None, description="Judge model (default: gpt-4o-mini for a URL, the embedded model "
                                                "for local).")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the endpoint's API key.")
    instructions: list[str] = Field(..., min_length=1, description="Instruction files: AlpacaEval-style "
                                    "{instruction[, input, output]} or MT-Bench-style {question_id, turns} JSONL; "
                                    "each is a set named by its file stem.")
    limit: int | None = Field(None, ge=1, description="Judge the first N instructions of each file.")
    checkpoint: Literal["selected", "val_loss", "last"] = Field(
        "selected", description="Which checkpoint of each run meets the base: selected (the evaluation's pick, "
                                "pass@1 on eval.select_on), val_loss (lowest validation loss), last.")
    max_new_tokens: int = Field(512, ge=1, description="Answer length limit of both systems, in tokens.")
    judge_max_tokens: int = Field(256, ge=1, description="Length limit of each judge reply, in tokens.")
    batch_size: int = Field(8, ge=1, description="Answers generated together.")

    def judge_model(self) -> str:
        from loralab.models import DEFAULT_MODEL

        return self.model or (DEFAULT_MODEL if self.endpoint == "local" else OPENAI_DEFAULT_JUDGE)

    def set_names(self) -> dict[str, str]:
        """{set name (the file stem): instruction file}."""
        return {Path(p).stem: p for p in self.instructions}


def check_judge(section: JudgeSection, runs: dict[str, RunConfig], source: str | Path) -> None:
    """Everything the judge stage will need, checked before a study starts (not after hours of training)."""
    from loralab.eval.judge import load_questions
    from loralab.inputs import endpoint_url, input_file, model_name

    where = f"{source}: judge"
    if section.endpoint != "local":
        endpoint_url(section.endpoint, f"{where}.endpoint")
    else:
        model_name(section.judge_model(), f"{where}.model")
    stems = [Path(p).stem for p in section.instructions]
    if len(set(stems)) != len(stems):
        raise LoralabError(f"{where}.instructions: two files share a name ({stems}); each set is named by its "
                           "file stem, so rename one")
    for i, path in enumerate(section.instructions):
        input_file(path, f"{where}.instructions[{i}]")
        load_questions(path, section.limit)  # a bad row is one error naming file and line
    for name, cfg in runs.items():
        if cfg.data.template in NAMED_TEMPLATES:
            raise LoralabError(f"{source} (run '{name}'): data.template {cfg.data.template}: the judge asks both "
                               "systems through the model's chat template, so the run must be trained on it too; "
                               "set data.template to chat (or auto)")
        if section.checkpoint == "selected" and not cfg.eval.tasks:
            raise LoralabError(f"{where}.checkpoint: selected needs an evaluation (eval.tasks is empty in run "
                               f"'{name}'); use val_loss or last")


# ----------------------------------------------------------------------------- which checkpoint


def chosen_checkpoint(run_dir: Path, how: str) -> tuple[Path, int | None]:
    """(checkpoint directory, step) of a run for judge.checkpoint `how`."""
    if how == "selected":
        return _selected(run_dir)
    from loralab.train.checkpoints import complete_checkpoints, read_index

    if how == "last":
        found = complete_checkpoints(run_dir)
        if not found:
            raise LoralabError(f"{run_dir}: no complete checkpoint to judge")
        step, path = found[-1]
        return path, step
    scored = [r for r in read_index(run_dir) if r.get("val_loss") is not None]
    if not scored:
        raise LoralabError(f"{run_dir}/checkpoints.json: no checkpoint has a validation loss; set train.eval_steps "
                           "(or judge.checkpoint: selected or last)")
    best = min(scored, key=lambda r: (r["val_loss"], r["step"]))  # ties: the earlier step
    return run_dir / best["path"], best["step"]


def _selected(run_dir: Path) -> tuple[Path, int | None]:
    path = results.eval_dir(run_dir) / results.SUMMARY
    summary = results.parse(results.EvalSummary, read_json(path), path)
    if summary.best is None:
        raise LoralabError(f"{path}: no checkpoint was selected (none was evaluated); judge.checkpoint: last judges "
                           "the final one")
    system = next(s for s in summary.systems if s.name == summary.best.name)
    return Path(system.adapter), system.step


def system_under_test(cfg: RunConfig, checkpoint: Path):
    """A LoRA checkpoint on the run's base model, or a full fine-tuned model directory."""
    from loralab.eval.judge import SystemSpec

    if (checkpoint / "adapter_config.json").is_file():
        return SystemSpec("model", cfg.model.name, str(checkpoint))
    return SystemSpec("model", str(checkpoint))


# ----------------------------------------------------------------------------- the stage


def judge_run(root: Path, name: str, cfg: RunConfig, section: JudgeSection) -> Path:
    """Judge run `name`'s chosen checkpoint against its base on every set; returns summary.json."""
    from loralab.eval.judge import SystemSpec, run_judge

    run = results.run_dir(root, name)
    out = results.judge_dir(run)
    checkpoint, step = chosen_checkpoint(run, section.checkpoint)
    model, base = system_under_test(cfg, checkpoint), SystemSpec("base", cfg.model.name)
    summary = _load_summary(out)
    fresh = {"checkpoint": checkpoint.name, "step": step, "selected_by": section.checkpoint,
             "judge_endpoint": section.endpoint, "judge_model": section.judge_model()}
    if {k: summary.get(k) for k in fresh} != fresh:
        summary = {**fresh, "sets": {}}  # another checkpoint or judge: no earlier set still holds
    for set_name, path in section.set_names().items():
        settings = _settings(section, path, model, base, checkpoint)
        done = summary["sets"].get(set_name)
        if done and done.get("settings") == settings and (out / set_name / "results.json").is_file():
            continue
        res = run_judge(path, model, base, out / set_name, endpoint=section.endpoint,
                        judge_model=section.judge_model(), limit=section.limit,
                        max_answer_tokens=section.max_new_tokens, max_judge_tokens=section.judge_max_tokens,
                        batch_size=section.batch_size, device=cfg.model.device, api_key_env=section.api_key_env,
                        cache_dir=root / "cache" / results.JUDGE)
        summary["sets"][set_name] = {"instructions": str(path), "settings": settings, "results": res.stats}
        _write_summary(out, summary)  # after every set: a killed stage keeps the sets it finished
    _write_summary(out, summary)
    return out / results.SUMMARY


def _settings(section: JudgeSection, path: str, model, base, checkpoint: Path) -> dict:
    """What decides a set's verdicts; a change in any of them re-judges the set."""
    import hashlib

    from loralab.inference.generate import dir_identity

    return {"instructions_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(), "limit": section.limit,
            "model": vars(model), "base": vars(base), "checkpoint_identity": dir_identity(checkpoint),
            "max_new_tokens": section.max_new_tokens, "judge_max_tokens": section.judge_max_tokens}


def _load_summary(out: Path) -> dict:
    path = out / results.SUMMARY
    if not path.is_file():
        return {"sets": {}}
    return results.parse(results.JudgeSummary, read_json(path), path).model_dump(mode="json")


def _write_summary(out: Path, summary: dict) -> Path:
    path = out / results.SUMMARY
    return write_json(path, results.check(results.JudgeSummary, summary, path))
