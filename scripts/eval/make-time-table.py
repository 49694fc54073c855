#!/usr/bin/env python3
"""Writes crates/cli/data/time-expressions.tsv: Chinese time expressions with the interval each
must be read as, relative to a report time.

The expected intervals are computed here, independently of the Rust parser, from the
conventions documented at the top of crates/text/src/time.rs; lunar dates come from a table of
known solar dates (not from a lunar-calendar library). Rows were reviewed by hand."""
import datetime as dt
import sys

D = dt.date
T = dt.datetime
day = dt.timedelta(days=1)

CNY = {2023: D(2023, 1, 22), 2024: D(2024, 2, 10), 2025: D(2025, 1, 29), 2026: D(2026, 2, 17)}
MID_AUTUMN = {2024: D(2024, 9, 17), 2025: D(2025, 10, 6)}
DRAGON_BOAT = {2024: D(2024, 6, 10), 2025: D(2025, 5, 31)}
XIAONIAN = {2024: D(2024, 2, 2), 2025: D(2025, 1, 22)}  # 腊月二十三 falling in that solar year

def dstart(d): return T(d.year, d.month, d.day)
def days(a, b): return (dstart(a), dstart(b))
def one(d): return days(d, d + day)
def month(y, m):
    e = D(y + 1, 1, 1) if m == 12 else D(y, m + 1, 1)
    return days(D(y, m, 1), e)
def months(y, m1, m2): return (month(y, m1)[0], month(y, m2)[1])
def year(y): return days(D(y, 1, 1), D(y + 1, 1, 1))
def last_day(y, m): return (month(y, m)[1] - day).day
def xun(y, m, a, b): return days(D(y, m, a), D(y, m, min(b, last_day(y, m))) + day)
def hours(d, a, b): return (dstart(d) + dt.timedelta(hours=a), dstart(d) + dt.timedelta(hours=b))
def hour(d, h): return hours(d, h, h + 1)
def minute(d, h, m):
    s = dstart(d) + dt.timedelta(hours=h, minutes=m)
    return (s, s + dt.timedelta(minutes=1))
def monday(d): return d - dt.timedelta(days=d.weekday())
def past_md(r, m, d):
    """latest m-d not after the report day"""
    x = D(r.year, m, d)
    return x if x <= r.date() else D(r.year - 1, m, d)
def month_back(r, n):
    y, m = r.year, r.month
    for _ in range(n):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return y, m

PARTS = {"凌晨": (0, 6), "早上": (6, 9), "上午": (8, 12), "中午": (11, 13), "下午": (13, 18),
         "傍晚": (17, 19), "晚上": (18, 24), "深夜": (22, 26), "白天": (6, 18), "夜里": (18, 24)}

def festival_pick(r, by_year, before=0, after=0, mode=""):
    """the occurrence containing the report day, else the latest one starting before it"""
    best = None
    for y in (r.year + 1, r.year, r.year - 1):
        iv = by_year(y)
        if iv is None:
            continue
        s, e = iv
        if mode == "前": s, e = s - dt.timedelta(days=before), s
        elif mode == "后": s, e = e, e + dt.timedelta(days=after)
        if s <= r.date() < e:
            return days(s, e)
        if s <= r.date() and (best is None or s > best[0]):
            best = (s, e)
    return days(*best)

def spring(y):
    c = CNY.get(y)
    return (c - day, c - day + dt.timedelta(days=7)) if c else None

