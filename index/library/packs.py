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
from dataclasses import dataclass

from errors import DuplicateItem, PackError
from index.library.records import utc_now
from index.library.store import Store
from nlp.labels import display_name, slugs

GROUPINGS = ("none", "a4p", "pillars")
MAX_NAME = 200
OTHER = "Other"


@dataclass(frozen=True)
class PackItem:
    id: int
    position: int  # 0-based, in pack order
    passage_id: int | None  # the passage holding this text now; None once the source is gone
    text: str
    heading: str | None
    note: str
    title: str
    symbol: str | None
    date: str | None  # ISO date of the document
    file_name: str
    page_start: int | None
    page_end: int | None
    para_start: int | None
    para_end: int | None
    a4p: tuple[str, ...]  # current tags while the source exists, else as when added; best first
    pillars: tuple[str, ...]
    added_at: str
    source_removed: bool

    def labels(self, axis: str) -> tuple[str, ...]:
        return self.a4p if axis == "a4p" else self.pillars


@dataclass(frozen=True)
class PackGroup:
    key: str | None  # the label slug; None for "Other" and for an ungrouped pack
    title: str
    items: tuple[PackItem, ...]


@dataclass(frozen=True)
class Pack:
    id: int
    name: str
    intro: str
    grouping: str  # none | a4p | pillars
    created_at: str
    updated_at: str
    items: tuple[PackItem, ...]

    def groups(self) -> list[PackGroup]:
        """Items by their first (highest-scoring) label on the grouping axis, in label-set
        order; items without one under "Other", last. Pack order is kept inside a group. An
        ungrouped pack is one group titled "Excerpts"."""
        if self.grouping == "none":
            return [PackGroup(None, "Excerpts", self.items)] if self.items else []
        by_label: dict[str | None, list[PackItem]] = {}
        for item in self.items:
            labels = item.labels(self.grouping)
            by_label.setdefault(labels[0] if labels else None, []).append(item)
        out = [
            PackGroup(label, display_name(label), tuple(by_label[label]))
            for label in slugs(self.grouping)
            if label in by_label
        ]
        if None in by_label:
            out.append(PackGroup(None, OTHER, tuple(by_label[None])))
        return out


@dataclass(frozen=True)
class PackSummary:
    id: int
    name: str
    items: int
    grouping: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class AddReport:
    added: tuple[PackItem, ...]
    skipped: tuple[int, ...]  # passage ids whose text was already in the pack


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


def create_pack(store: Store, name: str, *, intro: str = "", grouping: str = "none") -> Pack:
    """A new, empty pack. Names are unique, ignoring case and repeated spaces."""
    clean = _clean_name(name)
    _check_grouping(grouping)
    now = utc_now()
    try:
        with store.transaction() as c:
            cur = c.execute(
                "INSERT INTO packs(name, intro, grouping, created_at, updated_at)"
                " VALUES (?,?,?,?,?)",
                (clean, intro or "", grouping, now, now),
            )
    except sqlite3.IntegrityError:
        raise _name_taken(clean) from None
    return get_pack(store, int(cur.lastrowid or 0))


def rename_pack(store: Store, pack_id: int, name: str) -> Pack:
    clean = _clean_name(name)
    try:
        with store.transaction() as c:
            _require(c, pack_id)
            c.execute(
                "UPDATE packs SET name = ?, updated_at = ? WHERE id = ?",
                (clean, utc_now(), pack_id),
            )
    except sqlite3.IntegrityError:
        raise _name_taken(clean) from None
    return get_pack(store, pack_id)


def duplicate_pack(store: Store, pack_id: int, name: str | None = None) -> Pack:
    """A copy with its intro, grouping, items, notes and order; named "NAME (copy)",
    "NAME (copy 2)"... unless `name` is given."""
    with store.transaction() as c:
        src = _require(c, pack_id)
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
                "INSERT INTO packs(name, intro, grouping, created_at, updated_at)"
                " VALUES (?,?,?,?,?)",
                (clean, src["intro"], src["grouping"], now, now),
            )
        except sqlite3.IntegrityError:
            raise _name_taken(clean) from None
        new_id = int(cur.lastrowid or 0)
        cols = (
            "position, passage_id, text_key, note, text, heading, doc_sha256, title, symbol,"
            " doc_date, file_name, page_start, page_end, para_start, para_end, a4p, pillars,"
            " added_at"
        )
        c.execute(
            f"INSERT INTO pack_items(pack_id, {cols}) SELECT ?, {cols} FROM pack_items"
            " WHERE pack_id = ? ORDER BY position",
            (new_id, pack_id),
        )
    return get_pack(store, new_id)


