//! Cookies, for browsers: the `Set-Cookie` that carries the auth token or clears it, the one that
//! carries a remembered device's secret, both read back from `Cookie`, and the same-origin check
//! that protects requests the token cookie authenticates from cross-site forgery (CSRF).

use std::time::Duration;

use cookie::{Cookie, CookieBuilder};
use http::header::{COOKIE, HOST, ORIGIN};
use http::{HeaderMap, HeaderValue, Method, Uri};

use crate::config::{OtpSettings, SameSite};

/// `Set-Cookie` carrying `token`, for as long as the token lives at most.
pub(crate) fn set_token(settings: &OtpSettings, token: &str, lifetime: Duration) -> HeaderValue {
    let token = base(settings, &settings.cookie_name, token.to_owned());
    header_value(token.max_age(max_age(lifetime)))
}

/// `Set-Cookie` that makes the browser forget the token (`Max-Age=0`).
pub(crate) fn clear_token(settings: &OtpSettings) -> HeaderValue {
    header_value(
        base(settings, &settings.cookie_name, String::new()).max_age(cookie::time::Duration::ZERO),
    )
}

/// `Set-Cookie` carrying a remembered-device secret, for as long as the device is remembered.
/// Only the login endpoint reads it, so only requests to it carry it (`Path` is the login path,
/// without its trailing slash, so that both spellings match).
pub(crate) fn set_device(settings: &OtpSettings, secret: &str, lifetime: Duration) -> HeaderValue {
    let login_path = settings.login_path.trim_end_matches('/').to_owned();
    let device = base(settings, &settings.device_cookie_name, secret.to_owned()).path(login_path);
    header_value(device.max_age(max_age(lifetime)))
}

fn max_age(lifetime: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX))
}

fn base(settings: &OtpSettings, name: &str, value: String) -> CookieBuilder<'static> {
    let same_site = match settings.cookie_same_site {
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::None => cookie::SameSite::None,
    };
    let mut builder = Cookie::build((name.to_owned(), value))
        .http_only(true)
        .secure(!settings.dev_insecure_cookies)
        .same_site(same_site)
        .path(settings.cookie_path.clone());
    if let Some(domain) = &settings.cookie_domain {
        builder = builder.domain(domain.clone());
    }
    builder
}

fn header_value(builder: CookieBuilder<'static>) -> HeaderValue {
    // Names are validated at build time, tokens are base64url: always a valid header value.
    HeaderValue::try_from(builder.build().to_string())
        .expect("a cookie of a valid name and a base64url value")
}

/// The token of the request's `Cookie` headers, if the layer's cookie is there.
pub(crate) fn token(headers: &HeaderMap, settings: &OtpSettings) -> Option<String> {
    value(headers, &settings.cookie_name)
}

/// The remembered-device secret of the request's `Cookie` headers, if there is one.
pub(crate) fn device(headers: &HeaderMap, settings: &OtpSettings) -> Option<String> {
    value(headers, &settings.device_cookie_name)
}

fn value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// Whether a request authenticated by the cookie may go on (OWASP's CSRF cheat sheet, "verifying
/// origin with standard headers"): a safe method, or a request that says it comes from the same
/// origin (or a trusted one). Without `Origin` or `Sec-Fetch-Site` the request is refused, as the
/// cheat sheet recommends.
pub(crate) fn passes_csrf_check(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    settings: &OtpSettings,
) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || origin_of(uri, headers, settings) == Origin::Same
}

/// Whether a browser says the request comes from another site: a login or verify that would set
/// the session cookie is then refused, so that no page can sign a victim's browser in to the
/// attacker's account (login CSRF). A request that says nothing (an API client) is not a browser's.
pub(crate) fn is_cross_origin(uri: &Uri, headers: &HeaderMap, settings: &OtpSettings) -> bool {
    origin_of(uri, headers, settings) == Origin::Other
}

/// Where a request says it comes from.
#[derive(Debug, PartialEq, Eq)]
enum Origin {
    /// This origin, or a trusted one.
    Same,
    /// Anywhere else (`Origin: null` included).
    Other,
    /// Neither `Origin` nor `Sec-Fetch-Site`: not a browser's request, or a very old browser.
    Unknown,
}

