//! The client's IP address: the socket peer, or, behind proxies the app trusts, the nearest hop
//! in `Forwarded` (RFC 7239) or `X-Forwarded-For` that is not one of them.
//!
//! Forwarding headers are believed only from a trusted peer: anyone else could write any
//! address into them. The chain is read from the right (the hop nearest this server) and the
//! first address that is not a trusted proxy is the client. A hop that gives no usable address
//! (`unknown`, an obfuscated `_name`, garbage) ends the walk: nothing to its left can be
//! vouched for, so the client is then the last trusted proxy's own address.

use std::net::IpAddr;
use std::str::FromStr;

use http::header::{HeaderMap, FORWARDED};
use http::HeaderValue;
use ipnet::IpNet;

/// Proxies whose `Forwarded` and `X-Forwarded-For` headers the layer believes: IP addresses
/// and CIDR networks. Set with
/// [`SessionLayer::trusted_proxies`](crate::SessionLayer::trusted_proxies); empty by default,
/// so the client IP is the socket peer's.
///
/// ```
/// use sessionward::TrustedProxies;
///
/// let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.7, ::1".parse().unwrap();
/// assert!(proxies.contains("10.1.2.3".parse().unwrap()));
/// assert!(!proxies.contains("192.0.2.8".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// A trusted-proxy list that did not parse: names the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidProxy(String);

impl std::fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is neither an IP address nor a CIDR network (as in 10.0.0.0/8 or 2001:db8::/32)",
            self.0
        )
    }
}

impl std::error::Error for InvalidProxy {}

impl TrustedProxies {
    /// No trusted proxy: the socket peer is the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds a network (`"10.0.0.0/8".parse::<IpNet>()`) or, through `IpNet::from`, one address.
    pub fn with(mut self, net: impl Into<IpNet>) -> Self {
        self.nets.push(net.into());
        self
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = InvalidProxy;

    /// Comma-separated IP addresses and CIDR networks; blanks around entries are ignored.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut proxies = Self::none();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => entry
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| InvalidProxy(entry.to_owned()))?,
            };
            proxies = proxies.with(net);
        }
        Ok(proxies)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack socket reports) compare
/// as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Where a request came from, kept until someone asks: most requests never do.
pub(crate) struct ClientAddr {
    peer: Option<IpAddr>,
    /// Forwarding headers, kept only when the peer is a trusted proxy.
    hops: Option<Box<Hops>>,
}

struct Hops {
    forwarded: Vec<HeaderValue>,
    x_forwarded_for: Vec<HeaderValue>,
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

impl ClientAddr {
    /// Records the peer and, when it is a trusted proxy, its forwarding headers (cheap clones
    /// of the received bytes; parsed only if the address is asked for).
    pub(crate) fn new(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> Self {
        let hops = match peer {
            Some(ip) if !trusted.is_empty() && trusted.contains(ip) => {
                let all = |name| headers.get_all(name).iter().cloned().collect::<Vec<_>>();
                let hops = Hops {
                    forwarded: all(FORWARDED.as_str()),
                    x_forwarded_for: all(X_FORWARDED_FOR),
                };
                (!hops.forwarded.is_empty() || !hops.x_forwarded_for.is_empty())
                    .then(|| Box::new(hops))
            }
            _ => None,
        };
        Self { peer, hops }
    }

    /// The client's address: see the module docs.
    pub(crate) fn ip(&self, trusted: &TrustedProxies) -> Option<IpAddr> {
        let peer = self.peer?;
        let Some(hops) = &self.hops else {
            return Some(peer);
        };
        // `Forwarded` is the standard; `X-Forwarded-For` only counts when it is absent, so a
        // client cannot add a second chain for the proxy to pass on.
        let chain: Vec<Option<IpAddr>> = if hops.forwarded.is_empty() {
            hops.x_forwarded_for
                .iter()
                .flat_map(|v| v.as_bytes().split(|&b| b == b','))
                .map(|hop| std::str::from_utf8(hop).ok().and_then(parse_node))
                .collect()
        } else {
            hops.forwarded.iter().flat_map(forwarded_for).collect()
        };
        let mut client = peer;
        for hop in chain.into_iter().rev() {
            match hop {
                Some(ip) if trusted.contains(ip) => client = ip,
                Some(ip) => return Some(canonical(ip)),
                None => break,
            }
        }
        Some(canonical(client))
    }
}

/// The `for=` node of each element of one `Forwarded` header line, in order; `None` for an
/// element without a usable address.
fn forwarded_for(line: &HeaderValue) -> Vec<Option<IpAddr>> {
    let Ok(line) = line.to_str() else {
        return vec![None];
    };
    split_outside_quotes(line, ',')
        .into_iter()
        .map(|element| {
            split_outside_quotes(element, ';')
                .into_iter()
                .find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| value.trim())
                })
                .and_then(|value| parse_node(unquote(value)))
        })
        .collect()
}

