//! The clinic tool (`clinic`): everything the laptop in the clinic does.
//!
//! For now it writes synthetic training data sets from virtual patients
//! ([`dataset`]); enrolment, sync, storage and the web page follow.

pub mod admin;
pub mod audit;
pub mod challenges;
pub mod cli;
pub mod dataset;
pub mod evaluate;
pub mod export;
pub mod fhir;
pub mod history;
pub mod http;
pub mod import;
pub mod ingest;
pub mod login_throttle;
pub mod series_eval;
pub mod split;
pub mod store;
pub mod users;
