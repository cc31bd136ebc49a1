//! Who is calling: the client IP behind the per-client login limit.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::request::Parts;

/// The client's IP address.
///
/// The peer address comes from the request extensions: a `SocketAddr` (insert it yourself
/// under hyper) or, with the `axum` feature, axum's `ConnectInfo<SocketAddr>`. When the peer is
/// one of `trusted_proxies`, the rightmost `X-Forwarded-For` entry that is not a trusted proxy
/// is the client; the header is ignored otherwise, since anyone can send it.
pub(crate) fn client_ip(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer_ip(parts)?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let mut forwarded = Vec::new();
    for value in parts.headers.get_all("x-forwarded-for") {
        for entry in value.to_str().ok()?.split(',') {
            forwarded.push(entry.trim().parse::<IpAddr>().ok()?);
        }
    }
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted_proxies.contains(ip))
            .unwrap_or(peer),
    )
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
        // Garbage from a trusted proxy: no client IP rather than a spoofable one.
        let p = parts("10.0.0.1:5000", Some("not-an-ip"));
        assert_eq!(client_ip(&p, &proxy), None);
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
