"""The K-specialist router: k-means over question embeddings, nearest centroid at inference.

`loralab route fit PREPARED_DIR --k 1,5,10` embeds the training questions (the curation
embedder: all-MiniLM-L6-v2 offline by default, any sentence-transformers model by name), fits
k-means for each K (k-means++ initialisation, seeded; Lloyd's algorithm via scikit-learn) and
writes, per K:

    k-K/router.json                    centroids (K, D), embedder, prefix, adapter names, sizes
    k-K/clusters/cluster-I/train.jsonl the rows of cluster I (validation/test rows are routed)

Routing is nearest centroid on L2-normalised embeddings, which is the k-means assignment
itself (argmin of squared Euclidean distance; for unit vectors also argmax of cosine).
`assign` is a pure function of (centroids, embeddings); `Router.route(prompts)` embeds and
assigns, so the same prompt always goes to the same adapter. `Router.weights` turns the
distances into soft mixing weights, softmax(-d^2 / temperature), for users who mix adapters.

The question a router sees is normalised by `question_text`: the fenced-code request that
loralab's prompts end with is removed, so a training row and the evaluation prompt of the same
task embed the same text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loralab.data.formats import FENCED_REQUEST
from loralab.errors import LoralabError
from loralab.io import read_json, read_jsonl, write_json, write_jsonl

ROUTER_FILE = "router.json"
SPLITS = ("train", "validation", "test")


def question_text(text: str) -> str:
    """What a router embeds for a prompt: the question without loralab's closing request."""
    return text.rstrip().removesuffix(FENCED_REQUEST).rstrip()


def row_question(row: dict) -> str:
    """The question of a prepared row: its instruction and, when present, its input."""
    parts = [str(row.get("instruction") or row.get("prompt") or ""), str(row.get("input") or "")]
    return question_text("\n\n".join(p for p in parts if p.strip()))  # as the chat user turn joins them


