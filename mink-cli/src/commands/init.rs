//! `mink init`: a new application that builds, and whose test passes.

use std::path::Path;

use serde_json::json;

use super::Ctx;
use super::templates::{self, fill};
use crate::args::{InitArgs, StoreKind};
use crate::error::{CliError, CliResult};

pub(crate) fn run(ctx: &Ctx, args: InitArgs) -> CliResult {
    let dir = &args.dir;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => std::path::absolute(dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "app".to_owned()),
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(CliError::new(format!("`{name}` is not a crate name"))
            .hint("pass --name with letters, digits, `-` or `_`, starting with a letter"));
    }
    if dir.exists()
        && !args.force
        && std::fs::read_dir(dir)
            .map_err(|e| CliError::io(&format!("could not read `{}`", dir.display()), e))?
            .next()
            .is_some()
    {
        return Err(CliError::new(format!("`{}` is not empty", dir.display()))
            .hint("pick a new directory, or pass --force to write into it"));
    }
    let mink_path = std::path::absolute(&args.mink_path)
        .map_err(|e| CliError::io("could not resolve --mink-path", e))?;
    if !mink_path.join("Cargo.toml").exists() {
        return Err(CliError::new(format!(
            "there is no mink crate at `{}`",
            mink_path.display()
        ))
        .hint("pass --mink-path with the path of mink's `mink/` directory"));
    }
    let (store, url) = match args.store {
        StoreKind::Sqlite => ("sqlite", format!("sqlite://{name}.db")),
        StoreKind::Postgres => ("postgres", format!("postgres://localhost/{name}")),
    };
    let krate = name.replace('-', "_");
    let mink_path_text = mink_path.display().to_string();
    let values = [
        ("name", name.as_str()),
        ("crate", krate.as_str()),
        ("store", store),
        ("url", url.as_str()),
        ("mink_path", mink_path_text.as_str()),
    ];
    let files = [
        ("Cargo.toml", templates::CARGO_TOML),
        (".gitignore", templates::GITIGNORE),
        (".env", templates::ENV),
        ("README.md", templates::README),
        ("src/lib.rs", templates::LIB),
        ("src/main.rs", templates::MAIN),
        ("src/account.rs", templates::ACCOUNT),
        ("src/balances.rs", templates::BALANCES),
        ("tests/account.rs", templates::TEST),
    ];
    let mut written = Vec::new();
    for (path, template) in files {
        write(&dir.join(path), &fill(template, &values))?;
        written.push(path);
    }
    if ctx.out.json() {
        ctx.out.document(&json!({
            "name": name, "dir": dir.display().to_string(), "store": store, "files": written,
        }));
    } else {
        ctx.out.text(format!(
            "created application `{name}` in {}\n\n  cd {}\n  cargo test\n  cargo run",
            dir.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// Writes `text` to `path`, creating its directory.
pub(crate) fn write(path: &Path, text: &str) -> CliResult {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| CliError::io(&format!("could not create `{}`", parent.display()), e))?;
    }
    std::fs::write(path, text)
        .map_err(|e| CliError::io(&format!("could not write `{}`", path.display()), e))
}
