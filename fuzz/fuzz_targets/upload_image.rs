//! The photo a stranger uploads to the clinic's web page, as the page
//! decodes it: the declared size is checked against the header before any
//! pixel is decoded (at most `MAX_UPLOAD_PIXELS`), and whatever decodes is
//! bounded in size. Any bytes must give an image or an error, never a panic
//! or an allocation past the bound (libFuzzer's -rss_limit_mb catches that).
#![no_main]

use host::http::upload::MAX_UPLOAD_PIXELS;
use libfuzzer_sys::fuzz_target;
use screening::face::{decode_image_within, MAX_ANALYSIS_SIDE};

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = decode_image_within(data, MAX_UPLOAD_PIXELS) {
        assert!(img.width().max(img.height()) <= MAX_ANALYSIS_SIDE);
        assert!(u64::from(img.width()) * u64::from(img.height()) <= MAX_UPLOAD_PIXELS);
    }
});
