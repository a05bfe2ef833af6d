#!/usr/bin/env python3
"""Checks the screen the VM read back from /dev/fb0 (`kiosk fb-dump`) while
kiosk.service ran on the vivid camera: the kiosk shows the camera's picture,
so one row across the preview must cross vivid's eight 75 % colour bars
(white, yellow, cyan, green, magenta, red, blue, black) left to right.
Layout-independent: it looks for the bars in order, wherever they are.

Usage: screens.py fb-vivid.png      (standard library; the PNG reader of vm/check.py)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from check import read_png  # noqa: E402  (vm/check.py)

BARS = [("white", (191, 191, 191)), ("yellow", (191, 191, 0)), ("cyan", (0, 191, 191)),
        ("green", (0, 191, 0)), ("magenta", (191, 0, 191)), ("red", (191, 0, 0)),
        ("blue", (0, 0, 191)), ("black", (0, 0, 0))]


def bars_in_row(row, tolerance=24, min_run=8):
    """The bar colours met along the row, in order, each run at least min_run pixels."""
    seen, run_name, run = [], None, 0
    for p in row + [(-1000, -1000, -1000)]:
        name = next((n for n, c in BARS if all(abs(a - b) <= tolerance for a, b in zip(p, c))), None)
        if name == run_name:
            run += 1
            continue
        if run_name and run >= min_run and (not seen or seen[-1] != run_name):
            seen.append(run_name)
        run_name, run = name, 1
    return seen


def main(path):
    width, height, rows = read_png(path)
    wanted = [n for n, _ in BARS]
    for y in range(height // 4, height * 7 // 8, 4):
        found = bars_in_row(rows[y])
        # The eight bars, in order, as a contiguous part of what the row crosses.
        for i in range(len(found) - 7):
            if found[i:i + 8] == wanted:
                print(f"{width}x{height} screen; row {y} crosses vivid's bars: {' '.join(wanted)}")
                return 0
    print(f"{width}x{height} screen; vivid's eight colour bars not found in the preview")
    return 1


sys.exit(main(sys.argv[1]))
