#!/usr/bin/env python3
"""JioNLP's time and location parsers on the texts `fengqiao eval text` reads:
- the project's time table (crates/cli/data/time-expressions.tsv): jio.parse_time accuracy,
  exact (start and end, JioNLP's inclusive end = our exclusive end - 1 s) and by start day;
- CAIL2022 xxcq paragraphs: jio.ner.extract_time spans (label NT) and the places JioNLP's
  jio.recognize_location finds (located back in the text) against the Ns spans, overlap
  precision/recall/F1 as in `fengqiao eval text`;
- the time each takes. Run by scripts/eval/jionlp-compare (which installs JioNLP)."""
import datetime as dt
import json
import sys
import time

import jionlp as jio

root, data = sys.argv[1], sys.argv[2]
FMT = "%Y-%m-%d %H:%M"

def ts(s):
    return time.mktime(dt.datetime.strptime(s, FMT).timetuple())

rows = []
for line in open(f"{root}/crates/cli/data/time-expressions.tsv", encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    r, e, s, t = line.rstrip("\n").split("\t")
    rows.append((r, e, s, t))

exact = day = 0
t0 = time.perf_counter()
for r, e, s, t in rows:
    try:
        p = jio.parse_time(e, time_base=ts(r))
        got = p["time"]
    except Exception:
        got = None
    if not got or not isinstance(got, list) or len(got) != 2:
        continue
    want_end = (dt.datetime.strptime(t, FMT) - dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    want_start = dt.datetime.strptime(s, FMT).strftime("%Y-%m-%d %H:%M:%S")
    if got[0] == want_start and got[1] == want_end:
        exact += 1
    if got[0][:10] == want_start[:10]:
        day += 1
spent = time.perf_counter() - t0
print(f"JioNLP {jio.__version__} parse_time on the time table: {exact}/{len(rows)} exact "
      f"({exact/len(rows):.3f}), start day right {day}/{len(rows)} ({day/len(rows):.3f}); "
      f"{spent*1e3:.1f} ms, {spent*1e6/len(rows):.0f} µs an expression")

def prf(pred, gold):
    tp_p = sum(1 for p in pred if any(p[0] < g[1] and g[0] < p[1] for g in gold))
    tp_r = sum(1 for g in gold if any(p[0] < g[1] and g[0] < p[1] for p in pred))
    return tp_p, len(pred), tp_r, len(gold)

def f1(acc):
    tp_p, n_p, tp_r, n_g = acc
    p = tp_p / n_p if n_p else 0.0
    r = tp_r / n_g if n_g else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)

base = ts("2017-01-01 00:00")
acc_t = [0, 0, 0, 0]
acc_p = [0, 0, 0, 0]
spent_t = spent_p = 0.0
n = 0
for line in open(f"{data}/cail2022-xxcq-train.json", encoding="utf-8"):
    if not line.strip():
        continue
    o = json.loads(line)
    text = o["sentText"]
    gold_t = [(e["start"], e["end"]) for e in o["entityMentions"] if e["label"] == "NT"]
    gold_p = [(e["start"], e["end"]) for e in o["entityMentions"] if e["label"] == "Ns"]
    t0 = time.perf_counter()
    try:
        times = jio.ner.extract_time(text, time_base=base, with_parsing=False)
    except Exception:
        times = []
    spent_t += time.perf_counter() - t0
    pred_t = [tuple(x["offset"]) for x in times]
    t0 = time.perf_counter()
    try:
        loc = jio.recognize_location(text)
    except Exception:
        loc = {"domestic": None, "others": None}
    spent_p += time.perf_counter() - t0
    names = set()
    for item in loc.get("domestic") or []:
        for k in ("province", "city", "county"):
            if item[0].get(k):
                names.add(item[0][k])
    for k in (loc.get("others") or {}):
        names.add(k)
    pred_p = []
    for name in names:
        # JioNLP returns full names (湛江市); the text may drop the suffix (湛江).
        for cand in {name, name.rstrip("省市县区")}:
            if len(cand) < 2:
                continue
            i = text.find(cand)
            while i >= 0:
                pred_p.append((i, i + len(cand)))
                i = text.find(cand, i + 1)
    for a, b in zip(acc_t, prf(pred_t, gold_t)):
        pass
    acc_t = [x + y for x, y in zip(acc_t, prf(pred_t, gold_t))]
    acc_p = [x + y for x, y in zip(acc_p, prf(sorted(set(pred_p)), gold_p))]
    n += 1
pt, rt, ft = f1(acc_t)
pp, rp, fp = f1(acc_p)
print(f"JioNLP extract_time on {n} CAIL2022 paragraphs: overlap P {pt:.3f} R {rt:.3f} F1 {ft:.3f}; "
      f"{spent_t*1e3:.0f} ms, {spent_t*1e6/n:.0f} µs a paragraph")
print(f"JioNLP recognize_location on the same: overlap P {pp:.3f} R {rp:.3f} F1 {fp:.3f}; "
      f"{spent_p*1e3:.0f} ms, {spent_p*1e6/n:.0f} µs a paragraph")
