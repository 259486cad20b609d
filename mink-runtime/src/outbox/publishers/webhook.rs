//! The HTTP webhook publisher: each message is POSTed to the URL in its
//! destination (feature `webhook`).
//!
//! | answer | result |
//! | --- | --- |
//! | 2xx | delivered |
//! | 408, 425, 429 | [`PublishError::Retry`] (the server asks to come back) |
//! | any other 4xx | [`PublishError::Permanent`]: to the dead letters |
//! | 3xx | [`PublishError::Permanent`]: redirects are not followed (a POST turned into a GET would lose the body) |
//! | 5xx, other statuses | [`PublishError::Retry`] |
//! | timeout, refused or dropped connection | [`PublishError::Retry`] |
//! | a destination that is not an `http`/`https` URL, a header that HTTP cannot carry | [`PublishError::Permanent`] |
//!
//! Each request carries `Content-Type` (the message's), `Idempotency-Key`
//! (the message's deterministic id, the same on every attempt), the `Mink-*`
//! headers of [`message_headers`], the route's headers and the publisher's
//! own fixed headers (an `Authorization`, say).
//!
//! The first 512 bytes of an error answer's body are kept in the error, for
//! the dead letters; a 2xx answer's body is read (up to 64 KiB) and dropped,
//! so that the connection is reused.
//!
//! TLS is rustls with the `ring` provider: when the process has no default
//! rustls provider yet, building a publisher installs ring's.
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use mink_runtime::outbox::publishers::webhook::WebhookPublisher;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let publisher = WebhookPublisher::builder()
//!     .timeout(Duration::from_secs(5))
//!     .max_keys_in_flight(16)
//!     .header("Authorization", "Bearer s3cret")
//!     .build()?;
//! # let _ = publisher;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};

use super::{message_headers, publish_in_key_order};
use crate::outbox::publisher::{OutboxMessage, PublishError, Publisher};

/// How many bytes of an error answer's body are kept in the error.
const ERROR_BODY_LIMIT: usize = 512;

/// How much of a 2xx answer's body is read (and dropped) to keep the
/// connection for the next request; a longer body closes it instead.
const SUCCESS_BODY_LIMIT: usize = 64 * 1024;

/// Why a webhook delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The server answered with a status other than 2xx.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The message's destination.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body (at most 512 bytes, lossily
        /// decoded).
        body: String,
    },
    /// No answer within the publisher's timeout.
    #[error("{url} did not answer within {timeout:?}")]
    Timeout {
        /// The message's destination.
        url: String,
        /// The publisher's timeout.
        timeout: Duration,
    },
    /// The request could not be sent or its answer not read (a refused or
    /// dropped connection, a TLS failure).
    #[error("sending to {url} failed")]
    Transport {
        /// The message's destination.
        url: String,
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
    },
    /// The destination is not an `http` or `https` URL.
    #[error("destination {url:?} is not an http(s) URL")]
    InvalidUrl {
        /// The message's destination.
        url: String,
    },
    /// A header name or value that HTTP cannot carry (a control character,
    /// a space in a name).
    #[error("header {name:?} cannot be sent over HTTP")]
    InvalidHeader {
        /// The header's name.
        name: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client failed")]
    Client(#[source] reqwest::Error),
}

/// Sends each outbox message as an HTTP POST to the URL in its
/// destination. See the [module docs](self) for what each answer means.
#[derive(Debug, Clone)]
pub struct WebhookPublisher {
    client: reqwest::Client,
    timeout: Duration,
    max_keys_in_flight: usize,
    headers: HeaderMap,
}

impl WebhookPublisher {
    /// A publisher with the defaults: a 10 s timeout, 32 keys in flight, no
    /// extra headers.
    pub fn new() -> Result<Self, WebhookError> {
        Self::builder().build()
    }

    /// Starts configuring a publisher.
    pub fn builder() -> WebhookPublisherBuilder {
        WebhookPublisherBuilder {
            timeout: Duration::from_secs(10),
            max_keys_in_flight: 32,
            headers: Vec::new(),
        }
    }

    async fn send(&self, message: &OutboxMessage) -> Result<(), PublishError> {
        let url = parse_url(&message.destination).map_err(PublishError::permanent)?;
        let headers = self.headers_for(message).map_err(PublishError::permanent)?;
        let answer = self
            .client
            .post(url)
            .headers(headers)
            .body(message.payload.clone())
            .send()
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(error) => return Err(PublishError::retry(self.transport_error(message, error))),
        };
        let status = response.status();
        if status.is_success() {
            // Read a short answer to its end, so the connection goes back to
            // the pool instead of being closed.
            let _ = read_body(response, SUCCESS_BODY_LIMIT).await;
            return Ok(());
        }
        let body = read_body(response, ERROR_BODY_LIMIT).await;
        let body = String::from_utf8_lossy(&body).into_owned();
        let error = WebhookError::Status {
            url: message.destination.clone(),
            status: status.as_u16(),
            body,
        };
        if is_permanent(status) {
            Err(PublishError::permanent(error))
        } else {
            Err(PublishError::retry(error))
        }
    }

    fn headers_for(&self, message: &OutboxMessage) -> Result<HeaderMap, WebhookError> {
        let mut headers = self.headers.clone();
        headers.insert(
            CONTENT_TYPE,
            header_value("Content-Type", &message.content_type)?,
        );
        headers.insert(
            HeaderName::from_static("idempotency-key"),
            header_value("Idempotency-Key", &message.id.to_string())?,
        );
        for (name, value) in message_headers(message) {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| WebhookError::InvalidHeader { name: name.clone() })?;
            headers.append(header, header_value(&name, &value)?);
        }
        Ok(headers)
    }

    fn transport_error(&self, message: &OutboxMessage, error: reqwest::Error) -> WebhookError {
        if error.is_timeout() {
            WebhookError::Timeout {
                url: message.destination.clone(),
                timeout: self.timeout,
            }
        } else {
            WebhookError::Transport {
                url: message.destination.clone(),
                source: error,
            }
        }
    }
}

