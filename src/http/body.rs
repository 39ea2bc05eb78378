//! Request bodies as a JSON object, from `application/json` or flat
//! `application/x-www-form-urlencoded`; every failure is a `BodyError`, never axum's text.
//! Handlers take `Result<Fields, BodyError>` and answer it in their family's envelope.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

/// Why a body could not be read as fields; the texts are the envelopes' descriptions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("{}", BodyError::UNSUPPORTED_TEXT)]
    UnsupportedMediaType,
    #[error("Request body too large")]
    TooLarge,
    #[error("Could not read the request body")]
    Unreadable,
    #[error("The request body must be a JSON object")]
    NotAnObject,
    /// serde's message, which names the position, not the content.
    #[error("Malformed JSON body: {0}")]
    Malformed(String),
}

impl BodyError {
    pub const UNSUPPORTED_TEXT: &str =
        "Content-Type must be application/json or application/x-www-form-urlencoded";
}

/// The body's fields. Form values all arrive as strings.
#[derive(Debug)]
pub struct Fields(pub Map<String, Value>);

enum Kind {
    Json,
    Form,
}

fn kind(content_type: Option<&str>) -> Option<Kind> {
    let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(Kind::Json),
        "application/x-www-form-urlencoded" => Some(Kind::Form),
        _ => None,
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = BodyError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let kind = kind(
            req.headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        )
        .ok_or(BodyError::UnsupportedMediaType)?;
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                BodyError::TooLarge
            } else {
                BodyError::Unreadable
            }
        })?;
        match kind {
            Kind::Json => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(Fields(map)),
                Ok(_) => Err(BodyError::NotAnObject),
                Err(e) => Err(BodyError::Malformed(e.to_string())),
            },
            Kind::Form => Ok(Fields(
                url::form_urlencoded::parse(&bytes)
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            )),
        }
    }
}
