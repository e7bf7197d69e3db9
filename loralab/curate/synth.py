"""`loralab synth`: synthetic question-code pairs from seed examples, by the seed study's strategies.

  self_instruct  few-shot self-instruct (Wang et al. 2023, "Self-Instruct"): show k sampled seed
                 pairs, ask for one new, different pair.
  keywords       keyword extraction per seed question (the concepts it exercises) -> keywords.jsonl.
  perturbed      keyword-perturbed generation: sample a seed pair, extend its keywords with
                 m ~ U{0..max_new_keywords} random keywords from the pool of all seeds, ask for a
                 new pair that involves them (keywords are extracted first when missing).

Any generator behind loralab's `Generator` protocol answers the prompts: an OpenAI-compatible
endpoint (`loralab serve`, vLLM, OpenAI; retries with backoff live in that backend) or a local
transformers model. Replies that refuse, lack a question, or hold code that does not parse as
Python are discarded to rejected.jsonl with the reason. Every row records its strategy, its
parents (seed row numbers, 1-based) and the attempt that made it.

Resumable: attempt i always uses the random choices drawn from Random(seed, strategy, i), and
results are appended line by line, so a killed run continues where it stopped; raising `n`
later generates more rows into the same directory.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loralab.config import save_config
from loralab.curate.config import FieldsConfig
from loralab.curate.metrics import PYTHON_TAGS, fenced_blocks, is_python, python_code
from loralab.curate.rows import InstructionRow, load_examples
from loralab.errors import LoralabError
from loralab.io import sha256_file, write_meta
from loralab.results import CONFIG

SYSTEM = "You write short programming exercises and their Python solutions."
# phrases that mark a refusal rather than an exercise (checked case-insensitively)
_REFUSAL = re.compile(r"\b(I'?m sorry|I am sorry|I apologi[sz]e|I can(?:no|')t|I can not|I am unable|I'?m unable|"
                      r"as an AI|I won'?t be able)\b", re.I)
_LABEL = re.compile(r"^[ \t#*>]*(?:new[ \t]+)?(?:question|task|problem|instruction)[ \t]*\d*[ \t*]*:[ \t*]*", re.I | re.M)
_KEYWORD = re.compile(r"[a-z0-9][a-z0-9 +#./-]*")  # "recursion", "binary search", "c++"; no code
_CODE_LABEL = re.compile(r"\n\s*[#*\s]*(?:code|solution|answer)\s*[*]*\s*:\s*", re.I)


class SynthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)  # a misspelt key is an error

    strategy: Literal["self_instruct", "keywords", "perturbed"] = Field("self_instruct", description="Generation strategy.")
    n: int = Field(100, ge=1, description="Rows to keep (keywords: seed rows to extract keywords from).")
    backend: Literal["openai", "transformers"] = Field("openai", description="openai: an HTTP endpoint; transformers: a local model.")
    endpoint: str | None = Field(None, description="Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1.")
    model: str = Field("smollm2-135m-instruct", description="The request's model field (openai) or the local model (transformers).")
    fields: FieldsConfig = Field(default_factory=FieldsConfig, description="Field names of the seed file (auto-detected).")
    shots: int = Field(3, ge=1, description="Seed examples shown per self-instruct prompt.")
    max_new_keywords: int = Field(5, ge=0, description="perturbed: m ~ U{0..this} extra keywords from the pool.")
    keyword_rows: int | None = Field(None, ge=1, description="perturbed: extract keywords of the first N seeds only (None: all).")
    temperature: float = Field(0.7, ge=0, description="Sampling temperature (0 = greedy).")
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(512, ge=1)
    seed: int = Field(0, ge=0, description="Seed of every random choice (attempt i uses Random(seed, strategy, i)).")
    batch_size: int = Field(8, ge=1, description="Requests sent together (concurrent HTTP requests, or one local batch).")
    requests_per_minute: float | None = Field(None, gt=0, description="Rate limit for hosted APIs (None: unlimited).")
    max_retries: int = Field(5, ge=0, description="Retries of a failed HTTP request (429, 5xx, timeouts) with backoff.")
    backoff_s: float = Field(1.0, gt=0, description="First retry delay; doubles each retry (the server's Retry-After wins).")
    timeout_s: float = Field(300.0, gt=0, description="Seconds per HTTP request.")
    max_attempts: int | None = Field(None, ge=1, description="Give up after this many attempts in total (None: 5 x n).")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Device of a local model.")


@dataclass(frozen=True)
class Attempt:
    index: int          # attempt number, 0-based, stable across resumes
    strategy: str
    parents: list[int]  # seed row numbers (1-based) the prompt showed
    prompt: str
    keywords: list[str] | None = None


@dataclass(frozen=True)
class Seed:
    row: int        # 1-based row of the seed file
    question: str
    code: str       # its Python code (seeds without parseable Python are not shown as examples)


class Rejected(Exception):
    """A reply that cannot become a row; the message is the reason written to rejected.jsonl."""


# ----------------------------------------------------------------------------- prompts

FORMAT = ('Use exactly this format: a line starting with "Question:", then the solution in a ```python block. '
          "Write nothing else.")


def pair_text(question: str, code: str) -> str:
    return f"Question: {question.strip()}\nCode:\n```python\n{code.strip()}\n```"


def self_instruct_prompt(shots: list[Seed]) -> str:
    examples = "\n\n".join(pair_text(s.question, s.code) for s in shots)
    return (f"Here are {len(shots)} programming tasks, each with a Python solution.\n\n{examples}\n\n"
            f"Write one new task that is different from all of these, with its Python solution. {FORMAT}")


def keywords_prompt(question: str) -> str:
    return ("List 3 to 5 keywords naming the programming concepts, data structures or algorithms this task "
            f"needs. Answer with the keywords only, separated by commas.\n\nTask: {question.strip()}")


def perturbed_prompt(seed: Seed, keywords: list[str]) -> str:
    return (f"Here is a programming task with its Python solution.\n\n{pair_text(seed.question, seed.code)}\n\n"
            f"Write a new, different task and its Python solution that involves these concepts: "
            f"{', '.join(keywords)}. {FORMAT}")


# ----------------------------------------------------------------------------- parsing replies


def _split_reply(reply: str) -> tuple[str, str | None]:
    """(text before the code, the code part): code starts at the first ``` fence, else after a 'Code:' label."""
    i = reply.find("```")
    if i >= 0:
        return reply[:i], reply[i:]
    m = _CODE_LABEL.search(reply)
    return (reply[:m.start()], reply[m.end():]) if m else (reply, None)


