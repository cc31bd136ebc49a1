//! The wire format's edges: malformed, huge, slow and unusual requests, methods, caching.

use std::time::Duration;

use axum::body::Body;
use http::{header, Method, Request, StatusCode};
use serde_json::json;

use crate::common::app::*;

#[tokio::test]
async fn malformed_and_incomplete_bodies() {
    let app = TestApp::new();
    let raw = |ct: &str, body: &'static str| {
        Request::post("/api-auth/login/")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            raw("application/json", r#"{"username": "alice", "password": }"#),
            StatusCode::BAD_REQUEST,
            r#"{"detail":"JSON parse error - expected value at line 1 column 35"}"#,
        ),
        (
            raw("application/json", "{}"),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field is required."],"username":["This field is required."]}"#,
        ),
        (
            raw("application/json", r#"{"username": "  ", "password": ""}"#),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field may not be blank."],"username":["This field may not be blank."]}"#,
        ),
        (
            raw(
                "application/json",
                r#"{"username": true, "password": null}"#,
            ),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field may not be null."],"username":["Not a valid string."]}"#,
        ),
        (
            raw(
                "application/json",
                r#"{"username": ["alice"], "password": {"a": 1}}"#,
            ),
            StatusCode::BAD_REQUEST,
            r#"{"password":["Not a valid string."],"username":["Not a valid string."]}"#,
        ),
        (
            raw("application/json", r#"["alice", "pw"]"#),
            StatusCode::BAD_REQUEST,
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#,
        ),
        (
            raw("text/plain", "username=alice"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            r#"{"detail":"Unsupported media type \"text/plain\" in request."}"#,
        ),
        (
            raw("multipart/form-data; boundary=x", "--x--\r\n"),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field is required."],"username":["This field is required."]}"#,
        ),
        (
            raw("multipart/form-data", "--x--\r\n"),
            StatusCode::BAD_REQUEST,
            r#"{"detail":"Multipart form parse error - Invalid boundary in multipart: None"}"#,
        ),
        (
            Request::post("/api-auth/login/")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            r#"{"password":["This field is required."],"username":["This field is required."]}"#,
        ),
        (
            Request::post("/api-auth/login/")
                .body(Body::from("username=alice"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            r#"{"detail":"Unsupported media type \"\" in request."}"#,
        ),
    ];
    for (request, status, body) in cases {
        let reply = app.send(request).await;
        assert_eq!((reply.status, reply.text.as_str()), (status, body));
    }
    assert!(app.console.codes().is_empty());
}

/// A `multipart/form-data` request, written out as RFC 7578 says: text parts `(name, value)`,
/// and a file part where a file name is given.
fn multipart(path: &str, parts: &[(&str, Option<&str>, &str)]) -> Request<Body> {
    let boundary = "----tower-otp-test-7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, file_name, value) in parts {
        body.push_str(&format!("--{boundary}\r\n"));
        match file_name {
            Some(file) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 Content-Type: application/octet-stream\r\n"
            )),
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n"
            )),
        }
        body.push_str(&format!("\r\n{value}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    Request::post(path)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn multipart_bodies_log_in_resend_and_verify() {
    let app = TestApp::new();
    // The password as sent, surrounding spaces and all.
    let login = app
        .send(multipart(
            "/api-auth/login/",
            &[
                ("username", None, "spacey"),
                ("password", None, SPACED_PASSWORD),
            ],
        ))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let challenge = login.str("challenge");
    app.clock.advance(Duration::from_secs(60));
    let resent = app
        .send(multipart(
            "/api-auth/resend-token/",
            &[("challenge", None, challenge)],
        ))
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    let code = app.console.last_code();
    let verify = app
        .send(multipart(
            "/api-auth/verify-token/",
            &[("challenge", None, challenge), ("token", None, &code)],
        ))
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    let me = app.get("/api/me", Some(verify.str("token"))).await;
    assert_eq!(me.json["username"], "spacey");
}

#[tokio::test]
async fn multipart_bodies_take_text_only_within_the_limits() {
    let app = TestApp::new();
    let file = app
        .send(multipart(
            "/api-auth/login/",
            &[
                ("username", None, "alice"),
                ("password", Some("pw.txt"), PASSWORD),
            ],
        ))
        .await;
    assert_eq!(file.status, StatusCode::BAD_REQUEST);
    assert_eq!(file.text, r#"{"password":["Not a valid string."]}"#);
    // A file the endpoint does not read, and an empty file input, are left alone.
    let unread = TestApp::new()
        .send(multipart(
            "/api-auth/login/",
            &[
                ("username", None, "alice"),
                ("password", None, PASSWORD),
                ("avatar", Some("me.png"), "PNG"),
                ("note", Some(""), ""),
            ],
        ))
        .await;
    assert_eq!(unread.status, StatusCode::OK, "{}", unread.text);

    let huge = "x".repeat(20_000);
    let large = app
        .send(multipart(
            "/api-auth/login/",
            &[("username", None, "alice"), ("password", None, &huge)],
        ))
        .await;
    assert_eq!(large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        large.text,
        r#"{"detail":"Request body is larger than 16384 bytes."}"#
    );

    // The boundary promised is not the one used.
    let mismatched = Request::post("/api-auth/login/")
        .header(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=elsewhere",
        )
        .body(Body::from(
            "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n",
        ))
        .unwrap();
    let mismatched = app.send(mismatched).await;
    assert_eq!(mismatched.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        mismatched.text,
        r#"{"detail":"Multipart form parse error - incomplete multipart stream"}"#
    );
    assert!(app.console.codes().is_empty());
}

#[tokio::test]
async fn numbers_are_read_as_text_like_drf() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let code = app.console.last_code();
    let number: u64 = code.parse().unwrap();
    let reply = app
        .post_json(
            "/api-auth/verify-token/",
            json!({ "challenge": login.str("challenge"), "token": number }),
        )
        .await;
    // A code with a leading zero loses it as a number: the length check says so.
    if code.starts_with('0') {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    } else {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
}

#[tokio::test]
async fn huge_bodies_get_413_with_or_without_content_length() {
    let app = TestApp::new();
    let huge = format!(
        r#"{{"username": "alice", "password": "{}"}}"#,
        "x".repeat(20_000)
    );
    let declared = app.send(json_request_raw(&huge, true)).await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        declared.text,
        r#"{"detail":"Request body is larger than 16384 bytes."}"#
    );
    let streamed = app.send(json_request_raw(&huge, false)).await;
    assert_eq!(streamed.status, StatusCode::PAYLOAD_TOO_LARGE);

    let small = TestApp::with(|layer| layer.with_body_limit(64));
    let reply = small
        .login(
            "alice",
            "a password long enough to exceed sixty-four bytes in JSON",
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

fn json_request_raw(body: &str, with_length: bool) -> Request<Body> {
    let builder =
        Request::post("/api-auth/login/").header(header::CONTENT_TYPE, "application/json");
    if with_length {
        builder
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body.to_owned()))
            .unwrap()
    } else {
        let chunks: Vec<Result<String, std::io::Error>> = body
            .as_bytes()
            .chunks(1000)
            .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
            .collect();
        builder
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap()
    }
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let app = TestApp::new();
    for method in [
        Method::GET,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
    ] {
        for path in [
            "/api-auth/login/",
            "/api-auth/verify-token/",
            "/api-auth/resend-token/",
            "/api-auth/logout/",
        ] {
            let reply = app
                .send(
                    Request::builder()
                        .method(method.clone())
                        .uri(path)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(reply.header("allow"), Some("POST"));
            assert_eq!(
                reply.json["detail"],
                format!("Method \"{method}\" not allowed.")
            );
        }
    }
}

#[tokio::test]
async fn endpoint_answers_are_never_cached() {
    let app = TestApp::new();
    let login = app.login("alice", PASSWORD).await;
    let refused = app.login("alice", "wrong").await;
    app.clock.advance(Duration::from_secs(60));
    let resend = app
        .post_json(
            "/api-auth/resend-token/",
            json!({ "challenge": login.str("challenge") }),
        )
        .await;
    let verify = app
        .verify(login.str("challenge"), &app.console.last_code())
        .await;
    for (name, reply) in [
        ("login", &login),
        ("refused login", &refused),
        ("resend", &resend),
        ("verify", &verify),
    ] {
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
        assert_eq!(reply.header("pragma"), Some("no-cache"), "{name}");
    }
    assert_eq!(verify.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_arrives_gets_408() {
    let app = TestApp::with(|layer| layer.with_body_read_timeout(Duration::from_secs(3)));
    // The first bytes, then nothing more: a slow client holding the request open.
    let first: Result<&str, std::io::Error> = Ok("{\"username\": \"al");
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::iter([first]),
        futures_util::stream::pending(),
    );
    let request = Request::post("/api-auth/login/")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "50")
        .body(Body::from_stream(stream))
        .unwrap();
    let started = tokio::time::Instant::now();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{}", reply.text);
    assert_eq!(
        reply.text,
        r#"{"detail":"The request body did not arrive within 3 seconds."}"#
    );
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}
