//! The record-keeping subcommands of `clinic` (identity, enroll, devices,
//! records, verify, import, export, serve): argument types and the glue
//! from parsed flags to the library, returning what to print.

use anyhow::{bail, Context, Result};
use ed25519_dalek::{SigningKey, VerifyingKey};
use screening::record::keyfile;
use screening::record::DeviceId;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::export::{self, iso8601_utc, Format};
use crate::store::{RecordFilter, Store};

/// Where the clinic keeps its database and key.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// The clinic database (SQLite; created on first use).
    #[arg(long, env = "CLINIC_DB", default_value = "clinic-data/clinic.sqlite")]
    pub db: PathBuf,
    /// The clinic's Ed25519 key (made on first use, mode 0600); kiosks pin its public half.
    #[arg(long, env = "CLINIC_HOST_KEY", default_value = "clinic-data/host.key")]
    pub host_key: PathBuf,
}

impl DataArgs {
    /// Opens (creating) the database.
    pub fn store(&self) -> Result<Store> {
        if let Some(dir) = self.db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Store::open(&self.db).with_context(|| format!("opening the database {}", self.db.display()))
    }

    /// Loads (making on first use) the host key.
    pub fn key(&self) -> Result<SigningKey> {
        Ok(keyfile::load_or_generate(&self.host_key)?.0)
    }
}

/// `clinic identity`.
pub fn identity(data: &DataArgs) -> Result<String> {
    let key = data.key()?;
    let public = hex::encode(key.verifying_key().to_bytes());
    Ok(format!(
        "clinic public key: {public}\nfingerprint:       {}\npair a kiosk with: kiosk pair --host-key {public} --url http://THIS-LAPTOP:8470\n",
        DeviceId::of(&key.verifying_key()).short()
    ))
}

/// Parses a 64-hex-character Ed25519 public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes)
        .context("the key must be 64 hex characters (from `kiosk identity`)")?;
    VerifyingKey::from_bytes(&bytes).context("not an Ed25519 public key")
}

/// `clinic enroll`.
pub fn enroll(data: &DataArgs, key: &str, name: &str, site: &str) -> Result<String> {
    let key = parse_public_key(key)?;
    let mut store = data.store()?;
    let row = store.enroll(&key, name, site, crate::ingest::now_ms())?;
    let host = data.key()?;
    Ok(format!(
        "enrolled kiosk {} as `{}` at `{}`\nnow pair it: kiosk pair --host-key {} --url http://THIS-LAPTOP:8470\n",
        row.device.short(),
        row.name,
        row.site,
        hex::encode(host.verifying_key().to_bytes())
    ))
}

/// `clinic devices`.
pub fn devices(data: &DataArgs) -> Result<String> {
    let store = data.store()?;
    let mut out = format!(
        "{:<19}  {:<16}  {:<16}  {:>7}  {}\n",
        "kiosk", "name", "site", "records", "last sync"
    );
    for d in store.devices()? {
        let last = d.last_sync.map_or("never".to_string(), |(ms, via)| {
            format!("{} ({via})", iso8601_utc(ms))
        });
        out.push_str(&format!(
            "{:<19}  {:<16}  {:<16}  {:>7}  {last}\n",
            d.device.device.short(),
            d.device.name,
            d.device.site,
            d.records
        ));
    }
    Ok(out)
}

