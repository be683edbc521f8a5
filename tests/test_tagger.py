"""The tagger: scikit-learn contract, partial labels, thresholds, evidence; and the data
folder's tagging service: cold start, reviewed labels overriding at once, retraining by hash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import cli
from errors import TaggerError
from index.datadir import DataDir
from index.tagging import TAGGER_DIR, Tagging
from nlp.labels import slugs
from nlp.tag_metrics import score_tags
from nlp.tagger import PassageTagger, TagInput
from nlp.training_data import (
    LabelledText,
    cold_start_set,
    fingerprint,
    label_matrix,
    parse_labelled,
)

ELECTION = "The mission supported the electoral commission with voter registration and ballots."
GENDER = "Women's participation in the police grew as the gender adviser trained female officers."


def toy_data() -> tuple[list[TagInput], np.ndarray]:
    texts, rows = [], []
    for i in range(12):
        texts.append(f"Voter registration and election day logistics in district {i}. Ballots.")
        rows.append([1, 0])
        texts.append(f"Women's participation and gender parity in the police, case {i}.")
        rows.append([0, 1])
        texts.append(f"Road repairs and fuel deliveries to the logistics base {i}.")
        rows.append([0, 0])
    return [TagInput(t) for t in texts], np.array(rows)


def test_estimator_contract() -> None:
    tagger = PassageTagger(labels=("politics", "wps"), C_text=5.0)
    assert clone(tagger).get_params()["C_text"] == 5.0
    X, Y = toy_data()
    assert tagger.fit(X, Y) is tagger
    learned = [k for k in vars(tagger) if k.endswith("_") and not k.startswith("_")]
    assert {"labels_", "thresholds_", "text_models_"} <= set(learned)
    P = tagger.predict_proba([TagInput(ELECTION), TagInput(GENDER)])
    assert P.shape == (2, 2) and ((P >= 0) & (P <= 1)).all()
    assert tagger.predict([TagInput(ELECTION), TagInput(GENDER)]).tolist() == [[1, 0], [0, 1]]
    assert all(t >= tagger.min_threshold for t in tagger.thresholds_.values())


def test_unreviewed_labels_are_not_learned_as_negatives() -> None:
    X, Y = toy_data()
    Y = Y.copy()
    Y[:, 1] = -1  # nobody reviewed 'wps'
    tagger = PassageTagger(labels=("politics", "wps")).fit(X, Y)
    assert "wps" in tagger.untrained_
    assert tagger.predict([TagInput(GENDER)])[0, 1] == 0  # never guessed


def test_no_data_is_a_clear_error() -> None:
    with pytest.raises(TaggerError, match="no training data"):
        PassageTagger(labels=("politics",)).fit([], np.zeros((0, 1)))
    with pytest.raises(TaggerError, match="not trained"):
        PassageTagger(labels=("politics",)).predict([TagInput("x")])


def test_evidence_is_the_sentence_that_carries_the_label() -> None:
    X, Y = toy_data()
    tagger = PassageTagger(labels=("politics", "wps")).fit(X, Y)
    text = f"The convoy reached the base on Tuesday after long delays. {GENDER} Fuel was short."
    assert tagger.evidence(text, "wps") == GENDER


def test_labelled_lines_distinguish_unreviewed_from_none() -> None:
    item = parse_labelled({"text": "x", "a4p": []})
    assert item.a4p == () and item.pillars is None
    assert label_matrix([item], ["politics", "planning"]) == [[0, -1]]
    with pytest.raises(ValueError, match="unknown a4p"):
        parse_labelled({"text": "x", "a4p": ["elections"]})
    a = [LabelledText("A text", ("politics",), None)]
    b = [LabelledText("a  TEXT", ("politics",), None)]
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint([LabelledText("A text", ("wps",), None)])


def test_cold_start_set_uses_only_owned_data() -> None:
    items = cold_start_set()
    sources = {x.source.split(":")[0] for x in items}
    seeds = {
        "a4p_core.jsonl",
        "a4p_ops.jsonl",
        "guide_2026.jsonl",
        "guide_2026_weak_labels.jsonl",
        "guide_2026_boundaries.jsonl",
    }
    assert sources <= {"definition", "corpus"} | seeds
    for label in slugs():
        assert sum(label in (x.a4p or ()) + (x.pillars or ()) for x in items) >= 10, label


def test_scores_only_count_reviewed_axes() -> None:
    gold = [LabelledText("a", ("politics",), None), LabelledText("b", (), ("training",))]
    result = score_tags(gold, [(["politics"], ["planning"]), (["wps"], ["training"])])
    labels = result["labels"]
    assert isinstance(labels, dict)
    assert labels["politics"]["f1"] == 1.0 and labels["training"]["f1"] == 1.0
    assert "planning" not in labels  # not in the gold file


def test_ingest_tags_passages_and_search_shows_them(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            ["search", "SHIRBRIG rapid reaction lessons", "--json", "--data-dir", str(demo_dir)]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)
    assert any(h["a4p"] for h in hits)
    manifest = json.loads((demo_dir / TAGGER_DIR / "manifest.json").read_text())
    assert manifest["labels"] == list(slugs()) and manifest["reviewed_examples"] == 0
    assert manifest["training_hash"] and manifest["libraries"]["scikit-learn"]


def test_tag_command_prints_one_line_per_input(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "e", "text": ELECTION})
        + "\n"
        + json.dumps({"id": 7, "text": GENDER})
        + "\n"
    )
    assert cli.main(["tag", "--jsonl", str(src), "--data-dir", str(demo_dir)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["id"] for x in lines] == ["e", 7]
    assert set(lines[0]) == {"id", "a4p", "pillars", "scores", "evidence"}
    assert set(lines[0]["scores"]) == set(slugs())
    assert "politics" in lines[0]["a4p"] and "wps" in lines[1]["a4p"]
    for line in lines:
        assert set(line["evidence"]) == set(line["a4p"] + line["pillars"])


def test_reviewed_labels_override_at_once_and_retrain_by_hash(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    import shutil

    shutil.copytree(demo_dir, data)
    with DataDir(data, write=True) as dd:
        row = dd.store.conn.execute(
            "SELECT p.id, p.text FROM passages p JOIN documents d ON d.id = p.doc_id "
            "WHERE d.file_name LIKE '%shirbrig%' ORDER BY p.id LIMIT 1"
        ).fetchone()
    labels = tmp_path / "reviewed.jsonl"
    labels.write_text(json.dumps({"text": row["text"], "a4p": ["conduct"], "pillars": []}) + "\n")

    assert cli.main(["train", "--labels", str(labels), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "1 added" in out and "retrained" in out
    with DataDir(data, write=True) as dd:
        tags = dd.store.tags_for([row["id"]])[row["id"]]
        assert tags["a4p"] == ["conduct"] and tags["pillars"] == []
        pred = Tagging(dd).predict([row["text"]])[0]
        assert pred.a4p == ["conduct"] and set(pred.reviewed) == {"a4p", "pillars"}

    assert cli.main(["train", "--data-dir", str(data)]) == 0
    assert "model unchanged" in capsys.readouterr().out

    labels.write_text(json.dumps({"text": row["text"], "a4p": ["partnerships"]}) + "\n")
    assert cli.main(["train", "--labels", str(labels), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "1 changed" in out and "retrained" in out
    with DataDir(data, write=True) as dd:
        assert dd.store.tags_for([row["id"]])[row["id"]]["a4p"] == ["partnerships"]


def test_incompatible_model_is_rebuilt_not_loaded(demo_dir: Path, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    manifest = data / TAGGER_DIR / "manifest.json"
    m = json.loads(manifest.read_text())
    m["format_version"] = 999
    manifest.write_text(json.dumps(m))
    (data / TAGGER_DIR / "model.joblib").write_bytes(b"not a model")
    with DataDir(data, write=True) as dd:
        assert Tagging(dd).predict([ELECTION])[0].a4p
    assert json.loads(manifest.read_text())["format_version"] != 999


def test_a_model_built_on_other_shipped_seeds_or_cues_is_rebuilt(
    demo_dir: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    manifest = data / TAGGER_DIR / "manifest.json"
    m = json.loads(manifest.read_text())
    m["shipped"] = "an older release"
    manifest.write_text(json.dumps(m))
    with DataDir(data, write=True) as dd:
        report = Tagging(dd).train(retag=False)
    assert report.retrained and "seed passages or keyword cues" in report.reason
    assert json.loads(manifest.read_text())["shipped"] != "an older release"


def test_eval_tags_reports_per_label_and_macro(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "\n".join(
            json.dumps(x)
            for x in [
                {"text": ELECTION, "a4p": ["politics"]},
                {"text": GENDER, "a4p": ["wps"], "pillars": ["training"]},
            ]
        )
        + "\n"
    )
    assert cli.main(["eval-tags", "--gold", str(gold), "--json", "--data-dir", str(demo_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["labels"]) == {"politics", "wps", "training"}
    assert {"precision", "recall", "f1", "support"} <= set(result["labels"]["wps"])
    assert 0 <= result["macro_f1"] <= 1 and result["examples"] == 2


def test_document_tags_follow_passages_and_can_be_corrected(demo_dir: Path, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    with DataDir(data, write=True) as dd:
        doc = next(d for d in dd.store.documents() if "shirbrig-standby" in d.file_name)
        derived = dd.store.document_tags(doc.id)
        assert derived["a4p"], "a SHIRBRIG brief should carry at least one A4P area"
        everything = dd.store.document_tags(doc.id, min_share=0.0)
        assert set(derived["a4p"]) <= set(everything["a4p"])
        dd.store.review_document(doc.id, "pillars", ["training"], reviewer="reviewer-1")
        assert dd.store.document_tags(doc.id)["pillars"] == ["training"]
        assert dd.store.document_tags(doc.id)["a4p"] == derived["a4p"]


def test_reviews_keep_their_mission_as_group_for_threshold_folds(tmp_path: Path) -> None:
    from index.library import Store

    store = Store(tmp_path / "lessons.db")
    store.upsert_reviews(
        [
            parse_labelled({"text": "Police reform in Pristina.", "a4p": [], "mission": "UNMIK"}),
            parse_labelled({"text": "A gender adviser joined.", "a4p": ["wps"]}),
        ]
    )
    groups = sorted(x.group for x in store.reviewed_items())
    assert groups[0] == "UNMIK" and groups[1].startswith("review:")
    store.close()


def test_reviewed_passages_set_the_assumed_label_frequency() -> None:
    X, Y = toy_data()
    cold = PassageTagger(labels=("politics", "wps")).fit(X, Y)
    # Seed frequencies are ours, not the library's: without reviews, assume one half.
    assert cold.assumed_rates_ == {"politics": 0.5, "wps": 0.5}
    reviewed = [i % 3 != 1 for i in range(len(X))]  # politics and neutral rows, no wps rows
    tagger = PassageTagger(labels=("politics", "wps"), prior_strength=10).fit(
        X, Y, reviewed=reviewed
    )
    # 12 of 24 reviewed passages are politics, none is wps: (12 + 5) / 34 and 5 / 34.
    assert tagger.assumed_rates_["politics"] == pytest.approx(0.5)
    assert tagger.assumed_rates_["wps"] == pytest.approx(5 / 34)
    own = PassageTagger(labels=("politics", "wps"), prior_strength=None).fit(X, Y)
    assert own.assumed_rates_["wps"] == pytest.approx(1 / 3)
    with pytest.raises(TaggerError, match="one flag per passage"):
        PassageTagger(labels=("politics", "wps")).fit(X, Y, reviewed=[True])


def test_a_label_nobody_reviewed_sits_at_the_cold_threshold() -> None:
    X, Y = toy_data()
    cold = PassageTagger(labels=("politics", "wps"), cold_threshold=0.41).fit(X, Y)
    assert cold.thresholds_ == {"politics": 0.41, "wps": 0.41}
    # 0.41 is off the grid thresholds are chosen from. The same data as a plain training set
    # (the TF-IDF baseline's use): chosen on it.
    tuned = PassageTagger(labels=("politics", "wps"), cold_threshold=None, min_threshold=0.0)
    assert set(tuned.fit(X, Y).thresholds_.values()) != {0.41}
    # Reviewers answered politics only on the first half of the rows: wps stays cold.
    Y_partial = Y.copy()
    Y_partial[:18, 1] = -1
    reviewed = [i < 18 for i in range(len(X))]
    mixed = PassageTagger(labels=("politics", "wps"), cold_threshold=0.41, min_threshold=0.0)
    mixed.fit(X, Y_partial, reviewed=reviewed)
    assert mixed.thresholds_["wps"] == 0.41 and mixed.thresholds_["politics"] != 0.41


def test_shift_weights_reach_the_requested_positive_share() -> None:
    from nlp.tagger import _shift_weights

    y = np.array([1, 0, 0, 0, 0])
    w = _shift_weights(y, 0.6)
    assert w[y == 1].sum() / w.sum() == pytest.approx(0.6)


def test_cues_count_civilians_not_civilian_components() -> None:
    from nlp.tagger import _cue_patterns, cue_features

    j = [label for label, _ in _cue_patterns()].index("protection")
    F = cue_features(
        ["Civilian police and civilian staff were deployed.", "Civilians fled the attack."]
    )
    assert F[0, j] == 0 and F[1, j] > 0


def test_thresholds_follow_the_librarys_reviews_as_they_accumulate() -> None:
    from nlp.tagger import _best_threshold

    # Out-of-fold scores: the cold-start rows separate at 0.6, the library's reviewed rows
    # (fewer, scored lower by a model that learned from seeds) at 0.4.
    cold_p = np.r_[np.full(60, 0.7), np.full(60, 0.5)]
    lib_p = np.r_[np.full(20, 0.45), np.full(20, 0.3)]
    p = np.r_[cold_p, lib_p]
    y = np.r_[np.ones(60), np.zeros(60), np.ones(20), np.zeros(20)].astype(int)
    r = np.r_[np.zeros(120, bool), np.ones(40, bool)]

    def threshold(half: float | None) -> float:
        tagger = PassageTagger(labels=("politics",), library_threshold_half=half)
        return _best_threshold(p, y, 0.2, tagger._threshold_weights(y, r, 0.5))

    assert threshold(None) > 0.5  # every row counts alike: the seeds' threshold
    assert 0.3 < threshold(10.0) <= 0.45  # 40 reviews against a half of 10: the library's
    w = PassageTagger(library_threshold_half=10.0)._threshold_weights(y, r, 0.5)
    assert w[r].sum() / w.sum() == pytest.approx(40 / 50)
    no_reviews = PassageTagger(library_threshold_half=10.0)._threshold_weights(y, ~r & r, 0.5)
    assert no_reviews[y == 1].sum() / no_reviews.sum() == pytest.approx(0.5)


def test_a_library_that_reads_a_label_otherwise_pulls_the_model_with_its_reviews() -> None:
    # The seeds call "detention" paragraphs politics; this library's reviewers do not.
    seeds = [f"Detention of suspects in district {i} continued." for i in range(40)]
    seeds += [f"Talks on the peace agreement resumed in round {i}." for i in range(40)]
    reviews = [f"Pretrial detention cases in court {i} were heard." for i in range(30)]
    reviews += [f"The peace agreement talks in session {i} advanced." for i in range(30)]
    X = [TagInput(t) for t in seeds + reviews]
    Y = np.array([[1]] * 40 + [[1]] * 40 + [[0]] * 30 + [[1]] * 30)
    reviewed = [False] * 80 + [True] * 60
    probe = [TagInput("Detention of suspects continued.")]

    def score(half: float | None) -> float:
        tagger = PassageTagger(labels=("politics",), seed_weight_half=half, sentence_weight=0)
        return float(tagger.fit(X, Y, reviewed=reviewed).predict_proba(probe)[0, 0])

    assert score(10.0) < score(None) - 0.05


def test_uncertainty_is_relative_to_the_room_on_each_side_of_the_threshold() -> None:
    from nlp.uncertainty import uncertainty

    # 0.20 below a threshold of 0.35 is most of the way to 0; 0.20 above it is not near 1.
    below, above = uncertainty([[0.15], [0.55]], [0.35])
    assert below > above
    assert uncertainty([0.35, 0.9], [0.35, 0.5]) == 0.0  # a passage is its most unsure label
    assert uncertainty([1.0, 0.0], [0.35, 0.5]) == 1.0


def test_regex_cues_count_head_counts_of_mission_personnel() -> None:
    from nlp.tagger import _cue_patterns, cue_features

    j = [label for label, _ in _cue_patterns()].index("performance")
    F = cue_features(
        [
            "Some 1,697 police monitors from 34 countries served in the stations.",
            "Police monitors from many countries served in the stations.",
        ]
    )
    assert F[0, j] > F[1, j]


def test_the_library_learns_its_own_mix_of_components_as_reviews_accumulate() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 16))

    def near(c: int, n: int) -> np.ndarray:
        v = centres[c] + 0.1 * rng.normal(size=(n, 16))
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    # The text says nothing (identical wording); only the embeddings separate the two kinds,
    # which the fixed blend (a quarter of the weight on the embedding model) cannot know.
    E = np.vstack([near(0, 30), near(1, 30)])
    X = [TagInput(f"Paragraph {i} of the report.", E[i]) for i in range(60)]
    Y = np.array([[1]] * 30 + [[0]] * 30)
    tagger = PassageTagger(labels=("politics",), library_blend_half=100.0)
    assert clone(tagger).fit(X, Y).stackers_ == {}  # nothing reviewed: the fixed blend
    few = clone(tagger).fit(X, Y, reviewed=[i % 6 == 0 for i in range(60)])
    assert few.stackers_ == {}  # 5 of each class reviewed: too few to learn from
    many = clone(tagger).fit(X, Y, reviewed=[True] * 60)
    assert many.stackers_["politics"].share == pytest.approx(60 / 160)
    fixed = PassageTagger(labels=("politics",), library_blend_half=None)
    fixed.fit(X, Y, reviewed=[True] * 60)
    query = [
        TagInput("Paragraph 99 of the report.", v) for v in np.vstack([near(0, 5), near(1, 5)])
    ]
    learnt, blended = many.predict_proba(query)[:, 0], fixed.predict_proba(query)[:, 0]
    # The learnt mix separates the two kinds further than the fixed blend does.
    assert learnt[:5].min() - learnt[5:].max() > blended[:5].min() - blended[5:].max()
    assert many.predict(query)[:, 0].tolist() == [1] * 5 + [0] * 5
    # A text given without its embedding keeps the fixed blend rather than failing.
    bare = [TagInput("Paragraph 99 of the report.")]
    assert np.isfinite(many.predict_proba(bare)).all()


def test_a_passage_scores_as_high_as_its_best_sentence_allows() -> None:
    from nlp.tagger import _Sentences

    S = _Sentences(np.arange(5).reshape(5, 1), np.array([0, 0, 1, 2, 2]), 3)
    part = S.take(np.array([2, 0]))
    assert part.owner.tolist() == [0, 0, 1, 1] and part.matrix[:, 0].tolist() == [3, 4, 0, 1]
    X, Y = toy_data()
    long = " ".join(["Fuel deliveries and road repairs at the logistics base continued."] * 6)
    query = [TagInput(long + " " + ELECTION)]
    with_sentences = PassageTagger(labels=("politics", "wps")).fit(X, Y)
    without = PassageTagger(labels=("politics", "wps"), sentence_weight=0.0).fit(X, Y)
    assert with_sentences.predict_proba(query)[0, 0] > without.predict_proba(query)[0, 0]


def test_train_reports_the_labels_that_learnt_this_librarys_mix(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    lines = [
        {"text": f"In sector {i}, the gender adviser met {i + 3} women candidates.", "a4p": ["wps"]}
        for i in range(30)
    ] + [
        {"text": f"In sector {i}, engineers repaired {i + 3} kilometres of road.", "a4p": []}
        for i in range(30)
    ]
    labels = tmp_path / "reviewed.jsonl"
    labels.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert cli.main(["train", "--labels", str(labels), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    # Only wps has 25 reviewed passages each way; the other areas have no reviewed positive.
    assert "reviews do (weight of that mix): wps 0.23" in out
    manifest = json.loads((data / TAGGER_DIR / "manifest.json").read_text())
    assert manifest["library_mix"] == {"wps": pytest.approx(60 / 260, abs=1e-3)}
