//! What format an event's payload is in, stored with every event
//! (docs/adr/019-payload-formats.md).

use std::borrow::Cow;
use std::fmt;

/// The media type of an event's payload: `application/json`,
/// `application/msgpack`, `application/protobuf`, or a user format's.
///
/// Every store keeps it beside the payload, so events of different formats
/// live in one log and each is decoded with its own format. Rows written
/// before the content type was recorded read back as [`ContentType::JSON`].
///
/// The three built-in types are constants and cost no allocation; a user
/// format names its own (`ContentType::from_static("application/cbor")`).
/// Comparison is by the exact text.
///
/// # Examples
///
/// ```
/// use mink_runtime::event::ContentType;
///
/// assert_eq!(ContentType::default(), ContentType::JSON);
/// assert!(ContentType::JSON.is_json());
/// assert!(ContentType::new("application/vnd.shop+json").is_json());
/// assert!(!ContentType::MSGPACK.is_json());
/// assert_eq!(ContentType::new("application/msgpack"), ContentType::MSGPACK);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentType(Cow<'static, str>);

impl ContentType {
    /// JSON, the default: `application/json`.
    pub const JSON: ContentType = ContentType(Cow::Borrowed("application/json"));
    /// MessagePack: `application/msgpack`.
    pub const MSGPACK: ContentType = ContentType(Cow::Borrowed("application/msgpack"));
    /// Protocol Buffers: `application/protobuf`.
    pub const PROTOBUF: ContentType = ContentType(Cow::Borrowed("application/protobuf"));

    /// A content type from a static string, without allocating.
    pub const fn from_static(text: &'static str) -> ContentType {
        ContentType(Cow::Borrowed(text))
    }

    /// A content type from any text; the built-in ones are recognized and
    /// kept without an allocation.
    pub fn new(text: impl Into<String> + AsRef<str>) -> ContentType {
        match text.as_ref() {
            "application/json" => ContentType::JSON,
            "application/msgpack" => ContentType::MSGPACK,
            "application/protobuf" => ContentType::PROTOBUF,
            _ => ContentType(Cow::Owned(text.into())),
        }
    }

    /// The text, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the payload is JSON: `application/json`, or a type with the
    /// `+json` suffix (`application/vnd.shop+json`), with any parameters.
    /// PostgreSQL keeps exactly these payloads in its `jsonb` column.
    pub fn is_json(&self) -> bool {
        let essence = self.0.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
            || essence
                .get(essence.len().saturating_sub(5)..)
                .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"))
    }

    /// Whether the payload is text meant to be read as such: JSON, or any
    /// `text/…` type. SQLite keeps these payloads as TEXT (when they are
    /// valid UTF-8 without NUL), every other payload as a BLOB.
    pub fn is_text(&self) -> bool {
        self.is_json()
            || self
                .0
                .get(..5)
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case("text/"))
    }
}

impl Default for ContentType {
    /// [`ContentType::JSON`].
    fn default() -> Self {
        ContentType::JSON
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ContentType {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ContentType {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ContentType {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<&'static str> for ContentType {
    fn from(text: &'static str) -> Self {
        ContentType::from_static(text)
    }
}

impl From<String> for ContentType {
    fn from(text: String) -> Self {
        ContentType::new(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_text_are_told_by_the_type_not_the_bytes() {
        let cases = [
            ("application/json", true, true),
            ("application/json; charset=utf-8", true, true),
            ("Application/JSON", true, true),
            ("application/vnd.shop.order+json", true, true),
            ("application/msgpack", false, false),
            ("application/protobuf", false, false),
            ("text/plain", false, true),
            ("json", false, false),
            ("", false, false),
        ];
        for (text, json, is_text) in cases {
            let ct = ContentType::new(text);
            assert_eq!(ct.is_json(), json, "{text}");
            assert_eq!(ct.is_text(), is_text, "{text}");
            assert_eq!(ct.as_str(), text);
        }
    }

    #[test]
    fn built_in_types_are_recognized() {
        assert!(matches!(
            ContentType::new(String::from("application/msgpack")).0,
            Cow::Borrowed(_)
        ));
        assert_eq!(
            ContentType::new("application/protobuf"),
            ContentType::PROTOBUF
        );
        assert_eq!(ContentType::JSON, "application/json");
        assert_eq!(
            ContentType::from("application/cbor").to_string(),
            "application/cbor"
        );
    }
}
