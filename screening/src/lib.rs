//! Shared library of the synkinesis screening kiosk and the clinic tool.
//!
//! It holds what both binaries need and nothing that touches hardware,
//! databases or servers: the geometry of faces, virtual patients
//! ([`synth`]), the face stage ([`face`]) and the model manifest ([`model`]).
#![warn(missing_docs)]

pub mod classifier;
pub mod decision;
pub mod face;
pub mod geometry;
pub mod model;
pub mod record;
pub mod synth;
pub mod vector_state;
