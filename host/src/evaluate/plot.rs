//! The PNG of `clinic evaluate`: ROC curves (one per variant) beside the
//! primary variant's score histograms per class, with the threshold marked,
//! drawn with embedded-graphics on an RGB image and labelled as synthetic
//! test data.

use std::convert::Infallible;
use std::path::Path;

use anyhow::{Context, Result};
use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_7X13_BOLD};
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Alignment, Text};
use image::RgbImage;

use super::stats::roc_curve;
use super::Report;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 460;
/// Plot areas: (left, top, side) of the square ROC panel and the histogram.
const ROC: (i32, i32, i32) = (60, 60, 340);
const HIST: (i32, i32, i32, i32) = (500, 60, 420, 340);
const BINS: usize = 20;

const BLACK: Rgb888 = Rgb888::new(20, 20, 20);
const GREY: Rgb888 = Rgb888::new(170, 170, 170);
const LIGHT: Rgb888 = Rgb888::new(230, 230, 230);
/// Curve colours per variant, in report order (f32, int8).
const CURVES: [Rgb888; 2] = [Rgb888::new(230, 120, 20), Rgb888::new(30, 90, 200)];
const NEGATIVE: Rgb888 = Rgb888::new(60, 160, 90);
const POSITIVE: Rgb888 = Rgb888::new(200, 50, 60);

/// An RGB image as an embedded-graphics draw target.
struct Canvas(RgbImage);

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        Size::new(self.0.width(), self.0.height())
    }
}

impl DrawTarget for Canvas {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        for Pixel(p, c) in pixels {
            if p.x >= 0
                && p.y >= 0
                && (p.x as u32) < self.0.width()
                && (p.y as u32) < self.0.height()
            {
                self.0
                    .put_pixel(p.x as u32, p.y as u32, image::Rgb([c.r(), c.g(), c.b()]));
            }
        }
        Ok(())
    }
}

impl Canvas {
    fn line(&mut self, a: (i32, i32), b: (i32, i32), colour: Rgb888, width: u32) {
        let _ = Line::new(Point::new(a.0, a.1), Point::new(b.0, b.1))
            .into_styled(PrimitiveStyle::with_stroke(colour, width))
            .draw(self);
    }

    fn text(&mut self, s: &str, at: (i32, i32), align: Alignment, bold: bool, colour: Rgb888) {
        let font = if bold { &FONT_7X13_BOLD } else { &FONT_6X10 };
        let _ = Text::with_alignment(
            s,
            Point::new(at.0, at.1),
            MonoTextStyle::new(font, colour),
            align,
        )
        .draw(self);
    }

    fn rect(&mut self, x: i32, y: i32, w: u32, h: u32, fill: Rgb888) {
        let _ = Rectangle::new(Point::new(x, y), Size::new(w, h))
            .into_styled(PrimitiveStyle::with_fill(fill))
            .draw(self);
    }

    fn frame(&mut self, x: i32, y: i32, w: i32, h: i32) {
        let _ = Rectangle::new(Point::new(x, y), Size::new(w as u32 + 1, h as u32 + 1))
            .into_styled(PrimitiveStyle::with_stroke(BLACK, 1))
            .draw(self);
    }
}

