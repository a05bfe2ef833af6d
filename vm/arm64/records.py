#!/usr/bin/env python3
"""Walks a kiosk record log (device/src/record_log.rs) the VM sent back and
lists its entries: header, each entry's length and CRC-32, the signed
envelope's magic and lengths, and its embedded record hash against
SHA-256(domain || record bytes) (screening/src/record/sign.rs, format.rs).
The Ed25519 signature and the chain are the kiosk's own business (it
refuses to open a log whose chain does not verify).

Usage: records.py records.log [records-before-upgrade.log]
Exit status 1 when the log is damaged, or when the second log is not a
prefix of the first.   (standard library only)
"""
import hashlib
import struct
import sys
import zlib

LOG_MAGIC = b"SKLOG\x00\x01\n"
ENVELOPE_MAGIC = b"SKR\x01"
HASH_DOMAIN = b"synkinesis-kiosk/record-hash/v1\x00"


def walk(data):
    if data[:8] != LOG_MAGIC:
        raise ValueError("bad header (not a record log)")
    entries, off = [], 8
    while off < len(data):
        if off + 8 > len(data):
            raise ValueError(f"torn entry header at offset {off}")
        n, crc = struct.unpack_from("<II", data, off)
        payload = data[off + 8 : off + 8 + n]
        if len(payload) != n:
            raise ValueError(f"entry at offset {off}: {len(payload)} of {n} bytes")
        if zlib.crc32(payload) != crc:
            raise ValueError(f"entry at offset {off}: CRC-32 mismatch")
        if payload[:4] != ENVELOPE_MAGIC:
            raise ValueError(f"entry at offset {off}: not a signed record envelope")
        (m,) = struct.unpack_from("<I", payload, 4)
        if 8 + m + 96 != n:
            raise ValueError(f"entry at offset {off}: envelope lengths do not add up")
        record = payload[8 : 8 + m]
        claimed = payload[8 + m : 8 + m + 32]
        if hashlib.sha256(HASH_DOMAIN + record).digest() != claimed:
            raise ValueError(f"entry at offset {off}: record hash does not match its bytes")
        entries.append((off, n, m, claimed.hex()))
        off += 8 + n
    return entries


def main():
    data = open(sys.argv[1], "rb").read()
    try:
        entries = walk(data)
    except ValueError as e:
        print(f"records.log: DAMAGED: {e}")
        return 1
    print(f"records.log: {len(data)} bytes, {len(entries)} signed records")
    for i, (off, n, m, h) in enumerate(entries):
        print(f"  entry {i}: offset {off}, {n} bytes (record {m} bytes), hash {h[:16]}…, CRC ok")
    if len(sys.argv) > 2:
        before = open(sys.argv[2], "rb").read()
        kept = data[: len(before)] == before
        try:
            count = f"{len(walk(before))} records"
        except ValueError as e:  # copied while the kiosk appended: a torn tail
            count = f"copy ends in a partial entry ({e})"
        print(f"before the upgrade: {len(before)} bytes, {count}; "
              + ("still the log's first bytes" if kept else "NOT a prefix of the log after the upgrade"))
        if not kept:
            return 1
    return 0 if entries else 1


sys.exit(main())