def _question(head: str) -> str:
    """The question text: after its first 'Question:' label (preambles like 'Sure!' dropped), before any 'Code:'."""
    head = _CODE_LABEL.split(head)[0]
    m = _LABEL.search(head)
    return (head[m.end():] if m else head).strip()


def parse_pair(reply: str) -> tuple[str, str]:
    """(question, python code) of a reply (its first code block only), or Rejected(reason)."""
    if _REFUSAL.search(reply):
        raise Rejected("refusal")
    head, code_part = _split_reply(reply)
    question = _question(head)
    if len(question.split()) < 3 or question.endswith(":"):  # "Here is a new task:" is a preamble, not a task
        raise Rejected("no_question")
    if not code_part or not code_part.strip():
        raise Rejected("no_code")
    blocks = fenced_blocks(code_part)
    code = blocks[0][1] if blocks else code_part
    if (blocks and blocks[0][0] not in PYTHON_TAGS) or not is_python(code):
        raise Rejected("code_does_not_parse")
    return question, code.strip()


def parse_keywords(reply: str, most: int = 8) -> list[str]:
    """Lower-cased keywords of a comma/newline separated reply, read up to its first code block.

    Bullets, numbering and quotes are stripped; anything that looks like code (brackets, '=',
    ':', quotes inside) or runs past four words is not a keyword and is left out.
    """
    if _REFUSAL.search(reply):
        return []
    text = reply.split("```", 1)[0]
    text = text.split(":", 1)[1] if text.lower().lstrip().startswith("keywords") else text
    out: list[str] = []
    for part in re.split(r"[,\n;]", text):
        kw = re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", part).strip(" \t\"'`*.").lower()
        if _KEYWORD.fullmatch(kw) and len(kw) <= 40 and len(kw.split()) <= 4 and kw not in out:
            out.append(kw)
    return out[:most]


