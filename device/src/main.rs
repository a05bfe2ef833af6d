//! `kiosk`: the screening kiosk. All the work is in the `device` library.

use std::process::ExitCode;

fn main() -> ExitCode {
    match device::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kiosk: {err:#}");
            ExitCode::FAILURE
        }
    }
}
