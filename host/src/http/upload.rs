//! "Classify a photo": a face photo is uploaded (multipart, size-limited,
//! PNG or JPEG by both its declared type and its first bytes), decoded, put
//! through the same face stage as the kiosk, aligned into the standard view
//! and classified; the page shows the view, the probability, the decision
//! against the threshold, the class-activation overlay, or the quality
//! gate's reason when it refuses. The upload is never written anywhere.
//!
//! A photo is framed by whoever took it, so the gate here does not ask the
//! face to be centred or to fill a share of the frame; everything else
//! (one face, enough pixels, light, pose, sharpness) is the kiosk's gate.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use image::{Rgb, RgbImage};
use screening::decision::Outcome;
use screening::face::{self, Analysis, FaceError, FaceStage, GateConfig, GateReason};
use screening::model::Manifest;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tracing::{info, warn};

use super::auth::Auth;
use super::classify::{PhotoClassification, PhotoClassifier};
use super::error::PageError;
use super::html::{csrf_field, disclaimer, esc, page, png_data_uri};
use super::AppState;

/// Largest accepted upload (the photo), bytes.
pub const MAX_UPLOAD_BYTES: usize = 12 * 1024 * 1024;
/// Photos analysed at the same time; more get "busy, try again".
pub const CONCURRENT_ANALYSES: usize = 2;
/// Most pixels an uploaded photo may declare (4096 x 4096: a 12 MP phone
/// photo fits). Checked against the file's header before decoding, it bounds
/// one analysis's decoding to 8 bytes a pixel (16-bit RGBA PNG) plus 64 MiB
/// of decoder slack, 192 MiB at most, and the page to
/// [`CONCURRENT_ANALYSES`] times that.
pub const MAX_UPLOAD_PIXELS: u64 = 4096 * 4096;
/// Longer side of the photo preview on the result page, pixels.
const PREVIEW_SIDE: u32 = 320;

/// Routes: `GET /upload` (the form), `POST /upload` (the result).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/upload", get(upload_page).post(upload))
        // Room for the form's other fields and the multipart framing.
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024))
}

/// The face stage and classifier the page runs, loaded once at start.
pub struct PhotoAnalyzer {
    stage: FaceStage,
    classifier: Result<PhotoClassifier, String>,
    permits: Semaphore,
}

impl std::fmt::Debug for PhotoAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoAnalyzer")
            .field(
                "classifier",
                &self.classifier.as_ref().map(|c| c.describe()),
            )
            .finish_non_exhaustive()
    }
}

/// The kiosk's gate without the framing rules (see the module docs).
pub fn photo_gate() -> GateConfig {
    GateConfig {
        max_centre_offset: f32::INFINITY,
        min_face_width: 0.0,
        max_face_width: f32::INFINITY,
        ..GateConfig::default()
    }
}

impl PhotoAnalyzer {
    /// Loads the face models of `models_dir` (required) and the int8
    /// classifier (optional: without it the page shows the aligned view and
    /// says why there is no probability).
    pub fn load(models_dir: &Path) -> Result<PhotoAnalyzer, FaceError> {
        let manifest = Manifest::load(models_dir)?;
        let stage = FaceStage::from_manifest(&manifest)?.with_gate(photo_gate());
        let classifier = PhotoClassifier::load(&manifest);
        if let Err(why) = &classifier {
            warn!(%why, "no classifier: the photo page will show the face stage only");
        }
        Ok(PhotoAnalyzer {
            stage,
            classifier,
            permits: Semaphore::new(CONCURRENT_ANALYSES),
        })
    }

