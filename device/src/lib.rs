//! The screening kiosk (`kiosk`): cameras, displays, inputs, the guided
//! screening session, and the demo that runs it all on a virtual patient.
//!
//! Hardware sits behind one trait per kind ([`camera::Camera`],
//! [`display::Display`], [`input::Input`]); the real implementation lives
//! beside the simulated one and configuration picks which runs.

pub mod admin;
pub mod archive;
pub mod bringup;
pub mod camera;
pub mod cli;
pub mod config;
pub mod crash_drill;
#[cfg(feature = "virtual-camera")]
pub mod demo;
pub mod display;
pub mod export;
pub mod identity;
pub mod input;
pub mod kiosk;
pub mod parts;
pub mod record_log;
pub mod record_store;
pub mod screens;
pub mod service;
pub mod session;
pub mod sync;
pub mod watchdog;
