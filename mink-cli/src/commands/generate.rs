//! `mink generate` (alias `g`): a module using mink's macros, added to the
//! crate's `src/lib.rs`.

use serde_json::json;

use super::Ctx;
use super::init::write;
use super::templates::{self, fill};
use crate::args::{GenerateArgs, GenerateKind};
use crate::error::{CliError, CliResult};

/// `OrderLine` → `order_line`.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn camel_ok(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

pub(crate) fn run(ctx: &Ctx, args: GenerateArgs) -> CliResult {
    let name = args.name.trim();
    for n in std::iter::once(name)
        .chain(args.events.iter().map(String::as_str))
        .chain(args.aggregate.as_deref())
    {
        if !camel_ok(n) {
            return Err(CliError::new(format!("`{n}` is not a CamelCase Rust name"))
                .hint("use letters and digits starting with a capital: `Order`, `PlaceOrder`"));
        }
    }
    let src = args.dir.join("src");
    let lib = src.join("lib.rs");
    if !lib.exists() {
        return Err(CliError::new(format!("there is no `{}`", lib.display()))
            .hint("run it in a crate made by `mink init`, or pass --dir"));
    }
    let module = snake(name);
    let file = src.join(format!("{module}.rs"));
    if file.exists() && !args.force {
        return Err(
            CliError::new(format!("`{}` exists already", file.display()))
                .hint("pick another name, or pass --force to overwrite it"),
        );
    }
    let variants = |prefix: &str, default: &str| -> String {
        let names: Vec<&str> = if args.events.is_empty() {
            vec![default]
        } else {
            args.events.iter().map(String::as_str).collect()
        };
        names
            .iter()
            .map(|v| {
                fill(
                    templates::GEN_VARIANT,
                    &[("Variant", v), ("Prefix", prefix)],
                )
            })
            .collect()
    };
    let text = match args.kind {
        GenerateKind::Aggregate => {
            let first = args.events.first().map_or("Created", String::as_str);
            fill(
                templates::GEN_AGGREGATE,
                &[
                    ("variants", &variants(name, "Created")),
                    ("Name", name),
                    ("snake", &module),
                    ("category", &module.replace('_', "")),
                    ("First", first),
                    ("first_snake", &snake(first)),
                ],
            )
        }
        GenerateKind::Event => fill(
            templates::GEN_EVENT,
            &[("variants", &variants("", "Happened")), ("Name", name)],
        ),
        GenerateKind::Command => {
            let aggregate = args.aggregate.as_deref().ok_or_else(|| {
                CliError::new("a command belongs to an aggregate")
                    .hint("pass --aggregate <Name> (generated with `mink generate aggregate`)")
            })?;
            fill(
                templates::GEN_COMMAND,
                &[
                    ("Name", name),
                    ("snake", &module),
                    ("Aggregate", aggregate),
                    ("agg_snake", &snake(aggregate)),
                ],
            )
        }
        GenerateKind::Projection => {
            let (events, events_module) = match (args.events.first(), &args.aggregate) {
                (Some(events), _) => (events.clone(), snake(events)),
                (None, Some(aggregate)) => (format!("{aggregate}Event"), snake(aggregate)),
                (None, None) => {
                    return Err(CliError::new("a projection needs the events it handles").hint(
                        "pass --aggregate <Name> (its `<Name>Event` enum) or --events <EventEnum>",
                    ));
                }
            };
            fill(
                templates::GEN_PROJECTION,
                &[
                    ("Name", name),
                    ("kebab", &module.replace('_', "-")),
                    ("Events", &events),
                    ("events_module", &events_module),
                ],
            )
        }
    };
    write(&file, &text)?;
    let lib_text = std::fs::read_to_string(&lib)
        .map_err(|e| CliError::io(&format!("could not read `{}`", lib.display()), e))?;
    let line = format!("pub mod {module};");
    let added = !lib_text.lines().any(|l| l.trim() == line);
    if added {
        let mut text = lib_text;
        // After the last `mod` line, or at the end.
        let at = text
            .match_indices("\npub mod ")
            .last()
            .and_then(|(i, _)| text[i + 1..].find('\n').map(|n| i + 1 + n + 1))
            .unwrap_or(text.len());
        text.insert_str(at, &format!("{line}\n"));
        write(&lib, &text)?;
    }
    if ctx.out.json() {
        ctx.out.document(&json!({
            "file": file.display().to_string(), "module": module, "lib_updated": added,
        }));
    } else {
        ctx.out.text(format!("created {}", file.display()));
        if added {
            ctx.out.text(format!("added `{line}` to {}", lib.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn snake_case() {
        assert_eq!(snake("Order"), "order");
        assert_eq!(snake("PlaceOrder"), "place_order");
    }
}
