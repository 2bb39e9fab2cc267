//! HTTP for the submitter: one blocking client (ureq, rustls), timeouts,
//! retries only where a retry cannot change anything on the server, and
//! errors that name the method, the URL, the status and the server's own
//! message. Credentials travel only in headers and never appear in an error;
//! a 401 or 403 answer to a request that carried one says where it came from
//! and how to renew it. TLS roots: [`crate::tls`].

use ceremony_cli::eprintln;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::token::Auth;

/// The largest body read from a server: far above any root file (512,000
/// bytes at most) or transaction document.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// How the client behaves.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Limit for one whole request (connect, send, receive).
    pub timeout: Duration,
    /// How many times a safe request (GET) is retried after a transport
    /// failure or a 5xx / 429 answer.
    pub retries: u32,
    /// First pause between retries; doubled each time.
    pub backoff: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// A failed request: no answer at all, or an answer that is not a success.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// `GET`, `PUT`, …
    pub method: &'static str,
    /// The URL asked for (never holds credentials).
    pub url: String,
    /// The HTTP status, or `None` when no answer arrived.
    pub status: Option<u16>,
    /// The server's message, or why no answer arrived.
    pub message: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// For a 401/403 to a request with a credential: where that came from
    /// and how to renew it.
    pub hint: Option<String>,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(
                f,
                "{} {}: HTTP {s} {}: {}",
                self.method,
                self.url,
                reason(s),
                self.message
            )?,
            None => write!(
                f,
                "{} {}: no answer: {}",
                self.method, self.url, self.message
            )?,
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n{h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        423 => "Locked",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// An answer, whatever its status.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// For a 401/403 to a request with a credential: what to tell the
    /// operator ([`crate::token::Auth::refused`]), or why a redirect was
    /// not followed.
    pub hint: Option<String>,
    /// A redirect's `Location`.
    location: Option<String>,
}

impl Answer {
    /// Whether the status is one fioctl counts as success (200, 201, 202, 204).
    pub fn ok(&self) -> bool {
        matches!(self.status, 200 | 201 | 202 | 204)
    }
}