/// Finds an enrolled kiosk by full hex id or short fingerprint.
fn find_device(store: &Store, text: &str) -> Result<DeviceId> {
    let wanted = text.trim().to_lowercase();
    let matches: Vec<DeviceId> = store
        .devices()?
        .into_iter()
        .map(|d| d.device.device)
        .filter(|d| {
            d.to_hex() == wanted
                || d.short() == wanted
                || d.to_hex().starts_with(&wanted.replace('-', ""))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => bail!("no enrolled kiosk matches `{text}` (see `clinic devices`)"),
        _ => bail!("`{text}` matches several kiosks: give more of the id"),
    }
}

/// `clinic records`.
pub fn records(
    data: &DataArgs,
    device: Option<&str>,
    outcome: Option<String>,
    limit: Option<u64>,
) -> Result<String> {
    let store = data.store()?;
    let device = device.map(|d| find_device(&store, d)).transpose()?;
    let rows = store.records(&RecordFilter {
        device,
        outcome,
        limit,
    })?;
    let mut out = format!(
        "{:<19}  {:>5}  {:<24}  {:<22}  {:>6}  {}\n",
        "kiosk", "seq", "time (kiosk clock, UTC)", "outcome", "score", "patient"
    );
    for r in &rows {
        out.push_str(&format!(
            "{:<19}  {:>5}  {:<24}  {:<22}  {:>6}  {}\n",
            r.device,
            r.sequence,
            iso8601_utc(r.wall_time_ms),
            r.outcome,
            r.score.map_or("-".into(), |s| format!("{s:.3}")),
            r.patient_ref.as_deref().unwrap_or("-")
        ));
    }
    out.push_str(&format!("{} records\n", rows.len()));
    Ok(out)
}

/// `clinic verify`: fails (non-zero exit) when anything does not check.
pub fn verify(data: &DataArgs) -> Result<String> {
    let store = data.store()?;
    let report = crate::audit::audit(&store)?;
    if !report.problems.is_empty() {
        bail!(
            "{} problem(s) in {} records of {} kiosks:\n  {}",
            report.problems.len(),
            report.records,
            report.devices,
            report.problems.join("\n  ")
        );
    }
    Ok(format!(
        "all {} records of {} kiosks verify (signatures, chains, columns)\n",
        report.records, report.devices
    ))
}

/// `clinic import DIR`.
pub fn import(data: &DataArgs, dir: &Path) -> Result<String> {
    let mut store = data.store()?;
    let key = data.key()?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let outcomes = crate::import::import(&mut store, &key, dir, progress)?;
    let mut out = String::new();
    let mut refused = 0;
    for o in &outcomes {
        let who = o.device.map_or("?".to_string(), |d| d.short());
        out.push_str(&format!(
            "kiosk {who}: {} stored, {} already held",
            o.stored, o.duplicates
        ));
        if o.acknowledged {
            out.push_str(", acknowledgement written");
        }
        if let Some(why) = &o.refused {
            refused += 1;
            out.push_str(&format!("\n  REFUSED: {why}"));
        }
        out.push('\n');
    }
    if outcomes.is_empty() {
        out.push_str("no bundles found\n");
    }
    if refused > 0 {
        bail!("{out}{refused} bundle(s) refused in part or whole");
    }
    Ok(out)
}

/// `clinic export`.
pub fn export(data: &DataArgs, format: Format, out: Option<&Path>) -> Result<String> {
    let store = data.store()?;
    let filter = RecordFilter::default();
    let n = write_out(out, |w| Ok(export::export(&store, &filter, format, w)?))?;
    Ok(if out.is_some() {
        format!("{n} records exported\n")
    } else {
        String::new()
    })
}

/// Runs `write` into a new file at `out` (flushed before it returns), or
/// into standard output.
fn write_out<T>(
    out: Option<&Path>,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<T>,
) -> Result<T> {
    match out {
        Some(path) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            let done = write(&mut f)?;
            std::io::Write::flush(&mut f)?;
            Ok(done)
        }
        None => write(&mut std::io::stdout().lock()),
    }
}

/// The history of `patient`; an error when no stored screening names the
/// reference, so a mistyped one is not taken for a patient without any.
fn known_patient(store: &Store, patient: &str) -> Result<crate::history::History> {
    let found = crate::history::history(store, patient)?;
    if found.screenings.is_empty() {
        bail!("no stored screening names the patient reference {patient:?}");
    }
    Ok(found)
}

/// `clinic export --patient REF`: one patient's history as CSV. A reference
/// no stored screening names is an error, so a mistyped one is not taken
/// for a patient without screenings.
pub fn export_patient(data: &DataArgs, patient: &str, out: Option<&Path>) -> Result<String> {
    let store = data.store()?;
    let found = known_patient(&store, patient)?;
    let n = write_out(out, |w| Ok(crate::history::write_csv(&found, w)?))?;
    Ok(if out.is_some() {
        format!("{n} screenings of {patient} exported\n")
    } else {
        String::new()
    })
}