def rows_for(r):
    R = r.date()
    out = []
    add = lambda e, iv: out.append((r, e, iv))
    y = R.year
    # absolute dates and their refinements
    add("2024年3月5日", one(D(2024, 3, 5)))
    add("2024年3月5号", one(D(2024, 3, 5)))
    add("二〇二四年三月五日", one(D(2024, 3, 5)))
    add("2023年12月31日", one(D(2023, 12, 31)))
    add("2024年2月29日", one(D(2024, 2, 29)))
    for p, (a, b) in PARTS.items():
        add(f"2024年3月5日{p}", hours(D(2024, 3, 5), a, b))
    add("2024年3月5日8时", hour(D(2024, 3, 5), 8))
    add("2024年3月5日8点", hour(D(2024, 3, 5), 8))
    add("2024年3月5日8点30分", minute(D(2024, 3, 5), 8, 30))
    add("2024年3月5日20时15分", minute(D(2024, 3, 5), 20, 15))
    add("2024年3月5日下午3点", hour(D(2024, 3, 5), 15))
    add("2024年3月5日晚上8点半", minute(D(2024, 3, 5), 20, 30))
    add("2024年3月5日凌晨1时", hour(D(2024, 3, 5), 1))
    add("2024年3月5日中午12点", hour(D(2024, 3, 5), 12))
    add("2024年3月5日上午10点", hour(D(2024, 3, 5), 10))
    add("2024年3月5日10:30", minute(D(2024, 3, 5), 10, 30))
    add("2024年3月5日下午15时", hour(D(2024, 3, 5), 15))
    add("2024年", year(2024))
    add("2024年3月", month(2024, 3))
    add("2024年3月份", month(2024, 3))
    add("2024年3月初", xun(2024, 3, 1, 10))
    add("2024年3月中旬", xun(2024, 3, 11, 20))
    add("2024年3月下旬", xun(2024, 3, 21, 31))
    add("2024年3月底", xun(2024, 3, 21, 31))
    add("2024年2月底", xun(2024, 2, 21, 31))
    add("2023年2月底", xun(2023, 2, 21, 31))
    add("2024年春天", months(2024, 3, 5))
    add("2024年秋季", months(2024, 9, 11))
    add("2024年冬天", days(D(2024, 12, 1), D(2025, 3, 1)))
    add("2024年上半年", months(2024, 1, 6))
    add("2024年下半年", months(2024, 7, 12))
    add("2024年年初", month(2024, 1))
    add("2024年年底", month(2024, 12))
    add("2024年4、5月间", months(2024, 4, 5))
    # relative years
    add("今年", year(y))
    add("去年", year(y - 1))
    add("前年", year(y - 2))
    add("去年年底", month(y - 1, 12))
    add("今年年初", month(y, 1))
    add("去年3月", month(y - 1, 3))
    add("去年3月5日", one(D(y - 1, 3, 5)))
    add("今年春天", months(y, 3, 5))
    add("去年下半年", months(y - 1, 7, 12))
    add("前年8月", month(y - 2, 8))
    # month-day without a year
    add("3月5日", one(past_md(r, 3, 5)))
    add("3月5号", one(past_md(r, 3, 5)))
    add("三月五日", one(past_md(r, 3, 5)))
    add("12月25日", one(past_md(r, 12, 25)))
    add("5月1日", one(past_md(r, 5, 1)))
    add("3月5日下午", hours(past_md(r, 3, 5), 13, 18))
    add("3月5日晚上9点", hour(past_md(r, 3, 5), 21))
    # months
    lm = month_back(R, 1)
    add("上个月", month(*lm))
    add("上月", month(*lm))
    add("本月", month(y, R.month))
    add("这个月", month(y, R.month))
    add("上个月15号", one(D(lm[0], lm[1], 15)))
    add("本月初", xun(y, R.month, 1, 10))
    add("上月底", xun(lm[0], lm[1], 21, 31))
    # relative days
    for e, n in [("今天", 0), ("昨天", -1), ("前天", -2), ("大前天", -3), ("明天", 1), ("后天", 2),
                 ("昨日", -1), ("今日", 0)]:
        add(e, one(R + dt.timedelta(days=n)))
    add("昨晚", hours(R - day, 18, 24))
    add("今晚", hours(R, 18, 24))
    add("今早", hours(R, 6, 9))
    add("昨天下午", hours(R - day, 13, 18))
    add("昨天晚上", hours(R - day, 18, 24))
    add("前天上午", hours(R - 2 * day, 8, 12))
    add("昨天下午3点", hour(R - day, 15))
    add("今天上午9点", hour(R, 9))
    add("昨晚10点", hour(R - day, 22))
    add("前天夜里", hours(R - 2 * day, 18, 24))
    add("3天前", one(R - 3 * day))
    add("三天前", one(R - 3 * day))
    add("两天前", one(R - 2 * day))
    add("一周前", one(R - 7 * day))
    add("两个星期前", one(R - 14 * day))
    add("半个月前", one(R - 15 * day))
    add("3个月前", month(*month_back(R, 3)))
    add("一年前", year(y - 1))
    add("两年前", year(y - 2))
    # weeks
    mo = monday(R)
    add("上周", days(mo - 7 * day, mo))
    add("本周", days(mo, mo + 7 * day))
    add("这周", days(mo, mo + 7 * day))
    add("上周三", one(mo - 7 * day + 2 * day))
    add("上星期五", one(mo - 7 * day + 4 * day))
    add("上个礼拜一", one(mo - 7 * day))
    add("本周一", one(mo))
    add("这周二", one(mo + day))
    add("下周一", one(mo + 7 * day))
    for e, wd in [("周一", 0), ("星期五", 4), ("礼拜天", 6)]:
        d = mo + wd * day
        add(e, one(d if d <= R else d - 7 * day))
    add("上周末", days(mo - 2 * day, mo))
    sat = mo + 5 * day
    sat = sat if sat <= R else sat - 7 * day
    add("周末", days(sat, sat + 2 * day))
    # fuzzy
    for e, back in [("近日", 7), ("最近", 7), ("近期", 7), ("日前", 7), ("前几天", 5), ("这几天", 5), ("前段时间", 30)]:
        add(e, (dstart(R - back * day), r))
    add("刚才", (r - dt.timedelta(hours=1), r))
    # festivals
    add("春节前", festival_pick(r, spring, before=30, mode="前"))
    add("春节后", festival_pick(r, spring, after=30, mode="后"))
    add("春节期间", festival_pick(r, spring))
    add("过年前", festival_pick(r, spring, before=30, mode="前"))
    add("元旦", festival_pick(r, lambda yy: (D(yy, 1, 1), D(yy, 1, 2))))
    add("国庆期间", festival_pick(r, lambda yy: (D(yy, 10, 1), D(yy, 10, 8))))
    add("国庆节前", festival_pick(r, lambda yy: (D(yy, 10, 1), D(yy, 10, 8)), before=15, mode="前"))
    add("五一", festival_pick(r, lambda yy: (D(yy, 5, 1), D(yy, 5, 6))))
    mid = lambda yy: (MID_AUTUMN[yy], MID_AUTUMN[yy] + day) if yy in MID_AUTUMN else None
    add("中秋节", festival_pick(r, mid))
    add("中秋节前", festival_pick(r, mid, before=15, mode="前"))
    dragon = lambda yy: (DRAGON_BOAT[yy], DRAGON_BOAT[yy] + day) if yy in DRAGON_BOAT else None
    add("端午节", festival_pick(r, dragon))
    lantern = lambda yy: (CNY[yy] + 14 * day, CNY[yy] + 15 * day) if yy in CNY else None
    add("元宵节", festival_pick(r, lantern))
    eve = lambda yy: (CNY[yy] - day, CNY[yy]) if yy in CNY else None
    add("除夕", festival_pick(r, eve))
    add("大年三十", festival_pick(r, eve))
    xn = lambda yy: (XIAONIAN[yy], XIAONIAN[yy] + day) if yy in XIAONIAN else None
    add("小年", festival_pick(r, xn))
    s24 = spring(2024)
    add("2024年春节前", days(s24[0] - 30 * day, s24[0]))
    add("2024年春节期间", days(*s24))
    add("去年国庆", days(D(y - 1, 10, 1), D(y - 1, 10, 8)))
    # lunar: the latest such date not after the report day
    cny = CNY[y] if CNY[y] <= R else CNY[y - 1]
    add("农历正月初八", one(cny + 7 * day))
    add("正月初八", one(cny + 7 * day))
    add("正月十五", one(cny + 14 * day))
    add("农历正月初一", one(cny))
    # clock times alone (on the report day)
    add("16时", hour(R, 16))
    add("晚上8时", hour(R, 20))
    add("下午3点", hour(R, 15))
    add("凌晨2点", hour(R, 2))
    return out

REPORTS = [T(2025, 3, 12, 10, 0), T(2024, 11, 20, 15, 30), T(2026, 1, 5, 9, 0)]
rows = []
for r in REPORTS:
    rows += rows_for(r)
fmt = "%Y-%m-%d %H:%M"
w = sys.stdout
w.write("# report_time\texpression\tstart\tend (exclusive); local time. Generated by scripts/eval/make-time-table.py\n")
for r, e, (s, t) in rows:
    w.write(f"{r.strftime(fmt)}\t{e}\t{s.strftime(fmt)}\t{t.strftime(fmt)}\n")
print(len(rows), file=sys.stderr)
