//! The subcommands of the `mailfault` binary, as library functions so that
//! tests can run them without spawning a process.

pub mod certs;
pub mod check;
pub mod codes;
pub mod explain;
pub mod healthcheck;
pub mod run;
pub mod serve;

/// Process exit codes shared by every subcommand, as the README and each
/// command's help state them: scripts and CI branch on them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const EXPECTATIONS_FAILED: u8 = 1;
    /// `serve` stopped by the system (a port in use, a disk that refuses):
    /// the command line was fine and may work on a second try.
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
}

/// The exit code once a command's output is written: a reader that went away
/// (`| head`) is not an error, any other write failure is.
fn exit_after_output(written: std::io::Result<()>) -> u8 {
    match written {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write output: {e}");
            exit::USAGE
        }
    }
}
