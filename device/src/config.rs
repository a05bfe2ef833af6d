//! The kiosk's configuration: one TOML file, every field with a default, so
//! an empty file (or none) gives the embedded default: a virtual patient as
//! the camera, PNG screens, scripted input.
//!
//! Bad values are refused at start with the line they are on and the reason,
//! because a technician in a clinic has nothing else to go by.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

use screening::classifier::Variant;
use screening::decision::Rule;
use screening::protocol::{ConditionKind, Expression};

use crate::camera::FormatPreference;
use crate::display::panel::PanelModel;

/// A configuration that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a value of the wrong type.
    #[error("configuration {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is of the right type but not allowed.
    #[error("configuration {path}, line {line}: {key}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key (0 when the key was not written, i.e. a default).
        line: usize,
        /// Dotted key, e.g. `protocol.hold_frames`.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where frames come from.
    pub camera: CameraConfig,
    /// Where screens go.
    pub display: DisplayConfig,
    /// Where button presses and typed text come from.
    pub input: InputConfig,
    /// Which expressions, and how long to wait.
    pub protocol: ProtocolConfig,
    /// How the answer is reached.
    pub decision: DecisionConfig,
    /// Where records and keys live.
    pub storage: StorageConfig,
    /// Pushing records to the paired clinic between screenings.
    pub sync: SyncConfig,
    /// The quality gate.
    pub gate: screening::face::GateConfig,
    /// Model folder; default: the installed or in-repo models.
    pub models: Option<PathBuf>,
}

/// Camera selection.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum CameraConfig {
    /// A rendered virtual patient that follows the screen's prompts.
    Virtual {
        /// Which condition the patient has.
        #[serde(default = "default_condition")]
        condition: ConditionKind,
        /// Patient seed.
        #[serde(default = "default_seed")]
        seed: u64,
        /// Frame width.
        #[serde(default = "default_width")]
        width: u32,
        /// Frame height.
        #[serde(default = "default_height")]
        height: u32,
        /// Frames per second of the patient's clock. Every frame is rendered
        /// and analysed, so a lower rate makes a demo faster on a slow machine
        /// without changing what the patient does in camera time.
        #[serde(default = "default_virtual_fps")]
        fps: f32,
    },
    /// A real camera through V4L2.
    V4l2 {
        /// Device node.
        #[serde(default = "default_video_device")]
        device: PathBuf,
        /// Wanted width.
        #[serde(default = "default_width")]
        width: u32,
        /// Wanted height.
        #[serde(default = "default_height")]
        height: u32,
        /// Pixel format: `auto` (MJPEG, then YUYV), `mjpeg` or `yuyv`.
        #[serde(default)]
        format: FormatPreference,
    },
    /// Frames from a folder of images or an MJPEG file.
    Replay {
        /// Folder or file.
        path: PathBuf,
        /// Start again at the end.
        #[serde(default)]
        looped: bool,
    },
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig::Virtual {
            condition: default_condition(),
            seed: default_seed(),
            width: default_width(),
            height: default_height(),
            fps: default_virtual_fps(),
        }
    }
}

fn default_virtual_fps() -> f32 {
    15.0
}

fn default_condition() -> ConditionKind {
    ConditionKind::Synkinetic
}
fn default_seed() -> u64 {
    7
}
fn default_width() -> u32 {
    640
}
fn default_height() -> u32 {
    480
}
fn default_video_device() -> PathBuf {
    PathBuf::from("/dev/video0")
}

/// Display selection.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DisplayConfig {
    /// PNG files, one per screen.
    Png {
        /// Output folder.
        #[serde(default = "default_screens_dir")]
        dir: PathBuf,
        /// Screen width.
        #[serde(default = "default_screen_width")]
        width: u32,
        /// Screen height.
        #[serde(default = "default_screen_height")]
        height: u32,
    },
    /// The latest screen in one PNG file (`kiosk screen --display png:FILE`).
    PngFile {
        /// The file.
        path: PathBuf,
        /// Screen width.
        #[serde(default = "default_screen_width")]
        width: u32,
        /// Screen height.
        #[serde(default = "default_screen_height")]
        height: u32,
    },
    /// Colour blocks in the terminal.
    Terminal {
        /// Screen width.
        #[serde(default = "default_screen_width")]
        width: u32,
        /// Screen height.
        #[serde(default = "default_screen_height")]
        height: u32,
        /// Terminal columns to use.
        #[serde(default = "default_columns")]
        columns: u32,
    },
    /// The Linux framebuffer.
    Framebuffer {
        /// Device node.
        #[serde(default = "default_fb")]
        device: PathBuf,
    },
    /// An SPI panel (ST7789 or ILI9341).
    Spi(SpiPanelConfig),
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig::Png {
            dir: default_screens_dir(),
            width: default_screen_width(),
            height: default_screen_height(),
        }
    }
}

