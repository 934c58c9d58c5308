//! The `mailfault` command line: parse arguments, set up logging, hand over
//! to the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mailfault::commands::{self, exit};
use mailfault::store::StoreKind;

#[derive(Parser)]
#[command(
    name = "mailfault",
    version,
    about = "An SMTP server that captures mail and injects the faults real receivers produce."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Built once per process; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the SMTP server (an accept-all sink unless --scenario is given).
    Serve {
        /// Address of the SMTP listener.
        #[arg(long, default_value = "127.0.0.1:1025", env = "MAILFAULT_SMTP")]
        smtp: SocketAddr,
        /// Scenario file that decides the replies.
        #[arg(long, env = "MAILFAULT_SCENARIO")]
        scenario: Option<PathBuf>,
        /// Implicit-TLS (SMTPS) listener, e.g. 127.0.0.1:4650; needs --tls.
        #[arg(long, env = "MAILFAULT_SMTPS")]
        smtps: Option<SocketAddr>,
        /// `off`, `auto` (development CA and certificate in --certs-dir, made
        /// on first use) or `CERT,KEY` (your own PEM files).
        #[arg(long, default_value = "off", env = "MAILFAULT_TLS")]
        tls: commands::serve::TlsMode,
        /// Address of the HTTP API and web page, or `off`.
        #[arg(long, default_value = "127.0.0.1:8025", env = "MAILFAULT_HTTP")]
        http: commands::serve::HttpAddr,
        /// Require HTTP basic authentication (USER:PASSWORD) for the API and page.
        #[arg(long, env = "MAILFAULT_HTTP_AUTH", hide_env_values = true)]
        http_auth: Option<commands::serve::BasicAuth>,
        /// Also answer to this Host name (repeatable; `*` for any). IP
        /// addresses and localhost are always accepted; other names are
        /// refused, against DNS rebinding.
        #[arg(long = "http-allow-host", env = "MAILFAULT_HTTP_ALLOW_HOST", value_delimiter = ',', value_parser = commands::serve::parse_host)]
        http_allow_hosts: Vec<String>,
        /// Let web pages on this origin (e.g. http://localhost:3000) call the
        /// API: CORS headers, preflights, and POST/PUT/DELETE (repeatable).
        #[arg(long = "http-cors", env = "MAILFAULT_HTTP_CORS", value_delimiter = ',', value_parser = commands::serve::parse_origin)]
        http_cors: Vec<String>,
        /// Where `--tls auto` keeps its certificates.
        #[arg(long, default_value = "certs", env = "MAILFAULT_CERTS_DIR")]
        certs_dir: PathBuf,
        /// Where captured messages go: `memory` or `maildir:DIR`.
        #[arg(long, default_value = "memory", env = "MAILFAULT_STORE")]
        store: StoreKind,
        /// How many messages (and sessions) to keep in memory; older ones are evicted.
        #[arg(long, default_value_t = 10_000, env = "MAILFAULT_MAX_MESSAGES")]
        max_messages: usize,
        /// Bytes of messages and session records kept in memory together
        /// (e.g. 256MiB, 1GiB); the oldest are evicted and counted in
        /// /metrics and /api/v1/store.
        #[arg(long, default_value = "256MiB", env = "MAILFAULT_MAX_MEMORY", value_parser = commands::serve::parse_memory)]
        max_memory: usize,
        /// Where rule state lives: `memory`, or `redis://[user:pass@]HOST:PORT/DB`
        /// (or `redis-cluster://HOST:PORT[,HOST:PORT...]` for a Redis Cluster)
        /// to share greylists, rate limits, counters and the store between
        /// instances.
        #[arg(long, default_value = "memory", env = "MAILFAULT_STATE")]
        state: String,
        /// Prefix of every Redis key, so several setups can share one Redis.
        #[arg(long, default_value = "mailfault", env = "MAILFAULT_STATE_NAMESPACE")]
        state_namespace: String,
        /// Every SMTP connection starts with a PROXY protocol header (v1 or
        /// v2, HAProxy's send-proxy): sessions see the sender's address, not
        /// the balancer's. Connections without one are closed.
        #[arg(long, env = "MAILFAULT_PROXY_PROTOCOL")]
        proxy_protocol: bool,
        /// After Ctrl-C or SIGTERM, how long messages in flight may take to
        /// finish; connections still open then are dropped (e.g. 10s, 1m).
        #[arg(long, default_value = "10s", env = "MAILFAULT_SHUTDOWN_TIMEOUT", value_parser = humantime::parse_duration)]
        shutdown_timeout: std::time::Duration,
        /// POST JSON to this URL (http://HOST:PORT/PATH) for every captured
        /// message (Mailpit's webhook body), finished session, report and
        /// verdict change (repeatable).
        #[arg(long = "webhook", env = "MAILFAULT_WEBHOOK", value_delimiter = ',')]
        webhooks: Vec<commands::serve::WebhookTarget>,
        #[arg(long, value_enum, default_value_t = LogFormat::Pretty, env = "MAILFAULT_LOG_FORMAT")]
        log_format: LogFormat,
    },
    /// Exit 0 when a running server answers ready on /readyz, 1 otherwise
    /// (for container health checks; no curl needed).
    Healthcheck {
        /// Base URL of the server's HTTP API; by default the address in
        /// MAILFAULT_HTTP, else http://127.0.0.1:8025.
        #[arg(long, env = "MAILFAULT_HEALTHCHECK_URL")]
        url: Option<String>,
    },
    /// Serve a scenario, run a sender against it, and grade the sender with
    /// the scenario's `expect:` block (exit 0 all passed, 1 some failed).
    Run {
        /// The scenario (with an `expect:` block) to run the command against.
        scenario: PathBuf,
        /// Also write the report as json:FILE or junit:FILE (repeatable; FILE `-` is stdout).
        #[arg(long = "report")]
        reports: Vec<commands::run::ReportTarget>,
        /// `off`, `auto` (STARTTLS with the development CA; the command gets
        /// MAILFAULT_CA_FILE) or `CERT,KEY`.
        #[arg(long, default_value = "off")]
        tls: commands::serve::TlsMode,
        /// Where `--tls auto` keeps its certificates.
        #[arg(long, default_value = "certs")]
        certs_dir: PathBuf,
        /// After the command exits, how long no connection must be seen before judging.
        #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
        quiet: std::time::Duration,
        #[arg(long, value_enum, default_value_t = LogFormat::Pretty)]
        log_format: LogFormat,
        /// The sender to run, after `--`; it finds the server in MAILFAULT_SMTP_HOST,
        /// MAILFAULT_SMTP_PORT, MAILFAULT_SMTP_URL and MAILFAULT_HTTP_URL.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Make a development CA and a server certificate signed by it.
    Certs {
        /// Output folder (ca.pem, ca.key, server.pem, server.key).
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// Extra names for the certificate, besides localhost, 127.0.0.1 and ::1.
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
    /// Validate scenario files; reports errors with file, line and column.
    Check {
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Explain SMTP reply lines: class, meaning, hard or soft bounce, retry, advice.
    Explain {
        /// Reply lines, e.g. "550 5.1.1 No such user". Without any, a bounce
        /// log is read from stdin, one reply per line.
        lines: Vec<String>,
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the catalog: reply codes, enhanced status codes, provider texts.
    Codes {
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The tokio runtime for the subcommands that serve; `None` (said on
/// stderr) when the system refuses threads.
///
/// Half the cores by default (`TOKIO_WORKER_THREADS` overrides): the
/// software under test usually sends from the same machine, and a
/// connection's replies are cheaper when its task is not woken across
/// threads. On two cores one worker cut the server's CPU per message by a
/// sixth and raised throughput by a third (see the README's performance
/// section).
fn runtime() -> Option<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        builder.worker_threads((cores / 2).max(1));
    }
    builder
        .enable_all()
        .build()
        .map_err(|e| eprintln!("error: cannot start the async runtime: {e}"))
        .ok()
}

/// For `run`, whose output is the report: server logs only at warn unless
/// RUST_LOG asks for more.
fn init_tracing_quiet(format: LogFormat) {
    if std::env::var_os("RUST_LOG").is_none() {
        let filter = tracing_subscriber::EnvFilter::new("warn");
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        match format {
            LogFormat::Pretty => builder.init(),
            LogFormat::Json => builder.json().init(),
        }
        return;
    }
    init_tracing(format);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Certs { dir, hosts } => {
            ExitCode::from(commands::certs::run(&dir, &hosts, &mut std::io::stdout()))
        }
        Command::Serve {
            smtp,
            smtps,
            http,
            http_auth,
            http_allow_hosts,
            http_cors,
            tls,
            certs_dir,
            scenario,
            store,
            max_messages,
            max_memory,
            state,
            state_namespace,
            proxy_protocol,
            shutdown_timeout,
            webhooks,
            log_format,
        } => {
            init_tracing(log_format);
            let Some(runtime) = runtime() else {
                return ExitCode::from(exit::FAILURE);
            };
            let state = match mailfault::StateConfig::parse(&state, &state_namespace) {
                Ok(state) => state,
                Err(e) => {
                    eprintln!("error: --state: {e}");
                    return ExitCode::from(exit::USAGE);
                }
            };
            let opts = commands::serve::ServeOptions {
                smtp,
                smtps,
                http: http.0,
                http_auth,
                http_allow_hosts,
                http_cors,
                tls,
                certs_dir,
                scenario,
                store,
                max_messages,
                max_memory,
                state,
                proxy_protocol,
                shutdown_timeout,
                webhooks,
            };
            match runtime.block_on(commands::serve::run(opts)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Run {
            scenario,
            reports,
            tls,
            certs_dir,
            quiet,
            log_format,
            command,
        } => {
            init_tracing_quiet(log_format);
            commands::serve::raise_descriptor_limit();
            let Some(runtime) = runtime() else {
                return ExitCode::from(exit::USAGE);
            };
            let opts = commands::run::RunOptions {
                scenario,
                reports,
                tls,
                certs_dir,
                quiet,
                command,
            };
            ExitCode::from(runtime.block_on(commands::run::run(opts)))
        }
        Command::Healthcheck { url } => ExitCode::from(commands::healthcheck::run(
            &url.unwrap_or_else(commands::healthcheck::default_url),
        )),
        Command::Check { scenarios } => ExitCode::from(commands::check::run(
            &scenarios,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )),
        Command::Explain { lines, json } => {
            let lines = if lines.is_empty() {
                match lines_from_stdin() {
                    Ok(lines) => lines,
                    Err(message) => {
                        eprintln!("error: {message}");
                        return ExitCode::from(exit::USAGE);
                    }
                }
            } else {
                lines
            };
            ExitCode::from(commands::explain::run(
                &lines,
                json,
                &mut std::io::stdout().lock(),
            ))
        }
        Command::Codes { json } => {
            ExitCode::from(commands::codes::run(json, &mut std::io::stdout().lock()))
        }
    }
}

/// The bounce log for `explain` when no lines are given. A terminal on
/// stdin means the user forgot the argument; waiting silently for input
/// would look like a hang.
fn lines_from_stdin() -> Result<Vec<String>, String> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(
            "no reply lines given: pass them as arguments (mailfault explain \"550 5.1.1 ...\") or pipe a bounce log on stdin".into(),
        );
    }
    commands::explain::read_lines(&mut stdin.lock()).map_err(|e| format!("cannot read stdin: {e}"))
}
