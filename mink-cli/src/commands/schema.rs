//! `mink schema print|generate|validate`: the JSON Schema of every
//! registered event type, from the types themselves (`#[event]` registers
//! a schema for each type whose payload implements `schemars::JsonSchema`),
//! and stored events checked against it. Needs the application's entry
//! point: only it knows the event types.

use std::collections::HashMap;

use mink_runtime::event::EventRegistration;
use mink_runtime::{Position, ReadAll, ReadFilter, RecordedEvent, Registry};
use serde_json::{Value, json};

use super::Ctx;
use super::stream::PAGE;
use crate::args::{SchemaCommand, SchemaGenerateArgs, SchemaPrintArgs, SchemaValidateArgs};
use crate::error::{CliError, CliResult};

/// How many of one event's schema errors are listed.
const ERRORS_PER_EVENT: usize = 5;

pub(crate) async fn run(ctx: &Ctx, command: SchemaCommand) -> CliResult {
    let registry = registry(ctx)?;
    match command {
        SchemaCommand::Print(args) => print(ctx, registry, args),
        SchemaCommand::Generate(args) => generate(ctx, registry, args),
        SchemaCommand::Validate(args) => validate(ctx, registry, args).await,
    }
}

/// The application's registry, or the fix when the standalone binary runs.
fn registry(ctx: &Ctx) -> CliResult<&Registry> {
    ctx.app.registry.as_ref().ok_or_else(|| {
        CliError::new("`mink schema` needs the application's event types, which the standalone binary does not know")
            .hint("run it through your application's own binary: `mink_cli::run(mink_cli::Application::from_mink(&app))` (see docs/guide/cli.md)")
    })
}

/// The registrations asked for (all when `only` is empty), failing on a
/// name that is not registered.
fn selected<'r>(registry: &'r Registry, only: &[String]) -> CliResult<Vec<&'r EventRegistration>> {
    if only.is_empty() {
        return Ok(registry.events().collect());
    }
    only.iter()
        .map(|name| {
            registry.event(name).ok_or_else(|| {
                CliError::new(format!("no event type `{name}` is registered"))
                    .hint("`mink schema print` lists the registered event types")
            })
        })
        .collect()
}

/// The hint for a type without a schema.
const NO_SCHEMA_HINT: &str = "derive `schemars::JsonSchema` (schemars 1.x) on the event's payload type, or on the types of its fields";

/// Says on stderr which types have no schema.
fn report_missing(missing: &[&EventRegistration]) {
    for reg in missing {
        eprintln!(
            "no schema: {} v{} ({}): {NO_SCHEMA_HINT}",
            reg.event_type, reg.schema_version, reg.rust_type
        );
    }
}

fn print(ctx: &Ctx, registry: &Registry, args: SchemaPrintArgs) -> CliResult {
    let regs = selected(registry, &args.event_types)?;
    let mut missing = Vec::new();
    let mut events = Vec::new();
    for reg in &regs {
        let schema = (reg.schema)();
        if schema.is_none() {
            missing.push(*reg);
        }
        events.push(json!({
            "event_type": reg.event_type,
            "schema_version": reg.schema_version,
            "rust_type": reg.rust_type,
            "declared_at": reg.declared_at,
            "schema": schema,
        }));
    }
    report_missing(&missing);
    // One type asked for: its schema alone, ready to save or pipe.
    if let ([reg], [entry]) = (regs.as_slice(), events.as_slice())
        && !args.event_types.is_empty()
    {
        if entry["schema"].is_null() {
            return Err(
                CliError::new(format!("`{}` has no schema", reg.event_type)).hint(NO_SCHEMA_HINT)
            );
        }
        ctx.out.document(&entry["schema"]);
        return Ok(());
    }
    ctx.out.document(&json!({ "events": events }));
    Ok(())
}

fn generate(ctx: &Ctx, registry: &Registry, args: SchemaGenerateArgs) -> CliResult {
    let regs = selected(registry, &args.event_types)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::io(&format!("creating {}", args.out.display()), e))?;
    let mut written = Vec::new();
    let mut missing = Vec::new();
    for reg in regs {
        let Some(schema) = (reg.schema)() else {
            missing.push(reg);
            continue;
        };
        let path = args
            .out
            .join(format!("{}.v{}.json", reg.event_type, reg.schema_version));
        let text = serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
        std::fs::write(&path, text)
            .map_err(|e| CliError::io(&format!("writing {}", path.display()), e))?;
        written.push(path.display().to_string());
    }
    report_missing(&missing);
    if ctx.out.json() {
        let without: Vec<&str> = missing.iter().map(|r| r.event_type).collect();
        ctx.out
            .document(&json!({ "written": written, "without_schema": without }));
    } else {
        for path in &written {
            ctx.out.text(format!("wrote {path}"));
        }
        ctx.out.text(format!(
            "{} schema(s) written, {} event type(s) without a schema",
            written.len(),
            missing.len()
        ));
    }
    Ok(())
}