impl DisplayConfig {
    /// The display a bring-up command names: `fb[:DEVICE]`, `png:FILE`
    /// (drawn at `size`), or `spi:MODEL:SPIDEV:GPIOCHIP:DC[:RST[:BACKLIGHT]]`
    /// (the panel's own size after `rotation`), read into the same types as
    /// `kiosk.toml`'s `[display]`.
    pub fn from_spec(spec: &str, size: (u32, u32), rotation: u16) -> Result<Self, String> {
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        match kind {
            "fb" => Ok(DisplayConfig::Framebuffer {
                device: if rest.is_empty() {
                    default_fb()
                } else {
                    PathBuf::from(rest)
                },
            }),
            "png" if !rest.is_empty() => Ok(DisplayConfig::PngFile {
                path: PathBuf::from(rest),
                width: size.0,
                height: size.1,
            }),
            "spi" => SpiPanelConfig::from_spec(rest, rotation).map(DisplayConfig::Spi),
            _ => Err(format!(
                "unknown display `{spec}` (fb:DEVICE, png:FILE, spi:MODEL:SPIDEV:GPIOCHIP:DC[:RST[:BACKLIGHT]])"
            )),
        }
    }
}

impl SpiPanelConfig {
    /// `MODEL:SPIDEV:GPIOCHIP:DC[:RST[:BACKLIGHT]]`, landscape or portrait
    /// as `rotation` makes the controller's own size.
    fn from_spec(spec: &str, rotation: u16) -> Result<Self, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let [model, spi, chip, dc, more @ ..] = parts.as_slice() else {
            return Err("spi: expects MODEL:SPIDEV:GPIOCHIP:DC[:RST[:BACKLIGHT]]".into());
        };
        let controller: PanelModel = model.parse()?;
        let line = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("GPIO line `{s}` is not a number"))
        };
        let (nw, nh) = controller.native_size();
        let (width, height) = if rotation % 180 == 0 {
            (nw, nh)
        } else {
            (nh, nw)
        };
        Ok(SpiPanelConfig {
            controller,
            spi: PathBuf::from(spi),
            gpio_chip: PathBuf::from(chip),
            dc_line: line(dc)?,
            reset_line: more.first().map(|s| line(s)).transpose()?,
            backlight_line: more.get(1).map(|s| line(s)).transpose()?,
            width,
            height,
            rotation,
            speed_hz: default_spi_hz(),
        })
    }
}

/// Wiring of an SPI panel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpiPanelConfig {
    /// `st7789`, `ili9341` (320×240) or `ili9486` (480×320).
    #[serde(default = "default_controller")]
    pub controller: PanelModel,
    /// spidev node.
    #[serde(default = "default_spidev")]
    pub spi: PathBuf,
    /// GPIO chip for DC / reset / backlight.
    #[serde(default = "default_gpiochip")]
    pub gpio_chip: PathBuf,
    /// Data/command line offset.
    #[serde(default = "default_dc")]
    pub dc_line: u32,
    /// Reset line offset, if wired.
    #[serde(default = "default_rst")]
    pub reset_line: Option<u32>,
    /// Backlight line offset, if switched.
    #[serde(default)]
    pub backlight_line: Option<u32>,
    /// Panel width in the chosen rotation.
    #[serde(default = "default_screen_width")]
    pub width: u32,
    /// Panel height in the chosen rotation.
    #[serde(default = "default_screen_height")]
    pub height: u32,
    /// Rotation in degrees: 0, 90, 180 or 270 (90: landscape).
    #[serde(default = "default_rotation")]
    pub rotation: u16,
    /// SPI clock in Hz.
    #[serde(default = "default_spi_hz")]
    pub speed_hz: u32,
}

