"""Rates from pairwise judge verdicts: AlpacaEval-style and MT-Bench-style, as pure functions.

A pairwise judge sees one instruction and two answers, "model" (the system under test) and
"base" (the reference system), and names the better one. Judges prefer whichever answer is
shown first or second more often than chance (Zheng et al. 2023, "Judging LLM-as-a-judge",
sec. 3.3), so every pair is judged twice with the positions swapped. Following FastChat's
MT-Bench pairwise rule, a win counts only when both orders name the same answer; any
disagreement (including one order saying "tie") is a tie. A verdict the parser could not read
is `None`: the pair is counted as unparseable and left out of every rate, never guessed.

Inputs are `Judged` records (one per instruction, or per instruction and turn for MT-Bench),
built from saved per-sample verdict rows with `judged_from_rows`, so the arithmetic can be
re-run from files and is unit-tested on hand-made tables (tests/analysis/test_judge_stats.py).

Length-controlled win rate, loralab's own (`lc_win_rate_loralab_logistic`; the key of the same
name in results.json). It is NOT AlpacaEval 2's LC win rate and must not be reported as one:

    y_i  = 1 if the model wins pair i, 0.5 for a tie, 0 if the base wins
    d_i  = len(model answer_i) - len(base answer_i)                   (characters)
    x_i  = tanh(d_i / sd(d))                                           (sd over the pairs)
    fit  logit P(model preferred | x) = a + b * x   by maximum likelihood on soft labels y_i
    LC   = 100 * sigmoid(a)        (the preference predicted at zero length difference)

AlpacaEval 2 (Dubois et al. 2024, "Length-Controlled AlpacaEval") fits one GLM over many
models with three terms: the model-vs-baseline skill, the same tanh length term, and a
per-instruction difficulty term (instruction effect times a model-specific coefficient), and
reports the mean over instructions of the prediction with the length term zeroed. With one
model against one baseline the difficulty term has nothing to be shared across, so we drop
it; our LC is therefore the single intercept of a two-parameter logistic regression and is
not numerically comparable to leaderboard LC numbers, only between runs scored the same way.
Our judge is also not AlpacaEval's (its own prompt, position-swapped verdicts, one baseline of
the user's choosing), so even the raw win rates are loralab's, not the leaderboard's.
results.json files written before the rename call it `length_controlled_win_rate`;
`lc_win_rate` reads either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from loralab.errors import LoralabError

WINNERS = ("model", "base", "tie")
# Weak L2 penalty on (a, b) of the length-control fit. It keeps the fit finite when the data
# are separable (the model wins every pair, or wins exactly when it is longer), where the
# maximum-likelihood estimate runs off to infinity; with hundreds of pairs its pull is < 0.1 pp.
LC_RIDGE = 1e-2
LC_KEY = "lc_win_rate_loralab_logistic"  # a name nobody reads as AlpacaEval 2's "LC win rate"
OLD_LC_KEY = "length_controlled_win_rate"  # results.json before the rename


@dataclass(frozen=True)
class Judged:
    """Both position-swapped verdicts on one pair, already mapped to "model"/"base"/"tie"/None."""

    id: str
    model_first: str | None    # winner when the model's answer was shown first (as "A")
    model_second: str | None   # winner when the model's answer was shown second (as "B")
    len_model: int = 0         # characters of the model's answer
    len_base: int = 0          # characters of the base's answer
    turn: int = 1              # MT-Bench turn (1 or 2); 1 for single-turn sets

    @property
    def parseable(self) -> bool:
        return self.model_first is not None and self.model_second is not None

    @property
    def outcome(self) -> str | None:
        """"model"/"base" when both orders agree on it, else "tie"; None when unparseable."""
        if not self.parseable:
            return None
        if self.model_first == self.model_second and self.model_first != "tie":
            return self.model_first
        return "tie"


def judged_from_rows(rows: Iterable[dict], source: str = "verdicts") -> list[Judged]:
    """Saved verdict rows -> `Judged`; a bad row is one LoralabError naming its number and key."""
    out = []
    for n, row in enumerate(rows, start=1):
        for key in ("model_first", "model_second"):
            if row.get(key) not in (*WINNERS, None):
                raise LoralabError(f"{source}: row {n}: {key}={row.get(key)!r}; expected one of "
                                   f"{', '.join(WINNERS)} or null (unparseable)")
        try:
            out.append(Judged(id=str(row["id"]), model_first=row.get("model_first"),
                              model_second=row.get("model_second"), len_model=int(row.get("len_model", 0)),
                              len_base=int(row.get("len_base", 0)), turn=int(row.get("turn", 1))))
        except KeyError:
            raise LoralabError(f"{source}: row {n}: missing key 'id'") from None
    return out


# ----------------------------------------------------------------------------- AlpacaEval style


def preference(j: Judged) -> float:
    """AlpacaEval's preference scale: 2 = model preferred, 1 = base preferred, 1.5 = tie."""
    return {"model": 2.0, "base": 1.0, "tie": 1.5}[j.outcome]


