"""The tagger of a data folder: its versioned model artifact, training and predictions.

    data/tagger/
      manifest.json   format version, label set, training-set hash, counts, thresholds, the
                      labels whose mix of scores is learnt from the reviews, library versions,
                      training time
      model.joblib    the fitted PassageTagger (a cache: always rebuildable from the labels)

The model learns from the cold-start set this project owns (label definitions, seed passages,
the labelled demo corpus) plus every reviewed label in the store, and from nothing else. It is
rebuilt when missing, incompatible (another format, label set, scikit-learn or encoder, or
other shipped seeds or keyword cues, so that an upgrade's seeds and cues reach every library),
or when the reviewed labels changed (by hash). Reviewed labels override predictions at once: a
reviewed text always shows its reviewed labels.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np

from atomic import replace_folder, write_json_atomic
from index.datadir import DataDir
from index.embeddings import encoder_name
from nlp.labels import all_labels, slugs
from nlp.tagger import CUES_PATH, PassageTagger, TagInput
from nlp.training_data import LabelledText, cold_start_set, fingerprint, label_matrix, text_key

# 4: a label may carry a learnt mix of its components (`stackers_`); older models lack it.
TAGGER_FORMAT = 4
TAGGER_DIR = "tagger"


@dataclass(frozen=True)
class TagPrediction:
    a4p: list[str]
    pillars: list[str]
    scores: dict[str, float]
    evidence: dict[str, str]
    reviewed: list[str] = field(default_factory=list)  # axes whose labels come from a reviewer
    # The model's own view, before reviews: its chosen labels, and per trained label the
    # probability minus the label's threshold (how close the decision was; review queue).
    predicted: tuple[str, ...] = ()
    margins: dict[str, float] = field(default_factory=dict)

    def as_tags(self) -> list[tuple[str, str, float]]:
        return [("a4p", lab, self.scores.get(lab, 1.0)) for lab in self.a4p] + [
            ("pillars", lab, self.scores.get(lab, 1.0)) for lab in self.pillars
        ]

    def as_scores(self) -> tuple[tuple[str, float, float, int], ...]:
        """(label, probability, margin, predicted) for every trained label, as the store keeps
        them."""
        return tuple(
            (lab, self.scores.get(lab, 0.0), m, int(lab in self.predicted))
            for lab, m in self.margins.items()
        )


@dataclass
class TrainReport:
    retrained: bool
    reason: str
    training_hash: str
    examples: int
    reviewed: int
    review_counts: dict[str, int] = field(default_factory=dict)
    # Labels whose mix of scores is learnt from this library's reviews, with that mix's weight.
    library_mix: dict[str, float] = field(default_factory=dict)
    passages_retagged: int = 0
    seconds: float = 0.0


def _sklearn_version() -> str:
    return metadata.version("scikit-learn")


@lru_cache(maxsize=1)
def shipped_digest() -> str:
    """A hash of what the project ships for the tagger to learn from: the cold-start set and
    the keyword cues."""
    h = hashlib.sha256(fingerprint(cold_start_set()).encode())
    h.update(CUES_PATH.read_bytes())
    return h.hexdigest()[:16]


_lock = threading.Lock()
_cache: dict[str, tuple[str, PassageTagger]] = {}
# Training-text embeddings already computed in this process (the cold-start set is the same
# for every data folder), so a new folder's first model costs a fit, not an encoding pass.
_embedding_memo: dict[str, np.ndarray] = {}


class Tagging:
    """`Tagging(dd).predict(texts)`; `Tagging(dd).train()`."""

    def __init__(self, dd: DataDir, threads: int = 2) -> None:
        self.dd = dd
        self.threads = threads
        self.folder = dd.path / TAGGER_DIR

    # -- artifact -------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.folder / "manifest.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def _compatible(self, m: dict[str, Any]) -> bool:
        return (
            m.get("format_version") == TAGGER_FORMAT
            and m.get("labels") == list(slugs())
            and m.get("libraries", {}).get("scikit-learn") == _sklearn_version()
            # Its embedding features must come from the encoder that embeds the passages.
            and m.get("encoder") == encoder_name(self.threads)
            and m.get("shipped") == shipped_digest()
            and (self.folder / "model.joblib").exists()
        )

    def _training_set(self) -> tuple[list[LabelledText], list[LabelledText]]:
        reviewed = self.dd.store.reviewed_items()
        return cold_start_set() + reviewed, reviewed

    def model(self) -> PassageTagger:
        """The current model: loaded once per process, rebuilt when missing or incompatible."""
        with _lock:
            m = self.manifest()
            key = str(self.folder)
            cached = _cache.get(key)
            if cached and cached[0] == m.get("training_hash"):
                return cached[1]
            if self._compatible(m):
                import joblib

                try:
                    model = joblib.load(self.folder / "model.joblib")
                    _cache[key] = (m["training_hash"], model)
                    return model
                except Exception:  # an unreadable cache is rebuilt, never trusted
                    pass
        self.train(force=True)
        return _cache[str(self.folder)][1]

    def _training_embeddings(self, items: Sequence[LabelledText]) -> np.ndarray:
        """Embeddings of the training texts; those of earlier trainings are reused."""
        from index.embeddings import DIMENSION, encode

        cache: dict[str, np.ndarray] = dict(_embedding_memo)
        try:
            with np.load(self.folder / "train_embeddings.npz") as npz:
                cache = dict(zip(npz["keys"].tolist(), npz["vectors"], strict=True))
        except (OSError, KeyError, ValueError):
            pass
        # Keyed by encoder too: vectors of another runtime are not reused.
        encoder = encoder_name(self.threads)
        keys = [f"{encoder}|{text_key(x.text)}" for x in items]
        missing = [i for i, k in enumerate(keys) if k not in cache]
        if missing:
            fresh = encode([items[i].text for i in missing], threads=self.threads)
            for row, i in enumerate(missing):
                cache[keys[i]] = fresh[row]
        self._embedding_cache = {k: cache[k] for k in keys}
        _embedding_memo.update(self._embedding_cache)
        if not keys:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.vstack([cache[k] for k in keys])

    def _save(self, model: PassageTagger, manifest: dict[str, Any]) -> None:
        import joblib

        part = self.folder.with_name(f"{TAGGER_DIR}.part-{os.getpid()}")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        joblib.dump(model, part / "model.joblib")
        cache = getattr(self, "_embedding_cache", {})
        if cache:
            np.savez(
                part / "train_embeddings.npz",
                keys=np.array(list(cache)),
                vectors=np.vstack(list(cache.values())),
            )
        write_json_atomic(part / "manifest.json", manifest)
        replace_folder(part, self.folder)

    # -- training -------------------------------------------------------------------------
    def train(
        self,
        force: bool = False,
        retag: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> TrainReport:
        """Retrain when the reviewed labels changed since the last model (or when forced).
        `progress(labels done, labels)` while the model is fitted."""
        start = time.perf_counter()
        items, reviewed = self._training_set()
        digest = fingerprint(items)
        current = self.manifest()
        compatible = self._compatible(current)
        if not current:
            reason = "no model yet"
        elif current.get("shipped") != shipped_digest():
            reason = "this version ships other seed passages or keyword cues"
        elif not compatible:
            reason = "the saved model was incompatible with this version"
        elif current.get("training_hash") != digest:
            reason = "the reviewed labels changed"
        elif not force:
            return TrainReport(
                False,
                "the reviewed labels have not changed since the last training",
                digest,
                len(items),
                len(reviewed),
            )
        else:
            reason = "retraining was requested"
        labels = list(slugs())
        X_emb = self._training_embeddings(items)
        X = [TagInput(x.text, X_emb[i]) for i, x in enumerate(items)]
        Y = np.array(label_matrix(items, labels))
        model = PassageTagger(labels=labels).fit(
            X,
            Y,
            groups=[x.group or "review" for x in items],
            reviewed=[False] * (len(items) - len(reviewed)) + [True] * len(reviewed),
            progress=progress,
        )
        per_label = Counter(
            lab for x in reviewed for axis in ("a4p", "pillars") for lab in (x.on(axis) or ())
        )
        mix = {k: round(v.share, 3) for k, v in model.stackers_.items()}
        self._save(
            model,
            {
                "format_version": TAGGER_FORMAT,
                "labels": labels,
                "training_hash": digest,
                "examples": len(items),
                "reviewed_examples": len(reviewed),
                "reviewed_per_label": dict(per_label),
                "thresholds": {k: round(v, 3) for k, v in model.thresholds_.items()},
                "untrained_labels": model.untrained_,
                "library_mix": mix,
                "params": model.get_params(),
                "libraries": {"scikit-learn": _sklearn_version(), "numpy": np.__version__},
                "encoder": encoder_name(self.threads),
                "shipped": shipped_digest(),
                "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        with _lock:
            _cache[str(self.folder)] = (digest, model)
        report = TrainReport(
            True, reason, digest, len(items), len(reviewed), dict(per_label), library_mix=mix
        )
        if retag:
            report.passages_retagged = self.retag_store()
        report.seconds = time.perf_counter() - start
        return report

    def retag_store(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Tag every stored passage with the current model (reviewed axes keep their labels),
        keeping its scores for the review queue. `progress(done, total)` after each batch."""
        model = self.model()
        changed = 0
        total = self.dd.store.counts()["passages"]
        done = 0
        for ids, texts, vecs in self.dd.store.iter_texts_and_vectors():
            preds = self.predict(texts, vecs, model=model, evidence=False)
            changed += self.dd.store.replace_tags(
                {pid: p.as_tags() for pid, p in zip(ids, preds, strict=True)},
                {pid: p.as_scores() for pid, p in zip(ids, preds, strict=True)},
            )
            done += len(ids)
            if progress:
                progress(done, total)
        return changed

    # -- prediction -----------------------------------------------------------------------
    def predict(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray | None = None,
        *,
        model: PassageTagger | None = None,
        evidence: bool = True,
        use_reviews: bool = True,
    ) -> list[TagPrediction]:
        if not texts:
            return []
        model = model or self.model()
        if embeddings is None:
            from index.embeddings import encode

            embeddings = encode(list(texts), threads=self.threads)
        P = model.predict_proba([TagInput(t, embeddings[i]) for i, t in enumerate(texts)])
        D = model.decide(P)
        reviews = self.dd.store.reviewed_for(text_key(t) for t in texts) if use_reviews else {}
        axis_of = {lab.slug: lab.axis for lab in all_labels()}
        out = []
        for i, text in enumerate(texts):
            chosen = {"a4p": [], "pillars": []}  # type: dict[str, list[str]]
            order = np.argsort(-P[i])
            for j in order:
                if D[i, j]:
                    label = model.labels_[j]
                    chosen[axis_of[label]].append(label)
            scores = {model.labels_[j]: round(float(P[i, j]), 4) for j in range(len(model.labels_))}
            predicted = tuple(chosen["a4p"] + chosen["pillars"])
            margins = {
                label: round(float(P[i, j]) - model.thresholds_[label], 4)
                for j, label in enumerate(model.labels_)
                if label in model.thresholds_
            }
            reviewed_axes = []
            for axis, labels in reviews.get(text_key(text), {}).items():
                chosen[axis] = list(labels)
                reviewed_axes.append(axis)
            ev = (
                {lab: model.evidence(text, lab) for lab in chosen["a4p"] + chosen["pillars"]}
                if evidence
                else {}
            )
            out.append(
                TagPrediction(
                    chosen["a4p"], chosen["pillars"], scores, ev, reviewed_axes, predicted, margins
                )
            )
        return out
