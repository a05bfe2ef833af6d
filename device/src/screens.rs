//! The kiosk's screens, drawn on any `embedded_graphics` target in 24-bit
//! colour: the same code shows on the framebuffer, an SPI panel, a PNG file
//! and the `MockDisplay` of the tests.
//!
//! Text is large and high-contrast (white or black on saturated colour
//! fields), because the screen is read at arm's length by patients who may
//! not have their glasses on. Layout is proportional to the target's size so
//! 320×240 panels and 800×480 screens share it.

// ISO 8859-1, not ASCII: patient references with accents (`PatientRef`) are drawn as typed.
use embedded_graphics::mono_font::iso_8859_1::{FONT_10X20, FONT_6X10, FONT_9X15_BOLD};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, PrimitiveStyleBuilder, Rectangle};
use embedded_graphics::text::{Alignment, Baseline, Text, TextStyleBuilder};
use image::RgbImage;

use screening::decision::{Decision, Outcome, DISCLAIMER};
use screening::geometry::Rect;
use screening::protocol::Expression;

/// Background of ordinary screens.
pub const INK: Rgb888 = Rgb888::new(0x10, 0x18, 0x28);
/// Text on [`INK`].
pub const PAPER: Rgb888 = Rgb888::WHITE;
/// The "refer" result field.
pub const REFER: Rgb888 = Rgb888::new(0xC0, 0x1C, 0x28);
/// The "no synkinesis detected" result field.
pub const CLEAR: Rgb888 = Rgb888::new(0x0B, 0x6E, 0x35);
/// The "incomplete" and warning field.
pub const CAUTION: Rgb888 = Rgb888::new(0xF2, 0xB1, 0x1B);
/// Face box when the gate holds.
pub const GATE_OK: Rgb888 = Rgb888::new(0x2E, 0xE5, 0x6B);

/// Whether the result has reached durable storage yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveState {
    /// Still being written; the screen must not claim it is saved.
    Saving,
    /// `append` returned: the record survives a power cut.
    Saved,
    /// Writing failed; the nurse must note the result by hand.
    Failed,
}

/// What to show. Borrowed data only, so building a screen costs nothing.
#[derive(Debug, Clone)]
pub enum Screen<'a> {
    /// Waiting for the next patient.
    Welcome {
        /// Shown small at the bottom, so a technician knows which box this is.
        device: &'a str,
    },
    /// Optional patient reference, typed or scanned.
    PatientReference {
        /// What has been typed so far.
        typed: &'a str,
    },
    /// One expression of the protocol.
    Prompt {
        /// 0-based position in the protocol.
        step: usize,
        /// Number of expressions in the protocol.
        steps: usize,
        /// What the patient should do.
        expression: Expression,
        /// The live camera picture, if any.
        preview: Option<&'a RgbImage>,
        /// Where the face is in `preview`.
        face: Option<Rect>,
        /// Why the picture cannot be taken yet, in words a patient can act on.
        hint: Option<&'a str>,
        /// How far the "hold still" count has come, 0 to 1.
        hold: f32,
    },
    /// The answer.
    Result {
        /// The decision.
        decision: &'a Decision,
        /// The captured standard view with its heatmap, if any.
        face: Option<&'a RgbImage>,
        /// Whether the record is durable.
        saved: SaveState,
    },
    /// Something went wrong; says what to do.
    Error {
        /// One short line.
        title: &'a str,
        /// What to do about it.
        detail: &'a str,
    },
    /// The kiosk cannot screen at all (a damaged record log, missing
    /// models, no camera): it stays on this screen, screening nobody, until
    /// a technician has dealt with it.
    Service {
        /// What is wrong, in plain words.
        reason: &'a str,
        /// What the technician should do.
        action: &'a str,
    },
}

impl Screen<'_> {
    /// A short name, used for file names of PNG screens and in logs.
    pub fn name(&self) -> String {
        match self {
            Screen::Welcome { .. } => "welcome".into(),
            Screen::PatientReference { .. } => "patient-reference".into(),
            Screen::Prompt {
                step, expression, ..
            } => format!("step{}-{}", step + 1, expression.name()),
            Screen::Result { .. } => "result".into(),
            Screen::Error { title, .. } => format!("error-{}", slug(title)),
            Screen::Service { .. } => "out-of-service".into(),
        }
    }
}

