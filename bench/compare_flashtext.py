#!/usr/bin/env python3
"""Side-by-side baseline for docs/performance.md: Python `flashtext` keyword
matching (matching only, no sectioning/patterns/fusion) on the same corpus the
engine's criterion bench uses: 1,000 postings of ~3 KB built from the SkillSpan
postings (crates/enrichment-engine/testdata/skillspan_postings.jsonl, MIT) by
concatenating non-empty lines in order — the same algorithm as
`jobenrich_enrichment_engine::bench::synthesize_postings`.

The keyword set is the first 10,000 distinct surface forms of the shipped
lexicon (data/lexicon/lexicon.tsv), case-insensitive.

Run (flashtext in a throwaway venv under the git-ignored .local/):
    python3 -m venv .local/flashtext-venv
    .local/flashtext-venv/bin/pip install flashtext
    .local/flashtext-venv/bin/python bench/compare_flashtext.py
"""

import json
import sys
import time
from pathlib import Path

from flashtext import KeywordProcessor

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "crates/enrichment-engine/testdata/skillspan_postings.jsonl"
LEXICON = ROOT / "data/lexicon/lexicon.tsv"


def synthesize_postings(sources, count=1000, target_bytes=3000):
    lines = [l for s in sources for l in s.splitlines() if l.strip()]
    out, cursor = [], 0
    for _ in range(count):
        posting = ""
        while len(posting.encode("utf-8")) < target_bytes:
            posting += lines[cursor % len(lines)] + "\n"
            cursor += 1
        out.append(posting)
    return out


def load_terms(limit=10_000):
    terms, seen = [], set()
    for line in LEXICON.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        for surface in cols[5].split("|"):
            surface = surface.lstrip("=").strip()
            key = surface.lower()
            if surface and key not in seen:
                seen.add(key)
                terms.append((surface, cols[0]))
                if len(terms) >= limit:
                    return terms
    return terms


def main():
    sources = [json.loads(l)["text"] for l in CORPUS.read_text(encoding="utf-8").splitlines() if l.strip()]
    postings = synthesize_postings(sources)
    total_bytes = sum(len(p.encode("utf-8")) for p in postings)
    processor = KeywordProcessor(case_sensitive=False)
    for surface, canonical in load_terms():
        processor.add_keyword(surface, canonical)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    best = None
    found = 0
    for _ in range(rounds):
        start = time.perf_counter()
        found = sum(len(processor.extract_keywords(p, span_info=True)) for p in postings)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(f"flashtext {len(processor)} keywords, {len(postings)} postings, {total_bytes / 1e6:.2f} MB, best of {rounds}")
    print(f"flashtext: {len(postings) / best:,.0f} postings/s, {total_bytes / 1e6 / best:.2f} MB/s, {found} matches")


if __name__ == "__main__":
    main()