#[async_trait]
impl Publisher for WebhookPublisher {
    fn name(&self) -> &str {
        "webhook"
    }

    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
        publish_in_key_order(messages, self.max_keys_in_flight, |message| {
            self.send(message)
        })
        .await
    }
}

/// Configures a [`WebhookPublisher`].
#[derive(Debug, Clone)]
#[must_use]
pub struct WebhookPublisherBuilder {
    timeout: Duration,
    max_keys_in_flight: usize,
    headers: Vec<(String, String)>,
}

impl WebhookPublisherBuilder {
    /// How long one request may take, from connecting until the answer has
    /// been read (default 10 s). Past it the message is retried.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many keys are sent concurrently (default 32); messages of one key
    /// always go one after another.
    pub fn max_keys_in_flight(mut self, keys: usize) -> Self {
        self.max_keys_in_flight = keys.max(1);
        self
    }

    /// A header sent with every request, such as `Authorization`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Builds the publisher and its HTTP client (with a connection pool).
    pub fn build(self) -> Result<WebhookPublisher, WebhookError> {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| WebhookError::InvalidHeader { name: name.clone() })?;
            headers.append(header, header_value(name, value)?);
        }
        ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mink/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(WebhookError::Client)?;
        Ok(WebhookPublisher {
            client,
            timeout: self.timeout,
            max_keys_in_flight: self.max_keys_in_flight,
            headers,
        })
    }
}

/// reqwest is built without a bundled crypto provider; ring is the one
/// every mink publisher uses. Installing fails only when another thread
/// installed one first, which is as good.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn parse_url(destination: &str) -> Result<Url, WebhookError> {
    match Url::parse(destination) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        _ => Err(WebhookError::InvalidUrl {
            url: destination.to_owned(),
        }),
    }
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue, WebhookError> {
    HeaderValue::from_str(value).map_err(|_| WebhookError::InvalidHeader {
        name: name.to_owned(),
    })
}

/// 4xx other than "come back later", and 3xx (redirects are not followed):
/// the same request would get the same answer.
fn is_permanent(status: StatusCode) -> bool {
    let come_back_later = matches!(status.as_u16(), 408 | 425 | 429);
    (status.is_client_error() && !come_back_later) || status.is_redirection()
}

/// The answer's body, up to `limit` bytes.
async fn read_body(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(limit);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_sort_into_retry_and_dead_letters() {
        let permanent = |code: u16| is_permanent(StatusCode::from_u16(code).unwrap());
        for code in [400, 401, 403, 404, 409, 410, 413, 422, 301, 302, 307, 308] {
            assert!(permanent(code), "{code} should go to the dead letters");
        }
        for code in [408, 425, 429, 500, 502, 503, 504] {
            assert!(!permanent(code), "{code} should be retried");
        }
    }

    #[test]
    fn only_http_urls_are_destinations() {
        assert!(parse_url("https://example.com/hook").is_ok());
        assert!(parse_url("http://127.0.0.1:8080/").is_ok());
        assert!(matches!(
            parse_url("orders.created"),
            Err(WebhookError::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse_url("ftp://example.com/"),
            Err(WebhookError::InvalidUrl { .. })
        ));
    }
}