/// `Camera not available` → `camera-not-available`: readable in file names.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Draws `screen` over the whole target.
pub fn draw<D>(screen: &Screen<'_>, target: &mut D) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb888>,
{
    let area = target.bounding_box();
    match screen {
        Screen::Welcome { device } => welcome(target, area, device),
        Screen::PatientReference { typed } => patient_reference(target, area, typed),
        Screen::Prompt {
            step,
            steps,
            expression,
            preview,
            face,
            hint,
            hold,
        } => prompt(
            target,
            area,
            (*step, *steps),
            *expression,
            *preview,
            *face,
            *hint,
            *hold,
        ),
        Screen::Result {
            decision,
            face,
            saved,
        } => result(target, area, decision, *face, *saved),
        Screen::Error { title, detail } => error(target, area, title, detail),
        Screen::Service { reason, action } => service(target, area, reason, action),
    }
}

fn welcome<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    area: Rectangle,
    device: &str,
) -> Result<(), D::Error> {
    t.clear(INK)?;
    let w = area.size.width as i32;
    let h = area.size.height as i32;
    let big = big_scale(area);
    paragraph(
        t,
        "Facial palsy screening",
        Point::new(w / 2, h / 5),
        w - 20,
        &FONT_10X20,
        big,
        PAPER,
    )?;
    paragraph(
        t,
        "Sit facing the screen.",
        Point::new(w / 2, h / 2 - 10),
        w - 20,
        &FONT_10X20,
        1,
        PAPER,
    )?;
    paragraph(
        t,
        "Press the button to start.",
        Point::new(w / 2, h / 2 + 20),
        w - 20,
        &FONT_10X20,
        1,
        CAUTION,
    )?;
    paragraph(
        t,
        "A screening aid, not a diagnosis.",
        Point::new(w / 2, h - 40),
        w - 20,
        &FONT_6X10,
        1,
        PAPER,
    )?;
    paragraph(
        t,
        device,
        Point::new(w / 2, h - 20),
        w - 20,
        &FONT_6X10,
        1,
        PAPER,
    )
    .map(|_| ())
}

fn patient_reference<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    area: Rectangle,
    typed: &str,
) -> Result<(), D::Error> {
    t.clear(INK)?;
    let w = area.size.width as i32;
    let h = area.size.height as i32;
    paragraph(
        t,
        "Patient reference",
        Point::new(w / 2, h / 6),
        w - 20,
        &FONT_10X20,
        big_scale(area),
        PAPER,
    )?;
    paragraph(
        t,
        "Scan or type it, then press Enter.",
        Point::new(w / 2, h / 3 + 10),
        w - 20,
        &FONT_10X20,
        1,
        PAPER,
    )?;
    let field = Rectangle::new(Point::new(20, h / 2), Size::new((w - 40) as u32, 40));
    field
        .into_styled(PrimitiveStyleBuilder::new().fill_color(PAPER).build())
        .draw(t)?;
    let shown = if typed.is_empty() { "(none)" } else { typed };
    paragraph(
        t,
        shown,
        field.center() - Point::new(0, 10),
        w - 50,
        &FONT_10X20,
        1,
        INK,
    )?;
    paragraph(
        t,
        "Press the button to skip.",
        Point::new(w / 2, h - 40),
        w - 20,
        &FONT_10X20,
        1,
        CAUTION,
    )
    .map(|_| ())
}

