"""The passage tagger: a scikit-learn estimator over text (and optionally embedding) features.

For each label, three logistic regressions each give a probability, and a weighted average of
them is the label's score:
- text: TF-IDF word 1-2-grams (optionally character 3-5-grams) plus the keyword-cue features;
- cues: the 12 keyword-cue features alone, a low-variance model that transfers across kinds of
  document where word n-grams learned from few examples do not (`cue_model_weight`);
- embeddings, when given (`embedding_weight`).
Per-label thresholds are chosen on out-of-fold predictions (maximising F1) and never set below
`min_threshold`, so that an uncertain label is left off rather than guessed.

Label shift: how often a label occurs in the seed passages says nothing about a user's library
(seeds were written to cover every label), while reviewed passages come from that library. So
the threshold maximises F1 at an assumed label frequency: the reviewed passages' frequency,
shrunk towards one half by `prior_strength` pseudo-examples (one half when nothing is reviewed;
`prior_strength=None` keeps the training set's own frequency).
Reviewed passages also weigh `review_weight` times a cold-start example in every fit.

Labels may be partially known: `Y` holds 1 (applies), 0 (does not apply) or -1 (not reviewed on
that label's axis); each label learns only from the rows where it is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from errors import TaggerError
from nlp.sentences import split_sentences

MIN_POSITIVES = 3


@dataclass(frozen=True)
class TagInput:
    """One passage to tag: its text and, when available, its normalised embedding."""

    text: str
    embedding: np.ndarray | None = None


CUES_PATH = Path(__file__).parent / "data" / "cues.json"


@lru_cache(maxsize=1)
def _cue_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    data = json.loads(CUES_PATH.read_text(encoding="utf-8"))
    return tuple(
        (label, re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + ")", re.I))
        for label, words in data.items()
        if not label.startswith("_")
    )


def cue_features(texts: Sequence[str]) -> np.ndarray:
    """Per label, log(1 + keyword-cue hits): synonyms written from the label definitions pool
    their evidence into one feature, which generalises from few examples."""
    pats = _cue_patterns()
    return np.log1p(np.array([[len(p.findall(t)) for _, p in pats] for t in texts], dtype=float))


class PassageTagger(ClassifierMixin, BaseEstimator):
    """Multi-label tagger. `fit(X, Y)` with X a sequence of `TagInput`, Y of shape
    (n_samples, n_labels) in {1, 0, -1}; `predict_proba` and `predict` return (n, n_labels)."""

    def __init__(
        self,
        labels: Sequence[str] = (),
        C_text: float = 10.0,
        C_embedding: float = 1.0,
        C_cue: float = 1.0,
        embedding_weight: float = 0.25,
        cue_model_weight: float = 0.25,
        char_ngrams: bool = False,
        cue_weight: float = 1.0,
        review_weight: float = 1.0,
        prior_strength: float | None = 50.0,
        min_threshold: float = 0.35,
        cv_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.labels = labels
        self.C_text = C_text
        self.C_embedding = C_embedding
        self.C_cue = C_cue
        self.embedding_weight = embedding_weight
        self.cue_model_weight = cue_model_weight
        self.char_ngrams = char_ngrams
        self.cue_weight = cue_weight
        self.review_weight = review_weight
        self.prior_strength = prior_strength
        self.min_threshold = min_threshold
        self.cv_folds = cv_folds
        self.random_state = random_state

    # -- features -------------------------------------------------------------------------
    def _text_features(self, texts: Sequence[str], fit: bool = False) -> Any:
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfVectorizer

        if fit:
            self.word_vectorizer_ = TfidfVectorizer(
                ngram_range=(1, 2),
                sublinear_tf=True,
                min_df=1,
                stop_words="english",
                max_features=200_000,
            )
            self.char_vectorizer_ = TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(3, 5),
                sublinear_tf=True,
                min_df=2,
                max_features=100_000,
            )
            parts = [self.word_vectorizer_.fit_transform(texts)]
            if self.char_ngrams:
                parts.append(self.char_vectorizer_.fit_transform(texts))
        else:
            parts = [self.word_vectorizer_.transform(texts)]
            if self.char_ngrams:
                parts.append(self.char_vectorizer_.transform(texts))
        if self.cue_weight > 0:
            parts.append(sp.csr_matrix(self.cue_weight * cue_features(texts)))
        return sp.hstack(parts).tocsr() if len(parts) > 1 else parts[0]

    @staticmethod
    def _embeddings(X: Sequence[TagInput]) -> np.ndarray | None:
        if not X or any(x.embedding is None for x in X):
            return None
        return np.vstack([np.asarray(x.embedding, dtype=np.float32) for x in X])

    def _new_lr(self, C: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        # liblinear: the same L2 logistic loss, several times faster on small sparse problems.
        return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=3000)

    # -- fitting --------------------------------------------------------------------------
    def fit(
        self,
        X: Sequence[TagInput],
        Y: np.ndarray,
        groups: Sequence[str] | None = None,
        reviewed: Sequence[bool] | None = None,
    ) -> PassageTagger:
        """`groups` (e.g. the mission or document of each passage) keeps each group within one
        fold when thresholds are chosen, so they are set on text the fold never saw the like
        of, as new missions will be. `reviewed` marks passages labelled by a reviewer (the
        others are cold-start data): they set the assumed label frequency and weigh more."""
        Y = np.asarray(Y)
        if not self.labels or Y.ndim != 2 or Y.shape != (len(X), len(self.labels)):
            raise TaggerError("Y must have one column per label and one row per passage")
        if len(X) == 0:
            raise TaggerError("no training data available: review some passages first")
        rev = np.zeros(len(X), bool) if reviewed is None else np.asarray(reviewed, bool)
        if rev.shape != (len(X),):
            raise TaggerError("reviewed must have one flag per passage")
        self.labels_ = tuple(self.labels)
        texts = [x.text for x in X]
        T = self._text_features(texts, fit=True)
        C = cue_features(texts)
        E = self._embeddings(X)
        self.uses_embeddings_ = E is not None and self.embedding_weight > 0
        E = E if self.uses_embeddings_ else None
        weights = np.where(rev, self.review_weight, 1.0)
        self.text_models_: dict[str, Any] = {}
        self.cue_models_: dict[str, Any] = {}
        self.embedding_models_: dict[str, Any] = {}
        self.thresholds_: dict[str, float] = {}
        self.assumed_rates_: dict[str, float] = {}
        self.untrained_: list[str] = []
        for j, label in enumerate(self.labels_):
            known = Y[:, j] >= 0
            y = Y[known, j].astype(int)
            if y.sum() < MIN_POSITIVES or (len(y) - y.sum()) < MIN_POSITIVES:
                self.untrained_.append(label)
                continue
            rows = np.flatnonzero(known)
            g = None if groups is None else np.asarray(groups)[rows]
            parts = (T[rows], C[rows], None if E is None else E[rows])
            oof = self._out_of_fold(parts, y, weights[rows], g)
            r = rev[rows]
            if self.prior_strength is None:  # trust the training set's label frequency
                rate = float(y.mean())
            else:
                rate = (y[r].sum() + 0.5 * self.prior_strength) / (r.sum() + self.prior_strength)
            self.assumed_rates_[label] = float(rate)
            self.thresholds_[label] = _best_threshold(
                oof, y, self.min_threshold, _shift_weights(y, rate)
            )
            models = self._fit_models(parts, y, weights[rows])
            self.text_models_[label], self.cue_models_[label] = models[0], models[1]
            if models[2] is not None:
                self.embedding_models_[label] = models[2]
        self.n_train_ = len(X)
        return self

    def _fit_models(
        self, parts: tuple[Any, np.ndarray, np.ndarray | None], y: np.ndarray, w: np.ndarray
    ) -> tuple[Any, Any, Any]:
        T, C, E = parts
        text = self._new_lr(self.C_text).fit(T, y, sample_weight=w)
        cue = self._new_lr(self.C_cue).fit(C, y, sample_weight=w)
        emb = None if E is None else self._new_lr(self.C_embedding).fit(E, y, sample_weight=w)
        return text, cue, emb

    def _blend(self, models: tuple[Any, Any, Any], T: Any, C: np.ndarray, E: Any) -> np.ndarray:
        """Weighted mean of the component probabilities; the text model gets the weight the
        others leave, and a missing embedding model simply drops out of the mean."""
        text, cue, emb = models
        w_cue = self.cue_model_weight
        w_emb = self.embedding_weight if emb is not None and E is not None else 0.0
        w_text = 1.0 - self.cue_model_weight - self.embedding_weight
        p = w_text * text.predict_proba(T)[:, 1] + w_cue * cue.predict_proba(C)[:, 1]
        if w_emb:
            p = p + w_emb * emb.predict_proba(E)[:, 1]
        return np.asarray(p / (w_text + w_cue + w_emb))

    def _out_of_fold(
        self,
        parts: tuple[Any, np.ndarray, np.ndarray | None],
        y: np.ndarray,
        w: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> np.ndarray:
        T, C, E = parts
        folds = max(2, min(self.cv_folds, int(y.sum()), int(len(y) - y.sum())))
        oof = np.zeros(len(y))
        if groups is not None and len(set(groups.tolist())) >= folds:
            splitter: Any = StratifiedGroupKFold(
                n_splits=folds, shuffle=True, random_state=self.random_state
            )
        else:
            splitter, groups = (
                StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state),
                None,
            )
        for tr, te in splitter.split(np.zeros(len(y)), y, groups):
            models = self._fit_models((T[tr], C[tr], None if E is None else E[tr]), y[tr], w[tr])
            oof[te] = self._blend(models, T[te], C[te], None if E is None else E[te])
        return oof

    # -- prediction -----------------------------------------------------------------------
    def predict_proba(self, X: Sequence[TagInput]) -> np.ndarray:
        self._check_fitted()
        texts = [x.text for x in X]
        T = self._text_features(texts)
        C = cue_features(texts)
        E = self._embeddings(X) if self.uses_embeddings_ else None
        P = np.zeros((len(X), len(self.labels_)))
        for j, label in enumerate(self.labels_):
            model = self.text_models_.get(label)
            if model is None:
                continue
            models = (model, self.cue_models_[label], self.embedding_models_.get(label))
            P[:, j] = self._blend(models, T, C, E)
        return P

    def predict(self, X: Sequence[TagInput]) -> np.ndarray:
        return self.decide(self.predict_proba(X))

    def decide(self, P: np.ndarray) -> np.ndarray:
        """Binary decisions from probabilities with the per-label thresholds."""
        th = np.array([self.thresholds_.get(label, np.inf) for label in self.labels_])
        return (th <= P).astype(int)

    def evidence(self, text: str, label: str) -> str:
        """The sentence of `text` that the label's text model scores highest."""
        self._check_fitted()
        model = self.text_models_.get(label)
        sentences = split_sentences(text, min_words=3)
        if model is None or len(sentences) == 1:
            return sentences[0]
        scores = model.decision_function(self._text_features(sentences))
        return sentences[int(np.argmax(scores))]

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise TaggerError("the tagger is not trained yet")


def _shift_weights(y: np.ndarray, rate: float) -> np.ndarray:
    """Example weights that make the positive share of `y` equal to `rate`."""
    share = float(y.mean())
    return np.where(y == 1, rate / share, (1 - rate) / (1 - share))


def _best_threshold(
    p: np.ndarray, y: np.ndarray, floor: float, weights: np.ndarray | None = None
) -> float:
    """The threshold maximising (weighted) F1 on out-of-fold probabilities, never below
    `floor`."""
    w = np.ones(len(y)) if weights is None else weights
    best_t, best_f = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 37):
        pred = p >= t
        tp = float(np.sum(w * (pred & (y == 1))))
        fp = float(np.sum(w * (pred & (y == 0))))
        fn = float(np.sum(w * (~pred & (y == 1))))
        f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f > best_f:
            best_t, best_f = float(t), f
    return max(best_t, floor)
