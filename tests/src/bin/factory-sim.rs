//! `factory-sim`: a FoundriesFactory API simulator for tests and demos.
//!
//! The real API (api.foundries.io, a private fork of Uptane's ota-tuf) cannot
//! be reached from tests, so this binary serves the endpoints tuf-ceremony
//! uses, from a state folder, and refuses what ota-tuf refuses (DESIGN.md,
//! reference/foundries-interop.md §4). It can inject faults so that tests can
//! prove the submitter's upload is safe to retry.
//!
//! The HTTP server is a few dozen lines over `std::net` rather than a server
//! crate: fault injection needs to close a connection without answering, which
//! server crates deliberately make impossible. One connection is handled at a
//! time and every answer closes its connection.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use clap::{Parser, Subcommand};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use ceremony::Dialect;
use ceremony_tests::keygen::{TestKey, TestKeyType};

// Beside this file, not in src/bin/ (where cargo would take it for a binary).
#[path = "factory-sim/accept.rs"]
mod accept;
#[path = "factory-sim/amendments.rs"]
mod amendments;
#[path = "factory-sim/targets.rs"]
mod targets;
#[path = "factory-sim/waves.rs"]
mod waves;

/// Larger request bodies are refused before they are read.
const MAX_BODY: usize = 1024 * 1024;
/// Devices refuse a root over 64 KiB, and so does the server.
const MAX_ROOT: usize = 64 * 1024;

