//! `mink saga list|show|retry`.
//!
//! Everything goes through the saga records in the store's database: a
//! retry stores the failed commands as pending again, and the manager
//! working the saga's type, in whichever process, sends them at its next
//! look (docs/adr/016-sagas.md).

use mink_runtime::saga::{SagaDetails, Sagas};
use mink_runtime::store::{SagaCommandRecord, SagaQuery, SagaRecord, SagaStatus};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Ctx;
use crate::args::{SagaCommand, SagaListArgs};
use crate::connect::Store;
use crate::error::{CliError, CliResult};
use crate::output::{Tone, time};

pub(crate) async fn run(ctx: &Ctx, command: SagaCommand) -> CliResult {
    let store = ctx.store().await?;
    let sagas = sagas_of(&store)?;
    match command {
        SagaCommand::List(args) => list(ctx, &sagas, args).await,
        SagaCommand::Show { id } => show(ctx, &sagas, &id).await,
        SagaCommand::Retry { id } => retry(ctx, &sagas, &id).await,
    }
}

fn sagas_of(store: &Store) -> CliResult<Sagas> {
    let records = store.store.saga_store().ok_or_else(|| {
        CliError::new("this store keeps no saga records")
            .hint("use a SQLite or PostgreSQL database URL")
    })?;
    Ok(Sagas::new(records))
}

fn parse_id(text: &str) -> CliResult<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        CliError::new(format!("`{text}` is not a saga id"))
            .hint("give the id `mink saga list` prints (a UUID)")
    })
}

fn parse_status(text: &str) -> CliResult<SagaStatus> {
    text.parse().map_err(|_| {
        CliError::new(format!("`{text}` is not a saga status")).hint(
            "use one of running, compensating, completed, failed, compensated, \
             compensation_failed",
        )
    })
}

fn status_word(ctx: &Ctx, status: SagaStatus) -> String {
    let tone = match status {
        SagaStatus::Running | SagaStatus::Completed => Tone::Good,
        SagaStatus::Compensating | SagaStatus::Compensated => Tone::Warn,
        SagaStatus::Failed | SagaStatus::CompensationFailed => Tone::Bad,
    };
    ctx.out.paint(status.as_str(), tone)
}

fn record_json(record: &SagaRecord) -> Value {
    json!({
        "id": record.id.to_string(),
        "saga_type": record.saga_type,
        "status": record.status.as_str(),
        "version": record.version,
        "state": serde_json::from_slice::<Value>(&record.state)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&record.state).into_owned())),
        "created_at": time(&record.created_at),
        "updated_at": time(&record.updated_at),
        "last_error": record.last_error,
    })
}

fn command_json(command: &SagaCommandRecord) -> Value {
    json!({
        "message_id": command.message_id.to_string(),
        "seq": command.seq,
        "kind": command.kind.as_str(),
        "name": command.name,
        "payload": serde_json::from_slice::<Value>(&command.payload).unwrap_or(Value::Null),
        "aggregate_id": command.aggregate_id,
        "status": command.status.as_str(),
        "attempts": command.attempts,
        "next_attempt_at": time(&command.next_attempt_at),
        "last_error": command.last_error,
        "compensates": command.compensates.map(|id| id.to_string()),
    })
}

fn details_json(details: &SagaDetails) -> Value {
    let mut value = record_json(&details.record);
    value["associations"] = details
        .associations
        .iter()
        .map(|a| json!({ "key": a.key, "value": a.value, "active": a.active }))
        .collect();
    value["commands"] = details.commands.iter().map(command_json).collect();
    value["pending_commands"] = json!(details.pending_commands().count());
    value["deadlines"] = details
        .deadlines
        .iter()
        .map(|d| json!({ "name": d.name, "due": time(&d.due), "event_type": d.event_type }))
        .collect();
    value["history"] = details
        .history
        .iter()
        .map(|h| json!({ "at": time(&h.at), "kind": h.kind, "detail": h.detail }))
        .collect();
    value
}

