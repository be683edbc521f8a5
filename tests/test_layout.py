"""Reading order, running lines and paragraph rebuilding on synthetic positioned text."""

from __future__ import annotations

from ingest.cleanup import (
    build_paragraphs,
    join_lines,
    remove_running_lines,
    resolve_break_hyphens,
)
from ingest.layout import find_gutter, read_page
from ingest.records import Line, PageLayout, Paragraph, Segment


def column_page(left: list[str], right: list[str], title: str | None = None) -> list[Segment]:
    segs = []
    if title:
        segs.append(Segment(60, 50, 540, 64, title))
    for i, text in enumerate(left):
        segs.append(Segment(60, 100 + 14 * i, 290, 110 + 14 * i, text))
    for i, text in enumerate(right):
        segs.append(Segment(310, 100 + 14 * i, 540, 110 + 14 * i, text))
    return segs


def test_two_columns_are_read_left_column_first() -> None:
    left = [f"left line {i} of the first column text" for i in range(8)]
    right = [f"right line {i} of the second column text" for i in range(8)]
    lines, columns = read_page(column_page(left, right, "A title across both columns"), 1)
    texts = [ln.text for ln in lines]
    assert columns == 2
    assert texts[0] == "A title across both columns"
    assert texts[1:9] == left and texts[9:] == right


def test_single_column_is_not_split() -> None:
    segs = [Segment(60, 100 + 14 * i, 540, 110 + 14 * i, f"line {i} " * 8) for i in range(20)]
    assert find_gutter(segs) is None
    assert read_page(segs, 1)[1] == 1


def test_a_table_of_short_cells_is_not_taken_for_columns() -> None:
    segs = []
    for i in range(10):
        segs.append(Segment(60, 100 + 14 * i, 110, 110 + 14 * i, "2019"))
        segs.append(Segment(330, 100 + 14 * i, 360, 110 + 14 * i, "45"))
    assert find_gutter(segs) is None


def test_runs_split_mid_word_are_rejoined_without_space() -> None:
    segs = [
        Segment(60, 100, 120, 110, "peace"),
        Segment(120, 100, 170, 110, "keeping "),
        Segment(170, 100, 220, 110, "works"),
    ]
    lines, _ = read_page(segs, 1)
    assert lines[0].text == "peacekeeping works"


def test_punctuation_in_glyph_sized_boxes_stays_on_its_line() -> None:
    # Geometry as one UN report gives it: the hyphen is a box 0.8 pt high at x-height, the
    # apostrophe 2.6 pt high at cap height, the "s" after it 4.8 pt; the line's words 9.2 pt.
    segs = [
        Segment(123.5, 435.7, 130.4, 442.5, "7. "),
        Segment(147.3, 435.4, 325.7, 444.5, "President responded to the people"),
        Segment(327.7, 435.5, 329.2, 438.2, "\u2019"),
        Segment(330.9, 437.7, 334.0, 442.5, "s"),
        Segment(336.5, 435.4, 380.0, 444.5, "demands in Cap"),
        Segment(381.2, 439.7, 383.7, 440.5, "-"),
        Segment(384.6, 435.4, 487.5, 444.5, "Ha\u00eftien and"),
        Segment(123.5, 447.4, 487.1, 456.5, "the next line of the paragraph"),
    ]
    lines, _ = read_page(segs, 1)
    assert [ln.text for ln in lines] == [
        "7. President responded to the people\u2019s demands in Cap-Ha\u00eftien and",
        "the next line of the paragraph",
    ]


def test_stray_punctuation_lines_are_neither_headings_nor_paragraphs() -> None:
    lines = [
        Line("Political developments", 1, 60, 100, 200, 110),
        Line("-", 1, 300, 120, 302, 121),
        Line("1. The reporting period was calm and the talks went on.", 1, 60, 140, 540, 150),
        Line("I", 1, 60, 180, 64, 190),
        Line("2. Elections were held on time.", 1, 60, 220, 540, 230),
    ]
    paragraphs = build_paragraphs([lines])
    assert [p.text for p in paragraphs if p.kind == "heading"] == ["Political developments"]
    assert all(any(c.isalnum() for c in p.text) for p in paragraphs)
    assert [p.number for p in paragraphs if p.kind == "body"] == [1, None, 2]


def test_hyphenated_words_are_rejoined_but_compounds_kept() -> None:
    assert join_lines("the Franco-", "German brigade") == "the Franco-German brigade"
    # Before a lower-case letter the hyphen is settled once the whole document is read.
    assert join_lines("the peace-", "keeping mission") == "the peace\x03keeping mission"
    assert join_lines("rapid de\x02", "ployment") == "rapid de\x03ployment"


def test_a_line_end_hyphen_follows_the_document_spelling_then_its_habit() -> None:
    def para(text: str, breaks: tuple[tuple[int, int], ...] = ()) -> Paragraph:
        return Paragraph(text, 1, 2 if breaks else 1, None, "body", breaks)

    # A UN report: set without syllable breaks, so its line-end hyphens are compounds' own...
    report = resolve_break_hyphens(
        [
            para("Money\x03laundering and so\x03called self\x03determination cases."),
            para("Peace\x03keeping budgets; peacekeeping is spelled whole here."),
            para("Cases of money laundering were called to the court."),
        ]
    )
    assert [p.text for p in report[:2]] == [
        "Money-laundering and so-called self-determination cases.",
        "Peacekeeping budgets; peacekeeping is spelled whole here.",
    ]
    # ... while a paper that breaks words by syllable has its words made whole, and the page
    # break offset moves back with the removed hyphen.
    text = "The organi\x03zation of the de\x03ployment was an exam\x03ple of bud\x03get work."
    paper = resolve_break_hyphens([para(text, ((60, 2),))])
    assert paper[0].text == "The organization of the deployment was an example of budget work."
    assert paper[0].page_breaks == ((56, 2),)  # four hyphens before it removed


