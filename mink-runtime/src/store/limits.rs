//! Bounds and input rules every adapter applies before it writes anything.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::event::{EventMetadata, NewEvent};

use super::request::StreamAppend;

/// Bounds a store enforces on input, so a bad request is refused with
/// [`Error::InvalidInput`] before anything is written.
///
/// Change some bounds and keep the rest with
/// `Limits { max_event_size: 1 << 20, ..Limits::default() }`. A store
/// refuses, when it is opened, bounds beyond what its schema can hold (see
/// each adapter's builder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest stream id, in bytes. Default: 255.
    pub max_stream_id_len: usize,
    /// Longest event type name, in bytes. Default: 255.
    pub max_event_type_len: usize,
    /// Largest payload, in bytes. Default: 4 MiB.
    pub max_event_size: usize,
    /// Largest metadata of one event, in bytes of its JSON form, counting
    /// each character once (the escapes JSON adds are not counted, so the
    /// bound is found without serializing). Default: 64 KiB.
    pub max_metadata_size: usize,
    /// Most custom entries in the metadata of one event. Default: 256.
    pub max_metadata_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stream_id_len: 255,
            max_event_type_len: 255,
            max_event_size: 4 * 1024 * 1024,
            max_metadata_size: 64 * 1024,
            max_metadata_entries: 256,
        }
    }
}

impl Limits {
    /// Checks a stream id.
    pub fn check_stream_id(&self, stream_id: &str) -> Result<()> {
        if stream_id.is_empty() {
            return Err(Error::invalid("stream_id", "must not be empty"));
        }
        refuse_nul("stream_id", stream_id)?;
        if stream_id.len() > self.max_stream_id_len {
            return Err(Error::invalid(
                "stream_id",
                format!(
                    "is {} bytes, longer than the limit of {}",
                    stream_id.len(),
                    self.max_stream_id_len
                ),
            ));
        }
        Ok(())
    }

    /// Checks a whole append request: ids, type names, payload and
    /// metadata sizes, that no stream appears twice, that no event id
    /// appears twice, and that no text holds a NUL character (which
    /// PostgreSQL cannot store, so every adapter refuses it alike).
    pub fn check_appends(&self, appends: &[StreamAppend]) -> Result<()> {
        if appends.is_empty() {
            return Err(Error::invalid("appends", "at least one stream is required"));
        }
        for (i, a) in appends.iter().enumerate() {
            self.check_stream_id(&a.stream_id)?;
            if appends[..i].iter().any(|b| b.stream_id == a.stream_id) {
                return Err(Error::invalid(
                    "stream_id",
                    format!("stream `{}` appears twice in one append", a.stream_id),
                ));
            }
            for e in &a.events {
                if e.event_type.is_empty() {
                    return Err(Error::invalid("event_type", "must not be empty"));
                }
                refuse_nul("event_type", &e.event_type)?;
                check_content_type(e.content_type.as_str())?;
                self.check_metadata(e)?;
                if e.event_type.len() > self.max_event_type_len {
                    return Err(Error::invalid(
                        "event_type",
                        format!(
                            "`{}…` is {} bytes, longer than the limit of {}",
                            e.event_type.chars().take(32).collect::<String>(),
                            e.event_type.len(),
                            self.max_event_type_len
                        ),
                    ));
                }
                if e.payload.len() > self.max_event_size {
                    return Err(Error::invalid(
                        "payload",
                        format!(
                            "event {} of type `{}` is {} bytes, larger than the limit of {}",
                            e.event_id,
                            e.event_type,
                            e.payload.len(),
                            self.max_event_size
                        ),
                    ));
                }
            }
        }
        refuse_repeated_ids(appends)
    }

    /// Refuses metadata with too many custom entries, too many bytes, or a
    /// NUL character in its ids, keys or values. The cheap checks come
    /// first, so oversized metadata is refused without reading it through.
    fn check_metadata(&self, event: &NewEvent) -> Result<()> {
        let m = &event.metadata;
        if m.custom.len() > self.max_metadata_entries {
            return Err(Error::invalid(
                "metadata",
                format!(
                    "event {} has {} custom entries, more than the limit of {}",
                    event.event_id,
                    m.custom.len(),
                    self.max_metadata_entries
                ),
            ));
        }
        let size = metadata_json_len(m);
        if size > self.max_metadata_size {
            return Err(Error::invalid(
                "metadata",
                format!(
                    "event {} has {size} bytes of metadata as JSON, more than the limit of {}",
                    event.event_id, self.max_metadata_size
                ),
            ));
        }
        let ids = [&m.correlation_id, &m.causation_id, &m.user_id, &m.tenant_id];
        let texts = ids
            .into_iter()
            .flatten()
            .map(String::as_str)
            .chain(m.custom.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]));
        for text in texts {
            refuse_nul("metadata", text)?;
        }
        Ok(())
    }
}

