//! `mailfault run SCENARIO -- COMMAND...`: serve the scenario on free ports,
//! run the sender against it, then grade the sender with the scenario's
//! `expect:` block and say why, in text, JSON and JUnit XML.
//!
//! The command learns where to send from `MAILFAULT_SMTP_HOST`,
//! `MAILFAULT_SMTP_PORT`, `MAILFAULT_SMTP_URL` and `MAILFAULT_HTTP_URL`
//! (plus `MAILFAULT_CA_FILE` with `--tls auto`). Its own output goes
//! straight to the terminal; its exit status is reported, never hidden.

use std::io::{IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::exit;
use super::serve::{TlsMode, tls_listen};
use crate::expect::{self, Report, RunFacts};
use crate::scenario::Scenario;
use crate::store::Store;
use crate::transport::{self, Control};

/// How long a run waits for the sender when the scenario sets no `within`.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(600);

/// `--report json:FILE` or `--report junit:FILE` (`-` is standard output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportTarget {
    pub format: ReportFormat,
    pub path: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Junit,
}

impl std::str::FromStr for ReportTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (format, path) = match s.split_once(':') {
            Some(("json", path)) => (ReportFormat::Json, path),
            Some(("junit", path)) => (ReportFormat::Junit, path),
            _ => {
                return Err(format!(
                    "`{s}` is not a report; use json:FILE or junit:FILE (e.g. junit:mailfault.xml)"
                ));
            }
        };
        if path.is_empty() {
            return Err(format!(
                "`{s}` names no file; e.g. {s}report.out, or - for stdout"
            ));
        }
        Ok(Self {
            format,
            path: path.into(),
        })
    }
}

pub struct RunOptions {
    pub scenario: PathBuf,
    pub reports: Vec<ReportTarget>,
    pub tls: TlsMode,
    pub certs_dir: PathBuf,
    /// How long the server must see no connection after the command exits
    /// before the run is judged (background queues may still be sending).
    pub quiet: Duration,
    pub command: Vec<String>,
}

/// Prints to stderr; a closed stderr must not fail the run.
macro_rules! status {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub async fn run(opts: RunOptions) -> u8 {
    match run_inner(opts).await {
        Ok(code) => code,
        Err(e) => {
            status!("error: {e}");
            exit::USAGE
        }
    }
}

async fn run_inner(opts: RunOptions) -> Result<u8, crate::Error> {
    let Some((program, args)) = opts.command.split_first() else {
        status!(
            "error: no command to run; put the sender after `--`, e.g. mailfault run scenarios/greylist.yaml -- python3 send.py"
        );
        return Ok(exit::USAGE);
    };
    let scenario = Scenario::from_file(&opts.scenario)?;
    let limit = scenario
        .expect
        .as_ref()
        .and_then(|e| e.time_limit())
        .unwrap_or(DEFAULT_LIMIT);
    let (mut listen, ca) = tls_listen(&opts.tls, &opts.certs_dir, &scenario.server.hostname)?;
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    listen.smtp = Some(loopback);
    let http = crate::http::bind(loopback, false).await?;
    let http_addr = http.local_addr()?;
    let name = scenario.name.clone();
    let store = Arc::new(Store::memory(100_000));
    let mut handle = transport::start_with(listen, Arc::new(scenario), store).await?;
    let guard = crate::http::Guard::new(http_addr, &[], &[]);
    handle.attach(crate::http::serve(http, handle.control(), None, guard));
    let smtp = handle.smtp_addr();
    let control = handle.control();

    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env("MAILFAULT_SMTP_HOST", smtp.ip().to_string())
        .env("MAILFAULT_SMTP_PORT", smtp.port().to_string())
        .env("MAILFAULT_SMTP_URL", format!("smtp://{smtp}"))
        .env("MAILFAULT_HTTP_URL", format!("http://{http_addr}"))
        .kill_on_drop(true);
    if let Some(ca) = &ca {
        command.env("MAILFAULT_CA_FILE", ca);
    }
    status!(
        "mailfault run: scenario {name} on smtp://{smtp} (API http://{http_addr}), running `{}`",
        opts.command.join(" ")
    );
    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            status!(
                "error: cannot start `{program}`: {e}; check the command after `--` and that it is executable"
            );
            stop(handle).await;
            return Ok(exit::USAGE);
        }
    };
    let progress = Progress::start(control.clone(), started);
    let deadline = started + limit;
    let exit_status = tokio::select! {
        status = child.wait() => Some(status),
        _ = tokio::time::sleep_until(deadline.into()) => None,
        _ = tokio::signal::ctrl_c() => {
            progress.stop();
            status!("interrupted: stopping the command and the server");
            let _ = child.kill().await;
            stop(handle).await;
            return Ok(exit::USAGE);
        }
    };
    let timed_out = exit_status.is_none();
    let exit_code = match exit_status {
        Some(Ok(status)) => status.code(),
        Some(Err(e)) => {
            status!("warning: lost track of the command: {e}");
            None
        }
        None => {
            let _ = child.kill().await;
            None
        }
    };
    if !timed_out {
        settle(&control, opts.quiet, deadline).await;
    }
    progress.stop();
    let elapsed = started.elapsed();
    stop(handle).await;

    let facts = RunFacts {
        elapsed,
        exit: exit_code,
        timed_out,
    };
    let (scenario, epoch) = control.scenario_and_epoch();
    let report = expect::judge(
        &scenario,
        epoch,
        control.store(),
        &control.outbox().facts(epoch),
        Some(facts),
    );
    print_report(&report);
    for target in &opts.reports {
        write_report(&report, target, &name)?;
    }
    let passed = if scenario.expect.is_some() {
        report.passed
    } else {
        // Nothing to judge: the command's own success decides.
        exit_code == Some(0)
    };
    Ok(if passed {
        exit::OK
    } else {
        exit::EXPECTATIONS_FAILED
    })
}

