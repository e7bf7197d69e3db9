"""`loralab judge`: a pairwise LLM judge comparing a fine-tuned model with its base.

Two systems ("model", the one under test, and "base", the reference: the base model, another
checkpoint, or the instruction file's own reference outputs) answer the same instructions;
a judge model behind any OpenAI-compatible endpoint compares each pair twice, with the
answers' positions swapped (judges favour a position; Zheng et al. 2023, sec. 3.3). The rates
are computed by loralab.analysis.judge_stats: a win counts only when both orders agree.

  * AlpacaEval style: one-turn instructions ({instruction[, input, output]} rows; `output` is
    the reference answer); win rate, standard error, length-controlled win rate.
  * MT-Bench style: two-turn questions ({question_id, turns: [q1, q2]}); the second question is
    answered with the first exchange in context and judged on the whole conversation.

Every call goes through a JSONL cache (answers and verdicts), so an interrupted run resumes
and a finished one re-runs for free; the OpenAI backend retries transient HTTP failures with
backoff. The judge prompt and each raw reply are written next to the parsed verdict; a reply
without exactly one verdict tag is "unparseable" and counted, never guessed. `endpoint="local"`
loads `judge_model` in this process and calls it directly, for offline use.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from loralab.errors import LoralabError
from loralab.inference.generate import BASE, GenRequest, SamplingParams

JUDGE_SYSTEM = "You are a careful and impartial judge of the answers AI assistants give to users."

SINGLE_TURN = """Compare two AI assistants' answers to the user's instruction below. Decide which answer \
is more helpful, correct, relevant and clear. The order in which the answers appear, their length and \
the assistants' names must not influence you.

[Instruction]
{question}

[Answer A]
{answer_a}

[Answer B]
{answer_b}

Explain your comparison in at most three sentences. Then, on the last line, give your verdict as exactly \
one of: [[A]] if answer A is better, [[B]] if answer B is better, [[C]] if they are equally good."""

SECOND_TURN = """Compare two AI assistants' conversations with a user who asked the same two questions. \
Judge only the answers to the user's SECOND question, taking the first exchange into account. Decide which \
is more helpful, correct, relevant and clear. The order of the conversations, the answers' length and the \
assistants' names must not influence you.

[Conversation with assistant A]
User: {q1}
Assistant A: {a1_a}
User: {q2}
Assistant A: {a2_a}

[Conversation with assistant B]
User: {q1}
Assistant B: {a1_b}
User: {q2}
Assistant B: {a2_b}

