//! Smoke test of the submitter's command line; it also makes cargo build the
//! `submitter` binary before the workspace's end-to-end tests run.

use std::process::Command;

#[test]
fn help_names_every_command_with_an_example() {
    let out = Command::new(env!("CARGO_BIN_EXE_submitter"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("audit"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_submitter"))
        .args(["audit", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Auth as fioctl does it (issue 13 item 6), against a tiny HTTP server in
/// this file that records every request and answers by path: the OAuth2
/// token endpoint and the Factory API's cancel endpoint.
mod auth {
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::path::Path;
    use std::process::{Command, Output};
    use std::sync::{Arc, Mutex};

    use base64::Engine as _;

    #[derive(Debug, Clone)]
    pub(super) struct Seen {
        pub(super) method: String,
        pub(super) path: String,
        /// Header names lowercased.
        headers: BTreeMap<String, String>,
        pub(super) body: String,
    }

    pub(super) type Reply = fn(&Seen) -> (u16, String);

    /// Serves until the test ends (the thread is detached; every
    /// connection is closed after one answer). Returns the base URL and the
    /// requests seen.
    pub(super) fn serve(reply: Reply) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            // Bounded: no test here makes more than a few requests.
            for stream in listener.incoming().take(32) {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts.next().unwrap_or("").to_string();
                let mut headers = BTreeMap::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let req = Seen {
                    method,
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let (status, text) = reply(&req);
                log.lock().unwrap().push(req);
                // A redirect's answer text is its Location.
                let (location, text) = if (300..400).contains(&status) {
                    (format!("Location: {text}\r\n"), String::new())
                } else {
                    (String::new(), text)
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\n{location}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        (base, seen)
    }

    /// `submitter cancel --factory demo` against `api`, with a clean
    /// environment plus `env`.
    fn cancel(dir: &Path, api: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_submitter"));
        c.args([
            "cancel",
            "--factory",
            "demo",
            "--api",
            api,
            "--retries",
            "0",
        ])
        .args(extra)
        .current_dir(dir);
        for v in [
            "FIOCTL_TOKEN",
            "OSF_TOKEN",
            "TOKEN_HEADER",
            "FIOCTL_CONFIG",
            "CACERT",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", dir);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    fn text(o: &Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    fn form(body: &str) -> BTreeMap<String, String> {
        body.split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.replace("%2F", "/")))
            .collect()
    }

    const CANCEL: &str = "/ota/repo/demo/api/v1/user_repo/root/updates/cancel";

    fn token_endpoint(req: &Seen) -> (u16, String) {
        match req.path.as_str() {
            "/oauth/token/" => (
                200,
                r#"{"access_token":"fresh-access","refresh_token":"fresh-refresh","token_type":"bearer","expires_in":3600,"scope":"targets:read"}"#.into(),
            ),
            CANCEL => (404, r#"{"message":"no transaction"}"#.into()),
            _ => (500, "unexpected".into()),
        }
    }

    fn config(dir: &Path, base: &str, access: Option<&str>) -> std::path::PathBuf {
        let path = dir.join("fioctl.yaml");
        let access = access.map_or(String::new(), |a| format!("  access_token: {a}\n"));
        std::fs::write(
            &path,
            format!(
                "# kept by hand\nclientcredentials:\n{access}  client_id: the-client\n  client_secret: the-secret\n  created: \"2020-01-01T00:00:00Z\"\n  expires_in: 3600\n  refresh_token: old-refresh\n  token_type: bearer\n  url: {base}/oauth\nextraheaders:\n  X-Gateway-Key: gw-1\nfactory: demo\n"
            ),
        )
        .unwrap();
        path
    }

    fn bearer(t: &str) -> String {
        format!(
            "Bearer {}",
            base64::engine::general_purpose::STANDARD.encode(t)
        )
    }

    #[test]
    fn an_expired_oauth_token_is_renewed_with_the_refresh_token_and_saved() {
        let dir = tempfile::tempdir().unwrap();
        let (base, seen) = serve(token_endpoint);
        let cfg = config(dir.path(), &base, Some("stale-access"));
        let out = cancel(
            dir.path(),
            &base,
            &["--fioctl-config", cfg.to_str().unwrap()],
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{all}");
        for secret in [
            "fresh-access",
            "fresh-refresh",
            "the-secret",
            "old-refresh",
            "gw-1",
        ] {
            assert!(!all.contains(secret), "{secret} printed: {all}");
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let (token, api) = (&seen[0], &seen[1]);
        assert_eq!(
            (token.method.as_str(), token.path.as_str()),
            ("POST", "/oauth/token/")
        );
        assert_eq!(
            token.headers.get("content-type").map(String::as_str),
            Some("application/x-www-form-urlencoded")
        );
        let f = form(&token.body);
        assert_eq!(
            f.get("grant_type").map(String::as_str),
            Some("refresh_token")
        );
        assert_eq!(
            f.get("refresh_token").map(String::as_str),
            Some("old-refresh")
        );
        assert_eq!(f.get("client_id").map(String::as_str), Some("the-client"));
        assert_eq!(
            f.get("client_secret").map(String::as_str),
            Some("the-secret")
        );
        assert!(!token.headers.contains_key("authorization"), "{token:?}");
        assert!(!token.headers.contains_key("x-gateway-key"), "{token:?}");
        // The API request carries the new token as fioctl sends it, and the extra header.
        assert_eq!(api.path, CANCEL);
        assert_eq!(
            api.headers.get("authorization"),
            Some(&bearer("fresh-access"))
        );
        assert_eq!(
            api.headers.get("x-gateway-key").map(String::as_str),
            Some("gw-1")
        );
        // Written back: the new values, every other line as it was, mode 0600.
        let saved = std::fs::read_to_string(&cfg).unwrap();
        let expect = [
            "# kept by hand",
            "clientcredentials:",
            "  access_token: 'fresh-access'",
            "  client_id: the-client",
            "  client_secret: the-secret",
        ];
        assert_eq!(saved.lines().take(5).collect::<Vec<_>>(), expect, "{saved}");
        assert!(
            saved.contains("  refresh_token: 'fresh-refresh'\n"),
            "{saved}"
        );
        assert!(saved.contains("  expires_in: 3600\n"), "{saved}");
        assert!(!saved.contains("2020-01-01"), "{saved}");
        assert!(
            saved.contains("extraheaders:\n  X-Gateway-Key: gw-1\nfactory: demo\n"),
            "{saved}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The next run uses the saved token as it is: no new renewal.
        let (base2, seen2) = serve(token_endpoint);
        let out = cancel(
            dir.path(),
            &base2,
            &["--fioctl-config", cfg.to_str().unwrap()],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let seen2 = seen2.lock().unwrap().clone();
        assert_eq!(seen2.len(), 1, "{seen2:?}");
        assert_eq!(
            seen2[0].headers.get("authorization"),
            Some(&bearer("fresh-access"))
        );
    }

    #[test]
    fn without_an_access_token_the_client_credentials_get_one() {
        let dir = tempfile::tempdir().unwrap();
        let (base, seen) = serve(token_endpoint);
        let cfg = config(dir.path(), &base, None);
        let out = cancel(
            dir.path(),
            &base,
            &[],
            &[("FIOCTL_CONFIG", cfg.to_str().unwrap())],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let seen = seen.lock().unwrap().clone();
        let f = form(&seen[0].body);
        assert_eq!(
            f.get("grant_type").map(String::as_str),
            Some("client_credentials")
        );
        assert!(!f.contains_key("refresh_token"));
        assert_eq!(
            seen[1].headers.get("authorization"),
            Some(&bearer("fresh-access"))
        );
        assert!(std::fs::read_to_string(&cfg)
            .unwrap()
            .contains("  access_token: 'fresh-access'\n"));
    }

    #[test]
    fn a_config_it_cannot_edit_safely_is_left_alone_and_the_run_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (base, seen) = serve(token_endpoint);
        let cfg = dir.path().join("fioctl.yaml");
        let original = format!(
            "clientcredentials:\n  client_id: the-client\n  client_secret: the-secret\n  url: {base}/oauth\nteams: [a, b]\n"
        );
        std::fs::write(&cfg, &original).unwrap();
        let out = cancel(
            dir.path(),
            &base,
            &["--fioctl-config", cfg.to_str().unwrap()],
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("not written back"), "{all}");
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
        assert_eq!(
            seen.lock().unwrap()[1].headers.get("authorization"),
            Some(&bearer("fresh-access"))
        );
    }

    #[test]
    fn a_refused_renewal_says_to_log_in_again() {
        let dir = tempfile::tempdir().unwrap();
        let (base, seen) = serve(|r| match r.path.as_str() {
            "/oauth/token/" => (401, r#"{"error":"invalid_grant"}"#.into()),
            _ => (200, "{}".into()),
        });
        let cfg = config(dir.path(), &base, Some("stale-access"));
        let before = std::fs::read_to_string(&cfg).unwrap();
        let out = cancel(
            dir.path(),
            &base,
            &["--fioctl-config", cfg.to_str().unwrap()],
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            all.contains("cannot renew the OAuth2 access token"),
            "{all}"
        );
        assert!(
            all.contains("invalid_grant") && all.contains("fioctl login"),
            "{all}"
        );
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "no API request after a failed renewal"
        );
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), before);
    }

    #[test]
    fn token_header_names_the_header_and_extra_headers_go_along() {
        let dir = tempfile::tempdir().unwrap();
        let (base, seen) = serve(|_| (404, "{}".into()));
        let cfg = dir.path().join("fioctl.yaml");
        std::fs::write(&cfg, "extraheaders:\n  X-Gateway-Key: gw-2\n").unwrap();
        let out = cancel(
            dir.path(),
            &base,
            &["--fioctl-config", cfg.to_str().unwrap()],
            &[
                ("FIOCTL_TOKEN", "env-token"),
                ("TOKEN_HEADER", "X-Custom-Token"),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let h = &seen[0].headers;
        assert_eq!(
            h.get("x-custom-token").map(String::as_str),
            Some("env-token")
        );
        assert!(!h.contains_key("osf-token"), "{h:?}");
        assert_eq!(h.get("x-gateway-key").map(String::as_str), Some("gw-2"));
        // And the default header is fioctl's.
        let (base, seen) = serve(|_| (404, "{}".into()));
        let out = cancel(dir.path(), &base, &[], &[("FIOCTL_TOKEN", "env-token")]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(
            seen.lock().unwrap()[0]
                .headers
                .get("osf-token")
                .map(String::as_str),
            Some("env-token")
        );
    }

    #[test]
    fn an_extra_header_may_not_replace_the_credential() {
        let dir = tempfile::tempdir().unwrap();
        let (base, seen) = serve(|_| (404, "{}".into()));
        let cfg = dir.path().join("fioctl.yaml");
        std::fs::write(&cfg, "token: t\nextraheaders:\n  OSF-TOKEN: other\n").unwrap();
        let out = cancel(
            dir.path(),
            &base,
            &["--fioctl-config", cfg.to_str().unwrap()],
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("extraheaders may not set OSF-TOKEN"), "{all}");
        assert!(seen.lock().unwrap().is_empty());
    }

    #[test]
    fn a_rejected_token_says_where_it_came_from_and_how_to_renew_it() {
        let dir = tempfile::tempdir().unwrap();
        let (base, _) = serve(|_| (401, r#"{"message":"token expired"}"#.into()));
        let out = cancel(dir.path(), &base, &[], &[("FIOCTL_TOKEN", "env-token")]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            all.contains("HTTP 401") && all.contains("token expired"),
            "{all}"
        );
        assert!(all.contains("environment variable FIOCTL_TOKEN"), "{all}");
        assert!(all.contains("fioctl login"), "{all}");
        assert!(!all.contains("env-token"), "{all}");

        let cfg = dir.path().join("fioctl.yaml");
        std::fs::write(&cfg, "token: cfg-token\n").unwrap();
        let (base, _) = serve(|_| (403, r#"{"message":"forbidden"}"#.into()));
        let out = cancel(
            dir.path(),
            &base,
            &["--fioctl-config", cfg.to_str().unwrap()],
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("HTTP 403"), "{all}");
        assert!(
            all.contains(&format!("the API token `token:` in {}", cfg.display())),
            "{all}"
        );
        assert!(all.contains("fioctl login"), "{all}");

        let tf = dir.path().join("tok");
        std::fs::write(&tf, "file-token\n").unwrap();
        let (base, _) = serve(|_| (401, "{}".into()));
        let out = cancel(
            dir.path(),
            &base,
            &["--token-file", tf.to_str().unwrap()],
            &[],
        );
        let all = text(&out);
        assert!(
            all.contains(&format!("--token-file {}", tf.display())),
            "{all}"
        );
        assert!(!all.contains("file-token"), "{all}");
    }

    #[test]
    fn an_unreadable_cacert_is_an_error_before_any_request() {
        let dir = tempfile::tempdir().unwrap();
        let (base, seen) = serve(|_| (404, "{}".into()));
        let missing = dir.path().join("missing.pem");
        let out = cancel(
            dir.path(),
            &base,
            &[],
            &[("FIOCTL_TOKEN", "t"), ("CACERT", missing.to_str().unwrap())],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("CACERT="), "{all}");
        assert!(seen.lock().unwrap().is_empty());
    }

    #[test]
    fn a_redirect_elsewhere_does_not_carry_the_credential() {
        let dir = tempfile::tempdir().unwrap();
        let (elsewhere, seen_there) = serve(|_| (404, "{}".into()));
        // The first server sends every request on to the other one.
        static THERE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        THERE.set(format!("{elsewhere}{CANCEL}")).unwrap();
        let (base, seen) = serve(|_| (307, THERE.get().unwrap().clone()));
        let out = cancel(dir.path(), &base, &[], &[("FIOCTL_TOKEN", "env-token")]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("redirected this request to"), "{all}");
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert!(
            seen_there.lock().unwrap().is_empty(),
            "the credential went elsewhere"
        );
    }

    /// An HTTPS server whose certificate (for 127.0.0.1) a test CA signed
    /// (`tests/data/test-ca.pem`; the server key is a test fixture, used
    /// only on loopback). Answers 404 to everything; counts the requests
    /// that got through the handshake.
    fn serve_tls() -> (String, Arc<Mutex<u32>>) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(data.join("test-server.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(data.join("test-server.key")).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("https://{}", listener.local_addr().unwrap());
        let count = Arc::new(Mutex::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(16) {
                let Ok(tcp) = stream else { continue };
                let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut reader = BufReader::new(&mut tls);
                let mut line = String::new();
                // A client that refuses our certificate ends here.
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                drop(reader);
                *seen.lock().unwrap() += 1;
                let _ = write!(
                    tls,
                    "HTTP/1.1 404 X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                );
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        (base, count)
    }

    #[test]
    fn tls_trusts_the_ca_that_cacert_names() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/test-ca.pem");
        let (base, count) = serve_tls();
        // Without CACERT the test CA is unknown: no request gets through.
        let out = cancel(dir.path(), &base, &[], &[("FIOCTL_TOKEN", "t")]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.to_lowercase().contains("certificate"), "{all}");
        assert_eq!(*count.lock().unwrap(), 0);
        // With it, the system pool plus the test CA: the request is answered.
        let out = cancel(
            dir.path(),
            &base,
            &[],
            &[("FIOCTL_TOKEN", "t"), ("CACERT", ca.to_str().unwrap())],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("no root-update transaction was open"), "{all}");
        assert_eq!(*count.lock().unwrap(), 1);
    }
}

/// The first rotation (issue 13 item 3) against a server that starts the
/// transaction but sends no first root key (an older server): refused at
/// once, with the cancel hint, and nothing written. factory-sim, which does
/// send it, is driven in tests/tests/first_rotation.rs.
mod first_time {
    use std::process::Command;

    use super::auth::{serve, Seen};

    const UPDATES: &str = "/ota/repo/demo/api/v1/user_repo/root/updates";

    fn older_server(req: &Seen) -> (u16, String) {
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", UPDATES) => (201, r#"{"txid":"tx-older-1"}"#.into()),
            _ => (500, r#"{"message":"not expected"}"#.into()),
        }
    }

    #[test]
    fn a_server_that_sends_no_first_root_key_is_refused_with_the_cancel_hint() {
        let dir = tempfile::tempdir().unwrap();
        let (base, seen) = serve(older_server);
        std::fs::write(dir.path().join("token"), "a-token\n").unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_submitter"))
            .args([
                "propose",
                "--factory",
                "demo",
                "--api",
                &base,
                "--token-file",
                "token",
                "--retries",
                "0",
                "--first-time",
                "--first-root-key",
                "demo-first.tgz",
                "--rotate-all",
                "-o",
                "proposal.json",
            ])
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env_remove("FIOCTL_TOKEN")
            .env_remove("OSF_TOKEN")
            .env_remove("FIOCTL_CONFIG")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("sent no first root key"), "{all}");
        assert!(all.contains("submitter cancel --factory demo"), "{all}");
        assert!(!dir.path().join("demo-first.tgz").exists());
        assert!(!dir.path().join("proposal.json").exists());
        // The transaction was asked for as fioctl's `--first-time` asks, and
        // nothing was read after the answer.
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!(body["first-time"], true, "{body}");
    }

    #[test]
    fn first_time_needs_the_key_file_and_a_factory() {
        for args in [
            &[
                "propose",
                "--factory",
                "demo",
                "--first-time",
                "-o",
                "p.json",
            ][..],
            &[
                "propose",
                "--repo",
                "r",
                "--first-time",
                "--first-root-key",
                "k.tgz",
                "-o",
                "p.json",
            ][..],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_submitter"))
                .args(args)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
        }
    }
}
