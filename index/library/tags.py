"""Tags and scores: the labels each passage shows (`passage_tags`), the model's own scores
(`passage_scores`, `passage_uncertainty`: the review queue's order) and a document's own
corrected tags (`document_reviews`), with the rule that derives a document's tags from its
passages'.

A passage shows its reviewed labels where its text was reviewed, else the model's; every change
bumps the library's tags generation, which engines follow (index/engine/base.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence

from index.library.database import Database, bump_tags_generation, chunks, in_scope, marks
from index.library.records import LabelScore, Tags, utc_now
from nlp.labels import slugs
from nlp.uncertainty import uncertainty

# A document carries a label when at least this share of its passages do (measured: the
# demo-corpus cross-validation in benchmarks/tagging.py; since passage thresholds assume a
# label frequency of one half until reviews say otherwise, passages carry more labels and 0.34
# beats 0.2).
DOC_TAG_SHARE = 0.34


# -- inside a transaction ---------------------------------------------------------------------
def insert_tags(c: sqlite3.Connection, pid: int, tags: Sequence[tuple[str, str, float]]) -> None:
    """A new passage's tags: (axis, label, score)."""
    c.executemany(
        "INSERT INTO passage_tags(passage_id, axis, label, score) VALUES (?,?,?,?)",
        [(pid, *t) for t in tags],
    )


def write_scores(c: sqlite3.Connection, pid: int, scores: Sequence[LabelScore]) -> None:
    c.execute("DELETE FROM passage_scores WHERE passage_id = ?", (pid,))
    c.execute("DELETE FROM passage_uncertainty WHERE passage_id = ?", (pid,))
    if not scores:
        return
    c.executemany(
        "INSERT INTO passage_scores(passage_id, label, score, margin, predicted)"
        " VALUES (?,?,?,?,?)",
        [(pid, label, score, margin, int(pred)) for label, score, margin, pred in scores],
    )
    # A LabelScore holds the probability and its margin over the threshold.
    probabilities = [score for _, score, _, _ in scores]
    thresholds = [score - margin for _, score, margin, _ in scores]
    c.execute(
        "INSERT INTO passage_uncertainty(passage_id, margin) VALUES (?, ?)",
        (pid, round(float(uncertainty(probabilities, thresholds)), 4)),
    )


def override(
    c: sqlite3.Connection, passage_ids: Iterable[int], axis: str, labels: list[str]
) -> None:
    """Reviewed passages show the reviewed labels at once, everywhere."""
    bump_tags_generation(c)
    for pid in passage_ids:
        c.execute("DELETE FROM passage_tags WHERE passage_id = ? AND axis = ?", (pid, axis))
        c.executemany(
            "INSERT INTO passage_tags(passage_id, axis, label, score) VALUES (?,?,?,1.0)",
            [(pid, axis, label) for label in labels],
        )


def passage_axis_tags(c: sqlite3.Connection, passage_id: int, axis: str) -> list[str]:
    """The labels a passage shows on one axis now (reviewed, else predicted)."""
    return sorted(
        r[0]
        for r in c.execute(
            "SELECT label FROM passage_tags WHERE passage_id = ? AND axis = ?",
            (passage_id, axis),
        )
    )


def predicted_labels(c: sqlite3.Connection, passage_id: int, axis: str) -> list[str] | None:
    """The model's own decision on one axis (before any review), None when the passage has
    no stored scores (tagged before scores were kept)."""
    rows = c.execute(
        "SELECT label, predicted FROM passage_scores WHERE passage_id = ?", (passage_id,)
    ).fetchall()
    if not rows:
        return None
    on_axis = set(slugs(axis))
    return sorted(r[0] for r in rows if r[1] and r[0] in on_axis)


def labels_between(c: sqlite3.Connection, first: int, last: int) -> dict[int, set[str]]:
    """The labels of the passages with ids from `first` to `last`."""
    out: dict[int, set[str]] = {}
    for pid, label in c.execute(
        "SELECT passage_id, label FROM passage_tags WHERE passage_id BETWEEN ? AND ?",
        (first, last),
    ):
        out.setdefault(int(pid), set()).add(label)
    return out


