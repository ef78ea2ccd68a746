#!/usr/bin/env python3
"""Writes N varied job postings (JSONL) for the end-to-end and clustering benchmarks.

Replicating 40 postings (bench/replicate_postings.py) gives a store where every
posting has one of 40 skill sets: clustering and SQLite's indexes see far less
variety than real data. This builds each posting instead from the 238 real
postings the repository ships (data/sample/postings.jsonl, 40; and
crates/enrichment-engine/testdata/skillspan_postings.jsonl, 198; both SkillSpan,
MIT) with perturbations, deterministically from --seed:

- a base posting gives the header (its first lines) and the title; the title
  gets a random seniority prefix and work-mode suffix ~half the time;
- the body is the base posting's remaining lines, each kept with p = 0.8,
  interleaved with runs of lines drawn from 1-3 donor postings of the same
  source (tech or house), so skill sets mix across postings;
- lines are appended until a target length drawn uniformly from 3-6.6 KB
  (mean ~4.8 KB, the size the performance targets are stated for);
- ids are `bench-<seed>-<n>`; posted_at spreads over 2021.

    python3 bench/make_corpus.py 100000 > /tmp/corpus-100k.jsonl
"""

import argparse
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "data", "sample", "postings.jsonl")
SKILLSPAN = os.path.join(
    ROOT, "crates", "enrichment-engine", "testdata", "skillspan_postings.jsonl"
)
PREFIXES = ["Senior ", "Junior ", "Lead ", "Principal ", "Staff ", "Associate ", "Head of "]
SUFFIXES = [" (m/f/d)", " - Remote", " (Hybrid)", " - Copenhagen", " - Berlin", " (Contract)"]
HEADER_LINES = 3


def load_sources():
    """(source, title, lines) for every shipped posting."""
    out = []
    with open(SAMPLE, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                p = json.loads(line)
                src = "house" if "house" in p.get("source", "") else "tech"
                out.append((src, p["title"], p["description"].split("\n")))
    with open(SKILLSPAN, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                p = json.loads(line)
                lines = p["text"].split("\n")
                title = lines[0][:90] if lines else "Job"
                out.append((p.get("source", "tech"), title, lines))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("count", type=int)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    postings = load_sources()
    by_source = {}
    for p in postings:
        by_source.setdefault(p[0], []).append(p)
    out = sys.stdout
    for n in range(args.count):
        src, title, lines = rng.choice(postings)
        if rng.random() < 0.5:
            title = rng.choice(PREFIXES) + title
        if rng.random() < 0.5:
            title += rng.choice(SUFFIXES)
        target = rng.randint(3000, 6600)
        body = lines[:HEADER_LINES]
        size = sum(len(l) + 1 for l in body)
        own = [l for l in lines[HEADER_LINES:] if rng.random() < 0.8]
        donors = rng.sample(by_source[src], k=min(3, len(by_source[src])))[: rng.randint(1, 3)]
        pools = [own] + [d[2][HEADER_LINES:] for d in donors]
        cursors = [0] * len(pools)
        while size < target and any(c < len(p) for c, p in zip(cursors, pools)):
            i = rng.randrange(len(pools))
            run = rng.randint(2, 8)
            for _ in range(run):
                if cursors[i] >= len(pools[i]) or size >= target:
                    break
                line = pools[i][cursors[i]]
                cursors[i] += 1
                body.append(line)
                size += len(line) + 1
        posting = {
            "id": f"bench-{args.seed}-{n}",
            "title": title.strip() or "Job",
            "description": "\n".join(body),
            "posted_at": f"2021-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "source": f"bench-{src}",
        }
        out.write(json.dumps(posting, ensure_ascii=False))
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
