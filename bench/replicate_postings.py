#!/usr/bin/env python3
"""Replicates a JSONL file of job postings to N postings with distinct ids.

Used by the end-to-end benchmark of `jobenrich run` (docs/performance.md):
the shipped sample is cycled until N postings are written; copy k of a
posting gets the id `<id>-r<k>`. Streams, so 1,000,000 postings need no memory.

    python3 bench/replicate_postings.py data/sample/postings.jsonl 10000 > /tmp/postings-10k.jsonl
"""

import json
import sys

ID_FIELDS = ("id", "job_posting_id")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, count = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as f:
        postings = [json.loads(line) for line in f if line.strip()]
    if not postings:
        print(f"{path}: no postings", file=sys.stderr)
        return 1
    id_field = next((k for k in ID_FIELDS if k in postings[0]), None)
    if id_field is None:
        print(f"{path}: first posting has none of the id fields {ID_FIELDS}", file=sys.stderr)
        return 1
    out = sys.stdout
    for n in range(count):
        posting = dict(postings[n % len(postings)])
        posting[id_field] = f"{posting[id_field]}-r{n // len(postings)}"
        out.write(json.dumps(posting, ensure_ascii=False))
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
