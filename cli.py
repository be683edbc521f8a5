"""Command line for the lessons-learned library: a thin shell over `pipeline` and `index`.

Heavy libraries (torch, sentence-transformers, spaCy, faiss) are imported inside the commands
that need them, so `python cli.py --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from errors import LessonsError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _settings(args: argparse.Namespace):  # -> Settings, imported lazily with the rest
    from settings import Settings

    return Settings.from_env(data_dir=getattr(args, "data_dir", None))


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest import discover_pdfs
    from pipeline import FileOutcome, ingest_paths

    settings = _settings(args)
    files, missing = discover_pdfs(args.paths)
    if missing:
        for m in missing:
            print(f"error: no such file or folder: {m}", file=sys.stderr)
        return EXIT_USAGE
    if not files:
        print("error: no PDF files found in the given paths", file=sys.stderr)
        return EXIT_USAGE

    from tqdm import tqdm

    bar = tqdm(total=len(files), unit="file", file=sys.stderr, disable=None, dynamic_ncols=True)

    def progress(outcome: FileOutcome) -> None:
        bar.set_postfix_str(Path(outcome.path).name[:40], refresh=False)
        bar.update(1)

    try:
        report = ingest_paths(
            args.paths, settings, password=args.password, prune=args.prune, progress=progress
        )
    finally:
        bar.close()
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    counts = report.status_counts()
    pages = sum(f.pages for f in report.files if f.status == "ok")
    print(
        f"{len(report.files)} files in {report.seconds:.1f} s: {counts['ok']} ingested, "
        f"{counts['skipped']} unchanged, {counts['failed']} failed"
        + (f"; {pages / report.seconds:.1f} pages/s" if pages and report.seconds else "")
        + (f"; {len(report.pruned)} removed (files gone)" if report.pruned else "")
    )
    for f in report.files:
        if f.status == "failed":
            print(f"  failed  {f.path}: {f.reason}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from index.datadir import DataDir
    from index.search import dense_search

    settings = _settings(args)
    if args.k < 1:
        print("error: --k must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    with DataDir(settings.data_dir) as dd:
        hits = dense_search(dd, args.query, args.k, threads=settings.torch_threads)
    if args.json:
        json.dump([h.to_json() for h in hits], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return EXIT_OK
    if not hits:
        print("No results. Ingest documents first, or try other words.")
        return EXIT_OK
    for h in hits:
        where = f"p. {h.page}" + (f", ¶ {h.paragraph}" if h.paragraph else "")
        print(f"{h.rank:>2}. {h.score:.3f}  {h.title[:70]}  [{h.source}, {where}]")
        print(f"     {h.snippet}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from index.datadir import DataDir

    settings = _settings(args)
    with DataDir(settings.data_dir) as dd:
        counts = dd.store.counts()
        failures = dd.store.failures_by_reason()
        size = dd.size_on_disk()
    print(f"data folder: {settings.data_dir}")
    print(f"documents:   {counts['documents']}")
    print(f"pages:       {counts['pages']}")
    print(f"passages:    {counts['passages']}")
    print(f"entities:    {counts['entities']}")
    print(f"failed files: {sum(failures.values())}")
    for reason, n in sorted(failures.items(), key=lambda kv: -kv[1]):
        print(f"  {reason:<14} {n}")
    print(f"size on disk: {size / 2**20:.1f} MiB")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cli.py",
        description="Lessons-learned retrieval and tagging for peace operations.",
        epilog="Example: python cli.py ingest corpus/pdf && python cli.py search "
        '"SHIRBRIG rapid reaction lessons"',
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_help = "data folder (default: $LESSONS_DATA_DIR or data/)"

    p = sub.add_parser(
        "ingest",
        help="read PDFs into the data folder",
        description="Ingest PDF files and folders (recursively). Unchanged files are skipped; "
        "a file that cannot be read is reported with its reason and the batch goes on.",
        epilog="Example: python cli.py ingest corpus/pdf reports/ --prune",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="PDF files or folders")
    p.add_argument("--data-dir", type=Path, help=data_help)
    p.add_argument("--password", help="password to try on encrypted PDFs")
    p.add_argument(
        "--prune",
        action="store_true",
        help="remove documents whose files under PATH no longer exist",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "search",
        help="search passages",
        description="Search the ingested passages by meaning.",
        epilog='Example: python cli.py search "SHIRBRIG rapid reaction lessons" --k 5',
    )
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--data-dir", type=Path, help=data_help)
    p.add_argument("--k", type=int, default=10, help="number of hits (default 10)")
    p.add_argument("--json", action="store_true", help="print hits as JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "stats",
        help="what the data folder holds",
        description="Documents, pages, passages, failures by reason and size on disk.",
        epilog="Example: python cli.py stats --data-dir data",
    )
    p.add_argument("--data-dir", type=Path, help=data_help)
    p.set_defaults(func=cmd_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except LessonsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:  # bad setting values from the environment
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: everything committed so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
