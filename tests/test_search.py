"""Hybrid search on the demo corpus: filters inside retrieval, query understanding, snippets,
more-like-this, near-duplicate folding, the keyword-index artifact and `cli.py eval`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cli
from errors import SearchError
from index.datadir import DataDir
from index.engine import keyword
from index.filters import Filters
from index.search import Searcher
from nlp.doctypes import classify_doc_type
from nlp.query import parse_query
from pipeline import ingest_paths
from settings import Settings


@pytest.fixture(scope="module")
def searcher(demo_dir: Path) -> Searcher:
    return Searcher(DataDir(demo_dir))


# -- query understanding -------------------------------------------------------------------
def test_acronyms_and_long_forms_expand_both_ways() -> None:
    assert "sexual and gender-based violence" in parse_query("SGBV in IDP camps").expansions
    assert "SHIRBRIG" in parse_query("Standby High Readiness Brigade lessons").expansions
    assert "Standby High Readiness Brigade" in parse_query("SHIRBRIG lessons").expansions
    # nothing is added that the query already says, and lower-case words are not acronyms
    assert parse_query("DDR (disarmament, demobilization and reintegration)").expansions == ()
    assert parse_query("the sea route").expansions == ()


def test_places_and_periods_are_recognised() -> None:
    q = parse_query("DDR lessons Haiti")
    assert q.countries == ("Haiti",) and q.years is None
    q = parse_query("how did MINUSTAH respond after the 2010 earthquake?")
    assert q.missions == ("MINUSTAH",) and "Haiti" in q.countries and q.years == (2010, 2010)
    assert parse_query("Kosovo Serb returns, 2003-2008").years == (2003, 2008)
    assert parse_query("Bosnian police reform 1996-99").years == (1996, 1999)
    assert parse_query("Bosnian police").countries == ("Bosnia and Herzegovina",)


def test_filters_parse_and_reject_clearly() -> None:
    f = Filters.parse(
        ["a4p=protection,wps", "mission=minusma", "year=2004-2010", "type=policy-brief"]
    )
    assert f.a4p == ("protection", "wps") and f.missions == ("MINUSMA",)
    assert (f.year_from, f.year_to) == (2004, 2010) and f.doc_types == ("policy-brief",)
    assert Filters.parse(["year=2005"]).year_to == 2005
    for bad in (["colour=red"], ["a4p=cooking"], ["year=soon"], ["type=novel"], ["a4p"]):
        with pytest.raises(SearchError):
            Filters.parse(bad)


def test_document_types() -> None:
    assert classify_doc_type("X", None, "Title\nType: After-action review\nDate: 1 May 2001") == (
        "after-action-review"
    )
    assert classify_doc_type("Budget for MINUSCA", "A/80/123", "") == "budget"
    assert classify_doc_type("Report of the Secretary-General on Haiti", "S/2010/200", "") == (
        "sg-report"
    )


# -- ranking and grouping ------------------------------------------------------------------
def test_shirbrig_document_first_with_cited_passage(searcher: Searcher) -> None:
    res = searcher.search("SHIRBRIG rapid reaction lessons")
    assert "shirbrig" in res.documents[0].source
    top = res.documents[0].passages[0]
    assert top.page >= 1 and top.citation.startswith("p")
    assert [d.rank for d in res.documents] == list(range(1, len(res.documents) + 1))
    assert all(len(d.passages) <= 3 for d in res.documents)
    # the query's words are marked in the snippet, on word boundaries
    marked = [top.snippet[s:e].lower() for s, e in top.highlights]
    assert any(m in ("shirbrig", "standby high readiness brigade") for m in marked)


def test_glossary_finds_the_long_form(searcher: Searcher) -> None:
    res = searcher.search("SEA prevention", k=5)
    assert any("zero-tolerance" in d.source or "conduct" in d.source for d in res.documents[:3])


def test_filters_apply_inside_retrieval(searcher: Searcher) -> None:
    aar = Filters.parse(["type=after-action-review"])
    res = searcher.search("lessons", filters=aar, k=10)
    # every after-action review can be found, and nothing else: the page is not emptied by
    # dropping hits after a top-k cut
    expected = sum(
        1 for d in searcher.catalog.documents.values() if d.doc_type == "after-action-review"
    )
    assert expected >= 3 and len(res.documents) == expected
    assert {d.doc_type for d in res.documents} == {"after-action-review"}

    res = searcher.search("protection of civilians", filters=Filters.parse(["a4p=conduct"]))
    assert res.passages and all("conduct" in h.a4p for h in res.passages)

    res = searcher.search("peacekeeping", filters=Filters.parse(["year=2009-2014"]), k=20)
    years = {int(d.date[:4]) for d in res.documents if d.date}
    assert years and years <= set(range(2009, 2015))

    res = searcher.search("convoys", filters=Filters.parse(["mission=MINUSMA"]))
    assert res.documents and all("MINUSMA" in d.missions for d in res.documents)


def test_facets_count_documents(searcher: Searcher) -> None:
    facets = searcher.facets()
    assert sum(facets["doc_types"].values()) == len(searcher.catalog.documents)
    assert facets["missions"].get("SHIRBRIG", 0) >= 3
    res = searcher.search("SHIRBRIG")
    assert set(res.facets) == {
        "a4p",
        "pillars",
        "missions",
        "organisations",
        "countries",
        "years",
        "doc_types",
    }


def test_tag_facets_count_the_documents_a_tag_filter_keeps(searcher: Searcher) -> None:
    """A tag filter keeps tagged passages, so a document counts for a tag when one of its
    passages carries it (its own tags need a third of them); clicking a facet must give the
    number it showed."""
    query = "lessons for peace operations"
    res = searcher.search(query, k=100)
    assert len(res.facets["a4p"]) >= 4
    for label, count in res.facets["a4p"].items():
        kept = searcher.search(query, filters=Filters.parse([f"a4p={label}"]), k=100)
        assert kept.total_documents == count, label
    library = searcher.facets()
    docs = searcher.catalog.documents.values()
    for label, count in library["pillars"].items():
        assert count == sum(label in d.passage_pillars for d in docs), label
    narrowed = searcher.facets(Filters.parse(["pillar=training"]))
    assert sum(narrowed["doc_types"].values()) == library["pillars"]["training"]


def test_passages_mode_and_single_retrievers(searcher: Searcher) -> None:
    for mode in ("hybrid", "bm25", "dense"):
        res = searcher.search("casualty evacuation golden hour", mode=mode, k=5)
        assert res.passages and res.documents, mode
        assert res.passages[0].scores.keys() == {"keyword", "dense", "fused"}
    with pytest.raises(SearchError):
        searcher.search("x", mode="magic")
    with pytest.raises(SearchError):
        searcher.search("   ")


def test_more_like_this_excludes_its_source(searcher: Searcher) -> None:
    first = searcher.search("SHIRBRIG planning element").documents[0]
    pid = first.passages[0].passage_id
    like = searcher.more_like_this(passage_id=pid, k=5)
    assert pid not in {h.passage_id for h in like.passages}
    assert any("shirbrig" in d.source for d in like.documents[:3])
    like_doc = searcher.more_like_this(doc_id=first.doc_id, k=5)
    assert first.doc_id not in {d.doc_id for d in like_doc.documents}
    with pytest.raises(SearchError):
        searcher.more_like_this(passage_id=10**9)


# -- near-duplicates -----------------------------------------------------------------------
SHARED = (
    "The mission established a joint protection team that visited each displacement site weekly, "
    "recorded the concerns of women and elders, and reported threats to the force commander "
    "within twenty-four hours, so that patrols could be adjusted before the next market day. "
)


def _pdf(path: Path, title: str, body: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for para in body:
        pdf.multi_cell(0, 6, para, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(path))


def test_copied_paragraph_takes_one_slot(tmp_path: Path) -> None:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    topics = ["fuel supply contracts", "radio maintenance", "airfield lighting"]
    for i, topic in enumerate(topics):
        own = (
            f"This report on {topic} describes how the logistics section planned its work "
            f"for the quarter and what it learned about {topic} in a remote sector. "
        ) * 3
        _pdf(folder / f"report-{i}.pdf", f"Quarterly report {i} on {topic}", [own, SHARED * 2])
    data = tmp_path / "data"
    report = ingest_paths([folder], Settings.from_env(data_dir=data))
    assert report.status_counts()["ok"] == 3
    with DataDir(data) as dd:
        res = Searcher(dd).search("joint protection team displacement site weekly", k=5)
    copies = [h for h in res.passages if "joint protection team" in h.snippet]
    assert len(copies) == 1, "a copied paragraph must take one slot"
    assert len(copies[0].also_in) == 2


# -- the keyword index artifact -------------------------------------------------------------
def test_keyword_index_is_versioned_and_rebuilt_when_stale(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    with DataDir(data, write=True) as dd:
        gen = dd.store.generation
        folder = data / keyword.KEYWORD_DIR / f"g{gen}"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert (
            manifest["generation"] == gen and manifest["format_version"] == keyword.KEYWORD_FORMAT
        )
        (data / keyword.KEYWORD_DIR / "g999.part").mkdir()  # a crash's leftover
        shutil.rmtree(folder)
        assert len(dd.engine.keyword_top("protection of civilians", 5).ids) == 5
        # missing: rebuilt from the library and saved
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["passages"] == dd.store.counts()["passages"]
        assert not (data / keyword.KEYWORD_DIR / "g999.part").exists()


# -- command line --------------------------------------------------------------------------
def test_cli_search_filters_explain_and_passages(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            [
                "search",
                "convoy",
                "--filter",
                "mission=MINUSMA",
                "--explain",
                "--data-dir",
                str(demo_dir),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "keyword" in out and "fused" in out and "minusma" in out.lower()
    assert (
        cli.main(
            ["search", "convoy", "--passages", "--json", "--k", "4", "--data-dir", str(demo_dir)]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and all("citation" in r for r in rows)
    assert cli.main(["search", "x", "--filter", "a4p=cooking", "--data-dir", str(demo_dir)]) == 1
    assert "unknown a4p label" in capsys.readouterr().err


def test_cli_eval_reports_three_systems_and_latency(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"qid": "q1", "query": "SHIRBRIG rapid reaction lessons", "kind": "topic"}\n'
        '{"qid": "q2", "query": "zero tolerance sexual exploitation", "kind": "topic"}\n'
    )
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text(
        "q1 0 03-shirbrig-closure-lessons 2\nq1 0 01-shirbrig-standby-concept 1\n"
        "q2 0 33-zero-tolerance-policy-brief 2\n"
    )
    code = cli.main(
        [
            "eval",
            "--queries",
            str(queries),
            "--qrels",
            str(qrels),
            "--json",
            "--data-dir",
            str(demo_dir),
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and set(report) == {"system", "bm25", "dense", "latency_ms"}
    assert report["system"]["ndcg@10"] > 0.5 and report["system"]["queries"] == 2
    assert report["latency_ms"]["p95"] >= report["latency_ms"]["p50"] > 0
