//! Raw V4L2 bindings for the `v4l` crate, without bindgen at build time.
//!
//! `bindings/*.rs` are the output of the upstream crate's own build script
//! (bindgen 0.65.1 over `#include <linux/videodev2.h>`), run once per target
//! against that target's Debian kernel headers; `regenerate.sh` makes them
//! again and `tests/kernel_headers.rs` checks every `v4l2_*` layout and
//! constant against the headers the C compiler sees.
#![allow(clippy::all)]
#![allow(deref_nullptr)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(non_upper_case_globals)]

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
include!("bindings/x86_64.rs");
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
include!("bindings/aarch64.rs");
#[cfg(all(target_os = "linux", target_arch = "arm"))]
include!("bindings/arm.rs");

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")
)))]
compile_error!(
    "no pre-generated V4L2 bindings for this target: run third_party/v4l2-sys-mit/regenerate.sh \
     with the target's kernel headers and add a bindings file for it"
);
