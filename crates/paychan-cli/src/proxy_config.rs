//! `paychan proxy --config FILE`: several paid services behind one proxy, as Aperture users
//! describe them. A TOML file:
//!
//! ```toml
//! listen = "127.0.0.1:8402"      # optional (else --listen)
//! unbound = false                # optional: accept packages that do not name their request
//!
//! [tls]                          # optional: serve HTTPS (paths relative to this file)
//! cert = "cert.pem"              # the certificate chain, PEM
//! key = "key.pem"                # its private key, PEM
//!
//! [[service]]
//! name = "quotes"
//! upstream = "http://127.0.0.1:18080"
//! host = "api.example"           # optional: only requests for this Host
//! path = "/quote/"               # a prefix when it ends with /, else an exact path; "/" by default
//! price = "10"                   # per call
//! price_per_kib = "2"            # optional: plus this per KiB of request body
//! free = ["/quote/health"]       # optional: paths served for free
//! rate_limit = "100/1m"          # optional: calls per period per payer (s, m, h, d)
//! ```
//!
//! Services are tried in the file's order; the first whose host and path match serves the
//! request. A body's size is its `Content-Length`; a body sent without one (chunked) is priced
//! as [`CHUNKED_BODY_KIB`] KiB, so clients that pay by size send the length.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use paychan_core::Amount;
use paychan_http::{Paywall, proxy::Service};
use serde::Deserialize;

use crate::channel::positive_amount;

/// What a body sent without `Content-Length` counts as, in KiB.
pub(crate) const CHUNKED_BODY_KIB: u128 = 10 * 1024;

/// The file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProxyFile {
    pub(crate) listen: Option<SocketAddr>,
    #[serde(default)]
    pub(crate) unbound: bool,
    pub(crate) tls: Option<TlsSection>,
    #[serde(rename = "service", default)]
    pub(crate) services: Vec<ServiceSection>,
}

/// `[tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSection {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// `[[service]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceSection {
    pub(crate) name: String,
    pub(crate) upstream: String,
    pub(crate) host: Option<String>,
    #[serde(default = "root")]
    pub(crate) path: String,
    pub(crate) price: String,
    pub(crate) price_per_kib: Option<String>,
    #[serde(default)]
    pub(crate) free: Vec<String>,
    pub(crate) rate_limit: Option<String>,
}

fn root() -> String {
    "/".to_owned()
}

/// A service as the proxy runs it.
pub(crate) struct Parsed {
    pub(crate) name: String,
    pub(crate) host: Option<String>,
    pub(crate) path: String,
    pub(crate) upstream: reqwest::Url,
    pub(crate) price: Amount,
    pub(crate) per_kib: Amount,
    pub(crate) free: Vec<String>,
    pub(crate) rate: Option<(u32, Duration)>,
}

impl Parsed {
    /// What the banner says of it.
    pub(crate) fn describe(&self) -> String {
        let mut text = format!(
            "{}: {}{} -> {}: {} per call",
            self.name,
            self.host.as_deref().unwrap_or("*"),
            self.path,
            self.upstream,
            self.price
        );
        if self.per_kib > 0 {
            text.push_str(&format!(" + {} per KiB", self.per_kib));
        }
        if let Some((calls, period)) = self.rate {
            text.push_str(&format!(
                ", {calls} calls per {} per payer",
                crate::when::span(period.as_secs())
            ));
        }
        text
    }

    /// The [`Service`] with `base`'s verifier and challenge.
    pub(crate) fn service(&self, base: &Paywall) -> Service {
        let (price, per_kib) = (self.price, self.per_kib);
        let mut paywall = base
            .price_fn(move |parts| Some(price_of(parts, price, per_kib)))
            .free_paths(self.free.clone());
        if let Some((calls, period)) = self.rate {
            paywall = paywall.rate_limit(calls, period);
        }
        Service {
            host: self.host.clone(),
            path: self.path.clone(),
            upstream: self.upstream.clone(),
            paywall,
        }
    }
}

/// `price`, plus `per_kib` for each KiB (rounded up) of the request's body.
fn price_of(parts: &axum::http::request::Parts, price: Amount, per_kib: Amount) -> Amount {
    if per_kib == 0 {
        return price;
    }
    let length = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u128>().ok());
    let kib = match length {
        Some(bytes) => bytes.div_ceil(1024),
        None if parts
            .headers
            .contains_key(axum::http::header::TRANSFER_ENCODING) =>
        {
            CHUNKED_BODY_KIB
        }
        None => 0,
    };
    price.saturating_add(per_kib.saturating_mul(kib))
}

