//! `clinic`: the tool on the clinic laptop. All the work is in the `host` library.

use std::process::ExitCode;

fn main() -> ExitCode {
    match host::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("clinic: {err:#}");
            ExitCode::FAILURE
        }
    }
}
