//! The model manifest: which model files the runtime may load, checked by sha256.
//!
//! `models/manifest.toml` names every network the kiosk and the clinic tool
//! run, with its file, its sha256, where it came from, its licence and the
//! tensor it expects; it also fixes the *standard view*, the aligned face
//! crop that the classifier sees everywhere (device, host, training).
//!
//! A model file is read whole, hashed, and refused unless the hash is the one
//! in the manifest: a kiosk must never screen patients with a model nobody
//! validated. Only then is it parsed (from the same bytes, so nothing can
//! change between the check and the load) and optimised once by tract into a
//! [`LoadedModel`] that is reused for every frame.
//!
//! The format tolerates entries and keys it does not know, so other parts of
//! the project (the classifier) can add their own tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::geometry::{PerSide, Point};

mod runtime;

pub(crate) use runtime::run_plan;
pub use runtime::{output_slice, LoadedModel};

/// File name of the manifest inside a models directory.
pub const MANIFEST_FILE: &str = "manifest.toml";

/// Environment variable that names the models directory, checked first by
/// [`default_models_dir`].
pub const MODELS_ENV: &str = "SCREENING_MODELS";

/// Manifest key of the face detector (BlazeFace short range).
pub const FACE_DETECTOR: &str = "face_detector";

/// Manifest key of the face landmark model (FaceMesh, 468 points).
pub const FACE_LANDMARKS: &str = "face_landmarks";

/// Why a manifest or a model could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The directory holds no `manifest.toml`.
    #[error(
        "no {MANIFEST_FILE} in {dir}: point {MODELS_ENV} (or the --models option) at the \
         folder that holds the model files and their manifest"
    )]
    ManifestMissing {
        /// The directory that was searched.
        dir: PathBuf,
    },
    /// The manifest exists but could not be read.
    #[error("cannot read {path}: {source}")]
    ManifestRead {
        /// The manifest's path.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The manifest is not valid TOML or lacks a required key.
    #[error("{path}:{line}:{column}: {message}")]
    ManifestParse {
        /// The manifest's path.
        path: PathBuf,
        /// 1-based line of the error (0 when unknown).
        line: usize,
        /// 1-based column of the error (0 when unknown).
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The manifest parses but one of its values makes no sense.
    #[error("{path}: {message}")]
    ManifestInvalid {
        /// The manifest's path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The manifest has no entry of that name.
    #[error("the manifest lists no model called {name:?} (it has: {available})")]
    UnknownModel {
        /// The requested entry.
        name: String,
        /// The entries it does have, comma separated.
        available: String,
    },
    /// The manifest names a file that is not there.
    #[error("model file {path} (manifest entry {name:?}) is missing: reinstall the models folder")]
    FileMissing {
        /// The manifest entry.
        name: String,
        /// Where the file was expected.
        path: PathBuf,
    },
    /// The model file exists but could not be read.
    #[error("cannot read model file {path}: {source}")]
    FileRead {
        /// The model file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The model file's sha256 differs from the manifest's.
    #[error(
        "model file {path} has sha256 {actual} but the manifest expects {expected}: the file is \
         damaged or from another release; reinstall the models folder (or re-run \
         models/face/convert.sh) rather than editing the manifest"
    )]
    HashMismatch {
        /// The model file.
        path: PathBuf,
        /// The hash the manifest lists.
        expected: String,
        /// The hash of the file on disk.
        actual: String,
    },
    /// tract could not parse, type or optimise the model.
    #[error("cannot load model {name:?} with tract: {message}")]
    Load {
        /// The manifest entry.
        name: String,
        /// tract's error chain.
        message: String,
    },
    /// The loaded network does not have the inputs or outputs the code needs.
    #[error("model {name:?} does not fit: {message}")]
    Incompatible {
        /// The manifest entry.
        name: String,
        /// What differs.
        message: String,
    },
    /// tract failed while running the model.
    #[error("running model {name:?} failed: {message}")]
    Run {
        /// The manifest entry.
        name: String,
        /// tract's error chain.
        message: String,
    },
}

/// The aligned face crop every model downstream of the face stage sees: a
/// square of `size` pixels with the eye centres at fixed positions.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct StandardView {
    /// Side of the square crop, pixels.
    pub size: u32,
    /// Where the centre of the patient's left eye goes, `[x, y]` in crop
    /// pixels (it is on the image's right).
    pub left_eye: [f32; 2],
    /// Where the centre of the patient's right eye goes, `[x, y]` in crop pixels.
    pub right_eye: [f32; 2],
}

