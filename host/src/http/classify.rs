//! The one seam between "classify a photo" and the classifier runtime
//! (`screening::classifier`): load the int8 network named by the manifest,
//! run it on a standard view, and lay its class-activation map over the view.

use image::RgbImage;
use screening::classifier::{Classifier, Variant};
use screening::model::Manifest;

use super::upload::PhotoClassification;

/// The loaded classifier.
pub struct PhotoClassifier(Classifier);

impl PhotoClassifier {
    /// Loads the int8 classifier of `manifest`, or says why it cannot.
    pub fn load(manifest: &Manifest) -> Result<PhotoClassifier, String> {
        Classifier::load(manifest, Variant::Int8)
            .map(PhotoClassifier)
            .map_err(|e| e.to_string())
    }

    /// Which network, and its threshold, for the page.
    pub fn describe(&self) -> String {
        format!("{}, threshold {:.2}", self.0.variant(), self.0.threshold())
    }

    /// Probability, threshold and overlay for one standard view.
    pub fn classify(&self, view: &RgbImage) -> Result<PhotoClassification, String> {
        let c = self.0.classify(view).map_err(|e| e.to_string())?;
        Ok(PhotoClassification {
            probability: c.probability,
            threshold: self.0.threshold(),
            overlay: c.cam.to_overlay(view),
            variant: self.0.variant().to_string(),
        })
    }
}
