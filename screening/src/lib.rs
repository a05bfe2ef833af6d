//! Shared library of the synkinesis screening kiosk and the clinic tool.
//!
//! It holds what both binaries need and nothing that touches hardware,
//! databases or servers: the geometry of faces, the clinical vocabulary
//! ([`protocol`]), the face stage ([`face`]) and the model manifest ([`model`]).
#![warn(missing_docs)]

pub mod classifier;
pub mod decision;
pub mod durable;
pub mod face;
pub mod geometry;
pub mod model;
pub mod protocol;
pub mod record;
pub mod series;
pub mod series_model;
#[doc(hidden)]
pub mod testing;
pub mod vector_state;
