//! The cross-site check of state-changing requests (`POST /swarm`, `/stop`, `/stats/reset`,
//! `/user`). Locust has none: any web page open in the same browser can post a form to
//! `http://localhost:8089/swarm` and start a load test against any host. Browsers name the page
//! that sent a request in its `Origin` header, so a request is refused when that header names
//! another site than the UI's own (the scheme, host and port the request was sent to, from its
//! `Host` header) and is not in the `--web-allowed-origin` list. A request without `Origin`
//! (curl, scripts, Locust's own clients) is not a cross-site browser request and is allowed.

use url::Url;

/// Why a request was refused, for the answer and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub origin: String,
}

impl Refused {
    pub fn message(&self) -> String {
        format!(
            "Cross-site request refused: Origin {:?} is not this web UI (allow it with --web-allowed-origin)",
            self.origin
        )
    }
}

/// `scheme://host[:port]` with the default port made explicit, lower-case, for comparison.
/// `None` for anything that is not an http(s) origin (including the opaque `null`).
fn normalize(origin: &str) -> Option<(String, String, u16)> {
    let u = Url::parse(origin.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    Some((u.scheme().to_string(), host, u.port_or_known_default()?))
}

/// Checks one request: `origin` is its `Origin` header (if any), `host` its `Host` header (the
/// site the browser believes it talks to), `allowed` the configured extra origins.
pub fn check(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> Result<(), Refused> {
    let Some(origin) = origin else {
        return Ok(());
    };
    let refused = || Refused {
        origin: origin.chars().take(200).collect(),
    };
    let Some(o) = normalize(origin) else {
        return Err(refused());
    };
    // Same site: the page was served by this UI, so its origin is the address it was sent to.
    let own = host.and_then(|h| normalize(&format!("{}://{}", o.0, h.trim())));
    if own.as_ref() == Some(&o) {
        return Ok(());
    }
    if allowed.iter().filter_map(|a| normalize(a)).any(|a| a == o) {
        return Ok(());
    }
    Err(refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_origin_is_allowed() {
        assert_eq!(check(None, Some("127.0.0.1:8089"), &[]), Ok(()));
        assert_eq!(check(None, None, &[]), Ok(()));
    }

    #[test]
    fn own_origin_is_allowed_with_default_ports_and_case() {
        assert!(check(Some("http://127.0.0.1:8089"), Some("127.0.0.1:8089"), &[]).is_ok());
        assert!(check(Some("http://LOCALHOST"), Some("localhost:80"), &[]).is_ok());
        assert!(check(Some("https://ui.example"), Some("ui.example"), &[]).is_ok());
        assert!(check(Some("http://[::1]:8089"), Some("[::1]:8089"), &[]).is_ok());
    }

    #[test]
    fn other_sites_are_refused() {
        for origin in [
            "http://evil.example",
            "http://127.0.0.1:8090",
            "null",
            "file://",
            "not a url",
        ] {
            let r = check(Some(origin), Some("127.0.0.1:8089"), &[]);
            assert!(r.is_err(), "{origin}");
        }
        // No Host header: nothing to be the same as.
        assert!(check(Some("http://127.0.0.1:8089"), None, &[]).is_err());
    }

    #[test]
    fn named_origins_are_allowed() {
        let allowed = vec!["https://dash.example/".to_string(), "bogus".to_string()];
        assert!(check(
            Some("https://dash.example"),
            Some("127.0.0.1:8089"),
            &allowed
        )
        .is_ok());
        assert!(check(Some("https://dash.example:443"), Some("h:1"), &allowed).is_ok());
        assert!(check(Some("http://dash.example"), Some("h:1"), &allowed).is_err());
    }

    #[test]
    fn the_message_is_short_for_a_long_origin() {
        let long = format!("http://{}.example", "a".repeat(5000));
        let e = check(Some(&long), Some("h:1"), &[]).unwrap_err();
        assert!(e.message().len() < 400);
    }
}
