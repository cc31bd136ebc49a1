//! The layer's own JSON responses, in Django REST framework's shapes.

use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use crate::error::OtpError;

pub(crate) type JsonResponse = Response<Full<Bytes>>;

pub(crate) const INVALID_CREDENTIALS: &str = "Unable to log in with provided credentials.";
pub(crate) const INVALID_TOKEN: &str = "Invalid token.";
pub(crate) const EXPIRED_TOKEN: &str = "Token has expired.";
pub(crate) const OTP_DISABLED: &str = "Otp authentication is disabled.";
pub(crate) const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
pub(crate) const CSRF_FAILED: &str = "CSRF check failed.";

pub(crate) fn json(status: StatusCode, body: &Value) -> JsonResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) fn detail(status: StatusCode, message: &str) -> JsonResponse {
    json(status, &json!({ "detail": message }))
}

pub(crate) fn non_field_error(message: &str) -> JsonResponse {
    json(
        StatusCode::BAD_REQUEST,
        &json!({ "non_field_errors": [message] }),
    )
}

pub(crate) fn no_content() -> JsonResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// 429 with DRF's throttle message and `Retry-After` (whole seconds, rounded up, at least 1).
pub(crate) fn throttled(retry_after: Duration) -> JsonResponse {
    let retry_after_secs =
        (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
    let mut response = detail(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Request was throttled. Expected available in {retry_after_secs} seconds."),
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// 503 for a backend failure; the error rides along in the extensions (the flow has reported
/// it as an event).
pub(crate) fn unavailable(error: impl Into<OtpError>) -> JsonResponse {
    let error = error.into();
    let message = match error {
        OtpError::Notify(_) => "The verification code could not be delivered. Try again later.",
        _ => "Authentication is temporarily unavailable. Try again later.",
    };
    let mut response = detail(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(5u32));
    response.extensions_mut().insert(error);
    response
}

pub(crate) fn unauthorized(message: &str) -> JsonResponse {
    let mut response = detail(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
    response
}

pub(crate) fn method_not_allowed(method: &http::Method) -> JsonResponse {
    let mut response = detail(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Method \"{method}\" not allowed."),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST"));
    response
}

/// Marks a response as not to be stored by any cache (`Cache-Control: no-store`, and `Pragma:
/// no-cache` for HTTP/1.0 caches).
pub(crate) fn forbid_caching(response: &mut JsonResponse) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}
