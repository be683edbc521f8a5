"""Ingest all of ../shared/realdocs (the index benchmarks/search.py then scores).

Run: python benchmarks/ingest_realdocs.py [--data-dir benchmarks/out/realdocs-data] [--reuse]
Prints outcomes by reason, pages/s and the share of time per stage.
Writes benchmarks/out/ingest_realdocs.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import ingest_paths  # noqa: E402
from settings import Settings  # noqa: E402

REALDOCS = ROOT.parent / "shared" / "realdocs"


def resident_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / "out" / "realdocs-data")
    ap.add_argument("--reuse", action="store_true", help="keep an existing data folder")
    ap.add_argument("--no-ocr", action="store_true", help="leave scans unread (as LESSONS_OCR=0)")
    args = ap.parse_args()
    if not REALDOCS.is_dir():
        sys.exit("../shared/realdocs is not present")
    if args.data_dir.exists() and not args.reuse:
        shutil.rmtree(args.data_dir)
    settings = Settings.from_env(data_dir=args.data_dir, ocr=not args.no_ocr)
    result: dict[str, object] = {}

    rss: list[float] = []  # this process's resident memory after each file, MiB

    def sample(_outcome: object) -> None:
        rss.append(resident_mib())

    report = ingest_paths([REALDOCS / "reports", REALDOCS / "budget"], settings, progress=sample)
    ok = [f for f in report.files if f.status == "ok"]
    pages = sum(f.pages for f in ok)
    timed = {k: v for k, v in report.timings.items()}
    total = sum(timed.values()) or 1.0
    result["ingest"] = {
        "files": len(report.files),
        "status": dict(report.status_counts()),
        "failed_by_reason": dict(report.failures_by_reason()),
        "pages_ok": pages,
        "passages": sum(f.passages for f in ok),
        "seconds": round(report.seconds, 1),
        "pages_per_s": round(pages / report.seconds, 2) if report.seconds else None,
        "time_share": {k: round(v / total, 3) for k, v in timed.items()},
        "time_s": {k: round(v, 1) for k, v in timed.items()},
        # Flat memory: the resident size a tenth, half-way and at the end of the batch.
        "rss_mib": {
            f"after {round(100 * f)}% of files": round(rss[max(0, int(f * len(rss)) - 1)])
            for f in (0.1, 0.5, 1.0)
        }
        if rss
        else {},
    }
    print(json.dumps(result["ingest"], indent=2))

    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest_realdocs.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
