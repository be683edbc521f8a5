"""Passages follow paragraph and sentence boundaries and remember their pages."""

from __future__ import annotations

from ingest.records import Paragraph
from nlp.passages import build_passages


def sentences_of(text: str) -> tuple[tuple[int, int], ...]:
    spans, start = [], 0
    for i, ch in enumerate(text):
        if ch == "." and (i + 1 == len(text) or text[i + 1] == " "):
            spans.append((start, i + 1))
            start = i + 2
    return tuple(spans)


def para(words: int, page: int = 1, number: int | None = None, word: str = "word") -> Paragraph:
    sentence = " ".join([word] * 9) + " end."
    text = " ".join([sentence] * (words // 10))
    return Paragraph(text, page, page, number)


def test_short_paragraphs_are_merged_up_to_the_minimum() -> None:
    paras = [para(40, number=i + 1) for i in range(4)]
    passages = build_passages(paras, [sentences_of(p.text) for p in paras], 80, 250)
    assert [p.word_count for p in passages] == [80, 80]
    assert (passages[0].para_start, passages[0].para_end) == (1, 2)


def test_long_paragraph_is_split_at_sentences_within_the_maximum() -> None:
    paras = [para(600, page=3, number=7)]
    passages = build_passages(paras, [sentences_of(paras[0].text)], 80, 250)
    assert len(passages) == 3
    assert all(80 <= p.word_count <= 250 for p in passages)
    assert all(p.text.endswith("end.") for p in passages)
    assert {(p.page_start, p.para_start) for p in passages} == {(3, 7)}


def test_headings_become_context_not_text() -> None:
    paras = [Paragraph("Lessons on rapid deployment", 2, 2, None, "heading"), para(120, page=2)]
    passages = build_passages(paras, [(), sentences_of(paras[1].text)], 80, 250)
    assert len(passages) == 1
    assert passages[0].heading == "Lessons on rapid deployment"
    assert "Lessons on rapid" not in passages[0].text


def test_page_of_a_passage_follows_page_breaks_inside_a_paragraph() -> None:
    text = "First page words here. " * 20 + "Second page words here. " * 20
    cut = len("First page words here. " * 20)
    p = Paragraph(text.strip(), 4, 5, 9, "body", ((cut, 5),))
    passages = build_passages([p], [sentences_of(p.text)], 40, 90)
    assert passages[0].page_start == 4 and passages[-1].page_end == 5
