//! The `mink` binary. See the `mink_cli` library for the commands.

fn main() -> std::process::ExitCode {
    mink_cli::main()
}