# ----------------------------------------------------------------------------- planning attempts


def python_seeds(examples: list[InstructionRow]) -> list[Seed]:
    return [Seed(x.row, x.question, code) for x in examples if (code := python_code(x.response))]


def rng_for(cfg: SynthConfig, index: int) -> random.Random:
    """The random source of one attempt: the same on every run and resume (str seeds hash with SHA-512)."""
    return random.Random(f"{cfg.seed}:{cfg.strategy}:{index}")


def plan_self_instruct(index: int, seeds: list[Seed], cfg: SynthConfig) -> Attempt:
    shots = rng_for(cfg, index).sample(seeds, min(cfg.shots, len(seeds)))
    return Attempt(index, "self_instruct", [s.row for s in shots], self_instruct_prompt(shots))


def plan_perturbed(index: int, seeds: list[Seed], keywords: dict[int, list[str]], cfg: SynthConfig) -> Attempt:
    """Sample a seed, extend its keywords with m ~ U{0..max_new_keywords} others from the pool."""
    rng = rng_for(cfg, index)
    seed = rng.choice(seeds)
    own = keywords.get(seed.row, [])
    pool = sorted({k for kws in keywords.values() for k in kws} - set(own))  # sorted: same draw on every run
    m = rng.randint(0, cfg.max_new_keywords)
    chosen = own + rng.sample(pool, min(m, len(pool)))
    return Attempt(index, "perturbed", [seed.row], perturbed_prompt(seed, chosen or ["Python"]), chosen)


# ----------------------------------------------------------------------------- journals and rate limit


