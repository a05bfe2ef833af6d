//! Command-line interface of `kiosk`: flags in, library calls out. Only
//! `main` prints errors.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use screening::protocol::ConditionKind;

use crate::admin;

/// The synkinesis screening kiosk. A screening aid, not a diagnostic device.
#[derive(Debug, Parser)]
#[command(name = "kiosk", version, about)]
pub struct Cli {
    /// Configuration file (TOML); without it the embedded default is used.
    #[arg(long, global = true, env = "KIOSK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `device=debug`.
    #[arg(long, global = true, default_value = "info", env = "KIOSK_LOG")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

/// What `kiosk` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the kiosk: screenings one after another on the configured camera,
    /// display and input, until stopped.
    Run {
        /// Stop after this many completed screenings (default: never).
        #[arg(long)]
        screenings: Option<usize>,
    },
    /// One full screening of a virtual patient on the embedded default:
    /// every screen written to PNG, a summary on the terminal.
    Demo {
        /// Which virtual patient sits at the kiosk.
        #[arg(long, default_value = "synkinetic")]
        condition: ConditionKind,
        /// Patient seed (another seed, another face).
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Folder for the screens and the kiosk's data.
        #[arg(long, default_value = "kiosk-demo")]
        out: PathBuf,
    },
    /// Print this kiosk's public key and fingerprint, for `clinic enroll`.
    Identity {
        /// Data folder (default: `storage.data_dir` of the configuration).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Pin the clinic's public key (from `clinic identity`) and address.
    Pair {
        /// Data folder (default: `storage.data_dir` of the configuration).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The clinic's public key, 64 hex characters.
        #[arg(long)]
        host_key: String,
        /// The clinic's sync address, e.g. `http://192.168.1.20:8470`.
        #[arg(long)]
        url: Option<String>,
    },
    /// Write unacknowledged records to DIR (a USB drive) for `clinic import`.
    Export {
        /// Data folder (default: `storage.data_dir` of the configuration).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The drive's folder.
        dir: PathBuf,
    },
    /// Push unacknowledged records to the paired clinic over HTTP.
    Sync {
        /// Data folder (default: `storage.data_dir` of the configuration).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Clinic address (default: the one given at pairing).
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for each request.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Crash drill for tests: append records, print each acknowledged one.
    #[command(hide = true)]
    RecordLogTorture {
        /// Data folder.
        #[arg(long)]
        data: PathBuf,
        /// How many records to append.
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// Write each entry in two halves this many microseconds apart.
        #[arg(long)]
        split_pause_us: Option<u64>,
    },
    /// List the V4L2 cameras with their formats and frame sizes.
    Cameras,
    /// Capture frames from a camera (bring-up; the VM test).
    Capture(crate::bringup::CaptureArgs),
    /// Draw one screen on a display (bring-up; the VM test).
    Screen(crate::bringup::ScreenArgs),
    /// Read a framebuffer back to a PNG (the VM test).
    #[command(hide = true)]
    FbDump(crate::bringup::FbDumpArgs),
}

/// `kiosk demo`: one screening of a virtual patient, summary on stdout.
#[cfg(feature = "virtual-camera")]
fn demo(
    config: &crate::config::Config,
    condition: ConditionKind,
    seed: u64,
    out: PathBuf,
) -> Result<()> {
    use crate::demo::DemoOptions;
    use anyhow::Context;
    let opts = DemoOptions {
        condition,
        seed,
        out: out.clone(),
    };
    let report = crate::demo::run(config, &opts)
        .with_context(|| format!("running the demo into {}", out.display()))?;
    println!("{report}");
    Ok(())
}

/// Without the renderer there is no patient to screen: say how to get one.
#[cfg(not(feature = "virtual-camera"))]
fn demo(
    _config: &crate::config::Config,
    _condition: ConditionKind,
    _seed: u64,
    _out: PathBuf,
) -> Result<()> {
    anyhow::bail!(
        "`kiosk demo` screens a virtual patient, and this kiosk was built without one \
         (cargo feature `virtual-camera`): rebuild with the feature, or screen with a \
         real camera through `kiosk run`"
    )
}

/// Parses the command line and runs it.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let config = match &cli.config {
        Some(path) => crate::config::Config::load(path)?,
        None => crate::config::Config::default(),
    };
    match cli.command {
        Command::Run { screenings } => crate::kiosk::run(&config, screenings),
        Command::Demo {
            condition,
            seed,
            out,
        } => demo(&config, condition, seed, out),
        Command::Identity { data } => print(admin::identity(&data_dir(data, &config))),
        Command::Pair {
            data,
            host_key,
            url,
        } => print(admin::pair(&data_dir(data, &config), &host_key, url)),
        Command::Export { data, dir } => print(admin::export(&data_dir(data, &config), &dir)),
        Command::Sync { data, url, timeout } => print(admin::sync(
            &data_dir(data, &config),
            url,
            std::time::Duration::from_secs(timeout),
        )),
        Command::RecordLogTorture {
            data,
            count,
            split_pause_us,
        } => crate::crash_drill::run(
            &data,
            count,
            split_pause_us.map(std::time::Duration::from_micros),
        ),
        Command::Cameras => crate::bringup::cmd_cameras(),
        Command::Capture(args) => crate::bringup::cmd_capture(&args),
        Command::Screen(args) => crate::bringup::cmd_screen(&args),
        Command::FbDump(args) => crate::bringup::cmd_fb_dump(&args),
    }
}

fn data_dir(flag: Option<PathBuf>, config: &crate::config::Config) -> PathBuf {
    flag.unwrap_or_else(|| config.storage.data_dir.clone())
}

fn print(text: Result<String>) -> Result<()> {
    print!("{}", text?);
    Ok(())
}

/// Logging to stderr. The filter has `RUST_LOG`'s common form (`info`,
/// `device=debug,warn`); `Targets` reads it without the regex engine that
/// `EnvFilter` would add to the board's binary.
fn init_logging(filter: &str) {
    let (targets, bad) = match filter.parse::<tracing_subscriber::filter::Targets>() {
        Ok(t) => (t, None),
        Err(e) => (
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing_subscriber::filter::LevelFilter::INFO),
            Some(e),
        ),
    };
    // Colour only on a terminal: under systemd stderr is the journal, where
    // escape codes would show as `^[[2m` in `journalctl -u kiosk`.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi),
        )
        .with(targets)
        .try_init();
    if let Some(e) = bad {
        tracing::warn!("log filter {filter:?} not understood ({e}); logging at info");
    }
}
