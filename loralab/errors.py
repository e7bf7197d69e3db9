"""The one exception type a user can cause.

Every error a user can trigger (bad config, bad data line, missing extra, no GPU for
QLoRA) is raised as `LoralabError` with one sentence naming the file, line or key and
what to do. The CLI prints its message without a traceback; anything else is a bug.
"""

from __future__ import annotations


class LoralabError(Exception):
    """A problem the user can fix; the message says where and how."""


def missing_extra(package: str, extra: str) -> LoralabError:
    """The error for an optional dependency that is not installed."""
    return LoralabError(
        f"this needs the optional package '{package}': install it with "
        f"`pip install 'loralab[{extra}]'`"
    )
