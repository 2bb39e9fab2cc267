//! Renewing fioctl's OAuth2 access token as fioctl does (`subcommands.Login`,
//! `client/oauth.go`): an access token is expired once `expires_in` seconds
//! have passed since `created`; without an access token the client
//! credentials get one (`grant_type=client_credentials`), with an expired
//! one the refresh token renews it (`grant_type=refresh_token`), both as a
//! form POST to `<clientcredentials.url>/token/` (default
//! `https://app.foundries.io/oauth`). fioctl then writes the new token back
//! into its config; so do we, but only into a file we can edit without
//! changing anything else in it, atomically and readable by its owner alone.
//!
//! The tokens and the client secret travel only in the request body and
//! the config file: never in argv, never in a message.

use ceremony_cli::eprintln;
use std::path::{Path, PathBuf};

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::fioctl_config::{self, OAuthConfig};
use crate::http::Http;
use crate::token::{self, Auth, Credential, Source};

/// fioctl's default OAuth2 base (`client.OauthURL`).
pub const DEFAULT_OAUTH_URL: &str = "https://app.foundries.io/oauth";

/// A token this close to its end is renewed already, so that it does not
/// expire halfway through an upload (fioctl has no such margin).
const MARGIN_SECS: f64 = 60.0;

/// Whether the access token has expired (or will within [`MARGIN_SECS`]).
/// Without `expires_in` or `created` it never does, as in fioctl.
pub fn expired(o: &OAuthConfig) -> Result<bool, String> {
    let (Some(expires_in), Some(created)) = (o.expires_in, o.created.as_deref()) else {
        return Ok(false);
    };
    if expires_in == 0.0 {
        return Ok(false);
    }
    let created = OffsetDateTime::parse(created, &Rfc3339).map_err(|_| {
        "fioctl's config: clientcredentials.created is not an RFC 3339 time: run `fioctl login`"
            .to_string()
    })?;
    let age = (OffsetDateTime::now_utc() - created).as_seconds_f64();
    Ok(age > expires_in - MARGIN_SECS)
}

