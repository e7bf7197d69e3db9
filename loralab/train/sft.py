"""`loralab train CONFIG`: supervised fine-tuning, the recipe written out.

    train(cfg, resume) -> run dir
      Recipe.setup_data     prepared splits -> tokenised Examples -> a deterministic batch Plan
      Recipe.setup_model    base (+4-bit for QLoRA) -> LoRA/DoRA via PEFT, or every weight trainable
      Recipe.setup_optimizer  AdamW + warm-up/decay schedule; restored from a checkpoint on resume
      Recipe.train          the loop: micro-batches -> loss -> backward -> clip -> step -> log/eval/save
      Recipe.cleanup        summary.json, loss.png, meta.json

A plain PyTorch loop on accelerate's `Accelerator` rather than HF `Trainer`: the loss is
computed only where a label is supervised (the 49k-vocabulary projection is ~20% of
SmolLM2's FLOPs and its fp32 logits the largest activation), batches are packed without
padding, resume is exact (the data plan is a pure function of the step), and every knob is
one of ours. Accelerator supplies DDP/FSDP/DeepSpeed and mixed precision under
`accelerate launch`, and is a no-op wrapper in a single process.

Loss normalisation: every optimizer step divides the summed token losses by the number of
supervised tokens in the whole step (all micro-batches, all processes), known in advance
from the plan. So the loss is the same whatever the batching mode, grad_accum or process
count (a per-micro-batch mean would weight short examples more; see HF transformers #34191).

Run directory: config.yaml, meta.json, metrics.jsonl, checkpoints.json, checkpoint-N/,
loss.png, summary.json (its presence marks a finished run: re-running is a no-op).
"""

from __future__ import annotations

import math
import resource
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from loralab.config import RunConfig, save_config
from loralab.errors import LoralabError
from loralab.io import read_json, read_jsonl, sha256_file, write_json, write_meta
from loralab.results import CHECKPOINT_INFO, CHECKPOINTS, META, SUMMARY, checkpoint_dir
from loralab.train import checkpoints
from loralab.train import resume as resume_checks
from loralab.train.batching import IGNORE, TokenizedExample, collate, make_plan, tokenize
from loralab.train.precision import reset_accelerate, resolve_precision, world_size

if TYPE_CHECKING:
    import torch

console = Console(stderr=True)
PRECISION = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}  # ours -> accelerate's mixed_precision


def train(cfg: RunConfig, resume: bool = False) -> Path:
    """Train `cfg` into cfg.train.out_dir (resuming from its last checkpoint if asked); returns the run dir."""
    run_dir = Path(cfg.train.out_dir)
    if (run_dir / SUMMARY).exists():
        console.print(f"{run_dir}: this run already finished (summary.json is there); nothing to do. "
                      "Choose another train.out_dir to train again.")
        return run_dir
    recipe = Recipe(cfg, run_dir, resume)
    try:
        recipe.setup_data()
        recipe.setup_model()
        recipe.setup_optimizer()
        recipe.train()
        recipe.cleanup()
    finally:
        recipe.release()
    return run_dir


def loss_sum(model, batch) -> torch.Tensor:
    """Summed cross-entropy (nats) over the supervised targets of `batch`.

    Logits are computed only at the kept positions: logits_to_keep slices the hidden
    states (B, T, d) -> (B, K, d) before lm_head, so the (B, T, V) tensor never exists.
    Packed rows carry position_ids that restart per example and no attention mask, from
    which transformers builds the block-diagonal causal mask (attention stays in-example).
    """
    import torch.nn.functional as F

    inputs = {"input_ids": batch.input_ids, "position_ids": batch.position_ids,
              "attention_mask": batch.attention_mask, "use_cache": False}
    try:
        logits = model(**inputs, logits_to_keep=batch.keep).logits  # (B, K, V)
    except TypeError as e:  # remote-code models without logits_to_keep: all logits, then slice
        if "logits_to_keep" not in str(e):
            raise
        logits = model(**inputs).logits[:, batch.keep]
    return F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.flatten(), ignore_index=IGNORE, reduction="sum")