class Journal:
    """An append-only JSONL file that survives being killed mid-line (the torn last line is cut off)."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict] = []
        if path.exists():
            self._load()
        else:
            path.touch()  # an empty journal still says "this ran, nothing yet"

    def _load(self) -> None:
        raw = self.path.read_bytes()
        good = 0  # byte offset after the last complete, valid line
        for lineno, line in enumerate(raw.splitlines(keepends=True), start=1):
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                row = None
            if not line.endswith(b"\n") or row is None:
                if good + len(line) < len(raw):  # damage before the end is not a torn write
                    raise LoralabError(f"{self.path}:{lineno}: malformed line; delete the file to start over")
                break
            self.rows.append(row)
            good += len(line)
        if good < len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(good)

    def append(self, rows: list[dict]) -> None:
        if not rows:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.rows += rows


class RateLimiter:
    """At most `per_minute` requests a minute, spread evenly (None: no limit)."""

    def __init__(self, per_minute: float | None, clock=time.monotonic, sleep=time.sleep):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.clock, self.sleep, self.next = clock, sleep, 0.0

    def wait(self, requests: int) -> None:
        if not self.interval:
            return
        now = self.clock()
        start = max(now, self.next)
        if start > now:
            self.sleep(start - now)
        self.next = start + requests * self.interval


# ----------------------------------------------------------------------------- generation loop


def make_synth_generator(cfg: SynthConfig):
    """The generator that answers prompts: an HTTP endpoint or a local transformers model."""
    if cfg.backend == "openai":
        if not cfg.endpoint:
            raise LoralabError("synth.endpoint: the openai backend needs a base URL, e.g. --endpoint http://127.0.0.1:8000/v1")
        from loralab.inference.backends.openai_backend import OpenAIGenerator

        return OpenAIGenerator(cfg.endpoint, cfg.model, timeout_s=cfg.timeout_s, max_retries=cfg.max_retries,
                               backoff_s=cfg.backoff_s, concurrency=cfg.batch_size)
    from loralab.config import ModelConfig
    from loralab.inference.generate import make_generator

    return make_generator(ModelConfig(name=cfg.model, device=cfg.device), backend="transformers", batch_size=cfg.batch_size)


def ask(gen, prompts: list[str], cfg: SynthConfig, limiter: RateLimiter, keys: list[str]) -> list[str]:
    """One chat reply per prompt, system message first."""
    from loralab.inference.generate import GenRequest, SamplingParams

    limiter.wait(len(prompts))
    reqs = [GenRequest(messages=({"role": "system", "content": SYSTEM}, {"role": "user", "content": p}), key=k)
            for p, k in zip(prompts, keys, strict=True)]
    params = SamplingParams(n=1, temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                            seed=cfg.seed)
    return [texts[0] for texts in gen.generate(reqs, params)]


def judge(attempt: Attempt, reply: str, model: str) -> tuple[dict | None, dict | None]:
    """(kept row, None) or (None, rejected row) for one reply."""
    base = {"attempt": attempt.index, "strategy": attempt.strategy, "parents": attempt.parents}
    if attempt.keywords is not None:
        base["keywords"] = attempt.keywords
    try:
        question, code = parse_pair(reply)
    except Rejected as r:
        return None, {**base, "reason": str(r), "reply": reply}
    return {"id": f"synth-{attempt.index:06d}", "instruction": question, "input": "", "output": code,
            "model": model, **base}, None


def run_pairs(plan, cfg: SynthConfig, out_dir: Path, gen, limiter: RateLimiter, log=None) -> tuple[Journal, Journal]:
    """Attempts until `n` rows are kept or `max_attempts` were made; appends results after every batch."""
    kept, rejected = Journal(out_dir / "synth.jsonl"), Journal(out_dir / "rejected.jsonl")
    nxt = max((r["attempt"] for r in kept.rows + rejected.rows), default=-1) + 1
    limit = cfg.max_attempts or 5 * cfg.n
    while len(kept.rows) < cfg.n and nxt < limit:
        size = min(cfg.batch_size, cfg.n - len(kept.rows), limit - nxt)  # never more than still needed
        batch = [plan(i) for i in range(nxt, nxt + size)]
        replies = ask(gen, [a.prompt for a in batch], cfg, limiter, [f"synth-{a.index}" for a in batch])
        judged = [judge(a, r, cfg.model) for a, r in zip(batch, replies, strict=True)]
        rejected.append([bad for _, bad in judged if bad])
        kept.append([good for good, _ in judged if good])
        nxt = batch[-1].index + 1
        if log:
            log(f"attempts {nxt}: kept {len(kept.rows)}, rejected {len(rejected.rows)}")
    return kept, rejected


def run_keywords(examples: list[InstructionRow], limit: int, cfg: SynthConfig, out_dir: Path, gen, limiter: RateLimiter,
                 log=None) -> dict[int, list[str]]:
    """Keywords of the first `limit` seed questions -> keywords.jsonl; {seed row: keywords}."""
    journal = Journal(out_dir / "keywords.jsonl")
    done = {r["row"] for r in journal.rows}
    todo = [x for x in examples[:limit] if x.row not in done]
    for s in range(0, len(todo), cfg.batch_size):
        chunk = todo[s:s + cfg.batch_size]
        replies = ask(gen, [keywords_prompt(x.question) for x in chunk], cfg, limiter, [f"kw-{x.row}" for x in chunk])
        journal.append([{"row": x.row, "question": x.question, "keywords": parse_keywords(r), "reply": r}
                        for x, r in zip(chunk, replies, strict=True)])
        if log:
            log(f"keywords: {len(journal.rows)} of {limit} seed rows")
    return {r["row"]: r["keywords"] for r in journal.rows}


# ----------------------------------------------------------------------------- stage

# settings that change what is generated; a resumed run must match them (n, rates, retries may change)
RESUME_KEYS = ("strategy", "backend", "model", "fields", "shots", "max_new_keywords", "keyword_rows",
               "temperature", "top_p", "max_new_tokens", "seed")


@dataclass
class SynthResult:
    out_dir: Path
    kept: int
    rejected: int
    keywords: int
    reasons: dict

    def describe(self) -> str:
        if not self.kept and not self.rejected:
            return f"keywords of {self.keywords} seed rows -> {self.out_dir / 'keywords.jsonl'}"
        why = ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items())) or "none"
        return (f"kept {self.kept} rows, rejected {self.rejected} ({why}) -> {self.out_dir / 'synth.jsonl'}")


def check_resume(out_dir: Path, cfg: SynthConfig) -> None:
    """Refuse to mix rows made with other generation settings into one directory."""
    from loralab.config import read_yaml

    path = out_dir / CONFIG
    if not path.exists():
        if out_dir.exists() and any(out_dir.iterdir()):
            raise LoralabError(f"{out_dir}: exists and holds files no synth run wrote; choose a new --out directory")
        return
    old, new = read_yaml(path), cfg.model_dump(mode="json")
    changed = [k for k in RESUME_KEYS if old.get(k) != new[k]]
    if changed:
        k = changed[0]
        raise LoralabError(f"{path}: this directory was generated with {k}={old.get(k)!r}, now {k}={new[k]!r}; "
                           "use the same settings to resume, or a new --out")


def synth(seeds_path: str | Path, cfg: SynthConfig, out_dir: str | Path, generator=None, log=None) -> SynthResult:
    """Generate into out_dir (synth.jsonl, rejected.jsonl, keywords.jsonl), resuming what is there."""
    seeds_path, out_dir, started = Path(seeds_path), Path(out_dir), time.time()
    examples = load_examples(seeds_path, cfg.fields)
    seeds = python_seeds(examples)
    if cfg.strategy != "keywords" and not seeds:
        raise LoralabError(f"{seeds_path}: no seed row has a response that parses as Python; synth needs some as examples")
    check_resume(out_dir, cfg)
    gen = generator or make_synth_generator(cfg)  # before writing anything: a bad endpoint leaves no directory
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out_dir)
    limiter = RateLimiter(cfg.requests_per_minute)
    keywords: dict[int, list[str]] = {}
    if cfg.strategy in ("keywords", "perturbed"):
        limit = min(cfg.n, len(examples)) if cfg.strategy == "keywords" else (cfg.keyword_rows or len(examples))
        keywords = run_keywords(examples, limit, cfg, out_dir, gen, limiter, log)
    kept = rejected = None
    if cfg.strategy != "keywords":
        plan = ((lambda i: plan_self_instruct(i, seeds, cfg)) if cfg.strategy == "self_instruct"
                else (lambda i: plan_perturbed(i, seeds, keywords, cfg)))
        kept, rejected = run_pairs(plan, cfg, out_dir, gen, limiter, log)
    result = SynthResult(out_dir, len(kept.rows) if kept else 0, len(rejected.rows) if rejected else 0, len(keywords),
                         _reasons(rejected.rows if rejected else []))
    write_meta(out_dir, stage="synth", seed=cfg.seed, inputs={str(seeds_path): sha256_file(seeds_path)}, started=started,
               extra={"kept": result.kept, "rejected": result.rejected, "keywords": result.keywords,
                      "reasons": result.reasons, "generator": gen.name})
    return result


def _reasons(rows: list[dict]) -> dict:
    out: dict[str, int] = {}
    for r in rows:
        out[r["reason"]] = out.get(r["reason"], 0) + 1
    return out
