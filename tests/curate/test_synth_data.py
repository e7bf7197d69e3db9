"""`loralab synth`: reply parsing, planning, resumable journals, rate limit; end to end over real HTTP.

The fast end-to-end tests talk to a small stdlib HTTP server that answers in OpenAI's shape
with scripted replies (the thing under test is synth, not a model); the slow test runs against
`loralab serve` with the real embedded model.
"""

import ast
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from realdata import shared_file
from typer.testing import CliRunner

from loralab.cli import app
from loralab.curate.synth import (
    Journal,
    RateLimiter,
    Rejected,
    Seed,
    SynthConfig,
    parse_keywords,
    parse_pair,
    plan_perturbed,
    plan_self_instruct,
    synth,
)
from loralab.errors import LoralabError
from loralab.io import read_jsonl

runner = CliRunner()
GOOD = "Question: Write a function that doubles a number.\n```python\ndef double(x):\n    return 2 * x\n```"


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("reply, reason", [
    ("I'm sorry, but I can't help with that.", "refusal"),
    ("```python\ndef f():\n    pass\n```", "no_question"),
    ("Here is a new task:\n```python\nx = 1\n```", "no_question"),
    ("Question: Write a function that adds two numbers.", "no_code"),
    ("Question: Write a function that adds two numbers.\n```python\ndef add(a, b)\n    return a + b\n```", "code_does_not_parse"),
    ("Question: Write a Java method that adds two numbers.\n```java\nint add(int a, int b) { return a + b; }\n```", "code_does_not_parse"),
])
def test_parse_pair_rejects_with_a_reason(reply, reason):
    with pytest.raises(Rejected, match=reason):
        parse_pair(reply)


def test_parse_pair_takes_the_labelled_question_and_first_block():
    reply = "Sure!\n\n**Question:** Write a function that doubles a number.\n" + GOOD.split("\n", 1)[1] + "\n```python\nbad(\n```"
    assert parse_pair(reply) == ("Write a function that doubles a number.", "def double(x):\n    return 2 * x")
    # no fence: code after a "Code:" label
    assert parse_pair("Question: Print the numbers one to three.\nCode:\nfor i in range(1, 4):\n    print(i)")[1] \
        == "for i in range(1, 4):\n    print(i)"


def test_parse_keywords_keeps_words_not_code():
    assert parse_keywords("Keywords: Recursion, factorial\n- binary search\n1. C++") == \
        ["recursion", "factorial", "binary search", "c++"]
    assert parse_keywords("def f(x):, list = [1, a very long phrase of many words\n```python\nloop\n```") == []


# ----------------------------------------------------------------------------- planning


SEEDS = [Seed(r, f"Task number {r}", f"x = {r}") for r in (1, 2, 3, 4, 5)]


def test_plans_are_deterministic_per_attempt():
    cfg = SynthConfig(shots=2, seed=7)
    a = plan_self_instruct(3, SEEDS, cfg)
    assert a == plan_self_instruct(3, SEEDS, cfg)        # same attempt, same draw: resumes reproduce it
    assert len(set(a.parents)) == 2 and all(f"Task number {p}" in a.prompt for p in a.parents)
    assert len({tuple(plan_self_instruct(i, SEEDS, cfg).parents) for i in range(10)}) > 1


def test_perturbed_extends_own_keywords_with_zero_to_m_from_the_pool():
    keywords = {1: ["loops"], 2: ["recursion", "strings"], 3: ["sorting"], 4: ["hashing"], 5: ["graphs"]}
    cfg = SynthConfig(strategy="perturbed", max_new_keywords=3)
    extras = set()
    for i in range(40):
        a = plan_perturbed(i, SEEDS, keywords, cfg)
        own = keywords[a.parents[0]]
        assert a.keywords[:len(own)] == own and len(a.keywords) - len(own) <= 3
        assert len(set(a.keywords)) == len(a.keywords) and ", ".join(a.keywords) in a.prompt
        extras.add(len(a.keywords) - len(own))
        assert a == plan_perturbed(i, SEEDS, keywords, cfg)
    assert extras == {0, 1, 2, 3}  # m ~ U{0..3}