Explain your comparison in at most three sentences. Then, on the last line, give your verdict as exactly \
one of: [[A]] if assistant A's second answer is better, [[B]] if assistant B's is better, [[C]] if they are \
equally good."""

VERDICT_TAG = re.compile(r"\[\[\s*(A|B|C|TIE)\s*\]\]", re.IGNORECASE)
PARSE_RULE = ("The verdict is the tag [[A]], [[B]] or [[C]] ([[TIE]] = [[C]]) in the judge's reply, case-insensitive. "
              "A reply with no tag, or with two different tags, is unparseable: counted, never guessed.")


@dataclass(frozen=True)
class Question:
    id: str
    turns: tuple[str, ...]        # one (AlpacaEval) or two (MT-Bench) user turns
    reference: str | None = None  # the file's reference answer to turn 1 (AlpacaEval's `output`)


@dataclass(frozen=True)
class SystemSpec:
    """Who answers: a model (alias, hub id, dir) with an optional adapter, or "reference"."""

    name: str                     # "model" or "base"
    model: str | None = None
    adapter: str | None = None
    reference: bool = False       # answers are the questions' reference outputs


@dataclass
class JudgeResult:
    out_dir: Path
    stats: dict = field(default_factory=dict)

    def describe(self) -> str:
        from loralab.analysis.judge_stats import lc_win_rate

        a, m = self.stats["alpaca_eval"], self.stats["mt_bench"]
        return (f"win rate {a['win_rate']:.1f} ± {a['standard_error']:.1f}; length-controlled "
                f"{lc_win_rate(a):.1f} (loralab's logistic fit, not AlpacaEval 2's LC)\n"
                f"W/L/T {m['win']}/{m['loss']}/{m['tie']}, {m['n_unparseable']} unparseable; "
                f"position consistency {self.stats['position_consistency']:.2f}\nwrote {self.out_dir}")


# ----------------------------------------------------------------------------- instruction sets


def load_questions(path: str | Path, limit: int | None = None) -> list[Question]:
    """AlpacaEval rows {instruction[, input, output]}, MT-Bench rows {question_id, turns}, or {prompt}."""
    from loralab.io import read_json, read_jsonl

    path = Path(path)
    rows = read_jsonl(path) if path.suffix == ".jsonl" else read_json(path)
    if not isinstance(rows, list):
        raise LoralabError(f"{path}: expected JSONL or a JSON list of instruction objects")
    out = [_question(row, n, path) for n, row in enumerate(rows[:limit] if limit else rows, start=1)]
    if not out:
        raise LoralabError(f"{path}: no instructions")
    return out


def _question(row: dict, n: int, path: Path) -> Question:
    qid = str(row.get("question_id", row.get("id", n)))
    if "turns" in row:
        turns = row["turns"]
    elif "instruction" in row:
        extra = row.get("input") or ""
        turns = [row["instruction"] + (f"\n\n{extra}" if extra else "")]
    elif "prompt" in row:
        turns = [row["prompt"]]
    else:
        raise LoralabError(f"{path}:{n}: no 'instruction', 'turns' or 'prompt' field")
    if not (1 <= len(turns) <= 2) or not all(isinstance(t, str) and t.strip() for t in turns):
        raise LoralabError(f"{path}:{n}: 'turns' must hold one or two non-empty strings")
    ref = row.get("output") if isinstance(row.get("output"), str) else None
    return Question(qid, tuple(turns), ref)


# ----------------------------------------------------------------------------- answers


def generate_answers(gen, questions: list[Question], adapter: str, params: SamplingParams) -> dict[str, list[str]]:
    """{question id: [answer to turn 1, answer to turn 2 (with turn 1 in context)]}."""
    answers: dict[str, list[str]] = {q.id: [] for q in questions}
    for turn in range(max(len(q.turns) for q in questions)):
        asked = [q for q in questions if len(q.turns) > turn]
        reqs = [GenRequest(messages=_conversation(q, answers[q.id], turn), adapter=adapter, key=f"{q.id}:{turn + 1}")
                for q in asked]
        for q, outs in zip(asked, gen.generate(reqs, params), strict=True):
            answers[q.id].append(outs[0].strip())
    return answers


def _conversation(q: Question, earlier: list[str], turn: int) -> tuple[dict, ...]:
    msgs = []
    for t in range(turn):
        msgs += [{"role": "user", "content": q.turns[t]}, {"role": "assistant", "content": earlier[t]}]
    return (*msgs, {"role": "user", "content": q.turns[turn]})


def reference_answers(questions: list[Question], source: str) -> dict[str, list[str]]:
    missing = [q.id for q in questions if q.reference is None or len(q.turns) > 1]
    if missing:
        raise LoralabError(f"{source}: --base reference needs a one-turn 'output' per row; "
                           f"question {missing[0]} has none (or two turns)")
    return {q.id: [q.reference] for q in questions}


# ----------------------------------------------------------------------------- judging


def judge_prompt(q: Question, turn: int, a: list[str], b: list[str]) -> str:
    """The judge's user message for `turn` (1 or 2) with answers `a` shown as A and `b` as B."""
    if turn == 1:
        return SINGLE_TURN.format(question=q.turns[0], answer_a=a[0], answer_b=b[0])
    return SECOND_TURN.format(q1=q.turns[0], q2=q.turns[1], a1_a=a[0], a2_a=a[1], a1_b=b[0], a2_b=b[1])


