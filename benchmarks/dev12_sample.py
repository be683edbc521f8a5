"""Draw the 12-label development set's paragraphs from ../shared/realdocs (issue 15).

The set holds paragraph ids only, never the third-party text: every benchmark reads the
text from ../shared/realdocs/paragraphs.jsonl at run time. Missions are capped so that
MINUSTAH (800 of 1,909 paragraphs) does not decide every label; the draw is seeded, so
re-running it gives the same ids.

    python benchmarks/dev12_sample.py            # writes benchmarks/data/dev12/sample.tsv
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARAGRAPHS = ROOT.parent / "shared" / "realdocs" / "paragraphs.jsonl"
OUT = ROOT / "benchmarks" / "data" / "dev12" / "sample.tsv"
SECOND_READING = 100  # paragraphs read twice, for agreement per label


def draw(rows: list[dict], size: int, seed: int) -> list[dict]:
    by_mission: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_mission[row["mission"]].append(row)
    rng = random.Random(seed)
    # A square-root share per mission: big missions still give most paragraphs, small ones
    # are not drowned out.
    weights = {m: len(v) ** 0.5 for m, v in by_mission.items()}
    total = sum(weights.values())
    quota = {m: min(len(by_mission[m]), round(size * w / total)) for m, w in weights.items()}
    while sum(quota.values()) < size:  # rounding and small missions leave a remainder
        m = max((m for m in quota if quota[m] < len(by_mission[m])), key=lambda m: weights[m])
        quota[m] += 1
    while sum(quota.values()) > size:
        m = max(quota, key=lambda m: quota[m])
        quota[m] -= 1
    chosen: list[dict] = []
    for mission in sorted(by_mission):
        chosen.extend(rng.sample(by_mission[mission], quota[mission]))
    rng.shuffle(chosen)
    return chosen


def second_reading(i: int, size: int) -> bool:
    """Every fourth row is read twice, spread evenly over the four first-reading parts
    (row i is in part i % 4), so agreement is measured against every first reader."""
    step = size // SECOND_READING  # 4 for 400
    return (i // step) % step == i % step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rows = [json.loads(line) for line in PARAGRAPHS.read_text().splitlines() if line.strip()]
    chosen = draw(rows, args.size, args.seed)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = ["id\tmission\tsecond_reading"]
    for i, row in enumerate(chosen):
        lines.append(f"{row['id']}\t{row['mission']}\t{int(second_reading(i, args.size))}")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"{len(chosen)} paragraphs from {len({r['mission'] for r in chosen})} missions -> {OUT}")


if __name__ == "__main__":
    main()