/// `clinic export --fhir [--patient REF]`: a FHIR R4 Bundle of the
/// screenings that verify. Records that do not verify are left out and
/// counted, on standard error when the Bundle goes to standard output.
pub fn export_fhir(data: &DataArgs, patient: Option<&str>, out: Option<&Path>) -> Result<String> {
    let store = data.store()?;
    let screenings = match patient {
        Some(p) => known_patient(&store, p)?.screenings,
        None => crate::history::all_screenings(&store)?,
    };
    let now = crate::ingest::now_ms();
    let exported = write_out(out, |w| Ok(crate::fhir::write(&screenings, now, w)?))?;
    let left_out = if exported.not_valid > 0 {
        format!(
            "; {} records left out: they do not verify against their kiosk's key (clinic verify says why)",
            exported.not_valid
        )
    } else {
        String::new()
    };
    let said = format!(
        "{} observations exported as FHIR R4{left_out}\n",
        exported.observations
    );
    if out.is_some() {
        Ok(said)
    } else {
        eprint!("{said}");
        Ok(String::new())
    }
}

/// How `clinic serve` secures its web page.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// The hospital's certificate chain (PEM, leaf first), for HTTPS; without
    /// it, a clinic listening beyond localhost generates its own beside the
    /// database and prints its fingerprint.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve the web page (passwords, results) as plain HTTP beyond
    /// localhost. Kiosk sync is sealed either way.
    #[arg(long, conflicts_with = "tls_cert")]
    pub insecure_http: bool,
}

/// The HTTPS setup `clinic serve` runs with, if any: the hospital's
/// certificate when given; beyond localhost a generated one unless plain HTTP
/// is asked for; on localhost none.
pub fn tls_setup(
    data: &DataArgs,
    bind: SocketAddr,
    tls: &TlsArgs,
) -> Result<Option<crate::http::tls::TlsSetup>> {
    use crate::http::tls::TlsSetup;
    if let (Some(cert), Some(key)) = (&tls.tls_cert, &tls.tls_key) {
        return Ok(Some(TlsSetup::from_files(cert, key)?));
    }
    if bind.ip().is_loopback() {
        return Ok(None);
    }
    if tls.insecure_http {
        tracing::warn!(%bind, "--insecure-http: the web pages (logins, results) travel as plain HTTP on the LAN; kiosk sync bodies are sealed either way");
        return Ok(None);
    }
    let dir = data
        .db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut names = vec!["localhost".to_string()];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.push(host.to_string());
            names.push(format!("{host}.local"));
        }
    }
    if !bind.ip().is_unspecified() {
        names.push(bind.ip().to_string());
    }
    Ok(Some(TlsSetup::load_or_generate(dir, &names)?))
}

/// `clinic serve`.
pub fn serve(
    data: &DataArgs,
    bind: SocketAddr,
    models: &Path,
    session_minutes: u32,
    tls: &TlsArgs,
) -> Result<()> {
    let tls = tls_setup(data, bind, tls)?;
    let store = data.store()?;
    if store.user_count()? == 0 {
        tracing::warn!("no web user yet: add one with `clinic user add NAME`");
    }
    if let Some(t) = &tls {
        // Printed, not only logged: whoever starts the clinic reads it to the
        // people who will compare it with their browser's.
        println!(
            "HTTPS certificate {}\nSHA-256 fingerprint {}\nKiosks sync over http:// on the same port (their bodies are sealed).",
            t.cert_path.display(),
            t.fingerprint
        );
    }
    let state = crate::http::AppState::new(store, data.key()?)
        .with_session_ttl_ms(i64::from(session_minutes) * 60_000)
        .with_photo(crate::http::upload::load_shared(models))
        .with_tls_fingerprint(tls.as_ref().map(|t| t.fingerprint.clone()));
    crate::http::run(bind, state, tls.as_ref())
}

/// `clinic user add NAME`: reads the password from standard input.
pub fn add_user(data: &DataArgs, name: &str, reset: bool) -> Result<String> {
    crate::users::check_name(name)?;
    let password = read_password()?;
    let mut store = data.store()?;
    crate::users::add_user(&mut store, name, &password, reset, crate::ingest::now_ms())?;
    Ok(if reset {
        format!("password of `{name}` replaced; their sessions are ended\n")
    } else {
        format!("user `{name}` added: log in at the address `clinic serve` prints\n")
    })
}

/// The password: asked twice without echo on a terminal, else the first line of standard input.
fn read_password() -> Result<String> {
    use std::io::{BufRead, IsTerminal};
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        crate::users::check_password(&first)?;
        let again =
            rpassword::prompt_password("Password again: ").context("reading the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    crate::users::check_password(&password)?;
    Ok(password)
}
