"""Near-duplicate groups: passages copied from report to report (found by index/dedup.py),
keyed by their earliest passage, so search shows one passage per group."""

from __future__ import annotations

from collections.abc import Iterable

from index.library.database import Database, chunks, marks


class Duplicates(Database):
    """The near-duplicate family's part of the Store."""

    def link_duplicates(self, links: dict[int, int]) -> int:
        """Put passages into near-duplicate groups: {passage id: id of a passage it copies}.
        A passage joins the group of the one it copies (or founds it)."""
        if not links:
            return 0
        with self.transaction() as c:
            for pid, other in links.items():
                row = c.execute(
                    "SELECT cluster FROM near_duplicates WHERE passage_id = ?", (other,)
                ).fetchone()
                cluster = min(row[0] if row else other, other, pid)
                c.executemany(
                    "INSERT INTO near_duplicates(passage_id, cluster) VALUES (?, ?)"
                    " ON CONFLICT(passage_id) DO UPDATE SET cluster = excluded.cluster",
                    [(pid, cluster), (other, cluster)],
                )
        return len(links)

    def duplicate_groups(self, ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
        """For passages in a near-duplicate group: passage id -> [(other passage, its doc)]."""
        out: dict[int, list[tuple[int, int]]] = {}
        for chunk in chunks(list(ids)):
            rows = self.conn.execute(
                "SELECT a.passage_id, b.passage_id, p.doc_id FROM near_duplicates a"
                " JOIN near_duplicates b ON b.cluster = a.cluster AND b.passage_id != a.passage_id"
                f" JOIN passages p ON p.id = b.passage_id WHERE a.passage_id IN ({marks(chunk)})",
                chunk,
            )
            for r in rows:
                out.setdefault(r[0], []).append((r[1], r[2]))
        return out

    def mark_duplicates_scanned(self) -> None:
        """Record that every stored passage has been scanned for near-duplicates."""
        with self.transaction():
            self.set_meta("near_duplicates_scanned", "1")

    @property
    def duplicates_scanned(self) -> bool:
        return self.get_meta("near_duplicates_scanned") is not None
