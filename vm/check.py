#!/usr/bin/env python3
"""Host-side checks of what the VM test (vm/run-vm-test.sh) brought back.

Standard library only (the PNG reader below handles the 8-bit RGB/RGBA,
non-interlaced files the kiosk writes). Prints one line per check and exits
non-zero if any fails.

- `kiosk cameras` listed vivid with YUYV at 640x480;
- `kiosk capture` got 10 frames of 640x480 from /dev/video0, and the picture
  is vivid's colour bar test pattern (each bar's colour checked);
- a frame vivid flags as damaged is skipped; vivid's "Disconnect" (a USB
  drop-out) mid-capture is reported as a lost camera, reopened, and capture
  carries on; after `rmmod vivid` the missing camera is "not connected";
- each screen read back from /dev/fb0 (32 and 16 bpp) matches the same screen
  rendered offscreen on the host, within the colour depth's rounding.
"""
import struct
import sys
import zlib
from pathlib import Path


def read_png(path):
    """Returns (width, height, rows) with rows as lists of (r, g, b)."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour {colour}, interlace {interlace})")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


failures = []
passes = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    (passes if ok else failures).append(what)


def mean_colour(rows, cx, cy, r=4):
    pixels = [rows[y][x] for y in range(cy - r, cy + r + 1) for x in range(cx - r, cx + r + 1)]
    return tuple(round(sum(p[i] for p in pixels) / len(pixels)) for i in range(3))


def main(out):
    out = Path(out)
    steps = (out / "steps.txt").read_text() if (out / "steps.txt").exists() else ""
    check("==STEP" in steps and "done" in steps, "VM ran every step to the end")

    cameras = (out / "cameras.txt").read_text() if (out / "cameras.txt").exists() else ""
    check("rc=0" in cameras, "kiosk cameras exited 0")
    check("/dev/video0" in cameras and "vivid" in cameras, "kiosk cameras lists /dev/video0 (vivid)")
    yuyv = [line for line in cameras.splitlines() if line.strip().startswith("YUYV")]
    check(bool(yuyv) and "640x480" in yuyv[0], "vivid offers YUYV at 640x480")

    capture = (out / "capture.txt").read_text() if (out / "capture.txt").exists() else ""
    check("rc=0" in capture and "captured 10 frames of 640x480" in capture, "kiosk capture got 10 frames of 640x480")
    if (out / "capture.png").exists():
        w, h, rows = read_png(out / "capture.png")
        check((w, h) == (640, 480), f"captured frame is 640x480 (got {w}x{h})")
        # vivid's default test pattern: 75 % colour bars, eight across.
        level = 191
        bars = [(1, 1, 1), (1, 1, 0), (0, 1, 1), (0, 1, 0), (1, 0, 1), (1, 0, 0), (0, 0, 1), (0, 0, 0)]
        got = [mean_colour(rows, int((i + 0.5) * w / 8), h // 2) for i in range(8)]
        for i, (want, have) in enumerate(zip(bars, got)):
            expect = tuple(level * c for c in want)
            close = all(abs(a - b) <= 24 for a, b in zip(expect, have))
            check(close, f"colour bar {i + 1}: expected about {expect}, got {have}")
    else:
        check(False, "capture.png came back")

    unplug = (out / "unplug.txt").read_text() if (out / "unplug.txt").exists() else ""
    check("flagged the frame as damaged" in unplug, "a frame vivid flagged as damaged was skipped")
    check("lost: camera /dev/video0 is not connected" in unplug, "vivid's disconnect was reported as a lost camera")
    check("reopened on try 1" in unplug, "the camera was reopened after the disconnect")
    check("captured 30 frames of 640x480" in unplug and "rc=0" in unplug, "capture carried on to 30 good frames")
    gone = (out / "gone.txt").read_text() if (out / "gone.txt").exists() else ""
    check("is not connected" in gone and "rc=1" in gone, "a camera whose node is gone is reported as not connected")
    check("panicked" not in unplug + gone, "no panic")

    for show in ("welcome", "result-demo"):
        ref_path = out / f"ref-{show}.png"
        _, _, ref = read_png(ref_path)
        for bpp, tolerance in ((32, 0), (16, 8)):
            path = out / f"fb-{show}-{bpp}.png"
            if not path.exists():
                check(False, f"framebuffer dump of {show} at {bpp} bpp came back")
                continue
            w, h, fb = read_png(path)
            if (w, h) != (len(ref[0]), len(ref)):
                check(False, f"{show} at {bpp} bpp: size {w}x{h} differs from the reference")
                continue
            worst, off = 0, 0
            for y in range(h):
                for a, b in zip(fb[y], ref[y]):
                    d = max(abs(a[0] - b[0]), abs(a[1] - b[1]), abs(a[2] - b[2]))
                    worst = max(worst, d)
                    off += d > tolerance
            check(off == 0, f"{show} on /dev/fb0 at {bpp} bpp matches the offscreen render "
                            f"(worst channel difference {worst}, {off} pixels beyond {tolerance})")
        distinct = len({px for row in ref[::8] for px in row[::8]})
        check(distinct >= 3, f"{show} reference is a real picture ({distinct} colours sampled)")

    print(f"vm: {len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "target/vm-test"))
