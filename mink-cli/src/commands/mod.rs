//! One module per command; [`dispatch`] runs the one parsed.

mod diagnose;
mod events;
mod generate;
mod init;
mod migrate;
mod projection;
mod saga;
mod schema;
mod stream;
mod templates;

use mink_runtime::{ContentType, MessagePackSerializer, Position, RecordedEvent, Serializer};
use serde_json::{Value, json};

use crate::Application;
use crate::args::{Cli, Command, Global};
use crate::connect::{Store, Target};
use crate::error::{CliError, CliResult};
use crate::output::{Output, time};

/// Everything a command needs besides its own arguments.
pub(crate) struct Ctx {
    pub out: Output,
    pub global: Global,
    pub app: Application,
}

impl Ctx {
    /// The database URL: the option, DATABASE_URL, or `.env`.
    fn database_url(&self) -> Option<String> {
        if let Some(url) = &self.global.database_url {
            return Some(url.clone());
        }
        if self.global.no_dotenv {
            return None;
        }
        // Read `.env` without changing this process's environment.
        dotenvy::dotenv_iter().ok()?.find_map(|item| match item {
            Ok((key, value)) if key == "DATABASE_URL" => Some(value),
            _ => None,
        })
    }

    /// The database the command talks to; fails with the fix when none
    /// is named.
    pub fn target(&self) -> CliResult<Target> {
        let url = self.database_url().ok_or_else(|| {
            CliError::new("no database URL given")
                .hint("pass -D/--database-url sqlite://mink.db (or postgres://…), set DATABASE_URL, or put DATABASE_URL=… in .env")
        })?;
        Target::new(&url, &self.global.schema)
    }

    /// The store: the URL's, or the embedding application's when no URL
    /// is given.
    pub async fn store(&self) -> CliResult<Store> {
        if let (None, Some(store)) = (self.database_url(), &self.app.store) {
            return Ok(Store {
                store: store.clone(),
                any: None,
            });
        }
        self.target()?.open_store().await
    }
}