impl StandardView {
    /// The two eye positions as points.
    pub fn eyes(&self) -> PerSide<Point> {
        PerSide::new(
            Point::new(self.left_eye[0], self.left_eye[1]),
            Point::new(self.right_eye[0], self.right_eye[1]),
        )
    }

    /// Distance between the two eye positions, crop pixels.
    pub fn interocular(&self) -> f32 {
        let e = self.eyes();
        e.left.distance(e.right)
    }

    fn validate(&self) -> Result<(), String> {
        if !(16..=1024).contains(&self.size) {
            return Err(format!(
                "standard_view.size = {} is outside 16..=1024",
                self.size
            ));
        }
        let s = self.size as f32;
        for (name, [x, y]) in [("left_eye", self.left_eye), ("right_eye", self.right_eye)] {
            if !(x.is_finite() && y.is_finite() && (0.0..s).contains(&x) && (0.0..s).contains(&y)) {
                return Err(format!(
                    "standard_view.{name} = [{x}, {y}] is outside the crop"
                ));
            }
        }
        // The patient's left eye is on the image's right in a non-mirrored view;
        // swapping them would silently mirror every crop.
        if self.left_eye[0] <= self.right_eye[0] + 1.0 {
            return Err(
                "standard_view.left_eye must lie to the right of right_eye (the patient's \
                        left appears on the image's right)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// What a network expects as input.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct InputSpec {
    /// Name of the graph input, when the file names it.
    #[serde(default)]
    pub name: Option<String>,
    /// Full tensor shape, batch included, e.g. `[1, 3, 128, 128]`.
    pub shape: Vec<usize>,
    /// Axis order, e.g. `"NCHW"`.
    #[serde(default)]
    pub layout: Option<String>,
    /// Channel order, e.g. `"RGB"`.
    #[serde(default)]
    pub colour: Option<String>,
    /// Values a pixel of 0 and of 255 map to, e.g. `[-1.0, 1.0]`.
    #[serde(default)]
    pub range: Option<[f32; 2]>,
}

/// One output of a network, for checking and for readers of the manifest.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct OutputSpec {
    /// Name of the graph output.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// What it holds.
    #[serde(default)]
    pub meaning: Option<String>,
}

/// One `[models.NAME]` table of the manifest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelEntry {
    /// File name, relative to the models directory.
    pub file: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// Licence of the weights.
    #[serde(default)]
    pub licence: Option<String>,
    /// Provenance, free form (a table for converted models).
    #[serde(default)]
    pub source: Option<toml::Value>,
    /// Input tensor description.
    #[serde(default)]
    pub input: Option<InputSpec>,
    /// Output tensors, in graph order.
    #[serde(default)]
    pub outputs: Vec<OutputSpec>,
    /// Every other key of the table, kept for the code that owns the entry.
    #[serde(flatten)]
    pub extra: toml::Table,
}

#[derive(Debug, Deserialize)]
struct RawManifest {
    standard_view: StandardView,
    #[serde(default)]
    models: BTreeMap<String, ModelEntry>,
}

/// A parsed `manifest.toml` and the directory it came from.
#[derive(Debug, Clone)]
pub struct Manifest {
    dir: PathBuf,
    /// The aligned face crop (see [`StandardView`]).
    pub standard_view: StandardView,
    /// Every `[models.NAME]` entry, by name.
    pub models: BTreeMap<String, ModelEntry>,
}

impl Manifest {
    /// Reads and checks `dir/manifest.toml`. Model files are not read yet.
    pub fn load(dir: &Path) -> Result<Manifest, ModelError> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ModelError::ManifestMissing {
                    dir: dir.to_path_buf(),
                })
            }
            Err(source) => return Err(ModelError::ManifestRead { path, source }),
        };
        Self::parse(&text, dir)
    }

    /// Parses manifest text as if it were `dir/manifest.toml`.
    pub fn parse(text: &str, dir: &Path) -> Result<Manifest, ModelError> {
        let path = dir.join(MANIFEST_FILE);
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .unwrap_or((0, 0));
            ModelError::ManifestParse {
                path: path.clone(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let invalid = |message: String| ModelError::ManifestInvalid {
            path: path.clone(),
            message,
        };
        raw.standard_view.validate().map_err(invalid)?;
        for (name, entry) in &raw.models {
            let hash_ok = entry.sha256.len() == 64
                && entry
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !hash_ok {
                return Err(invalid(format!(
                    "models.{name}.sha256 must be 64 lower-case hex digits, not {:?}",
                    entry.sha256
                )));
            }
            // The file must stay inside the models folder.
            let file = Path::new(&entry.file);
            if entry.file.is_empty()
                || file.is_absolute()
                || file
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(invalid(format!(
                    "models.{name}.file = {:?} must be a relative path inside the models folder",
                    entry.file
                )));
            }
        }
        Ok(Manifest {
            dir: dir.to_path_buf(),
            standard_view: raw.standard_view,
            models: raw.models,
        })
    }

    /// The directory the manifest was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry called `name`.
    pub fn entry(&self, name: &str) -> Result<&ModelEntry, ModelError> {
        self.models
            .get(name)
            .ok_or_else(|| ModelError::UnknownModel {
                name: name.to_string(),
                available: self.models.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// Where the file of entry `name` lives.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, ModelError> {
        Ok(self.dir.join(&self.entry(name)?.file))
    }

    /// Reads the file of entry `name` and returns its bytes only when their
    /// sha256 is the manifest's.
    pub fn read_verified(&self, name: &str) -> Result<Vec<u8>, ModelError> {
        let entry = self.entry(name)?;
        let path = self.dir.join(&entry.file);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ModelError::FileMissing {
                    name: name.to_string(),
                    path,
                })
            }
            Err(source) => return Err(ModelError::FileRead { path, source }),
        };
        let actual = sha256_hex(&bytes);
        if actual != entry.sha256 {
            return Err(ModelError::HashMismatch {
                path,
                expected: entry.sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Reads, verifies and loads the ONNX network of entry `name` with its
    /// input pinned to the manifest's `input.shape` (f32), optimised once.
    pub fn load_onnx(&self, name: &str) -> Result<LoadedModel, ModelError> {
        let entry = self.entry(name)?;
        let shape = entry
            .input
            .as_ref()
            .map(|i| i.shape.clone())
            .filter(|s| !s.is_empty() && s.iter().all(|&d| d > 0))
            .ok_or_else(|| ModelError::ManifestInvalid {
                path: self.dir.join(MANIFEST_FILE),
                message: format!("models.{name}.input.shape is missing or has a zero dimension"),
            })?;
        let bytes = self.read_verified(name)?;
        LoadedModel::from_onnx_bytes(name, &bytes, &shape)
    }
}

/// The directories [`default_models_dir`] tries, in order.
pub fn models_dir_candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(MODELS_ENV).filter(|v| !v.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("../share/synkinesis/models"));
    }
    dirs.push(PathBuf::from("/usr/share/synkinesis/models"));
    dirs.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models"
    )));
    dirs
}

