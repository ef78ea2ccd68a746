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
    .local/flashtext-venv/bin/python bench/compare_flashtext.py [rounds]

Side by side with the engine (`jobenrich bench extract` on the same corpus),
alternating the two REPEAT times so both see the same machine conditions, and
printing the best run of each and the ratio:
    cargo build --release -p jobenrich-cli
    .local/flashtext-venv/bin/python bench/compare_flashtext.py --engine target/release/jobenrich [--repeat 5]
"""

import argparse
import json
import subprocess
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


def flashtext_rate(processor, postings, rounds):
    best = None
    found = 0
    for _ in range(rounds):
        start = time.perf_counter()
        found = sum(len(processor.extract_keywords(p, span_info=True)) for p in postings)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return len(postings) / best, best, found


def engine_rates(binary, rounds):
    out = subprocess.run(
        [binary, "--format", "json", "bench", "extract", "--input", str(CORPUS), "--rounds", str(rounds)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    report = json.loads(out)
    return {p["phase"]: p["postings_per_sec"] for p in report["phases"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rounds", nargs="?", type=int, default=3, help="passes over the corpus per measurement")
    parser.add_argument("--engine", help="path of the jobenrich binary to run side by side")
    parser.add_argument("--repeat", type=int, default=5, help="alternations with --engine")
    args = parser.parse_args()
    sources = [json.loads(l)["text"] for l in CORPUS.read_text(encoding="utf-8").splitlines() if l.strip()]
    postings = synthesize_postings(sources)
    total_bytes = sum(len(p.encode("utf-8")) for p in postings)
    processor = KeywordProcessor(case_sensitive=False)
    for surface, canonical in load_terms():
        processor.add_keyword(surface, canonical)
    if not args.engine:
        rate, best, found = flashtext_rate(processor, postings, args.rounds)
        print(f"flashtext {len(processor)} keywords, {len(postings)} postings, {total_bytes / 1e6:.2f} MB, best of {args.rounds}")
        print(f"flashtext: {rate:,.0f} postings/s, {total_bytes / 1e6 / best:.2f} MB/s, {found} matches")
        return
    flash_best, engine_best = 0.0, {}
    for i in range(args.repeat):
        rate, _, _ = flashtext_rate(processor, postings, args.rounds)
        engine = engine_rates(args.engine, args.rounds)
        flash_best = max(flash_best, rate)
        for phase, r in engine.items():
            engine_best[phase] = max(engine_best.get(phase, 0.0), r)
        print(f"run {i + 1}: flashtext {rate:,.0f}/s; engine " + ", ".join(f"{k} {v:,.0f}/s" for k, v in engine.items()))
    print(f"best of {args.repeat} alternations ({len(postings)} postings, {total_bytes / 1e6:.2f} MB):")
    print(f"  flashtext (10k terms, matching only): {flash_best:,.0f} postings/s")
    for phase, r in engine_best.items():
        print(f"  engine {phase}: {r:,.0f} postings/s = {r / flash_best:.1f}x flashtext")


if __name__ == "__main__":
    main()