/// The token endpoint for an OAuth2 base URL, as fioctl's `buildUrl(url,
/// "token")` makes it: the path joined with `token`, with a trailing slash.
pub fn token_url(base: &str) -> String {
    let (base, query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let mut url = format!("{}/token/", base.trim_end_matches('/'));
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Gets a new access token for the login in `path` and, where safe, writes
/// it back there.
pub fn renew(
    http: &Http,
    path: PathBuf,
    text: &str,
    oauth: OAuthConfig,
    extra_headers: Vec<(String, String)>,
) -> Result<Auth, String> {
    let shown = path.display().to_string();
    let login = |what: &str| format!("{shown}: {what}: run `fioctl login`");
    let client_id = oauth
        .client_id
        .clone()
        .ok_or_else(|| login("the access token has expired and there is no clientcredentials.client_id to renew it with"))?;
    let client_secret = oauth.client_secret.clone().unwrap_or_default();
    let mut form: Vec<(&str, String)> = Vec::new();
    let grant = match (&oauth.access_token, &oauth.refresh_token) {
        (None, _) => {
            form.push(("grant_type", "client_credentials".into()));
            "client credentials"
        }
        (Some(_), Some(refresh)) => {
            form.push(("grant_type", "refresh_token".into()));
            form.push(("refresh_token", refresh.clone()));
            "refresh token"
        }
        (Some(_), None) => {
            return Err(login(
                "the OAuth2 access token has expired and there is no refresh token",
            ))
        }
    };
    form.push(("client_id", client_id));
    form.push(("client_secret", client_secret));
    let base = oauth
        .url
        .clone()
        .unwrap_or_else(|| DEFAULT_OAUTH_URL.into());
    let url = token_url(&base);
    if !(url.starts_with("https://")
        || (url.starts_with("http://") && crate::http::is_loopback(&url)))
    {
        // The client secret must not cross a network in the clear.
        return Err(format!(
            "{shown}: clientcredentials.url {} is not an https:// URL; the client secret is sent only over TLS",
            ceremony::untrusted::escape(&base)
        ));
    }
    eprintln!("the OAuth2 access token in {shown} has expired or is missing: renewing it with the {grant} at {url}");
    let answer = http
        .send_form(&url, &form)
        .map_err(|e| format!("cannot renew the OAuth2 access token: {e}"))?;
    if answer.status != 200 {
        return Err(format!(
            "cannot renew the OAuth2 access token: POST {url}: HTTP {}: {}; run `fioctl login` \
             (the client credentials in {shown} may have been revoked)",
            answer.status,
            crate::http::server_message(&answer.body)
        ));
    }
    let v: Value = serde_json::from_slice(&answer.body).map_err(|_| {
        format!("cannot renew the OAuth2 access token: POST {url}: the answer is not JSON")
    })?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let access = field("access_token")
        .filter(|t| token::check_header_value(t) && !t.contains(' '))
        .ok_or_else(|| {
            format!("cannot renew the OAuth2 access token: POST {url}: the answer holds no usable access_token")
        })?
        .to_string();
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    let mut updates: Vec<(&str, String)> = vec![("access_token", access.clone())];
    // fioctl stores whatever refresh token the answer holds, none included;
    // we keep the old one when the answer has none, so a later renewal can
    // still work.
    if let Some(r) = field("refresh_token").or(oauth.refresh_token.as_deref()) {
        updates.push(("refresh_token", r.to_string()));
    }
    if let Some(t) = field("token_type") {
        updates.push(("token_type", t.to_string()));
    }
    let expires_in = v.get("expires_in").and_then(Value::as_f64).unwrap_or(0.0);
    updates.push(("expires_in", format_seconds(expires_in)));
    updates.push(("created", now.format(&Rfc3339).unwrap_or_default()));
    updates.push(("url", base));
    write_back(&path, text, &updates);
    Ok(Auth {
        credential: Credential::Bearer(access),
        source: Source::ConfigOAuth {
            path,
            renewed: true,
        },
        extra_headers,
    })
}

fn format_seconds(s: f64) -> String {
    if s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s < 1e15 {
        format!("{}", s as u64)
    } else if s.is_finite() && s > 0.0 {
        format!("{s}")
    } else {
        "0".into()
    }
}

/// Writes the renewed values into fioctl's config where that cannot harm
/// it; else says why not. Either way this run goes on with the new token.
fn write_back(path: &Path, text: &str, updates: &[(&str, String)]) {
    let shown = path.display();
    let not = |why: &str| {
        eprintln!(
            "note: the renewed token is not written back to {shown} ({why}); this run uses it, \
             and the next one renews it again"
        )
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return not("it is a symbolic link, which replacing the file would break")
        }
        Ok(m) if !m.is_file() => return not("it is not a regular file"),
        Ok(_) => {}
        Err(e) => return not(&format!("cannot look at it: {e}")),
    }
    let Some(new) = fioctl_config::with_oauth_values(text, updates) else {
        return not("it holds YAML this tool does not edit: only plain `key: value` lines");
    };
    match ceremony::fsio::replace(
        path,
        new.as_bytes(),
        &ceremony::fsio::WriteOptions::secret(),
    ) {
        Ok(()) => eprintln!("the renewed OAuth2 access token is saved in {shown} (mode 0600)"),
        Err(e) => not(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_is_fioctls() {
        assert_eq!(
            token_url(DEFAULT_OAUTH_URL),
            "https://app.foundries.io/oauth/token/"
        );
        assert_eq!(
            token_url("http://127.0.0.1:9/o/"),
            "http://127.0.0.1:9/o/token/"
        );
    }

    #[test]
    fn expiry_as_fioctl_counts_it() {
        let mut o = OAuthConfig {
            access_token: Some("a".into()),
            ..OAuthConfig::default()
        };
        assert!(!expired(&o).unwrap(), "no expires_in: never expires");
        o.expires_in = Some(3600.0);
        o.created = Some("2020-01-01T00:00:00Z".into());
        assert!(expired(&o).unwrap());
        o.created = Some(OffsetDateTime::now_utc().format(&Rfc3339).unwrap());
        assert!(!expired(&o).unwrap());
        o.expires_in = Some(0.0);
        o.created = Some("2020-01-01T00:00:00Z".into());
        assert!(!expired(&o).unwrap(), "expires_in 0: never expires");
        o.expires_in = Some(1.0);
        o.created = Some("yesterday".into());
        assert!(expired(&o).is_err());
    }
}
