"""The leak test on ../shared/realdocs (slow: `make test-all`): a third of the documents
confidential, every ninth strictly confidential for a group; for every realdocs query with random
filters and modes (hypothesis), nothing above a user's access appears, and what they may see
still does. Needs an ingested realdocs folder: benchmarks/out/realdocs-data (made by
`python benchmarks/ingest_realdocs.py`) or $LESSONS_REALDOCS_DATA."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.access import OPERATOR, Access
from index.classification import set_document_access
from index.datadir import DataDir
from index.evaluation import load_queries
from index.filters import Filters
from index.search import Searcher
from tests.conftest import ROOT, SHARED
from tests.test_access import assert_only

pytestmark = pytest.mark.slow

FOLDER = Path(os.environ.get("LESSONS_REALDOCS_DATA", ROOT / "benchmarks/out/realdocs-data"))
USERS = (
    Access("u", frozenset({"officer"}), "unclassified"),
    Access("c", frozenset({"officer"}), "confidential"),
    Access("s", frozenset({"officer"}), "strictly_confidential"),
    Access("m", frozenset({"officer"}), "strictly_confidential", frozenset({"MINUSMA"})),
)


@pytest.fixture(scope="module")
def realdocs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not (FOLDER / "lessons.db").exists() or not SHARED.is_dir():
        pytest.skip("no ingested realdocs folder (python benchmarks/ingest_realdocs.py)")
    data = tmp_path_factory.mktemp("realdocs") / "data"
    shutil.copytree(FOLDER, data, ignore=shutil.ignore_patterns(".lock"))
    DataDir.upgrade(data)
    with DataDir(data, write=True) as dd:
        for n, doc in enumerate(dd.store.documents()):
            if n % 9 == 0:
                set_document_access(
                    dd.store, doc.id, level="strictly_confidential", groups=["MINUSMA"]
                )
            elif n % 3 == 0:
                set_document_access(dd.store, doc.id, level="confidential")
    dd = DataDir(data)
    yield dd, Searcher(dd), load_queries(SHARED / "realdocs" / "queries.jsonl")
    dd.close()


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    user=st.sampled_from(USERS),
    n=st.integers(min_value=0, max_value=10_000),
    mode=st.sampled_from(["hybrid", "bm25", "dense"]),
    a4p=st.lists(st.sampled_from(["protection", "wps", "politics", "peacebuilding"]), max_size=2),
    years=st.one_of(st.none(), st.sampled_from(["2000-2010", "2010-2025", "2015-"])),
    mission=st.one_of(st.none(), st.sampled_from(["MINUSMA", "UNMISS", "MONUSCO", "MINUSTAH"])),
)
def test_no_leak_on_realdocs(realdocs, user, n, mode, a4p, years, mission) -> None:  # type: ignore[no-untyped-def]
    dd, searcher, queries = realdocs
    query = queries[n % len(queries)].text
    allowed = {d.id for d in dd.store.documents() if user.may_see(d.classification, d.groups)}
    items = [f"a4p={','.join(a4p)}"] if a4p else []
    items += [f"year={years}"] if years else []
    items += [f"mission={mission}"] if mission else []
    filters = Filters.parse(items)
    res = searcher.search(query, filters=filters, k=10, mode=mode, access=user)
    assert_only(res, allowed)
    full = searcher.search(query, filters=filters, k=40, mode=mode, access=OPERATOR)
    best = [d.doc_id for d in full.documents if d.doc_id in allowed][:1]
    assert not best or best[0] in {d.doc_id for d in res.documents}
