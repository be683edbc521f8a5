"""How long `train` takes, and what tagging costs per passage (issue 15's speed targets).

Trains the product's tagger (all 12 labels) on the cold-start set plus N reviewed realdocs
paragraphs, as `python cli.py train` does after N reviews, and tags the realdocs paragraphs with
it. Reviewed paragraphs carry their dev12 labels where the development set has them, else their
PACT-4 areas on the A4P axis (the pillar axis then counts as not reviewed). Past 1,909 the
paragraphs are reused with a marker so that every text is distinct. Each measure is the median
of `--runs` runs; tagging is compared with the ingest's time per passage from
`benchmarks/out/ingest_realdocs.json` when that file exists.

    python benchmarks/train_speed.py [--reviews 2000] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from benchmarks.tagging import embed  # noqa: E402
from nlp.labels import slugs  # noqa: E402
from nlp.tagger import PassageTagger, TagInput  # noqa: E402
from nlp.training_data import LabelledText, cold_start_set, label_matrix  # noqa: E402

REALDOCS = ROOT.parent / "shared" / "realdocs" / "paragraphs.jsonl"
DEV12 = ROOT / "benchmarks" / "data" / "dev12" / "reading1.jsonl"
INGEST = ROOT / "benchmarks" / "out" / "ingest_realdocs.json"
PILLARS = set(slugs("pillars"))


def reviewed_items(n: int) -> list[LabelledText]:
    rows = [json.loads(x) for x in REALDOCS.read_text(encoding="utf-8").splitlines() if x]
    dev = {r["id"]: r["labels"] for r in map(json.loads, DEV12.read_text().splitlines()) if r}
    out = []
    for k in range(n):
        r = rows[k % len(rows)]
        text = r["text"] if k < len(rows) else f"({k // len(rows)}) {r['text']}"
        if r["id"] in dev:
            labels = dev[r["id"]]
            a4p = tuple(x for x in labels if x not in PILLARS)
            pillars: tuple[str, ...] | None = tuple(x for x in labels if x in PILLARS)
        else:
            a4p, pillars = tuple(r["a4p"]), None
        out.append(LabelledText(text, a4p, pillars, "review", r["mission"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reviews", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not REALDOCS.exists():
        sys.exit("../shared/realdocs is not present")
    cold = cold_start_set()
    reviews = reviewed_items(args.reviews)
    items = cold + reviews
    labels = list(slugs())
    E = embed([x.text for x in items])
    X = [TagInput(x.text, E[i]) for i, x in enumerate(items)]
    Y = np.array(label_matrix(items, labels))
    groups = [x.group or "review" for x in items]
    flags = [False] * len(cold) + [True] * len(reviews)
    train_s, tag_ms = [], []
    texts = [x.text for x in reviews[:1909]]
    inputs = [TagInput(t, E[len(cold) + i]) for i, t in enumerate(texts)]
    for run in range(args.runs):
        started = time.perf_counter()
        model = PassageTagger(labels=labels).fit(X, Y, groups=groups, reviewed=flags)
        train_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.decide(model.predict_proba(inputs))
        tag_ms.append(1000 * (time.perf_counter() - started) / len(inputs))
        print(
            f"  run {run + 1}: train {train_s[-1]:.1f} s, tag {tag_ms[-1]:.2f} ms per passage",
            file=sys.stderr,
        )
    result: dict[str, object] = {
        "cold_start_examples": len(cold),
        "reviewed": len(reviews),
        "labels": len(labels),
        "train_s_median": round(statistics.median(train_s), 1),
        "tag_ms_per_passage_median": round(statistics.median(tag_ms), 2),
    }
    if INGEST.exists():
        ingest = json.loads(INGEST.read_text())["ingest"]
        per_passage = 1000 * (ingest["seconds"] - ingest["time_s"]["tag"]) / ingest["passages"]
        result["ingest_ms_per_passage_without_tagging"] = round(per_passage, 2)
        result["tagging_share_of_ingest"] = round(
            statistics.median(tag_ms) / (per_passage + statistics.median(tag_ms)), 3
        )
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
