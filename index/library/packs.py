"""Briefing packs: named, ordered selections of passages with notes, kept in `lessons.db`.

Each item keeps a snapshot of its passage: the text and its citation (title, symbol, date, file,
pages, paragraphs) and its tags when added, so a pack reopens as it was left even after its
document was ingested again or removed. While the library still holds the text (by text key,
whichever passage now holds it) the item links to that passage and groups by its current tags,
so a reviewer's correction shows in packs too; once it is gone the item says "source removed"
and keeps its snapshot. Every change is one transaction and touches the pack's `updated_at`.

    pack = create_pack(dd.store, "Rapid deployment lessons", intro="For the AU liaison office.")
    add_passage(dd.store, pack.id, hit.passage_id, note="Why SHIRBRIG was disbanded")
    set_grouping(dd.store, pack.id, "a4p")
    pack = get_pack(dd.store, pack.id)
    for group in pack.groups(): ...
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence

from errors import DuplicateItem, PackError, PermissionDenied
from index.access import OPERATOR, PUBLIC, Access
from index.library.pack_records import AddReport, Pack, PackItem, PackSummary
from index.library.records import utc_now
from index.library.store import Store

GROUPINGS = ("none", "a4p", "pillars")
MAX_NAME = 200


# -- packs --------------------------------------------------------------------------------------
def _clean_name(name: str) -> str:
    clean = " ".join((name or "").split())
    if not clean:
        raise PackError("a pack needs a name")
    if len(clean) > MAX_NAME:
        raise PackError(f"a pack name has at most {MAX_NAME} characters")
    return clean


def _name_taken(name: str) -> PackError:
    return PackError(f'a pack named "{name}" already exists; choose another name')


def create_pack(
    store: Store, name: str, *, intro: str = "", grouping: str = "none", by: Access = OPERATOR
) -> Pack:
    """A new, empty pack owned by `by`. Names are unique, ignoring case and repeated spaces."""
    by.require("officer", "making briefing packs")
    clean = _clean_name(name)
    _check_grouping(grouping)
    now = utc_now()
    try:
        with store.transaction() as c:
            cur = c.execute(
                "INSERT INTO packs(name, intro, grouping, created_at, updated_at, owner)"
                " VALUES (?,?,?,?,?,?)",
                (clean, intro or "", grouping, now, now, by.username),
            )
    except sqlite3.IntegrityError:
        raise _name_taken(clean) from None
    return get_pack(store, int(cur.lastrowid or 0), access=by)


def rename_pack(store: Store, pack_id: int, name: str, *, by: Access = OPERATOR) -> Pack:
    clean = _clean_name(name)
    try:
        with store.transaction() as c:
            _require(c, pack_id, by)
            c.execute(
                "UPDATE packs SET name = ?, updated_at = ? WHERE id = ?",
                (clean, utc_now(), pack_id),
            )
    except sqlite3.IntegrityError:
        raise _name_taken(clean) from None
    return get_pack(store, pack_id, access=by)


def duplicate_pack(
    store: Store, pack_id: int, name: str | None = None, *, by: Access = OPERATOR
) -> Pack:
    """A copy with its intro, grouping, items, notes and order, owned by `by`; named
    "NAME (copy)", "NAME (copy 2)"... unless `name` is given. Items `by` may not see are not
    copied."""
    by.require("officer", "making briefing packs")
    source = get_pack(store, pack_id, access=by)
    with store.transaction() as c:
        src = _require(c, pack_id, by, owner_only=False)
        if name is None:
            taken = {r[0].lower() for r in c.execute("SELECT name FROM packs")}
            n, clean = 1, f"{src['name']} (copy)"
            while clean.lower() in taken:
                n += 1
                clean = f"{src['name']} (copy {n})"
        else:
            clean = _clean_name(name)
        now = utc_now()
        try:
            cur = c.execute(
                "INSERT INTO packs(name, intro, grouping, created_at, updated_at, owner)"
                " VALUES (?,?,?,?,?,?)",
                (clean, src["intro"], src["grouping"], now, now, by.username),
            )
        except sqlite3.IntegrityError:
            raise _name_taken(clean) from None
        new_id = int(cur.lastrowid or 0)
        cols = (
            "position, passage_id, text_key, note, text, heading, doc_sha256, title, symbol,"
            " doc_date, file_name, page_start, page_end, para_start, para_end, a4p, pillars,"
            " added_at, classification, doc_groups"
        )
        shown = [item.id for item in source.items]
        c.execute(
            f"INSERT INTO pack_items(pack_id, {cols}) SELECT ?, {cols} FROM pack_items"
            " WHERE pack_id = ? AND id IN (SELECT value FROM json_each(?)) ORDER BY position",
            (new_id, pack_id, json.dumps(shown)),
        )
    return get_pack(store, new_id, access=by)


def delete_pack(store: Store, pack_id: int, *, by: Access = OPERATOR) -> None:
    with store.transaction() as c:
        _require(c, pack_id, by)
        c.execute("DELETE FROM packs WHERE id = ?", (pack_id,))


def set_intro(store: Store, pack_id: int, intro: str, *, by: Access = OPERATOR) -> Pack:
    with store.transaction() as c:
        _require(c, pack_id, by)
        c.execute(
            "UPDATE packs SET intro = ?, updated_at = ? WHERE id = ?",
            (intro or "", utc_now(), pack_id),
        )
    return get_pack(store, pack_id, access=by)


def _check_grouping(grouping: str) -> None:
    if grouping not in GROUPINGS:
        raise PackError(f"unknown grouping {grouping!r}: use one of {', '.join(GROUPINGS)}")


def set_grouping(store: Store, pack_id: int, grouping: str, *, by: Access = OPERATOR) -> Pack:
    """Group the pack's items by A4P area ("a4p"), by pillar ("pillars") or not ("none")."""
    _check_grouping(grouping)
    with store.transaction() as c:
        _require(c, pack_id, by)
        c.execute(
            "UPDATE packs SET grouping = ?, updated_at = ? WHERE id = ?",
            (grouping, utc_now(), pack_id),
        )
    return get_pack(store, pack_id, access=by)


