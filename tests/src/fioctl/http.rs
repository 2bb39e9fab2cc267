//! fioctl's HTTP client (client/foundries.go): the headers it sets
//! (`User-Agent: fioctl-VERSION`, the token in `OSF-TOKEN` or in the header
//! `TOKEN_HEADER` names, `extraheaders`, `Content-Type: application/json`
//! when there is a body; no `Accept-Encoding`, since fioctl disables
//! compression), and `readResponse`: 200, 201, 202 and 204 are success;
//! anything else becomes the error text fioctl prints,
//! `HTTP error during METHOD 'URL': STATUS` followed by `\n= msg|message`
//! and `\n * error` lines when the body has them, or the body itself when
//! it is JSON with neither.
//!
//! One request per connection over `std::net`, as factory-sim answers; every
//! request is recorded so that tests can compare it with fioctl's.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// The fioctl version whose requests this emulates.
pub const VERSION: &str = "v0.46";

/// A request as sent.
#[derive(Clone, Debug)]
pub struct Sent {
    pub method: String,
    /// Path and query, as on the request line.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Sent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(self.body.as_deref().unwrap_or(b"null")).unwrap_or(Value::Null)
    }
}

/// `HttpError`: the status and the message fioctl builds.
#[derive(Clone, Debug)]
pub struct HttpError {
    pub status: u16,
    pub message: String,
}

/// fioctl's `Api`.
pub struct Api {
    /// `http://127.0.0.1:PORT`
    pub server: String,
    pub token: String,
    /// `TOKEN_HEADER` (default `OSF-TOKEN`).
    pub token_header: String,
    /// `extraheaders` from fioctl's config.
    pub extra_headers: Vec<(String, String)>,
    pub sent: std::cell::RefCell<Vec<Sent>>,
}

pub enum Failure {
    /// No HTTP answer (fioctl prints Go's transport error).
    Network(String),
    Http(HttpError),
}

impl Failure {
    pub fn text(&self) -> String {
        match self {
            Failure::Network(s) => s.clone(),
            Failure::Http(h) => h.message.clone(),
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Http(h) => Some(h.status),
            Failure::Network(_) => None,
        }
    }
}

impl Api {
    pub fn new(server: &str, token: &str) -> Api {
        Api {
            server: server.trim_end_matches('/').to_string(),
            token: token.to_string(),
            token_header: "OSF-TOKEN".into(),
            extra_headers: Vec::new(),
            sent: Default::default(),
        }
    }

    pub fn get(&self, url: &str) -> Result<Vec<u8>, Failure> {
        self.request("GET", url, None)
    }

    pub fn post(&self, url: &str, body: Option<Vec<u8>>) -> Result<Vec<u8>, Failure> {
        self.request("POST", url, body)
    }

    pub fn put(&self, url: &str, body: Vec<u8>) -> Result<Vec<u8>, Failure> {
        self.request("PUT", url, Some(body))
    }

    /// `rawMethod` + `readResponse`. `url` is the full URL fioctl builds.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, Failure> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| Failure::Network(format!("unsupported URL {url}")))?;
        let (host, target) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut headers = vec![
            ("Host".to_string(), host.to_string()),
            ("User-Agent".to_string(), format!("fioctl-{VERSION}")),
        ];
        if !self.token.is_empty() {
            headers.push((self.token_header.clone(), self.token.clone()));
        }
        headers.extend(self.extra_headers.iter().cloned());
        if body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        // Go's transport sends a length for every body, and 0 for a POST
        // or PUT without one.
        match (&body, method) {
            (Some(b), _) => headers.push(("Content-Length".into(), b.len().to_string())),
            (None, "POST" | "PUT") => headers.push(("Content-Length".into(), "0".into())),
            _ => {}
        }
        self.sent.borrow_mut().push(Sent {
            method: method.to_string(),
            target: target.to_string(),
            headers: headers.clone(),
            body: body.clone(),
        });
        let mut stream = TcpStream::connect(host)
            .map_err(|e| Failure::Network(format!("{method} \"{url}\": dial tcp {host}: {e}")))?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let mut req = format!("{method} {target} HTTP/1.1\r\n");
        for (k, v) in &headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("Connection: close\r\n\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend(body.unwrap_or_default());
        stream
            .write_all(&bytes)
            .map_err(|e| Failure::Network(format!("{method} \"{url}\": {e}")))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .map_err(|e| Failure::Network(format!("{method} \"{url}\": {e}")))?;
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| Failure::Network(format!("{method} \"{url}\": EOF")))?;
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let body = answer[split + 4..].to_vec();
        let line = head.lines().next().unwrap_or("");
        // "HTTP/1.1 404 Not Found" → Go's `res.Status` is "404 Not Found".
        let status_text = line
            .split_once(' ')
            .map(|(_, s)| s)
            .unwrap_or("")
            .to_string();
        let status: u16 = status_text
            .split(' ')
            .next()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Failure::Network(format!("malformed HTTP response {line:?}")))?;
        if matches!(status, 200 | 201 | 202 | 204) {
            return Ok(body);
        }
        Err(Failure::Http(HttpError {
            status,
            message: error_message(method, url, &status_text, &body),
        }))
    }
}

/// `readResponse`'s error text.
fn error_message(method: &str, url: &str, status: &str, body: &[u8]) -> String {
    let mut msg = format!("HTTP error during {method} '{url}': {status}");
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let Some(Value::Object(m)) = parsed else {
        // Neither of fioctl's error shapes decodes: the status alone.
        return msg;
    };
    let text = |k: &str| match m.get(k) {
        Some(Value::String(s)) => Some(Some(s.clone())),
        None | Some(Value::Null) => Some(None),
        Some(_) => None, // a type error: this shape does not decode
    };
    let (Some(short), Some(long)) = (text("msg"), text("message")) else {
        return msg;
    };
    let chosen = short
        .filter(|s| !s.is_empty())
        .or(long.filter(|s| !s.is_empty()));
    let Some(chosen) = chosen else {
        // useGenericError: the body itself, when short enough.
        if body.len() < 512 {
            msg.push_str(&format!("\n= {}", String::from_utf8_lossy(body)));
        } else {
            msg.push_str("\n= Error body too long, try to use the --verbose option");
        }
        return msg;
    };
    msg.push_str(&format!("\n= {chosen}"));
    match m.get("errors") {
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            for e in a.iter().filter_map(Value::as_str) {
                msg.push_str(&format!("\n * {e}"));
            }
        }
        Some(Value::Object(o)) if o.values().all(Value::is_string) => {
            for (k, e) in o {
                msg.push_str(&format!("\n * {k}: {}", e.as_str().unwrap_or("")));
            }
        }
        _ => {}
    }
    msg
}
