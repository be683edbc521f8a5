"""Do reviews survive an upgrade of the extraction? A library read by an older version is
copied, every passage in it is reviewed (accepted as shown), and its files are ingested again
with this version, which reads them anew because their extraction version is older.

Run, with a library built by an older checkout (here the one before the 2026-11-22 fixes):
    git worktree add /tmp/old 7d00fd2
    (cd /tmp/old && /path/to/.venv/bin/python cli.py ingest corpus/pdf --data-dir /tmp/old-data)
    python benchmarks/upgrade_reviews.py --data-dir /tmp/old-data
Prints how many reviewed texts are unchanged, carried over to a changed passage, or unmatched,
and how many passages of the re-read library show a review.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.datadir import DataDir  # noqa: E402
from index.reviews import review_passage  # noqa: E402
from pipeline import ingest_paths  # noqa: E402
from settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data-dir", type=Path, required=True, help="a library read by an older version"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(args.data_dir, data, ignore=shutil.ignore_patterns(".lock"))
        with DataDir(data, write=True) as dd:
            store = dd.store
            ids = [i for d in store.documents() for i in store.passage_ids(d.id)]
            sources = sorted({d.source_path for d in store.documents()})
            for pid in ids:
                tags = store.tags_for([pid])[pid]
                shown = tags.as_json()
                review_passage(store, pid, **shown, reviewer="benchmark", expected=shown)
            reviewed = len(store.reviewed_items())
        report = ingest_paths([Path(s) for s in sources], Settings.from_env(data_dir=data))
        notes = [n for f in report.files for n in f.notes]
        carried = sum(int(n.split()[0]) for n in notes if "read differently" in n)
        unmatched = sum(int(n.split()[0]) for n in notes if "no longer match" in n)
        with DataDir(data) as dd:
            passages = dd.store.passage_count()
            showing = dd.store.review_progress()[1]
    print(f"files: {dict(Counter(f.status for f in report.files))}")
    print(f"reviewed texts before: {reviewed}")
    print(f"  unchanged by the new reading: {reviewed - carried - unmatched}")
    print(f"  carried over to a changed passage: {carried}")
    print(f"  unmatched (kept for training, reported): {unmatched}")
    print(f"passages after: {passages}, of which showing a review: {showing}")


if __name__ == "__main__":
    main()