/// Splits on `sep` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`,
/// `[2001:db8::1]:8080` or a bare `2001:db8::1` (X-Forwarded-For); `None` for anything else.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Some(rest) = node.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return ip.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    // `a.b.c.d:port`: only IPv4 may carry a port without brackets.
    let (ip, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn client(peer: &str, trusted: &str, headers: &[(&str, &str)]) -> Option<IpAddr> {
        let trusted: TrustedProxies = trusted.parse().unwrap();
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        ClientAddr::new(Some(ip(peer)), &map, &trusted).ip(&trusted)
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let spoofed = [("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")];
        assert_eq!(client("203.0.113.9", "", &spoofed), Some(ip("203.0.113.9")));
        assert_eq!(
            client("203.0.113.9", "10.0.0.0/8", &spoofed),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        // The client forged the leftmost entry; the proxies appended the real ones.
        let headers = [("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2")];
        assert_eq!(
            client("10.0.0.1", "10.0.0.0/8", &headers),
            Some(ip("198.51.100.7"))
        );
        // Split over two header lines, the same chain.
        let headers = [
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "10.0.0.2"),
        ];
        assert_eq!(
            client("10.0.0.1", "10.0.0.0/8", &headers),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn forwarded_is_read_with_quotes_ports_and_ipv6() {
        let headers = [(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.3:80;by=x"#,
        )];
        assert_eq!(
            client("10.0.0.1", "10.0.0.0/8", &headers),
            Some(ip("2001:db8:cafe::17"))
        );
        // Forwarded wins over X-Forwarded-For.
        let headers = [
            ("forwarded", "for=198.51.100.1"),
            ("x-forwarded-for", "198.51.100.2"),
        ];
        assert_eq!(
            client("10.0.0.1", "10.0.0.1", &headers),
            Some(ip("198.51.100.1"))
        );
        // A quoted comma is not a new element.
        let headers = [("forwarded", r#"for=198.51.100.9;ext="a,b""#)];
        assert_eq!(
            client("10.0.0.1", "10.0.0.1", &headers),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn an_unusable_hop_stops_at_the_last_trusted_proxy() {
        for hidden in [
            "for=unknown",
            "for=_hidden",
            "for=\"not an ip\"",
            "proto=http",
        ] {
            let headers = [("forwarded", format!("for=6.6.6.6, {hidden}, for=10.0.0.2"))];
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(
                client("10.0.0.1", "10.0.0.0/8", &headers),
                Some(ip("10.0.0.2")),
                "{hidden}"
            );
        }
        let headers = [("x-forwarded-for", "6.6.6.6, garbage")];
        assert_eq!(
            client("10.0.0.1", "10.0.0.0/8", &headers),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn all_trusted_means_the_leftmost_and_mapped_addresses_match() {
        let headers = [("x-forwarded-for", "10.0.0.5, 10.0.0.4")];
        assert_eq!(
            client("10.0.0.1", "10.0.0.0/8", &headers),
            Some(ip("10.0.0.5"))
        );
        // A dual-stack socket reports ::ffff:10.0.0.1 for an IPv4 proxy.
        let headers = [("x-forwarded-for", "198.51.100.7")];
        assert_eq!(
            client("::ffff:10.0.0.1", "10.0.0.1", &headers),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn lists_parse_or_name_the_bad_entry() {
        let list: TrustedProxies = " 10.0.0.0/8 ,192.0.2.1,, 2001:db8::/32 ".parse().unwrap();
        assert!(list.contains(ip("10.255.0.1")));
        assert!(list.contains(ip("192.0.2.1")));
        assert!(list.contains(ip("2001:db8::5")));
        assert!(!list.contains(ip("192.0.2.2")));
        let err = "10.0.0.1, proxy.example"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert!(err.to_string().contains("\"proxy.example\""), "{err}");
    }
}