def delete_pack(store: Store, pack_id: int) -> None:
    with store.transaction() as c:
        _require(c, pack_id)
        c.execute("DELETE FROM packs WHERE id = ?", (pack_id,))


def set_intro(store: Store, pack_id: int, intro: str) -> Pack:
    with store.transaction() as c:
        _require(c, pack_id)
        c.execute(
            "UPDATE packs SET intro = ?, updated_at = ? WHERE id = ?",
            (intro or "", utc_now(), pack_id),
        )
    return get_pack(store, pack_id)


def _check_grouping(grouping: str) -> None:
    if grouping not in GROUPINGS:
        raise PackError(f"unknown grouping {grouping!r}: use one of {', '.join(GROUPINGS)}")


def set_grouping(store: Store, pack_id: int, grouping: str) -> Pack:
    """Group the pack's items by A4P area ("a4p"), by pillar ("pillars") or not ("none")."""
    _check_grouping(grouping)
    with store.transaction() as c:
        _require(c, pack_id)
        c.execute(
            "UPDATE packs SET grouping = ?, updated_at = ? WHERE id = ?",
            (grouping, utc_now(), pack_id),
        )
    return get_pack(store, pack_id)


def list_packs(store: Store) -> list[PackSummary]:
    """Every pack with its item count, the most recently changed first."""
    rows = store.conn.execute(
        "SELECT k.*, (SELECT COUNT(*) FROM pack_items i WHERE i.pack_id = k.id) AS n"
        " FROM packs k ORDER BY k.updated_at DESC, k.id DESC"
    )
    return [
        PackSummary(r["id"], r["name"], r["n"], r["grouping"], r["created_at"], r["updated_at"])
        for r in rows
    ]


def find_pack(store: Store, name: str) -> Pack:
    """The pack of that name (ignoring case and repeated spaces)."""
    row = store.conn.execute(
        "SELECT id FROM packs WHERE name = ?", (" ".join((name or "").split()),)
    ).fetchone()
    if row is None:
        known = ", ".join(f'"{p.name}"' for p in list_packs(store)) or "none yet"
        raise PackError(f'no pack named "{name}" (packs: {known})')
    return get_pack(store, int(row[0]))


def get_pack(store: Store, pack_id: int) -> Pack:
    row = store.conn.execute("SELECT * FROM packs WHERE id = ?", (pack_id,)).fetchone()
    if row is None:
        raise PackError(f"no pack with id {pack_id} (it may have been deleted)")
    items = store.conn.execute(
        "SELECT * FROM pack_items WHERE pack_id = ? ORDER BY position, id", (pack_id,)
    ).fetchall()
    return Pack(
        row["id"],
        row["name"],
        row["intro"],
        row["grouping"],
        row["created_at"],
        row["updated_at"],
        tuple(_items(store.conn, items)),
    )


