//! `mink stream list|show|events|stats|export`.

use std::io::Write;
use std::sync::Arc;

use futures::StreamExt;
use mink_runtime::adapters::memory::inspect::{StreamQuery, Tally};
use mink_runtime::subscription::{StartFrom, SubscriptionItem, subscribe_all};
use mink_runtime::{EventStore, Position, ReadAll, ReadFilter, StreamInfo};
use serde_json::{Value, json};

use super::{Ctx, event_json, print_event};
use crate::args::{ExportArgs, StreamCommand, StreamEventsArgs, StreamListArgs};
use crate::error::{CliError, CliResult};
use crate::output::{bytes, time};

/// Events read per page.
pub(crate) const PAGE: usize = 500;

pub(crate) async fn run(ctx: &Ctx, command: StreamCommand) -> CliResult {
    match command {
        StreamCommand::List(args) => list(ctx, args).await,
        StreamCommand::Show { id } => show(ctx, &id).await,
        StreamCommand::Events(args) => events(ctx, args).await,
        StreamCommand::Stats { top } => stats(ctx, top).await,
        StreamCommand::Export(args) => export(ctx, args).await,
    }
}

fn info_json(info: &StreamInfo) -> Value {
    json!({
        "stream_id": info.stream_id,
        "category": mink_runtime::category_of(&info.stream_id),
        "version": info.version,
        "created_at": time(&info.created_at),
        "updated_at": time(&info.updated_at),
    })
}

async fn list(ctx: &Ctx, args: StreamListArgs) -> CliResult {
    let store = ctx.store().await?;
    let query = StreamQuery {
        prefix: args.prefix,
        category: args.category,
        limit: args.limit,
    };
    let streams = store
        .any()?
        .list_streams(&query)
        .await
        .map_err(|e| CliError::store("could not list streams", e))?;
    if ctx.out.json() {
        let list: Vec<Value> = streams.iter().map(info_json).collect();
        ctx.out.document(&json!({ "streams": list }));
        return Ok(());
    }
    let mut table = ctx.out.table(&["stream", "version", "created", "updated"]);
    for s in &streams {
        table.add_row(vec![
            s.stream_id.clone(),
            s.version.to_string(),
            time(&s.created_at),
            time(&s.updated_at),
        ]);
    }
    ctx.out.print_table(&table, "no streams");
    Ok(())
}

async fn show(ctx: &Ctx, id: &str) -> CliResult {
    let store = ctx.store().await?;
    let info = store
        .store
        .stream_info(id)
        .await
        .map_err(|e| CliError::store(&format!("could not read stream `{id}`"), e))?
        .ok_or_else(|| {
            CliError::new(format!("there is no stream `{id}`"))
                .hint("list the streams with `mink stream list`")
        })?;
    if ctx.out.json() {
        ctx.out.document(&info_json(&info));
    } else {
        ctx.out.text(format!(
            "stream   {}\ncategory {}\nversion  {}\ncreated  {}\nupdated  {}",
            info.stream_id,
            mink_runtime::category_of(&info.stream_id),
            info.version,
            time(&info.created_at),
            time(&info.updated_at)
        ));
    }
    Ok(())
}

async fn events(ctx: &Ctx, args: StreamEventsArgs) -> CliResult {
    let store = ctx.store().await?;
    let mut left = args.limit.unwrap_or(usize::MAX);
    let mut version = args.from.max(1);
    let mut last: Option<Position> = None;
    while left > 0 {
        let page = store
            .store
            .read_stream_forward(&args.id, version, left.min(PAGE))
            .await
            .map_err(|e| CliError::store(&format!("could not read stream `{}`", args.id), e))?;
        let Some(tail) = page.last() else { break };
        version = tail.version + 1;
        last = Some(tail.position);
        left -= page.len();
        for event in &page {
            print_event(&ctx.out, event)?;
        }
    }
    if args.follow {
        let start = last.map_or(StartFrom::Beginning, StartFrom::After);
        let filter = ReadFilter::default().stream(args.id.clone());
        follow(ctx, store.store, start, filter, version).await?;
    }
    Ok(())
}