/// Draws the report's ROC curves and score histograms.
pub fn render(report: &Report) -> RgbImage {
    let mut c = Canvas(RgbImage::from_pixel(
        WIDTH,
        HEIGHT,
        image::Rgb([255, 255, 255]),
    ));
    c.text(
        &format!(
            "SYNTHETIC TEST DATA (virtual patients) - split {:?}, {} images, {} patients",
            report.split, report.rows, report.patients
        ),
        (WIDTH as i32 / 2, 24),
        Alignment::Center,
        true,
        BLACK,
    );

    // ROC panel.
    let (x0, y0, side) = ROC;
    for i in 0..=10 {
        let t = side * i / 10;
        c.line((x0 + t, y0), (x0 + t, y0 + side), LIGHT, 1);
        c.line((x0, y0 + t), (x0 + side, y0 + t), LIGHT, 1);
        if i % 2 == 0 {
            let label = format!("{:.1}", i as f32 / 10.0);
            c.text(
                &label,
                (x0 + t, y0 + side + 14),
                Alignment::Center,
                false,
                BLACK,
            );
            c.text(
                &label,
                (x0 - 6, y0 + side - t + 3),
                Alignment::Right,
                false,
                BLACK,
            );
        }
    }
    c.line((x0, y0 + side), (x0 + side, y0), GREY, 1);
    c.frame(x0, y0, side, side);
    c.text(
        "false positive rate",
        (x0 + side / 2, y0 + side + 30),
        Alignment::Center,
        false,
        BLACK,
    );
    c.text(
        "true positive rate",
        (x0, y0 - 8),
        Alignment::Left,
        false,
        BLACK,
    );
    c.text(
        "ROC per image",
        (x0 + side / 2, y0 - 22),
        Alignment::Center,
        true,
        BLACK,
    );
    let to_px = |p: [f64; 2]| {
        (
            x0 + (p[0] * side as f64).round() as i32,
            y0 + side - (p[1] * side as f64).round() as i32,
        )
    };
    for (k, (name, v)) in report.variants.iter().enumerate() {
        let scores: Vec<(f32, bool)> = v
            .scores
            .iter()
            .map(|s| (s.probability, s.label == 1))
            .collect();
        let curve = roc_curve(&scores);
        let colour = CURVES[k % CURVES.len()];
        for w in curve.windows(2) {
            c.line(to_px(w[0]), to_px(w[1]), colour, 2);
        }
        let auc = v
            .per_image
            .auc
            .map_or("n/a".to_string(), |a| format!("{:.3}", a.value));
        let ly = y0 + side - 30 - 16 * k as i32;
        c.line(
            (x0 + side - 150, ly - 3),
            (x0 + side - 130, ly - 3),
            colour,
            3,
        );
        c.text(
            &format!("{name}: AUC {auc}"),
            (x0 + side - 124, ly),
            Alignment::Left,
            false,
            BLACK,
        );
    }

    // Histogram panel: the primary variant (int8 when it ran).
    let primary = report
        .variants
        .get("int8")
        .or_else(|| report.variants.values().next());
    let (hx, hy, hw, hh) = HIST;
    c.frame(hx, hy, hw, hh);
    if let Some(v) = primary {
        let mut counts = [[0usize; BINS]; 2];
        for s in &v.scores {
            let bin = ((s.probability * BINS as f32) as usize).min(BINS - 1);
            counts[usize::from(s.label == 1)][bin] += 1;
        }
        let peak = counts.iter().flatten().copied().max().unwrap_or(1).max(1);
        let bar_w = hw / BINS as i32;
        for (class, colour) in [(0, NEGATIVE), (1, POSITIVE)] {
            for (b, &n) in counts[class].iter().enumerate() {
                let h = (n as f32 / peak as f32 * (hh - 10) as f32).round() as i32;
                if h == 0 {
                    continue;
                }
                // Two half-width bars per bin, side by side.
                let x = hx + b as i32 * bar_w + class as i32 * (bar_w / 2);
                c.rect(x + 1, hy + hh - h, (bar_w / 2 - 1) as u32, h as u32, colour);
            }
        }
        let tx = hx + (v.threshold * hw as f32).round() as i32;
        for y in (hy..hy + hh).step_by(6) {
            c.line((tx, y), (tx, y + 3), BLACK, 1);
        }
        c.text(
            &format!("threshold {:.3}", v.threshold),
            (tx + 4, hy + 12),
            Alignment::Left,
            false,
            BLACK,
        );
        for i in 0..=5 {
            let x = hx + hw * i / 5;
            c.text(
                &format!("{:.1}", i as f32 / 5.0),
                (x, hy + hh + 14),
                Alignment::Center,
                false,
                BLACK,
            );
        }
        c.text(
            &format!("{peak}"),
            (hx - 6, hy + 13),
            Alignment::Right,
            false,
            BLACK,
        );
        c.text("0", (hx - 6, hy + hh + 3), Alignment::Right, false, BLACK);
        let name = if report.variants.contains_key("int8") {
            "int8"
        } else {
            "f32"
        };
        c.text(
            &format!("scores per class ({name}), images per bin"),
            (hx + hw / 2, hy - 22),
            Alignment::Center,
            true,
            BLACK,
        );
        c.text(
            "probability of synkinesis",
            (hx + hw / 2, hy + hh + 30),
            Alignment::Center,
            false,
            BLACK,
        );
        for (i, (label, colour)) in [
            ("label 0: no synkinesis", NEGATIVE),
            ("label 1: synkinesis", POSITIVE),
        ]
        .into_iter()
        .enumerate()
        {
            let ly = hy + 28 + 16 * i as i32;
            c.rect(hx + hw - 170, ly - 8, 12, 10, colour);
            c.text(label, (hx + hw - 152, ly), Alignment::Left, false, BLACK);
        }
    }
    c.text(
        "Screening aid, not a diagnosis. Figures on synthetic faces only.",
        (WIDTH as i32 / 2, HEIGHT as i32 - 12),
        Alignment::Center,
        false,
        BLACK,
    );
    c.0
}

/// Renders the plot and writes it as PNG.
pub fn write_plot(report: &Report, path: &Path) -> Result<()> {
    render(report)
        .save(path)
        .with_context(|| format!("writing {}", path.display()))
}