/// Runs the parsed command.
pub(crate) async fn dispatch(cli: Cli, app: Application) -> CliResult {
    let out = Output::new(cli.global.json, cli.global.no_color);
    let ctx = Ctx {
        out,
        global: cli.global,
        app,
    };
    match cli.command {
        Command::Init(args) => init::run(&ctx, args),
        Command::Generate(args) => generate::run(&ctx, args),
        Command::Migrate(command) => migrate::run(&ctx, command).await,
        Command::Stream(command) => stream::run(&ctx, command).await,
        Command::Events(args) => events::run(&ctx, args).await,
        Command::Projection(command) => projection::run(&ctx, command).await,
        Command::Saga(command) => saga::run(&ctx, command).await,
        Command::Diagnose(args) => diagnose::run(&ctx, args).await,
        Command::Schema(command) => schema::run(&ctx, command).await,
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "mink", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Reads a log position: `N` (single-writer stores: SQLite, memory) or
/// `commit/event` as the commands print it (any store).
pub(crate) fn parse_position(text: &str) -> CliResult<Position> {
    let bad = || {
        CliError::new(format!("`{text}` is not a log position"))
            .hint("give a number (`42`) or `commit/event` as `mink events` prints it (`815/42`)")
    };
    match text.split_once('/') {
        Some((commit, event)) => Ok(Position {
            commit: commit.trim().parse().map_err(|_| bad())?,
            event: event.trim().parse().map_err(|_| bad())?,
        }),
        None => text
            .trim()
            .parse()
            .map(Position::sequential)
            .map_err(|_| bad()),
    }
}

/// The payload as a JSON value, when its format can say it as one: JSON
/// itself, or MessagePack decoded (a MessagePack value JSON cannot hold,
/// such as raw bytes, is not). Other binary formats (Protocol Buffers needs
/// the message's type) are not.
fn payload_value(event: &RecordedEvent) -> Option<Value> {
    if event.content_type == ContentType::MSGPACK {
        return MessagePackSerializer.deserialize(&event.payload).ok();
    }
    if event.content_type.is_json() || event.content_type.is_text() {
        return serde_json::from_slice(&event.payload).ok();
    }
    None
}

/// An event as JSON: the envelope, the metadata, the content type, and the
/// payload as JSON when its format says it as JSON (JSON, MessagePack), else
/// as text when it is text, else as hex.
pub(crate) fn event_json(event: &RecordedEvent) -> Value {
    let mut value = json!({
        "position": event.position.to_string(),
        "stream_id": event.stream_id,
        "version": event.version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "event_id": event.event_id.to_string(),
        "timestamp": event.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "metadata": serde_json::to_value(&event.metadata).unwrap_or(Value::Null),
        "content_type": event.content_type.as_str(),
    });
    let text = event.content_type.is_text() || event.content_type.is_json();
    let payload = match payload_value(event) {
        Some(json) => ("payload", json),
        None => match std::str::from_utf8(&event.payload) {
            Ok(s) if text => ("payload_text", Value::String(s.to_owned())),
            _ => ("payload_hex", Value::String(hex(&event.payload))),
        },
    };
    value[payload.0] = payload.1;
    value
}

/// An event on one line for people.
pub(crate) fn event_line(out: &Output, event: &RecordedEvent) -> String {
    let payload = match payload_value(event) {
        Some(json) if event.content_type.is_json() => json.to_string(),
        // Decoded from a binary format: say which.
        Some(json) => format!("{} {json}", event.content_type),
        None => format!("<{} bytes of {}>", event.payload.len(), event.content_type),
    };
    let payload = if payload.chars().count() > 120 {
        let cut: String = payload.chars().take(117).collect();
        format!("{cut}...")
    } else {
        payload
    };
    format!(
        "{}  {}@{}  {}  {}  {}",
        out.paint(&event.position.to_string(), crate::output::Tone::Dim),
        event.stream_id,
        event.version,
        event.event_type,
        out.paint(&time(&event.timestamp), crate::output::Tone::Dim),
        payload
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Prints one event as the output mode asks.
pub(crate) fn print_event(out: &Output, event: &RecordedEvent) -> CliResult {
    if out.json() {
        out.line(&event_json(event))
    } else {
        out.text(event_line(out, event));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        assert_eq!(parse_position("42").ok(), Some(Position::sequential(42)));
        assert_eq!(
            parse_position("815/42").ok(),
            Some(Position {
                commit: 815,
                event: 42
            })
        );
        assert!(parse_position("x").is_err());
        assert!(parse_position("1/").is_err());
    }

    #[test]
    fn payloads_print_by_their_content_type() {
        let recorded = |payload: Vec<u8>, content_type: &'static str| {
            let new = mink_runtime::NewEvent::new("E", payload).with_content_type(content_type);
            RecordedEvent::recorded(new, "s-1", 1, Position::sequential(1), chrono::Utc::now())
        };
        let out = Output::new(false, true);
        let msgpack = MessagePackSerializer
            .serialize(&json!({"sku": "tea", "qty": 2}))
            .unwrap();
        let cases = [
            (
                recorded(br#"{"a":1}"#.to_vec(), "application/json"),
                ("payload", json!({"a": 1})),
                r#"{"a":1}"#.to_owned(),
            ),
            (
                recorded(msgpack, "application/msgpack"),
                ("payload", json!({"qty": 2, "sku": "tea"})),
                r#"application/msgpack {"qty":2,"sku":"tea"}"#.to_owned(),
            ),
            (
                // Protobuf bytes that happen to be the JSON text ` 1`.
                recorded(b" 1".to_vec(), "application/protobuf"),
                ("payload_hex", json!("2031")),
                "<2 bytes of application/protobuf>".to_owned(),
            ),
            (
                recorded(b"hello".to_vec(), "text/plain"),
                ("payload_text", json!("hello")),
                "<5 bytes of text/plain>".to_owned(),
            ),
        ];
        for (event, (key, value), line) in cases {
            let printed = event_json(&event);
            assert_eq!(printed[key], value, "{}", event.content_type);
            assert_eq!(printed["content_type"], event.content_type.as_str());
            assert!(event_line(&out, &event).ends_with(&line), "{line}");
        }
    }
}
