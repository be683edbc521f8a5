"""Tagging quality: our tagger against keyword rules, zero-shot and TF-IDF + logistic regression.

Run: python benchmarks/tagging.py [--quick]   (needs ../shared; writes benchmarks/out/tagging.json)

1. Out of the box on ../shared/realdocs/paragraphs.jsonl (PACT codes mapped to politics, wps,
   protection, peacebuilding): every system trained only on data this project owns (label
   definitions, seed passages, the labelled demo corpus); thresholds tuned on that data.
2. After training, split by mission: leave one mission group out (Haiti, UNMIK, UNTAC, UNMIBH,
   ONUSAL, the rest); train on the other groups' paragraphs (ours: on top of the cold-start set),
   predict the held-out group; macro-F1 over the pooled held-out predictions.
   2b. The same with folds grouped by report instead (same missions, other reports).
   For 1, 2 and 2b: ours against each baseline with a 95% interval from a paired bootstrap over
   reports, and (1, 2) threshold-free ranking quality: mean ROC AUC and average precision.
3. Learning curve: macro-F1 after 25, 50, 100, 200, 400 and all reviewed paragraphs.
4. The other labels: 5-fold cross-validation over the 40 demo-corpus documents (document tags
   derived from passage tags, scored against corpus/labels.csv), for all 12 labels.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from index.embeddings import encode, encoder_name  # noqa: E402
from nlp.labels import all_labels, slugs  # noqa: E402
from nlp.tagger import PassageTagger, TagInput, _best_threshold  # noqa: E402
from nlp.training_data import (  # noqa: E402
    LabelledText,
    cold_start_set,
    corpus_documents,
    label_matrix,
    text_key,
)

PACT = ROOT.parent / "shared" / "realdocs" / "paragraphs.jsonl"
OUT = ROOT / "benchmarks" / "out"
FOUR = ["politics", "wps", "protection", "peacebuilding"]
GROUPS = {
    "MINUSTAH": "Haiti",
    "MINUJUSTH": "Haiti",
    "UNMIK": "UNMIK",
    "UNTAC": "UNTAC",
    "UNMIBH": "UNMIBH",
    "ONUSAL": "ONUSAL",
}

# The keyword baseline: fixed lists written from the label definitions, never tuned.
KEYWORDS = {
    "politics": [
        "election",
        "electoral",
        "voter",
        "ballot",
        "political part",
        "parliament",
        "constitution",
        "peace agreement",
        "peace accord",
        "ceasefire",
        "cease-fire",
        "political dialogue",
        "national reconciliation",
        "mediation",
        "power-sharing",
        "power sharing",
        "political process",
        "good offices",
    ],
    "wps": ["women", "gender", "sexual violence", "gender-based", "sgbv", "girls", "female"],
    "protection": [
        "human rights",
        "protection of civilians",
        "displaced",
        "refugee",
        "returnee",
        "child protection",
        "children",
        "civilians",
    ],
    "peacebuilding": [
        "disarmament",
        "demobiliz",
        "demobilis",
        "reintegration",
        "weapons",
        "police",
        "justice",
        "judicial",
        "court",
        "prison",
        "rule of law",
        "security sector",
        "state authority",
        "public administration",
        "economic recovery",
        "reconciliation",
        "civil society",
        "reform",
    ],
}

_emb: dict[str, np.ndarray] = {}
EMB_CACHE = OUT / "tagging_embeddings.npz"  # MiniLM vectors by text key: encode once per machine


def embed(texts: list[str]) -> np.ndarray:
    """Vectors of the encoder in use (ONNX or torch), cached by encoder and text."""
    if not _emb and EMB_CACHE.exists():
        with np.load(EMB_CACHE) as npz:
            _emb.update(zip(npz["keys"].tolist(), npz["vectors"], strict=True))
    encoder = encoder_name()

    def key(t: str) -> str:
        return f"{encoder}|{text_key(t)}"

    missing = [t for t in dict.fromkeys(texts) if key(t) not in _emb]
    if missing:
        for t, v in zip(missing, encode(missing), strict=True):
            _emb[key(t)] = v
        OUT.mkdir(parents=True, exist_ok=True)
        np.savez(EMB_CACHE, keys=np.array(list(_emb)), vectors=np.vstack(list(_emb.values())))
    return np.vstack([_emb[key(t)] for t in texts])


def macro(Y: np.ndarray, P: np.ndarray) -> tuple[float, list[float]]:
    f1s = []
    for j in range(Y.shape[1]):
        tp = int(np.sum((P[:, j] == 1) & (Y[:, j] == 1)))
        fp = int(np.sum((P[:, j] == 1) & (Y[:, j] == 0)))
        fn = int(np.sum((P[:, j] == 0) & (Y[:, j] == 1)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s)), f1s


def paired_bootstrap(
    Y: np.ndarray, ours_P: np.ndarray, base_P: np.ndarray, clusters: np.ndarray, n: int = 2000
) -> dict[str, Any]:
    """Macro-F1 of ours minus a baseline, with a 95% interval from resampling whole documents
    (a report's paragraphs are not independent), and the share of resamples where ours wins."""
    ids, inverse = np.unique(clusters, return_inverse=True)

    def counts(P: np.ndarray) -> np.ndarray:  # (documents, labels, [tp, fp, fn])
        c = np.zeros((len(ids), Y.shape[1], 3))
        for k, part in enumerate(((P == 1) & (Y == 1), (P == 1) & (Y == 0), (P == 0) & (Y == 1))):
            for j in range(Y.shape[1]):
                c[:, j, k] = np.bincount(inverse, weights=part[:, j], minlength=len(ids))
        return c

    def macro_f1(c: np.ndarray) -> np.ndarray:  # c: (..., labels, 3)
        tp, fp, fn = c[..., 0], c[..., 1], c[..., 2]
        return np.asarray(np.mean(2 * tp / np.maximum(2 * tp + fp + fn, 1e-9), axis=-1))

    a, b = counts(ours_P), counts(base_P)
    draws = np.random.default_rng(0).integers(0, len(ids), size=(n, len(ids)))
    weights = np.stack([np.bincount(d, minlength=len(ids)) for d in draws]).astype(float)
    diff = macro_f1(np.einsum("nd,dlk->nlk", weights, a)) - macro_f1(
        np.einsum("nd,dlk->nlk", weights, b)
    )
    point = float(macro_f1(a.sum(axis=0)) - macro_f1(b.sum(axis=0)))
    lo, hi = np.percentile(diff, [2.5, 97.5])
    return {
        "difference": round(point, 3),
        "ci95": [round(float(lo), 3), round(float(hi), 3)],
        "ours_wins": round(float(np.mean(diff > 0)), 3),
    }


def report_leads(
    Y: np.ndarray, preds: dict[str, Output], clusters: np.ndarray, results: dict[str, object]
) -> None:
    """Ours against every baseline, paired on the same documents."""
    leads = {}
    for name, out in preds.items():
        if name.startswith("ours"):
            continue
        lead = paired_bootstrap(Y, preds["ours"].decisions, out.decisions, clusters)
        leads[name] = lead
        print(
            f"  ours - {name:<30} {lead['difference']:+.3f}  95% CI "
            f"[{lead['ci95'][0]:+.3f}, {lead['ci95'][1]:+.3f}]  ours ahead in "
            f"{100 * lead['ours_wins']:.0f}% of resamples",
            flush=True,
        )
    results["lead_over_baselines"] = leads


def report_ranking(
    Y: np.ndarray, preds: dict[str, Output], groups: np.ndarray, results: dict[str, object]
) -> None:
    """Threshold-free: how well each system's scores rank the paragraphs of each label (mean
    ROC AUC and average precision over the four labels), and in how many (mission group, label)
    cells ours ranks better than the system (AUC within the group)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    cells = [
        (g, j)
        for g in sorted(set(groups))
        for j in range(len(FOUR))
        if 0 < Y[groups == g, j].sum() < (groups == g).sum()
    ]

    def group_auc(scores: np.ndarray, g: str, j: int) -> float:
        rows = groups == g
        return float(roc_auc_score(Y[rows, j], scores[rows, j]))

    ranking = {}
    for name, out in preds.items():
        auc = float(np.mean([roc_auc_score(Y[:, j], out.scores[:, j]) for j in range(len(FOUR))]))
        ap = float(
            np.mean([average_precision_score(Y[:, j], out.scores[:, j]) for j in range(len(FOUR))])
        )
        entry: dict[str, object] = {"mean_auc": round(auc, 3), "mean_ap": round(ap, 3)}
        line = f"  {name:<34} ranking: mean AUC {auc:.3f}  mean AP {ap:.3f}"
        if name != "ours":
            better = sum(
                group_auc(preds["ours"].scores, g, j) > group_auc(out.scores, g, j)
                for g, j in cells
            )
            entry["ours_better_cells"] = f"{better}/{len(cells)}"
            line += f"  (ours ranks better in {better} of {len(cells)} mission-group x label cells)"
        ranking[name] = entry
        print(line, flush=True)
    results["ranking"] = ranking


@dataclass
class Output:
    """A system's yes/no decisions and the scores it ranks passages by, (passages, labels)."""

    decisions: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> Output:
        return cls(np.zeros(shape, dtype=int), np.zeros(shape))

    def put(self, rows: np.ndarray, other: Output) -> None:
        self.decisions[rows], self.scores[rows] = other.decisions, other.scores


def keyword_rules(texts: list[str]) -> Output:
    """A label when any of its keywords occurs; ranked by how many keyword hits."""
    low = [t.lower() for t in texts]
    hits = np.array([[sum(t.count(k) for k in KEYWORDS[lab]) for lab in FOUR] for t in low])
    return Output((hits > 0).astype(int), hits.astype(float))


def zero_shot(train_E: np.ndarray, train_Y: np.ndarray, test_E: np.ndarray) -> Output:
    desc = {lab.slug: lab.description for lab in all_labels()}
    D = embed([desc[lab] for lab in FOUR])
    th = [_best_threshold(train_E @ D[j], train_Y[:, j], 0.0) for j in range(len(FOUR))]
    S = test_E @ D.T
    return Output((np.array(th) <= S).astype(int), S)


def tfidf_lr_model(labels: list[str]) -> PassageTagger:
    """The baseline as our estimator configured without embeddings, cues or sentences."""
    return PassageTagger(
        labels=labels,
        embedding_weight=0.0,
        cue_weight=0.0,
        cue_model_weight=0.0,
        sentence_weight=0.0,
        prior_strength=None,
        min_threshold=0.0,
        cold_threshold=None,  # its thresholds are tuned on its own training data
    )


def tfidf_lr(train_texts: list[str], train_Y: np.ndarray, test_texts: list[str]) -> Output:
    """Word 1-2-gram TF-IDF and a balanced logistic regression per label, thresholds tuned by
    5-fold cross-validation on the training part."""
    model = tfidf_lr_model(FOUR)
    model.fit([TagInput(t) for t in train_texts], train_Y)
    P = model.predict_proba([TagInput(t) for t in test_texts])
    return Output(model.decide(P), P)


def ours(
    cold: list[LabelledText],
    reviewed: list[LabelledText],
    test_texts: list[str],
    test_E: np.ndarray,
) -> Output:
    """Thresholds are chosen on folds grouped by mission (seeds, PACT) or document (corpus).
    Only the four scored labels are trained: each label's model is independent of the others,
    so their predictions are the same as in the 12-label model, at a third of the cost."""
    train = cold + reviewed
    E = embed([x.text for x in train])
    groups = [x.group or "review" for x in train]
    model = PassageTagger(labels=FOUR).fit(
        [TagInput(x.text, E[i]) for i, x in enumerate(train)],
        np.array(label_matrix(train, FOUR)),
        groups=groups,
        reviewed=[False] * len(cold) + [True] * len(reviewed),
    )
    P = model.predict_proba([TagInput(t, test_E[i]) for i, t in enumerate(test_texts)])
    return Output(model.decide(P), P)


def report(name: str, Y: np.ndarray, P: np.ndarray, results: dict[str, object]) -> None:
    m, f1s = macro(Y, P)
    results[name] = {
        "macro_f1": round(m, 3),
        **{lab: round(f, 3) for lab, f in zip(FOUR, f1s, strict=True)},
    }
    print(
        f"  {name:<34} macro-F1 {m:.3f}  "
        + "  ".join(f"{lab} {f:.3f}" for lab, f in zip(FOUR, f1s, strict=True)),
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="skip the learning curve and corpus CV")
    args = ap.parse_args()
    if not PACT.exists():
        sys.exit("../shared/realdocs/paragraphs.jsonl is not present")
    start = time.perf_counter()
    rows = [json.loads(line) for line in PACT.open(encoding="utf-8")]
    texts = [r["text"] for r in rows]
    Y = np.array([[int(lab in r["a4p"]) for lab in FOUR] for r in rows])
    groups = np.array([GROUPS.get(r["mission"], "other") for r in rows])
    E = embed(texts)
    cold = cold_start_set()
    cold_texts = [x.text for x in cold]
    cold_Y = np.array(label_matrix(cold, FOUR))
    cold_E = embed(cold_texts)
    known = (cold_Y >= 0).all(axis=1)
    results: dict[str, object] = {}

    docs = np.array([r["doc"] for r in rows])

    print("1. Out of the box (trained only on data this project owns), all 1,909 paragraphs")
    r1: dict[str, object] = {}
    cold_texts_known = [t for t, k in zip(cold_texts, known, strict=True) if k]
    preds1 = {
        "keyword rules": keyword_rules(texts),
        "zero-shot": zero_shot(cold_E[known], cold_Y[known], E),
        "TF-IDF + LR": tfidf_lr(cold_texts_known, cold_Y[known], texts),
        "ours": ours(cold, [], texts, E),
    }
    for name, out in preds1.items():
        report(name, Y, out.decisions, r1)
    report_leads(Y, preds1, docs, r1)
    report_ranking(Y, preds1, groups, r1)
    results["out_of_the_box"] = r1

    print("2. After training, leave one mission group out (pooled held-out predictions)")
    preds = {
        k: Output.empty(Y.shape) for k in ("keyword rules", "zero-shot", "TF-IDF + LR", "ours")
    }
    for g in sorted(set(groups)):
        te, tr = np.flatnonzero(groups == g), np.flatnonzero(groups != g)
        preds["keyword rules"].put(te, keyword_rules([texts[i] for i in te]))
        preds["zero-shot"].put(te, zero_shot(E[tr], Y[tr], E[te]))
        preds["TF-IDF + LR"].put(
            te, tfidf_lr([texts[i] for i in tr], Y[tr], [texts[i] for i in te])
        )
        reviewed = [
            LabelledText(texts[i], tuple(rows[i]["a4p"]), None, "pact", rows[i]["mission"])
            for i in tr
        ]
        preds["ours"].put(te, ours(cold, reviewed, [texts[i] for i in te], E[te]))
    r2: dict[str, object] = {}
    for name, out in preds.items():
        report(name, Y, out.decisions, r2)
    report_leads(Y, preds, docs, r2)
    report_ranking(Y, preds, groups, r2)
    results["held_out_missions"] = r2

    print("2b. Same missions, other reports: 5 folds grouped by report (not the issue's split)")
    from sklearn.model_selection import GroupKFold

    by_report = {k: Output.empty(Y.shape) for k in ("TF-IDF + LR", "ours")}
    for tr, te in GroupKFold(n_splits=5).split(texts, groups=docs):
        by_report["TF-IDF + LR"].put(
            te, tfidf_lr([texts[i] for i in tr], Y[tr], [texts[i] for i in te])
        )
        reviewed = [
            LabelledText(texts[i], tuple(rows[i]["a4p"]), None, "pact", rows[i]["mission"])
            for i in tr
        ]
        by_report["ours"].put(te, ours(cold, reviewed, [texts[i] for i in te], E[te]))
    r2b: dict[str, object] = {}
    for name, out in by_report.items():
        report(name, Y, out.decisions, r2b)
    report_leads(Y, by_report, docs, r2b)
    results["held_out_reports"] = r2b

    if not args.quick:
        print("3. Learning curve: reviewed paragraphs of the other missions added to cold start")
        curve: dict[str, float] = {}
        for n in (25, 50, 100, 200, 400, None):
            P = np.zeros_like(Y)
            for g in sorted(set(groups)):
                te, tr = np.flatnonzero(groups == g), list(np.flatnonzero(groups != g))
                pick = tr if n is None else random.Random(0).sample(tr, min(n, len(tr)))
                reviewed = [
                    LabelledText(texts[i], tuple(rows[i]["a4p"]), None, "pact", rows[i]["mission"])
                    for i in pick
                ]
                P[te] = ours(cold, reviewed, [texts[i] for i in te], E[te]).decisions
            m, _ = macro(Y, P)
            curve["all" if n is None else str(n)] = round(m, 3)
            print(f"  {'all' if n is None else n:>5} reviewed: macro-F1 {m:.3f}", flush=True)
        results["learning_curve"] = curve

    if not args.quick:
        print("4. Demo corpus, 5-fold CV over documents, document tags for all 12 labels")
        results["corpus_cv"] = corpus_cv()
    results["seconds"] = round(time.perf_counter() - start, 1)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tagging.json").write_text(json.dumps(results, indent=2))


def corpus_cv() -> dict[str, object]:
    """Train without the held-out documents; tag their passages; derive document tags."""
    from index.datadir import DataDir
    from nlp.tag_metrics import score_tags

    docs = corpus_documents()
    data = ROOT / "data"
    if not (data / "lessons.db").exists():
        sys.exit("build the demo data folder first: make demo")
    passages: dict[str, list[str]] = {}
    with DataDir(data) as dd:
        for doc in dd.store.documents():
            for p in dd.store.passages_of(doc.id):
                passages.setdefault(doc.file_name.removesuffix(".pdf"), []).append(p.text)
    labels = list(slugs())
    order = [d.source.removeprefix("corpus:") for d in docs]
    random.Random(0).shuffle(order)
    folds = [order[i::5] for i in range(5)]
    rules = {"any passage": [], "share >= 0.2": [], "share >= 0.34": []}  # type: dict[str, list]
    gold: list[LabelledText] = []
    for fold in folds:
        train = cold_start_set(exclude_corpus=fold)
        E = embed([x.text for x in train])
        model = PassageTagger(labels=labels).fit(
            [TagInput(x.text, E[i]) for i, x in enumerate(train)],
            np.array(label_matrix(train, labels)),
        )
        for stem in fold:
            texts = passages.get(stem, [])
            D = model.predict([TagInput(t, v) for t, v in zip(texts, embed(texts), strict=True)])
            share = D.mean(axis=0) if len(texts) else np.zeros(len(labels))
            for rule, cut in (
                ("any passage", 1e-9),
                ("share >= 0.2", 0.2),
                ("share >= 0.34", 0.34),
            ):
                chosen = [lab for j, lab in enumerate(labels) if share[j] >= cut]
                rules[rule].append(
                    (
                        [lab for lab in chosen if lab in slugs("a4p")],
                        [lab for lab in chosen if lab in slugs("pillars")],
                    )
                )
            gold.append(next(d for d in docs if d.source == f"corpus:{stem}"))
    out: dict[str, object] = {}
    for rule, pred in rules.items():
        scored = score_tags(gold, pred)
        out[rule] = scored
        print(
            f"  document tag = {rule:<14} macro-F1 {scored['macro_f1']:.3f}  "
            f"micro-F1 {scored['micro_f1']:.3f}",
            flush=True,
        )
    best = max(rules, key=lambda r: out[r]["macro_f1"])  # type: ignore[index]
    print(
        f"  per label ({best}): "
        + ", ".join(f"{lab} {m['f1']:.2f}" for lab, m in out[best]["labels"].items())
    )  # type: ignore[index]
    return out


if __name__ == "__main__":
    main()
