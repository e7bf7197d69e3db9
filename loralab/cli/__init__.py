"""`loralab` command line: a table from command name to stage function.

Each command parses its arguments, loads the config, calls one stage and prints where
the stage wrote its artifact. Heavy libraries are imported inside the commands so that
`loralab --help` answers instantly. A `LoralabError` ends the command with its one-line
message and exit status 2, never a traceback.
"""

import importlib

from loralab.cli.common import app, main, run_cli  # noqa: F401  (the entry point and the app)

# Importing a module registers its commands on `app`; this order is the order of `loralab --help`
# (a loop, so that import sorting cannot reorder it).
COMMAND_MODULES = ("basics", "serving", "curation", "reporting", "synthesis", "evaluation", "studies", "scoring",
                   "analysis", "training", "judging")
for _module in COMMAND_MODULES:
    importlib.import_module(f"loralab.cli.{_module}")

if __name__ == "__main__":
    main()
