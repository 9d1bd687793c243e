"""Summarise py-spy raw (collapsed) profiles: the top functions by inclusive and by self samples.

    .venv/bin/python bench/market_data/summarize_profile.py FILE [FILE ...] [--top 30] [--match water]

Frames are `function (path:line)`; line numbers are dropped so a function counts once per stack.
`--match` keeps only frames whose text contains the string in the inclusive table.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("path")
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for file in args.files:
        for line in file.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [short(f) for f in stack.split(";") if f]
            for frame in set(frames):
                inclusive[frame] += n
            if frames:
                leaf[frames[-1]] += n
    print(f"{total} samples\n\ninclusive:")
    shown = 0
    for frame, n in inclusive.most_common():
        if args.match and args.match not in frame:
            continue
        print(f"{n / total:6.1%}  {frame}")
        shown += 1
        if shown >= args.top:
            break
    print("\nself:")
    for frame, n in leaf.most_common(args.top):
        print(f"{n / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
