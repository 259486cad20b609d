//! Bounds and input rules every adapter applies before it writes anything.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::event::EventMetadata;

use super::request::StreamAppend;

/// Bounds a store enforces on input, so a bad request is refused before
/// anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest stream id, in bytes.
    pub max_stream_id_len: usize,
    /// Longest event type name, in bytes.
    pub max_event_type_len: usize,
    /// Largest payload, in bytes.
    pub max_event_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stream_id_len: 255,
            max_event_type_len: 255,
            max_event_size: 4 * 1024 * 1024,
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

    /// Checks a whole append request: ids, type names, sizes, that no
    /// stream appears twice, that no event id appears twice, and that no
    /// text holds a NUL character (which PostgreSQL cannot store, so every
    /// adapter refuses it alike).
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
                check_metadata(&e.metadata)?;
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
fn refuse_nul(field: &'static str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid(field, "must not contain a NUL character"));
    }
    Ok(())
}

/// Refuses metadata whose ids, keys or values hold a NUL character.
fn check_metadata(m: &EventMetadata) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ExpectedVersion, NewEvent};

    #[test]
    fn limits_refuse_bad_input() {
        let limits = Limits {
            max_stream_id_len: 8,
            max_event_type_len: 4,
            max_event_size: 10,
        };
        let ok = NewEvent::new("Tick", b"{}".to_vec());
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
}
