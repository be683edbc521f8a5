"""Reviewing tags: the uncertainty queue, corrections that never overwrite each other unseen,
the audit trail and its CSV, label quality from the corrections, retraining with progress."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

import cli
from errors import DocumentNotFound, DocumentReviewConflict, ReviewConflict, ReviewError
from index.datadir import DataDir
from index.library import Store
from index.library.migrations import SCHEMA_VERSION
from index.library.reviews import ReviewEvent
from index.review_audit import events_csv, label_quality, list_events, quality_from_events
from index.reviews import (
    accept_passage,
    pending_corrections,
    retrain,
    review_document,
    review_passage,
    review_queue,
    should_auto_retrain,
)
from index.tagging import Tagging
from nlp.training_data import parse_labelled


@pytest.fixture
def data(demo_dir: Path, tmp_path: Path) -> Path:
    """A copy of the session's demo library, free to write to."""
    copy = tmp_path / "data"
    shutil.copytree(demo_dir, copy)
    return copy


def _unscored(dd: DataDir) -> int:
    return int(
        dd.store.conn.execute(
            "SELECT COUNT(*) FROM passages p LEFT JOIN passage_uncertainty u"
            " ON u.passage_id = p.id WHERE u.passage_id IS NULL"
        ).fetchone()[0]
    )