fn default_rotation() -> u16 {
    90
}
fn default_screens_dir() -> PathBuf {
    PathBuf::from("kiosk-screens")
}
fn default_screen_width() -> u32 {
    480
}
fn default_screen_height() -> u32 {
    320
}
fn default_columns() -> u32 {
    96
}
fn default_fb() -> PathBuf {
    PathBuf::from("/dev/fb0")
}
fn default_controller() -> PanelModel {
    PanelModel::St7789
}
fn default_spidev() -> PathBuf {
    PathBuf::from("/dev/spidev0.0")
}
fn default_gpiochip() -> PathBuf {
    PathBuf::from("/dev/gpiochip0")
}
fn default_dc() -> u32 {
    25
}
fn default_rst() -> Option<u32> {
    Some(27)
}
fn default_spi_hz() -> u32 {
    40_000_000
}

/// Input selection. The kinds without settings are written `{}` because
/// serde ignores unknown keys under an internally tagged unit variant: a
/// `chip = ...` under `kind = "automatic"` would pass unnoticed.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InputConfig {
    /// No person at the kiosk: the session starts by itself (demos, self-tests).
    Automatic {},
    /// Keys on standard input; barcode scanners in keyboard-wedge mode type here too.
    Keyboard {},
    /// A push button on a GPIO line.
    Gpio {
        /// GPIO chip.
        #[serde(default = "default_gpiochip")]
        chip: PathBuf,
        /// Line offset.
        #[serde(default = "default_button_line")]
        line: u32,
    },
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig::Automatic {}
    }
}

fn default_button_line() -> u32 {
    17
}

/// The screening protocol.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolConfig {
    /// Expressions in order.
    pub expressions: Vec<Expression>,
    /// Consecutive frames the gate must hold before a capture.
    pub hold_frames: u32,
    /// Milliseconds after each prompt before frames count (time to read it and react).
    pub settle_ms: u32,
    /// Give up on one expression after this many seconds without a capture.
    pub step_timeout_s: u32,
    /// Return to the welcome screen this many seconds after a result.
    pub result_timeout_s: u32,
    /// Ask for a patient reference before the first expression.
    pub ask_patient_reference: bool,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            expressions: vec![
                Expression::Rest,
                Expression::BigSmile,
                Expression::Pucker,
                Expression::TightEyeClosure,
            ],
            hold_frames: 5,
            settle_ms: 1500,
            step_timeout_s: 60,
            result_timeout_s: 30,
            ask_patient_reference: false,
        }
    }
}

/// How the answer is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionConfig {
    /// The rule and its threshold.
    pub rule: RuleConfig,
    /// Half-width of the band around the threshold, in the rule's score
    /// (probability for the classifier, fissure ratio for eye narrowing),
    /// within which the deciding expression is photographed once more
    /// before the kiosk answers. Unset: the rule's default
    /// ([`CLASSIFIER_RETAKE_BAND`] for the classifier; none for eye
    /// narrowing, whose band has not been chosen on validation patients).
    /// 0 turns retakes off.
    pub retake_band: Option<f32>,
}

/// The classifier's retake band, chosen on the validation patients
/// (`models/experiments/retake-band`).
pub const CLASSIFIER_RETAKE_BAND: f32 = 0.1;

impl DecisionConfig {
    /// The band the session uses with `rule`, `None` for no retakes.
    pub fn retake_band_for(&self, rule: &Rule) -> Option<f32> {
        let band = self.retake_band.or(match rule {
            Rule::Classifier { .. } => Some(CLASSIFIER_RETAKE_BAND),
            Rule::EyeNarrowing { .. } | Rule::Series { .. } => None,
        })?;
        (band > 0.0).then_some(band)
    }
}

impl Default for DecisionConfig {
    /// The synkinesis CNN (int8, the manifest's threshold). On the same
    /// held-out synthetic patients it ranks series far better than the
    /// landmark rule (series ROC AUC 0.96 against about 0.78) and, at its
    /// validation-chosen threshold, misses far fewer synkinetic patients
    /// (recall 0.93 against about 0.43), at the cost of more referrals of
    /// healthy faces (`models/MODEL_CARD.md`). A site can fall
    /// back to `rule = "eye_narrowing"`, which needs no CNN.
    fn default() -> Self {
        Self {
            rule: RuleConfig::Classifier {
                threshold: None,
                model: Variant::Int8,
            },
            retake_band: None,
        }
    }
}