def all_document_tags(
    c: sqlite3.Connection, min_share: float = DOC_TAG_SHARE, *, doc_id: int | None = None
) -> dict[int, Tags]:
    """A document's tags: a reviewer's correction of the document where there is one, else
    each label carried by at least `min_share` of its passages (chosen on the demo corpus:
    docs/benchmarks.md); of every document, or of `doc_id` only, in three queries."""
    where, args = ("WHERE p.doc_id = ?", (doc_id,)) if doc_id is not None else ("", ())
    sizes = dict(
        c.execute(f"SELECT p.doc_id, COUNT(*) FROM passages p {where} GROUP BY 1", args).fetchall()
    )
    derived: dict[int, dict[str, list[str]]] = {d: {} for d in sizes}
    for d, axis, label, n in c.execute(
        "SELECT p.doc_id, t.axis, t.label, COUNT(*) FROM passage_tags t JOIN passages p"
        f" ON p.id = t.passage_id {where} GROUP BY 1, 2, 3 ORDER BY 4 DESC",
        args,
    ):
        if n / sizes[d] >= min_share:
            derived[d].setdefault(axis, []).append(label)
    review_where = "WHERE doc_id = ?" if doc_id is not None else ""
    for d, axis, labels in c.execute(
        f"SELECT doc_id, axis, labels FROM document_reviews {review_where}", args
    ):
        derived.setdefault(d, {})[axis] = json.loads(labels)
    return {d: Tags.from_axes(axes) for d, axes in derived.items()}


def set_document_review(
    c: sqlite3.Connection,
    doc_id: int,
    axis: str,
    labels: Sequence[str] | None,
    reviewer: str | None,
) -> None:
    """A document's own tags on one axis (None: drop the correction, derive them again)."""
    if labels is None:
        c.execute("DELETE FROM document_reviews WHERE doc_id = ? AND axis = ?", (doc_id, axis))
    else:
        c.execute(
            "INSERT INTO document_reviews(doc_id, axis, labels, reviewer, at)"
            " VALUES (?,?,?,?,?) ON CONFLICT(doc_id, axis) DO UPDATE SET"
            " labels=excluded.labels, reviewer=excluded.reviewer, at=excluded.at",
            (doc_id, axis, json.dumps(sorted(labels)), reviewer, utc_now()),
        )


