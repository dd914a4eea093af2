"""Reads skein's four CSV files with Python's csv module and checks them against the files a
real Locust 2.47 wrote: same headers, same line ends, and every column of the same type.

usage: check_csv.py OUR_PREFIX LOCUST_SAMPLE_PREFIX
"""
import csv
import re
import sys

INT = re.compile(r"^-?\d+$")
FLOAT = re.compile(r"^-?(\d+\.\d*(e[+-]\d+)?|\d+e[+-]\d+|inf|nan)$")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def kind(v):
    if v == "":
        return "empty"
    if v == "N/A":
        return "na"
    if INT.match(v):
        return "int"
    if FLOAT.match(v):
        return "float"
    if TS.match(v):
        return "ts"
    return "str"


# Columns whose Python type legitimately changes with the data (int 0 before any request,
# a float after; an int median unless clamped; N/A without requests).
NUMERIC = {"int", "float", "na"}


def read(path):
    raw = open(path, "rb").read()
    body = raw.decode("utf-8")
    if body and not body.endswith("\r\n"):
        raise SystemExit(f"{path}: does not end with CRLF")
    if "\n" in body.replace("\r\n", "") and "Traceback" not in body:
        raise SystemExit(f"{path}: bare LF line end")
    with open(path, newline="") as f:
        return list(csv.reader(f))


def compare(ours_path, theirs_path):
    ours, theirs = read(ours_path), read(theirs_path)
    if ours[0] != theirs[0]:
        raise SystemExit(f"{ours_path}: header differs:\n ours   {ours[0]}\n locust {theirs[0]}")
    width = len(theirs[0])
    for i, row in enumerate(ours[1:], 2):
        if len(row) != width:
            raise SystemExit(f"{ours_path}:{i}: {len(row)} fields, Locust writes {width}")
    # Column kinds: every kind we write must be one Locust writes in that column, where the
    # sample has rows; numeric columns may move between int, float and N/A as Locust's do.
    for col in range(width):
        theirs_kinds = {kind(r[col]) for r in theirs[1:]}
        if not theirs_kinds:
            continue
        for i, row in enumerate(ours[1:], 2):
            k = kind(row[col])
            ok = k in theirs_kinds or (k in NUMERIC and theirs_kinds & NUMERIC) or (k == "empty" and col in (0,))
            if not ok and theirs_kinds <= {"str", "empty"} and k in {"str", "empty"}:
                ok = True
            if not ok:
                raise SystemExit(
                    f"{ours_path}:{i}: column {theirs[0][col]!r} is {k} ({row[col]!r}); Locust writes {sorted(theirs_kinds)}"
                )
    return len(ours) - 1


def main():
    ours, theirs = sys.argv[1], sys.argv[2]
    counts = {}
    for kind_ in ("stats", "stats_history", "failures", "exceptions"):
        counts[kind_] = compare(f"{ours}_{kind_}.csv", f"{theirs}_{kind_}.csv")
    stats = read(f"{ours}_stats.csv")
    if stats[-1][1] != "Aggregated" or stats[-1][0] != "":
        raise SystemExit("stats: the last row must be the Aggregated total with an empty Type")
    rows = [(r[1], r[0]) for r in stats[1:-1]]
    if rows != sorted(rows):
        raise SystemExit(f"stats: rows not sorted by (name, method): {rows}")
    print("csv ok", counts)


main()
