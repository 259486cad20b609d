//! `mink events`: the global log, filtered, optionally followed.

use mink_runtime::subscription::StartFrom;
use mink_runtime::{Position, ReadAll, ReadFilter};

use super::stream::{PAGE, follow};
use super::{Ctx, parse_position, print_event};
use crate::args::EventsArgs;
use crate::error::{CliError, CliResult};

pub(crate) async fn run(ctx: &Ctx, args: EventsArgs) -> CliResult {
    let store = ctx.store().await?;
    let filter = ReadFilter {
        event_types: args.event_types,
        categories: args.categories,
        stream_ids: args.streams,
    };
    let mut after = match &args.from {
        Some(text) => parse_position(text)?,
        None => Position::START,
    };
    let mut left = args.limit.unwrap_or(usize::MAX);
    while left > 0 {
        let page = store
            .store
            .read_all_forward(ReadAll::after(after, left.min(PAGE)).filter(filter.clone()))
            .await
            .map_err(|e| CliError::store("could not read the log", e))?;
        let Some(last) = page.last() else { break };
        after = last.position;
        left -= page.len();
        for event in &page {
            print_event(&ctx.out, event)?;
        }
    }
    if args.follow {
        follow(ctx, store.store, StartFrom::After(after), filter, 0).await?;
    }
    Ok(())
}
