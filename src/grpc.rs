//! gRPC clients get gRPC answers: a refusal of the layer's own (no or a bad token, a failing
//! backend, …) becomes a trailers-only response, HTTP 200 with `grpc-status` and `grpc-message`,
//! as the gRPC over HTTP/2 protocol requires, instead of a JSON body a gRPC client cannot read.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body::Body;
use serde_json::Value;

use crate::response::JsonResponse;

/// Whether the request is a gRPC call: `content-type` `application/grpc`, alone or with a
/// `+codec` or parameters (not gRPC-web, `application/grpc-web…`, a protocol of its own).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (start, rest) = value.split_at(value.len().min(16));
    start.eq_ignore_ascii_case("application/grpc")
        && (rest.is_empty() || rest.starts_with('+') || rest.starts_with(';'))
}

/// The gRPC status code for one of the layer's HTTP refusals.
fn grpc_status(status: StatusCode) -> u16 {
    match status {
        StatusCode::BAD_REQUEST => 3,          // INVALID_ARGUMENT
        StatusCode::REQUEST_TIMEOUT => 4,      // DEADLINE_EXCEEDED
        StatusCode::FORBIDDEN => 7,            // PERMISSION_DENIED
        StatusCode::TOO_MANY_REQUESTS => 8,    // RESOURCE_EXHAUSTED
        StatusCode::UNAUTHORIZED => 16,        // UNAUTHENTICATED
        StatusCode::SERVICE_UNAVAILABLE => 14, // UNAVAILABLE
        _ => 13,                               // INTERNAL
    }
}

/// `refusal` as a trailers-only gRPC response: HTTP 200, no body, `grpc-status`, and the
/// refusal's DRF message as `grpc-message`. Its extensions (the backend error of a 503) stay.
pub(crate) fn trailers_only(refusal: JsonResponse) -> JsonResponse {
    let (mut parts, body) = refusal.into_parts();
    let message = drf_message(body);
    let status = grpc_status(parts.status);
    parts.status = StatusCode::OK;
    // Only the gRPC headers, and when to try again (a 503's `Retry-After`) as metadata.
    let retry_after = parts.headers.remove(RETRY_AFTER);
    parts.headers.clear();
    if let Some(retry_after) = retry_after {
        parts.headers.insert(RETRY_AFTER, retry_after);
    }
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    parts
        .headers
        .insert("grpc-status", HeaderValue::from(status));
    let encoded = percent_encode(&message);
    parts.headers.insert(
        "grpc-message",
        HeaderValue::try_from(encoded).expect("percent-encoded ASCII"),
    );
    JsonResponse::from_parts(parts, Default::default())
}

/// `detail`, or the first of `non_field_errors`, of a DRF-shaped body the layer built (in
/// memory: its one frame is ready at once).
fn drf_message(body: http_body_util::Full<Bytes>) -> String {
    let mut body = pin!(body);
    let mut cx = Context::from_waker(Waker::noop());
    let bytes = match body.as_mut().poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    };
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    json.get("detail")
        .or_else(|| {
            json.get("non_field_errors")
                .and_then(|errors| errors.get(0))
        })
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// gRPC's `grpc-message` encoding: printable ASCII but `%` as is, every other byte as `%XX`.
fn percent_encode(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{detail, unauthorized};

    #[test]
    fn a_refusal_becomes_a_trailers_only_answer() {
        let answer = trailers_only(unauthorized("Invalid token."));
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()["grpc-status"], "16");
        assert_eq!(answer.headers()["grpc-message"], "Invalid token.");
        assert_eq!(answer.headers()["content-type"], "application/grpc");
        assert!(answer.headers().get("www-authenticate").is_none());
        let answer = trailers_only(detail(StatusCode::SERVICE_UNAVAILABLE, "100% down: é"));
        assert_eq!(answer.headers()["grpc-status"], "14");
        assert_eq!(answer.headers()["grpc-message"], "100%25 down: %C3%A9");
        let answer = trailers_only(crate::response::unavailable(
            crate::store::StoreError::Backend("down".into()),
        ));
        assert_eq!(answer.headers()["grpc-status"], "14");
        assert_eq!(answer.headers()["retry-after"], "5");
    }

    #[test]
    fn grpc_is_told_by_its_content_type() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(is_grpc(&headers("application/grpc")));
        assert!(is_grpc(&headers("application/grpc+proto")));
        assert!(is_grpc(&headers("application/grpc; charset=utf-8")));
        assert!(!is_grpc(&headers("application/grpc-web")));
        assert!(!is_grpc(&headers("application/grpc-web-text")));
        assert!(!is_grpc(&headers("application/grpcfoo")));
        assert!(!is_grpc(&headers("application/json")));
        assert!(!is_grpc(&HeaderMap::new()));
    }
}