def rss_mb(maxrss: int, platform: str = sys.platform) -> float:
    """getrusage's ru_maxrss in MiB: Linux counts it in KiB, macOS in bytes (getrusage(2) of each)."""
    return maxrss / (2**20 if platform == "darwin" else 2**10)


def early_stop(best: float | None, evals_since_best: int, val: float, patience: int | None) -> tuple[bool, bool]:
    """(is_new_best, stop) after an evaluation: stop after `patience` evaluations that do not beat the best."""
    if best is None or val < best:
        return True, False
    return False, patience is not None and evals_since_best + 1 >= patience


@dataclass
class State:
    """What a checkpoint must remember beyond weights, optimizer, scheduler and RNG."""

    step: int = 0
    tokens_seen: int = 0  # real (non-pad) input tokens, all processes
    samples_seen: int = 0
    runtime_s: float = 0.0  # training wall time, summed over sessions up to the checkpoint
    eval_s: float = 0.0  # of which validation
    checkpoint_s: float = 0.0  # of which checkpoint writing
    best_val_loss: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    initial_val_loss: float | None = None
    last_val_loss: float | None = None
    last_val_step: int | None = None
    last_train_loss: float | None = None
    stop_reason: str | None = None
    world: int = 1


class Window:
    """Sums between two logging steps (loss per supervised token, tokens/s, samples/s)."""

    def __init__(self):
        self.loss = self.supervised = self.tokens = self.samples = 0.0
        self.grad_norm = float("nan")
        self.t0 = time.perf_counter()

    def add(self, loss_sum: float, supervised: int, tokens: int, samples: int, grad_norm: float) -> None:
        self.loss += loss_sum
        self.supervised += supervised
        self.tokens += tokens
        self.samples += samples
        self.grad_norm = grad_norm


