//! Reading endpoint bodies: JSON, form or multipart form (DRF's default parsers), within the
//! size and time limits, into DRF-style fields.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{json, Map, Value};

use crate::config::OtpSettings;
use crate::response::{detail, json, JsonResponse};

use crate::boxed::BoxError;

/// The decoded body of an endpoint request.
#[derive(Debug, Default)]
pub(crate) struct Fields(Map<String, Value>);

/// Why a body could not be read into fields: each becomes one DRF-shaped answer.
#[derive(Debug)]
pub(crate) enum BadBody {
    /// 413: larger than the limit (bytes).
    TooLarge(usize),
    /// 408: not all there within the read timeout (seconds).
    TooSlow(u64),
    /// 400: the body stream failed.
    Unreadable,
    /// 415: neither JSON nor a form nor a multipart form (the `Content-Type` sent).
    UnsupportedMediaType(String),
    /// 400 `{"detail": …}`: malformed JSON, form or multipart form.
    Malformed(String),
    /// 400 `{"non_field_errors": …}`: JSON, but not an object.
    NotAnObject(&'static str),
    /// 400: DRF field errors, every failing field at once.
    Fields(BTreeMap<String, Vec<String>>),
}

impl BadBody {
    pub(crate) fn into_response(self) -> JsonResponse {
        match self {
            Self::TooLarge(limit) => detail(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("Request body is larger than {limit} bytes."),
            ),
            Self::TooSlow(secs) => detail(
                StatusCode::REQUEST_TIMEOUT,
                &format!("The request body did not arrive within {secs} seconds."),
            ),
            Self::Unreadable => detail(
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            ),
            Self::UnsupportedMediaType(content_type) => detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Unsupported media type \"{content_type}\" in request."),
            ),
            Self::Malformed(message) => detail(StatusCode::BAD_REQUEST, &message),
            Self::NotAnObject(got) => json(
                StatusCode::BAD_REQUEST,
                &json!({ "non_field_errors": [format!(
                    "Invalid data. Expected a dictionary, but got {got}."
                )] }),
            ),
            Self::Fields(errors) => json(StatusCode::BAD_REQUEST, &json!(errors)),
        }
    }
}

/// Reads and decodes the body within the settings' size and time limits.
pub(crate) async fn read_fields<B>(
    headers: &HeaderMap,
    body: B,
    settings: &OtpSettings,
) -> Result<Fields, BadBody>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let limit = settings.body_limit;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BadBody::TooLarge(limit));
    }
    // A client that promises a body and sends it slowly (or never) must not hold the request,
    // and its connection, open for ever.
    let timeout = Duration::from_secs(settings.body_read_timeout);
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await;
    let bytes = match collected {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => return Err(BadBody::TooLarge(limit)),
        Ok(Err(_)) => return Err(BadBody::Unreadable),
        Err(_) => return Err(BadBody::TooSlow(settings.body_read_timeout)),
    };
    // Like DRF: an empty body is an empty form, whatever its content type says (so: "field
    // required", and a logout that sends a JSON content type without a body works).
    if bytes.is_empty() {
        return Ok(Fields::default());
    }
    let content_type = headers.get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or(""));
    let essence = content_type
        .and_then(|ct| ct.parse::<mime::Mime>().ok())
        .map(|m| m.essence_str().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => parse_json(&bytes),
        Some("application/x-www-form-urlencoded") => parse_form(&bytes),
        Some("multipart/form-data") => parse_multipart(content_type.unwrap_or(""), bytes).await,
        _ => Err(BadBody::UnsupportedMediaType(
            content_type.unwrap_or("").to_owned(),
        )),
    }
}

fn parse_json(bytes: &Bytes) -> Result<Fields, BadBody> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| BadBody::Malformed(format!("JSON parse error - {e}")))?;
    match value {
        Value::Object(map) => Ok(Fields(map)),
        other => Err(BadBody::NotAnObject(python_type_name(&other))),
    }
}

fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn parse_form(bytes: &Bytes) -> Result<Fields, BadBody> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| BadBody::Malformed(format!("Form parse error - {e}")))?;
    // As Django's QueryDict: the last value of a repeated key wins.
    Ok(Fields(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    ))
}

/// A `multipart/form-data` body, all there already (so within the limits): its text parts as
/// fields, the last of a repeated name winning as in Django's `QueryDict`; parts without a name
/// are skipped, as Django skips them, and so are file parts without a file name (an empty
/// file input). A file part stands in its field as a non-string, which a field the endpoint
/// reads refuses as DRF refuses a file given to a `CharField` (`Not a valid string.`), and
/// which a field it does not read leaves alone; files win over text of the same name, as in
/// DRF's `data.update(files)`.
async fn parse_multipart(content_type: &str, bytes: Bytes) -> Result<Fields, BadBody> {
    let malformed =
        |e: multer::Error| BadBody::Malformed(format!("Multipart form parse error - {e}"));
    // DRF's words (Django's `MultiPartParserError`) for a content type without a boundary.
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        BadBody::Malformed(
            "Multipart form parse error - Invalid boundary in multipart: None".into(),
        )
    })?;
    let body = futures_util::stream::once(async move { Ok::<_, Infallible>(bytes) });
    let mut parts = multer::Multipart::new(body, boundary);
    let (mut fields, mut files) = (Map::new(), Map::new());
    while let Some(part) = parts.next_field().await.map_err(malformed)? {
        let Some(name) = part
            .name()
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
        else {
            continue;
        };
        match part.file_name() {
            Some("") => {}
            Some(file_name) => {
                let file = Value::Object(Map::from_iter([("file".into(), file_name.into())]));
                files.insert(name, file);
            }
            None => {
                let text = part.text().await.map_err(malformed)?;
                fields.insert(name, Value::String(text));
            }
        }
    }
    fields.extend(files);
    Ok(Fields(fields))
}

/// Collects DRF field errors while reading fields, so that every bad field is reported at once.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors(BTreeMap<String, Vec<String>>);

/// How a string field is cleaned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trim {
    /// Surrounding whitespace is removed (usernames, codes, ids).
    Yes,
    /// Kept as sent (passwords).
    No,
}

impl Fields {
    /// Whether the body has this key at all.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A required, non-blank string field, as DRF's `CharField` reads it (numbers are taken as
    /// their text; booleans, lists and objects are not strings).
    pub(crate) fn required(
        &self,
        name: &str,
        trim: Trim,
        errors: &mut FieldErrors,
    ) -> Option<String> {
        let text = match self.0.get(name) {
            None => return errors.add(name, "This field is required."),
            Some(Value::Null) => return errors.add(name, "This field may not be null."),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return errors.add(name, "Not a valid string."),
        };
        let text = match trim {
            Trim::Yes => text.trim().to_owned(),
            Trim::No => text,
        };
        if text.is_empty() {
            return errors.add(name, "This field may not be blank.");
        }
        Some(text)
    }

    /// An optional boolean flag (JSON `true`, or form `true`/`1`).
    pub(crate) fn flag(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "True" | "1"),
            _ => false,
        }
    }
}

impl FieldErrors {
    pub(crate) fn add<T>(&mut self, name: &str, message: &str) -> Option<T> {
        self.0
            .entry(name.to_owned())
            .or_default()
            .push(message.to_owned());
        None
    }

    /// Every collected error, or the fields read when there is none.
    pub(crate) fn finish<T>(self, read: Option<T>) -> Result<T, BadBody> {
        match read {
            Some(read) if self.0.is_empty() => Ok(read),
            _ => Err(BadBody::Fields(self.0)),
        }
    }
}