/// The length of `m` as JSON, in bytes, counting each character once (the
/// escapes JSON adds are not counted). It adds up the lengths of the
/// strings and the punctuation around them instead of serializing, so it
/// costs one step per field and entry.
fn metadata_json_len(m: &EventMetadata) -> usize {
    // `"name":"value"` costs the two lengths plus 5: four quotes and a colon.
    const QUOTED_PAIR: usize = 5;
    let ids = [
        ("correlation_id", &m.correlation_id),
        ("causation_id", &m.causation_id),
        ("user_id", &m.user_id),
        ("tenant_id", &m.tenant_id),
    ];
    let mut fields: usize = 0;
    let mut len = "{}".len();
    for (name, value) in ids {
        if let Some(value) = value {
            fields += 1;
            len += name.len() + value.len() + QUOTED_PAIR;
        }
    }
    if !m.custom.is_empty() {
        fields += 1;
        // `"custom":{…}`, its entries separated by commas.
        len += "\"custom\":{}".len() + (m.custom.len() - 1);
        len += m
            .custom
            .iter()
            .map(|(k, v)| k.len() + v.len() + QUOTED_PAIR)
            .sum::<usize>();
    }
    // The commas between the fields.
    len + fields.saturating_sub(1)
}

/// Refuses an event id given twice in one call. Small calls compare pairs,
/// which costs less than hashing; large ones use a set.
fn refuse_repeated_ids(appends: &[StreamAppend]) -> Result<()> {
    const PAIRWISE_UP_TO: usize = 16;
    let count: usize = appends.iter().map(|a| a.events.len()).sum();
    let mut ids = appends
        .iter()
        .flat_map(|a| a.events.iter().map(|e| e.event_id));
    let repeated = if count <= PAIRWISE_UP_TO {
        let mut seen = [uuid::Uuid::nil(); PAIRWISE_UP_TO];
        ids.enumerate().find_map(|(i, id)| {
            let again = seen[..i].contains(&id);
            seen[i] = id;
            again.then_some(id)
        })
    } else {
        let mut seen = HashSet::with_capacity(count);
        ids.find(|id| !seen.insert(*id))
    };
    match repeated {
        Some(event_id) => Err(Error::DuplicateEventId { event_id }),
        None => Ok(()),
    }
}

