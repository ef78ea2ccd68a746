#!/usr/bin/env python3
"""Writes SkillSpan postings (data/labeled/skillspan/postings.jsonl, MIT) in
jobenrich's ingest format, for the clustering comparison (bench/cluster_compare.sh).

Usage: python3 bench/skillspan_postings.py SPLIT > postings.jsonl
SPLIT: train (140 postings), dev (58) or all (198). Titles as in the shipped
sample (data/sample/make_sample.py: the first line, placeholders removed).
"""
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_sample", ROOT / "data/sample/make_sample.py")
make_sample = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_sample)

split = sys.argv[1] if len(sys.argv) > 1 else "all"
if split not in ("train", "dev", "all"):
    sys.exit(f"unknown split {split!r}: train, dev or all")
for line in (ROOT / "data/labeled/skillspan/postings.jsonl").open(encoding="utf-8"):
    r = json.loads(line)
    if split != "all" and r["split"] != split:
        continue
    posted = make_sample.DATE_POSTED.search(r["text"])
    print(json.dumps({
        "id": f"skillspan-{r['split']}-{r['source']}-{r['idx']}",
        "title": make_sample.title_of(r["text"]),
        "description": r["text"],
        "posted_at": posted.group(1) if posted else None,
        "source": f"skillspan-{r['source']}",
    }, ensure_ascii=False))
