//! [`AuthenticatedUser`]: what a protected handler learns about its caller.

use std::time::SystemTime;

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::response::INVALID_TOKEN;
use crate::token::{parse_auth_token, Presented};

/// Put in the request extensions by [`OtpAuth`](crate::OtpAuth) when the request carries a
/// valid token.
///
/// With the `axum` feature it is also an extractor: a handler taking it answers 401
/// `Authentication credentials were not provided.` when the request has no valid token, and
/// one taking `Option<AuthenticatedUser>` serves both cases.
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

/// What the `Authorization` header offers.
pub(crate) enum Credentials {
    /// No header, or a scheme other than `Token`/`Bearer` (left to the inner service).
    None,
    /// A `Token`/`Bearer` header that cannot hold one of our tokens.
    Malformed(&'static str),
    /// A well-formed token (not yet checked against the store).
    Token(Presented),
}

impl Credentials {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
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
            Some(presented) => Self::Token(presented),
            None => Self::Malformed(INVALID_TOKEN),
        }
    }
}

#[cfg(feature = "axum")]
mod axum_impl {
    use axum::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum::response::{IntoResponse, Response};
    use http::request::Parts;

    use super::AuthenticatedUser;
    use crate::response::{unauthorized, NOT_PROVIDED};

    /// The rejection of the [`AuthenticatedUser`] extractor: 401 with DRF's body.
    #[derive(Debug, Clone, Copy, Default)]
    #[non_exhaustive]
    pub struct NotAuthenticated;

    impl IntoResponse for NotAuthenticated {
        fn into_response(self) -> Response {
            unauthorized(NOT_PROVIDED).map(axum::body::Body::new)
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedUser {
        type Rejection = NotAuthenticated;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<AuthenticatedUser>()
                .cloned()
                .ok_or(NotAuthenticated)
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthenticatedUser {
        type Rejection = std::convert::Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(parts.extensions.get::<AuthenticatedUser>().cloned())
        }
    }
}

#[cfg(feature = "axum")]
pub use axum_impl::NotAuthenticated;
