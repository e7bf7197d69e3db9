"""Typed run configuration: model, data, adapter, train and eval sections.

YAML only fills these models. Validation happens in one place (`load_config`) and
collects every problem before raising once, so a user fixes a config in one pass.
Unknown keys are errors that suggest the nearest valid key ("adapter.rank: unknown
key; did you mean 'r'?"). `--set a.b=value` overrides are applied before validation,
so they are checked exactly like YAML.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from loralab.errors import LoralabError


class _Section(BaseModel):
    # extra="forbid": a misspelt key must never be silently ignored (the commonest
    # silent failure with hand-written TrainingArguments dicts).
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Section):
    name: str = Field("smollm2-135m-instruct", description="Embedded alias, hub id, local directory or .gguf file.")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) when `name` is a hub id.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto picks cuda > mps > cpu.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bf16 on CUDA, fp16 on MPS; on CPU fp32 for training and, for generation, fp32 or "
                            "bf16 by a measurement cached per machine and model (docs/models.md).")
    tf32: bool = Field(True, description="Allow TF32 matmuls on Ampere+ GPUs (ignored elsewhere).")
    adapter: str | None = Field(None, description="A PEFT adapter directory to load on top of the base.")
    chat_template: Literal["auto", "none"] | str = Field(
        "auto", description="auto: the tokenizer's own if it has one; none: plain text; else a Jinja template.")
    trust_remote_code: bool = Field(False, description="Passed to transformers for hub models with custom code.")


class DataConfig(_Section):
    source: str = Field("bundled:pytasks", description="Hub dataset id, local .json/.jsonl/.csv/.parquet, or bundled:NAME.")
    prepared: str | None = Field(None, description="A directory written by `loralab prepare`; skips preparation.")
    format: Literal["auto", "alpaca", "dolly", "prompt_completion", "messages", "text", "pytasks"] = Field(
        "auto", description="Row layout of the source; auto detects from the field names.")
    field_map: dict[str, str] = Field(
        default_factory=dict, description="Rename source fields {source_name: format_name}, e.g. {question: instruction}.")
    template: Literal["auto", "alpaca", "dolly", "plain", "chat"] = Field(
        "auto", description="Prompt template: alpaca, dolly, plain, chat (the model's chat template); auto: chat when "
                            "the model has a chat template (not for prompt_completion: plain, nor text), else dolly for "
                            "dolly rows, plain for prompt/completion, chat for messages, alpaca otherwise. Recorded with "
                            "every checkpoint; `loralab eval` prompts the same way.")
    train_on: Literal["all_assistant", "last_assistant"] = Field(
        "all_assistant", description="Chat rows (messages): the loss covers every assistant turn (its content and "
        "end-of-turn token), as TRL and Axolotl do; last_assistant: only the final one. Never system or user turns.")
    hub_split: str | None = Field(None, description="Hub split to read (e.g. 'train'); None reads all splits.")
    use_predefined_splits: bool = Field(False, description="Keep the source's own train/validation/test splits.")
    split_names: dict[str, Literal["train", "validation", "test"]] = Field(
        default_factory=dict, description="With use_predefined_splits: which of our splits a source split fills, "
        "beyond the usual names, e.g. {test: validation} for a hub dataset with train/test only whose held-out rows "
        "should give the validation loss (early stopping) when the study tests on another benchmark.")
    seed: int = Field(42, ge=0, description="Seed of the global shuffle before splitting.")
    splits: tuple[float, float, float] = Field((0.8, 0.1, 0.1), description="train/validation/test fractions.")
    max_rows: int | None = Field(
        None, ge=1, description="Keep only the first N rows after shuffling (quick runs); with predefined splits, per split.")

    @model_validator(mode="after")
    def _splits_sum_to_one(self) -> DataConfig:
        if any(f < 0 for f in self.splits) or abs(sum(self.splits) - 1.0) > 1e-6:
            raise ValueError(f"splits must be non-negative and sum to 1, got {list(self.splits)}")
        if self.split_names and not self.use_predefined_splits:
            raise ValueError("split_names renames the source's own splits; it needs use_predefined_splits: true")
        return self

    def identity(self) -> dict[str, Any]:
        """The settings as hashed for a preparation's fingerprint and a study's data directory.

        split_names is left out while empty, so the preparations made before it existed keep
        their fingerprint (and studies their data directory) instead of being redone.
        """
        data = self.model_dump(mode="json")
        if not data["split_names"]:
            del data["split_names"]
        return data


class AdapterConfig(_Section):
    method: Literal["lora", "dora", "qlora", "full"] = Field("lora", description="full trains every weight.")
    r: int = Field(8, ge=1, description="LoRA rank.")
    alpha: float = Field(16, gt=0, description="LoRA alpha; the update is scaled by alpha/r (alpha/sqrt(r) with rslora).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    bias: Literal["none", "all", "lora_only"] = Field("none", description="Which biases to train.")
    target_modules: Literal["default", "all-linear"] | list[str] = Field(
        "default", description="default: the attention projections PEFT knows for the family; all-linear; or a list.")
    rslora: bool = Field(False, description="Rank-stabilised scaling alpha/sqrt(r) (Kalajdzievski 2023).")
    init: Literal["default", "gaussian", "pissa", "olora"] = Field("default", description="LoRA weight initialisation.")
    # QLoRA (Dettmers et al. 2023): 4-bit NF4 base, double quantisation, bf16 compute.
    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit quantisation type (qlora).")
    double_quant: bool = Field(True, description="Nested quantisation of the quantisation constants (qlora).")
    compute_dtype: Literal["bfloat16", "float16", "float32"] = Field("bfloat16", description="Matmul dtype (qlora).")


class TrainConfig(_Section):
    out_dir: str = Field("runs/train", description="Run directory: checkpoints, metrics.jsonl, loss.png.")
    objective: Literal["instruction", "cpt"] = Field(
        "instruction", description="instruction: loss on the response (+EOS) only; cpt: loss on every token.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate (after warm-up).")
    warmup_ratio: float = Field(0.03, ge=0, le=1, description="Fraction of steps spent warming up linearly.")
    epochs: float = Field(1.0, gt=0, description="Passes over the train split (ignored when max_steps is set).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    batch_size: int = Field(4, ge=1, description="Examples per device per micro-batch.")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    scheduler: Literal["cosine", "linear", "constant"] = Field("cosine", description="Learning-rate decay after warm-up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled weight decay (matrices only, not biases/norms).")
    max_grad_norm: float = Field(1.0, gt=0, description="Clip the global gradient norm to this.")
    optimizer: Literal["auto", "adamw", "adamw_8bit", "paged_adamw_32bit", "sgd"] = Field(
        "auto", description="auto: paged_adamw_32bit for qlora on CUDA (as in the QLoRA paper), adamw otherwise.")
    max_seq_len: int = Field(1024, ge=8, description="Longer examples are truncated (the count is reported).")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 autocast on CUDA; on CPU bf16 autocast where a short probe measures this CPU's "
        "bf16 matmuls >= 1.3x its fp32 ones, else fp32 (see docs/training.md, Speed).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward: less memory, ~30% slower.")
    batching: Literal["auto", "pad", "length_grouped", "packed"] = Field(
        "auto", description="pad: pad to the batch's longest (the seeds' recipe); length_grouped: batches of similar "
        "lengths; packed (auto): no padding, attention kept within examples. The loss is the same in every mode.")
    seed: int = Field(42, ge=0, description="Seeds LoRA init, dropout and the data order.")
    logging_steps: int = Field(5, ge=1, description="Write a metrics.jsonl row every N steps.")
    eval_steps: int | None = Field(None, ge=1, description="Validation loss every N steps (None: at each save).")
    save_steps: int = Field(50, ge=1, description="Checkpoint every N steps (and at the end).")
    save_total_limit: int | None = Field(None, ge=1, description="Keep only the last K checkpoints.")
    early_stopping_patience: int | None = Field(None, ge=1, description="Stop after N evaluations without a better val loss.")
    eval_max_examples: int | None = Field(None, ge=1, description="Validation loss on the first N validation examples only.")
    report_to: list[Literal["tensorboard", "mlflow"]] = Field(
        default_factory=list, description="Trackers: RUN/tensorboard/, or MLflow (RUN/mlruns unless MLFLOW_TRACKING_URI is set).")


class EvalConfig(_Section):
    tasks: list[str] = Field(default_factory=lambda: ["humaneval"], description="e.g. humaneval, mbpp, livecodebench, pytasks.")
    limit: int | None = Field(None, ge=1, description="Evaluate the first N problems of each task.")
    n_samples: int = Field(1, ge=1, description="Completions per problem (n in pass@k).")
    k: list[PositiveInt] = Field(default_factory=lambda: [1], min_length=1, description="pass@k values to report (only k <= n).")
    temperature: float = Field(0.0, ge=0, description="0 means greedy.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling (only when temperature > 0).")
    max_new_tokens: int = Field(512, ge=1, description="Longest completion, in tokens.")
    batch_size: int = Field(32, ge=1, description="Rows decoded together (waiting prompts join as rows end).")
    template: Literal["auto", "chat", "completion", "alpaca", "dolly", "plain"] = Field(
        "auto", description="How code-task prompts are written: auto: as the run's checkpoints were trained (the "
        "template in their loralab.json), else the model's chat template if it has one, else completion (the task's "
        "raw code prompt). Forcing another than the trained one prints a warning.")
    backend: Literal["transformers", "vllm", "openai"] = Field(
        "transformers", description="Generation backend of `loralab eval` and studies; openai evaluates a model "
                                    "behind eval.endpoint, not a run's checkpoints.")
    endpoint: str | None = Field(None, description="Base URL of an OpenAI-compatible API (backend openai).")
    timeout_s: float = Field(10.0, gt=0, description="Wall-clock limit per sandboxed program.")
    workers: int | None = Field(None, ge=1, description="Parallel sandbox workers (default: core count).")
    select_on: str | None = Field(None, description="Task whose pass@1 picks the best checkpoint (default: first task).")
    report_on: str | None = Field(None, description="Task the report headlines (default: last task); 'val=pytasks' style aliases let one task serve twice.")
    task_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-task options, e.g. {livecodebench: {platform: atcoder, difficulty: easy}}.")


class RunConfig(_Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)


# ----------------------------------------------------------------------------- loading


def parse_overrides(pairs: list[str]) -> dict:
    """['train.learning_rate=1e-4', 'adapter.target_modules=[q_proj,v_proj]'] -> nested dict.

    Values are parsed as YAML scalars/flow collections, so numbers, booleans, null and
    lists come out typed exactly as they would from a YAML file.
    """
    tree: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise LoralabError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set train.learning_rate=1e-4")
        node = tree
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise LoralabError(f"--set {pair!r}: '{part}' is set twice with different shapes")
        try:
            node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return tree


def dotted_to_tree(flat: dict[str, Any]) -> dict:
    """{'adapter.r': 8} -> {'adapter': {'r': 8}}: typed values kept as they are (not parsed as YAML)."""
    tree: dict = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: str | Path) -> dict:
    from loralab.io import read_text

    path = Path(path)
    if not path.exists():
        raise LoralabError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(read_text(path))  # read_text: a directory or non-UTF-8 bytes is one clear error
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise LoralabError(f"{path}{where}: invalid YAML ({getattr(e, 'problem', e)})") from None
    if data is None:  # an empty file would silently mean "all defaults" (a full default training run)
        raise LoralabError(f"{path}: the config file is empty; write at least one section, or leave the file out "
                           "to use the defaults")
    if not isinstance(data, dict):
        raise LoralabError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the key at `loc` (for nearest-key suggestions)."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = section_model(getattr(field, "annotation", None)) if field else None
        if ann is None:
            return None
        model = ann
    return model


def nearest_key(key: str, valid: list[str]) -> list[str]:
    """The valid key a typo most likely meant: close spelling, else a shared prefix (rank -> r)."""
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if not near:
        near = sorted((v for v in valid if key.startswith(v) or v.startswith(key)), key=len, reverse=True)[:1]
    return near


def format_errors(err: ValidationError, model: type[BaseModel], source: str) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            owner = _model_at(model, loc)
            valid = list(owner.model_fields) if owner else []
            near = nearest_key(str(loc[-1]), valid)
            hint = f"; did you mean '{near[0]}'?" if near else (f"; valid keys: {', '.join(valid)}" if valid else "")
            lines.append(f"  {dotted}: unknown key{hint}")
        else:
            got = f" (got {e['input']!r})" if "input" in e and not isinstance(e["input"], dict) else ""
            lines.append(f"  {dotted}: {e['msg']}{got}")
    return f"{source}: {len(lines)} problem(s) in the config:\n" + "\n".join(lines)


def validate(model: type[BaseModel], data: dict, source: str) -> Any:
    """Validate `data` against `model`, raising one LoralabError listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise LoralabError(format_errors(e, model, source)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                model: type[BaseModel] = RunConfig) -> Any:
    """YAML file (optional) + --set overrides -> a validated config object."""
    data = read_yaml(path) if path else {}
    data = deep_merge(data, parse_overrides(overrides or []))
    return validate(model, data, str(path) if path else "--set")


def dump_config(cfg: BaseModel) -> str:
    """The resolved config as YAML, written next to every artifact."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def save_config(cfg: BaseModel, out_dir: str | Path, name: str = "config.yaml") -> Path:
    from loralab.io import write_text

    return write_text(Path(out_dir) / name, dump_config(cfg))


def describe(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, default, description) for every field: the reference of `loralab config --reference` and docs/configuration.md (scripts/gen_docs.py)."""
    rows = []
    for name, field in model.model_fields.items():
        ann = section_model(field.annotation)
        if ann is not None:
            rows += describe(ann, f"{prefix}{name}.")
        else:
            default = "(required)" if field.is_required() else repr(field.get_default(call_default_factory=True))
            rows.append((f"{prefix}{name}", default, field.description or ""))
    return rows


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The config model of a nested section: `Section` or an optional one (`Section | None`)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0]
    return None