/// What validation knows of one event type.
enum Check {
    /// Compiled from the registered schema, for this schema version.
    Schema(u32, Box<jsonschema::Validator>),
    /// The type is registered without a schema.
    NoSchema,
    /// The type is not registered.
    Unknown,
}

async fn validate(ctx: &Ctx, registry: &Registry, args: SchemaValidateArgs) -> CliResult {
    let store = ctx.store().await?;
    let filter = ReadFilter {
        event_types: Vec::new(),
        categories: args.category.into_iter().collect(),
        stream_ids: args.id.into_iter().collect(),
    };
    let mut checks: HashMap<String, Check> = HashMap::new();
    let mut checked = 0u64;
    let mut valid = 0u64;
    let mut invalid = Vec::new();
    // Why an event was not checked, with how many: type -> (reason, count).
    let mut unchecked: HashMap<String, (String, u64)> = HashMap::new();
    let mut after = Position::START;
    loop {
        let page = store
            .store
            .read_all_forward(ReadAll::after(after, PAGE).filter(filter.clone()))
            .await
            .map_err(|e| CliError::store("could not read the events", e))?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in &page {
            let check = match checks.get(&event.event_type) {
                Some(check) => check,
                None => {
                    let check = compile(registry, &event.event_type)?;
                    checks.entry(event.event_type.clone()).or_insert(check)
                }
            };
            let skip = |reason: String| (event.event_type.clone(), reason);
            let skipped = match check {
                Check::Unknown => Some(skip("not a registered event type".to_owned())),
                Check::NoSchema => Some(skip("registered without a schema".to_owned())),
                Check::Schema(version, _) if *version != event.schema_version => {
                    Some(skip(format!(
                        "stored as version {}, registered as version {version}",
                        event.schema_version
                    )))
                }
                Check::Schema(_, validator) => {
                    checked += 1;
                    let errors = payload_errors(validator, event);
                    if errors.is_empty() {
                        valid += 1;
                    } else {
                        invalid.push((event.clone(), errors));
                    }
                    None
                }
            };
            if let Some((event_type, reason)) = skipped {
                unchecked.entry(event_type).or_insert((reason, 0)).1 += 1;
            }
        }
    }
    let mut unchecked: Vec<(String, (String, u64))> = unchecked.into_iter().collect();
    unchecked.sort();
    if ctx.out.json() {
        let invalid: Vec<Value> = invalid
            .iter()
            .map(|(event, errors)| {
                json!({
                    "position": event.position.to_string(),
                    "stream_id": event.stream_id,
                    "version": event.version,
                    "event_type": event.event_type,
                    "errors": errors,
                })
            })
            .collect();
        let skipped: Vec<Value> = unchecked
            .iter()
            .map(|(t, (reason, n))| json!({ "event_type": t, "reason": reason, "events": n }))
            .collect();
        ctx.out.document(&json!({
            "checked": checked,
            "valid": valid,
            "invalid": invalid,
            "unchecked": skipped,
        }));
    } else {
        for (event, errors) in &invalid {
            ctx.out.text(format!(
                "invalid  {}  {}@{}  {}",
                event.position, event.stream_id, event.version, event.event_type
            ));
            for error in errors {
                ctx.out.text(format!("         {error}"));
            }
        }
        for (event_type, (reason, n)) in &unchecked {
            ctx.out
                .text(format!("unchecked  {event_type}: {n} event(s), {reason}"));
        }
        ctx.out.text(format!(
            "{checked} event(s) checked: {valid} valid, {} invalid",
            invalid.len()
        ));
    }
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "{} event(s) do not match their type's schema",
            invalid.len()
        ))
        .hint("the list above names each one; fix the writer, or add an upcaster and a new schema version"))
    }
}

/// What validation will do with events of `event_type`.
fn compile(registry: &Registry, event_type: &str) -> CliResult<Check> {
    let Some(reg) = registry.event(event_type) else {
        return Ok(Check::Unknown);
    };
    let Some(schema) = (reg.schema)() else {
        return Ok(Check::NoSchema);
    };
    let validator = jsonschema::validator_for(&schema).map_err(|e| {
        CliError::new(format!(
            "the schema of `{event_type}` is not a valid JSON Schema: {e}"
        ))
    })?;
    Ok(Check::Schema(reg.schema_version, Box::new(validator)))
}

/// Why the event's payload does not match (empty when it does).
fn payload_errors(validator: &jsonschema::Validator, event: &RecordedEvent) -> Vec<String> {
    let payload: Value = match serde_json::from_slice(&event.payload) {
        Ok(payload) => payload,
        Err(e) => return vec![format!("the payload is not JSON: {e}")],
    };
    validator
        .iter_errors(&payload)
        .take(ERRORS_PER_EVENT)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("at {at}: {e}")
            }
        })
        .collect()
}