/// Prints events of `filter` after `start` as they are appended, until
/// interrupted. Events below `min_version` (already printed) are skipped.
pub(crate) async fn follow(
    ctx: &Ctx,
    store: Arc<dyn EventStore>,
    start: StartFrom,
    filter: ReadFilter,
    min_version: u64,
) -> CliResult {
    let mut subscription = subscribe_all(store, start, filter);
    loop {
        tokio::select! {
            item = subscription.next() => match item {
                Some(Ok(SubscriptionItem::Event(event))) => {
                    if event.version >= min_version || min_version <= 1 {
                        print_event(&ctx.out, &event)?;
                    }
                }
                Some(Ok(SubscriptionItem::CaughtUp)) => {}
                Some(Err(e)) => return Err(CliError::store("following the log failed", e)),
                None => return Ok(()),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

fn tallies_json(tallies: &[Tally]) -> Vec<Value> {
    tallies
        .iter()
        .map(|t| json!({ "name": t.name, "events": t.events, "bytes": t.bytes }))
        .collect()
}

async fn stats(ctx: &Ctx, top: usize) -> CliResult {
    let store = ctx.store().await?;
    let stats = store
        .any()?
        .log_stats(top)
        .await
        .map_err(|e| CliError::store("could not count the log", e))?;
    if ctx.out.json() {
        ctx.out.document(&json!({
            "events": stats.events,
            "streams": stats.streams,
            "payload_bytes": stats.payload_bytes,
            "database_bytes": stats.database_bytes,
            "first_event_at": stats.first_event_at.as_ref().map(time),
            "last_event_at": stats.last_event_at.as_ref().map(time),
            "event_types": tallies_json(&stats.event_types),
            "categories": tallies_json(&stats.categories),
            "top_streams": tallies_json(&stats.top_streams),
        }));
        return Ok(());
    }
    ctx.out.text(format!(
        "events    {}\nstreams   {}\npayloads  {}\ndatabase  {}\nfirst     {}\nlast      {}\n",
        stats.events,
        stats.streams,
        bytes(stats.payload_bytes),
        stats.database_bytes.map_or("-".to_owned(), bytes),
        stats.first_event_at.as_ref().map_or("-".to_owned(), time),
        stats.last_event_at.as_ref().map_or("-".to_owned(), time),
    ));
    for (title, none, tallies) in [
        ("event type", "no events", &stats.event_types),
        ("category", "no categories", &stats.categories),
        ("stream", "no streams", &stats.top_streams),
    ] {
        let mut table = ctx.out.table(&[title, "events", "bytes"]);
        for t in tallies {
            table.add_row(vec![t.name.clone(), t.events.to_string(), bytes(t.bytes)]);
        }
        ctx.out.print_table(&table, none);
        ctx.out.text("");
    }
    Ok(())
}

async fn export(ctx: &Ctx, args: ExportArgs) -> CliResult {
    let store = ctx.store().await?;
    let filter = match (&args.id, &args.category) {
        (Some(id), _) => ReadFilter::default().stream(id.clone()),
        (None, Some(category)) => ReadFilter::default().category(category.clone()),
        (None, None) => ReadFilter::default(),
    };
    let head = store
        .store
        .head_position()
        .await
        .map_err(|e| CliError::store("could not read the log's head", e))?;
    let total = match &args.id {
        Some(id) => store
            .store
            .stream_info(id)
            .await
            .map_err(|e| CliError::store("could not read the stream", e))?
            .map_or(0, |i| i.version),
        None => head.event,
    };
    let mut sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::io(&format!("could not create `{}`", path.display()), e))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = ctx.out.progress(Some(total), "exporting");
    let mut after = Position::START;
    let mut written = 0u64;
    loop {
        let page = store
            .store
            .read_all_forward(ReadAll::after(after, PAGE).filter(filter.clone()))
            .await
            .map_err(|e| CliError::store("could not read the log", e))?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in &page {
            let line = serde_json::to_string(&event_json(event)).unwrap_or_default();
            writeln!(sink, "{line}").map_err(|e| CliError::io("writing the export", e))?;
        }
        written += page.len() as u64;
        bar.set_position(if args.id.is_some() {
            written
        } else {
            after.event
        });
        if after >= head {
            break;
        }
    }
    sink.flush()
        .map_err(|e| CliError::io("writing the export", e))?;
    bar.finish_and_clear();
    if let Some(path) = &args.output {
        eprintln!("exported {written} events to {}", path.display());
    }
    Ok(())
}
