//! Command-line interface of `clinic`: parses flags and hands over to the
//! library; the only place that prints errors is `main`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::admin::{self, DataArgs};
use crate::dataset::{self, SynthOptions};
use crate::evaluate::{self, EvaluateOptions};
use crate::series_eval;
use screening::classifier::Variant;

/// The clinic tool: enrol kiosks, collect their records, synthesise data.
#[derive(Debug, Parser)]
#[command(name = "clinic", version, about)]
pub struct Cli {
    /// Folder holding `manifest.toml` and the model files (default: the installed or in-repo models).
    #[arg(long, global = true, env = "SCREENING_MODELS")]
    pub models: Option<PathBuf>,
    /// Log filter, e.g. `info` or `host=debug`.
    #[arg(long, global = true, default_value = "info", env = "CLINIC_LOG")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

/// What `clinic` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic training data set: aligned standard views of virtual
    /// patients plus `index.csv` with a patient-disjoint split.
    Synth {
        /// How many virtual patients (each gives one photo of every expression).
        #[arg(long, default_value_t = 100)]
        patients: usize,
        /// Seed; the same seed writes the same data set.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder (created; must be empty or absent).
        #[arg(long)]
        out: PathBuf,
        /// Width of the rendered camera frame.
        #[arg(long, default_value_t = 640)]
        width: u32,
        /// Height of the rendered camera frame.
        #[arg(long, default_value_t = 480)]
        height: u32,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Also keep the full rendered frames (for inspection), under `frames/`.
        #[arg(long)]
        keep_frames: bool,
        /// Photo session: 1, 2, ... photograph the same patients (same
        /// split and file names) in other settings, for merging.
        #[arg(long, default_value_t = 0)]
        session: u32,
    },
    /// Print this clinic's public key, which kiosks pin (`kiosk pair`).
    Identity {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Trust a kiosk's public key (from `kiosk identity`).
    Enroll {
        #[command(flatten)]
        data: DataArgs,
        /// The kiosk's public key, 64 hex characters.
        #[arg(long)]
        key: String,
        /// A name for the kiosk.
        #[arg(long)]
        name: String,
        /// Where it stands.
        #[arg(long, default_value = "")]
        site: String,
    },
    /// List enrolled kiosks with record counts and last sync.
    Devices {
        #[command(flatten)]
        data: DataArgs,
    },
    /// List stored records.
    Records {
        #[command(flatten)]
        data: DataArgs,
        /// Only this kiosk (fingerprint or id prefix).
        #[arg(long)]
        device: Option<String>,
        /// Only this outcome (`refer`, `no_synkinesis_detected`, `incomplete`).
        #[arg(long)]
        outcome: Option<String>,
        /// Only the newest N.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Re-check every stored signature, chain link and listing column.
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Import kiosk USB bundles from DIR and leave acknowledgements there.
    Import {
        #[command(flatten)]
        data: DataArgs,
        /// The folder the kiosk exported to (the USB drive).
        dir: PathBuf,
    },
    /// Export stored records as CSV or JSON, one patient's history as CSV,
    /// or screenings as HL7 FHIR R4 Observations for the hospital record.
    Export {
        #[command(flatten)]
        data: DataArgs,
        /// CSV with a header row.
        #[arg(long, conflicts_with_all = ["json", "fhir"], required_unless_present_any = ["json", "patient", "fhir"])]
        csv: bool,
        /// A JSON array.
        #[arg(long, conflicts_with = "fhir")]
        json: bool,
        /// A FHIR R4 Bundle (JSON) of one Observation per screening that
        /// verifies; with --patient, that patient's only.
        #[arg(long)]
        fhir: bool,
        /// Only this patient's screenings, oldest first, each re-verified,
        /// with per-expression scores and eye-aperture ratios (CSV; the
        /// web page's patient history).
        #[arg(long, value_name = "REF", conflicts_with = "json")]
        patient: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve the kiosk sync endpoint and the web page (localhost unless told otherwise).
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on; use the LAN address to accept kiosks.
        #[arg(long, default_value = "127.0.0.1:8470")]
        bind: std::net::SocketAddr,
        /// How long a web login lasts, in minutes.
        #[arg(long, default_value_t = 600)]
        session_minutes: u32,
        #[command(flatten)]
        tls: admin::TlsArgs,
    },
    /// Evaluate the synkinesis classifier (the kiosk's Rust runtime) on a
    /// data set: per image, per condition, expression, skin tone and series,
    /// int8 against f32; writes a JSON report and a PNG plot.
    Evaluate {
        /// The data-set folder (`index.csv` and its standard views).
        #[arg(long)]
        data: PathBuf,
        /// Which network: `int8`, `f32` or `both`.
        #[arg(long, default_value = "both", value_parser = ["int8", "f32", "both"])]
        model: String,
        /// Which split (`test`, `validation`, `train` or `all`).
        #[arg(long, default_value = "test")]
        split: String,
        /// Where to write the JSON report.
        #[arg(long, default_value = "report.json")]
        out: PathBuf,
        /// Where to write the ROC and histogram plot (PNG).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Bootstrap resamples for the AUC and F1 intervals.
        #[arg(long, default_value_t = 1000)]
        resamples: usize,
        /// Seed of the bootstrap.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write the series model's features of every series of a data set
    /// (one patient in one session per line), computed by the kiosk's code:
    /// what `models/train/series.py` fits.
    SeriesFeatures {
        /// The data-set folder (`index.csv` with the series measures).
        #[arg(long)]
        data: PathBuf,
        /// Where to write the CSV.
        #[arg(long, default_value = "features.csv")]
        out: PathBuf,
        /// Also score every photo with this classifier (`int8` or `f32`),
        /// for the fused model's logit features.
        #[arg(long)]
        classifier: Option<Variant>,
    },
    /// Evaluate a landmark rule (the series model, or eye narrowing) per
    /// series on one split of a data set; writes a JSON report.
    EvaluateSeries {
        /// The data-set folder.
        #[arg(long)]
        data: PathBuf,
        /// `series` (the manifest's series model) or `eye_narrowing`.
        #[arg(long, default_value = "series", value_parser = ["series", "eye_narrowing"])]
        rule: String,
        /// The eye-narrowing rule's fissure-ratio threshold.
        #[arg(long, default_value_t = device_default_eye_narrowing())]
        eye_threshold: f32,
        /// Which split (`test`, `validation`, `train` or `all`).
        #[arg(long, default_value = "test")]
        split: String,
        /// Where to write the JSON report.
        #[arg(long, default_value = "series-report.json")]
        out: PathBuf,
        /// Bootstrap resamples for the AUC interval.
        #[arg(long, default_value_t = 1000)]
        resamples: usize,
        /// Seed of the bootstrap.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Manage the people who may log in to the web page.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
}

/// `clinic user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (asked for twice on a terminal).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Login name.
        name: String,
        /// Replace the password of an existing user (and end their sessions).
        #[arg(long)]
        reset: bool,
    },
}

/// Parses the command line and runs it.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let models = cli
        .models
        .clone()
        .unwrap_or_else(screening::model::default_models_dir);
    match cli.command {
        Command::Synth {
            patients,
            seed,
            out,
            width,
            height,
            threads,
            keep_frames,
            session,
        } => {
            let opts = SynthOptions {
                patients,
                seed,
                out,
                width,
                height,
                threads: threads.unwrap_or_else(default_threads),
                keep_frames,
                session,
            };
            let report = dataset::synthesize(&models, &opts, true)
                .with_context(|| format!("writing the data set to {}", opts.out.display()))?;
            println!("{}", report.summary());
            Ok(())
        }
        Command::Identity { data } => print(admin::identity(&data)),
        Command::Enroll {
            data,
            key,
            name,
            site,
        } => print(admin::enroll(&data, &key, &name, &site)),
        Command::Devices { data } => print(admin::devices(&data)),
        Command::Records {
            data,
            device,
            outcome,
            limit,
        } => print(admin::records(&data, device.as_deref(), outcome, limit)),
        Command::Verify { data } => print(admin::verify(&data)),
        Command::Import { data, dir } => print(admin::import(&data, &dir)),
        Command::Export {
            data,
            fhir: true,
            patient,
            out,
            ..
        } => print(admin::export_fhir(
            &data,
            patient.as_deref(),
            out.as_deref(),
        )),
        Command::Export {
            data,
            fhir: false,
            patient: Some(patient),
            out,
            ..
        } => print(admin::export_patient(&data, &patient, out.as_deref())),
        Command::Export {
            data,
            csv,
            fhir: false,
            patient: None,
            out,
            ..
        } => {
            let format = if csv {
                crate::export::Format::Csv
            } else {
                crate::export::Format::Json
            };
            print(admin::export(&data, format, out.as_deref()))
        }
        Command::Serve {
            data,
            bind,
            session_minutes,
            tls,
        } => admin::serve(&data, bind, &models, session_minutes, &tls),
        Command::Evaluate {
            data,
            model,
            split,
            out,
            plot,
            resamples,
            seed,
        } => {
            // `both`, or one name as `Variant` parses it (the value parser
            // above has already refused anything else).
            let variants = match model.as_str() {
                "both" => Variant::BOTH.to_vec(),
                one => vec![one.parse::<Variant>().map_err(anyhow::Error::msg)?],
            };
            let opts = EvaluateOptions {
                data,
                models,
                variants,
                split,
                resamples,
                seed,
            };
            let report = evaluate::evaluate(&opts)
                .with_context(|| format!("evaluating on {}", opts.data.display()))?;
            evaluate::write_report(&report, &out)?;
            if let Some(plot) = plot {
                evaluate::plot::write_plot(&report, &plot)?;
            }
            print!("{}", report.summary());
            Ok(())
        }
        Command::SeriesFeatures {
            data,
            out,
            classifier,
        } => {
            let classifier = classifier
                .map(|v| screening::classifier::Classifier::load_dir(&models, v))
                .transpose()?;
            let n = series_eval::write_features(&data, &out, classifier.as_ref())
                .with_context(|| format!("reading the series of {}", data.display()))?;
            println!("{n} series written to {}", out.display());
            Ok(())
        }
        Command::EvaluateSeries {
            data,
            rule,
            eye_threshold,
            split,
            out,
            resamples,
            seed,
        } => {
            let rule = match rule.as_str() {
                "series" => series_eval::LandmarkRule::Series,
                _ => series_eval::LandmarkRule::EyeNarrowing(eye_threshold),
            };
            let report = series_eval::evaluate(&data, &models, &split, rule, resamples, seed)
                .with_context(|| format!("evaluating on {}", data.display()))?;
            let text = serde_json::to_string_pretty(&report)?;
            std::fs::write(&out, text + "\n")
                .with_context(|| format!("writing {}", out.display()))?;
            print!("{}", report.summary());
            Ok(())
        }
        Command::User {
            action: UserCommand::Add { data, name, reset },
        } => print(admin::add_user(&data, &name, reset)),
    }
}

fn print(text: Result<String>) -> Result<()> {
    print!("{}", text?);
    Ok(())
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The kiosk's default eye-narrowing threshold (`device::config`), repeated
/// here because the clinic tool does not depend on the kiosk crate.
fn device_default_eye_narrowing() -> f32 {
    0.8
}
