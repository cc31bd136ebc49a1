use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::Body;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::endpoint;
use crate::extract::AuthenticatedUser;
use crate::future::ResponseFuture;
use crate::layer::Shared;
use crate::response::{detail, unauthorized, unavailable, INVALID_TOKEN, NOT_PROVIDED};
use crate::token::{parse_auth_token, Presented};

use crate::error::BoxError;

/// The service [`OtpAuthLayer`](crate::OtpAuthLayer) wraps around yours.
#[derive(Clone)]
pub struct OtpAuth<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for OtpAuth<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpAuth")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> OtpAuth<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for OtpAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // Whoever reads another copy (a proxy, the inner service) could act as someone else.
        if request
            .headers()
            .get_all(AUTHORIZATION)
            .iter()
            .nth(1)
            .is_some()
        {
            return ResponseFuture::ready(detail(
                StatusCode::BAD_REQUEST,
                "Only one Authorization header is allowed.",
            ));
        }
        let path = request.uri().path();
        if let Some(endpoint) = self.shared.endpoint(path) {
            let shared = self.shared.clone();
            return ResponseFuture::flow(Box::pin(async move {
                let response = endpoint::handle(&shared, endpoint, request).await;
                shared.report_failure(&response);
                Ok(response.map(ResponseBody::own))
            }));
        }
        match Credentials::from_headers(request.headers()) {
            // A CORS preflight never carries credentials: it passes, for a CORS layer inside.
            Credentials::None if self.shared.is_protected(path) && !is_preflight(&request) => {
                ResponseFuture::ready(unauthorized(NOT_PROVIDED))
            }
            Credentials::None => ResponseFuture::inner(self.take_ready().call(request)),
            Credentials::Malformed(message) => ResponseFuture::ready(unauthorized(message)),
            Credentials::Token(presented) => {
                let shared = self.shared.clone();
                let mut inner = self.take_ready();
                ResponseFuture::flow(Box::pin(async move {
                    match AuthenticatedUser::from_token(&shared, &presented).await {
                        Ok(Some(user)) => {
                            request.extensions_mut().insert(user);
                            let response = inner.call(request).await?;
                            Ok(response.map(ResponseBody::inner))
                        }
                        Ok(None) => Ok(unauthorized(INVALID_TOKEN).map(ResponseBody::own)),
                        Err(error) => {
                            let response = unavailable(error);
                            shared.report_failure(&response);
                            Ok(response.map(ResponseBody::own))
                        }
                    }
                }))
            }
        }
    }
}

/// A CORS preflight: `OPTIONS` with `Access-Control-Request-Method`.
fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

impl<S: Clone> OtpAuth<S> {
    /// The instance `poll_ready` prepared, leaving a fresh clone in its place.
    fn take_ready(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}