/// The decision rule as configured (`[decision.rule]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleConfig {
    /// The synkinesis CNN: refer when the highest probability
    /// among big smile, pucker and tight eye closure reaches the threshold;
    /// the default.
    Classifier {
        /// Overrides the threshold recorded in the model's manifest entry
        /// (chosen on the validation split for high recall). Leave it unset
        /// unless a clinical validation chose another.
        #[serde(default)]
        threshold: Option<f32>,
        /// Which weights: `int8` (the kiosk's) or `f32`.
        #[serde(default)]
        model: Variant,
    },
    /// The series model: one probability for the whole series from both
    /// sides of each expression against rest (`screening::series_model`).
    Series {
        /// Overrides the threshold recorded in the model's manifest entry.
        #[serde(default)]
        threshold: Option<f32>,
    },
    /// The landmark rule (Auto-eFACE eye narrowing), needing no CNN.
    EyeNarrowing {
        /// Refer at or below this relative fissure ratio.
        #[serde(default = "default_eye_narrowing_threshold")]
        threshold: f32,
    },
}

fn default_eye_narrowing_threshold() -> f32 {
    DEFAULT_EYE_NARROWING_THRESHOLD
}

/// Relative fissure ratio at or below which the landmark rule refers; chosen
/// on synthetic data sets between the healthy and mild-synkinesis ratios
/// (see `clinic synth` reports).
pub const DEFAULT_EYE_NARROWING_THRESHOLD: f32 = 0.8;

/// Where the kiosk keeps its state.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Records, keys, counters.
    pub data_dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("kiosk-data"),
        }
    }
}

