//! [`AuthenticatedUser`]: what a protected handler learns about its caller.

use std::time::SystemTime;

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::config::OtpSettings;
use crate::cookies;
use crate::response::INVALID_TOKEN;
use crate::token::{parse_auth_token, Presented};

/// Put in the request extensions by [`OtpAuth`](crate::OtpAuth) when the request carries a
/// valid token.
///
/// With the `axum` feature it is also an extractor: a handler taking it answers 401
/// `Authentication credentials were not provided.` when the request has no valid token, and
/// one taking `Option<AuthenticatedUser>` serves both cases. Either answers 500 when the request
/// did not go through [`OtpAuthLayer`](crate::OtpAuthLayer) at all: a route outside the layer is
/// a wiring mistake, which "not logged in" would hide.
///
/// ```
/// use tower_otp::AuthenticatedUser;
///
/// async fn me(user: axum::Extension<AuthenticatedUser>) -> String {
///     format!("hello {}", user.username)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthenticatedUser {
    /// The user's id, as the [`UserStore`](crate::UserStore) knows it.
    pub id: String,
    /// The user's username at login.
    pub username: String,
    /// When the token was issued (the login).
    pub issued_at: SystemTime,
    /// When the token dies at the latest.
    pub expires_at: SystemTime,
}

/// What a request offers to authenticate itself.
pub(crate) enum Credentials {
    /// No `Authorization` header (or a scheme other than `Token`/`Bearer`, left to the inner
    /// service), and no token cookie with a well-formed token.
    None,
    /// A `Token`/`Bearer` header that cannot hold one of our tokens.
    Malformed(&'static str),
    /// A well-formed token (not yet checked against the store), and what carried it.
    Token(Presented, Carrier),
}

/// What carried a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carrier {
    /// The `Authorization` header.
    Header,
    /// The layer's cookie: requests it authenticates must pass the CSRF check.
    Cookie,
}

impl Credentials {
    /// The `Authorization` header's token, else (in cookie mode) the cookie's. A cookie that
    /// holds no well-formed token is no credential at all: a browser may keep a stale one.
    pub(crate) fn of_request(headers: &HeaderMap, settings: &OtpSettings) -> Self {
        match Self::from_headers(headers) {
            Self::None if settings.token_transport.uses_cookie() => {
                cookies::token(headers, settings)
                    .and_then(|token| parse_auth_token(&token))
                    .map_or(Self::None, |presented| {
                        Self::Token(presented, Carrier::Cookie)
                    })
            }
            other => other,
        }
    }

    fn from_headers(headers: &HeaderMap) -> Self {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Self::None;
        };
        let mut words = value
            .as_bytes()
            .split(|b| *b == b' ')
            .filter(|w| !w.is_empty());
        let scheme = words.next().unwrap_or_default();
        if !scheme.eq_ignore_ascii_case(b"token") && !scheme.eq_ignore_ascii_case(b"bearer") {
            return Self::None;
        }
        let (Some(key), None) = (words.next(), words.next()) else {
            return Self::Malformed(
                "Invalid token header. Token string should be one word without spaces.",
            );
        };
        let Ok(key) = std::str::from_utf8(key) else {
            return Self::Malformed(
                "Invalid token header. Token string should not contain invalid characters.",
            );
        };
        match parse_auth_token(key) {
            Some(presented) => Self::Token(presented, Carrier::Header),
            None => Self::Malformed(INVALID_TOKEN),
        }
    }
}

/// Put in the extensions of every request the layer passes to the inner service, so that the
/// extractor can tell "not logged in" (401) from "the layer is not installed" (a wiring
/// mistake, 500).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassedTheLayer;

#[cfg(feature = "axum")]
mod axum_impl {
    use axum::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum::response::{IntoResponse, Response};
    use http::request::Parts;
    use http::StatusCode;

    use super::{AuthenticatedUser, PassedTheLayer};
    use crate::response::{detail, unauthorized, NOT_PROVIDED};

    /// The rejection of the [`AuthenticatedUser`] extractor: 401 with DRF's body when the request
    /// has no valid token, and 500 when the request did not go through
    /// [`OtpAuthLayer`](crate::OtpAuthLayer) at all (the layer is missing around this route).
    #[derive(Debug, Clone, Copy, Default)]
    #[non_exhaustive]
    pub struct NotAuthenticated {
        layer_missing: bool,
    }

    impl NotAuthenticated {
        /// Whether the request never went through the layer: a wiring mistake, not a client's.
        pub fn is_layer_missing(&self) -> bool {
            self.layer_missing
        }
    }

    impl IntoResponse for NotAuthenticated {
        fn into_response(self) -> Response {
            let response = if self.layer_missing {
                // Once: a wiring mistake, not news on every request.
                #[cfg(feature = "tracing")]
                {
                    static LOGGED: std::sync::atomic::AtomicBool =
                        std::sync::atomic::AtomicBool::new(false);
                    if !LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        tracing::error!(
                            "tower-otp: AuthenticatedUser extracted from a request that did not \
                             go through OtpAuthLayer; add the layer around this route"
                        );
                    }
                }
                detail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "AuthenticatedUser needs OtpAuthLayer around this route.",
                )
            } else {
                unauthorized(NOT_PROVIDED)
            };
            response.map(axum::body::Body::new)
        }
    }

    /// The user, `None` without a valid token, or the 500 rejection without the layer.
    fn extract(parts: &Parts) -> Result<Option<AuthenticatedUser>, NotAuthenticated> {
        if parts.extensions.get::<PassedTheLayer>().is_none() {
            return Err(NotAuthenticated {
                layer_missing: true,
            });
        }
        Ok(parts.extensions.get::<AuthenticatedUser>().cloned())
    }

    impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedUser {
        type Rejection = NotAuthenticated;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            extract(parts)?.ok_or(NotAuthenticated::default())
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthenticatedUser {
        type Rejection = NotAuthenticated;

        async fn from_request_parts(
            parts: &mut Parts,
            _: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            extract(parts)
        }
    }
}

#[cfg(feature = "axum")]
pub use axum_impl::NotAuthenticated;