#[allow(clippy::too_many_arguments)]
fn prompt<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    area: Rectangle,
    (step, steps): (usize, usize),
    expression: Expression,
    preview: Option<&RgbImage>,
    face: Option<Rect>,
    hint: Option<&str>,
    hold: f32,
) -> Result<(), D::Error> {
    t.clear(INK)?;
    let w = area.size.width as i32;
    let h = area.size.height as i32;
    // Instruction on top, live picture below it, hint at the bottom.
    let title = format!("{} of {}", step + 1, steps);
    Text::with_baseline(
        &title,
        Point::new(8, 6),
        MonoTextStyle::new(&FONT_9X15_BOLD, CAUTION),
        Baseline::Top,
    )
    .draw(t)?;
    progress_dots(t, Point::new(w - 8, 12), step, steps)?;
    let header = paragraph(
        t,
        expression.prompt(),
        Point::new(w / 2, 26),
        w - 16,
        &FONT_10X20,
        1,
        PAPER,
    )?;
    let top = 26 + header;
    let bottom = h - 34;
    if let Some(img) = preview {
        let slot = Rectangle::new(
            Point::new(8, top + 4),
            Size::new((w - 16) as u32, (bottom - top - 8).max(1) as u32),
        );
        let (placed, scale) = blit_fit(t, img, slot)?;
        if let Some(face) = face {
            let colour = if hint.is_none() { GATE_OK } else { CAUTION };
            let r = Rectangle::new(
                placed.top_left + Point::new((face.x * scale) as i32, (face.y * scale) as i32),
                Size::new((face.width * scale) as u32, (face.height * scale) as u32),
            );
            r.into_styled(PrimitiveStyle::with_stroke(colour, 3))
                .draw(t)?;
        }
    }
    // The hold bar fills while the gate holds, so the patient sees why to keep still.
    let bar = Rectangle::new(
        Point::new(0, h - 6),
        Size::new((w as f32 * hold.clamp(0.0, 1.0)) as u32, 6),
    );
    bar.into_styled(PrimitiveStyle::with_fill(GATE_OK))
        .draw(t)?;
    let (text, colour) = match hint {
        Some(h) => (h, CAUTION),
        None => ("Hold still...", GATE_OK),
    };
    paragraph(
        t,
        text,
        Point::new(w / 2, h - 30),
        w - 16,
        &FONT_10X20,
        1,
        colour,
    )
    .map(|_| ())
}

fn result<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    area: Rectangle,
    decision: &Decision,
    face: Option<&RgbImage>,
    saved: SaveState,
) -> Result<(), D::Error> {
    let (field, ink) = match decision.outcome {
        Outcome::Refer => (REFER, PAPER),
        Outcome::NoSynkinesisDetected => (CLEAR, PAPER),
        Outcome::Incomplete => (CAUTION, INK),
    };
    t.clear(field)?;
    let w = area.size.width as i32;
    let h = area.size.height as i32;
    let face_w = if face.is_some() {
        (h / 2).min(w / 3)
    } else {
        0
    };
    let text_w = w - face_w - 24;
    let text_x = face_w + 16 + text_w / 2;
    let used = paragraph(
        t,
        decision.outcome.headline(),
        Point::new(text_x, 12),
        text_w,
        &FONT_10X20,
        big_scale(area),
        ink,
    )?;
    let mut y = 12 + used + 8;
    let score = match decision.score {
        Some(s) => format!("Score {:.2}, threshold {:.2}", s, decision.threshold),
        None => "No score".to_string(),
    };
    y += paragraph(
        t,
        &score,
        Point::new(text_x, y),
        text_w,
        &FONT_10X20,
        1,
        ink,
    )?;
    if !decision.missing.is_empty() {
        let names: Vec<_> = decision
            .missing
            .iter()
            .map(|e| e.name().replace('_', " "))
            .collect();
        y += paragraph(
            t,
            &format!("Missing: {}", names.join(", ")),
            Point::new(text_x, y + 4),
            text_w,
            &FONT_10X20,
            1,
            ink,
        )?;
    }
    let _ = y;
    if let Some(img) = face {
        let slot = Rectangle::new(Point::new(8, 12), Size::new(face_w as u32, face_w as u32));
        blit_fit(t, img, slot)?;
    }
    let (saved_text, saved_ink) = match saved {
        SaveState::Saving => ("Saving the record...", ink),
        SaveState::Saved => ("Record saved.", ink),
        SaveState::Failed => ("NOT SAVED: write this result down.", CAUTION),
    };
    paragraph(
        t,
        saved_text,
        Point::new(w / 2, h - 52),
        w - 16,
        &FONT_10X20,
        1,
        saved_ink,
    )?;
    // The disclaimer sits on its own dark band so it stays legible on every result colour.
    let band = Rectangle::new(Point::new(0, h - 28), Size::new(w as u32, 28));
    band.into_styled(PrimitiveStyle::with_fill(INK)).draw(t)?;
    paragraph(
        t,
        DISCLAIMER,
        Point::new(w / 2, h - 26),
        w - 8,
        &FONT_6X10,
        1,
        PAPER,
    )
    .map(|_| ())
}

