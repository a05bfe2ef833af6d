//! The one seam between "classify a photo" and the classifier runtime.
//! The runtime (`screening::classifier`) is not in this build yet, so the
//! page shows the face stage's result and says why there is no probability.

use image::RgbImage;
use screening::model::Manifest;

use super::upload::PhotoClassification;

/// The loaded classifier (none in this build).
pub struct PhotoClassifier(());

impl PhotoClassifier {
    /// Says why there is no classifier.
    pub fn load(_manifest: &Manifest) -> Result<PhotoClassifier, String> {
        Err("the classifier runtime is not part of this build yet".into())
    }

    /// Which network, for the page.
    pub fn describe(&self) -> String {
        String::from("none")
    }

    /// Never reached: [`PhotoClassifier::load`] always fails.
    pub fn classify(&self, _view: &RgbImage) -> Result<PhotoClassification, String> {
        Err("no classifier in this build".into())
    }
}
