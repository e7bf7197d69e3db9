"""The layer rule of docs/architecture.md, checked on every module's imports (issue #14).

Every `import` in loralab/ counts: top level, inside functions (the lazy imports of heavy
backends) and under TYPE_CHECKING, since each is a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "loralab"

# Top to bottom. A module may import its own component, any component of a lower layer, and
# within the bottom layer any other bottom module; components of one layer are independent.
LAYERS: list[set[str]] = [
    {"__main__"},
    {"cli"},
    {"studies"},
    {"train", "eval", "curate", "serve", "doctor", "report"},  # report: reads results, imports analysis
    {"inference", "route", "analysis"},
    {"data"},
    {"models", "config", "io", "results", "errors", "embed", "inputs", "assets", "machine"},  # assets: data (acme.py runs in the sandbox)
]
BOTTOM = LAYERS[-1]

MODEL_CODE = ("torch", "transformers", "peft", "vllm", "bitsandbytes", "loralab.models", "loralab.inference",
              "loralab.train", "loralab.embed")
SPECTRUM = "loralab.analysis.spectrum"  # reads adapter weights (safetensors), hence torch


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from loralab import eval`
    return found


def component(module: str) -> str | None:
    """`loralab.eval.sweep` -> "eval"; None outside loralab."""
    parts = module.split(".")
    return parts[1] if parts[0] == "loralab" and len(parts) > 1 else None


def layer_of(comp: str) -> int:
    for i, layer in enumerate(LAYERS):
        if comp in layer:
            return i
    raise AssertionError(f"loralab.{comp} is in no layer: add it to LAYERS and docs/architecture.md")


MODULES = sorted(PACKAGE.rglob("*.py"))


def edges() -> list[tuple[str, str]]:
    return [(module_name(p), target) for p in MODULES for target in sorted(imports(p))]


def test_every_component_has_a_layer():
    for p in MODULES:
        comp = component(module_name(p))
        if comp:  # loralab/__init__.py itself has none
            layer_of(comp)


def test_imports_point_down():
    bad = []
    for src, target in edges():
        a, b = component(src), component(target)
        if a is None or b is None or a == b or b not in {c for layer in LAYERS for c in layer}:
            continue
        la, lb = layer_of(a), layer_of(b)
        if la < lb or (la == lb and a in BOTTOM):
            continue
        bad.append(f"{src} imports {target} (layer {la} -> {lb})")
    assert not bad, "imports against the layer rule:\n" + "\n".join(bad)


def test_only_evaluation_cli_and_studies_import_eval():
    allowed = {"eval", "cli", "studies"}
    bad = [f"{s} imports {t}" for s, t in edges()
           if component(t) == "eval" and component(s) not in allowed]
    assert not bad, "\n".join(bad)


def test_analysis_and_report_import_no_model_code():
    bad = [f"{s} imports {t}" for s, t in edges()
           if component(s) in ("analysis", "report") and s != SPECTRUM
           and any(t == m or t.startswith(m + ".") for m in MODEL_CODE)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("source, want", [
    ("from loralab.eval import sweep", {"loralab.eval", "loralab.eval.sweep"}),
    ("from ..inference.generate import BASE", {"loralab.inference.generate", "loralab.inference.generate.BASE"}),
    ("def f():\n    import torch.nn", {"torch.nn"}),
])
def test_the_walker_sees_every_kind_of_import(tmp_path, monkeypatch, source, want):
    fake = tmp_path / "loralab" / "eval"
    fake.mkdir(parents=True)
    (fake / "mod.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "loralab")
    assert imports(fake / "mod.py") == want


def test_an_upward_import_is_caught(tmp_path, monkeypatch):
    """The rule can fail: an inference module importing eval is reported."""
    root = tmp_path / "loralab"
    (root / "inference").mkdir(parents=True)
    (root / "inference" / "bad.py").write_text("from loralab.eval.sweep import evaluate\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", root)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", [root / "inference" / "bad.py"])
    with pytest.raises(AssertionError, match="loralab.inference.bad imports loralab.eval.sweep"):
        test_imports_point_down()


def test_the_serve_protocol_is_pure():
    """serve/protocol.py parses and builds bodies only: no sockets, threads or model code."""
    impure = ("http", "socket", "socketserver", "threading", "queue", "torch", "loralab.serve.worker",
              "loralab.serve.http")
    targets = imports(PACKAGE / "serve" / "protocol.py")
    assert not [t for t in targets if any(t == m or t.startswith(m + ".") for m in impure)]


def test_a_public_class_or_helper_is_defined_once():
    # #14: three unrelated `Example` classes and two `question_text` functions made a reader guess
    # which one an import meant. Names already shared when this test was written are listed; do not add.
    known = {"Journal", "StudySection"}
    seen: dict[str, list[str]] = {}
    for p in MODULES:
        for node in ast.parse(p.read_text()).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") or (
                    isinstance(node, ast.FunctionDef) and node.name == "question_text"):
                seen.setdefault(node.name, []).append(module_name(p))
    twice = {name: mods for name, mods in seen.items() if len(mods) > 1 and name not in known}
    assert twice == {}, f"public classes (or question_text) defined in several modules: {twice}"
    assert seen["question_text"] == ["loralab.route.router"] and seen["Example"] == ["loralab.data.formats"]