fn error<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    area: Rectangle,
    title: &str,
    detail: &str,
) -> Result<(), D::Error> {
    t.clear(CAUTION)?;
    let w = area.size.width as i32;
    let used = paragraph(
        t,
        title,
        Point::new(w / 2, 16),
        w - 16,
        &FONT_10X20,
        big_scale(area),
        INK,
    )?;
    paragraph(
        t,
        detail,
        Point::new(w / 2, 16 + used + 12),
        w - 16,
        &FONT_10X20,
        1,
        INK,
    )
    .map(|_| ())
}

fn service<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    area: Rectangle,
    reason: &str,
    action: &str,
) -> Result<(), D::Error> {
    t.clear(REFER)?;
    let (w, h) = (area.size.width as i32, area.size.height as i32);
    let layout = ServiceLayout::fit(w, h, reason, action);
    let mut y = 12;
    y += paragraph(
        t,
        "Out of service",
        Point::new(w / 2, y),
        w - 16,
        &FONT_10X20,
        big_scale(area),
        PAPER,
    )?;
    y += 4 + paragraph(
        t,
        SERVICE_LINE,
        Point::new(w / 2, y + 4),
        w - 16,
        &FONT_6X10,
        1,
        PAPER,
    )?;
    y += 10
        + paragraph(
            t,
            action,
            Point::new(w / 2, y + 10),
            w - 16,
            layout.action_font,
            1,
            CAUTION,
        )?;
    let style = MonoTextStyle::new(&FONT_6X10, PAPER);
    let centred = TextStyleBuilder::new()
        .alignment(Alignment::Center)
        .baseline(Baseline::Top)
        .build();
    let mut y = y + 10;
    for line in &layout.reason {
        Text::with_text_style(line, Point::new(w / 2, y), style, centred).draw(t)?;
        y += line_height(&FONT_6X10, 1);
    }
    Ok(())
}

/// The service screen's line under its title.
const SERVICE_LINE: &str = "No screenings for now. Nothing saved has been changed.";
/// The last line of a reason cut to fit the panel.
const REASON_CUT: &str = "... (the whole reason: journalctl -u kiosk)";

/// How the service screen fits its panel: the action in the large font
/// when there is room, else the small one; the reason wrapped into what is
/// left, its end replaced by [`REASON_CUT`] when it does not all fit (the
/// journal has every word).
struct ServiceLayout {
    action_font: &'static MonoFont<'static>,
    reason: Vec<String>,
}

impl ServiceLayout {
    fn fit(w: i32, h: i32, reason: &str, action: &str) -> ServiceLayout {
        let area = Rectangle::new(Point::zero(), Size::new(w as u32, h as u32));
        let text_w = w - 16;
        // As `service` draws: top margin, title, gap, line, gap, (action),
        // gap, (reason), and a bottom margin.
        let fixed = 12
            + text_height("Out of service", text_w, &FONT_10X20, big_scale(area))
            + 4
            + text_height(SERVICE_LINE, text_w, &FONT_6X10, 1)
            + 10
            + 10
            + 4;
        let reason_lines = wrap(reason, chars_per_line(text_w, &FONT_6X10, 1));
        let small_line = line_height(&FONT_6X10, 1);
        // The large action font only while at least three lines of the
        // reason (or all of it) still fit under it.
        let wanted = small_line * (reason_lines.len().min(3) as i32);
        let large = text_height(action, text_w, &FONT_10X20, 1);
        let action_font = if fixed + large + wanted <= h {
            &FONT_10X20
        } else {
            &FONT_6X10
        };
        let used = fixed + text_height(action, text_w, action_font, 1);
        let room = ((h - used) / small_line).max(1) as usize;
        let mut reason = reason_lines;
        if reason.len() > room {
            reason.truncate(room - 1);
            reason.push(REASON_CUT.to_string());
        }
        ServiceLayout {
            action_font,
            reason,
        }
    }
}

