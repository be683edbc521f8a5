"""Do two versions of the code rank the same? Run every realdocs query in every mode through this
checkout and another one (e.g. `git worktree add /tmp/before <commit>`), each on its own copy of
one data folder, and report the runs that differ.

Run: python benchmarks/compare_runs.py --other /tmp/before [--data-dir benchmarks/out/realdocs-data]

A run is a query in one mode (hybrid, bm25, dense): its top 10 documents with their scores
(three decimals) and shown passages, and its flat list of passages. Each side runs in its own
process with its own code on the path. Prints the number of runs and of differing runs; exits
1 when any differ.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REALDOCS = ROOT.parent / "shared" / "realdocs"

# What each side runs: only the public search surface both versions share.
RUNNER = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from index.datadir import DataDir
from index.evaluation import load_queries
from index.search import Searcher
out = {}
if hasattr(DataDir, "upgrade"):  # versions with recorded migrations open old folders so
    DataDir.upgrade(sys.argv[2])
with DataDir(sys.argv[2]) as dd:
    searcher = Searcher(dd)
    for q in load_queries(Path(sys.argv[3])):
        for mode in ("hybrid", "bm25", "dense"):
            r = searcher.search(q.text, k=10, mode=mode)
            docs = [[d.doc_id, round(d.score, 3), [p.passage_id for p in d.passages]]
                    for d in r.documents]
            out[q.qid + ":" + mode] = [docs, [h.passage_id for h in r.passages]]
json.dump(out, open(sys.argv[4], "w"))
"""


def run(code: Path, data: Path, queries: Path, out: Path) -> dict[str, object]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-c", RUNNER, str(code), str(data), str(queries), str(out)],
        check=True,
        env=env,
        cwd=code,
    )
    return dict(json.loads(out.read_text()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--other", type=Path, required=True, help="another checkout of the project")
    ap.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / "out" / "realdocs-data")
    args = ap.parse_args()
    queries = REALDOCS / "queries.jsonl"
    if not queries.exists():
        sys.exit("../shared/realdocs is not present")
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for side, code in (("other", args.other.resolve()), ("this", ROOT)):
            copy = Path(tmp) / side  # each side may upgrade or rebuild its copy
            shutil.copytree(args.data_dir, copy, ignore=shutil.ignore_patterns(".lock"))
            results.append(run(code, copy, queries, Path(tmp) / f"{side}.json"))
    other, this = results
    differ = sorted(k for k in other if other[k] != this.get(k))
    print(f"{len(other)} runs, {len(differ)} differ")
    for key in differ[:20]:
        print(f"  {key}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
