//! Where the FoundriesFactory API credential comes from, and how it is sent.
//!
//! In order, as fioctl looks: `--token-file FILE`; the environment
//! (`FIOCTL_TOKEN`, then `OSF_TOKEN`); fioctl's own config
//! ([`crate::fioctl_config`]): `token:` is an API token sent in the header
//! `TOKEN_HEADER` names (default `OSF-TOKEN`), `clientcredentials` an OAuth2
//! login sent as fioctl sends it, `Authorization: Bearer base64(token)`,
//! renewed first when it has expired ([`crate::oauth`]). fioctl's
//! `extraheaders` go with every API request whatever the credential. The
//! credential is never printed: its `Debug` form is redacted, and messages
//! name only where it came from.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::fioctl_config::{self, OAuthConfig};

/// The credential itself.
#[derive(Clone)]
pub enum Credential {
    /// `<TOKEN_HEADER>: <token>`.
    ApiToken {
        /// The header name.
        header: String,
        /// The token.
        token: String,
    },
    /// `Authorization: Bearer <base64(access_token)>`.
    Bearer(String),
}

/// Where a credential came from: what a refusal names, and how to renew it.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// `--token-file FILE`.
    TokenFile(PathBuf),
    /// An environment variable.
    Env(&'static str),
    /// `token:` in fioctl's config.
    ConfigToken(PathBuf),
    /// `clientcredentials.access_token` in fioctl's config; `renewed` when
    /// this run obtained it from the token endpoint.
    ConfigOAuth {
        /// The config file.
        path: PathBuf,
        /// Whether it was renewed just now.
        renewed: bool,
    },
}

impl Source {
    /// "the API token in $FIOCTL_TOKEN", for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::TokenFile(p) => format!("the API token read from --token-file {}", p.display()),
            Source::Env(v) => format!("the API token in the environment variable {v}"),
            Source::ConfigToken(p) => format!("the API token `token:` in {}", p.display()),
            Source::ConfigOAuth {
                path,
                renewed: false,
            } => format!(
                "the OAuth2 access token `clientcredentials.access_token` in {}",
                path.display()
            ),
            Source::ConfigOAuth {
                path,
                renewed: true,
            } => format!(
                "the OAuth2 access token just obtained with the client credentials in {}",
                path.display()
            ),
        }
    }

    /// What to do to get a credential the server takes.
    pub fn renew(&self) -> String {
        const TOKENS: &str = "https://app.foundries.io/settings/tokens/";
        match self {
            Source::TokenFile(p) => format!(
                "put a current API token (from {TOKENS}) in {}, or drop --token-file and run `fioctl login`",
                p.display()
            ),
            Source::Env(v) => format!(
                "set {v} to a current API token (from {TOKENS}), or unset it and run `fioctl login`"
            ),
            Source::ConfigToken(p) => format!(
                "replace `token:` in {} with a current API token (from {TOKENS}), or remove it and run `fioctl login`",
                p.display()
            ),
            Source::ConfigOAuth { .. } => "run `fioctl login` (after a change of the credential's scopes: \
                 `fioctl login --refresh-access-token`), then try again"
                .to_string(),
        }
    }
}

/// A credential, where it came from, and the extra headers that go with it.
#[derive(Clone)]
pub struct Auth {
    /// The credential.
    pub credential: Credential,
    /// Where it came from.
    pub source: Source,
    /// fioctl's `extraheaders`.
    pub extra_headers: Vec<(String, String)>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.extra_headers.iter().map(|(n, _)| n.as_str()).collect();
        match &self.credential {
            Credential::ApiToken { header, .. } => write!(f, "ApiToken({header}: <redacted>")?,
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>")?,
        }
        write!(f, ", from {:?}, extra headers {names:?})", self.source)
    }
}

impl Auth {
    /// Every header to send, the credential's last so that no extra header
    /// can replace it.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut out = self.extra_headers.clone();
        out.push(match &self.credential {
            Credential::ApiToken { header, token } => (header.clone(), token.clone()),
            Credential::Bearer(t) => (
                "Authorization".to_string(),
                format!(
                    "Bearer {}",
                    base64::engine::general_purpose::STANDARD.encode(t)
                ),
            ),
        });
        out
    }

    /// What to tell the operator when the server refuses the credential
    /// (401, 403).
    pub fn refused(&self, status: u16) -> String {
        let what = if status == 403 {
            "does not allow this request (a token without the scope it needs, or a user who is not an owner of the Factory)"
        } else {
            "was refused: expired, revoked or wrong"
        };
        format!(
            "{} {what}. To renew it: {}",
            self.source.describe(),
            self.source.renew()
        )
    }
}

/// A credential that is ready, or an OAuth2 login to renew first.
pub enum Found {
    /// Ready to send.
    Ready(Auth),
    /// fioctl's `clientcredentials`, whose access token is missing or has
    /// expired: the token endpoint gives a new one ([`crate::oauth`]).
    Renew {
        /// The config file (written back afterwards where that is safe).
        path: PathBuf,
        /// Its text as read.
        text: String,
        /// What it says.
        oauth: OAuthConfig,
        /// `extraheaders`.
        extra_headers: Vec<(String, String)>,
    },
}

/// The header an API token travels in: `TOKEN_HEADER`, else `OSF-TOKEN`.
pub fn token_header() -> Result<String, String> {
    match std::env::var("TOKEN_HEADER") {
        Ok(h) if !h.trim().is_empty() => {
            let h = h.trim().to_string();
            check_header_name(&h).map_err(|e| format!("TOKEN_HEADER: {e}"))?;
            Ok(h)
        }
        _ => Ok("OSF-TOKEN".into()),
    }
}