fn chars_per_line(width: i32, font: &MonoFont<'_>, scale: u32) -> usize {
    let char_w = (font.character_size.width + font.character_spacing) * scale.max(1);
    ((width.max(1) as u32) / char_w.max(1)).max(1) as usize
}

fn line_height(font: &MonoFont<'_>, scale: u32) -> i32 {
    (font.character_size.height * scale.max(1)) as i32 + 2
}

/// Height [`paragraph`] gives `text`.
fn text_height(text: &str, width: i32, font: &MonoFont<'_>, scale: u32) -> i32 {
    wrap(text, chars_per_line(width, font, scale)).len() as i32 * line_height(font, scale)
}

/// Headlines are drawn at twice the font size on screens wide enough for it.
fn big_scale(area: Rectangle) -> u32 {
    if area.size.width >= 400 {
        2
    } else {
        1
    }
}

fn progress_dots<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    right: Point,
    step: usize,
    steps: usize,
) -> Result<(), D::Error> {
    for i in 0..steps {
        let x = right.x - ((steps - 1 - i) as i32) * 14;
        let colour = if i < step {
            GATE_OK
        } else if i == step {
            CAUTION
        } else {
            Rgb888::new(0x50, 0x58, 0x68)
        };
        Rectangle::with_center(Point::new(x, right.y), Size::new(9, 9))
            .into_styled(PrimitiveStyle::with_fill(colour))
            .draw(t)?;
    }
    Ok(())
}

/// Draws `img` scaled to fit `slot` (aspect kept, centred). Returns where it
/// landed and the scale, so overlays can be placed on it.
fn blit_fit<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    img: &RgbImage,
    slot: Rectangle,
) -> Result<(Rectangle, f32), D::Error> {
    let (iw, ih) = img.dimensions();
    if iw == 0 || ih == 0 || slot.size.width == 0 || slot.size.height == 0 {
        return Ok((slot, 1.0));
    }
    let scale = (slot.size.width as f32 / iw as f32).min(slot.size.height as f32 / ih as f32);
    let (w, h) = (
        ((iw as f32 * scale) as u32).max(1),
        ((ih as f32 * scale) as u32).max(1),
    );
    let placed = Rectangle::new(
        slot.top_left
            + Point::new(
                ((slot.size.width - w) / 2) as i32,
                ((slot.size.height - h) / 2) as i32,
            ),
        Size::new(w, h),
    );
    // Nearest-neighbour sampling: cheap enough for a live preview on a Pi.
    let colours = (0..h).flat_map(|y| {
        let sy = ((y as f32 + 0.5) / scale) as u32;
        (0..w).map(move |x| {
            let sx = ((x as f32 + 0.5) / scale) as u32;
            let p = img.get_pixel(sx.min(iw - 1), sy.min(ih - 1)).0;
            Rgb888::new(p[0], p[1], p[2])
        })
    });
    t.fill_contiguous(&placed, colours)?;
    Ok((placed, scale))
}

/// Draws `text` centred on `top.x`, wrapped to `width`, starting at `top.y`;
/// returns the height used. `scale` enlarges the font by whole pixels.
fn paragraph<D: DrawTarget<Color = Rgb888>>(
    t: &mut D,
    text: &str,
    top: Point,
    width: i32,
    font: &MonoFont<'_>,
    scale: u32,
    colour: Rgb888,
) -> Result<i32, D::Error> {
    let scale = scale.max(1);
    let line_h = line_height(font, scale);
    let per_line = chars_per_line(width, font, scale);
    let style = MonoTextStyle::new(font, colour);
    let centred = TextStyleBuilder::new()
        .alignment(Alignment::Center)
        .baseline(Baseline::Top)
        .build();
    let mut y = top.y;
    for line in wrap(text, per_line) {
        if scale == 1 {
            Text::with_text_style(&line, Point::new(top.x, y), style, centred).draw(t)?;
        } else {
            let mut big = Scaled {
                inner: t,
                scale: scale as i32,
                origin: Point::new(top.x, y),
            };
            Text::with_text_style(&line, Point::zero(), style, centred).draw(&mut big)?;
        }
        y += line_h;
    }
    Ok(y - top.y)
}