    /// Analyses one uploaded file's bytes.
    pub fn analyse(&self, bytes: &[u8]) -> Result<PhotoReport, PageError> {
        let photo = face::decode_image_within(bytes, MAX_UPLOAD_PIXELS).map_err(|e| match e {
            FaceError::ImageTooLarge { .. } => PageError::TooLarge(format!(
                "The photo has too many pixels ({e}). Please send a smaller one."
            )),
            FaceError::UnsupportedFormat => {
                PageError::Unsupported("The file is not a PNG or JPEG photo.".into())
            }
            FaceError::EmptyImage => PageError::BadRequest("The photo is empty.".into()),
            other => PageError::BadRequest(format!("The photo cannot be read: {other}.")),
        })?;
        let analysis = self
            .stage
            .analyse_still(&photo)
            .map_err(|e| PageError::Internal(format!("face stage: {e}")))?;
        let aligned = analysis.aligned.as_ref().map(|a| a.image.clone());
        let classification = match (&analysis.verdict, &aligned) {
            (Ok(()), Some(view)) => Some(match &self.classifier {
                Ok(c) => c.classify(view),
                Err(why) => Err(format!("No classifier is installed: {why}")),
            }),
            _ => None,
        };
        let fissure_ratio = analysis.measures.map(|m| m.fissure_ratio);
        Ok(PhotoReport {
            fissure_ratio,
            preview: preview(&photo, &analysis),
            size: [photo.width(), photo.height()],
            faces: analysis.detections.len(),
            gate: analysis.verdict,
            aligned,
            classification,
        })
    }
}

/// Everything the result page shows.
#[derive(Debug, Clone)]
pub struct PhotoReport {
    /// The photo, reduced, with the faces found outlined.
    pub preview: RgbImage,
    /// Decoded size (after EXIF rotation and any shrinking).
    pub size: [u32; 2],
    /// Faces found.
    pub faces: usize,
    /// The gate's verdict.
    pub gate: Result<(), GateReason>,
    /// The standard view, when a face could be aligned.
    pub aligned: Option<RgbImage>,
    /// The classifier's answer (None when the gate refused).
    pub classification: Option<Result<PhotoClassification, String>>,
    /// The narrower eye's opening over the wider one's, when a face was measured.
    pub fissure_ratio: Option<f32>,
}

/// The photo shrunk to [`PREVIEW_SIDE`] with each face's box drawn (primary green, others red).
fn preview(photo: &RgbImage, analysis: &Analysis) -> RgbImage {
    let scale = (PREVIEW_SIDE as f32 / photo.width().max(photo.height()) as f32).min(1.0);
    let (w, h) = (
        ((photo.width() as f32 * scale).round() as u32).max(1),
        ((photo.height() as f32 * scale).round() as u32).max(1),
    );
    let mut out = image::imageops::resize(photo, w, h, image::imageops::FilterType::Triangle);
    for (i, d) in analysis.detections.iter().enumerate() {
        let colour = if Some(i) == analysis.primary {
            Rgb([40, 200, 90])
        } else {
            Rgb([230, 40, 40])
        };
        let b = &d.bbox;
        let clampx = |v: f32| ((v * scale).round().max(0.0) as u32).min(w - 1);
        let clampy = |v: f32| ((v * scale).round().max(0.0) as u32).min(h - 1);
        let (x0, x1, y0, y1) = (
            clampx(b.x),
            clampx(b.x + b.width),
            clampy(b.y),
            clampy(b.y + b.height),
        );
        for t in 0..2u32 {
            for x in x0..=x1 {
                out.put_pixel(x, (y0 + t).min(h - 1), colour);
                out.put_pixel(x, y1.saturating_sub(t), colour);
            }
            for y in y0..=y1 {
                out.put_pixel((x0 + t).min(w - 1), y, colour);
                out.put_pixel(x1.saturating_sub(t), y, colour);
            }
        }
    }
    out
}

fn form_html(csrf: &str) -> String {
    format!(
        "<form class=\"box\" method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\">{}\
         <label>Face photo (PNG or JPEG, at most {} MB)\
         <input type=\"file\" name=\"photo\" id=\"photo\" accept=\"image/png,image/jpeg\" required></label>\
         <button class=\"primary\" id=\"classify\">Classify</button></form>",
        csrf_field(csrf),
        MAX_UPLOAD_BYTES / (1024 * 1024)
    )
}

