//! `mink projection list|status|pause|resume|rebuild|dead-letters`.
//!
//! Everything goes through the projection records in the store's database:
//! the engine working a projection, in whichever process, reads the
//! control requests there and reports its state there, so these commands
//! act on it and wait for it to confirm.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use mink_runtime::store::{
    DeadLetter, Desired, ProjectionRecord, ProjectionState, ProjectionStore,
};
use mink_runtime::{EventStore, Position, ReadAll};
use serde_json::{Value, json};

use super::{Ctx, parse_position};
use crate::args::{ControlArgs, DeadLetterArgs, DeadLetterCommand, ProjectionCommand, RebuildArgs};
use crate::connect::Store;
use crate::error::{CliError, CliResult};
use crate::output::{Tone, time};

/// How often a waiting command reads the record again.
const POLL: Duration = Duration::from_millis(100);

pub(crate) async fn run(ctx: &Ctx, command: ProjectionCommand) -> CliResult {
    let store = ctx.store().await?;
    match command {
        ProjectionCommand::List => list(ctx, &store).await,
        ProjectionCommand::Status { name } => status(ctx, &store, &name).await,
        ProjectionCommand::Pause(args) => control(ctx, &store, args, Desired::Paused).await,
        ProjectionCommand::Resume(args) => control(ctx, &store, args, Desired::Running).await,
        ProjectionCommand::Rebuild(args) => rebuild(ctx, &store, args).await,
        ProjectionCommand::DeadLetters(command) => dead_letters(ctx, &store, command).await,
    }
}

/// A projection as the commands report it.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub name: String,
    pub state: ProjectionState,
    pub desired: Desired,
    pub checkpoint: Position,
    pub head: Position,
    pub lag_events: u64,
    pub lag_seconds: f64,
    pub owner: Option<String>,
    pub lease_live: bool,
    pub lease_expires_at: Option<chrono::DateTime<Utc>>,
    pub heartbeat_at: Option<chrono::DateTime<Utc>>,
    pub events_processed: u64,
    pub last_error: Option<String>,
    pub dead_letters: usize,
    pub rebuild: Option<mink_runtime::store::RebuildRequest>,
}

impl View {
    pub(crate) fn json(&self) -> Value {
        json!({
            "name": self.name,
            "state": self.state.as_str(),
            "desired": self.desired.as_str(),
            "checkpoint": self.checkpoint.to_string(),
            "head": self.head.to_string(),
            "lag_events": self.lag_events,
            "lag_seconds": self.lag_seconds,
            "owner": self.owner,
            "lease_live": self.lease_live,
            "lease_expires_at": self.lease_expires_at.as_ref().map(time),
            "heartbeat_at": self.heartbeat_at.as_ref().map(time),
            "events_processed": self.events_processed,
            "last_error": self.last_error,
            "dead_letters": self.dead_letters,
            "rebuild": self.rebuild.map(|r| json!({
                "id": r.id,
                "from": r.from.to_string(),
                "to": r.to.map(|p| p.to_string()),
                "started": r.started,
            })),
        })
    }
}

/// The view of `record`: the state its worker reported while its lease is
/// live; `stopped` once no instance holds it (a faulted projection stays
/// faulted, so the fault is not hidden by the worker's exit).
pub(crate) async fn view(
    store: &Arc<dyn EventStore>,
    projections: &Arc<dyn ProjectionStore>,
    record: ProjectionRecord,
    head: Position,
) -> CliResult<View> {
    let lease_live = record.lease_expires_at.is_some_and(|t| t > Utc::now());
    let state = if lease_live || record.state == ProjectionState::Faulted {
        record.state
    } else {
        ProjectionState::Stopped
    };
    let lag_events = head.event.saturating_sub(record.checkpoint.event);
    let mut lag_seconds = 0.0;
    if record.checkpoint < head {
        // The oldest event after the checkpoint: without the projection's
        // types at hand this is an upper bound of its lag.
        if let Ok(next) = store
            .read_all_forward(ReadAll::after(record.checkpoint, 1))
            .await
            && let Some(oldest) = next.first()
        {
            lag_seconds = (Utc::now() - oldest.timestamp).num_milliseconds().max(0) as f64 / 1000.0;
        }
    }
    let dead_letters = projections
        .dead_letters(&record.name)
        .await
        .map_err(|e| CliError::store("could not read dead letters", e))?
        .len();
    Ok(View {
        state,
        desired: record.desired,
        checkpoint: record.checkpoint,
        head,
        lag_events,
        lag_seconds,
        lease_live,
        owner: record.owner,
        lease_expires_at: record.lease_expires_at,
        heartbeat_at: record.heartbeat_at,
        events_processed: record.events_processed,
        last_error: record.last_error,
        dead_letters,
        rebuild: record.rebuild,
        name: record.name,
    })
}

