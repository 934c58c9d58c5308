//! The subcommands of the `mailfault` binary, as library functions so that
//! tests can run them without spawning a process.

pub mod check;
pub mod codes;
pub mod explain;
pub mod serve;

/// Process exit codes shared by every subcommand (DESIGN.md).
pub mod exit {
    pub const OK: u8 = 0;
    pub const EXPECTATIONS_FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
}
