//! The virtual patient: a camera that renders a `virtual_patient` patient
//! live and does what the screen asks, like a cooperative person would —
//! after a reaction delay, easing into the expression, swaying a little and
//! blinking now and then.
//!
//! Time is the camera's own: frame `n` is taken `n / fps` seconds after the
//! camera opened, however long rendering took. A demo or test therefore
//! behaves the same on a Pi, under qemu and on a laptop.

use std::time::{Duration, Instant};

use ::virtual_patient::{self as synth, Expression, FaceState, Patient, Scene};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::camera::{Camera, CameraError, Frame};

/// How a virtual patient moves.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Frames per second of the camera clock.
    pub fps: f32,
    /// Seconds between a new prompt and the first movement.
    pub reaction_s: f32,
    /// Seconds from the first movement to the full expression.
    pub onset_s: f32,
    /// Mean seconds between blinks.
    pub blink_every_s: f32,
    /// Amplitude of the slow head sway, degrees.
    pub sway_deg: f32,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            fps: 30.0,
            reaction_s: 0.6,
            onset_s: 0.5,
            blink_every_s: 4.0,
            sway_deg: 1.5,
        }
    }
}

/// A camera that films a virtual patient.
pub struct VirtualPatientCamera {
    patient: Patient,
    scene: Scene,
    width: u32,
    height: u32,
    behaviour: Behaviour,
    opened: Instant,
    sequence: u64,
    prompt: Option<Expression>,
    prompt_at: f32,
    next_blink: f32,
    rng: ChaCha8Rng,
}

/// Seconds a blink takes, closing and opening.
const BLINK_S: f32 = 0.2;

impl VirtualPatientCamera {
    /// Films `patient` in `scene` at `width` × `height`.
    pub fn new(patient: Patient, scene: Scene, width: u32, height: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(patient.seed ^ 0xB11A_C0DE);
        let behaviour = Behaviour::default();
        let next_blink = rng.gen_range(1.0..2.0 * behaviour.blink_every_s);
        Self {
            patient,
            scene,
            width,
            height,
            behaviour,
            opened: Instant::now(),
            sequence: 0,
            prompt: None,
            prompt_at: 0.0,
            next_blink,
            rng,
        }
    }

    /// Changes how the patient moves.
    #[must_use]
    pub fn with_behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// The patient being filmed.
    pub fn patient(&self) -> &Patient {
        &self.patient
    }

    fn now_s(&self) -> f32 {
        self.sequence as f32 / self.behaviour.fps.max(1.0)
    }

    /// What the face does at camera time `t`.
    fn state_at(&mut self, t: f32) -> FaceState {
        let b = self.behaviour;
        let expression = self.prompt.unwrap_or(Expression::Rest);
        let into = (t - self.prompt_at - b.reaction_s) / b.onset_s.max(1e-3);
        // Smoothstep: people ease into an expression rather than snapping.
        let x = into.clamp(0.0, 1.0);
        let intensity = if self.prompt.is_some() {
            x * x * (3.0 - 2.0 * x)
        } else {
            0.0
        };
        if t > self.next_blink + BLINK_S {
            self.next_blink = t + self.rng.gen_range(0.5..2.0) * b.blink_every_s;
        }
        let phase = (t - self.next_blink) / BLINK_S;
        let blink = if (0.0..1.0).contains(&phase) {
            (phase * std::f32::consts::PI).sin()
        } else {
            0.0
        };
        FaceState {
            expression,
            intensity,
            blink,
        }
    }

    fn scene_at(&self, t: f32) -> Scene {
        let mut s = self.scene;
        let a = self.behaviour.sway_deg;
        s.yaw_deg += a * (0.7 * t).sin();
        s.pitch_deg += 0.5 * a * (0.45 * t + 1.0).sin();
        s.roll_deg += 0.6 * a * (0.5 * t + 2.0).sin();
        s.noise_seed = s.noise_seed.wrapping_add(self.sequence);
        s
    }
}

impl Camera for VirtualPatientCamera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        let t = self.now_s();
        let state = self.state_at(t);
        let scene = self.scene_at(t);
        let rendered = synth::render(&self.patient, &state, &scene, self.width, self.height);
        let frame = Frame {
            image: rendered.image,
            sequence: self.sequence,
            captured: self.opened + Duration::from_secs_f32(t),
        };
        self.sequence += 1;
        Ok(frame)
    }

    fn follow_prompt(&mut self, prompt: Option<Expression>) {
        if prompt != self.prompt {
            self.prompt = prompt;
            self.prompt_at = self.now_s();
        }
    }

    fn describe(&self) -> String {
        format!(
            "virtual patient {} ({}), {}×{} at {} fps",
            self.patient.id,
            self.patient.condition.kind(),
            self.width,
            self.height,
            self.behaviour.fps
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use screening::protocol::ConditionKind;

    fn camera() -> VirtualPatientCamera {
        VirtualPatientCamera::new(
            Patient::with_kind(3, ConditionKind::Healthy),
            Scene::studio(),
            160,
            120,
        )
    }

    #[test]
    fn expression_follows_the_prompt_after_a_delay() {
        let mut c = camera();
        c.follow_prompt(Some(Expression::BigSmile));
        assert_eq!(c.state_at(0.1).intensity, 0.0, "still reacting");
        assert!(
            c.state_at(0.85).intensity > 0.2 && c.state_at(0.85).intensity < 1.0,
            "easing in"
        );
        assert_eq!(c.state_at(2.0).intensity, 1.0);
        assert_eq!(c.state_at(2.0).expression, Expression::BigSmile);
    }

    #[test]
    fn frames_carry_camera_time_and_sequence() {
        let mut c = camera();
        let a = c.next_frame().unwrap();
        let b = c.next_frame().unwrap();
        assert_eq!((a.sequence, b.sequence), (0, 1));
        let dt = b.captured - a.captured;
        assert!((dt.as_secs_f32() - 1.0 / 30.0).abs() < 1e-3, "{dt:?}");
        assert_eq!(a.image.dimensions(), (160, 120));
    }

    #[test]
    fn blinks_happen_and_end() {
        let mut c = camera();
        let closed: Vec<f32> = (0..300)
            .map(|i| c.state_at(i as f32 / 30.0).blink)
            .collect();
        assert!(
            closed.iter().any(|&b| b > 0.9),
            "at least one full blink in 10 s"
        );
        assert!(
            closed.iter().filter(|&&b| b > 0.0).count() < 60,
            "eyes mostly open"
        );
    }
}
