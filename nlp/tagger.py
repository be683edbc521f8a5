"""The passage tagger: a scikit-learn estimator over text (and optionally embedding) features.

For each label, three logistic regressions each give a probability, and a weighted average of
them is the label's score:
- text: TF-IDF word 1-2-grams (optionally character 3-5-grams) plus the keyword-cue features;
- cues: the 12 keyword-cue features alone, a low-variance model that transfers across kinds of
  document where word n-grams learned from few examples do not (`cue_model_weight`);
- embeddings, when given (`embedding_weight`);
and the text model's score of the passage's best sentence (`sentence_weight`), so that one
sentence about a label is not drowned by the rest of a long paragraph.
The fixed weights suit a library with nothing reviewed. Once a label has reviewed passages
(`library_blend_half` h, at least `MIN_STACK` of each class), a logistic regression over the
components' logits (regularised by `C_mix`: a few hundred reviews are a small sample to learn a
mix from), fitted on the reviewed passages' out-of-fold scores, learns the library's own
mix (on PACT-coded reports: women, peace and security leans on the best sentence, peacebuilding on
the whole text and the embedding, and the cue model adds nothing the text model has not); after n
reviews its score carries n / (n + h) of the weight, the fixed blend the rest.
Per-label thresholds are chosen on out-of-fold predictions (maximising F1) and never set below
`min_threshold`, so that an uncertain label is left off rather than guessed. A label nobody has
reviewed yet sits at `cold_threshold` instead: the seeds' out-of-fold scores separate their
labels far better than a real report's scores do, so a threshold set on them sits where a
library's passages are not (on realdocs, the two labels whose seed threshold rose above the
floor, wps and peacebuilding, lost up to 0.09 F1 to it; docs/benchmarks.md). `cold_threshold=None`
chooses it on the training set's out-of-fold scores, as a model trained on real labelled data
without review flags wants.

Label shift: how often a label occurs in the seed passages says nothing about a user's library
(seeds were written to cover every label), while reviewed passages come from that library. So
the threshold maximises F1 at an assumed label frequency: the reviewed passages' frequency,
shrunk towards one half by `prior_strength` pseudo-examples (one half when nothing is reviewed;
`prior_strength=None` keeps the training set's own frequency).
Reviewed passages also weigh `review_weight` times a cold-start example in every fit, and once
a label has n reviewed passages, every cold-start example weighs h / (h + n) with
`seed_weight_half` h: a library whose reviewers draw a line elsewhere than the seeds (the label
guide allows it) pulls the model to its own reading as its reviews accumulate.
With `library_threshold_half` h, the threshold is chosen mostly on the library's own reviewed
passages: after n reviews they carry the share n / (n + h) of the weight in the F1 the
threshold maximises, the seeds the rest (the seeds' scores mislead, as above).

Labels may be partially known: `Y` holds 1 (applies), 0 (does not apply) or -1 (not reviewed on
that label's axis); each label learns only from the rows where it is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
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
# Reviewed passages of each class a label needs before the library's own mix is learnt. The
# review queue hands reviewers borderline passages, a biased sample: learnt from 10 of each
# class, the mix cost the 12-label review loop 0.03 after 200 reviews; from 25, nothing.
MIN_STACK = 25
# The blended components, in the column order of `PassageTagger._components`.
COMPONENTS = ("text", "cue", "embedding", "sentence")


@dataclass(frozen=True)
class TagInput:
    """One passage to tag: its text and, when available, its normalised embedding."""

    text: str
    embedding: np.ndarray | None = None


CUES_PATH = Path(__file__).parent / "data" / "cues.json"


@lru_cache(maxsize=1)
def _cue_patterns() -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    """Per label, one pattern for its literal cues and one per "re:" cue. A cue is a phrase
    prefix, or after "re:" a regular expression over lower-cased text (for what no phrase list
    can hold, such as a head count of personnel). Regular expressions stay out of the phrases'
    alternation, which they would slow down by half."""
    data = json.loads(CUES_PATH.read_text(encoding="utf-8"))
    out = []
    for label, cues in data.items():
        if label.startswith("_"):
            continue
        phrases = [re.escape(c.lower()) for c in cues if not c.startswith("re:")]
        patterns = [re.compile(r"\b(?:" + "|".join(phrases) + ")")] if phrases else []
        patterns += [re.compile(r"\b(?:" + c[3:] + ")") for c in cues if c.startswith("re:")]
        out.append((label, tuple(patterns)))
    return tuple(out)


def cue_features(texts: Sequence[str]) -> np.ndarray:
    """Per label, log(1 + keyword-cue hits): synonyms written from the label definitions pool
    their evidence into one feature, which generalises from few examples."""
    pats = _cue_patterns()
    # Lower-cased once per text: case-sensitive patterns run 4x faster than re.IGNORECASE
    # ones, with the same counts (measured on realdocs passages).
    low = [t.lower() for t in texts]
    counts = [[sum(len(p.findall(t)) for p in ps) for _, ps in pats] for t in low]
    return np.log1p(np.array(counts, dtype=float).reshape(len(texts), len(pats)))


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
        sentence_weight: float = 0.25,
        char_ngrams: bool = False,
        cue_weight: float = 1.0,
        review_weight: float = 1.0,
        prior_strength: float | None = 50.0,
        library_blend_half: float | None = 200.0,
        C_mix: float = 1.0,
        library_threshold_half: float | None = 25.0,
        seed_weight_half: float | None = 25.0,
        min_threshold: float = 0.35,
        cold_threshold: float | None = 0.35,
        cv_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.labels = labels
        self.C_text = C_text
        self.C_embedding = C_embedding
        self.C_cue = C_cue
        self.embedding_weight = embedding_weight
        self.cue_model_weight = cue_model_weight
        self.sentence_weight = sentence_weight
        self.char_ngrams = char_ngrams
        self.cue_weight = cue_weight
        self.review_weight = review_weight
        self.prior_strength = prior_strength
        self.library_blend_half = library_blend_half
        self.C_mix = C_mix
        self.library_threshold_half = library_threshold_half
        self.seed_weight_half = seed_weight_half
        self.min_threshold = min_threshold
        self.cold_threshold = cold_threshold
        self.cv_folds = cv_folds
        self.random_state = random_state

    # -- features -------------------------------------------------------------------------
    def _text_features(
        self, texts: Sequence[str], fit: bool = False, cues: np.ndarray | None = None
    ) -> Any:
        """TF-IDF rows beside the cue features (`cues`: already computed for `texts`)."""
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
            cues = cue_features(texts) if cues is None else cues
            parts.append(sp.csr_matrix(self.cue_weight * cues))
        return sp.hstack(parts).tocsr() if len(parts) > 1 else parts[0]

    def _sentence_features(self, texts: Sequence[str]) -> _Sentences | None:
        if self.sentence_weight <= 0:
            return None
        sentences, owner = [], []
        for i, text in enumerate(texts):
            parts = split_sentences(text, min_words=3) or [text]
            sentences += parts
            owner += [i] * len(parts)
        owners = np.array(owner, dtype=np.int64)
        return _Sentences(self._text_features(sentences), owners, len(texts))

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
        progress: Callable[[int, int], None] | None = None,
    ) -> PassageTagger:
        """`groups` (e.g. the mission or document of each passage) keeps each group within one
        fold when thresholds are chosen, so they are set on text the fold never saw the like
        of, as new missions will be. `reviewed` marks passages labelled by a reviewer (the
        others are cold-start data): they set the assumed label frequency and weigh more.
        `progress(done, total)` is called as each label's models are fitted."""
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
        C = cue_features(texts)
        T = self._text_features(texts, fit=True, cues=C)
        S = self._sentence_features(texts)
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
        self.stackers_: dict[str, _Stacker] = {}
        for j, label in enumerate(self.labels_):
            if progress is not None:
                progress(j, len(self.labels_))
            known = Y[:, j] >= 0
            y = Y[known, j].astype(int)
            if y.sum() < MIN_POSITIVES or (len(y) - y.sum()) < MIN_POSITIVES:
                self.untrained_.append(label)
                continue
            rows = np.flatnonzero(known)
            g = None if groups is None else np.asarray(groups)[rows]
            parts = _take((T, C, E, S), rows)
            r = rev[rows]
            n_rev = int(r.sum())
            w = weights[rows]
            if self.seed_weight_half is not None and n_rev:
                w = np.where(r, w, w * self.seed_weight_half / (self.seed_weight_half + n_rev))
            if self.prior_strength is None:  # trust the training set's label frequency
                rate = float(y.mean())
            else:
                rate = (y[r].sum() + 0.5 * self.prior_strength) / (r.sum() + self.prior_strength)
            self.assumed_rates_[label] = float(rate)
            self.thresholds_[label] = self._fit_threshold_and_mix(label, parts, y, w, g, r, rate)
            models = self._fit_models(parts, y, w)
            self.text_models_[label], self.cue_models_[label] = models[0], models[1]
            if models[2] is not None:
                self.embedding_models_[label] = models[2]
        self.n_train_ = len(X)
        if progress is not None:
            progress(len(self.labels_), len(self.labels_))
        return self

    def _fit_threshold_and_mix(
        self,
        label: str,
        parts: _Parts,
        y: np.ndarray,
        w: np.ndarray,
        g: np.ndarray | None,
        r: np.ndarray,
        rate: float,
    ) -> float:
        """The label's threshold; on the way, its learnt mix (`stackers_`) once the library has
        enough reviews, as both come from the same out-of-fold scores."""
        if not r.any() and self.cold_threshold is not None:
            return self.cold_threshold
        Z = self._out_of_fold(parts, y, w, g)
        oof = self._fixed_blend(Z)
        stacked = self._fit_stacker(Z, y, r)
        if stacked is not None:
            stacker, stacker_oof = stacked
            self.stackers_[label] = stacker
            oof = stacker.mix(oof, stacker_oof)
        return _best_threshold(oof, y, self.min_threshold, self._threshold_weights(y, r, rate))

    def _threshold_weights(self, y: np.ndarray, r: np.ndarray, rate: float) -> np.ndarray:
        """Example weights for the threshold's F1: each part (reviewed `r`, cold start) shifted
        to the assumed label frequency, the reviewed part carrying n / (n + half) of the whole
        after n reviews (without `library_threshold_half`, every example alike)."""
        tw = _shift_weights(y, rate)
        half = self.library_threshold_half
        n = int(r.sum())
        if half is None or n == 0 or n == len(r):
            return tw
        yr, yc = y[r], y[~r]
        wr = _shift_weights(yr, rate) if 0 < yr.sum() < len(yr) else np.ones(n)
        wc = _shift_weights(yc, rate) if 0 < yc.sum() < len(yc) else np.ones(len(yc))
        share = n / (n + half)
        out = np.empty(len(y))
        out[r] = wr * share / wr.sum()
        out[~r] = wc * (1 - share) / wc.sum()
        return out

    def _fit_models(self, parts: _Parts, y: np.ndarray, w: np.ndarray) -> tuple[Any, Any, Any]:
        T, C, E, _ = parts
        text = self._new_lr(self.C_text).fit(T, y, sample_weight=w)
        cue = self._new_lr(self.C_cue).fit(C, y, sample_weight=w)
        emb = None if E is None else self._new_lr(self.C_embedding).fit(E, y, sample_weight=w)
        return text, cue, emb

    def _components(self, models: tuple[Any, Any, Any], parts: _Parts) -> np.ndarray:
        """Per passage, each component's probability (columns `COMPONENTS`; NaN where a
        component is not used). The text model also scores each sentence: a passage's best
        sentence is a component of its own, because a long paragraph that touches a label in
        one sentence dilutes that sentence's words in the passage's TF-IDF vector."""
        T, C, E, S = parts
        text, cue, emb = models
        Z = np.full((T.shape[0], len(COMPONENTS)), np.nan)
        Z[:, 0] = text.predict_proba(T)[:, 1]
        Z[:, 1] = cue.predict_proba(C)[:, 1]
        if emb is not None and E is not None:
            Z[:, 2] = emb.predict_proba(E)[:, 1]
        if S is not None:
            best = np.zeros(S.n)
            np.maximum.at(best, S.owner, text.predict_proba(S.matrix)[:, 1])
            Z[:, 3] = best
        return Z

    def _fixed_blend(self, Z: np.ndarray) -> np.ndarray:
        """Weighted mean of the component probabilities; the text model gets the weight the cue
        and embedding models leave, and a missing component drops out of the mean."""
        w = np.array(
            [
                1.0 - self.cue_model_weight - self.embedding_weight,
                self.cue_model_weight,
                self.embedding_weight,
                self.sentence_weight,
            ]
        )
        w = np.where(np.isnan(Z[0]) if len(Z) else np.zeros(len(w), bool), 0.0, w)
        return np.asarray(np.nan_to_num(Z) @ w / w.sum())

    def _fit_stacker(
        self, Z: np.ndarray, y: np.ndarray, r: np.ndarray
    ) -> tuple[_Stacker, np.ndarray] | None:
        """The library's own mix of the components, learnt from the reviewed passages'
        out-of-fold component scores `Z` (None until `MIN_STACK` of each class are reviewed),
        with its scores of every training passage. Those of the reviewed passages are
        out-of-fold too, so that the threshold is not set on passages the mix was learnt from."""
        half = self.library_blend_half
        yr = y[r]
        n, pos = len(yr), int(yr.sum())
        if half is None or pos < MIN_STACK or n - pos < MIN_STACK:
            return None
        cols = np.flatnonzero(~np.isnan(Z[0]))
        F = _logit(Z[:, cols])
        model = self._new_lr(self.C_mix).fit(F[r], yr)
        oof = model.predict_proba(F)[:, 1]
        rows = np.flatnonzero(r)
        folds = min(self.cv_folds, pos, n - pos)
        split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        for tr, te in split.split(rows, yr):
            part = self._new_lr(self.C_mix).fit(F[rows[tr]], yr[tr])
            oof[rows[te]] = part.predict_proba(F[rows[te]])[:, 1]
        return _Stacker(model, cols, n / (n + half)), oof

    def _out_of_fold(
        self, parts: _Parts, y: np.ndarray, w: np.ndarray, groups: np.ndarray | None = None
    ) -> np.ndarray:
        """Out-of-fold component scores (`_components`) of every training passage."""
        folds = max(2, min(self.cv_folds, int(y.sum()), int(len(y) - y.sum())))
        Z = np.zeros((len(y), len(COMPONENTS)))
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
            models = self._fit_models(_take(parts, tr), y[tr], w[tr])
            Z[te] = self._components(models, _take(parts, te))
        return Z

    # -- prediction -----------------------------------------------------------------------
    def predict_proba(self, X: Sequence[TagInput]) -> np.ndarray:
        self._check_fitted()
        texts = [x.text for x in X]
        E = self._embeddings(X) if self.uses_embeddings_ else None
        C = cue_features(texts)
        parts = (self._text_features(texts, cues=C), C, E, self._sentence_features(texts))
        P = np.zeros((len(X), len(self.labels_)))
        for j, label in enumerate(self.labels_):
            model = self.text_models_.get(label)
            if model is None:
                continue
            models = (model, self.cue_models_[label], self.embedding_models_.get(label))
            Z = self._components(models, parts)
            P[:, j] = self._fixed_blend(Z)
            stacker = self.stackers_.get(label)
            if stacker is not None:
                P[:, j] = stacker.mix(P[:, j], stacker.score(Z))
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