class Recipe:
    def __init__(self, cfg: RunConfig, run_dir: Path, resume: bool):
        from accelerate import Accelerator

        from loralab.models import pick_device
        from loralab.train.lora import check_init, quantization_config

        self.cfg, self.run_dir, self.started = cfg, run_dir, time.time()
        check_init(cfg.adapter, cfg.model.adapter)
        device = pick_device(cfg.model.device)
        self.precision = self._precision(device, resume)
        # Fails before any work when QLoRA has no CUDA or no bitsandbytes.
        self.quant = quantization_config(cfg.adapter, device) if cfg.adapter.method == "qlora" else None
        if world_size() == 1:
            # a run before this one (a study's other runs, a caller's code, a run that failed
            # before release()) may have left accelerate's singletons at another precision
            reset_accelerate()
        self.accelerator = Accelerator(mixed_precision=PRECISION[self.precision], cpu=device == "cpu")
        self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
        self.is_main = self.accelerator.is_main_process
        self.ckpt = self._resume_point(resume)
        self.state = State(world=self.world)
        self.log = None

    def say(self, text: str) -> None:
        if self.is_main:
            console.print(text, highlight=False)

    def _precision(self, device: str, resume: bool) -> str:
        """The precision to train in; a resumed `auto` run keeps the one it started in (the measurement may differ now)."""
        ckpt = checkpoints.last_checkpoint(self.run_dir) if resume and self.run_dir.exists() else None
        started = read_json(ckpt / "loralab.json").get("precision") if ckpt else None
        if self.cfg.train.precision == "auto" and started:
            return started
        return resolve_precision(self.cfg, device, world=world_size())

    # ------------------------------------------------------------------------- resume checks

    def _resume_point(self, resume: bool) -> Path | None:
        """The checkpoint to resume from, or None for a fresh start; refuses to clobber a run."""
        ckpt = checkpoints.last_checkpoint(self.run_dir) if self.run_dir.exists() else None
        if ckpt is None:
            if resume and self.run_dir.exists():
                self.say(f"{self.run_dir}: no complete checkpoint yet; starting from the beginning")
            return None
        if not resume:
            raise LoralabError(f"train.out_dir {self.run_dir}: holds an unfinished run (last checkpoint {ckpt.name}); "
                               "pass --resume to continue it, or choose another train.out_dir")
        resume_checks.check_same_config(self.cfg, self.run_dir)
        return ckpt

    # ------------------------------------------------------------------------- data

    def setup_data(self) -> None:
        from loralab.models import apply_chat_template_choice, load_tokenizer

        cfg = self.cfg
        self.tok = load_tokenizer(str(self.ckpt) if self.ckpt and cfg.adapter.method == "full" else cfg.model.name,
                                  revision=cfg.model.revision, trust_remote_code=cfg.model.trust_remote_code)
        apply_chat_template_choice(self.tok, cfg.model.chat_template)
        self.data_dir = Path(cfg.data.prepared) if cfg.data.prepared else self._prepare()
        if not (self.data_dir / "train.jsonl").is_file():
            raise LoralabError(f"data.prepared: {self.data_dir} has no train.jsonl; run `loralab prepare` into it")
        self.train_set, train_report = self._tokenize("train")
        if not self.train_set:
            raise LoralabError(f"{self.data_dir}/train.jsonl: no trainable example (see the warnings above)")
        self.val_set, val_report = self._tokenize("validation")
        if cfg.train.eval_max_examples:
            self.val_set = self.val_set[:cfg.train.eval_max_examples]
        if cfg.train.early_stopping_patience and not self.val_set:
            # Without this the option would be silently ignored: no validation loss, no stop.
            raise LoralabError(f"train.early_stopping_patience: {self.data_dir / 'validation.jsonl'} has no usable "
                               "example, so there is no validation loss to stop on; give the data a validation split "
                               "(data.splits, or data.split_names for a source whose own splits lack one) or drop "
                               "the option")
        self.reports = {"train": train_report.as_dict(), "validation": val_report.as_dict()}
        self.mode = "packed" if cfg.train.batching == "auto" else cfg.train.batching
        self.plan = make_plan(self.train_set, cfg.train.batch_size, cfg.train.grad_accum, self.world,
                              cfg.train.seed, self.mode)
        self.total_steps = self.plan.total_steps(cfg.train.epochs, cfg.train.max_steps)

    def _prepare(self) -> Path:
        out = self.run_dir / "data"
        if self.ckpt is not None and (out / META).is_file():
            # Resume trains on the very rows it started with, even if a newer loralab would now
            # prepare them otherwise (PREPARE_VERSION, the template `auto` picks).
            return out
        if self.is_main:
            from loralab.data.prepare import prepare

            self.say(prepare(self.cfg.data, out, model_cfg=self.cfg.model).summary())
        self.accelerator.wait_for_everyone()
        return out

    def _tokenize(self, split: str):
        from loralab.train.batching import TokenizeReport

        path = self.data_dir / f"{split}.jsonl"
        rows = read_jsonl(path) if path.is_file() else []
        if not rows:  # e.g. the validation split of a hub dataset with train/test only (the tokenizer fails on [])
            return [], TokenizeReport()
        examples, report = tokenize(rows, self.tok, self.cfg.train.objective, self.cfg.train.max_seq_len,
                                    split, all_assistant=self.cfg.data.train_on == "all_assistant")
        for warning in report.warnings(split, self.cfg.train.max_seq_len):
            self.say(f"[yellow]warning:[/yellow] {warning}")
        return examples, report

    # ------------------------------------------------------------------------- model

    def setup_model(self) -> None:
        import torch

        from loralab.models import load_model, trainable_summary
        from loralab.train.lora import adapter_state, attach, mutates_base

        cfg, device = self.cfg, self.accelerator.device
        # LoRA: the frozen base in the compute dtype; the adapter stays fp32 (PEFT). Full
        # fine-tuning keeps fp32 master weights and autocasts, so updates are not rounded away.
        load_dtype = torch.float32 if self.precision == "fp32" or cfg.adapter.method == "full" else \
            {"bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]
        resume_full = self.ckpt is not None and cfg.adapter.method == "full"
        mcfg = cfg.model.model_copy(update={"adapter": None, **({"name": str(self.ckpt)} if resume_full else {})})
        torch.manual_seed(cfg.train.seed)  # LoRA's A init draws from the global RNG
        model, _ = load_model(mcfg, device=str(device), dtype=load_dtype, quantization_config=self.quant)
        if device.type == "cpu" and self.mode == "packed":
            from loralab.train.attention import use_segment_attention

            use_segment_attention(model)  # each example's causal attention, not a (T, T) mask (measured faster)
        model = attach(model, cfg.adapter, gradient_checkpointing=cfg.train.gradient_checkpointing,
                       adapter_dir=None if self.ckpt else cfg.model.adapter)
        # PiSSA/OLoRA: A0, B0 as initialised, so every checkpoint can be saved as a plain LoRA
        # on the unmodified base. The init is a deterministic SVD/QR of the base, so a resumed
        # run re-derives the same W_res here and takes A0, B0 from its checkpoint.
        self.initial = adapter_state(model) if mutates_base(model) else None
        if self.ckpt is not None and cfg.adapter.method != "full":
            self._load_adapter_weights(model, self.ckpt, self.initial)
        torch.manual_seed(cfg.train.seed + self.rank)  # each process its own dropout masks
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.summary_line = trainable_summary(model)
        self.say(self.summary_line)
        self.model = model

    @staticmethod
    def _load_adapter_weights(model, ckpt: Path, initial: dict | None) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        weights = load_file(ckpt / "adapter_model.safetensors")
        # Saved as a plain rank-2r LoRA [A ; A0], [B | -B0]; a checkpoint of an older loralab
        # (init_lora_weights still "pissa") holds A, B themselves and loads as is.
        if initial is not None and read_json(ckpt / "adapter_config.json").get("init_lora_weights") is True:
            from loralab.train.lora import split_plain_lora

            weights, saved_initial = split_plain_lora(weights)
            resume_checks.check_same_init(ckpt, initial, saved_initial)
        result = set_peft_model_state_dict(model, weights)
        if getattr(result, "unexpected_keys", None):
            raise LoralabError(f"{ckpt}: adapter weights do not match this adapter config ({result.unexpected_keys[:3]})")

    # ------------------------------------------------------------------------- optimizer

    def setup_optimizer(self) -> None:
        from transformers import get_scheduler

        from loralab.train.lora import optimizer

        t = self.cfg.train
        self.optimizer = optimizer(t.optimizer, self.params, lr=t.learning_rate, weight_decay=t.weight_decay,
                                   method=self.cfg.adapter.method, device=self.accelerator.device.type)
        name = {"constant": "constant_with_warmup"}.get(t.scheduler, t.scheduler)
        self.scheduler = get_scheduler(name, self.optimizer, num_warmup_steps=math.ceil(t.warmup_ratio * self.total_steps),
                                       num_training_steps=self.total_steps)
        if self.ckpt is not None:
            if self.accelerator.distributed_type.name in ("FSDP", "DEEPSPEED"):
                # Their optimizer state is sharded per process; checkpoints keep rank 0's only.
                raise LoralabError(f"{self.ckpt}: --resume is exact for one process and DDP; a run under "
                                   f"{self.accelerator.distributed_type.name} must restart (or continue its adapter "
                                   "through model.adapter in a new train.out_dir)")
            saved = checkpoints.load_state(self.ckpt, rank=self.rank, optimizer=self.optimizer, scheduler=self.scheduler)
            self.state = State(**{k: v for k, v in saved.items() if k in State.__dataclass_fields__})
            if self.state.world != self.world:
                raise LoralabError(f"{self.ckpt}: written by {self.state.world} process(es); resume with the same number "
                                   f"(now {self.world}) so every process replays its own batches")
        # The scheduler is not prepared: accelerate would step it once per process.
        self.model, self.optimizer = self.accelerator.prepare(self.model, self.optimizer)

    # ------------------------------------------------------------------------- loop

    def train(self) -> None:
        import torch

        from loralab.train.tracking import MetricsLog

        t, st, plan, acc = self.cfg.train, self.state, self.plan, self.accelerator
        self._start_run_dir()
        self.log = MetricsLog(self.run_dir, t.report_to if self.is_main else [], self.cfg.model_dump(mode="json"),
                              resume_step=st.step if self.ckpt else None) if self.is_main else None
        if self.ckpt is None and self.val_set:
            st.initial_val_loss = self._evaluate(step=0)
        self.say(f"training {self.total_steps - st.step} step(s) of {self.total_steps} on {self.world} process(es), "
                 f"{acc.device.type}, {self.precision}, {self.mode} batches of {t.batch_size} x {t.grad_accum} accum")
        self.model.train()
        session_t0, window = time.perf_counter(), Window()
        with self._progress() as progress:
            task = progress.add_task("train", total=self.total_steps, completed=st.step, loss=float("nan"))
            # A run that stopped early and was killed before its summary has nothing left to do.
            for step in range(st.step, st.step if st.stop_reason else self.total_steps):
                epoch, micro = plan.step(step)
                supervised = sum(plan.supervised[i] for mb in micro for i in mb)  # all processes
                local = torch.zeros((), device=acc.device)
                for k, mb in enumerate(micro):
                    batch = collate([self.train_set[i] for i in plan.shard(mb, self.rank)], self.mode,
                                    self.tok.pad_token_id).to(acc.device)
                    with nullcontext() if k == len(micro) - 1 else acc.no_sync(self.model):
                        loss = loss_sum(self.model, batch)
                        # DDP averages gradients over processes, hence * world.
                        acc.backward(loss * (self.world / supervised))
                    local += loss.detach()
                step_loss = acc.reduce(local, "sum").item()
                self._guard("loss", step_loss / supervised, step + 1)
                grad_norm = float(acc.clip_grad_norm_(self.params, t.max_grad_norm))
                if self.precision != "fp16":  # fp16 overflow is expected; the scaler skips that step
                    self._guard("gradient norm", grad_norm, step + 1)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)

                tokens = sum(plan.lengths[i] for mb in micro for i in mb)
                samples = sum(len(mb) for mb in micro)
                st.step, st.tokens_seen, st.samples_seen = step + 1, st.tokens_seen + tokens, st.samples_seen + samples
                window.add(step_loss, supervised, tokens, samples, grad_norm)
                last = st.step == self.total_steps
                if st.step % t.logging_steps == 0 or last:
                    self._log_window(window, epoch=plan.epoch_at(st.step))
                    progress.update(task, completed=st.step, loss=st.last_train_loss)
                    window = Window()
                progress.update(task, completed=st.step)
                due_save = st.step % t.save_steps == 0 or last
                due_eval = (st.step % t.eval_steps == 0) if t.eval_steps else due_save
                if self.val_set and (due_eval or last):
                    t_eval = time.perf_counter()
                    self._after_eval(self._evaluate(st.step))
                    due_save = due_save or st.stop_reason == "early_stopping"
                    st.eval_s += time.perf_counter() - t_eval
                    window.t0 += time.perf_counter() - t_eval  # tokens/s counts training only
                if due_save:
                    t_save = time.perf_counter()
                    st.runtime_s += t_save - session_t0
                    session_t0 = t_save
                    self._save()
                    st.checkpoint_s += time.perf_counter() - t_save
                    window.t0 += time.perf_counter() - t_save
                if st.stop_reason:
                    break
        st.runtime_s += time.perf_counter() - session_t0
        st.stop_reason = st.stop_reason or ("max_steps" if t.max_steps else "epochs")

    def _progress(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("ETA"), TimeRemainingColumn(),
                        console=console, disable=not self.is_main, transient=False)

    def _guard(self, what: str, value: float, step: int) -> None:
        """Stop on nan/inf before the optimizer step, so no checkpoint ever holds poisoned weights."""
        if math.isfinite(value):
            return
        last = checkpoints.last_checkpoint(self.run_dir)
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint was saved before it"
        raise LoralabError(f"train: the {what} became {value} at step {step}; stopped without applying that step and "
                           f"{kept}. Lower train.learning_rate (or use bf16/fp32 rather than fp16) and run again "
                           "with --resume")

    def _log_window(self, w: Window, epoch: float) -> None:
        import torch

        seconds = max(time.perf_counter() - w.t0, 1e-9)
        loss = w.loss / max(w.supervised, 1)
        self.state.last_train_loss = loss
        if self.accelerator.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**20
        else:
            peak = rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        row = {"step": self.state.step, "epoch": epoch, "loss": round(loss, 6), "grad_norm": round(w.grad_norm, 6),
               "lr": self.scheduler.get_last_lr()[0], "tokens_per_s": round(w.tokens / seconds, 2),
               "samples_per_s": round(w.samples / seconds, 3), "peak_mem_mb": round(peak, 1)}
        if self.log:
            self.log.log(row)

    # ------------------------------------------------------------------------- evaluation

    def _evaluate(self, step: int) -> float:
        """Validation loss per supervised token over every process's share of the split."""
        import torch

        acc, bs = self.accelerator, self.cfg.train.batch_size
        wide = torch.float32 if acc.device.type == "mps" else torch.float64  # MPS has no float64
        total = torch.zeros((), device=acc.device, dtype=wide)
        count = torch.zeros((), device=acc.device, dtype=wide)
        self.model.eval()
        with torch.no_grad():
            # Every process runs the same number of forwards (DDP/FSDP need it); a process
            # with nothing left repeats one example with weight 0.
            for start in range(0, len(self.val_set), bs * self.world):
                mine = self.val_set[start:start + bs * self.world][self.rank::self.world]
                batch = collate(mine or self.val_set[:1], self.mode, self.tok.pad_token_id).to(acc.device)
                total += loss_sum(self.model, batch).to(wide) * (1.0 if mine else 0.0)
                count += sum(e.n_supervised for e in mine)
        self.model.train()
        val = (acc.reduce(total, "sum") / acc.reduce(count, "sum")).item()
        self.state.last_val_loss, self.state.last_val_step = val, step
        if self.log:
            self.log.log({"step": step, "epoch": self.plan.epoch_at(step), "val_loss": round(val, 6)})
        return val

    def _after_eval(self, val: float) -> None:
        st, patience = self.state, self.cfg.train.early_stopping_patience
        is_best, stop = early_stop(st.best_val_loss, st.evals_since_best, val, patience)
        if is_best:
            st.best_val_loss, st.best_step, st.evals_since_best = val, st.step, 0
            return
        st.evals_since_best += 1
        if stop:
            st.stop_reason = "early_stopping"
            self.say(f"early stopping at step {st.step}: {patience} evaluation(s) without beating "
                     f"val loss {st.best_val_loss:.4f} (step {st.best_step})")

    # ------------------------------------------------------------------------- files

    def _start_run_dir(self) -> None:
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            checkpoints.remove_partial(self.run_dir)
            save_config(self.cfg, self.run_dir)
            if self.ckpt is not None:  # the index may lag the last rename if a kill fell between them
                checkpoints.sync_index(self.run_dir, up_to=self.state.step)
                checkpoints.record(self.run_dir, read_json(self.ckpt / CHECKPOINT_INFO)["entry"])
                self.say(f"resuming from {self.ckpt} (step {self.state.step})")
            else:
                for stale in (CHECKPOINTS, "loss.png"):
                    (self.run_dir / stale).unlink(missing_ok=True)
        self.accelerator.wait_for_everyone()

    def _save(self) -> None:
        st = self.state
        entry = {"step": st.step, "epoch": self.plan.epoch_at(st.step), "tokens_seen": st.tokens_seen,
                 "train_loss": st.last_train_loss, "val_loss": st.last_val_loss if st.last_val_step == st.step else None,
                 "path": checkpoint_dir(self.run_dir, st.step).name}
        info = {"base_model": self.cfg.model.name, "method": self.cfg.adapter.method,
                "objective": self.cfg.train.objective, **self._prompt_record(),
                "chat_template": bool(getattr(self.tok, "chat_template", None)), "precision": self.precision,
                "step": st.step, "entry": entry}
        checkpoints.save(self.run_dir, st.step, rank=self.rank, barrier=self.accelerator.wait_for_everyone,
                                write_weights=self._write_weights, tokenizer=self.tok, info=info,
                                optimizer=self.optimizer, scheduler=self.scheduler, state=asdict(st))
        if self.is_main:
            checkpoints.record(self.run_dir, entry)
            checkpoints.prune(self.run_dir, self.cfg.train.save_total_limit, protect=st.best_step)
            self._plot()
        self.accelerator.wait_for_everyone()

    def _write_weights(self, out: Path) -> None:
        """Adapter only (PEFT format) for LoRA methods; the whole model (safetensors) for full."""
        acc = self.accelerator
        state_dict = acc.get_state_dict(self.model)  # gathers FSDP/ZeRO shards; every process calls it
        if not self.is_main:
            return
        if self.cfg.adapter.method == "full":
            acc.unwrap_model(self.model).save_pretrained(out, state_dict=state_dict, safe_serialization=True)
        else:
            from loralab.train.lora import save_adapter

            save_adapter(acc.unwrap_model(self.model), out, state_dict=state_dict, initial=self.initial)

    def _prompt_record(self) -> dict:
        """How the prompts were written (`loralab eval` reads it back to prompt the same way, issue #12)."""
        meta_file = self.data_dir / META
        meta = read_json(meta_file) if meta_file.is_file() else {}
        return {"prompt_template": meta.get("template", self.cfg.data.template),
                "data_format": meta.get("format", self.cfg.data.format), "train_on": self.cfg.data.train_on}

    def _plot(self) -> None:
        from loralab.train.charts import plot_loss

        plot_loss(self.log.rows(), self.run_dir / "loss.png",
                  title=f"{self.cfg.model.name} · {self.cfg.adapter.method} · {self.run_dir.name}")

    def cleanup(self) -> None:
        """summary.json (marks the run finished), loss.png, meta.json; the console summary."""
        if not self.is_main:
            return
        st = self.state
        summary = self._summary()
        self._plot()
        write_meta(self.run_dir, stage="train", seed=self.cfg.train.seed, started=self.started,
                   inputs={f"{s}.jsonl": sha256_file(self.data_dir / f"{s}.jsonl") for s in ("train", "validation")
                           if (self.data_dir / f"{s}.jsonl").is_file()},
                   extra={"device": self.accelerator.device.type, "precision": self.precision, "world_size": self.world,
                          "batching": self.mode, "data_dir": str(self.data_dir), "examples": self.reports,
                          "stop_reason": st.stop_reason, "distributed": str(self.accelerator.distributed_type),
                          "optimizer": type(getattr(self.optimizer, "optimizer", self.optimizer)).__name__,
                          "quantization": self.quant.to_dict() if self.quant is not None else None})
        write_json(self.run_dir / SUMMARY, summary)
        self.log.close()
        self._print_summary(summary)

    def _summary(self) -> dict:
        from loralab.models import count_parameters

        st, rows = self.state, self.log.rows()
        losses = [r["loss"] for r in rows if "loss" in r]
        trainable, total = count_parameters(self.accelerator.unwrap_model(self.model))
        runtime = max(st.runtime_s, 1e-9)
        best = next((c for c in checkpoints.read_index(self.run_dir) if c["step"] == st.best_step), None)
        return {"train_runtime": round(runtime, 3), "train_samples_per_second": round(st.samples_seen / runtime, 3),
                "train_steps_per_second": round(st.step / runtime, 4), "tokens_per_second": round(st.tokens_seen / runtime, 2),
                "eval_seconds": round(st.eval_s, 3), "checkpoint_seconds": round(st.checkpoint_s, 3),
                "final_loss": losses[-1] if losses else None, "best_loss": min(losses) if losses else None,
                "initial_val_loss": st.initial_val_loss, "final_val_loss": st.last_val_loss,
                "best_val_loss": st.best_val_loss, "best_step": st.best_step,
                "best_checkpoint": best["path"] if best else None, "trainable_params": trainable,
                "total_params": total, "steps": st.step, "epochs": self.plan.epoch_at(st.step),
                "tokens_seen": st.tokens_seen, "samples_seen": st.samples_seen, "stop_reason": st.stop_reason}

    def _print_summary(self, s: dict) -> None:
        from rich.table import Table

        table = Table(title=f"training finished: {self.run_dir}", show_header=False)
        for key in ("train_runtime", "train_samples_per_second", "train_steps_per_second", "tokens_per_second",
                    "final_loss", "best_loss", "initial_val_loss", "best_val_loss", "best_checkpoint",
                    "trainable_params", "steps", "stop_reason"):
            value = s[key]
            table.add_row(key, f"{value:,.4f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int)
                          else str(value))
        console.print(table)
        console.print(self.summary_line, highlight=False)

    def release(self) -> None:
        """Free the accelerate singletons so a second run in this process may pick another precision."""
        if self.log:
            self.log.close()
        if self.world == 1:
            reset_accelerate()


__all__ = ["train", "Recipe", "TokenizedExample"]