def _may_open(row: sqlite3.Row, shares: set[str], access: Access) -> bool:
    """Owner, shared with them or with everyone, or made by the operator's tools."""
    if access.full or row["owner"] is None or row["shared_with_all"]:
        return True
    return access.username is not None and (
        row["owner"].lower() == access.username.lower() or access.username.lower() in shares
    )


def _shares(c: sqlite3.Connection, pack_id: int) -> set[str]:
    return {
        r[0].lower()
        for r in c.execute("SELECT username FROM pack_shares WHERE pack_id = ?", (pack_id,))
    }


def list_packs(store: Store, access: Access = PUBLIC) -> list[PackSummary]:
    """The packs `access` may open, with the number of items they may see, the most recently
    changed first."""
    rows = store.conn.execute("SELECT * FROM packs ORDER BY updated_at DESC, id DESC").fetchall()
    out = []
    for r in rows:
        shares = _shares(store.conn, r["id"])
        if not _may_open(r, shares, access):
            continue
        items = _items(store.conn, _item_rows(store.conn, r["id"]))
        seen = sum(1 for i in items if access.may_see(i.classification, i.groups))
        out.append(
            PackSummary(
                r["id"],
                r["name"],
                seen,
                r["grouping"],
                r["created_at"],
                r["updated_at"],
                r["owner"],
                bool(r["shared_with_all"] or shares),
            )
        )
    return out


def find_pack(store: Store, name: str, access: Access = PUBLIC) -> Pack:
    """The pack of that name (ignoring case and repeated spaces) that `access` may open."""
    row = store.conn.execute(
        "SELECT id FROM packs WHERE name = ?", (" ".join((name or "").split()),)
    ).fetchone()
    try:
        if row is None:
            raise PackError("")
        return get_pack(store, int(row[0]), access=access)
    except PackError:
        known = ", ".join(f'"{p.name}"' for p in list_packs(store, access)) or "none yet"
        raise PackError(f'no pack named "{name}" (packs: {known})') from None


def _item_rows(c: sqlite3.Connection, pack_id: int) -> list[sqlite3.Row]:
    return c.execute(
        "SELECT * FROM pack_items WHERE pack_id = ? ORDER BY position, id", (pack_id,)
    ).fetchall()