/// Automatic sync from `kiosk run`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Try to sync at start and after every screening, when paired with an address.
    pub automatic: bool,
    /// Seconds one sync may take before the kiosk gives up until next time
    /// (the patient waits on the result screen meanwhile).
    pub timeout_s: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            automatic: true,
            timeout_s: 10,
        }
    }
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks configuration text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        config
            .validate()
            .map_err(|(key, reason)| ConfigError::Invalid {
                path: path.into(),
                line: line_of(text, &key),
                key,
                reason,
            })?;
        Ok(config)
    }

    /// Checks values that have the right type but are out of range.
    fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, r: String| Err((k.to_string(), r));
        let p = &self.protocol;
        if p.expressions.is_empty() {
            return bad(
                "protocol.expressions",
                "at least one expression is needed".into(),
            );
        }
        if let Some(e) = p
            .expressions
            .iter()
            .enumerate()
            .find(|(i, e)| p.expressions[..*i].contains(e))
        {
            return bad("protocol.expressions", format!("{} is listed twice", e.1));
        }
        if !(1..=300).contains(&p.hold_frames) {
            return bad(
                "protocol.hold_frames",
                format!("{} is outside 1..=300", p.hold_frames),
            );
        }
        if p.settle_ms > 10_000 {
            return bad(
                "protocol.settle_ms",
                format!("{} ms is more than 10 s", p.settle_ms),
            );
        }
        if !(5..=3600).contains(&p.step_timeout_s) {
            return bad(
                "protocol.step_timeout_s",
                format!("{} s is outside 5..=3600", p.step_timeout_s),
            );
        }
        if !(1..=3600).contains(&p.result_timeout_s) {
            return bad(
                "protocol.result_timeout_s",
                format!("{} s is outside 1..=3600", p.result_timeout_s),
            );
        }
        let threshold = match self.decision.rule {
            RuleConfig::Classifier { threshold, .. } | RuleConfig::Series { threshold } => {
                threshold
            }
            RuleConfig::EyeNarrowing { threshold } => Some(threshold),
        };
        if let Some(threshold) = threshold {
            if !(threshold > 0.0 && threshold < 1.0) {
                return bad(
                    "decision.rule.threshold",
                    format!("{threshold} is not strictly between 0 and 1"),
                );
            }
        }
        // The series model sets every expression against rest: without it
        // every screening would end Incomplete, which a technician should
        // learn at boot rather than from the first patient.
        if matches!(self.decision.rule, RuleConfig::Series { .. })
            && !p.expressions.contains(&Expression::Rest)
        {
            return bad(
                "protocol.expressions",
                "rule = \"series\" compares each expression with rest: list \"rest\"".into(),
            );
        }
        if let Some(band) = self.decision.retake_band {
            if !(0.0..0.5).contains(&band) {
                return bad(
                    "decision.retake_band",
                    format!("{band} is outside 0 (no retakes) to 0.5"),
                );
            }
        }
        if let CameraConfig::Virtual { fps, .. } = &self.camera {
            if !(1.0..=120.0).contains(fps) {
                return bad(
                    "camera.fps",
                    format!("{fps} is outside 1..=120 frames per second"),
                );
            }
        }
        let frame = match &self.camera {
            CameraConfig::Virtual { width, height, .. }
            | CameraConfig::V4l2 { width, height, .. } => Some((*width, *height)),
            CameraConfig::Replay { .. } => None,
        };
        if let Some((w, h)) = frame {
            // Name the side that is wrong, so the line number points at it.
            let key = if (64..=4096).contains(&w) {
                "camera.height"
            } else {
                "camera.width"
            };
            if !(64..=4096).contains(&w) || !(64..=4096).contains(&h) {
                return bad(key, format!("{w}×{h} is outside 64..=4096 pixels a side"));
            }
        }
        let screen = match &self.display {
            DisplayConfig::Png { width, height, .. }
            | DisplayConfig::PngFile { width, height, .. }
            | DisplayConfig::Terminal { width, height, .. } => Some((*width, *height)),
            DisplayConfig::Spi(s) => Some((s.width, s.height)),
            DisplayConfig::Framebuffer { .. } => None,
        };
        if let Some((w, h)) = screen {
            let key = if (160..=3840).contains(&w) {
                "display.height"
            } else {
                "display.width"
            };
            if !(160..=3840).contains(&w) || !(120..=2160).contains(&h) {
                return bad(key, format!("{w}×{h} is outside 160×120 to 3840×2160"));
            }
        }
        if !(1..=120).contains(&self.sync.timeout_s) {
            return bad(
                "sync.timeout_s",
                format!("{} s is outside 1..=120", self.sync.timeout_s),
            );
        }
        if let DisplayConfig::Spi(s) = &self.display {
            if ![0, 90, 180, 270].contains(&s.rotation) {
                return bad(
                    "display.rotation",
                    format!("{} is not 0, 90, 180 or 270", s.rotation),
                );
            }
        }
        Ok(())
    }
}

