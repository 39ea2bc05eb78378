//! Request bodies as a JSON object, from `application/json` or flat
//! `application/x-www-form-urlencoded`; every failure is a domain error, never axum's text.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::error::DbConnectionsError;
use crate::domain::Error;

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
    /// Answered in the dbconnections envelope unless the handler takes `Result<Fields, _>`
    /// and re-wraps the inner domain error.
    type Rejection = DbConnectionsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(req, state).await.map_err(DbConnectionsError)
    }
}

async fn read<S: Send + Sync>(req: Request, state: &S) -> Result<Fields, Error> {
    {
        let kind = kind(
            req.headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        )
        .ok_or(Error::UnsupportedMediaType)?;
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::BodyTooLarge
            } else {
                Error::InvalidBody("Could not read the request body".into())
            }
        })?;
        match kind {
            Kind::Json => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(Fields(map)),
                Ok(_) => Err(Error::InvalidBody(
                    "The request body must be a JSON object".into(),
                )),
                Err(e) => Err(Error::InvalidBody(format!(
                    "Malformed JSON body: {}",
                    // serde's message names the position, not the content.
                    e
                ))),
            },
            Kind::Form => Ok(Fields(
                url::form_urlencoded::parse(&bytes)
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            )),
        }
    }
}