#[derive(Parser)]
#[command(
    name = "factory-sim",
    version,
    about = "A FoundriesFactory API simulator for tests and demos.",
    long_about = "A FoundriesFactory API simulator for tests and demos.\n\n\
        It stands in for the FoundriesFactory API (api.foundries.io), a server that tests cannot \
        reach. It is NOT that server: it implements what tuf-ceremony and fioctl's `keys tuf` \
        commands use (root files, the root-update transaction with first-time, gen-online-keys, \
        apply and cancel, ci-targets.pub, production and wave targets, CI targets of a version, waves \
        (create, get, sign, complete; the server adds its online targets signature), the caller's identity), for \
        any factory name, from the files in --state (ci/N.root.json, prod/N.root.json, \
        prod-targets/TAG.json, wave-targets/NAME.json, ci-targets/V.json (`factory-sim add-ci-targets`), \
        waves/NAME.json, transaction.json). The user with the token \
        started every transaction, so a missing or empty txid is accepted. While the server still holds \
        the Factory's first root key (the root goes offline for the first time), a transaction stages the \
        production root with targets threshold 2, as fioctl makes it; `init --no-prod` makes a Factory \
        without a production root (404 for root.json?production=1, an empty current prod-root). It refuses what ota-tuf \
        refuses: a version that is not N+1, unmet old or new thresholds (at apply), an expiry not \
        of the form YYYY-MM-DDTHH:MM:SSZ, a root over 64 KiB, duplicate signature key ids, a wrong \
        txid, a missing or wrong token (401), a second transaction (409).\n\n\
        Faults, for tests: --fail-request N answers the Nth request (counted from 1 since start) \
        with 503 without acting on it; --drop-request N acts on the Nth request and then closes \
        the connection without answering (the client cannot know whether it took effect); --slow \
        MS waits MS milliseconds before every answer.\n\n\
        It prints `factory-sim listening on http://ADDR` once it listens (use --listen \
        127.0.0.1:0 for a free port) and logs every request to --state/requests.log.",
    after_help = "Examples:\n  factory-sim init /tmp/factory --key-type ed25519\n  \
        factory-sim --listen 127.0.0.1:0 --state /tmp/factory --token secret\n  \
        FIOCTL_TOKEN=secret submitter propose --factory demo --api http://127.0.0.1:PORT --rotate-all -o proposal.json",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on (loopback only), such as 127.0.0.1:0 for a free port.
    #[arg(long, value_name = "ADDR", required = true)]
    listen: Option<String>,
    /// The Factory state folder made by `factory-sim init`.
    #[arg(long, value_name = "DIR", required = true)]
    state: Option<PathBuf>,
    /// The API token clients must send (OSF-TOKEN header, or Bearer base64(token)).
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_file")]
    token: Option<String>,
    /// Read the token from this file instead.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Answer the Nth request with 503 without acting on it (repeatable).
    #[arg(long, value_name = "N")]
    fail_request: Vec<u64>,
    /// Act on the Nth request, then close the connection without answering (repeatable).
    #[arg(long, value_name = "N")]
    drop_request: Vec<u64>,
    /// Wait this many milliseconds before every answer.
    #[arg(long, value_name = "MS")]
    slow: Option<u64>,
    /// Exit by itself after this many seconds (so a forgotten simulator never lingers).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    max_lifetime: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Create a Factory: v1 CI and prod roots signed by a first-root key, and the fioctl-style key tarball.
    Init {
        /// The state folder to create.
        dir: PathBuf,
        /// Type of the first root key (and of the online keys).
        #[arg(long, value_name = "ed25519|rsa-2048", default_value = "ed25519")]
        key_type: TestKeyType,
        /// The polis-id the simulated user has.
        #[arg(long, value_name = "ID", default_value = "sim-user-0001")]
        polis_id: String,
        /// A Factory with no production root yet (`root.json?production=1`
        /// answers 404) until a rotation brings its first one.
        #[arg(long)]
        no_prod: bool,
    },
    /// Add the CI targets of a version (what `GET …/targets/?version=V`
    /// answers and a wave releases): one per hardware id.
    AddCiTargets {
        /// The state folder made by `init`.
        dir: PathBuf,
        /// The version (CI build number).
        version: u64,
        /// The tag CI gave them.
        #[arg(long, default_value = "main")]
        tag: String,
        /// Hardware ids (repeatable; default: sim-machine).
        #[arg(long = "hardware-id", value_name = "ID")]
        hardware: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Init {
            dir,
            key_type,
            polis_id,
            no_prod,
        }) => init(&dir, key_type, &polis_id, no_prod),
        Some(Command::AddCiTargets {
            dir,
            version,
            tag,
            mut hardware,
        }) => {
            if hardware.is_empty() {
                hardware.push("sim-machine".into());
            }
            waves::add_ci_targets(&dir, version, &tag, &hardware, write_atomic).map(|names| {
                println!("CI targets of version {version}: {}", names.join(", "));
            })
        }
        None => serve(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("factory-sim: error: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- init ----

fn init(dir: &Path, key_type: TestKeyType, polis_id: &str, no_prod: bool) -> Result<(), String> {
    if dir.join("ci/1.root.json").exists() {
        return Err(format!(
            "{} already holds a Factory (ci/1.root.json exists)",
            dir.display()
        ));
    }
    for sub in ["ci", "prod"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| format!("cannot create {}: {e}", dir.join(sub).display()))?;
    }
    let d = Dialect::OtaTuf;
    let root_key = TestKey::generate(key_type);
    let online: Vec<(&str, TestKey)> = ["targets", "snapshot", "timestamp"]
        .into_iter()
        .map(|r| (r, TestKey::generate(key_type)))
        .collect();
    let mut keys = Map::new();
    keys.insert(root_key.key_id(d), root_key.key_object(d));
    for (_, k) in &online {
        keys.insert(k.key_id(d), k.key_object(d));
    }
    let mut roles = Map::new();
    roles.insert(
        "root".into(),
        json!({"keyids": [root_key.key_id(d)], "threshold": 1}),
    );
    for (role, k) in &online {
        roles.insert(
            (*role).into(),
            json!({"keyids": [k.key_id(d)], "threshold": 1}),
        );
    }
    let expires = accept::expiry_text(OffsetDateTime::now_utc() + time::Duration::days(365));
    let signed = json!({
        "_type": "Root",
        "consistent_snapshot": false,
        "expires": expires,
        "keys": keys,
        "roles": roles,
        "version": 1,
    });
    let sig = root_key.signature_entry(&signed, d);
    let root = json!({"signatures": [sig], "signed": signed});
    let bytes = serde_json::to_vec(&root).map_err(|e| e.to_string())?;
    write_atomic(&dir.join("ci/1.root.json"), &bytes)?;
    if !no_prod {
        write_atomic(&dir.join("prod/1.root.json"), &bytes)?;
        // Production targets for the tag "main", signed (as the server signs
        // them) by the production root's targets key, the online one.
        let targets_key = &online
            .iter()
            .find(|(r, _)| *r == "targets")
            .expect("made above")
            .1;
        targets::create(dir, "main", targets_key, &expires, write_atomic)?;
    }
    // The server signs with its online targets key (production targets,
    // waves): keep its private half.
    for (role, k) in &online {
        if *role == "targets" {
            waves::keep_online_secret(dir, k, &k.key_id(d), write_atomic)?;
        }
    }
    let online_ids: Map<String, Value> = online
        .iter()
        .map(|(r, k)| ((*r).to_string(), Value::String(k.key_id(d))))
        .collect();
    let factory = json!({"polis-id": polis_id, "online-keys": online_ids});
    // The real server holds a Factory's first root key until the owner takes
    // it with the first-time transaction (fioctl `updates init --first-time`).
    let first_root = json!({"sec": root_key.ats_private(), "pub": root_key.key_object(d)});
    write_atomic(
        &dir.join("first-root.json"),
        &serde_json::to_vec_pretty(&first_root).map_err(|e| e.to_string())?,
    )?;
    write_atomic(
        &dir.join("factory.json"),
        &serde_json::to_vec_pretty(&factory).map_err(|e| e.to_string())?,
    )?;

    // The key tarball as fioctl writes it: flat gzip'd tar, no directory
    // entries, headers with only name and size (mode 0, mtime 0).
    let tgz = dir.join("factory-keys.tgz");
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        (
            "tufrepo/keys/first-root.pub".into(),
            serde_json::to_vec(&root_key.key_object(d)).map_err(|e| e.to_string())?,
        ),
        (
            "tufrepo/keys/first-root.sec".into(),
            serde_json::to_vec(&root_key.ats_private()).map_err(|e| e.to_string())?,
        ),
    ];
    entries.reverse(); // fioctl's order is random; do not promise .pub first
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in &entries {
        let mut header = tar::Header::new_ustar();
        header
            .set_path(name)
            .map_err(|e| format!("tar header: {e}"))?;
        header.set_size(data.len() as u64);
        header.set_mode(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, data.as_slice())
            .map_err(|e| format!("tar: {e}"))?;
    }
    let gz = tar.into_inner().map_err(|e| format!("tar: {e}"))?;
    let data = gz.finish().map_err(|e| format!("gzip: {e}"))?;
    write_atomic(&tgz, &data)?;

    println!(
        "created a simulated Factory in {}{}:\n  ci/1.root.json and prod/1.root.json, signed by the first root key {} ({})\n  \
         online keys: targets, snapshot, timestamp; production targets for the tag main\n  \
         the first root key, held by the server until a first-time transaction hands it out: first-root.json\n  key tarball (fioctl layout): {}\n  polis-id of the simulated user: {polis_id}",
        dir.display(),
        if no_prod {
            " (no production root yet: prod/ is empty)"
        } else {
            ""
        },
        root_key.key_id(d),
        match key_type {
            TestKeyType::Ed25519 => "ed25519".to_string(),
            TestKeyType::Rsa(bits) => format!("rsa-{bits}"),
        },
        tgz.display()
    );
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    ceremony::fsio::replace(path, bytes, &ceremony::fsio::WriteOptions::public())
        .map_err(|e| e.to_string())
}