class TagsTable(Database):
    """The tag family's part of the Store."""

    def tags_for(self, ids: Iterable[int]) -> dict[int, Tags]:
        """The tags each passage shows, strongest first."""
        ids = list(ids)
        found: dict[int, dict[str, list[str]]] = {i: {} for i in ids}
        for chunk in chunks(ids):
            for r in self.conn.execute(
                "SELECT passage_id, axis, label FROM passage_tags"
                f" WHERE passage_id IN ({marks(chunk)}) ORDER BY score DESC",
                chunk,
            ):
                found[r[0]].setdefault(r[1], []).append(r[2])
        return {pid: Tags.from_axes(axes) for pid, axes in found.items()}

    def scores_for(self, ids: Sequence[int]) -> dict[int, list[tuple[str, float, bool]]]:
        """The model's (label, probability, decision) per passage, most probable first."""
        out: dict[int, list[tuple[str, float, bool]]] = {int(i): [] for i in ids}
        for chunk in chunks(ids):
            for s in self.conn.execute(
                "SELECT passage_id, label, score, predicted FROM passage_scores"
                f" WHERE passage_id IN ({marks(chunk)}) ORDER BY score DESC",
                chunk,
            ):
                out[s[0]].append((s[1], float(s[2]), bool(s[3])))
        return out

    def unscored_passage_ids(self) -> list[int]:
        """Passages without the model's scores (stores made before scores were kept, or
        ingested without a model)."""
        return [
            int(r[0])
            for r in self.conn.execute(
                "SELECT p.id FROM passages p LEFT JOIN passage_uncertainty u"
                " ON u.passage_id = p.id WHERE u.passage_id IS NULL"
            )
        ]

    def write_scores(self, scores: dict[int, Sequence[LabelScore]]) -> None:
        """Keep the model's scores of many passages (their tags are left as they are)."""
        with self.transaction() as c:
            for pid, label_scores in scores.items():
                write_scores(c, pid, label_scores)

    def replace_tags(
        self,
        tags: dict[int, list[tuple[str, str, float]]],
        scores: dict[int, Sequence[LabelScore]] | None = None,
    ) -> int:
        """Replace the model's tags (and, when given, its scores) of many passages (reviewed
        axes stay as reviewed). Returns how many passages changed tags."""
        changed = 0
        with self.transaction() as c:
            bump_tags_generation(c)
            for pid, label_scores in (scores or {}).items():
                write_scores(c, pid, label_scores)
            for pid, new in tags.items():
                old = sorted(
                    (r[0], r[1])
                    for r in c.execute(
                        "SELECT axis, label FROM passage_tags WHERE passage_id = ?", (pid,)
                    )
                )
                c.execute("DELETE FROM passage_tags WHERE passage_id = ?", (pid,))
                insert_tags(c, pid, new)
                changed += old != sorted((a, lab) for a, lab, _ in new)
        return changed

    def document_tags(self, doc_id: int, min_share: float = DOC_TAG_SHARE) -> Tags:
        """A document's tags (see `all_document_tags`)."""
        return all_document_tags(self.conn, min_share, doc_id=doc_id).get(doc_id, Tags())

    def all_document_tags(
        self, min_share: float = DOC_TAG_SHARE, *, doc_id: int | None = None
    ) -> dict[int, Tags]:
        return all_document_tags(self.conn, min_share, doc_id=doc_id)

    def document_reviews(self, doc_id: int) -> dict[str, tuple[list[str], str | None, str]]:
        """A document's own corrected tags per axis: (labels, reviewer, UTC time)."""
        return {
            r[0]: (json.loads(r[1]), r[2], r[3])
            for r in self.conn.execute(
                "SELECT axis, labels, reviewer, at FROM document_reviews WHERE doc_id = ?",
                (doc_id,),
            )
        }

    def passage_labels(self) -> Iterator[tuple[int, str]]:
        """(passage id, label) of every tag in force (what engines filter on)."""
        for pid, label in self.conn.execute("SELECT passage_id, label FROM passage_tags"):
            yield int(pid), label

    def labels_by_document(self) -> dict[tuple[int, str], list[str]]:
        """(document, axis) -> the labels at least one of its passages carries, sorted."""
        out: dict[tuple[int, str], list[str]] = {}
        for doc_id, axis, label in self.conn.execute(
            "SELECT DISTINCT p.doc_id, t.axis, t.label FROM passage_tags t"
            " JOIN passages p ON p.id = t.passage_id ORDER BY 1, 2, 3"
        ):
            out.setdefault((int(doc_id), axis), []).append(label)
        return out

    def passages_per_label(
        self, axis: str, doc_ids: Collection[int] | None = None
    ) -> dict[str, int]:
        """Per label on one axis: the passages showing it (of the documents `doc_ids`)."""
        scope, args = in_scope(doc_ids)
        return dict(
            self.conn.execute(
                "SELECT t.label, COUNT(DISTINCT t.passage_id) FROM passage_tags t"
                f" JOIN passages p ON p.id = t.passage_id WHERE t.axis = ? AND {scope}"
                " GROUP BY t.label",
                (axis, *args),
            ).fetchall()
        )

    def tag_coverage(self, doc_ids: Collection[int] | None = None) -> tuple[int, int, int]:
        """Passages with an A4P tag, with a pillar tag, with any tag (of `doc_ids`)."""
        scope, args = in_scope(doc_ids)
        row = self.conn.execute(
            "SELECT COUNT(DISTINCT CASE WHEN t.axis = 'a4p' THEN t.passage_id END),"
            " COUNT(DISTINCT CASE WHEN t.axis = 'pillars' THEN t.passage_id END),"
            " COUNT(DISTINCT t.passage_id) FROM passage_tags t"
            f" JOIN passages p ON p.id = t.passage_id WHERE {scope}",
            args,
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def tags_with_scores(self, ids: Sequence[int]) -> dict[int, dict[str, list[tuple[str, float]]]]:
        """Per passage and axis: (label, score) strongest first (ties by label)."""
        out: dict[int, dict[str, list[tuple[str, float]]]] = {int(i): {} for i in ids}
        for chunk in chunks(ids):
            for t in self.conn.execute(
                "SELECT passage_id, axis, label, score FROM passage_tags"
                f" WHERE passage_id IN ({marks(chunk)}) ORDER BY score DESC, label",
                chunk,
            ):
                out[t[0]].setdefault(t[1], []).append((t[2], float(t[3])))
        return out
