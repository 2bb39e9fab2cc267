//! fioctl's config file (`$FIOCTL_CONFIG`, else `~/.config/fioctl.yaml`):
//! what we read from it, and the one edit we make to it (the OAuth2 token
//! fioctl itself would write back after renewing it).
//!
//! fioctl reads the file with viper and writes it with yaml.v2: plain block
//! mappings, two-space indent, scalar values. Only that shape is read; the
//! edit is made only to a file every line of which was understood, so that
//! rewriting a few values cannot change what any other line means.

use std::path::{Path, PathBuf};

/// `clientcredentials:` as fioctl keeps it (`client.OAuthConfig`).
#[derive(Default, Clone)]
pub struct OAuthConfig {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret`.
    pub client_secret: Option<String>,
    /// `access_token`.
    pub access_token: Option<String>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `token_type`.
    pub token_type: Option<String>,
    /// `expires_in`, seconds after `created`.
    pub expires_in: Option<f64>,
    /// `created`, RFC 3339.
    pub created: Option<String>,
    /// `url`: the OAuth2 base; the token endpoint is `<url>/token/`.
    pub url: Option<String>,
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are never formatted, not even in a debug message.
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field("expires_in", &self.expires_in)
            .field("created", &self.created)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What fioctl's config says that matters here.
#[derive(Default, Debug)]
pub struct FioctlConfig {
    /// `token`.
    pub token: Option<String>,
    /// `clientcredentials`.
    pub oauth: OAuthConfig,
    /// `server.url`.
    pub server_url: Option<String>,
    /// `factory`.
    pub factory: Option<String>,
    /// `extraheaders`: sent with every API request, as fioctl does.
    pub extra_headers: Vec<(String, String)>,
    /// Whether every line was one this reader understands (a comment, a
    /// `key:` opening a section, or `key: scalar`): only then is the file
    /// edited.
    pub plain: bool,
}

/// The config path: `$FIOCTL_CONFIG`, else `~/.config/fioctl.yaml`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FIOCTL_CONFIG") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/fioctl.yaml"))
}

/// The config file named, or the default one.
pub fn path(config: Option<&Path>) -> Option<PathBuf> {
    config.map(Path::to_path_buf).or_else(default_path)
}

/// The largest config file read: fioctl's is a few hundred bytes.
const MAX_CONFIG: u64 = 1024 * 1024;

/// Reads the config; `Ok(None)` when there is no such file.
pub fn read(path: &Path) -> Result<Option<(String, FioctlConfig)>, String> {
    match ceremony::fsio::read_bounded(path, MAX_CONFIG) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
            let cfg = parse(&text);
            Ok(Some((text, cfg)))
        }
        Err(ceremony::fsio::FsError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// One line of the file, as this reader understands it.
enum Line<'a> {
    Blank,
    /// `key:` with nothing after it, at `indent`.
    Section {
        indent: usize,
        key: &'a str,
    },
    /// `key: value`.
    Pair {
        indent: usize,
        key: &'a str,
        value: String,
    },
    /// Anything else (flow style, block scalars, anchors, lists, tabs…).
    Other,
}

fn classify(line: &str) -> Line<'_> {
    let body = strip_comment(line);
    if body.trim().is_empty() {
        return Line::Blank;
    }
    if body.contains('\t') {
        return Line::Other;
    }
    let indent = body.len() - body.trim_start().len();
    let Some((key, value)) = body.trim().split_once(':') else {
        return Line::Other;
    };
    let key = key.trim();
    if key.is_empty() || key.starts_with(['-', '?', '&', '*', '!', '[', '{', '"', '\'']) {
        return Line::Other;
    }
    let raw = value.trim();
    if raw.is_empty() {
        return Line::Section { indent, key };
    }
    // A value must be one plain or quoted scalar: no flow collections,
    // block scalars, anchors, aliases or tags, which a line edit could break.
    if raw.starts_with(['[', '{', '|', '>', '&', '*', '!', '%', '@', '`']) {
        return Line::Other;
    }
    let quoted = raw.starts_with(['"', '\'']);
    if quoted && !(raw.len() >= 2 && raw.ends_with(&raw[..1])) {
        return Line::Other;
    }
    Line::Pair {
        indent,
        key,
        value: unquote(raw),
    }
}