// --------------------------------------------------------------- serve ----

struct Request {
    method: String,
    path: String,
    query: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

struct Response {
    status: u16,
    body: Vec<u8>,
}

fn answer(status: u16, body: Value) -> Response {
    Response {
        status,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

fn error(status: u16, message: impl Into<String>) -> Response {
    answer(status, json!({"message": message.into()}))
}

fn raw(status: u16, body: Vec<u8>) -> Response {
    Response { status, body }
}

fn serve(cli: Cli) -> Result<(), String> {
    let listen = cli.listen.expect("required by clap");
    let state_dir = cli.state.expect("required by clap");
    let token = match (&cli.token, &cli.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| format!("cannot read {}: {e}", f.display()))?
            .trim()
            .to_string(),
        (None, None) => return Err("give --token TOKEN or --token-file FILE".into()),
    };
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    if !state_dir.join("ci/1.root.json").exists() {
        return Err(format!(
            "{} holds no Factory: run `factory-sim init {}` first",
            state_dir.display(),
            state_dir.display()
        ));
    }
    let listener =
        TcpListener::bind(&listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address: the simulator only listens on 127.0.0.0/8 or [::1]"
        ));
    }
    let lifetime = cli.max_lifetime;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(lifetime));
        eprintln!("factory-sim: --max-lifetime of {lifetime}s reached, exiting");
        std::process::exit(0);
    });
    println!("factory-sim listening on http://{addr}");
    let _ = std::io::stdout().flush();

    let mut sim = Sim {
        dir: state_dir,
        token,
    };
    let mut count: u64 = 0;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
        let request = match read_request(&mut stream) {
            Ok(Some(r)) => r,
            Ok(None) => continue, // the client connected and went away
            Err(resp) => {
                let _ = write_response(&mut stream, &resp);
                continue;
            }
        };
        count += 1;
        if let Some(ms) = cli.slow {
            std::thread::sleep(Duration::from_millis(ms));
        }
        let (response, note) = if cli.fail_request.contains(&count) {
            (
                error(
                    503,
                    format!("injected fault: request {count} answered 503 without being acted on"),
                ),
                " (injected 503)",
            )
        } else {
            (sim.handle(&request), "")
        };
        let dropped = cli.drop_request.contains(&count);
        sim.log(&format!(
            "{count} {} {}{}{} -> {}{note}{}",
            request.method,
            request.path,
            if request.query.is_empty() { "" } else { "?" },
            request.query,
            response.status,
            if dropped {
                " (acted on, connection dropped without answer)"
            } else {
                ""
            }
        ));
        if dropped {
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        let _ = write_response(&mut stream, &response);
    }
    Ok(())
}

fn read_request(stream: &mut TcpStream) -> Result<Option<Request>, Response> {
    let mut reader = BufReader::new(stream.try_clone().map_err(|_| error(500, "socket"))?);
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => return Ok(None),
        Ok(_) => {}
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(error(400, "malformed request line"));
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut headers = BTreeMap::new();
    let mut header_bytes = 0usize;
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) => return Err(error(400, "headers end early")),
            Ok(n) => header_bytes += n,
            Err(_) => return Err(error(400, "cannot read headers")),
        }
        if header_bytes > 64 * 1024 {
            return Err(error(431, "request headers too large"));
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        return Err(error(411, "send a Content-Length"));
    }
    let length: usize = match headers.get("content-length") {
        Some(v) => v
            .parse()
            .map_err(|_| error(400, "malformed Content-Length"))?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(error(413, format!("request body over {MAX_BODY} bytes")));
    }
    if headers
        .get("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let mut body = vec![0u8; length];
    reader
        .read_exact(&mut body)
        .map_err(|_| error(400, "request body shorter than Content-Length"))?;
    Ok(Some(Request {
        method: method.to_string(),
        path,
        query,
        headers,
        body,
    }))
}

fn write_response(stream: &mut TcpStream, r: &Response) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        r.status,
        r.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&r.body)?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

struct Sim {
    dir: PathBuf,
    token: String,
}

/// The open root-update transaction, kept in `transaction.json`.
struct Tx {
    txid: String,
    message: String,
    /// The CI and prod roots staged for the change: the server's own
    /// (version + 1, signatures cleared) until a client PUTs its own.
    ci: Value,
    prod: Value,
    /// Whether a client has PUT roots.
    uploaded: bool,
    /// Whether the transaction was started as the Factory's first rotation.
    first_time: bool,
    /// The online key ids (role → key id) the staged roots use: the current
    /// ones until `gen-online-keys` makes new ones.
    online: Value,
    /// Signatures of production and wave targets PUT with the roots
    /// (`targets-signatures`, `waves-signatures`), added at apply.
    targets_sigs: Value,
    waves_sigs: Value,
    /// fioctl's `ChangeMeta`: who started and last changed the transaction,
    /// and when (`created-by`, `created-at`, `updated-by`, `updated-at`).
    meta: Value,
}