/// Where the models are when the caller names no directory: the first of
/// `$SCREENING_MODELS`, `<exe dir>/../share/synkinesis/models`,
/// `/usr/share/synkinesis/models` and the source tree's `models/` that holds
/// a `manifest.toml`. When none does, the first candidate is returned so that
/// the error raised on loading names the place the user most likely meant.
pub fn default_models_dir() -> PathBuf {
    let candidates = models_dir_candidates();
    if let Some(found) = candidates.iter().find(|d| d.join(MANIFEST_FILE).is_file()) {
        if std::env::var_os(MODELS_ENV).is_some_and(|v| !v.is_empty())
            && Some(found) != candidates.first()
        {
            tracing::warn!(
                "{MODELS_ENV} holds no {MANIFEST_FILE}; using {}",
                found.display()
            );
        }
        return found.clone();
    }
    candidates
        .into_iter()
        .next()
        .unwrap_or_else(|| PathBuf::from("models"))
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    // toml's spans fall on character boundaries; `get` keeps a bad one harmless.
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Describes a manifest in a few lines, for logs and `--version` output.
pub fn describe(manifest: &Manifest) -> String {
    let mut s = format!("models in {}:", manifest.dir.display());
    for (name, entry) in &manifest.models {
        let _ = write!(
            s,
            "\n  {name}: {} (sha256 {}…)",
            entry.file,
            &entry.sha256[..12]
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEW: &str =
        "[standard_view]\nsize = 112\nleft_eye = [72.8, 44.8]\nright_eye = [39.2, 44.8]\n";

    fn manifest_with(dir: &Path, file: &str, sha: &str) -> String {
        let text = format!(
            "{VIEW}\n[models.thing]\nfile = \"{file}\"\nsha256 = \"{sha}\"\n\
             input = {{ shape = [1, 3, 4, 4] }}\n\n[models.classifier]\nfile = \"c.onnx\"\n\
             sha256 = \"{}\"\nlabels = [\"no\", \"yes\"]\n",
            "0".repeat(64)
        );
        std::fs::write(dir.join(MANIFEST_FILE), &text).unwrap();
        text
    }

    #[test]
    fn missing_manifest_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Manifest::load(dir.path()).unwrap_err();
        assert!(matches!(err, ModelError::ManifestMissing { .. }), "{err}");
        assert!(err.to_string().contains(MODELS_ENV));
    }

    #[test]
    fn parse_error_has_line_and_column() {
        let text = format!("{VIEW}\n[models.x]\nfile = 3\n");
        let err = Manifest::parse(&text, Path::new("/m")).unwrap_err();
        match err {
            ModelError::ManifestParse { line, column, .. } => {
                assert_eq!(line, 7, "{err}");
                assert!(column > 1);
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn extra_entries_and_keys_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        manifest_with(dir.path(), "t.bin", &"a".repeat(64));
        let m = Manifest::load(dir.path()).unwrap();
        assert_eq!(m.models.len(), 2);
        assert!(m.models["classifier"].extra.contains_key("labels"));
        assert!(matches!(
            m.entry("nope"),
            Err(ModelError::UnknownModel { .. })
        ));
    }

    #[test]
    fn hash_mismatch_names_file_and_both_hashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.bin"), b"tampered").unwrap();
        let expected = sha256_hex(b"original");
        manifest_with(dir.path(), "t.bin", &expected);
        let m = Manifest::load(dir.path()).unwrap();
        let err = m.read_verified("thing").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ModelError::HashMismatch { .. }));
        assert!(text.contains("t.bin") && text.contains(&expected));
        assert!(text.contains(&sha256_hex(b"tampered")));
        assert!(text.contains("reinstall"));
        std::fs::write(dir.path().join("t.bin"), b"original").unwrap();
        assert_eq!(m.read_verified("thing").unwrap(), b"original");
    }

    #[test]
    fn missing_file_and_escaping_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        manifest_with(dir.path(), "absent.onnx", &"b".repeat(64));
        let m = Manifest::load(dir.path()).unwrap();
        assert!(matches!(
            m.read_verified("thing"),
            Err(ModelError::FileMissing { .. })
        ));
        let text = manifest_with(dir.path(), "../etc/passwd", &"b".repeat(64));
        assert!(matches!(
            Manifest::parse(&text, dir.path()),
            Err(ModelError::ManifestInvalid { .. })
        ));
    }

    #[test]
    fn swapped_eyes_are_refused() {
        let text =
            "[standard_view]\nsize = 112\nleft_eye = [39.2, 44.8]\nright_eye = [72.8, 44.8]\n";
        let err = Manifest::parse(text, Path::new("/m")).unwrap_err();
        assert!(matches!(err, ModelError::ManifestInvalid { .. }), "{err}");
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn repository_manifest_loads() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../models"));
        let m = Manifest::load(dir).unwrap();
        for name in [FACE_DETECTOR, FACE_LANDMARKS] {
            m.read_verified(name).unwrap();
        }
    }
}