async fn upload_page(State(state): State<AppState>, auth: Auth) -> Response {
    let status = match &state.web.photo {
        None => "<p class=\"warn\">Photo analysis is not available: the face models were not loaded when the server started (see its log).</p>".to_string(),
        Some(a) => match &a.classifier {
            Ok(c) => format!("<p>Classifier: {}.</p>", esc(&c.describe())),
            Err(why) => format!("<p class=\"warn\">No classifier is installed ({}); the page will show the face stage's result only.</p>", esc(why)),
        },
    };
    let body = format!(
        "<h1>Classify a photo</h1>{}<p>The photo goes through the kiosk's own face stage and classifier. \
         It is analysed in memory and not stored. One photo gets the single-view answer, without the \
         comparison with the patient's rest view that the kiosk makes.</p>{status}{}",
        disclaimer(),
        form_html(&auth.csrf)
    );
    Html(page("Classify a photo", Some(&auth.viewer()), &body)).into_response()
}

/// Whether the bytes start like a PNG or a JPEG file.
pub fn looks_like_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> PageError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        PageError::TooLarge(format!(
            "The upload is larger than {} MB.",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ))
    } else {
        PageError::BadRequest(format!("The upload was not understood: {}", e.body_text()))
    }
}

async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let mut multipart = multipart.map_err(|r| {
        PageError::BadRequest(format!(
            "The upload must be sent by the page's form (multipart/form-data): {}",
            r.body_text()
        ))
    })?;
    let mut csrf = None;
    let mut photo = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("csrf") => csrf = Some(field.text().await.map_err(multipart_error)?),
            Some("photo") => {
                let declared = field.content_type().map(str::to_owned);
                let bytes = field.bytes().await.map_err(multipart_error)?;
                photo = Some((declared, bytes));
            }
            _ => {}
        }
    }
    auth.check_csrf(csrf.as_deref())?;
    let Some((declared, bytes)) = photo.filter(|(_, b)| !b.is_empty()) else {
        return Err(PageError::BadRequest(
            "No photo was sent: choose a file first.".into(),
        ));
    };
    let declared_ok = matches!(
        declared.as_deref(),
        Some("image/png" | "image/jpeg" | "image/jpg" | "image/pjpeg")
    );
    if !declared_ok || !looks_like_image(&bytes) {
        warn!(declared = ?declared, bytes = bytes.len(), "refused an upload that is not a PNG or JPEG");
        return Err(PageError::Unsupported(format!(
            "Only PNG and JPEG photos are accepted (the file was sent as {}{}).",
            declared.as_deref().unwrap_or("an unnamed type"),
            if looks_like_image(&bytes) {
                ""
            } else {
                " and does not start like an image"
            }
        )));
    }
    let analyzer = state.web.photo.clone().ok_or_else(|| {
        PageError::Unavailable(
            "Photo analysis is not available: the face models were not loaded when the server started."
                .into(),
        )
    })?;
    let report = {
        let _permit = analyzer.permits.try_acquire().map_err(|_| {
            PageError::Unavailable(
                "Other photos are being analysed right now: please try again in a moment.".into(),
            )
        })?;
        let a = analyzer.clone();
        tokio::task::spawn_blocking(move || a.analyse(&bytes))
            .await
            .unwrap_or_else(|e| Err(PageError::Internal(format!("photo worker failed: {e}"))))?
    };
    info!(user = %auth.user, faces = report.faces, gate = ?report.gate, "photo classified on the web page");
    Ok(Html(page(
        "Result",
        Some(&auth.viewer()),
        &result_html(&report, &auth.csrf),
    ))
    .into_response())
}

/// What a single photo can and cannot say. The kiosk compares each
/// expression with the same patient's rest and one side with the other; a
/// lone upload has no rest, and on real faces the classifier's single-view
/// answer does not tell one eye narrowing from both (model card, "Real
/// faces"), so the page says so beside every answer and shows the eye
/// measure the comparison rests on.
fn single_view_note(fissure_ratio: Option<f32>) -> String {
    let eyes = fissure_ratio.map_or(String::new(), |r| {
        format!(
            " In this photo the narrower eye is open <b>{:.0} %</b> as wide as the other \
             (the kiosk's eye-narrowing rule refers at 80 % or less, measured against the rest view).",
            100.0 * r
        )
    });
    format!(
        "<p class=\"warn\" id=\"single-view\">One photo without the patient's rest view gets the \
         single-view answer, the weaker one: on real faces it refers some healthy faces and does not \
         tell one eye narrowing from both narrowing alike. For a screening, use the kiosk, which \
         photographs rest and each expression.{eyes}</p>"
    )
}