async fn list(ctx: &Ctx, sagas: &Sagas, args: SagaListArgs) -> CliResult {
    let query = SagaQuery {
        saga_type: args.saga_type,
        status: args.status.as_deref().map(parse_status).transpose()?,
        limit: args.limit,
    };
    let found = sagas
        .list(&query)
        .await
        .map_err(|e| CliError::store("could not read the sagas", e))?;
    if ctx.out.json() {
        let list: Vec<Value> = found.iter().map(record_json).collect();
        ctx.out.document(&json!({ "sagas": list }));
        return Ok(());
    }
    let mut table = ctx
        .out
        .table(&["id", "type", "status", "updated", "last error"]);
    for record in &found {
        table.add_row(vec![
            record.id.to_string(),
            record.saga_type.clone(),
            status_word(ctx, record.status),
            time(&record.updated_at),
            record.last_error.clone().unwrap_or_default(),
        ]);
    }
    ctx.out.print_table(&table, "no sagas match");
    Ok(())
}

async fn details(sagas: &Sagas, text: &str) -> CliResult<SagaDetails> {
    let id = parse_id(text)?;
    sagas
        .show(id)
        .await
        .map_err(|e| CliError::store("could not read the saga", e))?
        .ok_or_else(|| {
            CliError::new(format!("no saga has id {id}")).hint("list them with `mink saga list`")
        })
}

async fn show(ctx: &Ctx, sagas: &Sagas, text: &str) -> CliResult {
    let details = details(sagas, text).await?;
    if ctx.out.json() {
        ctx.out.document(&details_json(&details));
        return Ok(());
    }
    let r = &details.record;
    ctx.out.text(format!("saga        {}", r.id));
    ctx.out.text(format!("type        {}", r.saga_type));
    ctx.out
        .text(format!("status      {}", status_word(ctx, r.status)));
    ctx.out.text(format!("version     {}", r.version));
    ctx.out.text(format!("started     {}", time(&r.created_at)));
    ctx.out.text(format!("updated     {}", time(&r.updated_at)));
    if let Some(error) = &r.last_error {
        ctx.out.text(format!("last error  {error}"));
    }
    ctx.out
        .text(format!("state       {}", String::from_utf8_lossy(&r.state)));
    for a in &details.associations {
        let active = if a.active { "" } else { " (released)" };
        ctx.out
            .text(format!("association {} = {}{active}", a.key, a.value));
    }
    ctx.out.text("");
    let mut commands =
        ctx.out
            .table(&["seq", "kind", "command", "status", "attempts", "last error"]);
    for c in &details.commands {
        commands.add_row(vec![
            c.seq.to_string(),
            c.kind.as_str().to_owned(),
            c.name.clone(),
            c.status.as_str().to_owned(),
            c.attempts.to_string(),
            c.last_error.clone().unwrap_or_default(),
        ]);
    }
    ctx.out.print_table(&commands, "no commands");
    for d in &details.deadlines {
        ctx.out.text(format!(
            "deadline `{}` due {} ({})",
            d.name,
            time(&d.due),
            d.event_type
        ));
    }
    ctx.out.text("");
    for h in &details.history {
        ctx.out
            .text(format!("{}  {:<12} {}", time(&h.at), h.kind, h.detail));
    }
    Ok(())
}

async fn retry(ctx: &Ctx, sagas: &Sagas, text: &str) -> CliResult {
    let id = parse_id(text)?;
    let record = sagas.retry(id).await.map_err(|e| match e {
        mink_runtime::Error::InvalidInput { reason, .. } => CliError::new(reason)
            .hint("only failed sagas, sagas whose compensation failed, and running ones with pending commands can be retried"),
        other => CliError::store("could not retry the saga", other),
    })?;
    let details = details(sagas, &id.to_string()).await?;
    let pending = details.pending_commands().count();
    if ctx.out.json() {
        let mut value = record_json(&record);
        value["pending_commands"] = json!(pending);
        ctx.out.document(&value);
    } else {
        ctx.out.text(format!(
            "saga {id} is {} again; {pending} command(s) pending, sent by the manager of `{}` \
             wherever it runs",
            record.status, record.saga_type
        ));
    }
    Ok(())
}