/// Refuses text holding a NUL character, naming the field.
/// A content type is a media type's text: not empty, printable ASCII, at
/// most [`MAX_CONTENT_TYPE_LEN`] bytes, as every store's column keeps it.
fn check_content_type(text: &str) -> Result<()> {
    if text.is_empty() {
        return Err(Error::invalid("content_type", "must not be empty"));
    }
    if text.len() > MAX_CONTENT_TYPE_LEN {
        return Err(Error::invalid(
            "content_type",
            format!(
                "is {} bytes, longer than the limit of {MAX_CONTENT_TYPE_LEN}",
                text.len()
            ),
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(Error::invalid(
            "content_type",
            format!(
                "`{}` holds a character that is not printable ASCII",
                text.escape_default()
            ),
        ));
    }
    Ok(())
}

/// The longest content type an event may carry.
pub const MAX_CONTENT_TYPE_LEN: usize = 255;

fn refuse_nul(field: &'static str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid(field, "must not contain a NUL character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ExpectedVersion;

    /// One stream appending one event that carries `metadata`.
    fn with_metadata(metadata: EventMetadata) -> Vec<StreamAppend> {
        let mut event = NewEvent::new("Tick", b"{}".to_vec());
        event.metadata = metadata;
        vec![StreamAppend::new("s", ExpectedVersion::Any, vec![event])]
    }

    #[test]
    fn limits_refuse_bad_input() {
        let limits = Limits {
            max_stream_id_len: 8,
            max_event_type_len: 4,
            max_event_size: 10,
            // `{"user_id":"…"}` is 14 bytes around the id.
            max_metadata_size: 64,
            max_metadata_entries: 2,
        };
        let ok = NewEvent::new("Tick", b"{}".to_vec());
        let user = |len: usize| EventMetadata::default().with_user_id("u".repeat(len));
        let entries = |n: usize| {
            (0..n).fold(EventMetadata::default(), |m, i| {
                m.with_custom(format!("k{i}"), "v")
            })
        };
        let cases: Vec<(Vec<StreamAppend>, Option<&str>)> = vec![
            (vec![], Some("appends")),
            (
                vec![StreamAppend::new(
                    "",
                    ExpectedVersion::Any,
                    vec![ok.clone()],
                )],
                Some("stream_id"),
            ),
            (
                vec![StreamAppend::new("123456789", ExpectedVersion::Any, vec![])],
                Some("stream_id"),
            ),
            (
                vec![StreamAppend::new(
                    "s",
                    ExpectedVersion::Any,
                    vec![NewEvent::new("", b"{}".to_vec())],
                )],
                Some("event_type"),
            ),
            (
                vec![StreamAppend::new(
                    "s",
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Toolong", b"{}".to_vec())],
                )],
                Some("event_type"),
            ),
            (
                vec![StreamAppend::new(
                    "s",
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Tick", vec![b' '; 11])],
                )],
                Some("payload"),
            ),
            (
                vec![
                    StreamAppend::new("s", ExpectedVersion::Any, vec![ok.clone()]),
                    StreamAppend::new("s", ExpectedVersion::Any, vec![ok.clone()]),
                ],
                Some("stream_id"),
            ),
            (with_metadata(user(50)), None),
            (with_metadata(user(51)), Some("metadata")),
            (with_metadata(entries(2)), None),
            (with_metadata(entries(3)), Some("metadata")),
            (
                with_metadata(EventMetadata::default().with_custom("k", "x".repeat(60))),
                Some("metadata"),
            ),
            (
                with_metadata(EventMetadata::default().with_correlation_id("c\0")),
                Some("metadata"),
            ),
            (
                vec![StreamAppend::new(
                    "s",
                    ExpectedVersion::Any,
                    vec![ok.clone()],
                )],
                None,
            ),
        ];
        for (appends, refused) in cases {
            match (limits.check_appends(&appends), refused) {
                (Ok(()), None) => {}
                (Err(Error::InvalidInput { field, .. }), Some(f)) => assert_eq!(field, f),
                (other, want) => panic!("{appends:?}: got {other:?}, wanted refusal of {want:?}"),
            }
        }
    }
    /// Metadata far beyond the default bounds (one huge value, a huge
    /// number of entries) is refused like an oversized payload.
    #[test]
    fn default_limits_refuse_huge_metadata() {
        let limits = Limits::default();
        let huge_value = EventMetadata::default().with_custom("trace", "x".repeat(50 << 20));
        let many_entries = EventMetadata {
            custom: (0..300_000)
                .map(|i| (i.to_string(), String::new()))
                .collect(),
            ..EventMetadata::default()
        };
        for metadata in [huge_value, many_entries] {
            match limits.check_appends(&with_metadata(metadata)) {
                Err(Error::InvalidInput {
                    field: "metadata", ..
                }) => {}
                other => panic!("expected the metadata to be refused, got {other:?}"),
            }
        }
    }

    /// The size counted is the JSON form's length when nothing needs
    /// escaping, and never more than it.
    #[test]
    fn metadata_size_is_its_json_length() {
        let full = EventMetadata::default()
            .with_correlation_id("c-1")
            .with_causation_id("cause")
            .with_user_id("u")
            .with_tenant_id("tenant-7")
            .with_custom("a", "1")
            .with_custom("key", "");
        let cases = [
            EventMetadata::default(),
            EventMetadata::default().with_user_id("u-1"),
            EventMetadata::default().with_custom("k", "v"),
            EventMetadata::default()
                .with_tenant_id("t")
                .with_custom("k", "v")
                .with_custom("k2", "v2"),
            full.clone(),
        ];
        for m in &cases {
            let json = serde_json::to_string(m).expect("metadata as JSON");
            assert_eq!(metadata_json_len(m), json.len(), "{json}");
        }
        let escaped = full.with_custom("quote", "\"\\\n");
        let json = serde_json::to_string(&escaped).expect("metadata as JSON");
        assert!(metadata_json_len(&escaped) < json.len(), "{json}");
    }
}