/// `Origin` decides when present; without it, `Sec-Fetch-Site` (`same-origin`, or `none` for
/// what the user typed, is the same origin).
fn origin_of(uri: &Uri, headers: &HeaderMap, settings: &OtpSettings) -> Origin {
    // `null` (a privacy-sensitive context, e.g. `Referrer-Policy: no-referrer`) names no origin:
    // then `Sec-Fetch-Site` decides, and without it the request is another site's.
    let origin = headers.get(ORIGIN).filter(|origin| *origin != "null");
    let null_origin = origin.is_none() && headers.contains_key(ORIGIN);
    if let Some(origin) = origin {
        let Ok(origin) = origin.to_str() else {
            return Origin::Other;
        };
        let trusted = settings
            .trusted_origins
            .iter()
            .any(|trusted| trusted.trim_end_matches('/').eq_ignore_ascii_case(origin));
        return if trusted || is_own_origin(uri, headers, origin) {
            Origin::Same
        } else {
            Origin::Other
        };
    }
    match headers.get("sec-fetch-site").map(|v| v.to_str()) {
        None if null_origin => Origin::Other,
        None => Origin::Unknown,
        Some(Ok("same-origin" | "none")) => Origin::Same,
        Some(_) => Origin::Other,
    }
}

/// Whether `origin` names the host the request was sent to (its `Host` header, or the URI's
/// authority in HTTP/2).
fn is_own_origin(uri: &Uri, headers: &HeaderMap, origin: &str) -> bool {
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    host.is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut request = http::Request::builder().method(method).uri("/api/x");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cookies_are_built_by_the_cookie_crate_with_every_attribute() {
        let mut settings = OtpSettings::default();
        let set = set_token(&settings, "acc.secret", Duration::from_secs(43200));
        let set = set.to_str().unwrap();
        for part in [
            "otp_token=acc.secret",
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=43200",
        ] {
            assert!(set.contains(part), "{part} in {set}");
        }
        settings.dev_insecure_cookies = true;
        settings.cookie_domain = Some("example.com".into());
        let cleared = clear_token(&settings);
        let cleared = cleared.to_str().unwrap();
        assert!(cleared.contains("Max-Age=0") && cleared.contains("Domain=example.com"));
        assert!(!cleared.contains("Secure"), "{cleared}");
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let settings = OtpSettings::default();
        let request = parts(
            Method::GET,
            &[
                ("cookie", "theme=dark; otp_token=acc.secret"),
                ("cookie", "x=1"),
            ],
        );
        assert_eq!(
            token(&request.headers, &settings).as_deref(),
            Some("acc.secret")
        );
        assert_eq!(token(&parts(Method::GET, &[]).headers, &settings), None);
    }

    #[test]
    fn csrf_follows_the_owasp_cheat_sheet() {
        let settings = OtpSettings {
            trusted_origins: vec!["https://app.example.com".into()],
            ..OtpSettings::default()
        };
        let host = ("host", "api.example.com");
        let check = |method, headers: &[(&str, &str)]| {
            let parts = parts(method, headers);
            passes_csrf_check(&parts.method, &parts.uri, &parts.headers, &settings)
        };
        assert!(check(Method::GET, &[("origin", "https://evil.example")]));
        assert!(check(
            Method::POST,
            &[host, ("origin", "https://api.example.com")]
        ));
        assert!(check(
            Method::POST,
            &[host, ("origin", "https://app.example.com")]
        ));
        assert!(!check(
            Method::POST,
            &[host, ("origin", "https://evil.example")]
        ));
        assert!(!check(Method::POST, &[host, ("origin", "null")]));
        // `null` names no origin: Sec-Fetch-Site decides.
        assert!(check(
            Method::POST,
            &[host, ("origin", "null"), ("sec-fetch-site", "same-origin")]
        ));
        assert!(!check(
            Method::POST,
            &[host, ("origin", "null"), ("sec-fetch-site", "cross-site")]
        ));
        // Origin decides over Sec-Fetch-Site.
        assert!(!check(
            Method::POST,
            &[
                host,
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "same-origin")
            ]
        ));
        assert!(check(
            Method::POST,
            &[host, ("sec-fetch-site", "same-origin")]
        ));
        assert!(check(Method::DELETE, &[host, ("sec-fetch-site", "none")]));
        assert!(!check(
            Method::POST,
            &[host, ("sec-fetch-site", "cross-site")]
        ));
        assert!(!check(
            Method::POST,
            &[host, ("sec-fetch-site", "same-site")]
        ));
        // Neither header: refused.
        assert!(!check(Method::POST, &[host]));
    }
}
