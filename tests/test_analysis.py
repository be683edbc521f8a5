"""Entities from the phrase matchers, sentences only where a paragraph is split (issue 14)."""

from __future__ import annotations

from nlp.analysis import analyse, load_senter


def keys(text: str, label: str) -> list[str]:
    (a,) = analyse([text])
    return [e.key for e in a.entities if e.label == label]


def test_long_form_and_acronym_resolve_to_one_mission() -> None:
    text = "The Standby High Readiness Brigade deployed in 2000; SHIRBRIG later supported UNMIS."
    assert keys(text, "MISSION") == ["SHIRBRIG", "SHIRBRIG", "UNMIS"]


def test_a_long_form_wins_over_the_acronym_inside_it() -> None:
    (a,) = analyse(["Officers of the United Nations Mission in Sudan met."])
    assert [(e.label, e.key, e.text) for e in a.entities] == [
        ("MISSION", "UNMIS", "United Nations Mission in Sudan")
    ]


def test_acronyms_are_case_sensitive() -> None:
    # 'unmis' in lower case is not the mission; the acronym must be written as one.
    assert keys("the unmis file was closed", "MISSION") == []
    assert keys("the UNMIS file was closed", "MISSION") == ["UNMIS"]


def test_countries_come_from_the_places_list_with_adjectives_and_capitals() -> None:
    text = "Haitian police and officials in Phnom Penh met delegates from Bosnia and Herzegovina."
    assert sorted(keys(text, "GPE")) == ["Bosnia and Herzegovina", "Cambodia", "Haiti"]


def test_a_mission_name_is_not_also_a_country() -> None:
    text = "The United Nations Stabilization Mission in Haiti reported."
    assert keys(text, "GPE") == []
    assert keys(text, "MISSION") == ["MINUSTAH"]


def test_sentences_only_for_paragraphs_longer_than_asked() -> None:
    short = "One sentence here. Another one there."
    long = " ".join(["The patrol reached the village at dawn and found it empty."] * 30)
    a_short, a_long = analyse([short, long], sentences_above=100)
    assert a_short.sentences == ()
    assert len(a_long.sentences) == 30
    # The same boundaries as the sentence recogniser gives the paragraph on its own.
    doc = load_senter()(long)
    assert a_long.sentences == tuple((s.start_char, s.end_char) for s in doc.sents)