/// Greedy word wrap to at most `width` characters a line; words longer than
/// a line are cut, so nothing is drawn off-screen.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.chars().filter(|c| !c.is_control()).collect();
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let cut: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(cut);
        }
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A draw target that enlarges everything drawn on it by a whole factor
/// around `origin`, so the small built-in fonts can make large headlines.
struct Scaled<'a, D> {
    inner: &'a mut D,
    scale: i32,
    origin: Point,
}

impl<D: DrawTarget<Color = Rgb888>> OriginDimensions for Scaled<'_, D> {
    fn size(&self) -> Size {
        Size::new(u32::MAX / 4, u32::MAX / 4)
    }
}

impl<D: DrawTarget<Color = Rgb888>> DrawTarget for Scaled<'_, D> {
    type Color = Rgb888;
    type Error = D::Error;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let s = self.scale;
        for Pixel(p, c) in pixels {
            let r = Rectangle::new(self.origin + p * s, Size::new(s as u32, s as u32));
            self.inner.fill_solid(&r, c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::Canvas;
    use screening::decision::Rule;

    fn decision(outcome: Outcome) -> Decision {
        Decision {
            outcome,
            score: Some(0.62),
            threshold: 0.25,
            rule: Rule::EyeNarrowing { threshold: 0.75 },
            deciding: Some(Expression::BigSmile),
            missing: vec![],
        }
    }

    fn count(c: &Canvas, colour: Rgb888) -> usize {
        c.pixels().iter().filter(|&&p| p == colour).count()
    }

    #[test]
    fn wrap_keeps_words_and_cuts_long_ones() {
        assert_eq!(
            wrap("Smile as wide as you can", 10),
            vec!["Smile as", "wide as", "you can"]
        );
        assert_eq!(wrap("abcdefghijkl", 5), vec!["abcde", "fghij", "kl"]);
        assert_eq!(
            wrap("a\u{7}b", 5),
            vec!["ab"],
            "control characters never reach the screen"
        );
        assert!(wrap("", 5).is_empty());
    }

    #[test]
    fn result_colours_follow_the_outcome_and_carry_the_disclaimer_band() {
        for (outcome, field) in [
            (Outcome::Refer, REFER),
            (Outcome::NoSynkinesisDetected, CLEAR),
            (Outcome::Incomplete, CAUTION),
        ] {
            let mut c = Canvas::new(480, 320);
            let d = decision(outcome);
            draw(
                &Screen::Result {
                    decision: &d,
                    face: None,
                    saved: SaveState::Saved,
                },
                &mut c,
            )
            .unwrap();
            assert!(
                count(&c, field) > 480 * 320 / 2,
                "{outcome:?} field colour dominates"
            );
            // The band behind the disclaimer is drawn in INK across the bottom.
            assert_eq!(c.pixel(2, 318), Some(INK));
            assert!(count(&c, PAPER) > 200, "text is drawn");
        }
    }

    #[test]
    fn prompt_draws_preview_and_face_box() {
        let mut img = RgbImage::new(64, 48);
        img.pixels_mut()
            .for_each(|p| *p = image::Rgb([200, 100, 50]));
        let mut c = Canvas::new(320, 240);
        let screen = Screen::Prompt {
            step: 1,
            steps: 4,
            expression: Expression::BigSmile,
            preview: Some(&img),
            face: Some(Rect::new(16.0, 8.0, 30.0, 30.0)),
            hint: None,
            hold: 0.5,
        };
        draw(&screen, &mut c).unwrap();
        assert!(
            count(&c, Rgb888::new(200, 100, 50)) > 1000,
            "preview visible"
        );
        assert!(
            count(&c, GATE_OK) > 100,
            "face box and hold bar in the 'ok' colour"
        );
        assert_eq!(screen.name(), "step2-big_smile");
    }

    /// A target of `size` that remembers whether anything was drawn
    /// outside it (a line cut off the panel).
    struct Edge {
        size: Size,
        outside: usize,
        lowest: i32,
    }

    impl OriginDimensions for Edge {
        fn size(&self) -> Size {
            self.size
        }
    }

    impl DrawTarget for Edge {
        type Color = Rgb888;
        type Error = std::convert::Infallible;
        fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(
            &mut self,
            px: I,
        ) -> Result<(), Self::Error> {
            for Pixel(p, _) in px {
                if p.x < 0
                    || p.y < 0
                    || p.x >= self.size.width as i32
                    || p.y >= self.size.height as i32
                {
                    self.outside += 1;
                }
                self.lowest = self.lowest.max(p.y);
            }
            Ok(())
        }
        fn clear(&mut self, _: Rgb888) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    #[test]
    fn service_screens_fit_the_smallest_panel() {
        // The longest reasons the kiosk gives, as the error chain words them.
        let log = "opening the record store in /var/lib/kiosk: record log /var/lib/kiosk/records.log: \
                   entry 2 at byte 1122 is damaged (checksum mismatch), and the kiosk had reported it \
                   saved. This is not an unfinished write, so nothing was cut and the file was left \
                   untouched: copy the data folder somewhere safe and call for help";
        let camera = "opening the camera /dev/video0: no such device (is it plugged in?)";
        for action in [
            crate::service::OutOfService::of(&anyhow::anyhow!("x")).action,
            "Check that the camera is plugged in. The kiosk starts by itself as soon as the camera answers.",
            "Do not delete or move the kiosk's data folder: it holds saved screenings. Copy it somewhere safe and call the technician.",
        ] {
            for reason in [camera, log, &log.repeat(3)] {
                for (w, h) in [(320, 240), (480, 320), (800, 480)] {
                    let mut t = Edge { size: Size::new(w, h), outside: 0, lowest: 0 };
                    draw(&Screen::Service { reason, action }, &mut t).unwrap();
                    assert_eq!(t.outside, 0, "{w}x{h}: drawn off the panel for {reason:.40}");
                    let layout = ServiceLayout::fit(w as i32, h as i32, reason, action);
                    if wrap(reason, chars_per_line(w as i32 - 16, &FONT_6X10, 1)).len() > layout.reason.len() {
                        assert_eq!(layout.reason.last().unwrap(), REASON_CUT, "a cut reason says where the rest is");
                    }
                }
            }
        }
        // On the smallest panel the short camera reason is shown whole, the
        // action in the large font.
        let l = ServiceLayout::fit(320, 240, camera, "Check that the camera is plugged in.");
        assert_eq!(l.action_font.character_size, FONT_10X20.character_size);
        assert!(!l.reason.iter().any(|r| r == REASON_CUT));
    }

    #[test]
    fn every_screen_draws_on_small_and_large_targets() {
        let d = decision(Outcome::Refer);
        let screens = [
            Screen::Welcome {
                device: "kiosk 1a2b",
            },
            Screen::PatientReference { typed: "MRN-0042" },
            Screen::Result {
                decision: &d,
                face: None,
                saved: SaveState::Saving,
            },
            Screen::Error {
                title: "Camera lost",
                detail: "Check the cable. Retrying in 4 s.",
            },
            Screen::Service {
                reason: "record log /var/lib/kiosk/records.log is corrupt at byte 812",
                action: "Do not delete the kiosk's data folder. Copy it and call the technician.",
            },
        ];
        for (w, h) in [(320, 240), (480, 320), (800, 480)] {
            for s in &screens {
                let mut c = Canvas::new(w, h);
                draw(s, &mut c).unwrap();
                assert!(
                    c.pixels().iter().any(|&p| p == PAPER || p == INK),
                    "{} drew nothing",
                    s.name()
                );
            }
        }
    }
}
