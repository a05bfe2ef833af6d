//! Building the web page's HTML on the server: escaping, the one page
//! layout (small inline stylesheet, no script, nothing fetched from
//! elsewhere), and little pieces the pages share.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use image::RgbImage;
use screening::decision::DISCLAIMER;

/// Text made safe for HTML element content and double-quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f23;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}
header a{color:#fff;text-decoration:none}header .who{margin-left:auto;opacity:.85}
header form{margin:0}header button{background:none;border:1px solid #fff8;color:#fff;border-radius:4px;cursor:pointer}
main{max-width:60em;margin:1.2em auto;padding:0 1em}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #dde;padding:.3em .6em;text-align:left}th{background:#eef1f5}
.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{background:#fff;border:1px solid #dde;border-radius:6px;padding:.7em 1em;min-width:9em}
.card b{display:block;font-size:1.8em}
.refer{color:#a4161a;font-weight:600}.ok{color:#1b7a3a;font-weight:600}.warn{color:#8a5a00;font-weight:600}
.disclaimer{background:#fff4d6;border:1px solid #e0c060;border-radius:6px;padding:.5em .8em;font-weight:600}
.error{background:#fde2e2;border:1px solid #d88;border-radius:6px;padding:.5em .8em}
.views{display:flex;gap:1.5em;flex-wrap:wrap}.views figure{margin:0}.views figcaption{max-width:260px;font-size:.9em}
.views img{width:224px;height:224px;image-rendering:pixelated;border:1px solid #ccd}
form.box{background:#fff;border:1px solid #dde;border-radius:6px;padding:1em;max-width:26em}
label{display:block;margin:.4em 0}input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.3em}
button.primary{background:#1d3557;color:#fff;border:0;border-radius:4px;padding:.4em 1em;cursor:pointer}
code{font-size:.9em;word-break:break-all}
";

/// Who is logged in, for the header (name and CSRF token of the logout form).
pub struct Viewer<'a> {
    /// User name.
    pub name: &'a str,
    /// Session CSRF token.
    pub csrf: &'a str,
}

/// A whole page: `title`, the navigation when someone is logged in, `body`.
pub fn page(title: &str, viewer: Option<&Viewer<'_>>, body: &str) -> String {
    let nav = match viewer {
        Some(v) => format!(
            "<a href=\"/\">Dashboard</a><a href=\"/records\">Records</a><a href=\"/upload\">Classify a photo</a>\
             <a href=\"/security\">Security</a><span class=\"who\">{}</span><form method=\"post\" action=\"/logout\">{}<button>Log out</button></form>",
            esc(v.name),
            csrf_field(v.csrf)
        ),
        None => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · Synkinesis clinic</title><style>{STYLE}</style></head>\
         <body><header><strong>Synkinesis clinic</strong>{nav}</header><main>{body}</main></body></html>\n",
        esc(title)
    )
}

/// `text` as one component of a URL's query: every byte but the unreserved
/// ones percent-encoded (a patient reference may hold `&`, `#` or a space).
pub fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `bytes` as a CSV file the browser saves as `filename`.
pub fn csv_download(filename: &str, bytes: Vec<u8>) -> Response {
    (
        [
            ("content-type", "text/csv; charset=utf-8".to_string()),
            (
                "content-disposition",
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// An outcome as the pages show it, coloured by its class.
pub fn outcome_cell(outcome: &str) -> String {
    let (class, text) = match outcome {
        "refer" => ("refer", "Refer"),
        "no_synkinesis_detected" => ("ok", "No synkinesis detected"),
        "incomplete" => ("warn", "Incomplete"),
        other => ("", other),
    };
    format!("<span class=\"{class}\">{}</span>", esc(text))
}

/// A patient reference linked to the patient's history (`–` when none).
pub fn patient_link(patient: Option<&str>) -> String {
    match patient {
        Some(p) => format!(
            "<a href=\"/patient?ref={}\">{}</a>",
            url_component(p),
            esc(p)
        ),
        None => "–".to_string(),
    }
}

/// The hidden CSRF field every POST form carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// The "screening aid" line, on every page that shows a result.
pub fn disclaimer() -> String {
    format!(
        "<p class=\"disclaimer\" id=\"disclaimer\">{}</p>",
        esc(DISCLAIMER)
    )
}

/// An error page with `status`: a heading, a sentence, a way on.
pub fn error_page(status: StatusCode, message: &str, viewer: Option<&Viewer<'_>>) -> Response {
    let body = format!(
        "<h1>{} {}</h1><p class=\"error\" id=\"error\">{}</p><p><a href=\"/\">Back to the dashboard</a></p>",
        status.as_u16(),
        esc(status.canonical_reason().unwrap_or("Error")),
        esc(message)
    );
    (status, Html(page("Error", viewer, &body))).into_response()
}

/// An image as an inline `data:` PNG (uploads are never written anywhere).
pub fn png_data_uri(img: &RgbImage) -> String {
    let mut png = Vec::new();
    let encoded = image::codecs::png::PngEncoder::new(&mut png);
    let ok = image::ImageEncoder::write_image(
        encoded,
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .is_ok();
    if !ok {
        return String::new();
    }
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    )
}

/// `YYYY-MM-DD HH:MM:SS UTC` for milliseconds since the Unix epoch.
pub fn time(ms: i64) -> String {
    let iso = crate::export::iso8601_utc(ms);
    match (iso.get(..10), iso.get(11..19)) {
        (Some(date), Some(clock)) => format!("{date} {clock} UTC"),
        _ => iso,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn pages_carry_no_external_assets() {
        let p = page("t", None, "<p>x</p>");
        assert!(!p.contains("http://") && !p.contains("https://") && !p.contains("<script"));
        assert!(disclaimer().contains("Screening aid"));
    }

    #[test]
    fn times_read_plainly() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(1_764_000_000_123), "2025-11-24 16:00:00 UTC");
    }

    #[test]
    fn images_inline_as_png() {
        let uri = png_data_uri(&RgbImage::new(2, 2));
        assert!(
            uri.starts_with("data:image/png;base64,iVBORw0KGgo"),
            "{uri}"
        );
    }
}
