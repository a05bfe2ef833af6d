#!/usr/bin/env python3
"""Prints this machine's apt sources for Debian SUITE (and SUITE-updates,
SUITE-security) as one-line entries, for the arm64 apt and debootstrap of
vm/arm64/run-install-test.sh. The mirrors are whatever apt here is set up
with (deb822 *.sources, *.list, sources.list); none is written down in
this repository. Entries limited to other architectures are left out.

Usage: apt-sources.py SUITE [ARCH]      (standard library only)
"""
import glob
import re
import sys

suite, arch = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "arm64")
entries = []


def keep(types, arches):
    return "deb" in types and (not arches or arch in arches)


for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path, encoding="utf-8").read()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        types = fields.get("types", "").split()
        arches = fields.get("architectures", "").split()
        if not keep(types, arches):
            continue
        opts = f"[signed-by={fields['signed-by']}] " if fields.get("signed-by", "").startswith("/") else ""
        for uri in fields.get("uris", "").split():
            for s in fields.get("suites", "").split():
                entries.append((s, f"deb {opts}{uri} {s} {fields.get('components', 'main')}"))

for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
        if not m:
            continue
        opts = m.group(1) or ""
        am = re.search(r"arch=([^\s\]]+)", opts)
        if am and arch not in am.group(1).split(","):
            continue
        opts = re.sub(r"arch=[^\s\]]+\s*", "", opts).replace("[ ]", "").replace("[]", "")
        entries.append((m.group(3), f"deb {opts.strip() + ' ' if opts.strip() else ''}{m.group(2)} {m.group(3)} {m.group(4)}"))

wanted = [e for s, e in entries if s == suite or s.startswith(suite + "-") or s.startswith(suite + "/")]
if not any(s == suite for s, _ in entries):
    sys.exit(f"apt-sources: no 'deb' entry for suite {suite} in this machine's apt configuration")
print("\n".join(dict.fromkeys(wanted)))
