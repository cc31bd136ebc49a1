use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};
use http_body::Body;
use tower_service::Service;

use crate::authenticated::{AuthenticatedUser, Carrier, Credentials, PassedTheLayer};
use crate::body::ResponseBody;
use crate::boxed::BoxError;
use crate::cookies::{is_cross_origin, passes_csrf_check};
use crate::flow::{self, FlowError};
use crate::future::ResponseFuture;
use crate::grpc::{is_grpc, trailers_only};
use crate::metrics::{token_check, TokenCheck};
use crate::response::{
    detail, unauthorized, unavailable, CSRF_FAILED, INVALID_TOKEN, NOT_PROVIDED,
};
use crate::routing::{route, Endpoint, Route};
use crate::state::State;
use crate::wire;

/// The service [`OtpAuthLayer`](crate::OtpAuthLayer) wraps around yours.
#[derive(Clone)]
pub struct OtpAuth<S> {
    inner: S,
    state: Arc<State>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for OtpAuth<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpAuth")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> OtpAuth<S> {
    pub(crate) fn new(inner: S, state: Arc<State>) -> Self {
        Self { inner, state }
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
        // The layer's own refusals, in the caller's protocol.
        let grpc = is_grpc(request.headers());
        let refuse = move |response| {
            if grpc {
                trailers_only(response)
            } else {
                response
            }
        };
        // Whoever reads another copy (a proxy, the inner service) could act as someone else.
        if request
            .headers()
            .get_all(AUTHORIZATION)
            .iter()
            .nth(1)
            .is_some()
        {
            return ResponseFuture::ready(refuse(detail(
                StatusCode::BAD_REQUEST,
                "Only one Authorization header is allowed.",
            )));
        }
        let settings = &self.state.settings;
        let route = route(settings, &request);
        if let Route::Endpoint(endpoint) = route {
            let signs_in = matches!(endpoint, Endpoint::Login | Endpoint::Verify);
            if signs_in
                && settings.token_transport.uses_cookie()
                && is_cross_origin(request.uri(), request.headers(), settings)
            {
                return ResponseFuture::ready(detail(StatusCode::FORBIDDEN, CSRF_FAILED));
            }
            let state = self.state.clone();
            return ResponseFuture::flow(Box::pin(async move {
                let response = wire::handle(&state, endpoint, request).await;
                Ok(response.map(ResponseBody::own))
            }));
        }
        match Credentials::of_request(request.headers(), settings) {
            Credentials::None if route == Route::Protected => {
                token_check(TokenCheck::Missing);
                ResponseFuture::ready(refuse(unauthorized(NOT_PROVIDED)))
            }
            Credentials::None => ResponseFuture::inner(self.take_ready().call(anonymous(request))),
            Credentials::Malformed(message) => {
                token_check(TokenCheck::Invalid);
                ResponseFuture::ready(refuse(unauthorized(message)))
            }
            Credentials::Token(_, Carrier::Cookie)
                if !passes_csrf_check(
                    request.method(),
                    request.uri(),
                    request.headers(),
                    settings,
                ) =>
            {
                token_check(TokenCheck::Forbidden);
                ResponseFuture::ready(refuse(detail(StatusCode::FORBIDDEN, CSRF_FAILED)))
            }
            Credentials::Token(presented, carrier) => {
                let state = self.state.clone();
                let mut inner = self.take_ready();
                ResponseFuture::flow(Box::pin(async move {
                    let checked = flow::authenticate(&state, &presented).await;
                    token_check(match &checked {
                        Ok(_) => TokenCheck::Valid,
                        Err(FlowError::Unavailable(_)) => TokenCheck::Unavailable,
                        Err(_) => TokenCheck::Invalid,
                    });
                    let refused = match checked {
                        Ok(user) => {
                            request.extensions_mut().insert(user);
                            request.extensions_mut().insert(PassedTheLayer);
                            let response = inner.call(request).await?;
                            return Ok(response.map(ResponseBody::inner));
                        }
                        Err(FlowError::Unavailable(error)) => unavailable(error),
                        // A browser may keep a cookie its token outlived: off the protected
                        // paths that is no reason to refuse the request.
                        Err(_) if carrier == Carrier::Cookie && route != Route::Protected => {
                            let response = inner.call(anonymous(request)).await?;
                            return Ok(response.map(ResponseBody::inner));
                        }
                        Err(_) => unauthorized(INVALID_TOKEN),
                    };
                    Ok(refuse(refused).map(ResponseBody::own))
                }))
            }
        }
    }
}

/// A request without a user the layer vouches for: whatever put one in the extensions before
/// this layer, it was not a token this layer checked.
fn anonymous<B>(mut request: Request<B>) -> Request<B> {
    request.extensions_mut().remove::<AuthenticatedUser>();
    request.extensions_mut().insert(PassedTheLayer);
    request
}

impl<S: Clone> OtpAuth<S> {
    /// The instance `poll_ready` prepared, leaving a fresh clone in its place.
    fn take_ready(&mut self) -> S {
        let clone = self.inner.clone();
        std::mem::replace(&mut self.inner, clone)
    }
}
