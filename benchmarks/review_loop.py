"""The review loop, simulated on a library that starts cold (issue 15).

A library holds labelled realdocs paragraphs; it starts with the shipped cold-start tagger
(trained on what the project owns). A reviewer answers the review queue in the app's order
(most uncertain first: `nlp/uncertainty.py`, as `index/reviews.py` orders it; `--queue
absolute` gives the order before issue 15, the raw distance to a threshold), giving the gold
labels as answers; the model retrains at the app's cadence (`Settings.auto_retrain_after`
corrections) on the cold-start set plus the reviews, as `index/tagging.py` does, and the queue
is re-ranked by the new model. After 25, 50, 100, 200 and 400 reviews, macro-F1 is measured
on the library's passages nobody reviewed, for:

- ours, queue order (what the app does);
- ours, random order (the same reviewer, no queue);
- TF-IDF + logistic regression trained on the same reviews (queue order) alone;
- the cold-start model on the same unreviewed passages (what the reviews bought).

Each is the mean over `--runs` sessions (3): the queue in the app's exact order and in near
orders (each pick one of the three most uncertain passages), random order with as many seeds;
the spread of the gain over the cold start is printed beside it.

Two libraries: PACT-4 (all 1,909 paragraphs of ../shared/realdocs/paragraphs.jsonl, four
labels from the PACT codes) and the 12-label development set (benchmarks/data/dev12: 400
paragraphs, all 12 labels; checkpoints past 300 reviews leave too little unreviewed to score).
Labels with fewer than five positives among the passages scored are left out of the macro
average and reported as not measurable.

    python benchmarks/review_loop.py [--library pact4|dev12|both] [--runs 3] [--cadence 20]
        [--set NAME=VALUE]
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

from benchmarks.tagging import FOUR, embed, tfidf_lr_model  # noqa: E402
from nlp.labels import AXES, all_labels, slugs  # noqa: E402
from nlp.tagger import PassageTagger, TagInput  # noqa: E402
from nlp.training_data import LabelledText, cold_start_set, label_matrix  # noqa: E402
from nlp.uncertainty import uncertainty  # noqa: E402

REALDOCS = ROOT.parent / "shared" / "realdocs"
DEV12 = ROOT / "benchmarks" / "data" / "dev12"
CHECKPOINTS = (25, 50, 100, 200, 400)
# Sessions per library: the app's order and near orders, each pick one of the NEAR_REACH most
# uncertain passages (docs/benchmarks.md: single runs of the same code differ by up to 0.05).
RUNS = 3
NEAR_REACH = 3
MIN_LEFT = 100  # unreviewed passages a checkpoint needs to be scored
# A label with fewer positives than this among the passages scored is left out of the macro
# average (conduct has one in the development set): its F1 would be noise.
MIN_POSITIVES = 5


@dataclass
class Library:
    name: str
    labels: list[str]
    texts: list[str]
    missions: list[str]
    Y: np.ndarray  # gold, (passages, labels) in {0, 1}

    def item(self, i: int) -> LabelledText:
        """Passage i as a reviewer's answer: every axis the library's labels cover."""
        axis_of = {lab.slug: lab.axis for lab in all_labels()}
        given = {
            a: tuple(lab for j, lab in enumerate(self.labels) if self.Y[i, j] and axis_of[lab] == a)
            for a in AXES
        }
        covered = {axis_of[lab] for lab in self.labels}
        return LabelledText(
            self.texts[i],
            given["a4p"] if "a4p" in covered else None,
            given["pillars"] if "pillars" in covered else None,
            source="review",
            group=self.missions[i],
        )


def pact4() -> Library:
    rows = [json.loads(x) for x in (REALDOCS / "paragraphs.jsonl").read_text().splitlines() if x]
    Y = np.array([[int(lab in r["a4p"]) for lab in FOUR] for r in rows])
    return Library("pact4", list(FOUR), [r["text"] for r in rows], [r["mission"] for r in rows], Y)


def dev12() -> Library:
    rows = {
        r["id"]: r
        for r in (
            json.loads(x) for x in (REALDOCS / "paragraphs.jsonl").read_text().splitlines() if x
        )
    }
    gold = [json.loads(x) for x in (DEV12 / "reading1.jsonl").read_text().splitlines() if x]
    labels = list(slugs())
    Y = np.array([[int(lab in g["labels"]) for lab in labels] for g in gold])
    texts = [rows[g["id"]]["text"] for g in gold]
    return Library("dev12", labels, texts, [rows[g["id"]]["mission"] for g in gold], Y)


def macro_f1(Y: np.ndarray, P: np.ndarray) -> float:
    f1s = []
    for j in range(Y.shape[1]):
        if Y[:, j].sum() < MIN_POSITIVES:
            continue
        tp = int(((P[:, j] == 1) & (Y[:, j] == 1)).sum())
        fp = int(((P[:, j] == 1) & (Y[:, j] == 0)).sum())
        fn = int(((P[:, j] == 0) & (Y[:, j] == 1)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


class Loop:
    def __init__(
        self,
        lib: Library,
        cold: list[LabelledText],
        E_cold: np.ndarray,
        params: dict[str, Any] | None = None,
        absolute_queue: bool = False,
    ) -> None:
        self.params = params or {}  # PassageTagger settings to try (e.g. library_blend_half)
        self.absolute_queue = absolute_queue
        self.lib = lib
        self.cold = cold
        self.E_cold = E_cold
        self.E = embed(lib.texts)
        self.inputs = [TagInput(t, self.E[i]) for i, t in enumerate(lib.texts)]

    def fit(self, reviewed: list[int]) -> PassageTagger:
        train = self.cold + [self.lib.item(i) for i in reviewed]
        E = np.vstack([self.E_cold, self.E[reviewed]]) if reviewed else self.E_cold
        return PassageTagger(labels=self.lib.labels, **self.params).fit(
            [TagInput(x.text, E[k]) for k, x in enumerate(train)],
            np.array(label_matrix(train, self.lib.labels)),
            groups=[x.group or "review" for x in train],
            reviewed=[False] * len(self.cold) + [True] * len(reviewed),
        )

    def run(
        self, order: str, cadence: int, checkpoints: list[int], seed: int, reach: int = 1
    ) -> dict[int, dict]:
        """One reviewer's session. `order` "queue": the most uncertain passage first, or with
        `reach` > 1 any one of the `reach` most uncertain (a reviewer who takes the queue's top
        few in their own order); "random": a shuffled library."""
        n = len(self.lib.texts)
        model = self.fit([])
        P = model.predict_proba(self.inputs)
        cold_decisions = model.decide(P)
        rng = random.Random(seed)
        shuffled = list(range(n))
        rng.shuffle(shuffled)
        reviewed: list[int] = []
        seen = np.zeros(n, bool)
        out: dict[int, dict] = {}
        for step in range(1, max(checkpoints) + 1):
            if order == "queue":
                thresholds = np.array([model.thresholds_.get(lab, 0.5) for lab in self.lib.labels])
                if self.absolute_queue:
                    margin = np.abs(P - thresholds).min(axis=1)
                else:
                    margin = uncertainty(P, thresholds)
                margin[seen] = np.inf
                top = np.argsort(margin, kind="stable")[:reach]
                pick = int(top[rng.randrange(len(top))])
            else:
                pick = shuffled[step - 1]
            reviewed.append(pick)
            seen[pick] = True
            if step % cadence == 0:
                model = self.fit(reviewed)
                P = model.predict_proba(self.inputs)
            if step in checkpoints:
                left = ~seen
                out[step] = {
                    "ours": round(macro_f1(self.lib.Y[left], model.decide(P)[left]), 4),
                    "cold": round(macro_f1(self.lib.Y[left], cold_decisions[left]), 4),
                    "reviewed": list(reviewed),
                }
        return out

    def tfidf_lr(self, reviewed: list[int]) -> float:
        left = np.ones(len(self.lib.texts), bool)
        left[reviewed] = False
        Yr = self.lib.Y[reviewed]
        keep = [j for j in range(Yr.shape[1]) if 2 <= Yr[:, j].sum() <= len(reviewed) - 2]
        decisions = np.zeros((int(left.sum()), len(self.lib.labels)), int)
        if keep:
            model = tfidf_lr_model([self.lib.labels[j] for j in keep]).fit(
                [TagInput(self.lib.texts[i]) for i in reviewed], Yr[:, keep]
            )
            texts = [TagInput(t) for t, on in zip(self.lib.texts, left, strict=True) if on]
            decisions[:, keep] = model.predict(texts)
        return round(macro_f1(self.lib.Y[left], decisions), 4)


def per_label(Y: np.ndarray, P: np.ndarray, labels: list[str]) -> dict[str, float | None]:
    """F1 per label; None where the library has no positive (not measurable)."""
    out: dict[str, float | None] = {}
    for j, lab in enumerate(labels):
        measurable = Y[:, j].sum() >= MIN_POSITIVES
        out[lab] = round(macro_f1(Y[:, [j]], P[:, [j]]), 3) if measurable else None
    return out


def cold_start(lib: Library, params: dict[str, Any] | None = None) -> dict[str, object]:
    """The shipped cold-start tagger (with `params` instead of its defaults) on the whole
    library, per label."""
    cold = cold_start_set()
    loop = Loop(lib, cold, embed([x.text for x in cold]), params)
    model = loop.fit([])
    decisions = model.decide(model.predict_proba(loop.inputs))
    labels = per_label(lib.Y, decisions, lib.labels)
    result = {
        "library": lib.name,
        "macro_f1": round(macro_f1(lib.Y, decisions), 4),
        "per_label": labels,
    }
    print(
        f"  {lib.name} cold start macro-F1 {result['macro_f1']:.3f}: "
        + ", ".join(f"{k} {v}" for k, v in labels.items()),
        file=sys.stderr,
    )
    return result


def evaluate(
    lib: Library,
    cadence: int,
    seed: int,
    params: dict[str, Any] | None = None,
    absolute_queue: bool = False,
    runs: int = RUNS,
) -> dict[str, object]:
    """`runs` sessions: the app's exact order, then near orders (`NEAR_REACH`); random order
    with as many seeds. Each checkpoint reports the mean over the sessions and the spread of
    the gain over the cold start: one session's queue picks depend on every model before them,
    so a single run moves by a few hundredths with any small change."""
    cold = cold_start_set()
    loop = Loop(lib, cold, embed([x.text for x in cold]), params, absolute_queue)
    checkpoints = [c for c in CHECKPOINTS if len(lib.texts) - c >= MIN_LEFT]
    started = time.perf_counter()
    queues = [
        loop.run("queue", cadence, checkpoints, seed + r, 1 if r == 0 else NEAR_REACH)
        for r in range(runs)
    ]
    rands = [loop.run("random", cadence, checkpoints, seed + r) for r in range(runs)]
    rows = []
    for c in checkpoints:
        gains = [q[c]["ours"] - q[c]["cold"] for q in queues]
        rows.append(
            {
                "reviews": c,
                "cold_start": _mean(q[c]["cold"] for q in queues),
                "queue": _mean(q[c]["ours"] for q in queues),
                "random": _mean(r[c]["ours"] for r in rands),
                "tfidf_lr_same_reviews": _mean(loop.tfidf_lr(q[c]["reviewed"]) for q in queues),
                "gain_over_cold": _mean(gains),
                "gain_min": round(min(gains), 4),
                "gain_max": round(max(gains), 4),
                "queue_app_order": queues[0][c]["ours"],
            }
        )
        row = rows[-1]
        print(
            f"  {lib.name} {c:4} reviews: queue {row['queue']:.3f}  random {row['random']:.3f}  "
            f"tfidf+lr {row['tfidf_lr_same_reviews']:.3f}  cold {row['cold_start']:.3f}  "
            f"gain {row['gain_over_cold']:+.3f} [{row['gain_min']:+.3f}, {row['gain_max']:+.3f}]",
            file=sys.stderr,
            flush=True,
        )
    return {
        "library": lib.name,
        "passages": len(lib.texts),
        "runs": runs,
        "curve": rows,
        "seconds": round(time.perf_counter() - started),
    }


def _mean(values: Any) -> float:
    return round(float(np.mean(list(values))), 4)


def _setting(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or name not in PassageTagger().get_params():
        sys.exit(f"--set wants NAME=VALUE with a PassageTagger setting, not {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", choices=("pact4", "dev12", "both"), default="both")
    ap.add_argument("--cadence", type=int, default=20, help="retrain after this many reviews")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--runs", type=int, default=RUNS, help="sessions per library (mean reported)")
    ap.add_argument("--cold-only", action="store_true", help="the cold-start model per label only")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PassageTagger setting to try instead of its default (repeatable), e.g. "
        "library_blend_half=50 or library_threshold_half=25",
    )
    ap.add_argument(
        "--queue",
        choices=("relative", "absolute"),
        default="relative",
        help="the queue's order: the app's (relative distance to a threshold) or the raw distance",
    )
    args = ap.parse_args()
    if not (REALDOCS / "paragraphs.jsonl").exists():
        sys.exit("../shared/realdocs is not present")
    libs = (
        [pact4(), dev12()]
        if args.library == "both"
        else [pact4() if args.library == "pact4" else dev12()]
    )
    params = dict(_setting(x) for x in args.set)
    if args.cold_only:
        print(json.dumps([cold_start(lib, params) for lib in libs]))
        return
    absolute = args.queue == "absolute"
    results = [
        evaluate(lib, args.cadence, args.seed, params, absolute, max(1, args.runs)) for lib in libs
    ]
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "review_loop.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