def parse_verdict(reply: str) -> str | None:
    """"A", "B" or "C" (tie) when the reply holds exactly one distinct verdict tag, else None."""
    tags = {m.upper().replace("TIE", "C") for m in VERDICT_TAG.findall(reply)}
    return tags.pop() if len(tags) == 1 else None


def winner(letter: str | None, model_is_a: bool) -> str | None:
    """Map a position verdict to "model"/"base"/"tie" (None stays None)."""
    if letter is None:
        return None
    if letter == "C":
        return "tie"
    return "model" if (letter == "A") == model_is_a else "base"


def judge_pairs(judge, questions: list[Question], model: dict[str, list[str]], base: dict[str, list[str]],
                max_tokens: int = 256) -> tuple[list[dict], list[dict]]:
    """(judgment rows, verdict rows): every (question, turn) judged in both orders."""
    slots = [(q, t, order) for q in questions for t in range(1, len(q.turns) + 1) for order in ("model_first", "model_second")]
    prompts = [judge_prompt(q, t, *((model[q.id], base[q.id]) if o == "model_first" else (base[q.id], model[q.id])))
               for q, t, o in slots]
    reqs = [GenRequest(messages=({"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": p}),
                       adapter=None, key=f"{q.id}:{t}:{o}") for (q, t, o), p in zip(slots, prompts, strict=True)]
    replies = judge.generate(reqs, SamplingParams(n=1, temperature=0.0, max_new_tokens=max_tokens))
    judgments, by_pair = [], {}
    for (q, t, order), prompt, outs in zip(slots, prompts, replies, strict=True):
        letter = parse_verdict(outs[0])
        w = winner(letter, order == "model_first")
        judgments.append({"id": q.id, "turn": t, "order": order, "prompt": prompt, "reply": outs[0],
                          "verdict": letter, "winner": w})
        by_pair.setdefault((q.id, t), {"id": q.id, "turn": t, "len_model": len(model[q.id][t - 1]),
                                       "len_base": len(base[q.id][t - 1])})[order] = w
    return judgments, list(by_pair.values())


def verdict_stats(verdict_rows: list[dict]) -> dict:
    from loralab.analysis.judge_stats import alpaca_eval_stats, judged_from_rows, mt_bench_stats, position_consistency

    judged = judged_from_rows(verdict_rows)
    return {"alpaca_eval": alpaca_eval_stats(judged), "mt_bench": mt_bench_stats(judged),
            "position_consistency": position_consistency(judged)}


# ----------------------------------------------------------------------------- stage


def run_judge(instructions: str | Path, model: SystemSpec, base: SystemSpec, out_dir: str | Path, *,
              endpoint: str, judge_model: str, limit: int | None = None, max_answer_tokens: int = 512,
              max_judge_tokens: int = 256, batch_size: int = 8, device: str = "auto",
              api_key_env: str = "OPENAI_API_KEY", cache_dir: str | Path | None = None) -> JudgeResult:
    """Answer, judge both orders, write answers/judgments/verdicts/results; resumable through caches.

    The caches (answers_cache.jsonl, judge_cache.jsonl) live in `cache_dir`, by default
    `out_dir`; a study shares one across its runs, so the base answers every instruction once."""
    from loralab.io import write_json, write_jsonl, write_meta, write_text

    started, out = time.time(), Path(out_dir)
    caches = Path(cache_dir) if cache_dir is not None else out
    out.mkdir(parents=True, exist_ok=True)
    caches.mkdir(parents=True, exist_ok=True)
    questions = load_questions(instructions, limit)
    answers = _answer_all(questions, [model, base], caches / "answers_cache.jsonl", max_answer_tokens, batch_size,
                          device, str(instructions))
    with _judge_generator(endpoint, judge_model, caches / "judge_cache.jsonl", device, api_key_env) as judge:
        judgments, verdicts = judge_pairs(judge, questions, answers["model"], answers["base"], max_judge_tokens)
    stats = verdict_stats(verdicts)
    write_jsonl(out / "answers.jsonl", [{"id": q.id, "turn": t + 1, "system": s, "answer": answers[s][q.id][t]}
                                        for s in ("model", "base") for q in questions for t in range(len(q.turns))])
    write_jsonl(out / "judgments.jsonl", judgments)
    write_jsonl(out / "verdicts.jsonl", verdicts)
    write_text(out / "judge_prompt.md", f"# Judge prompts\n\nSystem: {JUDGE_SYSTEM}\n\n## Turn 1\n\n```\n{SINGLE_TURN}\n```\n\n"
                                        f"## Turn 2\n\n```\n{SECOND_TURN}\n```\n\n## Parsing\n\n{PARSE_RULE}\n")
    write_json(out / "results.json", stats)
    from loralab.eval.interop import system_label, write_judge_answer_files

    write_judge_answer_files(out, questions, answers, {s.name: system_label(s) for s in (model, base)})
    write_meta(out, stage="judge", started=started, inputs={
        "instructions": str(instructions), "model": vars(model), "base": vars(base), "judge_endpoint": endpoint,
        "judge_model": judge_model, "limit": limit})
    return JudgeResult(out, stats)