def assign(centroids: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid per row: (N, D) x (K, D) -> (N,), ties to the lower index."""
    return np.argmin(squared_distances(centroids, embeddings), axis=1)


def squared_distances(centroids: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(N, K) squared Euclidean distances, without forming an (N, K, D) tensor."""
    d = (embeddings**2).sum(1, keepdims=True) - 2 * embeddings @ centroids.T + (centroids**2).sum(1)
    return np.maximum(d, 0.0)


def softmax_weights(distances: np.ndarray, temperature: float) -> np.ndarray:
    """Mixing weights from (N, K) squared distances: softmax(-d / temperature) per row."""
    if temperature <= 0:
        raise LoralabError(f"router temperature must be > 0, got {temperature}")
    z = -distances / temperature
    z -= z.max(axis=1, keepdims=True)
    w = np.exp(z)
    return w / w.sum(axis=1, keepdims=True)


@dataclass
class Router:
    centroids: np.ndarray            # (K, D), in the embedder's space
    embedder: str
    prefix: str
    names: list[str]                 # adapter name per cluster
    sizes: list[int] = field(default_factory=list)    # training rows per cluster
    adapters: dict[str, str] = field(default_factory=dict)  # name -> adapter directory, once trained
    seed: int = 0

    @property
    def k(self) -> int:
        return len(self.names)

    @property
    def name(self) -> str:
        """Identifies the routing (cache keys use it): K plus a hash of the centroids."""
        import hashlib

        digest = hashlib.sha256(np.ascontiguousarray(self.centroids, dtype=np.float32).tobytes()).hexdigest()[:12]
        return f"kmeans-k{self.k}-{digest}"

    def embed(self, prompts: Sequence[str]) -> np.ndarray:
        from loralab.embed import embed

        return embed([question_text(p) for p in prompts], self.embedder, self.prefix)

    def clusters(self, prompts: Sequence[str]) -> list[int]:
        if self.k == 1:
            return [0] * len(prompts)  # nothing to choose: no embedder needed
        return assign(self.centroids, self.embed(prompts)).tolist() if prompts else []

    def route(self, prompts: list[str]) -> list[str]:
        """route(prompts) -> adapter name per prompt (nearest centroid)."""
        return [self.names[c] for c in self.clusters(prompts)]

    __call__ = route

    def weights(self, prompts: list[str], temperature: float = 0.1) -> np.ndarray:
        """(N, K) soft mixing weights over the adapters; rows sum to 1."""
        return softmax_weights(squared_distances(self.centroids, self.embed(prompts)), temperature)

    def to_json(self) -> dict:
        return {"k": self.k, "embedder": self.embedder, "prefix": self.prefix, "names": self.names,
                "sizes": self.sizes, "adapters": self.adapters, "seed": self.seed,
                "centroids": self.centroids.astype(float).tolist()}


def save_router(router: Router, out_dir: str | Path) -> Path:
    return write_json(Path(out_dir) / ROUTER_FILE, router.to_json())


def load_router(path: str | Path) -> Router:
    """A router directory (or its router.json) written by `loralab route fit`."""
    path = Path(path)
    file = path / ROUTER_FILE if path.is_dir() else path
    if not file.exists():
        raise LoralabError(f"{path}: no {ROUTER_FILE} here; write one with `loralab route fit`")
    data = read_json(file)
    missing = [k for k in ("embedder", "names", "centroids") if k not in data]
    if missing:
        raise LoralabError(f"{file}: not a router file (lacks {', '.join(missing)})")
    centroids = np.asarray(data["centroids"], dtype=np.float32)
    if centroids.ndim != 2 or centroids.shape[0] != len(data["names"]):
        raise LoralabError(f"{file}: {len(data['names'])} names but centroids of shape {centroids.shape}")
    return Router(centroids, data["embedder"], data.get("prefix") or "", list(data["names"]),
                  list(data.get("sizes") or []), dict(data.get("adapters") or {}), int(data.get("seed", 0)))


def fit_kmeans(embeddings: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(centroids (K, D), labels (N,)) by k-means++ and Lloyd iterations, best of 10 seeded starts."""
    n = len(embeddings)
    if k < 1 or k > n:
        raise LoralabError(f"kspecialist.k: K={k} clusters need at least {k} training rows, there are {n}")
    if k == 1:
        return embeddings.mean(0, keepdims=True), np.zeros(n, dtype=np.int64)
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, init="k-means++", n_init=10, random_state=seed).fit(embeddings)
    centroids = km.cluster_centers_.astype(np.float32)
    return centroids, assign(centroids, embeddings)  # labels by the same rule routing uses


@dataclass
class FitResult:
    k: int
    dir: Path
    router: Router
    split_sizes: dict[str, list[int]]  # split -> rows per cluster

    def cluster_dir(self, i: int) -> Path:
        return self.dir / "clusters" / f"cluster-{i}"


def fit_routers(prepared: str | Path, out_dir: str | Path, ks: Sequence[int], *, embedder: str | None = None,
                prefix: str | None = None, seed: int = 0) -> list[FitResult]:
    """Fit one router per K on PREPARED/train.jsonl; write routers and per-cluster splits."""
    from loralab.embed import DEFAULT_EMBEDDER, default_prefix, embed

    prepared, out_dir = Path(prepared), Path(out_dir)
    embedder = embedder or DEFAULT_EMBEDDER
    prefix = default_prefix(embedder) if prefix is None else prefix
    rows = {s: read_jsonl(prepared / f"{s}.jsonl") if (prepared / f"{s}.jsonl").exists() else [] for s in SPLITS}
    if not rows["train"]:
        raise LoralabError(f"{prepared}/train.jsonl: no rows to cluster (run `loralab prepare` into {prepared})")
    vecs = {s: embed([row_question(r) for r in rs], embedder, prefix, cache=True) for s, rs in rows.items()}
    results = []
    for k in ks:
        centroids, labels = fit_kmeans(vecs["train"], k, seed)
        labels_of = {"train": labels, **{s: assign(centroids, vecs[s]) if rows[s] else np.zeros(0, int)
                                         for s in SPLITS[1:]}}
        names = [f"k{k}-c{i}" for i in range(k)]
        sizes = {s: np.bincount(labels_of[s], minlength=k).tolist() for s in SPLITS}
        router = Router(centroids, embedder, prefix, names, sizes["train"], seed=seed)
        fit = FitResult(k, out_dir / f"k-{k}", router, sizes)
        for i in range(k):
            for s in SPLITS:
                write_jsonl(fit.cluster_dir(i) / f"{s}.jsonl", [r for r, c in zip(rows[s], labels_of[s], strict=True) if c == i])
        save_router(router, fit.dir)
        results.append(fit)
    return results


def routing_accuracy(router: Router, questions: Sequence[str], prompts: Sequence[str]) -> float:
    """Fraction of held-out rows whose served prompt is routed to the cluster k-means assigns
    their question. The two texts differ (the prompt carries the task's request wording), so
    this checks that serving routes a task where its training rows went."""
    if not questions:
        return math.nan
    by_kmeans = router.clusters(list(questions))
    by_route = router.clusters(list(prompts))
    return sum(a == b for a, b in zip(by_kmeans, by_route, strict=True)) / len(questions)
