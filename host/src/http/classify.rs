//! The one seam between "classify a photo" and the classifier runtime
//! (`screening::classifier`): load the int8 network named by the manifest,
//! run it on a standard view, and lay its class-activation map over the view.

use image::RgbImage;
use screening::classifier::{Classifier, Variant};
use screening::decision::Outcome;
use screening::model::Manifest;

/// What the classifier said about one standard view.
#[derive(Debug, Clone)]
pub struct PhotoClassification {
    /// Probability of synkinesis.
    pub probability: f32,
    /// The screening threshold.
    pub threshold: f32,
    /// The standard view under the class-activation map.
    pub overlay: RgbImage,
    /// Which network ran.
    pub variant: String,
}

impl PhotoClassification {
    /// Refer when the probability is at or over the threshold.
    pub fn outcome(&self) -> Outcome {
        if screening::decision::reaches(self.probability, self.threshold) {
            Outcome::Refer
        } else {
            Outcome::NoSynkinesisDetected
        }
    }
}

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