/// The server's message from an error body: a JSON `message` / `detail` /
/// `error` field when there is one, else the text, shortened and stripped of
/// control characters.
pub fn server_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        for k in ["message", "detail", "error", "errors", "issues"] {
            match v.get(k) {
                Some(Value::String(s)) => return clean(s),
                Some(other @ (Value::Array(_) | Value::Object(_))) => {
                    return clean(&other.to_string())
                }
                _ => {}
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = clean(text.trim());
    if text.is_empty() {
        "(no message)".into()
    } else {
        text
    }
}

fn clean(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(600)
        .collect();
    if s.chars().count() > 600 {
        out.push('…');
    }
    out
}

/// The client.
pub struct Http {
    agent: ureq::Agent,
    direct: ureq::Agent,
    auth: Option<Auth>,
    config: HttpConfig,
}

impl Http {
    /// A client that sends `auth` (if any) with every request. An error
    /// when the TLS roots cannot be assembled (`CACERT` unreadable).
    pub fn new(config: HttpConfig, auth: Option<Auth>) -> Result<Http, String> {
        let roots = crate::tls::roots()?;
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
        // A client with a credential follows no redirect by itself: ureq
        // would carry `OSF-TOKEN` and the extra headers to any host a
        // redirect names (it drops only `Authorization`). `request` follows
        // same-origin redirects of a GET itself.
        let max_redirects = if auth.is_some() { 0 } else { 10 };
        let build = |direct: bool| -> ureq::Agent {
            let mut b = ureq::Agent::config_builder()
                .timeout_global(Some(config.timeout))
                .timeout_connect(Some(config.timeout.min(Duration::from_secs(15))))
                .http_status_as_error(false)
                .tls_config(tls.clone())
                .max_redirects(max_redirects)
                .user_agent(concat!(
                    "tuf-ceremony-submitter/",
                    env!("CARGO_PKG_VERSION")
                ));
            if direct {
                b = b.proxy(None);
            }
            b.build().into()
        };
        Ok(Http {
            agent: build(false),
            direct: build(true),
            auth,
            config,
        })
    }

    /// The agent for `url`: loopback addresses never go through a proxy
    /// named in the environment.
    fn agent_for(&self, url: &str) -> &ureq::Agent {
        if is_loopback(url) {
            &self.direct
        } else {
            &self.agent
        }
    }

    fn once(&self, method: &'static str, url: &str, body: Option<&[u8]>) -> Result<Answer, String> {
        self.request(method, url, body, "application/json", true)
    }

    fn request(
        &self,
        method: &'static str,
        url: &str,
        body: Option<&[u8]>,
        content_type: &str,
        with_auth: bool,
    ) -> Result<Answer, String> {
        let auth = if with_auth { self.auth.as_ref() } else { None };
        let mut url = url.to_string();
        let mut hops = 0;
        loop {
            let answer = self.request_once(method, &url, body, content_type, auth)?;
            let Some(next) = answer.location.as_deref().filter(|_| auth.is_some()) else {
                return Ok(answer);
            };
            match redirect_target(&url, next) {
                Some(next) if method == "GET" && hops < 5 => {
                    hops += 1;
                    url = next;
                }
                _ => {
                    let hint = format!(
                        "the server redirected this request to {}; the submitter follows only a GET to the same scheme, host and port, so that the credential goes nowhere else: give the URL it redirects to (--api) if that host is the Factory API",
                        ceremony::untrusted::escape(next)
                    );
                    return Ok(Answer {
                        hint: Some(hint),
                        ..answer
                    });
                }
            }
        }
    }

    fn request_once(
        &self,
        method: &'static str,
        url: &str,
        body: Option<&[u8]>,
        content_type: &str,
        auth: Option<&Auth>,
    ) -> Result<Answer, String> {
        let result = match method {
            "GET" => Self::with_auth(auth, self.agent_for(url).get(url)).call(),
            "POST" => {
                let req = Self::with_auth(auth, self.agent_for(url).post(url))
                    .header("Content-Type", content_type);
                req.send(body.unwrap_or(b"{}"))
            }
            "PUT" => {
                let req = Self::with_auth(auth, self.agent_for(url).put(url))
                    .header("Content-Type", content_type);
                req.send(body.unwrap_or(b""))
            }
            other => return Err(format!("unsupported method {other}")),
        };
        let mut response = result.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let location = match status {
            301 | 302 | 303 | 307 | 308 => response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned),
            _ => None,
        };
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| format!("the answer ({status}) broke off: {}", describe(&e)))?;
        let hint = match auth {
            Some(a) if status == 401 || status == 403 => Some(a.refused(status)),
            _ => None,
        };
        Ok(Answer {
            status,
            body,
            hint,
            location,
        })
    }

    fn with_auth<B>(
        auth: Option<&Auth>,
        mut req: ureq::RequestBuilder<B>,
    ) -> ureq::RequestBuilder<B> {
        for (name, value) in auth.map(Auth::headers).unwrap_or_default() {
            req = req.header(name, value);
        }
        req
    }

    /// An `application/x-www-form-urlencoded` POST without the API
    /// credential (the OAuth2 token endpoint): sent once.
    pub fn send_form(&self, url: &str, fields: &[(&str, String)]) -> Result<Answer, HttpError> {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request(
            "POST",
            url,
            Some(body.as_bytes()),
            "application/x-www-form-urlencoded",
            false,
        )
        .map_err(|message| HttpError {
            method: "POST",
            url: url.to_string(),
            status: None,
            message,
            attempts: 1,
            hint: None,
        })
    }

    /// GET, retried with backoff after a transport failure or a 5xx/429
    /// answer (a GET changes nothing, so retrying is always safe). Returns
    /// the answer whatever its status.
    pub fn get(&self, url: &str) -> Result<Answer, HttpError> {
        let mut attempt = 0;
        let mut pause = self.config.backoff;
        loop {
            attempt += 1;
            let result = self.once("GET", url, None);
            let retry = match &result {
                Err(_) => true,
                Ok(a) => a.status >= 500 || a.status == 429,
            };
            if !retry || attempt > self.config.retries {
                return match result {
                    Ok(a) => Ok(a),
                    Err(message) => Err(HttpError {
                        method: "GET",
                        url: url.to_string(),
                        status: None,
                        message,
                        attempts: attempt,
                        hint: None,
                    }),
                };
            }
            let why = match &result {
                Ok(a) => format!("HTTP {} {}", a.status, reason(a.status)),
                Err(m) => m.clone(),
            };
            eprintln!(
                "GET {url}: {why}; retrying in {} ms ({attempt} of {} retries)",
                pause.as_millis(),
                self.config.retries
            );
            std::thread::sleep(pause);
            pause = pause.saturating_mul(2);
        }
    }

    /// GET that must succeed; 404 gives `Ok(None)`.
    pub fn get_optional(&self, url: &str) -> Result<Option<Vec<u8>>, HttpError> {
        let a = self.get(url)?;
        match a.status {
            404 => Ok(None),
            _ if a.ok() => Ok(Some(a.body)),
            s => Err(HttpError {
                method: "GET",
                url: url.to_string(),
                status: Some(s),
                message: server_message(&a.body),
                attempts: 1,
                hint: a.hint,
            }),
        }
    }

    /// GET that must succeed with a body.
    pub fn get_required(&self, url: &str) -> Result<Vec<u8>, HttpError> {
        let a = self.get(url)?;
        if a.ok() {
            Ok(a.body)
        } else {
            Err(HttpError {
                method: "GET",
                url: url.to_string(),
                status: Some(a.status),
                message: server_message(&a.body),
                attempts: 1,
                hint: a.hint,
            })
        }
    }

    /// A request that may change the server (POST, PUT): sent once, never
    /// retried here. The caller decides what a failure means.
    pub fn send(
        &self,
        method: &'static str,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<Answer, HttpError> {
        self.once(method, url, body).map_err(|message| HttpError {
            method,
            url: url.to_string(),
            status: None,
            message,
            attempts: 1,
            hint: None,
        })
    }

    /// Turns a non-success answer into an error.
    pub fn expect_ok(method: &'static str, url: &str, a: Answer) -> Result<Answer, HttpError> {
        if a.ok() {
            Ok(a)
        } else {
            Err(HttpError {
                method,
                url: url.to_string(),
                status: Some(a.status),
                message: server_message(&a.body),
                attempts: 1,
                hint: a.hint,
            })
        }
    }

    /// The pause before a careful retry of a non-idempotent request.
    pub fn backoff(&self) -> Duration {
        self.config.backoff
    }
}