/// The result page's body.
pub fn result_html(r: &PhotoReport, csrf: &str) -> String {
    let mut body = format!("<h1>Result</h1>{}", disclaimer());
    match &r.gate {
        Err(reason) => body.push_str(&format!(
            "<p class=\"warn\" id=\"gate\">The photo cannot be screened: {} <small>(quality gate: {reason})</small></p>",
            esc(reason.message())
        )),
        Ok(()) => body.push_str("<p class=\"ok\" id=\"gate\">The quality gate accepts the photo.</p>"),
    }
    match &r.classification {
        Some(Ok(c)) => {
            let outcome = c.outcome();
            let class = if outcome == Outcome::Refer {
                "refer"
            } else {
                "ok"
            };
            body.push_str(&format!(
                "<p class=\"{class}\" id=\"decision\">{}</p>\
                 <p id=\"probability\">Probability of synkinesis <b>{:.3}</b> against the threshold {:.3} \
                 (classifier <code>{}</code>).</p>",
                esc(outcome.headline()),
                c.probability,
                c.threshold,
                esc(&c.variant)
            ));
        }
        Some(Err(why)) => body.push_str(&format!(
            "<p class=\"warn\" id=\"decision\">No probability: {}</p>",
            esc(why)
        )),
        None => {}
    }
    if r.classification.is_some() {
        body.push_str(&single_view_note(r.fissure_ratio));
    }
    body.push_str("<div class=\"views\">");
    let figure = |id: &str, img: &RgbImage, caption: &str, pixelated: bool| {
        let style = if pixelated {
            ""
        } else {
            " style=\"width:auto;height:auto;max-width:260px\""
        };
        format!(
            "<figure><img id=\"{id}\" alt=\"{}\" src=\"{}\"{style}><figcaption>{}</figcaption></figure>",
            esc(caption),
            png_data_uri(img),
            esc(caption)
        )
    };
    body.push_str(&figure(
        "photo",
        &r.preview,
        &format!(
            "The photo ({}×{}), {} face{} found",
            r.size[0],
            r.size[1],
            r.faces,
            if r.faces == 1 { "" } else { "s" }
        ),
        false,
    ));
    if let Some(view) = &r.aligned {
        body.push_str(&figure("aligned", view, "Standard view (aligned)", true));
    }
    if let Some(Ok(c)) = &r.classification {
        body.push_str(&figure(
            "overlay",
            &c.overlay,
            "Where the network sees synkinesis (class activation)",
            true,
        ));
    }
    body.push_str("</div><h2>Another photo</h2>");
    body.push_str(&form_html(csrf));
    body
}

/// The analyzer, shared; `None` when the face models do not load.
pub fn load_shared(models_dir: &Path) -> Option<Arc<PhotoAnalyzer>> {
    match PhotoAnalyzer::load(models_dir) {
        Ok(a) => Some(Arc::new(a)),
        Err(e) => {
            warn!(error = %e, models = %models_dir.display(), "photo analysis disabled: the face models do not load");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes() {
        assert!(looks_like_image(b"\x89PNG\r\n\x1a\nrest"));
        assert!(looks_like_image(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(!looks_like_image(b"GIF89a"));
        assert!(!looks_like_image(b""));
    }

    #[test]
    fn photo_gate_ignores_framing_only() {
        let g = photo_gate();
        let k = GateConfig::default();
        assert_eq!(g.min_sharpness, k.min_sharpness);
        assert_eq!(g.min_face_pixels, k.min_face_pixels);
        assert!(g.max_centre_offset.is_infinite());
    }
}