def get_pack(store: Store, pack_id: int, access: Access = PUBLIC) -> Pack:
    """A pack as `access` sees it: only the items they may see, and how many are hidden. A
    pack they may not open is not found."""
    row = store.conn.execute("SELECT * FROM packs WHERE id = ?", (pack_id,)).fetchone()
    shares = set() if row is None else _shares(store.conn, pack_id)
    if row is None or not _may_open(row, shares, access):
        raise PackError(f"no pack with id {pack_id} (it may have been deleted)")
    items = _items(store.conn, _item_rows(store.conn, pack_id))
    shown = [i for i in items if access.may_see(i.classification, i.groups)]
    return Pack(
        row["id"],
        row["name"],
        row["intro"],
        row["grouping"],
        row["created_at"],
        row["updated_at"],
        tuple(shown),
        row["owner"],
        bool(row["shared_with_all"]),
        tuple(sorted(shares)),
        len(items) - len(shown),
    )


def share_pack(
    store: Store,
    pack_id: int,
    *,
    users: Iterable[str] = (),
    everyone: bool | None = None,
    by: Access = OPERATOR,
) -> Pack:
    """Share a pack with these users (replacing the list) and/or everyone. Needs the liaison
    role and the pack's ownership. Each viewer sees only the excerpts they may see."""
    by.require("liaison", "sharing briefing packs")
    names = sorted({u.strip() for u in users if u.strip()})
    with store.transaction() as c:
        _require(c, pack_id, by)
        unknown = [u for u in names if store.user(u) is None]
        if unknown:
            raise PackError(f"no account named {unknown[0]!r}")
        c.execute("DELETE FROM pack_shares WHERE pack_id = ?", (pack_id,))
        c.executemany(
            "INSERT INTO pack_shares(pack_id, username) VALUES (?, ?)",
            [(pack_id, u) for u in names],
        )
        if everyone is not None:
            c.execute("UPDATE packs SET shared_with_all = ? WHERE id = ?", (int(everyone), pack_id))
        _touch(c, pack_id)
    return get_pack(store, pack_id, access=by)


# -- items --------------------------------------------------------------------------------------
def add_passage(
    store: Store,
    pack_id: int,
    passage_id: int,
    *,
    note: str = "",
    position: int | None = None,
    by: Access = OPERATOR,
) -> PackItem:
    """Add a passage (at the end, or at `position`). `DuplicateItem` when its text is
    already in the pack."""
    report = add_passages(store, pack_id, [passage_id], note=note, position=position, by=by)
    if not report.added:
        raise DuplicateItem(f"passage {passage_id} is already in this pack")
    return report.added[0]


def add_passages(
    store: Store,
    pack_id: int,
    passage_ids: Iterable[int],
    *,
    note: str = "",
    position: int | None = None,
    by: Access = OPERATOR,
) -> AddReport:
    """Add several passages in the order given (e.g. a search's hits, or passages picked from
    one document), in one transaction; those already in the pack are skipped and reported."""
    ids = list(dict.fromkeys(passage_ids))
    added: list[int] = []
    skipped: list[int] = []
    with store.transaction() as c:
        _require(c, pack_id, by)
        keys = {
            r[0] for r in c.execute("SELECT text_key FROM pack_items WHERE pack_id = ?", (pack_id,))
        }
        for pid in ids:
            row = c.execute(
                "SELECT p.*, d.title, d.symbol, d.doc_date, d.file_name, d.sha256,"
                " d.classification FROM passages p JOIN documents d ON d.id = p.doc_id"
                " WHERE p.id = ?",
                (pid,),
            ).fetchone()
            doc_groups = [] if row is None else _doc_groups(c, int(row["doc_id"]))
            if row is None or not by.may_see(row["classification"], doc_groups):
                raise PackError(f"passage {pid} is no longer in the library; search again")
            if row["text_key"] in keys:
                skipped.append(pid)
                continue
            keys.add(row["text_key"])
            tags = _current_tags(c, pid)
            cur = c.execute(
                "INSERT INTO pack_items(pack_id, position, passage_id, text_key, note, text,"
                " heading, doc_sha256, title, symbol, doc_date, file_name, page_start, page_end,"
                " para_start, para_end, a4p, pillars, added_at, classification, doc_groups)"
                " VALUES (?, (SELECT COALESCE(MAX(position), -1) + 1 FROM pack_items"
                " WHERE pack_id = ?), ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    pack_id,
                    pack_id,
                    pid,
                    row["text_key"],
                    note or "",
                    row["text"],
                    row["heading"],
                    row["sha256"],
                    row["title"],
                    row["symbol"],
                    row["doc_date"],
                    row["file_name"],
                    row["page_start"],
                    row["page_end"],
                    row["para_start"],
                    row["para_end"],
                    json.dumps(tags["a4p"]),
                    json.dumps(tags["pillars"]),
                    utc_now(),
                    row["classification"],
                    json.dumps(doc_groups),
                ),
            )
            added.append(int(cur.lastrowid or 0))
        if position is not None and added:
            order = _order(c, pack_id)
            rest = [i for i in order if i not in added]
            at = max(0, min(position, len(rest)))
            _renumber(c, rest[:at] + added + rest[at:])
        _touch(c, pack_id)
    items = {item.id: item for item in get_pack(store, pack_id, access=by).items}
    return AddReport(tuple(items[i] for i in added), tuple(skipped))