# -- items --------------------------------------------------------------------------------------
def add_passage(
    store: Store, pack_id: int, passage_id: int, *, note: str = "", position: int | None = None
) -> PackItem:
    """Add a passage (at the end, or at `position`). `DuplicateItem` when its text is
    already in the pack."""
    report = add_passages(store, pack_id, [passage_id], note=note, position=position)
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
) -> AddReport:
    """Add several passages in the order given (e.g. a search's hits, or passages picked from
    one document), in one transaction; those already in the pack are skipped and reported."""
    ids = list(dict.fromkeys(passage_ids))
    added: list[int] = []
    skipped: list[int] = []
    with store.transaction() as c:
        _require(c, pack_id)
        keys = {
            r[0] for r in c.execute("SELECT text_key FROM pack_items WHERE pack_id = ?", (pack_id,))
        }
        for pid in ids:
            row = c.execute(
                "SELECT p.*, d.title, d.symbol, d.doc_date, d.file_name, d.sha256 FROM passages p"
                " JOIN documents d ON d.id = p.doc_id WHERE p.id = ?",
                (pid,),
            ).fetchone()
            if row is None:
                raise PackError(f"passage {pid} is no longer in the library; search again")
            if row["text_key"] in keys:
                skipped.append(pid)
                continue
            keys.add(row["text_key"])
            tags = _current_tags(c, pid)
            cur = c.execute(
                "INSERT INTO pack_items(pack_id, position, passage_id, text_key, note, text,"
                " heading, doc_sha256, title, symbol, doc_date, file_name, page_start, page_end,"
                " para_start, para_end, a4p, pillars, added_at)"
                " VALUES (?, (SELECT COALESCE(MAX(position), -1) + 1 FROM pack_items"
                " WHERE pack_id = ?), ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                ),
            )
            added.append(int(cur.lastrowid or 0))
        if position is not None and added:
            order = _order(c, pack_id)
            rest = [i for i in order if i not in added]
            at = max(0, min(position, len(rest)))
            _renumber(c, rest[:at] + added + rest[at:])
        _touch(c, pack_id)
    items = {item.id: item for item in get_pack(store, pack_id).items}
    return AddReport(tuple(items[i] for i in added), tuple(skipped))


def remove_item(store: Store, pack_id: int, item_id: int) -> Pack:
    with store.transaction() as c:
        _require_item(c, pack_id, item_id)
        c.execute("DELETE FROM pack_items WHERE id = ?", (item_id,))
        _renumber(c, _order(c, pack_id))
        _touch(c, pack_id)
    return get_pack(store, pack_id)


def move_item(store: Store, pack_id: int, item_id: int, position: int) -> Pack:
    """Move an item to `position` (0-based; clamped to the pack)."""
    return _move(store, pack_id, item_id, lambda _now: position)


def move_up(store: Store, pack_id: int, item_id: int) -> Pack:
    """One place earlier (the first item stays first)."""
    return _move(store, pack_id, item_id, lambda now: now - 1)


def move_down(store: Store, pack_id: int, item_id: int) -> Pack:
    """One place later (the last item stays last)."""
    return _move(store, pack_id, item_id, lambda now: now + 1)


def _move(store: Store, pack_id: int, item_id: int, where: Callable[[int], int]) -> Pack:
    with store.transaction() as c:
        _require_item(c, pack_id, item_id)
        order = _order(c, pack_id)
        target = where(order.index(item_id))
        order.remove(item_id)
        at = max(0, min(target, len(order)))
        _renumber(c, [*order[:at], item_id, *order[at:]])
        _touch(c, pack_id)
    return get_pack(store, pack_id)


def reorder(store: Store, pack_id: int, item_ids: Sequence[int]) -> Pack:
    """Put the items in the order given (every item of the pack, once)."""
    with store.transaction() as c:
        _require(c, pack_id)
        order = _order(c, pack_id)
        if sorted(order) != sorted(item_ids) or len(set(item_ids)) != len(item_ids):
            raise PackError("the new order must list every item of the pack exactly once")
        _renumber(c, list(item_ids))
        _touch(c, pack_id)
    return get_pack(store, pack_id)


def set_note(store: Store, pack_id: int, item_id: int, note: str) -> PackItem:
    with store.transaction() as c:
        _require_item(c, pack_id, item_id)
        c.execute("UPDATE pack_items SET note = ? WHERE id = ?", (note or "", item_id))
        _touch(c, pack_id)
    return next(i for i in get_pack(store, pack_id).items if i.id == item_id)


# -- helpers ------------------------------------------------------------------------------------
def _require(c: sqlite3.Connection, pack_id: int) -> sqlite3.Row:
    row = c.execute("SELECT * FROM packs WHERE id = ?", (pack_id,)).fetchone()
    if row is None:
        raise PackError(f"no pack with id {pack_id} (it may have been deleted)")
    return row


def _require_item(c: sqlite3.Connection, pack_id: int, item_id: int) -> None:
    _require(c, pack_id)
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
            )
        )
    return out