def make_page(number: int, body: list[str], header: str, footer: str) -> PageLayout:
    lines = [Line(header, number, 60, 30, 300, 40)]
    lines += [Line(t, number, 60, 120 + 14 * i, 540, 130 + 14 * i) for i, t in enumerate(body)]
    lines.append(Line(footer, number, 280, 760, 320, 770))
    return PageLayout(number, 612, 792, tuple(lines))


def test_running_headers_page_numbers_and_job_numbers_are_removed() -> None:
    header = "After-action review: MINUSMA convoy protection"
    pages = [
        make_page(n, [f"Body text on page {n} continues here."], header, f"- {n} -")
        for n in range(1, 6)
    ]
    pages[2] = make_page(
        3, ["Body text on page 3 continues here."], "S/2014/162", "14-24888 (E) 280314 *1424888*"
    )
    kept = remove_running_lines(pages)
    texts = [ln.text for page in kept for ln in page]
    assert texts == [f"Body text on page {n} continues here." for n in range(1, 6)]


def test_paragraph_numbers_are_kept_and_paragraphs_cross_pages() -> None:
    p1 = [
        Line("II. Security situation", 1, 60, 100, 200, 110),
        Line("12. The mission deployed a quick reaction force to the", 1, 60, 130, 540, 140),
        Line("north, where armed groups had attacked the camp and", 1, 60, 144, 540, 154),
    ]
    p2 = [
        Line("displaced civilians sought refuge at the base.", 2, 60, 100, 400, 110),
        Line("13. Patrols were increased.", 2, 60, 130, 300, 140),
    ]
    paras = build_paragraphs([p1, p2])
    assert [(p.kind, p.number, p.page, p.page_end) for p in paras] == [
        ("heading", None, 1, 1),
        ("body", 12, 1, 2),
        ("body", 13, 2, 2),
    ]
    assert paras[1].text.startswith("The mission deployed")
    assert paras[1].text.endswith("sought refuge at the base.")
    assert paras[1].page_at(len(paras[1].text) - 3) == 2


def test_a_sentence_cut_by_a_page_break_is_one_paragraph_even_before_a_capital() -> None:
    def line(text: str, page: int, top: float, x1: float = 540) -> Line:
        return Line(text, page, 60, top, x1, top + 10, 0, 60, 540)

    page1 = [line("16. The General Assembly of the organization instructed its Permanent", 1, 100)]
    page2 = [
        line("Council to undertake the review, which it completed in May.", 2, 100, 400),
        line("17. The second paragraph ends the body of the report.", 2, 120, 400),
        line("Annex II", 2, 150, 110),
    ]
    # Heading at the foot of a page, numbered paragraph at the head of the next.
    page3 = [line("18. During the period, advisers worked with every station.", 3, 100, 400)]
    foot = [
        line("16. The mission kept its patrols in every region and its bases", 1, 100),
        line("open through the rainy season.", 1, 114, 300),
        line("Advising", 1, 140, 110),
    ]
    paragraphs = build_paragraphs([page1, page2[:2]])
    assert [(p.number, p.text) for p in paragraphs] == [
        (
            16,
            "The General Assembly of the organization instructed its Permanent Council to "
            "undertake the review, which it completed in May.",
        ),
        (17, "The second paragraph ends the body of the report."),
    ]
    full_before_annex = [line("Total resources for the period under the programme", 1, 700)]
    paragraphs = build_paragraphs([full_before_annex, page2[2:]])
    assert [p.text for p in paragraphs] == [full_before_annex[0].text, "Annex II"]
    paragraphs = build_paragraphs([foot, page3])
    assert [(p.kind, p.number) for p in paragraphs] == [
        ("body", 16),
        ("heading", None),
        ("body", 18),
    ]


def test_a_section_title_that_wraps_is_still_a_heading() -> None:
    def line(text: str, top: float, x1: float) -> Line:
        return Line(text, 1, 60, top, x1, top + 10, 0, 60, 540)

    lines = [
        line("VII. Update and activities on humanitarian and development needs in the", 100, 530),
        line("south-east", 114, 130),
        line("31. Relief convoys reached every commune in the department.", 142, 500),
    ]
    paragraphs = build_paragraphs([lines])
    assert [(p.kind, p.number) for p in paragraphs] == [("heading", None), ("body", 31)]


def test_a_full_width_title_alone_in_its_band_does_not_run_into_the_text() -> None:
    # The title's band holds only the title, so its column is exactly as wide as it is.
    title = Line("Information Exchange Between the UN and the EU", 1, 60, 60, 489, 75, 0, 60, 489)
    text = "Communications was one of the four areas of cooperation set out in"
    body = [
        Line(text, 1, 60, 100, 535, 110, 0, 60, 535),
        Line("the declaration of 2003.", 1, 60, 113, 200, 123, 0, 60, 535),
    ]
    paragraphs = build_paragraphs([[title, *body]])
    assert [(p.kind, p.text[:20]) for p in paragraphs] == [
        ("heading", "Information Exchange"),
        ("body", "Communications was o"),
    ]