def _answer_all(questions, systems: list[SystemSpec], cache: Path, max_tokens: int, batch_size: int,
                device: str, source: str) -> dict[str, dict[str, list[str]]]:
    """Both systems' answers; systems on the same base model share one loaded generator."""
    from loralab.config import ModelConfig
    from loralab.inference.generate import make_generator

    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=max_tokens)
    answers = {s.name: reference_answers(questions, source) for s in systems if s.reference}
    by_model: dict[str, list[SystemSpec]] = {}
    for s in systems:
        if not s.reference:
            by_model.setdefault(s.model, []).append(s)
    for name, group in by_model.items():
        adapters = {f"{s.name}_adapter": s.adapter for s in group if s.adapter}
        gen = make_generator(ModelConfig(name=name, device=device), adapters=adapters or None, batch_size=batch_size,
                             cache=cache, task="judge-answers")
        for s in group:
            answers[s.name] = generate_answers(gen, questions, f"{s.name}_adapter" if s.adapter else BASE, params)
    return answers


@contextlib.contextmanager
def _judge_generator(endpoint: str, judge_model: str, cache: Path, device: str,
                     api_key_env: str = "OPENAI_API_KEY") -> Iterator:
    """A cached generator for the judge: the OpenAI backend, or for endpoint "local" judge_model
    loaded in this process (no HTTP server: the judge calls the generator directly)."""
    from loralab.inference.backends.openai_backend import OpenAIGenerator
    from loralab.inference.cache import CachedGenerator

    if endpoint != "local":
        yield CachedGenerator(OpenAIGenerator(endpoint, judge_model, api_key_env=api_key_env), cache, task="judge")
        return
    from loralab.config import ModelConfig
    from loralab.inference.generate import make_generator, model_identity

    local = make_generator(ModelConfig(name=judge_model, device=device), batch_size=8)
    # the identity "local:..." is the one cached verdicts were keyed by when the local judge
    # ran behind a server, so caches written then still hit
    yield CachedGenerator(_Named(local, f"local:{model_identity(judge_model)}"), cache, task="judge")


class _Named:
    """A generator under a fixed cache identity: the judge's verdicts are keyed by the judge
    model's files, not by how it is reached."""

    def __init__(self, inner, ident: str):
        self.inner, self.name, self._ident = inner, ident, ident
        self.tok, self.adapters, self.router, self.streams = inner.tok, inner.adapters, inner.router, False

    def identity(self, adapter: str | None) -> str:
        return self._ident

    def generate(self, requests: list[GenRequest], params: SamplingParams, on_text=None) -> list[list[str]]:
        return self.inner.generate(requests, params)


def base_spec(base: str, model: str) -> SystemSpec:
    """--base: "base" (the model without adapter), "reference" (the file's outputs), an adapter dir, or a model."""
    if base == "base":
        return SystemSpec("base", model)
    if base == "reference":
        return SystemSpec("base", reference=True)
    if (Path(base) / "adapter_config.json").exists():
        return SystemSpec("base", model, adapter=base)
    return SystemSpec("base", base)