def remove_item(store: Store, pack_id: int, item_id: int, *, by: Access = OPERATOR) -> Pack:
    with store.transaction() as c:
        _require_item(c, pack_id, item_id, by)
        c.execute("DELETE FROM pack_items WHERE id = ?", (item_id,))
        _renumber(c, _order(c, pack_id))
        _touch(c, pack_id)
    return get_pack(store, pack_id, access=by)


def move_item(
    store: Store, pack_id: int, item_id: int, position: int, *, by: Access = OPERATOR
) -> Pack:
    """Move an item to `position` (0-based; clamped to the pack)."""
    return _move(store, pack_id, item_id, lambda _now: position, by=by)


def move_up(store: Store, pack_id: int, item_id: int, *, by: Access = OPERATOR) -> Pack:
    """One place earlier (the first item stays first)."""
    return _move(store, pack_id, item_id, lambda now: now - 1, by=by)


def move_down(store: Store, pack_id: int, item_id: int, *, by: Access = OPERATOR) -> Pack:
    """One place later (the last item stays last)."""
    return _move(store, pack_id, item_id, lambda now: now + 1, by=by)


def _move(
    store: Store, pack_id: int, item_id: int, where: Callable[[int], int], *, by: Access = OPERATOR
) -> Pack:
    with store.transaction() as c:
        _require_item(c, pack_id, item_id, by)
        order = _order(c, pack_id)
        target = where(order.index(item_id))
        order.remove(item_id)
        at = max(0, min(target, len(order)))
        _renumber(c, [*order[:at], item_id, *order[at:]])
        _touch(c, pack_id)
    return get_pack(store, pack_id, access=by)


def reorder(store: Store, pack_id: int, item_ids: Sequence[int], *, by: Access = OPERATOR) -> Pack:
    """Put the items in the order given (every item of the pack, once)."""
    with store.transaction() as c:
        _require(c, pack_id, by)
        order = _order(c, pack_id)
        if sorted(order) != sorted(item_ids) or len(set(item_ids)) != len(item_ids):
            raise PackError("the new order must list every item of the pack exactly once")
        _renumber(c, list(item_ids))
        _touch(c, pack_id)
    return get_pack(store, pack_id, access=by)


def set_note(
    store: Store, pack_id: int, item_id: int, note: str, *, by: Access = OPERATOR
) -> PackItem:
    with store.transaction() as c:
        _require_item(c, pack_id, item_id, by)
        c.execute("UPDATE pack_items SET note = ? WHERE id = ?", (note or "", item_id))
        _touch(c, pack_id)
    return next(i for i in get_pack(store, pack_id, access=by).items if i.id == item_id)


