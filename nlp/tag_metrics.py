"""Precision, recall and F1 of multi-label tags against reviewed gold labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nlp.labels import slugs
from nlp.training_data import LabelledText


def score_tags(
    gold: Sequence[LabelledText], predicted: Sequence[tuple[Sequence[str], Sequence[str]]]
) -> dict[str, Any]:
    """Scores over the labels present in the gold file. A gold item counts for an axis only
    when that axis was reviewed in it."""
    present = [
        lab
        for lab in slugs()
        if any(lab in (g.a4p or ()) or lab in (g.pillars or ()) for g in gold)
    ]
    counts = {lab: [0, 0, 0] for lab in present}  # tp, fp, fn
    for g, (a4p, pillars) in zip(gold, predicted, strict=True):
        for axis, pred in (("a4p", set(a4p)), ("pillars", set(pillars))):
            truth = g.on(axis)
            if truth is None:
                continue
            for lab in present:
                if lab not in slugs(axis):
                    continue
                t, p = lab in truth, lab in pred
                counts[lab][0] += t and p
                counts[lab][1] += p and not t
                counts[lab][2] += t and not p
    labels: dict[str, dict[str, float | int]] = {}
    for lab, (tp, fp, fn) in counts.items():
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        labels[lab] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    tp, fp, fn = (sum(c[i] for c in counts.values()) for i in range(3))
    micro = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    macro = sum(m["f1"] for m in labels.values()) / len(labels) if labels else 0.0
    return {
        "labels": labels,
        "micro_f1": round(micro, 4),
        "macro_f1": round(macro, 4),
        "examples": len(gold),
    }