/// Reads the keys needed: top-level `token`, `factory`, and the scalars one
/// level down under `clientcredentials`, `server` and `extraheaders`.
pub fn parse(text: &str) -> FioctlConfig {
    let mut cfg = FioctlConfig {
        plain: true,
        ..FioctlConfig::default()
    };
    let mut section: Option<&str> = None;
    for line in text.lines() {
        match classify(line) {
            Line::Blank => {}
            Line::Other => {
                cfg.plain = false;
                // What follows may belong to a construct we did not read.
                section = None;
            }
            Line::Section { indent: 0, key } => section = Some(key),
            Line::Section { .. } => cfg.plain = false,
            Line::Pair {
                indent: 0,
                key,
                value,
            } => {
                section = None;
                match key {
                    "token" => cfg.token = Some(value),
                    "factory" => cfg.factory = Some(value),
                    _ => {}
                }
            }
            Line::Pair { key, value, .. } => {
                let set = |v: String| Some(v).filter(|v| !v.is_empty());
                let o = &mut cfg.oauth;
                match (section, key) {
                    (Some("clientcredentials"), k) => match k {
                        "client_id" => o.client_id = set(value),
                        "client_secret" => o.client_secret = set(value),
                        "access_token" => o.access_token = set(value),
                        "refresh_token" => o.refresh_token = set(value),
                        "token_type" => o.token_type = set(value),
                        "expires_in" => o.expires_in = value.parse().ok(),
                        "created" => o.created = set(value),
                        "url" => o.url = set(value),
                        _ => {}
                    },
                    (Some("server"), "url") => cfg.server_url = set(value),
                    (Some("extraheaders"), name) => {
                        cfg.extra_headers.push((name.to_string(), value))
                    }
                    (None, _) => cfg.plain = false,
                    _ => {}
                }
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

/// A value written back: single-quoted (YAML takes everything inside
/// literally), and only visible ASCII without a quote, so the line means
/// exactly this value.
fn yaml_scalar(v: &str) -> Option<String> {
    // A whole number (`expires_in`) is written bare, as yaml.v2 writes it;
    // no leading zero, which YAML 1.1 would read as octal.
    let number = v == "0"
        || (v.starts_with(|c: char| ('1'..='9').contains(&c))
            && v.bytes().all(|b| b.is_ascii_digit()));
    if number {
        return Some(v.to_string());
    }
    v.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'\'')
        .then(|| format!("'{v}'"))
}

/// The file's text with the `clientcredentials` values in `updates`
/// replaced (or added at the end of that section), every other line kept
/// byte for byte. `None` when the file is not plain enough to edit safely,
/// has no `clientcredentials` section, or a value cannot be written as one
/// plain scalar.
pub fn with_oauth_values(text: &str, updates: &[(&str, String)]) -> Option<String> {
    if !parse(text).plain {
        return None;
    }
    let mut values = Vec::new();
    for (k, v) in updates {
        values.push((*k, yaml_scalar(v)?));
    }
    let mut out: Vec<String> = Vec::new();
    let mut in_section = false;
    let mut seen_section = false;
    let mut item_indent = 2;
    let mut done: Vec<&str> = Vec::new();
    let mut insert_at = None;
    for line in text.lines() {
        match classify(line) {
            Line::Section { indent: 0, key } => {
                if in_section {
                    insert_at.get_or_insert(out.len());
                }
                in_section = key == "clientcredentials";
                seen_section |= in_section;
            }
            Line::Pair { indent: 0, .. } => {
                if in_section {
                    insert_at.get_or_insert(out.len());
                }
                in_section = false;
            }
            Line::Pair { indent, key, .. } if in_section => {
                item_indent = indent;
                if let Some((k, v)) = values.iter().find(|(k, _)| *k == key) {
                    out.push(format!("{}{k}: {v}", " ".repeat(indent)));
                    done.push(k);
                    continue;
                }
            }
            _ => {}
        }
        out.push(line.to_string());
    }
    if !seen_section {
        return None;
    }
    // Trailing blank lines stay after what is added.
    let at = insert_at.unwrap_or_else(|| {
        out.iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(0, |i| i + 1)
    });
    let added: Vec<String> = values
        .iter()
        .filter(|(k, _)| !done.contains(k))
        .map(|(k, v)| format!("{}{k}: {v}", " ".repeat(item_indent)))
        .collect();
    out.splice(at..at, added);
    let mut text = out.join("\n");
    text.push('\n');
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fioctl_config() {
        let cfg = parse(
            "clientcredentials:\n  access_token: \"abc#def\"\n  client_id: x  # comment\n  refresh_token: r\n  expires_in: 3600\n  created: \"2026-01-01T00:00:00Z\"\nextraheaders:\n  X-Proxy-Auth: p\nfactory: demo\nserver:\n  url: https://api.example\ntoken: ''\n",
        );
        assert!(cfg.plain);
        assert_eq!(cfg.oauth.access_token.as_deref(), Some("abc#def"));
        assert_eq!(cfg.oauth.client_id.as_deref(), Some("x"));
        assert_eq!(cfg.oauth.refresh_token.as_deref(), Some("r"));
        assert_eq!(cfg.oauth.expires_in, Some(3600.0));
        assert_eq!(cfg.oauth.created.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(cfg.factory.as_deref(), Some("demo"));
        assert_eq!(cfg.server_url.as_deref(), Some("https://api.example"));
        assert_eq!(cfg.token.as_deref(), Some(""));
        assert_eq!(
            cfg.extra_headers,
            vec![("X-Proxy-Auth".to_string(), "p".to_string())]
        );
        let cfg = parse("# fioctl\ntoken: s3cr3t\n");
        assert_eq!(cfg.token.as_deref(), Some("s3cr3t"));
        assert!(!format!("{cfg:?}").contains("abc"));
    }

    #[test]
    fn edits_only_the_oauth_values_of_a_plain_file() {
        let text = "# mine\nclientcredentials:\n  access_token: old\n  client_id: id\n  client_secret: sec\nfactory: demo\n";
        let new = with_oauth_values(
            text,
            &[
                ("access_token", "new".into()),
                ("created", "2026-12-01T00:00:00Z".into()),
                ("expires_in", "3600".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            new,
            "# mine\nclientcredentials:\n  access_token: 'new'\n  client_id: id\n  client_secret: sec\n  created: '2026-12-01T00:00:00Z'\n  expires_in: 3600\nfactory: demo\n"
        );
        let cfg = parse(&new);
        assert_eq!(cfg.oauth.access_token.as_deref(), Some("new"));
        assert_eq!(cfg.oauth.client_secret.as_deref(), Some("sec"));
        assert_eq!(cfg.factory.as_deref(), Some("demo"));
    }

    #[test]
    fn refuses_to_edit_what_it_does_not_understand() {
        for text in [
            "clientcredentials: {access_token: a}\n",
            "clientcredentials:\n  access_token: |\n    a\n",
            "base: &b\n  x: 1\nclientcredentials:\n  access_token: a\n",
            "clientcredentials:\n  - a\n",
            "factory: demo\n",
        ] {
            assert!(
                with_oauth_values(text, &[("access_token", "n".into())]).is_none(),
                "{text}"
            );
        }
        let plain = "clientcredentials:\n  access_token: a\n";
        assert!(with_oauth_values(plain, &[("access_token", "it's".into())]).is_none());
        assert!(with_oauth_values(plain, &[("access_token", "a\nb: c".into())]).is_none());
    }
}