# -- helpers ------------------------------------------------------------------------------------
def _require(
    c: sqlite3.Connection, pack_id: int, by: Access, *, owner_only: bool = True
) -> sqlite3.Row:
    """The pack, when `by` may change it (its owner; anyone for packs the operator's tools
    made) or, with `owner_only=False`, open it. A pack they may not open is not found."""
    row = c.execute("SELECT * FROM packs WHERE id = ?", (pack_id,)).fetchone()
    if row is None or not _may_open(row, _shares(c, pack_id), by):
        raise PackError(f"no pack with id {pack_id} (it may have been deleted)")
    owner = row["owner"]
    mine = by.username is not None and owner is not None and owner.lower() == by.username.lower()
    if owner_only and not by.full and owner is not None and not mine:
        raise PermissionDenied(f"only its owner, {owner}, may change this pack")
    return row


def _require_item(c: sqlite3.Connection, pack_id: int, item_id: int, by: Access) -> None:
    _require(c, pack_id, by)
    row = c.execute(
        "SELECT 1 FROM pack_items WHERE id = ? AND pack_id = ?", (item_id, pack_id)
    ).fetchone()
    if row is None:
        raise PackError(f"item {item_id} is not in this pack (it may have been removed)")


def _touch(c: sqlite3.Connection, pack_id: int) -> None:
    c.execute("UPDATE packs SET updated_at = ? WHERE id = ?", (utc_now(), pack_id))


def _order(c: sqlite3.Connection, pack_id: int) -> list[int]:
    return [
        r[0]
        for r in c.execute(
            "SELECT id FROM pack_items WHERE pack_id = ? ORDER BY position, id", (pack_id,)
        )
    ]


def _renumber(c: sqlite3.Connection, item_ids: Sequence[int]) -> None:
    c.executemany(
        "UPDATE pack_items SET position = ? WHERE id = ?",
        [(n, item_id) for n, item_id in enumerate(item_ids)],
    )


def _current_tags(c: sqlite3.Connection, passage_id: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"a4p": [], "pillars": []}
    for r in c.execute(
        "SELECT axis, label FROM passage_tags WHERE passage_id = ? ORDER BY score DESC, label",
        (passage_id,),
    ):
        out.setdefault(r[0], []).append(r[1])
    return out


def _doc_groups(c: sqlite3.Connection, doc_id: int) -> list[str]:
    return [
        r[0]
        for r in c.execute(
            "SELECT grp FROM document_groups WHERE doc_id = ? ORDER BY grp", (doc_id,)
        )
    ]


def _items(c: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[PackItem]:
    out = []
    for r in rows:
        live = c.execute("SELECT id FROM passages WHERE id = ?", (r["passage_id"],)).fetchone()
        if live is None:  # ingested again (new passage ids) or removed: follow the text
            live = c.execute(
                "SELECT MIN(id) FROM passages WHERE text_key = ?", (r["text_key"],)
            ).fetchone()
        pid = None if live is None or live[0] is None else int(live[0])
        tags = (
            _current_tags(c, pid)
            if pid is not None
            else {"a4p": json.loads(r["a4p"]), "pillars": json.loads(r["pillars"])}
        )
        # Who may see it: its document's level and groups now; once the source is gone, as
        # they were when it was added.
        level, groups = r["classification"], json.loads(r["doc_groups"])
        if pid is not None:
            doc = c.execute(
                "SELECT d.id, d.classification FROM passages p JOIN documents d"
                " ON d.id = p.doc_id WHERE p.id = ?",
                (pid,),
            ).fetchone()
            level, groups = doc["classification"], _doc_groups(c, int(doc["id"]))
        out.append(
            PackItem(
                id=r["id"],
                position=r["position"],
                passage_id=pid,
                text=r["text"],
                heading=r["heading"],
                note=r["note"],
                title=r["title"],
                symbol=r["symbol"],
                date=r["doc_date"],
                file_name=r["file_name"],
                page_start=r["page_start"],
                page_end=r["page_end"],
                para_start=r["para_start"],
                para_end=r["para_end"],
                a4p=tuple(tags["a4p"]),
                pillars=tuple(tags["pillars"]),
                added_at=r["added_at"],
                source_removed=pid is None,
                classification=level,
                groups=tuple(groups),
            )
        )
    return out
