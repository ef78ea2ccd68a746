#!/usr/bin/env python3
"""Builds the shipped sample postings from SkillSpan (MIT, see LICENSE-skillspan).

Usage: python3 data/sample/make_sample.py ../shared/data/labeled/skillspan/postings.jsonl

Writes, in jobenrich's ingest format:
- postings.jsonl: 24 tech + 16 house postings of the train split, our field names;
- postings-brightdata.csv: 8 more house postings with Bright Data LinkedIn field names.
SkillSpan postings have no titles: the title is the posting's first line with the
de-identification placeholders (<ORGANIZATION>, <ADDRESS>, ...) removed, cut at a
word boundary to at most 90 characters.
"""
import csv
import json
import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"<[A-Z]+>")
DATE_POSTED = re.compile(r"^Date posted: (\d{4}-\d{2}-\d{2})$", re.M)
MAX_TITLE = 90


def title_of(text: str) -> str:
    first = next((line for line in text.split("\n") if PLACEHOLDER.sub("", line).strip()), "")
    title = " ".join(PLACEHOLDER.sub(" ", first).split())
    title = re.sub(r"\( ([^()]*) \)", r"(\1)", title).rstrip(" .?!:,-")
    if len(title) > MAX_TITLE:
        title = title[:MAX_TITLE].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"
    return title


def main(source: Path) -> None:
    rows = [json.loads(line) for line in source.open(encoding="utf-8")]
    train = [r for r in rows if r["split"] == "train"]
    tech = [r for r in train if r["source"] == "tech"][:24]
    house = [r for r in train if r["source"] == "house"]
    out = Path(__file__).parent
    with (out / "postings.jsonl").open("w", encoding="utf-8") as f:
        for r in tech + house[:16]:
            posted = DATE_POSTED.search(r["text"])
            record = {
                "id": f"skillspan-{r['split']}-{r['source']}-{r['idx']}",
                "title": title_of(r["text"]),
                "description": r["text"],
                "posted_at": posted.group(1) if posted else None,
                "source": f"skillspan-{r['source']}",
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (out / "postings-brightdata.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["job_posting_id", "job_title", "company_name", "job_location",
                         "job_summary", "job_posted_date", "url"])
        for r in house[16:24]:
            writer.writerow([f"skillspan-{r['split']}-{r['source']}-{r['idx']}", title_of(r["text"]),
                             "", "", r["text"], "", ""])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