def alpaca_eval_stats(judged: Sequence[Judged]) -> dict:
    """win_rate (ties count one half, percent), its standard error, counts, avg_length, loralab's LC.

    win_rate = 100 * mean(pref - 1) and standard_error = 100 * sd(pref - 1, ddof=1) / sqrt(n),
    as AlpacaEval computes them. `discrete_win_rate` is 100 * (n_wins + n_draws / 2) / n_total;
    it equals win_rate here because position-swapped verdicts are discrete (AlpacaEval's
    judges can give fractional preferences, where the two differ). Unparseable pairs are left
    out of n_total and counted in n_unparseable. avg_length is over the model's answers.
    """
    ok = [j for j in judged if j.parseable]
    n = len(ok)
    wins = sum(j.outcome == "model" for j in ok)
    losses = sum(j.outcome == "base" for j in ok)
    draws = n - wins - losses
    scores = [preference(j) - 1 for j in ok]  # in [0, 1]
    return {
        "win_rate": 100 * _mean(scores) if n else float("nan"),
        "standard_error": 100 * _sd(scores) / math.sqrt(n) if n > 1 else float("nan"),
        "n_wins": wins, "n_wins_base": losses, "n_draws": draws, "n_total": n,
        "n_unparseable": len(judged) - n,
        "discrete_win_rate": 100 * (wins + draws / 2) / n if n else float("nan"),
        "avg_length": _mean([j.len_model for j in ok]) if n else float("nan"),
        LC_KEY: lc_win_rate_loralab_logistic(ok) if n else float("nan"),
    }


def lc_win_rate_loralab_logistic(judged: Sequence[Judged]) -> float:
    """100 * sigmoid(a) of the fit logit P(model preferred) = a + b * tanh(d / sd(d)); see module doc.

    Not AlpacaEval 2's length-controlled win rate (no per-instruction term, no shared GLM)."""
    ok = [j for j in judged if j.parseable]
    y = [preference(j) - 1 for j in ok]
    diffs = [j.len_model - j.len_base for j in ok]
    sd = _sd(diffs) if len(diffs) > 1 else 0.0
    x = [math.tanh(d / sd) if sd > 0 else 0.0 for d in diffs]
    a, _ = fit_logistic(x, y)
    return 100 * _sigmoid(a)


def lc_win_rate(alpaca: dict) -> float:
    """loralab's LC win rate from an `alpaca_eval` block of results.json, old key or new."""
    return alpaca[LC_KEY] if LC_KEY in alpaca else alpaca[OLD_LC_KEY]


def fit_logistic(x: Sequence[float], y: Sequence[float], ridge: float = LC_RIDGE,
                 iters: int = 100) -> tuple[float, float]:
    """(a, b) maximising sum y log p + (1 - y) log(1 - p) - ridge/2 (a² + b²), p = sigmoid(a + b x).

    Soft labels y in [0, 1] (a tie is 0.5). Newton's method on the 2x2 system; the objective
    is strictly concave (ridge > 0), so it converges from zero in a handful of steps.
    """
    a = b = 0.0
    for _ in range(iters):
        ga, gb, haa, hab, hbb = -ridge * a, -ridge * b, ridge, 0.0, ridge  # gradient, -Hessian
        for xi, yi in zip(x, y, strict=True):
            p = _sigmoid(a + b * xi)
            w = p * (1 - p)
            ga += yi - p
            gb += (yi - p) * xi
            haa, hab, hbb = haa + w, hab + w * xi, hbb + w * xi * xi
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a + da, b + db
        if abs(da) + abs(db) < 1e-12:
            break
    return a, b


# ----------------------------------------------------------------------------- MT-Bench style


def mt_bench_stats(judged: Sequence[Judged]) -> dict:
    """win/loss/tie counts and rates over all turns, plus the same per turn ("turn_1", "turn_2").

    win_rate = W / N, loss_rate = L / N, win_rate_adjusted = (W + T / 2) / N with N = W + L + T
    (fractions, as FastChat's show_result prints them). Unparseable pairs are not in N.
    """
    out = _wlt(judged)
    for turn in sorted({j.turn for j in judged}):
        out[f"turn_{turn}"] = _wlt([j for j in judged if j.turn == turn])
    return out


def _wlt(judged: Sequence[Judged]) -> dict:
    ok = [j for j in judged if j.parseable]
    n = len(ok)
    win = sum(j.outcome == "model" for j in ok)
    loss = sum(j.outcome == "base" for j in ok)
    tie = n - win - loss
    nan = float("nan")
    return {"win": win, "loss": loss, "tie": tie, "n": n, "n_unparseable": len(judged) - n,
            "win_rate": win / n if n else nan, "loss_rate": loss / n if n else nan,
            "win_rate_adjusted": (win + tie / 2) / n if n else nan}


def position_consistency(judged: Sequence[Judged]) -> float:
    """Fraction of parseable pairs whose two orders agree (Zheng et al. 2023 report ~65% for GPT-4)."""
    ok = [j for j in judged if j.parseable]
    return sum(j.model_first == j.model_second for j in ok) / len(ok) if ok else float("nan")


# ----------------------------------------------------------------------------- small numerics


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _sd(xs: Sequence[float]) -> float:
    """Sample standard deviation (ddof=1), as pandas' sem uses."""
    m = _mean(xs)
    return math.sqrt(sum((v - m) ** 2 for v in xs) / (len(xs) - 1))


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
