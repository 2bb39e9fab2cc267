//! Where the FoundriesFactory API token comes from, and how it is sent.
//!
//! In order: `--token-file FILE`; the environment (`FIOCTL_TOKEN`, then
//! `OSF_TOKEN`); fioctl's own config (`$FIOCTL_CONFIG`, else
//! `~/.config/fioctl.yaml`): `token:` is an API token sent as `OSF-TOKEN`,
//! `clientcredentials.access_token:` an OAuth2 token sent as fioctl sends it,
//! `Authorization: Bearer base64(token)`. The token is never printed: its
//! `Debug` form is redacted and errors name only where it was looked for.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// A credential and the header it travels in.
#[derive(Clone)]
pub enum Auth {
    /// `OSF-TOKEN: <token>` (header name overridable with `TOKEN_HEADER`, as in fioctl).
    ApiToken {
        /// The header name.
        header: String,
        /// The token.
        token: String,
    },
    /// `Authorization: Bearer <base64(access_token)>`.
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::ApiToken { header, .. } => write!(f, "ApiToken({header}: <redacted>)"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    /// The header name.
    pub fn header_name(&self) -> &str {
        match self {
            Auth::ApiToken { header, .. } => header,
            Auth::Bearer(_) => "Authorization",
        }
    }

    /// The header value.
    pub fn header_value(&self) -> String {
        match self {
            Auth::ApiToken { token, .. } => token.clone(),
            Auth::Bearer(t) => format!(
                "Bearer {}",
                base64::engine::general_purpose::STANDARD.encode(t)
            ),
        }
    }

    /// Where the credential came from, for messages (never the value).
    pub fn describe(&self) -> &'static str {
        match self {
            Auth::ApiToken { .. } => "an API token",
            Auth::Bearer(_) => "an OAuth2 access token",
        }
    }
}

/// What fioctl's config says that matters here.
#[derive(Default, Debug)]
pub struct FioctlConfig {
    /// `token`.
    pub token: Option<String>,
    /// `clientcredentials.access_token`.
    pub access_token: Option<String>,
    /// `server.url`.
    pub server_url: Option<String>,
    /// `factory`.
    pub factory: Option<String>,
}

/// The config path: `$FIOCTL_CONFIG`, else `~/.config/fioctl.yaml`.
pub fn default_config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FIOCTL_CONFIG") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/fioctl.yaml"))
}

/// Reads the few keys needed from fioctl's YAML config: top-level `token`,
/// `factory`, and `token`/`url`-style keys one level down under
/// `clientcredentials` and `server`. Only plain block mappings with scalar
/// values are understood, which is how fioctl writes the file.
pub fn parse_fioctl_yaml(text: &str) -> FioctlConfig {
    let mut cfg = FioctlConfig::default();
    let mut section: Option<String> = None;
    for line in text.lines() {
        let without_comment = strip_comment(line);
        if without_comment.trim().is_empty() {
            continue;
        }
        let indent = without_comment.len() - without_comment.trim_start().len();
        let Some((key, value)) = without_comment.trim().split_once(':') else {
            continue;
        };
        let key = key.trim();
        let opens_section = value.trim().is_empty();
        let value = unquote(value.trim());
        if indent == 0 {
            section = None;
            if opens_section {
                section = Some(key.to_string());
                continue;
            }
            match key {
                "token" => cfg.token = Some(value),
                "factory" => cfg.factory = Some(value),
                _ => {}
            }
        } else {
            match (section.as_deref(), key) {
                (Some("clientcredentials"), "access_token") if !value.is_empty() => {
                    cfg.access_token = Some(value)
                }
                (Some("server"), "url") if !value.is_empty() => cfg.server_url = Some(value),
                _ => {}
            }
        }
    }
    cfg
}

fn strip_comment(line: &str) -> &str {
    // A `#` starts a comment at the line start or after whitespace, outside quotes.
    let mut in_single = false;
    let mut in_double = false;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '#' if !in_single && !in_double && prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

fn api_token(token: String) -> Auth {
    let header = std::env::var("TOKEN_HEADER")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "OSF-TOKEN".into());
    Auth::ApiToken { header, token }
}

/// Finds the credential, or says everywhere it looked.
pub fn find(token_file: Option<&Path>, config: Option<&Path>) -> Result<Auth, String> {
    if let Some(path) = token_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(format!("the token file {} is empty", path.display()));
        }
        return Ok(api_token(token));
    }
    for var in ["FIOCTL_TOKEN", "OSF_TOKEN"] {
        if let Ok(t) = std::env::var(var) {
            if !t.trim().is_empty() {
                return Ok(api_token(t.trim().to_string()));
            }
        }
    }
    let path = config.map(Path::to_path_buf).or_else(default_config_path);
    if let Some(path) = &path {
        if let Ok(text) = std::fs::read_to_string(path) {
            let cfg = parse_fioctl_yaml(&text);
            if let Some(t) = cfg.token.filter(|t| !t.is_empty()) {
                return Ok(api_token(t));
            }
            if let Some(t) = cfg.access_token {
                return Ok(Auth::Bearer(t));
            }
            return Err(format!(
                "{} has neither `token` nor `clientcredentials.access_token`: run `fioctl login`, \
                 or give --token-file FILE, or set FIOCTL_TOKEN",
                path.display()
            ));
        }
    }
    Err(format!(
        "no FoundriesFactory API token: give --token-file FILE, set FIOCTL_TOKEN (or OSF_TOKEN), \
         or log in with fioctl so that {} holds one",
        path.map_or_else(
            || "~/.config/fioctl.yaml".to_string(),
            |p| p.display().to_string()
        )
    ))
}

/// `server.url` from fioctl's config, if there is one.
pub fn configured_api(config: Option<&Path>) -> Option<String> {
    let path = config.map(Path::to_path_buf).or_else(default_config_path)?;
    let text = std::fs::read_to_string(path).ok()?;
    parse_fioctl_yaml(&text).server_url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fioctl_config() {
        let cfg = parse_fioctl_yaml(
            "clientcredentials:\n  access_token: \"abc#def\"\n  client_id: x  # comment\n  refresh_token: r\nfactory: demo\nserver:\n  url: https://api.example\ntoken: ''\n",
        );
        assert_eq!(cfg.access_token.as_deref(), Some("abc#def"));
        assert_eq!(cfg.factory.as_deref(), Some("demo"));
        assert_eq!(cfg.server_url.as_deref(), Some("https://api.example"));
        assert_eq!(cfg.token.as_deref(), Some(""));
        let cfg = parse_fioctl_yaml("# fioctl\ntoken: s3cr3t\n");
        assert_eq!(cfg.token.as_deref(), Some("s3cr3t"));
    }

    #[test]
    fn bearer_is_base64_of_the_token_and_debug_is_redacted() {
        let a = Auth::Bearer("tok".into());
        assert_eq!(a.header_value(), "Bearer dG9r");
        assert!(!format!("{a:?}").contains("tok"));
    }
}
