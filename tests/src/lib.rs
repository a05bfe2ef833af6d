//! Helpers shared by the end-to-end tests: where the models and fixtures
//! are, and the face stage loaded once.

use std::path::PathBuf;
use std::sync::OnceLock;

use screening::face::FaceStage;

/// The repository's `models/` folder.
pub fn models_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models"))
}

/// The repository's `tests/data/` folder (fixtures with their licences).
pub fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
}

/// The face stage, loaded once per test binary (loading optimises two networks).
pub fn face_stage() -> &'static FaceStage {
    static STAGE: OnceLock<FaceStage> = OnceLock::new();
    STAGE.get_or_init(|| FaceStage::load(&models_dir()).expect("the committed face models load"))
}

pub mod eye_narrowing;
pub mod real_faces;