/// Waits until no connection is open and none has been for `quiet`, or the
/// deadline: a sender's background queue may still be delivering.
async fn settle(control: &Control, quiet: Duration, deadline: Instant) {
    let mut last = (control.metrics().connections, Instant::now());
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let m = control.metrics();
        if m.active > 0 || m.connections != last.0 {
            last = (m.connections, now);
        } else if now.duration_since(last.1) >= quiet {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn print_report(report: &Report) {
    let _ = std::io::stdout()
        .lock()
        .write_all(report.to_text().as_bytes());
}

fn write_report(report: &Report, target: &ReportTarget, name: &str) -> Result<(), crate::Error> {
    let text = match target.format {
        ReportFormat::Json => report.to_json(),
        ReportFormat::Junit => report.to_junit(name),
    };
    if target.path.as_os_str() == "-" {
        let _ = std::io::stdout().write_all(text.as_bytes());
        return Ok(());
    }
    std::fs::write(&target.path, text).map_err(|source| crate::Error::Report {
        path: target.path.clone(),
        source,
    })
}

/// The live status line on a terminal: time, connections (all and open) and
/// messages captured. Nothing when stderr is not a terminal (CI logs want
/// the report, not 40 redraws).
struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    fn start(control: Control, started: Instant) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self { task: None };
        }
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let m = control.metrics();
                let store = control.store();
                let line = format!(
                    "\r\x1b[2K  {:>5.1}s  {} connection(s), {} open, {} message(s) captured",
                    started.elapsed().as_secs_f64(),
                    m.connections,
                    m.active,
                    store.messages().len()
                );
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(line.as_bytes());
                let _ = err.flush();
            }
        });
        Self { task: Some(task) }
    }

    fn stop(&self) {
        if let Some(task) = &self.task {
            task.abort();
            let _ = std::io::stderr().write_all(b"\r\x1b[2K");
        }
    }
}

/// How long `run` lets connections finish after the command is done: a
/// sender's leftover process holding a connection open (in a tarpit, say)
/// must not keep the report from being written.
const RUN_DRAIN: Duration = Duration::from_secs(5);

async fn stop(handle: transport::ServerHandle) {
    handle.shutdown_token().cancel();
    let dropped = handle.wait_at_most(RUN_DRAIN).await;
    if dropped > 0 {
        status!("{dropped} connection(s) still open after the command ended were closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_targets_parse() {
        let t: ReportTarget = "junit:out/r.xml".parse().unwrap();
        assert_eq!(
            (t.format, t.path),
            (ReportFormat::Junit, PathBuf::from("out/r.xml"))
        );
        let t: ReportTarget = "json:-".parse().unwrap();
        assert_eq!(t.format, ReportFormat::Json);
        assert!("xml:r.xml".parse::<ReportTarget>().is_err());
        assert!("junit:".parse::<ReportTarget>().is_err());
        assert!("r.xml".parse::<ReportTarget>().is_err());
    }
}
