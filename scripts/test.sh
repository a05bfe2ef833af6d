#!/usr/bin/env bash
# The README's test command: installs what the tests need beyond the Rust
# toolchain, then runs every test of the workspace.
#
#   scripts/test.sh               all tests
#   scripts/test.sh --locked ...  more arguments go to `cargo test --workspace`
#
# The only system packages the tests need are Debian's Chromium and
# ChromeDriver, for the clinic web page's browser test; they are installed
# when missing (as root directly, otherwise through sudo; .ci/install-deps.sh
# test). Everything else (the V4L2 bindings, SQLite, the models) builds from
# or ships in the repository. .ci/run runs this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/install-deps.sh test
exec cargo test --workspace "$@"
