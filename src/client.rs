//! Who is calling: the client IP behind the per-client login limit.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::request::Parts;

/// The client's IP address.
///
/// The peer address comes from the request extensions: a `SocketAddr` (insert it yourself
/// under hyper) or, with the `axum` feature, axum's `ConnectInfo<SocketAddr>`. When the peer is
/// one of `trusted_proxies`, `X-Forwarded-For` is read from the right: each trusted proxy names
/// the hop before it, and the first hop that is not a trusted proxy is the client. An entry that
/// cannot be read ends the walk at the proxy that wrote it, so junk sent by a client is charged
/// to that client's proxy instead of switching the limit off.
pub(crate) fn client_ip(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let mut hop = peer_ip(parts)?;
    if !trusted_proxies.contains(&hop) {
        return Some(hop);
    }
    let values: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    for entry in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        match parse_forwarded(entry) {
            Some(ip) if trusted_proxies.contains(&ip) => hop = ip,
            Some(ip) => return Some(ip),
            None => return Some(hop),
        }
    }
    Some(hop)
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    entry.parse::<SocketAddr>().ok().map(|addr| addr.ip())
}

fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    if let Some(addr) = parts.extensions.get::<SocketAddr>() {
        return Some(addr.ip());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(info.0.ip());
    }
    None
}

/// The throttle key of a client: its IPv4 address, or its IPv6 /64 (one subscriber's usual
/// allocation, so that rotating addresses inside it does not multiply the budget).
pub(crate) fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(peer: &str, forwarded: Option<&str>) -> Parts {
        let mut request = Request::new(());
        request
            .extensions_mut()
            .insert(peer.parse::<SocketAddr>().unwrap());
        if let Some(f) = forwarded {
            request
                .headers_mut()
                .insert("x-forwarded-for", f.parse().unwrap());
        }
        request.into_parts().0
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_header_counts_only_from_trusted_proxies() {
        let proxy = [ip("10.0.0.1")];
        // Untrusted peer: the header is a lie until proven otherwise.
        let p = parts("203.0.113.9:5000", Some("198.51.100.1"));
        assert_eq!(client_ip(&p, &proxy), Some(ip("203.0.113.9")));
        // Trusted peer: the rightmost untrusted entry is the client.
        let p = parts("10.0.0.1:5000", Some("6.6.6.6, 198.51.100.1, 10.0.0.1"));
        assert_eq!(client_ip(&p, &proxy), Some(ip("198.51.100.1")));
        // Junk in the header is charged to the proxy that passed it on, never ignored.
        let p = parts("10.0.0.1:5000", Some("not-an-ip"));
        assert_eq!(client_ip(&p, &proxy), Some(ip("10.0.0.1")));
        let p = parts("10.0.0.1:5000", Some("junk, 198.51.100.1"));
        assert_eq!(client_ip(&p, &proxy), Some(ip("198.51.100.1")));
        let p = parts("10.0.0.1:5000", Some("198.51.100.1, junk"));
        assert_eq!(client_ip(&p, &proxy), Some(ip("10.0.0.1")));
        // Ports and brackets, as some proxies write them.
        let p = parts("10.0.0.1:5000", Some("198.51.100.1:4711"));
        assert_eq!(client_ip(&p, &proxy), Some(ip("198.51.100.1")));
        let p = parts("10.0.0.1:5000", Some("[2001:db8::7]:443"));
        assert_eq!(client_ip(&p, &proxy), Some(ip("2001:db8::7")));
        // A chain of trusted proxies is walked through.
        let two = [ip("10.0.0.1"), ip("10.0.0.2")];
        let p = parts("10.0.0.1:5000", Some("198.51.100.1, 10.0.0.2"));
        assert_eq!(client_ip(&p, &two), Some(ip("198.51.100.1")));
        let p = parts("10.0.0.1:5000", None);
        assert_eq!(client_ip(&p, &proxy), Some(ip("10.0.0.1")));
        assert_eq!(client_ip(&Request::new(()).into_parts().0, &proxy), None);
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:aaaa::1")),
            throttle_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            throttle_key(ip("2001:db8:1:2::1")),
            throttle_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(throttle_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