/// The 1-based line where the last part of a dotted `key` is assigned under
/// its table, or 0 when it is not written (the default was bad).
fn line_of(text: &str, key: &str) -> usize {
    // The dotted path of each assignment, table header included, so that
    // nested tables (`[decision.rule]`) and dotted keys both resolve.
    let mut table = String::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        let Some((assigned, _)) = l.split_once('=') else {
            continue;
        };
        let assigned: String = assigned
            .split('.')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(".");
        let path = if table.is_empty() {
            assigned
        } else {
            format!("{table}.{assigned}")
        };
        if path == key {
            return i + 1;
        }
        // An inline table (`rule = { rule = "series", threshold = 2 }`):
        // the line that opens it holds the key.
        if let Some(inner) = key.strip_prefix(&format!("{path}.")) {
            let value = l.split_once('=').map_or("", |(_, v)| v).trim_start();
            let named = value
                .split(['{', ','])
                .any(|part| part.split_once('=').is_some_and(|(k, _)| k.trim() == inner));
            if value.starts_with('{') && named {
                return i + 1;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("kiosk.toml"))
    }

    #[test]
    fn empty_file_is_the_embedded_default() {
        let c = parse("").unwrap();
        assert!(matches!(c.camera, CameraConfig::Virtual { .. }));
        assert!(matches!(c.display, DisplayConfig::Png { .. }));
        assert_eq!(c.protocol.expressions.len(), 4);
    }

    #[test]
    fn full_hardware_config_parses() {
        let c = parse(
            r#"
            models = "/usr/share/synkinesis/models"
            [camera]
            source = "v4l2"
            device = "/dev/video2"
            [display]
            kind = "spi"
            controller = "ili9341"
            width = 320
            height = 240
            rotation = 90
            [input]
            kind = "gpio"
            line = 5
            [protocol]
            expressions = ["rest", "big_smile"]
            [decision.rule]
            rule = "classifier"
            threshold = 0.3
            "#,
        )
        .unwrap();
        assert!(matches!(c.camera, CameraConfig::V4l2 { .. }));
        assert!(matches!(c.display, DisplayConfig::Spi(ref s) if s.rotation == 90));
        assert_eq!(
            c.decision.rule,
            RuleConfig::Classifier {
                threshold: Some(0.3),
                model: Variant::Int8
            }
        );
    }

    #[test]
    fn the_series_rule_is_chosen_by_name_and_needs_rest() {
        let c = parse("[decision.rule]\nrule = \"series\"\n").unwrap();
        assert_eq!(c.decision.rule, RuleConfig::Series { threshold: None });
        assert_eq!(
            c.decision.retake_band_for(&Rule::Series { threshold: 0.3 }),
            None
        );
        let err = parse("[decision.rule]\nrule = \"series\"\nthreshold = 1.5\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("strictly between"),
            "{err}"
        );
        let err = parse(
            "[protocol]\nexpressions = [\"big_smile\", \"pucker\"]\n[decision.rule]\nrule = \"series\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("protocol.expressions") && err.contains("rest"),
            "{err}"
        );
        let err = parse("[decision]\nretake_band = -0.1\n[decision.rule]\nrule = \"series\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("decision.retake_band"), "{err}");
        // A key of another rule is refused, not silently ignored.
        assert!(parse("[decision.rule]\nrule = \"series\"\nmodel = \"f32\"\n").is_err());
    }

    #[test]
    fn the_line_named_is_the_wrong_value_in_nested_and_inline_tables() {
        let line = |text: &str| {
            let err = parse(text).unwrap_err().to_string();
            err.split("line ")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("no line in {err}"))
        };
        assert_eq!(
            line("[camera]\nsource = \"virtual\"\nwidth = 640\nheight = 9\n"),
            4
        );
        assert_eq!(
            line("[camera]\nsource = \"virtual\"\nwidth = 9\nheight = 480\n"),
            3
        );
        assert_eq!(
            line("[display]\nkind = \"png\"\nwidth = 320\nheight = 5000\n"),
            4
        );
        assert_eq!(
            line("[decision]\nretake_band = 0.1\nrule = { rule = \"series\", threshold = 2.0 }\n"),
            3
        );
        assert_eq!(
            line("\n[decision.rule]\nrule = \"classifier\"\nthreshold = 1.5\n"),
            4
        );
        assert_eq!(
            line("[protocol]\nhold_frames = 3\n[sync]\nautomatic = true\ntimeout_s = 0\n"),
            5
        );
    }

    #[test]
    fn invalid_value_names_line_and_reason() {
        let err = parse("[protocol]\n\nhold_frames = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("protocol.hold_frames"), "{err}");
        assert!(err.contains("outside"), "{err}");
    }

    #[test]
    fn a_key_that_belongs_to_another_input_kind_is_refused() {
        let err = parse("[input]\nkind = \"automatic\"\nchip = \"/dev/gpiochip0\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("chip"), "{err}");
        assert!(parse("[input]\nkind = \"keyboard\"\nline = 17\n").is_err());
        assert!(matches!(
            parse("[input]\nkind = \"keyboard\"\n").unwrap().input,
            InputConfig::Keyboard {}
        ));
    }

    #[test]
    fn unknown_key_and_bad_type_are_refused_with_position() {
        let err = parse("[camera]\nsource = \"virtual\"\ncolour = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        let err = parse("[protocol]\nhold_frames = \"five\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse("[protocol]\nexpressions = [\"rest\", \"wink\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("wink"), "{err}");
    }

    #[test]
    fn duplicate_expression_is_refused() {
        let err = parse("[protocol]\nexpressions = [\"rest\", \"rest\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn unreadable_file_says_so() {
        let err = Config::load(Path::new("/nonexistent/kiosk.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }
}