/// Every projection: the stored records, and (embedded) the engine's
/// projections that have none yet; exact lag from the engine when it runs
/// the projection.
pub(crate) async fn views(ctx: &Ctx, store: &Store) -> CliResult<Vec<View>> {
    let projections = store.projections()?;
    let head = store
        .store
        .head_position()
        .await
        .map_err(|e| CliError::store("could not read the log's head", e))?;
    let records = projections
        .records()
        .await
        .map_err(|e| CliError::store("could not read the projection records", e))?;
    let mut views = Vec::with_capacity(records.len());
    for record in records {
        views.push(view(&store.store, &projections, record, head).await?);
    }
    if let Some(engine) = &ctx.app.engine {
        for name in engine.names() {
            let Ok(status) = engine.status_of(name).await else {
                continue;
            };
            match views.iter_mut().find(|v| v.name == name) {
                Some(v) => {
                    v.lag_events = status.lag_events;
                    v.lag_seconds = status.lag_seconds;
                }
                None => views.push(View {
                    name: name.to_owned(),
                    state: status.state,
                    desired: Desired::Running,
                    checkpoint: status.checkpoint,
                    head: status.head,
                    lag_events: status.lag_events,
                    lag_seconds: status.lag_seconds,
                    owner: status.owner,
                    lease_live: status.owned_here,
                    lease_expires_at: None,
                    heartbeat_at: None,
                    events_processed: status.events_processed,
                    last_error: status.last_error,
                    dead_letters: status.dead_letters,
                    rebuild: None,
                }),
            }
        }
        views.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(views)
}

fn state_word(ctx: &Ctx, state: ProjectionState) -> String {
    let tone = match state {
        ProjectionState::Running => Tone::Good,
        ProjectionState::Paused | ProjectionState::Rebuilding => Tone::Warn,
        ProjectionState::Faulted => Tone::Bad,
        ProjectionState::Stopped => Tone::Dim,
    };
    ctx.out.paint(state.as_str(), tone)
}

async fn list(ctx: &Ctx, store: &Store) -> CliResult {
    let views = views(ctx, store).await?;
    if ctx.out.json() {
        let list: Vec<Value> = views.iter().map(View::json).collect();
        ctx.out.document(&json!({ "projections": list }));
        return Ok(());
    }
    let mut table = ctx.out.table(&[
        "projection",
        "state",
        "checkpoint",
        "lag",
        "lag (s)",
        "owner",
        "dead",
        "last error",
    ]);
    for v in &views {
        table.add_row(vec![
            v.name.clone(),
            state_word(ctx, v.state),
            v.checkpoint.to_string(),
            v.lag_events.to_string(),
            format!("{:.1}", v.lag_seconds),
            v.owner.clone().unwrap_or_else(|| "-".to_owned()),
            v.dead_letters.to_string(),
            v.last_error.clone().unwrap_or_default(),
        ]);
    }
    ctx.out
        .print_table(&table, "no projections have run on this store");
    Ok(())
}

async fn find(ctx: &Ctx, store: &Store, name: &str) -> CliResult<View> {
    views(ctx, store)
        .await?
        .into_iter()
        .find(|v| v.name == name)
        .ok_or_else(|| unknown(name))
}

fn unknown(name: &str) -> CliError {
    CliError::new(format!("no projection `{name}` has run on this store"))
        .hint("list the projections with `mink projection list`; names are case-sensitive")
}

async fn status(ctx: &Ctx, store: &Store, name: &str) -> CliResult {
    let v = find(ctx, store, name).await?;
    if ctx.out.json() {
        ctx.out.document(&v.json());
        return Ok(());
    }
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
    let mut text = format!(
        "projection        {}\nstate             {}\ndesired           {}\ncheckpoint        {}\n\
         head              {}\nlag               {} events, {:.1} s\nowner             {}{}\n\
         lease expires     {}\nlast heartbeat    {}\nevents processed  {}\ndead letters      {}\n\
         last error        {}",
        v.name,
        state_word(ctx, v.state),
        v.desired.as_str(),
        v.checkpoint,
        v.head,
        v.lag_events,
        v.lag_seconds,
        opt(&v.owner),
        if v.owner.is_some() && !v.lease_live {
            " (lease expired)"
        } else {
            ""
        },
        v.lease_expires_at.as_ref().map_or("-".to_owned(), time),
        v.heartbeat_at.as_ref().map_or("-".to_owned(), time),
        v.events_processed,
        v.dead_letters,
        opt(&v.last_error),
    );
    if let Some(r) = v.rebuild {
        text.push_str(&format!(
            "\nrebuild           #{} after {} up to {} ({})",
            r.id,
            r.from,
            r.to.map_or("the head".to_owned(), |p| p.to_string()),
            if r.started { "under way" } else { "waiting" }
        ));
    }
    ctx.out.text(text);
    Ok(())
}

/// Pause or resume: store the request, then wait for the owner's report.
async fn control(ctx: &Ctx, store: &Store, args: ControlArgs, desired: Desired) -> CliResult {
    let projections = store.projections()?;
    let verb = match desired {
        Desired::Paused => "pause",
        Desired::Running => "resume",
    };
    let before = projections
        .record(&args.name)
        .await
        .map_err(|e| CliError::store("could not read the projection", e))?;
    if before.is_none()
        && ctx
            .app
            .engine
            .as_ref()
            .is_none_or(|e| !e.names().any(|n| n == args.name))
    {
        return Err(unknown(&args.name));
    }
    projections
        .set_desired(&args.name, desired)
        .await
        .map_err(|e| CliError::store(&format!("could not ask `{}` to {verb}", args.name), e))?;
    let report = |outcome: &str, record: Option<&ProjectionRecord>| {
        if ctx.out.json() {
            ctx.out.document(&json!({
                "projection": args.name,
                "requested": desired.as_str(),
                "outcome": outcome,
                "state": record.map(|r| r.state.as_str()),
                "checkpoint": record.map(|r| r.checkpoint.to_string()),
                "owner": record.and_then(|r| r.owner.clone()),
            }));
        }
    };
    if args.no_wait {
        report("requested", None);
        if !ctx.out.json() {
            ctx.out.text(format!(
                "asked `{}` to {verb}; the engine working it applies the request at its next heartbeat",
                args.name
            ));
        }
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let record = projections
            .record(&args.name)
            .await
            .map_err(|e| CliError::store("could not read the projection", e))?;
        let live = record
            .as_ref()
            .is_some_and(|r| r.lease_expires_at.is_some_and(|t| t > Utc::now()));
        let confirmed = record.as_ref().is_some_and(|r| match desired {
            Desired::Paused => r.state == ProjectionState::Paused,
            Desired::Running => r.state != ProjectionState::Paused,
        });
        if !live {
            report("no-engine", record.as_ref());
            if !ctx.out.json() {
                ctx.out.text(format!(
                    "asked `{}` to {verb}; no engine is working it now, so it will {} when one starts",
                    args.name,
                    match desired {
                        Desired::Paused => "stay paused",
                        Desired::Running => "run",
                    }
                ));
            }
            return Ok(());
        }
        if confirmed {
            report("confirmed", record.as_ref());
            if !ctx.out.json() {
                let r = record.as_ref();
                ctx.out.text(format!(
                    "{} `{}`: {} confirmed; checkpoint {}",
                    match desired {
                        Desired::Paused => "paused",
                        Desired::Running => "resumed",
                    },
                    args.name,
                    r.and_then(|r| r.owner.clone()).unwrap_or_default(),
                    r.map_or(Position::START, |r| r.checkpoint),
                ));
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CliError::new(format!(
                "asked `{}` to {verb}, but its engine ({}) did not confirm within {} s; \
                 the request stays stored and is applied when the engine next reads it",
                args.name,
                record.and_then(|r| r.owner).unwrap_or_default(),
                args.timeout
            ))
            .hint(format!(
                "check the engine with `mink projection status {}`, or wait longer with --timeout",
                args.name
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn rebuild(ctx: &Ctx, store: &Store, args: RebuildArgs) -> CliResult {
    let projections = store.projections()?;
    let from = args
        .from
        .as_deref()
        .map(parse_position)
        .transpose()?
        .unwrap_or(Position::START);
    let to = args.to.as_deref().map(parse_position).transpose()?;
    let record = projections
        .record(&args.name)
        .await
        .map_err(|e| CliError::store("could not read the projection", e))?
        .ok_or_else(|| unknown(&args.name))?;
    let what = format!(
        "rebuild `{}`: clear its read model and replay the log after {from}{}",
        args.name,
        to.map_or(String::new(), |t| format!(" up to {t}"))
    );
    if args.dry_run {
        if ctx.out.json() {
            ctx.out.document(&json!({
                "projection": args.name, "dry_run": true,
                "from": from.to_string(), "to": to.map(|t| t.to_string()),
                "checkpoint": record.checkpoint.to_string(),
            }));
        } else {
            ctx.out.text(format!(
                "would {what} (checkpoint now {})",
                record.checkpoint
            ));
        }
        return Ok(());
    }
    ctx.out
        .confirm(&format!("This will {what}"), ctx.global.yes)?;
    let id = projections
        .request_rebuild(&args.name, from, to)
        .await
        .map_err(|e| CliError::store("could not request the rebuild", e))?;
    let live = record.lease_expires_at.is_some_and(|t| t > Utc::now());
    if args.no_wait || !live {
        if ctx.out.json() {
            ctx.out.document(&json!({
                "projection": args.name, "request": id,
                "outcome": if live { "requested" } else { "no-engine" },
            }));
        } else {
            ctx.out.text(format!(
                "rebuild #{id} of `{}` requested; {}",
                args.name,
                if live {
                    "the engine working it runs it"
                } else {
                    "no engine is working it now: it runs when one starts"
                }
            ));
        }
        return Ok(());
    }
    let head = store
        .store
        .head_position()
        .await
        .map_err(|e| CliError::store("could not read the log's head", e))?;
    let end = to.unwrap_or(head);
    let bar = ctx.out.progress(
        Some(end.event.saturating_sub(from.event)),
        &format!("rebuilding {}", args.name),
    );
    let deadline = (args.timeout > 0).then(|| Instant::now() + Duration::from_secs(args.timeout));
    loop {
        let now = projections
            .record(&args.name)
            .await
            .map_err(|e| CliError::store("could not read the projection", e))?
            .ok_or_else(|| unknown(&args.name))?;
        let mine = now.rebuild.filter(|r| r.id == id);
        if let Some(r) = mine
            && r.started
        {
            bar.set_position(now.checkpoint.event.saturating_sub(from.event));
        }
        if mine.is_none() {
            bar.finish_and_clear();
            if now.state == ProjectionState::Faulted {
                return Err(CliError::new(format!(
                    "the rebuild of `{}` stopped: the projection is faulted: {}",
                    args.name,
                    now.last_error.unwrap_or_default()
                ))
                .hint(format!(
                    "fix the cause, then `mink projection resume {}`",
                    args.name
                )));
            }
            if ctx.out.json() {
                ctx.out.document(&json!({
                    "projection": args.name, "request": id, "outcome": "finished",
                    "checkpoint": now.checkpoint.to_string(),
                }));
            } else {
                ctx.out.text(format!(
                    "rebuilt `{}` (request #{id}); checkpoint {}",
                    args.name, now.checkpoint
                ));
            }
            return Ok(());
        }
        // Rebuilding to the head: done once it has caught up with the head
        // seen when the request was made; the request then stays open so
        // the projection keeps going.
        if to.is_none() && mine.is_some_and(|r| r.started) && now.checkpoint >= head {
            bar.finish_and_clear();
            if ctx.out.json() {
                ctx.out.document(&json!({
                    "projection": args.name, "request": id, "outcome": "caught-up",
                    "checkpoint": now.checkpoint.to_string(),
                }));
            } else {
                ctx.out.text(format!(
                    "rebuilt `{}` up to the head {} (request #{id})",
                    args.name, now.checkpoint
                ));
            }
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            bar.abandon();
            return Err(CliError::new(format!(
                "the rebuild of `{}` did not finish within {} s; it goes on in its engine",
                args.name, args.timeout
            ))
            .hint(format!(
                "follow it with `mink projection status {}`",
                args.name
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn letter_json(d: &DeadLetter) -> Value {
    json!({
        "projection": d.projection,
        "position": d.position.to_string(),
        "event_id": d.event_id.to_string(),
        "stream_id": d.stream_id,
        "version": d.version,
        "event_type": d.event_type,
        "error": d.error,
        "attempts": d.attempts,
        "parked_at": time(&d.parked_at),
    })
}

async fn dead_letters(ctx: &Ctx, store: &Store, command: DeadLetterCommand) -> CliResult {
    let projections = store.projections()?;
    let read = |name: String| {
        let projections = projections.clone();
        async move {
            projections
                .dead_letters(&name)
                .await
                .map_err(|e| CliError::store("could not read dead letters", e))
        }
    };
    match command {
        DeadLetterCommand::List { name } => {
            let letters = read(name).await?;
            if ctx.out.json() {
                let list: Vec<Value> = letters.iter().map(letter_json).collect();
                ctx.out.document(&json!({ "dead_letters": list }));
                return Ok(());
            }
            let mut table = ctx.out.table(&[
                "position", "stream", "version", "type", "attempts", "parked", "error",
            ]);
            for d in &letters {
                table.add_row(vec![
                    d.position.to_string(),
                    d.stream_id.clone(),
                    d.version.to_string(),
                    d.event_type.clone(),
                    d.attempts.to_string(),
                    time(&d.parked_at),
                    d.error.clone(),
                ]);
            }
            ctx.out.print_table(&table, "no parked events");
            Ok(())
        }
        DeadLetterCommand::Retry(args) => {
            let engine = ctx.app.engine.as_ref().ok_or_else(|| {
                CliError::new(
                    "replaying a parked event runs the projection's handler, which this binary does not have",
                )
                .hint("run the command through the application's own entry point (`mink_cli::run`), in the process whose engine works the projection")
            })?;
            let chosen = choose(read(args.name.clone()).await?, &args)?;
            let mut done = Vec::new();
            for d in &chosen {
                if args.dry_run {
                    done.push(letter_json(d));
                    continue;
                }
                engine
                    .replay_dead_letter(&args.name, d.position)
                    .await
                    .map_err(|e| CliError::store(&format!("replaying {} failed", d.position), e))?;
                done.push(letter_json(d));
            }
            finish_letters(ctx, &args, "replayed", done);
            Ok(())
        }
        DeadLetterCommand::Drop(args) => {
            let chosen = choose(read(args.name.clone()).await?, &args)?;
            if !args.dry_run {
                ctx.out.confirm(
                    &format!(
                        "This will drop {} parked event(s) of `{}` for good",
                        chosen.len(),
                        args.name
                    ),
                    ctx.global.yes,
                )?;
            }
            let mut done = Vec::new();
            for d in &chosen {
                if !args.dry_run {
                    projections
                        .remove_dead_letter(&args.name, d.position)
                        .await
                        .map_err(|e| CliError::store("could not drop the parked event", e))?;
                }
                done.push(letter_json(d));
            }
            finish_letters(ctx, &args, "dropped", done);
            Ok(())
        }
    }
}

fn choose(letters: Vec<DeadLetter>, args: &DeadLetterArgs) -> CliResult<Vec<DeadLetter>> {
    if args.all {
        return Ok(letters);
    }
    let position = parse_position(args.position.as_deref().unwrap_or_default())?;
    let found: Vec<DeadLetter> = letters
        .into_iter()
        .filter(|d| {
            d.position == position
                || (position.commit == position.event && d.position.event == position.event)
        })
        .collect();
    if found.is_empty() {
        return Err(
            CliError::new(format!("`{}` has no parked event at {position}", args.name)).hint(
                format!(
                    "list them with `mink projection dead-letters list {}`",
                    args.name
                ),
            ),
        );
    }
    Ok(found)
}

fn finish_letters(ctx: &Ctx, args: &DeadLetterArgs, verb: &str, done: Vec<Value>) {
    if ctx.out.json() {
        ctx.out.document(&json!({
            "projection": args.name, "dry_run": args.dry_run, verb: done,
        }));
    } else if args.dry_run {
        ctx.out
            .text(format!("would have {verb} {} parked event(s)", done.len()));
    } else {
        ctx.out.text(format!(
            "{verb} {} parked event(s) of `{}`",
            done.len(),
            args.name
        ));
    }
}