impl Sim {
    fn log(&self, line: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("requests.log"))
        {
            let _ = writeln!(f, "{line}");
        }
    }

    fn polis_id(&self) -> String {
        std::fs::read(self.dir.join("factory.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["polis-id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "sim-user-0001".into())
    }

    fn factory_json(&self) -> Value {
        std::fs::read(self.dir.join("factory.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(json!({}))
    }

    /// The current online key ids, role → key id.
    fn online_keys(&self) -> Value {
        match self.factory_json().get("online-keys") {
            Some(v) if v.is_object() => v.clone(),
            _ => json!({}),
        }
    }

    /// The newest version of `chain` (0: none). A production chain begun
    /// on a Factory that had none starts at the CI version of that day, so
    /// versions are read from the folder rather than counted from 1.
    fn latest(&self, chain: &str) -> u64 {
        std::fs::read_dir(self.dir.join(chain))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".root.json"))
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether the Factory's root key is still the first one, which the
    /// server holds: the transaction then takes the root offline for the
    /// first time.
    fn first_rotation(&self) -> bool {
        self.first_root_key().is_ok()
    }

    fn root_bytes(&self, chain: &str, version: u64) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(format!("{chain}/{version}.root.json"))).ok()
    }

    /// Whether the Factory has no production root yet (`init --no-prod`).
    fn no_prod(&self) -> bool {
        self.latest("prod") == 0
    }

    /// The root a new root of `chain` is checked against: the newest of
    /// the chain; for a Factory with no production root yet, its first
    /// production root (derived from the CI root, as fioctl derives it)
    /// replaces the CI root.
    fn base(&self, chain: &str) -> Result<(u64, Vec<u8>, Value), Response> {
        if chain == "prod" && self.no_prod() {
            self.current("ci")
        } else {
            self.current(chain)
        }
    }

    /// The newest root of `chain`: its version, its bytes as served, parsed.
    fn current(&self, chain: &str) -> Result<(u64, Vec<u8>, Value), Response> {
        let n = self.latest(chain);
        let bytes = self
            .root_bytes(chain, n)
            .ok_or_else(|| error(500, format!("state: no {chain} root")))?;
        let root: Value = serde_json::from_slice(&bytes)
            .map_err(|e| error(500, format!("state: {chain}/{n}.root.json: {e}")))?;
        Ok((n, bytes, root))
    }

    fn load_tx(&self) -> Option<Tx> {
        let bytes = std::fs::read(self.dir.join("transaction.json")).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        Some(Tx {
            txid: v["txid"].as_str()?.to_string(),
            message: v["message"].as_str().unwrap_or("").to_string(),
            ci: v["ci-root"].clone(),
            prod: v["prod-root"].clone(),
            uploaded: v["uploaded"].as_bool().unwrap_or(false),
            first_time: v["first-time"].as_bool().unwrap_or(false),
            online: v
                .get("online-keys")
                .cloned()
                .unwrap_or_else(|| self.online_keys()),
            targets_sigs: v.get("targets-signatures").cloned().unwrap_or(json!({})),
            waves_sigs: v.get("waves-signatures").cloned().unwrap_or(json!({})),
            meta: v.get("change-meta").cloned().unwrap_or(json!({})),
        })
    }

    fn save_tx(&self, tx: Option<&Tx>) -> Result<(), Response> {
        let path = self.dir.join("transaction.json");
        match tx {
            None => match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(error(500, format!("state: {e}"))),
            },
            Some(tx) => {
                let v = json!({
                    "txid": tx.txid, "message": tx.message,
                    "ci-root": tx.ci, "prod-root": tx.prod, "uploaded": tx.uploaded,
                    "first-time": tx.first_time, "online-keys": tx.online,
                    "targets-signatures": tx.targets_sigs, "waves-signatures": tx.waves_sigs,
                    "change-meta": tx.meta,
                });
                write_atomic(&path, &serde_json::to_vec_pretty(&v).unwrap_or_default())
                    .map_err(|e| error(500, e))
            }
        }
    }

    fn authorised(&self, r: &Request) -> Result<(), Response> {
        if let Some(t) = r.headers.get("osf-token") {
            return if t == &self.token {
                Ok(())
            } else {
                Err(error(401, "invalid API token"))
            };
        }
        if let Some(a) = r.headers.get("authorization") {
            let expected = format!(
                "Bearer {}",
                base64::engine::general_purpose::STANDARD.encode(&self.token)
            );
            return if a == &expected {
                Ok(())
            } else {
                Err(error(401, "invalid bearer token"))
            };
        }
        Err(error(
            401,
            "authentication required: send OSF-TOKEN or Authorization",
        ))
    }

    fn handle(&mut self, r: &Request) -> Response {
        if let Err(resp) = self.authorised(r) {
            return resp;
        }
        match self.route(r) {
            Ok(resp) | Err(resp) => resp,
        }
    }

    fn route(&mut self, r: &Request) -> Result<Response, Response> {
        let production = r.query.split('&').any(|kv| kv == "production=1");
        let chain = if production { "prod" } else { "ci" };
        let segs: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
        match (r.method.as_str(), segs.as_slice()) {
            (
                "GET",
                ["ota", "factories", _f, "users", "self", ""]
                | ["ota", "factories", _f, "users", "self"],
            ) => Ok(answer(
                200,
                json!({"polis-id": self.polis_id(), "name": "Simulated User", "email": "sim@example.invalid"}),
            )),
            ("GET", ["ota", "factories", _f, "ci-targets.pub"]) => self.ci_targets_pub(),
            ("GET", ["ota", "factories", _f, kind @ ("prod-targets" | "wave-targets"), ""]) => {
                targets::list(&self.dir, kind, &r.query)
                    .map(|v| answer(200, v))
                    .map_err(|e| error(400, e))
            }
            ("GET", ["ota", "factories", _f, "targets", ""]) => {
                waves::ci_targets(&self.dir, &r.query)
                    .map(|v| answer(200, v))
                    .map_err(|(s, m)| error(s, m))
            }
            (method, ["ota", "factories", _f, "waves", rest @ ..]) => self.waves(method, rest, r),
            ("GET", ["ota", "repo", _f, "api", "v1", "user_repo", file]) => {
                let version = if *file == "root.json" {
                    Some(self.latest(chain))
                } else {
                    file.strip_suffix(".root.json")
                        .and_then(|n| n.parse::<u64>().ok())
                };
                match version.and_then(|n| self.root_bytes(chain, n)) {
                    Some(bytes) => Ok(raw(200, bytes)),
                    None => Err(error(404, format!("{file} not found"))),
                }
            }
            (
                method,
                ["ota", "repo", _f, "api", "v1", "user_repo", "root", "updates", rest @ ..],
            ) => match (method, rest) {
                ("POST", []) => self.start(r),
                ("GET", []) => self.status(),
                ("PUT", []) => self.put(r),
                ("POST", ["apply"]) => self.apply(r),
                ("POST", ["gen-online-keys"]) => self.gen_online_keys(r),
                ("POST", ["cancel"]) => self.cancel(),
                _ => Err(error(405, format!("{method} is not allowed here"))),
            },
            _ => Err(error(
                404,
                format!("no such endpoint: {} {}", r.method, r.path),
            )),
        }
    }

    fn start(&mut self, r: &Request) -> Result<Response, Response> {
        if self.load_tx().is_some() {
            return Err(error(
                409,
                "a TUF root update transaction is already in progress: apply or cancel it first",
            ));
        }
        let body: Value = if r.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&r.body).map_err(|e| error(400, format!("body: {e}")))?
        };
        let message = body["message"].as_str().unwrap_or("").to_string();
        if message.chars().any(|c| !(' '..='~').contains(&c)) {
            return Err(error(
                400,
                "message: only printable ASCII is allowed in root metadata",
            ));
        }
        let first_time = match body.get("first-time") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(error(400, "first-time: a boolean is expected")),
        };
        let first_key = if first_time {
            Some(self.first_root_key()?)
        } else {
            None
        };
        let now = accept::expiry_text(OffsetDateTime::now_utc());
        // Production roots as fioctl makes them: `finalizeTufRootChanges`
        // keeps the staged production root's targets threshold and falls
        // back to 2 (`genProdTufRoot`); fioctl commit 5e30fc6 says it must
        // still be 2 when the root goes offline for the first time. fioctl
        // does nothing of its own for that case, so the server must stage
        // it: the first rotation's production root has targets threshold 2.
        // (A Factory without a production root gets none staged: the
        // client derives it from the CI root, as fioctl does.)
        let first_rotation = self.first_rotation();
        let mut staged = Vec::new();
        for chain in ["ci", "prod"] {
            if chain == "prod" && self.no_prod() {
                // Nothing staged: the owner's client derives the first
                // production root from the CI root.
                staged.push(Value::Null);
                continue;
            }
            let (n, _, root) = self.current(chain)?;
            let mut v = root;
            v["signed"]["version"] = json!(n + 1);
            v["signed"]["x-changelog"] =
                json!({"polis-id": self.polis_id(), "message": message, "timestamp": now});
            v["signatures"] = json!([]);
            if chain == "prod" && first_rotation {
                if let Some(role) = v["signed"]["roles"].get_mut("targets") {
                    role["threshold"] = json!(2);
                }
            }
            staged.push(v);
        }
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| error(500, e.to_string()))?;
        let txid = hex::encode(id);
        let prod = staged.pop().expect("two chains");
        let ci = staged.pop().expect("two chains");
        self.save_tx(Some(&Tx {
            txid: txid.clone(),
            message,
            ci,
            prod,
            uploaded: false,
            first_time,
            online: self.online_keys(),
            targets_sigs: json!({}),
            waves_sigs: json!({}),
            meta: json!({
                "created-by": self.polis_id(), "created-at": now,
                "updated-by": self.polis_id(), "updated-at": now,
            }),
        }))?;
        let mut reply = json!({"txid": txid});
        if let Some(k) = first_key {
            reply["first_root.sec"] = k["sec"].clone();
            reply["first_root.pub"] = k["pub"].clone();
        }
        Ok(answer(201, reply))
    }

    /// The first root key the server still holds, for a first-time
    /// transaction: refused once the current CI root no longer trusts it
    /// (the first rotation is done; the key has left the server's hands).
    fn first_root_key(&self) -> Result<Value, Response> {
        let k: Value = std::fs::read(self.dir.join("first-root.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                error(
                    400,
                    "first-time: this Factory holds no first root key (its root key is offline already)",
                )
            })?;
        let (_, bytes, _) = self.current("ci")?;
        let root: Value = serde_json::from_slice(&bytes)
            .map_err(|e| error(500, format!("state: ci root: {e}")))?;
        let signed = &root["signed"];
        let trusted = signed["roles"]["root"]["keyids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|id| signed["keys"][id] == k["pub"]);
        if !trusted {
            return Err(error(
                400,
                "first-time: the first rotation was done already: the current root no longer trusts the first root key",
            ));
        }
        Ok(k)
    }

    fn status(&self) -> Result<Response, Response> {
        let (_, ci_bytes, ci_cur) = self.current("ci")?;
        let (_, prod_bytes, prod_cur) = self.base("prod")?;
        // No production root yet: `current.prod-root` is empty.
        let prod_bytes = if self.no_prod() {
            Vec::new()
        } else {
            prod_bytes
        };
        // fioctl reads `current` whatever the status ("Current TUF CI root
        // not set" otherwise), the roots as JSON text, not objects.
        let current = json!({
            "ci-root": String::from_utf8_lossy(&ci_bytes),
            "prod-root": String::from_utf8_lossy(&prod_bytes),
            "online-keys": self.online_keys(),
        });
        let Some(tx) = self.load_tx() else {
            return Ok(answer(
                200,
                json!({
                    "status": "NONE",
                    "current": current,
                    "first-time": false,
                    "amendments": [],
                    "issues": {"errors": [], "warnings": []},
                }),
            ));
        };
        let mut errors = Vec::new();
        let mut amendments = Vec::new();
        for (name, cur, new) in [("ci", &ci_cur, &tx.ci), ("prod", &prod_cur, &tx.prod)] {
            if new.is_null() {
                continue;
            }
            amendments.extend(amendments::between(name, cur, new));
            let failures = accept::check(cur, new, Some(OffsetDateTime::now_utc()));
            errors.extend(failures.iter().map(|f| {
                amendments::issue(
                    f.kind,
                    format!("{name}-root: {}: {}", f.kind, f.message),
                    &[("root", name)],
                )
            }));
        }
        Ok(answer(
            200,
            json!({
                "status": "STARTED",
                "current": current,
                "updated": {
                    "ci-root": serde_json::to_string(&tx.ci).unwrap_or_default(),
                    "prod-root": if tx.prod.is_null() {
                        String::new()
                    } else {
                        serde_json::to_string(&tx.prod).unwrap_or_default()
                    },
                    "online-keys": tx.online,
                    // The production and wave targets signatures PUT so
                    // far (fioctl's client reads neither; shown so that a
                    // co-signer can check them under the staged roots).
                    "targets-signatures": tx.targets_sigs,
                    "waves-signatures": tx.waves_sigs,
                },
                "change-meta": {
                    "created-by": tx.meta["created-by"], "created-at": tx.meta["created-at"],
                    "updated-by": tx.meta["updated-by"], "updated-at": tx.meta["updated-at"],
                    "message": tx.message, "uploaded": tx.uploaded,
                },
                "first-time": tx.first_time,
                "amendments": amendments,
                "issues": {"errors": errors, "warnings": []},
            }),
        ))
    }

    fn check_txid(&self, body: &Value) -> Result<Tx, Response> {
        // 404, as for cancel: fioctl's apply reads a 404 as "maybe nothing
        // to apply" and then looks for a transaction before it says so.
        let Some(tx) = self.load_tx() else {
            return Err(error(
                404,
                "there is no TUF root update transaction in progress",
            ));
        };
        // The txid may be left out (or empty, as fioctl sends it) by the
        // user who started the transaction; the simulator has one user (one
        // token), who started every transaction.
        match body.get("txid") {
            None | Some(Value::Null) => Ok(tx),
            Some(Value::String(t)) if t.is_empty() || *t == tx.txid => Ok(tx),
            Some(Value::String(_)) => Err(error(
                400,
                "txid does not match the transaction in progress",
            )),
            Some(_) => Err(error(400, "txid: a string is expected")),
        }
    }

    fn put(&mut self, r: &Request) -> Result<Response, Response> {
        let body: Value = serde_json::from_slice(&r.body)
            .map_err(|e| error(400, format!("body is not JSON: {e}")))?;
        let mut tx = self.check_txid(&body)?;
        let mut new_roots = Vec::new();
        for (name, chain) in [("ci-root", "ci"), ("prod-root", "prod")] {
            let v = body
                .get(name)
                .filter(|v| v.is_object())
                .ok_or_else(|| error(400, format!("{name} is missing or not an object")))?;
            let size = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0);
            if size > MAX_ROOT {
                return Err(error(
                    422,
                    format!("{name}: {size} bytes; a root may not exceed {MAX_ROOT} bytes"),
                ));
            }
            let (n, _, current) = self.base(chain)?;
            // Signatures may be incomplete while holders sign one after the
            // other; everything else (an invalid signature too) must hold.
            let hard: Vec<String> = accept::check(&current, v, None)
                .iter()
                .filter(|f| !f.is_threshold())
                .map(|f| format!("{}: {}", f.kind, f.message))
                .collect();
            if !hard.is_empty() {
                return Err(error(
                    422,
                    format!("{name} (current version {n}): {}", hard.join("; ")),
                ));
            }
            // The backend checks the changelog's author and time (fioctl
            // f93a6ec: "polis-id *must* be ID of the user making the
            // change", the timestamp close to the server's clock); in a
            // transaction it wrote both itself at init, so a client may
            // change the message only.
            let log = &v["signed"]["x-changelog"];
            if log["polis-id"] != json!(self.polis_id())
                || log["timestamp"] != tx.meta["created-at"]
            {
                return Err(error(
                    422,
                    format!(
                        "{name}: x-changelog: polis-id and timestamp must stay as the server \
                         staged them ({} at {}); only the message may change",
                        self.polis_id(),
                        tx.meta["created-at"].as_str().unwrap_or("?")
                    ),
                ));
            }
            new_roots.push(v.clone());
        }
        // A targets key rotation (or deletion) while a wave is active is
        // refused, as fioctl documents the server does.
        let (_, _, current_ci) = self.base("ci")?;
        let waves = targets::active_waves(&self.dir);
        if !waves.is_empty() && targets::takes_out_a_targets_key(&current_ci, &new_roots[0]) {
            return Err(error(
                422,
                format!(
                    "a TUF targets key rotation is not allowed while a wave is active ({}): \
                     complete or cancel the wave first",
                    waves.join(", ")
                ),
            ));
        }
        // The last offline targets key is not deleted: the production
        // targets threshold (at least 2, fioctl's minimum) could then be met
        // by no release, the online key being one key.
        let online = [&self.online_keys(), &tx.online];
        if let Some(last) =
            targets::takes_out_the_last_offline_key(&current_ci, &new_roots[0], online)
        {
            return Err(error(
                422,
                format!(
                    "the last offline TUF targets key {last} cannot be deleted: production \
                     targets would be signed by the online key alone, under a threshold of at \
                     least 2; add another offline targets key first"
                ),
            ));
        }
        // Signatures of existing production (wave) targets by a new targets
        // key: kept until apply; a PUT without them (a co-signer adding root
        // signatures) keeps the ones PUT before.
        for (field, kind) in [
            ("targets-signatures", targets::PROD),
            ("waves-signatures", targets::WAVE),
        ] {
            if let Some(v) = body.get(field).filter(|v| !v.is_null()) {
                targets::check_signatures(&self.dir, kind, v)
                    .map_err(|e| error(422, format!("{field}: {e}")))?;
                if kind == targets::PROD {
                    tx.targets_sigs = v.clone();
                } else {
                    tx.waves_sigs = v.clone();
                }
            }
        }
        tx.prod = new_roots.pop().expect("two roots");
        tx.ci = new_roots.pop().expect("two roots");
        tx.uploaded = true;
        tx.meta["updated-by"] = json!(self.polis_id());
        tx.meta["updated-at"] = json!(accept::expiry_text(OffsetDateTime::now_utc()));
        self.save_tx(Some(&tx))?;
        Ok(answer(200, json!({})))
    }

    fn apply(&mut self, r: &Request) -> Result<Response, Response> {
        let body: Value = serde_json::from_slice(&r.body)
            .map_err(|e| error(400, format!("body is not JSON: {e}")))?;
        let tx = self.check_txid(&body)?;
        let now = OffsetDateTime::now_utc();
        let mut writes = Vec::new();
        for (name, chain, v) in [("ci-root", "ci", &tx.ci), ("prod-root", "prod", &tx.prod)] {
            let first_prod = chain == "prod" && self.no_prod();
            let (n, _, current) = self.base(chain)?;
            if &current == v && !first_prod {
                // Applied already (an earlier apply stopped half-way): this
                // chain is done, finish the other.
                continue;
            }
            let failures = accept::check(&current, v, Some(now));
            if !failures.is_empty() {
                let issues: Vec<String> = failures
                    .iter()
                    .map(|f| format!("{}: {}", f.kind, f.message))
                    .collect();
                return Err(answer(
                    422,
                    json!({
                        "message": format!("{name} cannot be applied: {}", issues.join("; ")),
                        "issues": issues,
                    }),
                ));
            }
            if chain == "prod" && !first_prod {
                targets::check_prod_targets(&self.dir, &current, v, &tx.targets_sigs)
                    .map_err(|e| answer(422, json!({"message": e, "issues": [e]})))?;
            }
            if first_prod {
                // The simulator's model of a Factory's first production
                // root: the production history is the CI history up to it
                // (devices on production trusted the CI roots until then),
                // so that it is walked from 1.root.json like any other.
                for k in 1..=n {
                    let bytes = self
                        .root_bytes("ci", k)
                        .ok_or_else(|| error(500, format!("state: no ci root {k}")))?;
                    writes.push((self.dir.join(format!("prod/{k}.root.json")), bytes));
                }
            }
            writes.push((
                self.dir.join(format!("{chain}/{}.root.json", n + 1)),
                serde_json::to_vec(v).unwrap_or_default(),
            ));
        }
        for (path, _) in &writes {
            if path.exists() {
                return Err(error(500, format!("state: {} exists", path.display())));
            }
        }
        for (path, bytes) in writes {
            write_atomic(&path, &bytes).map_err(|e| error(500, e))?;
        }
        for (kind, sigs) in [
            (targets::PROD, &tx.targets_sigs),
            (targets::WAVE, &tx.waves_sigs),
        ] {
            targets::add_signatures(&self.dir, kind, sigs, write_atomic)
                .map_err(|e| error(500, e))?;
        }
        self.save_tx(None)?;
        Ok(answer(200, json!({"status": "applied"})))
    }

    /// `GET /ota/factories/F/ci-targets.pub`: the online targets key as an
    /// AtsKey (fioctl `TufTargetsOnlineKey`), from the current CI root.
    fn ci_targets_pub(&self) -> Result<Response, Response> {
        let (_, bytes, _) = self.current("ci")?;
        let root: Value = serde_json::from_slice(&bytes)
            .map_err(|e| error(500, format!("state: ci root: {e}")))?;
        let online = self.online_keys();
        let key = online["targets"]
            .as_str()
            .and_then(|id| root["signed"]["keys"].get(id))
            .ok_or_else(|| error(404, "this Factory has no online targets key"))?;
        Ok(answer(200, key.clone()))
    }

    /// `POST …/root/updates/gen-online-keys` `{"txid", "key-type",
    /// "targets": true, …}`: new online keys for the named roles replace the
    /// old ones in both staged roots, whose signatures are then void.
    fn gen_online_keys(&mut self, r: &Request) -> Result<Response, Response> {
        let body: Value = serde_json::from_slice(&r.body)
            .map_err(|e| error(400, format!("body is not JSON: {e}")))?;
        let mut tx = self.check_txid(&body)?;
        let key_type = match body["key-type"].as_str().map(str::to_ascii_uppercase) {
            None => TestKeyType::Ed25519,
            Some(t) if t == "ED25519" => TestKeyType::Ed25519,
            Some(t) if t == "RSA" => TestKeyType::Rsa(2048),
            Some(_) => return Err(error(400, "key-type: ED25519 or RSA is expected")),
        };
        let roles: Vec<&str> = ["targets", "snapshot", "timestamp"]
            .into_iter()
            .filter(|role| body[*role].as_bool() == Some(true))
            .collect();
        if roles.is_empty() {
            return Err(error(
                400,
                "name at least one online role: targets, snapshot or timestamp",
            ));
        }
        let d = Dialect::OtaTuf;
        for role in roles {
            let key = TestKey::generate(key_type);
            let (new_id, new_obj) = (key.key_id(d), key.key_object(d));
            if role == "targets" {
                waves::keep_online_secret(&self.dir, &key, &new_id, write_atomic)
                    .map_err(|e| error(500, e))?;
            }
            let old_id = tx.online[role].as_str().map(str::to_owned);
            for root in [&mut tx.ci, &mut tx.prod] {
                let signed = &mut root["signed"];
                let ids = signed["roles"][role]["keyids"]
                    .as_array_mut()
                    .ok_or_else(|| error(422, format!("the staged root has no {role} role")))?;
                ids.retain(|id| old_id.as_deref() != id.as_str());
                ids.push(Value::String(new_id.clone()));
                signed["keys"][&new_id] = new_obj.clone();
                // Drop the old key unless another role still uses it.
                if let Some(old) = &old_id {
                    let used = signed["roles"].as_object().is_some_and(|roles| {
                        roles.values().any(|r| {
                            r["keyids"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|i| i.as_str() == Some(old)))
                        })
                    });
                    if !used {
                        if let Some(keys) = signed["keys"].as_object_mut() {
                            keys.remove(old);
                        }
                    }
                }
                root["signatures"] = json!([]);
            }
            tx.online[role] = Value::String(new_id);
        }
        self.save_tx(Some(&tx))?;
        Ok(answer(200, json!({})))
    }

    /// `…/waves/…`: see `factory-sim/waves.rs`.
    fn waves(&mut self, method: &str, rest: &[&str], r: &Request) -> Result<Response, Response> {
        let body = || -> Result<Value, Response> {
            if r.body.is_empty() {
                return Ok(json!({}));
            }
            serde_json::from_slice(&r.body)
                .map_err(|e| error(400, format!("body is not JSON: {e}")))
        };
        let prod = || -> Result<Value, Response> {
            if self.no_prod() {
                return Err(error(422, "this Factory has no production root"));
            }
            Ok(self.current("prod")?.2)
        };
        let now = accept::expiry_text(OffsetDateTime::now_utc());
        let dir = self.dir.clone();
        let result = match (method, rest) {
            ("POST", [""] | []) => {
                let online = self.online_keys()["targets"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                waves::create(&dir, &body()?, &prod()?, &online, &now, write_atomic)
                    .map(|w| answer(201, w))
            }
            ("GET", [name, ""] | [name]) => {
                waves::get(&dir, name, &r.query).map(|w| answer(200, w))
            }
            ("POST", [name, "sign", ""] | [name, "sign"]) => {
                waves::sign(&dir, name, &body()?, &prod()?, write_atomic).map(|w| answer(200, w))
            }
            ("POST", [name, "complete", ""] | [name, "complete"]) => {
                waves::complete(&dir, name, &prod()?, write_atomic).map(|w| answer(200, w))
            }
            _ => return Err(error(404, format!("no such endpoint: {method} {}", r.path))),
        };
        result.map_err(|(s, m)| error(s, m))
    }

    fn cancel(&mut self) -> Result<Response, Response> {
        if self.load_tx().is_none() {
            return Err(error(
                404,
                "there is no TUF root update transaction in progress",
            ));
        }
        self.save_tx(None)?;
        Ok(answer(200, json!({"status": "cancelled"})))
    }
}