/// `N/PERIOD`: at most N calls per period (`100/1m`).
fn rate(text: &str) -> Result<(u32, Duration)> {
    let (calls, period) = text
        .split_once('/')
        .with_context(|| format!("rate_limit {text:?}: expected CALLS/PERIOD, as 100/1m"))?;
    let calls: u32 = calls
        .trim()
        .parse()
        .with_context(|| format!("rate_limit {text:?}: {calls:?} is not a number of calls"))?;
    let period = paychan_rpc::tokens::parse_period(period)
        .map_err(|e| anyhow::anyhow!("rate_limit {text:?}: {e}"))?;
    if calls == 0 || period.is_zero() {
        bail!("rate_limit {text:?}: both the calls and the period must be positive");
    }
    Ok((calls, period))
}

/// Reads and checks the file at `path`.
pub(crate) fn load(path: &Path) -> Result<(ProxyFile, Vec<Parsed>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the proxy config {}", path.display()))?;
    let mut file: ProxyFile = toml::from_str(&text)
        .with_context(|| format!("{} is not a proxy config", path.display()))?;
    if let Some(tls) = &mut file.tls {
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        tls.cert = base.join(&tls.cert);
        tls.key = base.join(&tls.key);
    }
    if file.services.is_empty() {
        bail!("{}: no [[service]]: nothing to proxy", path.display());
    }
    let mut parsed = Vec::with_capacity(file.services.len());
    for s in &file.services {
        let at = |what: &str| format!("{}: service {:?}: {what}", path.display(), s.name);
        if parsed.iter().any(|p: &Parsed| p.name == s.name) {
            bail!("{}", at("the name is used twice"));
        }
        if !s.path.starts_with('/') {
            bail!("{}", at(&format!("path {:?} must start with /", s.path)));
        }
        let upstream =
            crate::proxy::upstream_url(&s.upstream).map_err(|e| anyhow::anyhow!("{}", at(&e)))?;
        let price = positive_amount(&s.price)
            .map_err(|e| anyhow::anyhow!("{}", at(&format!("price: {e}"))))?;
        let per_kib = match &s.price_per_kib {
            Some(p) => positive_amount(p)
                .map_err(|e| anyhow::anyhow!("{}", at(&format!("price_per_kib: {e}"))))?,
            None => 0,
        };
        let rate = s
            .rate_limit
            .as_deref()
            .map(rate)
            .transpose()
            .with_context(|| at("bad rate_limit"))?;
        parsed.push(Parsed {
            name: s.name.clone(),
            host: s.host.as_ref().map(|h| h.trim().to_ascii_lowercase()),
            path: s.path.clone(),
            upstream,
            price,
            per_kib,
            free: s.free.clone(),
            rate,
        });
    }
    Ok((file, parsed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> axum::http::request::Parts {
        let mut request = axum::http::Request::builder().uri("/x");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn prices_by_size_and_rates() {
        assert_eq!(price_of(&parts(&[]), 10, 2), 10);
        assert_eq!(price_of(&parts(&[("content-length", "1")]), 10, 2), 12);
        assert_eq!(price_of(&parts(&[("content-length", "2048")]), 10, 2), 14);
        assert_eq!(price_of(&parts(&[("content-length", "2049")]), 10, 2), 16);
        assert_eq!(
            price_of(&parts(&[("transfer-encoding", "chunked")]), 10, 2),
            10 + 2 * CHUNKED_BODY_KIB
        );
        assert_eq!(price_of(&parts(&[("content-length", "5000")]), 10, 0), 10);
        assert_eq!(rate("100/1m").unwrap(), (100, Duration::from_secs(60)));
        for bad in ["100", "0/1m", "x/1m", "5/0s", "5/1y"] {
            assert!(rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| {
            let path = dir.path().join("proxy.toml");
            std::fs::write(&path, text).unwrap();
            load(&path)
        };
        let (_, services) = write(
            "[[service]]\nname = \"a\"\nupstream = \"http://127.0.0.1:1\"\nprice = \"3\"\npath = \"/a/\"\nrate_limit = \"2/1s\"\n",
        )
        .unwrap();
        assert_eq!(services[0].rate, Some((2, Duration::from_secs(1))));
        for (bad, says) in [
            ("", "no [[service]]"),
            (
                "[[service]]\nname = \"a\"\nupstream = \"localhost:1\"\nprice = \"3\"\n",
                "scheme",
            ),
            (
                "[[service]]\nname = \"a\"\nupstream = \"http://h\"\nprice = \"0\"\n",
                "price",
            ),
            (
                "[[service]]\nname = \"a\"\nupstream = \"http://h\"\nprice = \"1\"\npath = \"a\"\n",
                "start with /",
            ),
            (
                "[[service]]\nname = \"a\"\nupstream = \"http://h\"\nprice = \"1\"\n[[service]]\nname = \"a\"\nupstream = \"http://h\"\nprice = \"1\"\n",
                "twice",
            ),
            (
                "[[service]]\nname = \"a\"\nupstream = \"http://h\"\nprice = \"1\"\nprise = \"1\"\n",
                "unknown field",
            ),
        ] {
            let e = format!("{:#}", write(bad).err().unwrap());
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