/// Headers this client sets itself, or that would change how a request is
/// framed or routed: an extra header may not replace them.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "authorization",
];

fn check_header_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not an HTTP header name",
            ceremony::untrusted::escape(name)
        ))
    }
}

/// Checks a header value: visible ASCII and spaces only, so that nothing
/// in it can end the header or start another.
pub fn check_header_value(v: &str) -> bool {
    v.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

fn extra_headers(
    path: &Path,
    headers: Vec<(String, String)>,
    token_header: &str,
) -> Result<Vec<(String, String)>, String> {
    for (name, value) in &headers {
        check_header_name(name).map_err(|e| format!("{}: extraheaders: {e}", path.display()))?;
        let lower = name.to_ascii_lowercase();
        if RESERVED.contains(&lower.as_str()) || lower == token_header.to_ascii_lowercase() {
            return Err(format!(
                "{}: extraheaders may not set {name}: the submitter sets it itself; remove it from extraheaders",
                path.display()
            ));
        }
        if !check_header_value(value) {
            // The value is not shown: extra headers often carry secrets.
            return Err(format!(
                "{}: extraheaders.{name} holds a control or non-ASCII character; an HTTP header cannot carry it",
                path.display()
            ));
        }
    }
    Ok(headers)
}

fn api_token(token: String, source: Source, extra: Vec<(String, String)>) -> Result<Found, String> {
    if !check_header_value(&token) {
        return Err(format!(
            "{} holds a control or non-ASCII character: it is not a token",
            source.describe()
        ));
    }
    Ok(Found::Ready(Auth {
        credential: Credential::ApiToken {
            header: token_header()?,
            token,
        },
        source,
        extra_headers: extra,
    }))
}

/// Finds the credential, or says everywhere it looked.
pub fn find(token_file: Option<&Path>, config: Option<&Path>) -> Result<Found, String> {
    let path = fioctl_config::path(config);
    let read = match &path {
        Some(p) => fioctl_config::read(p)?,
        None => None,
    };
    let header = token_header()?;
    let extra = match (&path, &read) {
        (Some(p), Some((_, cfg))) => extra_headers(p, cfg.extra_headers.clone(), &header)?,
        _ => Vec::new(),
    };
    if let Some(file) = token_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the token file {}: {e}", file.display()))?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(format!("the token file {} is empty", file.display()));
        }
        return api_token(token, Source::TokenFile(file.to_path_buf()), extra);
    }
    for var in ["FIOCTL_TOKEN", "OSF_TOKEN"] {
        if let Ok(t) = std::env::var(var) {
            if !t.trim().is_empty() {
                return api_token(t.trim().to_string(), Source::Env(var), extra);
            }
        }
    }
    let shown = path.as_ref().map_or_else(
        || "~/.config/fioctl.yaml".to_string(),
        |p| p.display().to_string(),
    );
    let (Some(path), Some((text, cfg))) = (path, read) else {
        return Err(format!(
            "no FoundriesFactory API token: give --token-file FILE, set FIOCTL_TOKEN (or OSF_TOKEN), \
             or log in with `fioctl login` so that {shown} holds one"
        ));
    };
    if let Some(t) = cfg.token.clone().filter(|t| !t.is_empty()) {
        return api_token(t, Source::ConfigToken(path), extra);
    }
    let oauth = cfg.oauth;
    if oauth.client_id.is_none() && oauth.access_token.is_none() {
        return Err(format!(
            "{shown} has neither `token` nor `clientcredentials`: run `fioctl login`, \
             or give --token-file FILE, or set FIOCTL_TOKEN"
        ));
    }
    match (&oauth.access_token, crate::oauth::expired(&oauth)?) {
        (Some(t), false) => {
            if !check_header_value(t) {
                return Err(format!(
                    "{shown}: clientcredentials.access_token holds a control or non-ASCII character: run `fioctl login`"
                ));
            }
            Ok(Found::Ready(Auth {
                credential: Credential::Bearer(t.clone()),
                source: Source::ConfigOAuth {
                    path,
                    renewed: false,
                },
                extra_headers: extra,
            }))
        }
        _ => Ok(Found::Renew {
            path,
            text,
            oauth,
            extra_headers: extra,
        }),
    }
}

/// `server.url` from fioctl's config, if there is one.
pub fn configured_api(config: Option<&Path>) -> Option<String> {
    let path = fioctl_config::path(config)?;
    fioctl_config::read(&path).ok()??.1.server_url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_base64_of_the_token_and_debug_is_redacted() {
        let a = Auth {
            credential: Credential::Bearer("tok".into()),
            source: Source::Env("X"),
            extra_headers: vec![("X-A".into(), "hidden".into())],
        };
        assert_eq!(
            a.headers(),
            vec![
                ("X-A".to_string(), "hidden".to_string()),
                ("Authorization".to_string(), "Bearer dG9r".to_string())
            ]
        );
        let debug = format!("{a:?}");
        assert!(
            !debug.contains("tok") && !debug.contains("hidden"),
            "{debug}"
        );
    }

    #[test]
    fn extra_headers_may_not_replace_what_the_client_sets() {
        let p = Path::new("c.yaml");
        for name in ["Authorization", "osf-token", "Host", "Content-Length"] {
            let e = extra_headers(p, vec![(name.into(), "v".into())], "OSF-TOKEN").unwrap_err();
            assert!(e.contains("may not set"), "{e}");
        }
        assert!(extra_headers(p, vec![("X-A".into(), "a\rb".into())], "OSF-TOKEN").is_err());
        assert!(extra_headers(p, vec![("X A".into(), "v".into())], "OSF-TOKEN").is_err());
        assert!(extra_headers(p, vec![("X-A".into(), "v w".into())], "OSF-TOKEN").is_ok());
    }
}
