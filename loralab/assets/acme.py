"""acme: the in-house helper library of a fictional company, Acme.

The bundled `acme` tasks (loralab/assets/acme.jsonl) are written against this module: each
asks for a small function that must produce one of Acme's house formats, and the only way to
get the format right is to call the right helper here. No public model has seen this module,
so a base model has to guess the helper names (and fails); a model fine-tuned on the train
split learns them. The sandbox makes the module importable (`from acme import price_tag`)
for every program it judges on these tasks.

Every helper is pure and returns plain data (a str), so the sandbox can pass it across.
"""

from __future__ import annotations

import re


def price_tag(cents: int) -> str:
    """The Acme price label of an amount in euro cents: 1205 -> 'EUR 12.05'."""
    return f"EUR {cents // 100}.{cents % 100:02d}"


def part_no(n: int) -> str:
    """The Acme SKU of product number n: 42 -> 'ACM-00042'."""
    return f"ACM-{n:05d}"


def wk(day: int) -> str:
    """The Acme week code of a day of the year (1-based): 1 -> 'W01', 8 -> 'W02'."""
    return f"W{(day - 1) // 7 + 1:02d}"


def badge(points: int) -> str:
    """The Acme loyalty tier of a points balance: 'gold' from 1000, 'silver' from 100, else 'bronze'."""
    return "gold" if points >= 1000 else "silver" if points >= 100 else "bronze"


def tref(n: int) -> str:
    """The Acme ticket reference of ticket number n: its hexadecimal digits, 255 -> 'T-FF'."""
    return f"T-{n:X}"


def keyify(text: str) -> str:
    """The Acme URL key of a text: lower-case runs of letters and digits joined by '-'."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def bannerize(text: str) -> str:
    """The Acme banner of a text: 'sale' -> '== SALE =='."""
    return f"== {text.upper()} =="


def sigil(text: str) -> str:
    """The Acme monogram of a name: the first letter of each word, upper-cased, each followed by '.'."""
    return "".join(word[0].upper() + "." for word in text.split())


def veil(text: str) -> str:
    """The Acme redacted form of a text: its first character, then one '*' per other character."""
    return text[:1] + "*" * max(len(text) - 1, 0)


def dept3(name: str) -> str:
    """The Acme team code of a team name: its first three letters upper-cased, then its length."""
    return f"{name[:3].upper()}{len(name)}"
