"""LiveCodeBench: problems written here in code_generation_lite's format (stdin and functional,
plain and compressed private tests) are judged right; filters, releases, the hub path and
hostile pickles; the real 422-problem AtCoder file runs end to end."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from loralab.errors import LoralabError
from loralab.eval.sandbox import Limits
from loralab.eval.tasks import check, get_task
from loralab.eval.tasks import livecodebench as lcb

LIMITS = Limits(timeout=2.0)


def compress(tests: list[dict]) -> str:
    """How LiveCodeBench ships private tests: base64(zlib(pickle(json string)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def row(qid: str, tests_public, tests_private, *, starter="", func=None, platform="atcoder", difficulty="easy",
        date="2024-06-01T00:00:00", compressed=True) -> dict:
    return {"question_title": qid, "question_content": f"Problem {qid}.", "platform": platform, "question_id": qid,
            "contest_id": "c1", "contest_date": date, "starter_code": starter, "difficulty": difficulty,
            "public_test_cases": json.dumps(tests_public),
            "private_test_cases": compress(tests_private) if compressed else json.dumps(tests_private),
            "metadata": json.dumps({"func_name": func} if func else {})}


def stdin_case(i: str, o: str) -> dict:
    return {"input": i, "output": o, "testtype": "stdin"}


def fn_case(args: list, out) -> dict:
    return {"input": "\n".join(json.dumps(a) for a in args), "output": json.dumps(out), "testtype": "functional"}


@pytest.fixture
def problems_file(tmp_path) -> Path:
    rows = [
        # sum of two numbers; the private tests (compressed) include negatives
        row("sum2", [stdin_case("1 2\n", "3\n")], [stdin_case("-5 5\n", "0\n"), stdin_case("10 -3", "7")]),
        # average printed as a decimal: 2.50 == 2.5 as Decimals
        row("avg", [stdin_case("2\n2 3\n", "2.50\n")], [stdin_case("1\n7\n", "7.0")], compressed=False),
        # LeetCode style: class Solution, JSON args one per line, tuple answers count as lists
        row("twosum", [fn_case([[2, 7, 11, 15], 9], [0, 1])], [fn_case([[3, 2, 4], 6], [1, 2])],
            starter="class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        ",
            func="twoSum", platform="leetcode", difficulty="medium", date="2023-07-15T00:00:00"),
    ]
    path = tmp_path / "lcb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


SUM_OK = "a, b = map(int, input().split())\nprint(a + b)\n"
SUM_PUBLIC_ONLY = "a, b = map(int, input().split())\nprint(3)\n"  # passes the public test only
AVG_OK = "n = int(input())\nxs = list(map(int, input().split()))\nprint(f'{sum(xs) / n:.1f}')\n"
TWOSUM_OK = ("class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
             "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n"
             "                return (seen[target - x], i)\n            seen[x] = i\n")
TWOSUM_WRONG = "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]\n"


def test_stdin_and_functional_problems_are_judged_right(problems_file):
    task = get_task("livecodebench", path=str(problems_file))
    p = {x.task_id: x for x in task.problems()}
    assert len(p["sum2"].cases) == 3 and p["twosum"].entry_point == "twoSum" and not p["twosum"].cases
    pairs = [("sum2", SUM_OK, True), ("sum2", SUM_PUBLIC_ONLY, False), ("avg", AVG_OK, True),
             ("twosum", TWOSUM_OK, True), ("twosum", TWOSUM_WRONG, False),
             ("twosum", "def twoSum(nums, target):\n    return [1, 2] if target == 6 else [0, 1]\n", True),
             ("sum2", f"```python\n{SUM_OK}```", True)]
    verdicts = check(task, [p[q] for q, _, _ in pairs], [c for _, c, _ in pairs], workers=2, limits=LIMITS)
    assert [v.passed for v in verdicts] == [ok for _, _, ok in pairs]
    assert "case 2/3: wrong answer" in verdicts[1].detail  # failed on a (compressed) private test


def test_public_only_skips_private_tests(problems_file):
    task = get_task("livecodebench", path=str(problems_file), public_only=True)
    p = {x.task_id: x for x in task.problems()}
    assert len(p["sum2"].cases) == 1
    assert check(task, [p["sum2"]], [SUM_PUBLIC_ONLY], limits=LIMITS)[0].passed


def test_lcb_prelude_makes_common_imports_implicit(problems_file):
    task = get_task("livecodebench", path=str(problems_file))
    p = {x.task_id: x for x in task.problems()}["sum2"]
    # no imports: sys, deque and List come from LiveCodeBench's prelude
    code = "data = sys.stdin.read().split()\nq = deque(map(int, data))\nprint(q[0] + q[1])\n"
    assert check(task, [p], [code], limits=LIMITS)[0].passed


def test_filters_by_platform_difficulty_release_and_dates(problems_file):
    ids = lambda **kw: sorted(x.task_id for x in get_task("livecodebench", path=str(problems_file), **kw).problems())  # noqa: E731
    assert ids(platform="atcoder") == ["avg", "sum2"]
    assert ids(difficulty=["medium", "hard"]) == ["twosum"]
    assert ids(release="release_v1") == ["twosum"]          # 2023-07 is in v1; 2024-06 is not
    assert ids(release="v3") == ["avg", "sum2"]             # v3 added June-July 2024
    assert ids(version_tag="release_v6", platform="leetcode") == ["twosum"]
    assert ids(start_date="2024-01-01") == ["avg", "sum2"]
    assert ids(end_date="2023-12-31") == ["twosum"]
    with pytest.raises(LoralabError, match="unknown release"):
        get_task("livecodebench", path=str(problems_file), release="release_v9")
    with pytest.raises(LoralabError, match="YYYY-MM-DD"):
        get_task("livecodebench", path=str(problems_file), start_date="June")


def test_release_windows_and_hub_files():
    assert lcb.release_window("release_v1")[1].isoformat() == "2024-03-31"
    assert lcb.release_window("v2")[0].isoformat() == "2024-04-01"
    assert lcb.release_window("v1_v3") == (lcb.RELEASE_START, lcb.RELEASE_END[3])
    assert lcb.release_files("release_v3") == ["test.jsonl", "test2.jsonl", "test3.jsonl"]
    assert lcb.release_files("v1") == ["test.jsonl"]
    assert lcb.release_files("v4_v5") == ["test4.jsonl", "test5.jsonl"]
    assert len(lcb.release_files("release_latest")) == 6


def test_hub_path_downloads_the_release_files(problems_file, monkeypatch):
    """Without `path`, problems come from the hub dataset's files for the release (here the
    download is replaced by a local copy: tests never reach the hub)."""
    import huggingface_hub

    asked = []

    def fake_download(repo_id, filename, repo_type=None, **kw):
        asked.append((repo_id, filename, repo_type))
        return str(problems_file) if filename == "test.jsonl" else str(problems_file.with_name("empty.jsonl"))

    problems_file.with_name("empty.jsonl").write_text("")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    task = get_task("livecodebench", release="release_v2", platform="leetcode")
    assert [p.task_id for p in task.problems()] == ["twosum"]
    assert asked == [(lcb.HUB_ID, "test.jsonl", "dataset"), (lcb.HUB_ID, "test2.jsonl", "dataset")]


def test_hostile_pickle_in_private_tests_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = row("evil", [stdin_case("1", "1")], [])
    bad["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(LoralabError, match="refusing to load global"):
        get_task("livecodebench", path=str(path)).problems()
    assert not marker.exists()


def test_bad_rows_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row("ok", [stdin_case("1", "1")], [])) + "\n{not json\n")
    with pytest.raises(LoralabError, match=r"bad.jsonl:2"):
        get_task("livecodebench", path=str(path)).problems()
    no_func = row("f", [fn_case([1], 1)], [])
    path.write_text(json.dumps(no_func) + "\n")
    with pytest.raises(LoralabError, match="func_name"):
        get_task("livecodebench", path=str(path)).problems()


def test_chat_prompt_follows_livecodebench_format(problems_file):
    task = get_task("livecodebench", path=str(problems_file))
    p = {x.task_id: x for x in task.problems()}
    stdin_msgs = task.request(p["sum2"], chat=True).messages
    assert stdin_msgs[0] == {"role": "system", "content": lcb.SYSTEM}
    assert stdin_msgs[1]["content"].startswith("### Question:\nProblem sum2.\n\n### Format: Read the inputs from stdin")
    assert "```python\n# YOUR CODE HERE\n```" in stdin_msgs[1]["content"]
    assert stdin_msgs[1]["content"].endswith("### Answer: (use the provided format with backticks)\n\n")
    func_msgs = task.request(p["twosum"], chat=True).messages
    assert f"```python\n{p['twosum'].starter}\n```" in func_msgs[1]["content"]
    assert task.request(p["sum2"], chat=False).prompt.endswith("### Answer\n\n")


def test_real_atcoder_file_loads_all_422_problems():
    from realdata import shared_file

    task = get_task("livecodebench", path=str(shared_file("eval/atcoder_easy_lcb.jsonl")))
    problems = task.problems()
    assert len(problems) == 422 and all(p.cases and not p.entry_point for p in problems)
    assert all(len(p.cases) >= 2 for p in problems)  # public + private (decoded) cases
    with pytest.raises(LoralabError, match="no contest_date"):
        get_task("livecodebench", path=str(shared_file("eval/atcoder_easy_lcb.jsonl")), release="release_v5").problems()


@pytest.mark.slow
def test_score_runs_over_all_422_real_problems_without_crash_or_hang(tmp_path):
    """`loralab score livecodebench` end to end: one wrong program and one crashing program per
    problem; every sample gets a verdict, none passes, nothing hangs."""
    from realdata import shared_file

    from loralab.eval.score import score_livecodebench

    path = shared_file("eval/atcoder_easy_lcb.jsonl")
    ids = [json.loads(line)["question_id"] for line in path.read_text().splitlines() if line.strip()]
    samples = tmp_path / "samples.jsonl"
    wrong = "import sys\nprint(len(sys.stdin.read()))\n"
    samples.write_text("".join(json.dumps({"question_id": q, "code_list": [wrong, "raise SystemError('x')\n"]}) + "\n"
                               for q in ids))
    res = score_livecodebench(samples, problems=str(path), ks=[1, 2], workers=2, timeout=2.0)
    rows = [json.loads(line) for line in res.results_path.read_text().splitlines()]
    assert len(rows) == 422 and res.n_samples == 844 and res.n_problems == 422
    assert sum(res.statuses.values()) == 844 and res.statuses["failed"] >= 800
    assert res.pass_at_k[1] < 0.02 and set(res.pass_at_k) == {1, 2}
    assert all(len(r["graded_list"]) == 2 and "runtime error: SystemError" in r["results"][1] for r in rows)