# ----------------------------------------------------------------------------- journal and rate limit


def test_journal_cuts_a_torn_last_line_and_refuses_damage_before_it(tmp_path):
    p = tmp_path / "j.jsonl"
    p.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    j = Journal(p)
    assert j.rows == [{"a": 1}, {"a": 2}] and p.read_text() == '{"a": 1}\n{"a": 2}\n'
    j.append([{"a": 3}])
    assert [r["a"] for r in Journal(p).rows] == [1, 2, 3]
    p.write_text('{"a": 1}\nnot json\n{"a": 3}\n')
    with pytest.raises(LoralabError, match="j.jsonl:2: malformed line"):
        Journal(p)


def test_rate_limiter_spaces_requests():
    now, slept = [0.0], []
    limiter = RateLimiter(60, clock=lambda: now[0], sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)))
    limiter.wait(4)          # 4 requests at t=0 use the next 4 s
    limiter.wait(2)          # must wait until t=4
    now[0] += 10
    limiter.wait(1)          # idle long enough: no wait
    assert slept == [4.0]


# ----------------------------------------------------------------------------- over HTTP (scripted server)


class Scripted(BaseHTTPRequestHandler):
    """Answers chat completions from a script; the first request gets 429 to exercise the retry."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        with srv.lock:
            srv.calls += 1
            if srv.calls == 1:
                return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
            prompt = body["messages"][-1]["content"]
            srv.prompts.append(prompt)
            text = srv.reply(prompt, len(srv.prompts))
        self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})

    def _send(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def scripted_reply(prompt, k):
    if prompt.startswith("List 3 to 5 keywords"):
        return "recursion, strings" if "reverse" in prompt.lower() else "loops, arithmetic"
    return ["I'm sorry, I can't do that.", GOOD, "Question: Compute a sum of a list.\n```python\nsum(\n```"][k % 3]


@pytest.fixture
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.lock, server.calls, server.prompts, server.reply = threading.Lock(), 0, [], scripted_reply
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def seed_file(tmp_path):
    rows = [{"instruction": "Reverse a string.", "input": "", "output": "def rev(s):\n    return s[::-1]"},
            {"instruction": "Add two numbers.", "input": "", "output": "def add(a, b):\n    return a + b"},
            {"instruction": "Explain what a closure is.", "input": "", "output": "A closure captures variables."}]
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps(rows))
    return path


def test_self_instruct_over_http_keeps_parsing_rows_and_resumes(endpoint, tmp_path):
    server, url = endpoint
    seeds, out = seed_file(tmp_path), tmp_path / "si"
    args = ["synth", str(seeds), "--out", str(out), "--endpoint", url, "--batch-size", "2",
            "--set", "backoff_s=0.01", "--set", "shots=2"]
    res = runner.invoke(app, args + ["--n", "2"])
    assert res.exit_code == 0, res.output
    kept, rejected = read_jsonl(out / "synth.jsonl"), read_jsonl(out / "rejected.jsonl")
    assert len(kept) == 2 and server.calls == 1 + len(kept) + len(rejected)       # one 429, retried
    assert {r["reason"] for r in rejected} == {"refusal", "code_does_not_parse"}
    for row in kept:
        assert row["strategy"] == "self_instruct" and set(row["parents"]) <= {1, 2}  # row 3 has no Python
        assert row["instruction"] == "Write a function that doubles a number." and ast.parse(row["output"])
    attempts = sorted(r["attempt"] for r in kept + rejected)
    assert attempts == list(range(len(attempts)))
    # resume with a larger n: earlier rows untouched, attempt numbers continue
    res = runner.invoke(app, args + ["--n", "3"])
    assert res.exit_code == 0, res.output
    more = read_jsonl(out / "synth.jsonl")
    assert more[:2] == kept and len(more) == 3 and more[2]["attempt"] > attempts[-1]
    assert (out / "meta.json").exists() and (out / "config.yaml").exists()
    # a different generation setting cannot resume into the same directory
    res = runner.invoke(app, args + ["--n", "3", "--temperature", "0.2"])
    assert res.exit_code != 0 and "temperature" in str(res.exception)


def test_perturbed_over_http_extracts_keywords_first(endpoint, tmp_path):
    server, url = endpoint
    cfg = SynthConfig(strategy="perturbed", n=2, endpoint=url, backoff_s=0.01, max_new_keywords=1, batch_size=3)
    result = synth(seed_file(tmp_path), cfg, tmp_path / "pt")
    kws = read_jsonl(tmp_path / "pt" / "keywords.jsonl")
    assert [(k["row"], k["keywords"]) for k in kws] == [
        (1, ["recursion", "strings"]), (2, ["loops", "arithmetic"]), (3, ["loops", "arithmetic"])]
    kept = read_jsonl(tmp_path / "pt" / "synth.jsonl")
    assert result.kept == len(kept) == 2 and all(r["strategy"] == "perturbed" for r in kept)
    for r in kept:
        own = {1: ["recursion", "strings"], 2: ["loops", "arithmetic"]}[r["parents"][0]]
        assert r["keywords"][:2] == own and len(r["keywords"]) <= 3
    assert any("involves these concepts" in p for p in server.prompts)


def test_synth_errors_are_one_line(tmp_path):
    seeds = seed_file(tmp_path)
    res = runner.invoke(app, ["synth", str(seeds), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "needs a base URL" in str(res.exception)
    (tmp_path / "prose.json").write_text(json.dumps([{"instruction": "Explain lists.", "output": "Lists hold items."}]))
    with pytest.raises(LoralabError, match="no seed row has a response that parses as Python"):
        synth(tmp_path / "prose.json", SynthConfig(endpoint="http://127.0.0.1:9/v1"), tmp_path / "o2")


# ----------------------------------------------------------------------------- against `loralab serve` (real model)


@pytest.mark.slow
def test_synth_end_to_end_against_loralab_serve(embedded_dir, tmp_path):
    from loralab.curate.metrics import python_code
    from loralab.serve.http import serve

    rows = [r for r in json.loads(shared_file("instruct/code_alpaca_2k.json").read_text())[:40]
            if python_code(r["output"])][:4]
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps(rows))
    handle = serve(str(embedded_dir), {}, port=0, device="cpu", batch_size=4)
    try:
        for strategy in ("self_instruct", "perturbed"):
            out = tmp_path / strategy
            res = runner.invoke(app, ["synth", str(seeds), "--out", str(out), "--endpoint", handle.url,
                                      "--model", str(embedded_dir), "--strategy", strategy, "--n", "2",
                                      "--max-attempts", "2", "--batch-size", "2", "--temperature", "0",
                                      "--set", "max_new_tokens=80", "--set", "keyword_rows=2", "--set", "shots=2"])
            assert res.exit_code == 0, res.output
            kept, rejected = read_jsonl(out / "synth.jsonl"), read_jsonl(out / "rejected.jsonl")
            assert sorted(r["attempt"] for r in kept + rejected) == [0, 1]  # every attempt accounted for
            assert all(r["reply"].strip() for r in rejected)               # the model did answer
            for r in kept:
                assert r["strategy"] == strategy and set(r["parents"]) <= {1, 2, 3, 4}
                assert python_code(r["output"]) is not None and len(r["instruction"].split()) >= 3
        assert [k["row"] for k in read_jsonl(tmp_path / "perturbed" / "keywords.jsonl")] == [1, 2]
    finally:
        handle.stop()