/// `scheme://host:port` of a URL.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (!rest[..end].is_empty()).then(|| &url[..scheme.len() + 3 + end])
}

/// Where a redirect from `from` to `location` leads, if that is the same
/// origin (an absolute URL of it, or an absolute path).
fn redirect_target(from: &str, location: &str) -> Option<String> {
    let here = origin(from)?;
    let next = if location.starts_with('/') && !location.starts_with("//") {
        format!("{here}{location}")
    } else {
        location.to_string()
    };
    (origin(&next)? == here).then_some(next)
}

/// Percent-encodes a form field: unreserved characters as they are, every
/// other byte as `%XX`.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `url` names a loopback host (127.0.0.0/8, [::1], localhost).
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => format!("connection failed: {io}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        for u in [
            "http://127.0.0.1:8080/x",
            "http://[::1]:1/",
            "http://localhost/a",
            "https://127.3.4.5",
        ] {
            assert!(is_loopback(u), "{u}");
        }
        for u in [
            "https://api.foundries.io/ota",
            "http://10.0.0.1/",
            "http://127.0.0.1.example.com/",
        ] {
            assert!(!is_loopback(u), "{u}");
        }
    }

    #[test]
    fn redirects_are_followed_only_to_the_same_origin() {
        let from = "https://api.example:443/ota/x?y=1";
        assert_eq!(
            redirect_target(from, "/ota/z").as_deref(),
            Some("https://api.example:443/ota/z")
        );
        assert_eq!(
            redirect_target(from, "https://api.example:443/a").as_deref(),
            Some("https://api.example:443/a")
        );
        for away in [
            "https://evil.example/a",
            "http://api.example:443/a",
            "//evil.example/a",
            "https://api.example:443.evil/a",
            "https://api.example:4430/a",
        ] {
            assert_eq!(redirect_target(from, away), None, "{away}");
        }
    }

    #[test]
    fn server_messages_are_short_and_clean() {
        assert_eq!(server_message(br#"{"message":"bad txid"}"#), "bad txid");
        assert_eq!(server_message(b"  oops\n"), "oops");
        assert_eq!(server_message(b""), "(no message)");
        assert!(server_message(&vec![b'a'; 5000]).chars().count() <= 601);
    }
}