def test_queue_is_most_uncertain_first_filtered_and_paginated(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        assert _unscored(dd) == 0  # ingest keeps the model's scores of every passage
        # Passages without scores (older stores) are scored when the queue is asked for.
        with dd.store.transaction() as c:
            c.execute("DELETE FROM passage_uncertainty WHERE passage_id % 3 = 0")
        first = review_queue(dd, limit=10, evidence=False)
        assert _unscored(dd) == 0
        assert (
            first.total
            == dd.store.conn.execute("SELECT COUNT(DISTINCT text_key) FROM passages").fetchone()[0]
        )
        margins = [i.uncertainty for i in first.items]
        assert None not in margins and margins == sorted(margins)  # type: ignore[type-var]
        # The uncertainty is the smallest distance between a probability and its threshold,
        # as a share of the room on that side of the threshold.
        thresholds = Tagging(dd).manifest()["thresholds"]
        top = first.items[0]
        closest = min(
            abs(top.scores[label] - t) / (t if top.scores[label] < t else 1 - t)
            for label, t in thresholds.items()
        )
        assert closest == pytest.approx(top.uncertainty, abs=5e-3)

        second = review_queue(dd, offset=10, limit=10, evidence=False)
        assert not {i.passage_id for i in first.items} & {i.passage_id for i in second.items}
        assert second.items[0].uncertainty >= first.items[-1].uncertainty  # type: ignore[operator]

        wps = review_queue(dd, label="wps", limit=100, evidence=False)
        assert 0 < wps.total < first.total
        assert all("wps" in i.predicted["a4p"] for i in wps.items)
        doc = top.doc_id
        one_doc = review_queue(dd, doc_id=doc, limit=100, evidence=False)
        assert one_doc.total and all(i.doc_id == doc for i in one_doc.items)
        with pytest.raises(ReviewError, match="unknown label"):
            review_queue(dd, label="elections")

        shown = review_queue(dd, limit=1).items[0]
        labels = shown.predicted["a4p"] + shown.predicted["pillars"]
        assert set(labels) <= set(shown.evidence)
        flat = " ".join(shown.text.split())
        assert all(sentence in flat for sentence in shown.evidence.values())

        # Reviewed on both axes: out of the queue; on one axis: still in it.
        accept_passage(dd.store, shown.passage_id, reviewer="amina", expected=shown.expected)
        after = review_queue(dd, limit=first.total, evidence=False)
        assert shown.passage_id not in {i.passage_id for i in after.items}
        assert after.total == first.total - 1
        nxt = after.items[0]
        review_passage(
            dd.store, nxt.passage_id, a4p=["wps"], reviewer="amina", expected=nxt.expected
        )
        still = review_queue(dd, limit=first.total, evidence=False)
        again = next(i for i in still.items if i.passage_id == nxt.passage_id)
        assert again.reviewed_axes == ("a4p",) and again.current["a4p"] == ["wps"]
        assert again.last_event_id > 0


def test_second_reviewer_sees_the_conflict_and_can_overwrite_on_purpose(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        item = review_queue(dd, limit=1, evidence=False).items[0]
        shown, seen = item.expected, item.last_event_id
        review_passage(
            dd.store,
            item.passage_id,
            a4p=["wps"],
            reviewer="amina",
            expected=shown,
            seen_event=seen,
        )
        with pytest.raises(ReviewConflict) as info:
            review_passage(
                dd.store,
                item.passage_id,
                a4p=["politics"],
                reviewer="bob",
                expected=shown,
                seen_event=seen,
            )
        conflict = info.value
        assert conflict.current == {"a4p": ["wps"]} and conflict.changed_by == "amina"
        assert conflict.changed_at and "amina" in str(conflict)
        assert dd.store.tags_for([item.passage_id])[item.passage_id]["a4p"] == ["wps"]
        assert len(list_events(dd.store)) == 1  # nothing of bob's was stored

        # Same labels as amina's, but saved after bob looked: still a conflict.
        with pytest.raises(ReviewConflict):
            review_passage(
                dd.store,
                item.passage_id,
                a4p=["wps", "politics"],
                reviewer="bob",
                expected={"a4p": ["wps"]},
                seen_event=seen,
            )
        result = review_passage(
            dd.store,
            item.passage_id,
            a4p=["politics"],
            reviewer="bob",
            expected=conflict.current,
            seen_event=conflict.event_id,
        )
        assert result.changed == {"a4p": True}
        tags = dd.store.tags_for([item.passage_id])[item.passage_id]
        assert tags["a4p"] == ["politics"] and tags["pillars"] == item.current["pillars"]
        latest = list_events(dd.store)[0]
        assert (latest.reviewer, latest.before, latest.after) == ("bob", ("wps",), ("politics",))
        assert latest.predicted == tuple(sorted(item.predicted["a4p"]))


def test_simultaneous_saves_one_wins_the_other_sees_the_conflict(data: Path) -> None:
    """Two reviewers (two connections, as two app servers would have) save the same passage
    at the same moment: exactly one save lands."""
    import threading

    with DataDir(data, write=True) as dd:
        item = review_queue(dd, limit=1, evidence=False).items[0]
    stores = [Store(data / "lessons.db"), Store(data / "lessons.db")]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def save(store: Store, label: str) -> None:
        start.wait()
        try:
            review_passage(
                store, item.passage_id, a4p=[label], reviewer=label, expected=item.expected
            )
            outcomes.append("saved")
        except ReviewConflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=save, args=(store, label))
        for store, label in zip(stores, ["wps", "conduct"], strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    [event] = list_events(stores[0])
    assert stores[0].tags_for([item.passage_id])[item.passage_id]["a4p"] == list(event.after)
    for store in stores:
        store.close()


def test_review_input_errors_are_clear_and_store_nothing(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        item = review_queue(dd, limit=1, evidence=False).items[0]
        cases = [
            ({"a4p": ["elections"], "reviewer": "x", "expected": item.expected}, "unknown a4p"),
            ({"a4p": ["wps"], "reviewer": "  ", "expected": item.expected}, "reviewer's name"),
            ({"a4p": ["wps"], "reviewer": "x", "expected": {}}, "were shown"),
            ({"reviewer": "x", "expected": item.expected}, "nothing to save"),
        ]
        for kwargs, message in cases:
            with pytest.raises(ReviewError, match=message):
                review_passage(dd.store, item.passage_id, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(ReviewError, match="no longer in the library"):
            review_passage(dd.store, 10**9, a4p=[], reviewer="x", expected={"a4p": []})
        assert list_events(dd.store) == []


def test_accept_is_a_recorded_review_that_changes_no_label(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        item = review_queue(dd, limit=1, evidence=False).items[0]
        result = accept_passage(dd.store, item.passage_id, reviewer="amina", expected=item.expected)
        assert result.changed == {"a4p": False, "pillars": False}
        shown = dd.store.tags_for([item.passage_id])[item.passage_id]
        assert {axis: sorted(v) for axis, v in shown.as_json().items()} == {
            axis: sorted(v) for axis, v in item.current.items()
        }
        events = list_events(dd.store, passage_id=item.passage_id)
        assert sorted(e.axis for e in events) == ["a4p", "pillars"]
        for e in events:
            assert e.before == e.after == e.predicted == tuple(sorted(item.current[e.axis]))
        text = dd.store.passages_by_ids([item.passage_id])[item.passage_id].text
        reviewed = {x.text: x for x in dd.store.reviewed_items()}[text]
        assert reviewed.a4p is not None and reviewed.pillars is not None


def test_audit_trail_filters_and_exports_csv(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with DataDir(data, write=True) as dd:
        a, b = review_queue(dd, limit=2, evidence=False).items
        review_passage(dd.store, a.passage_id, a4p=["wps"], reviewer="amina", expected=a.expected)
        review_passage(
            dd.store,
            b.passage_id,
            pillars=["training"],
            reviewer="=HYPERLINK(1)",
            expected=b.expected,
        )
        assert [e.reviewer for e in list_events(dd.store, reviewer="amina")] == ["amina"]
        assert [e.passage_id for e in list_events(dd.store, label="training")] == [b.passage_id]
        assert [e.passage_id for e in list_events(dd.store, passage_id=a.passage_id)] == [
            a.passage_id
        ]
        rows = list(csv.DictReader(io.StringIO(events_csv(list_events(dd.store)))))
    assert [r["reviewer"] for r in rows] == ["'=HYPERLINK(1)", "amina"]  # no formula runs
    amina = rows[1]
    assert amina["axis"] == "a4p" and amina["after"] == "wps" and amina["added"] == "wps"
    assert amina["before"] == (";".join(sorted(a.current["a4p"])) or "none")
    assert amina["document"] == a.title and amina["at_utc"].endswith("Z")

    out = tmp_path / "audit.csv"
    assert cli.main(["reviews", "--csv", str(out), "--data-dir", str(data)]) == 0
    assert "2 review events" in capsys.readouterr().out
    exported = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["event_id"] for r in exported] == ["1", "2"]  # oldest first in the file
    assert cli.main(["reviews", "--reviewer", "amina", "--data-dir", str(data)]) == 0
    assert "wps" in capsys.readouterr().out


def _event(n: int, key: str, at: str, predicted: tuple[str, ...] | None, after: tuple[str, ...]):
    return ReviewEvent(n, at, "r", "app", n, key, "a4p", predicted, after, predicted)


def test_label_quality_counts_kept_removed_and_added_labels() -> None:
    week1, week2 = "2025-03-04T10:00:00.000Z", "2025-03-12T10:00:00.000Z"
    events = [
        _event(1, "k1", week1, ("politics", "wps"), ("politics",)),  # wps removed
        _event(2, "k2", week1, ("politics",), ("politics", "protection")),  # protection added
        _event(3, "k3", week1, (), ()),
        _event(4, "k1", week2, ("politics", "wps"), ("politics", "wps")),  # k1 re-reviewed
        _event(5, "k4", week2, None, ("wps",)),  # imported: no prediction known
    ]
    report = quality_from_events(events, by="week")
    q = {x.label: x for x in report.labels}
    assert report.reviews == 3 and report.without_prediction == 1  # k1 counts once overall
    assert (q["politics"].precision, q["politics"].recall) == (1.0, 1.0)
    assert (q["wps"].overall.predicted, q["wps"].overall.kept) == (1, 1)
    assert q["protection"].precision is None and q["protection"].recall == 0.0
    assert [p.period for p in q["wps"].trend] == ["2025-W10", "2025-W11"]
    assert [p.precision for p in q["wps"].trend] == [0.0, 1.0]  # the trend shows the change
    assert q["training"].overall.reviews == 0  # a pillar: no pillar was reviewed

    blocks = quality_from_events(events, by="block", block_size=2)
    wps = next(x for x in blocks.labels if x.label == "wps")
    assert [p.period for p in wps.trend] == ["events 1-2", "events 3-4"]
    with pytest.raises(ReviewError):
        quality_from_events(events, by="month")


def test_imported_labels_write_events_and_old_stores_migrate(tmp_path: Path) -> None:
    store = Store(tmp_path / "lessons.db")
    item = parse_labelled({"text": "A gender adviser joined the mission.", "a4p": ["wps"]})
    store.upsert_reviews([item], reviewer="importer", source="cli:labels.jsonl")
    store.upsert_reviews([item], reviewer="importer")  # the same labels: no new event
    store.upsert_reviews([parse_labelled({"text": item.text, "a4p": ["wps", "politics"]})])
    events = list_events(store, newest_first=False)
    assert [(e.before, e.after) for e in events] == [
        (None, ("wps",)),
        (("wps",), ("politics", "wps")),
    ]
    assert events[0].predicted is None and events[0].source == "cli:labels.jsonl"
    assert label_quality(store).without_prediction == 2

    # A store from before the audit trail: its reviews become the trail's first events.
    with store.transaction() as c:  # (its migrations were never recorded)
        c.execute("DELETE FROM review_events")
        c.execute("DROP TABLE migrations")
        store.set_meta("schema_version", "2")
    store.close()
    store = Store(tmp_path / "lessons.db")
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    migrated = list_events(store)
    assert [(e.after, e.source) for e in migrated] == [(("politics", "wps"), "migrated:import")]
    store.close()


def test_retrain_reports_progress_and_clears_pending_corrections(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        assert pending_corrections(dd) == 0
        for item in review_queue(dd, limit=2, evidence=False).items:
            review_passage(
                dd.store, item.passage_id, a4p=["conduct"], reviewer="amina", expected=item.expected
            )
        assert pending_corrections(dd) == 2
        assert should_auto_retrain(2, 2) and not should_auto_retrain(1, 2)
        assert not should_auto_retrain(100, 0)  # 0 turns it off
        steps: list[tuple[float, str]] = []
        report = retrain(dd, progress=lambda f, m: steps.append((f, m)))
        assert report.retrained and report.reviewed == 2
        fractions = [f for f, _ in steps]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        assert any("Retagged" in m for _, m in steps)
        # The bar moves while the labels are fitted, not only before and after.
        fitting = [f for f, m in steps if m.startswith("Fitting the tagger")]
        assert len(fitting) == 13 and steps[-1][1].startswith("Retrained")
        assert 0.05 <= fitting[0] < fitting[6] < fitting[-1] <= 0.6
        assert pending_corrections(dd) == 0
        assert not retrain(dd).retrained  # nothing new to learn
        assert _unscored(dd) == 0


def test_document_tags_corrected_with_conflict_check_audit_and_way_back(data: Path) -> None:
    with DataDir(data, write=True) as dd:
        doc = next(d for d in dd.store.documents() if "shirbrig-standby" in d.file_name)
        derived = dd.store.document_tags(doc.id)
        pending = pending_corrections(dd)
        with pytest.raises(ReviewError, match="unknown a4p"):
            review_document(dd.store, doc.id, a4p=["peace"], reviewer="amina", expected=derived)
        with pytest.raises(ReviewError, match="were shown"):
            review_document(dd.store, doc.id, a4p=["wps"], reviewer="amina", expected={})
        with pytest.raises(DocumentNotFound):
            review_document(dd.store, 999_999, a4p=[], reviewer="amina", expected=derived)

        now = review_document(
            dd.store, doc.id, a4p=["partnerships", "wps"], reviewer="amina", expected=derived
        )
        assert now == {"a4p": ["partnerships", "wps"], "pillars": derived["pillars"]}
        assert dd.store.document_tags(doc.id) == now
        # A second reviewer who was shown the derived tags is told, and nothing is stored.
        with pytest.raises(DocumentReviewConflict) as conflict:
            review_document(dd.store, doc.id, a4p=["politics"], reviewer="ben", expected=derived)
        assert conflict.value.changed_by == "amina"
        assert conflict.value.current == {"a4p": ["partnerships", "wps"]}
        assert dd.store.document_tags(doc.id) == now
        # The audit trail names the document; a document's tags do not count as passage
        # corrections for retraining.
        (event,) = list_events(dd.store, document_id=doc.id)
        assert event.before == tuple(sorted(derived["a4p"]))
        assert event.after == ("partnerships", "wps")
        assert event.doc_id == doc.id and event.title == doc.title and event.passage_id is None
        assert pending_corrections(dd) == pending
        # Back to the passages' verdict, recorded too.
        back = review_document(dd.store, doc.id, derive=["a4p"], reviewer="amina", expected=now)
        assert back == derived
        assert [e.source for e in list_events(dd.store, document_id=doc.id)] == [
            "app:derived",
            "app",
        ]
