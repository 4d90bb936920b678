#!/usr/bin/env python3
"""Derives test vectors from the GS1 Barcode Syntax Engine's own tests
(src/c-lib of https://github.com/gs1/gs1-syntax-engine, Apache-2.0):

    scanner/gs1/engine_vectors.py dl             PATH/dl.c "VERSION" > tests/data/gs1/dl_vectors.csv
    scanner/gs1/engine_vectors.py hri            PATH/ai.c "VERSION" > tests/data/gs1/hri_vectors.csv
    scanner/gs1/engine_vectors.py element_string PATH/ai.c "VERSION" > tests/data/gs1/element_string_vectors.csv
    scanner/gs1/engine_vectors.py scan_data      PATH/scandata.c "VERSION" > tests/data/gs1/scan_data_vectors.csv

Each test call (test_parseDLuri, test_parseAIdata, test_processAIdata,
test_testProcessScanData) becomes a row: the engine mode it ran in (default, zero_suppressed: GTIN-8/12/13 padded in URIs;
convenience: "gtin"-style alphas; unknown_ais: AIs outside the dictionary
permitted), its verdict (accept/refuse), the input and
the element string the engine makes of it ('^' = FNC1; element-string
inputs are written that way too).
"""
import ast
import csv
import re
import sys


def c_strings(args):
    """The C string literals of `args`, adjacent ones joined, in order."""
    out, cur, joined = [], None, False
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|,', args):
        if m.group(0) == ",":
            if cur is not None:
                out.append(cur)
            cur = None
            continue
        text = ast.literal_eval('"' + m.group(1) + '"')
        cur = text if cur is None else cur + text
    if cur is not None:
        out.append(cur)
    return out


def strip_comments(src):
    """C source without its comments (string literals kept whole)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif src.startswith("/*", i):
            i = src.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# What each supported test of the engine is: its source file, function and
# macro, and the form of its input.
TESTS = {
    "dl": ("dl.c", "void test_dl_parseDLuri(void)", "test_parseDLuri", "digital_link"),
    "hri": ("ai.c", "void test_ai_parseAIdata(void)", "test_parseAIdata", "hri"),
    "element_string": ("ai.c", "void test_ai_processAIdata(void)", "test_processAIdata", "element_string"),
    "scan_data": ("scandata.c", "void test_scandata_processScanData(void)", "test_testProcessScanData", "scan_data"),
}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in TESTS:
        sys.exit(__doc__)
    which, path, version = sys.argv[1:]
    _, function, macro, form = TESTS[which]
    src = open(path, encoding="utf-8").read()
    body = src[src.index(function):]
    body = body[: body.index("\n}\n")]
    body = strip_comments(body)
    w = csv.writer(sys.stdout, lineterminator="\n")
    print(f"# GS1 Barcode Syntax Engine, src/c-lib/{TESTS[which][0]} {macro}, {version}")
    w.writerow(["mode", "verdict", form, "expected"])
    convenience = zero = unknown = False
    pattern = re.compile(
        r"permitConvenienceAlphas = (true|false)|setPermitZeroSuppressedGTINinDLuris\(ctx, (true|false)\)"
        r"|setPermitUnknownAIs\(ctx, (true|false)\)"
        r"|" + macro + r"\((true|false),(.*?)\);", re.S)
    for m in pattern.finditer(body):
        if m.group(1):
            convenience = m.group(1) == "true"
        elif m.group(2):
            zero = m.group(2) == "true"
        elif m.group(3):
            unknown = m.group(3) == "true"
        elif m.group(4) and "#define" not in body[max(0, m.start() - 9):m.start()]:
            strings = c_strings(m.group(5))
            if not strings or len(strings) > 2:
                continue
            mode = ("convenience" if convenience else "zero_suppressed" if zero else
                    "unknown_ais" if unknown else "default")
            w.writerow([mode, "accept" if m.group(4) == "true" else "refuse", strings[0],
                        strings[1] if len(strings) == 2 else ""])


if __name__ == "__main__":
    main()
