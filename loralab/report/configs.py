"""Run configurations side by side: the settings that differ between runs, and those all share."""

from __future__ import annotations

import yaml

from loralab.report.blocks import Cell, Details, Para, Section, Table, short_cell
from loralab.report.format import DASH
from loralab.report.load import StudyResults


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    """{'adapter': {'r': 8}} -> {'adapter.r': '8'}: nested config to dotted keys, values as text."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, str) else yaml.safe_dump(
                value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
    return out


def config_diff(configs: dict[str, dict | None]) -> tuple[list[str], list[str]]:
    """(keys whose values differ between runs, keys shared by all), in config order."""
    flats = [flatten(c) for c in configs.values() if c is not None]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    differs = [k for k in keys if len({f.get(k) for f in flats}) > 1]
    return differs, [k for k in keys if k not in differs]


def config_section(study: StudyResults) -> Section:
    configs = {r.name: r.config for r in study.runs}
    flats = {name: flatten(c) if c is not None else {} for name, c in configs.items()}
    differs, shared = config_diff(configs)
    headers = ["key", *configs]

    def rows(keys: list[str]) -> list[list[Cell]]:
        return [[Cell(k, strong=True)] + [short_cell(flats[n].get(k, DASH)) for n in configs] for k in keys]

    blocks: list = []
    if len(configs) > 1:
        blocks.append(Para(f"{len(differs)} setting(s) differ between the runs (highlighted); "
                           f"{len(shared)} are shared." if differs else "No setting differs between the runs."))
        blocks.append(Table(headers, rows(differs), id="config-diff", row_cls=["differs"] * len(differs)))
    blocks.append(Details(f"{len(shared)} settings shared by all runs", [Table(headers, rows(shared), id="config-shared")],
                          open=len(configs) == 1))
    blocks += [Para(f"{n}: no config.yaml ({DASH}).", note=True) for n, c in configs.items() if c is None]
    return Section("Run configurations side by side", "configs", blocks)
