//! End-to-end tests. One binary, one module per area, as ripgrep does.

mod end_to_end;
mod face_on_virtual_patients;
mod layering;
mod real_faces;
mod record_sync;
mod sync_wire_faults;
mod web_browser;