@dataclass(frozen=True)
class _Sentences:
    """TF-IDF rows of the sentences of `n` passages; `owner[i]` is sentence i's passage."""

    matrix: Any
    owner: np.ndarray
    n: int

    def take(self, rows: np.ndarray) -> _Sentences:
        """The sentences of passages `rows`, renumbered in that order."""
        position = np.full(self.n, -1)
        position[rows] = np.arange(len(rows))
        keep = np.flatnonzero(position[self.owner] >= 0)
        order = keep[np.argsort(position[self.owner[keep]], kind="stable")]
        return _Sentences(self.matrix[order], position[self.owner[order]], len(rows))


# text features, cue features, embeddings, sentences
_Parts = tuple[Any, np.ndarray, np.ndarray | None, _Sentences | None]


def _take(parts: _Parts, rows: np.ndarray) -> _Parts:
    T, C, E, S = parts
    return (T[rows], C[rows], None if E is None else E[rows], None if S is None else S.take(rows))


@dataclass(frozen=True)
class _Stacker:
    """A label's learnt mix of components: `model` over the logits of columns `cols`, weighing
    `share` against the fixed blend."""

    model: Any
    cols: np.ndarray
    share: float

    def mix(self, fixed: np.ndarray, learnt: np.ndarray) -> np.ndarray:
        """The label's score: the learnt mix's `share` of it, the fixed blend the rest (all of
        it where the learnt score is NaN)."""
        mixed = (1 - self.share) * fixed + self.share * learnt
        return np.asarray(np.where(np.isnan(mixed), fixed, mixed))

    def score(self, Z: np.ndarray) -> np.ndarray:
        """The mix's probability per passage; NaN for a passage that lacks a component the mix
        was learnt with (a text given without its embedding), which keeps the fixed blend."""
        F = Z[:, self.cols]
        ok = ~np.isnan(F).any(axis=1)
        out = np.full(len(Z), np.nan)
        if ok.any():
            out[ok] = self.model.predict_proba(_logit(F[ok]))[:, 1]
        return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.asarray(np.log(p / (1 - p)))


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
