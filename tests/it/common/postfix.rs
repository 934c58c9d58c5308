//! A private Postfix smtpd for differential tests: its own configuration and
//! queue directories under a temporary directory, listening on a free port
//! of 127.0.0.1 only, accepting mail for any domain from 127.0.0.1 and
//! discarding it. It runs in the foreground (`postfix start-fg`), never as
//! the system's mail service, and is stopped by its master's PID when the
//! handle is dropped.
//!
//! [`Postfix::start_relaying`] starts a second kind: a *sending* Postfix
//! that queues whatever its smtpd accepts and relays all of it to one
//! `relayhost = [127.0.0.1]:PORT`, retrying deferred mail within seconds
//! (backoff 2 s to 4 s, queue runs every second), so a test can watch a real
//! MTA come back after a 4xx.
//!
//! Postfix needs root (its master drops privileges to the `postfix` user).
//! Where it is not installed or the tests do not run as root the tests that
//! need it print "skipped: ..." and pass, unless `MAILFAULT_POSTFIX_TESTS=require`
//! (set by CI), which turns the skip into a failure.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const POSTFIX: &str = "/usr/sbin/postfix";
/// How long the master may take to start listening, or to exit.
const START: Duration = Duration::from_secs(30);
const STOP: Duration = Duration::from_secs(10);

/// What both private Postfixes share: loopback only, no local delivery,
/// logs to stdout (the tests read them).
const BASE_CF: &str = "\
compatibility_level = 3.6
mail_owner = postfix
mydomain = test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
local_recipient_maps =
smtpd_recipient_restrictions =
smtpd_banner = $myhostname ESMTP
maillog_file = /dev/stdout
";

/// The settings both servers are compared under: Postfix's limits set to
/// mailfault's defaults (25 MiB messages, 100 recipients, hang up after 20
/// errors) and no error sleep, so a dialogue full of mistakes stays fast.
const MAIN_CF: &str = "\
myhostname = postfix.test
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_transport = discard
relay_transport = discard
local_transport = discard
message_size_limit = 26214400
smtpd_recipient_limit = 100
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 10
smtpd_hard_error_limit = 20
";

/// Only what an smtpd with a queue needs; the queue manager hands every
/// message to `discard`.
const MASTER_CF: &str = "\
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
anvil unix - - n - 1 anvil
discard unix - - n - - discard
postlog unix-dgram n - n - 1 postlogd
";

/// The sending Postfix: everything goes out through `smtp` to the relayhost
/// appended below; deferred mail is retried within about three seconds.
/// Postfix keeps retry times in whole seconds (the next attempt is due at
/// the deferring second plus the backoff), so a 2 s minimal backoff is what
/// guarantees a retry at least a full second later, past a 1 s greylist.
const RELAY_MAIN_CF: &str = "\
myhostname = sender.postfix.test
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = smtp
relay_transport = smtp
local_transport = error:no local delivery here
smtp_tls_security_level = none
smtp_connection_cache_on_demand = no
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
smtp_mail_timeout = 10s
smtp_rcpt_timeout = 10s
smtp_data_init_timeout = 10s
smtp_data_xfer_timeout = 10s
smtp_data_done_timeout = 10s
smtp_quit_timeout = 5s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 1s
delay_warning_time = 0
";

/// The sending Postfix's services: an smtpd to inject by, the queue, and the
/// `smtp` client that relays.
const RELAY_MASTER_CF: &str = "\
pickup fifo n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
smtp unix - - n - - smtp
relay unix - - n - - smtp
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
postlog unix-dgram n - n - 1 postlogd
";

const QUEUE_DIRS: &[&str] = &[
    "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "maildrop",
    "private", "public", "saved", "trace",
];

/// A running private Postfix.
pub(crate) struct Postfix {
    addr: SocketAddr,
    dir: PathBuf,
    script: Option<Child>,
    _tmp: tempfile::TempDir,
}

/// Whether CI said the Postfix tests must run.
fn required() -> bool {
    std::env::var("MAILFAULT_POSTFIX_TESTS").is_ok_and(|v| v == "require")
}

/// Whether CI said the scale-out tests (which use the sending Postfix) must run.
fn redis_required() -> bool {
    std::env::var("MAILFAULT_REDIS_TESTS").is_ok_and(|v| v == "require")
}

/// Why Postfix cannot run here, if it cannot.
fn missing() -> Option<String> {
    if !Path::new(POSTFIX).exists() {
        return Some("postfix not installed".into());
    }
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root {
        return Some("postfix needs root".into());
    }
    if user_ids("postfix").is_none() {
        return Some("no postfix user".into());
    }
    None
}

/// `(uid, gid)` of a user, from /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

/// A group's id, from /etc/group.
fn group_id(name: &str) -> Option<u32> {
    let group = fs::read_to_string("/etc/group").ok()?;
    group.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(2)?.parse().ok())?
    })
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl Postfix {
    /// Starts a private Postfix, or says why not: `None` after printing
    /// "skipped: ..." when Postfix cannot run here and CI did not require it.
    pub(crate) fn start() -> Option<Self> {
        if let Some(why) = missing() {
            assert!(!required(), "MAILFAULT_POSTFIX_TESTS=require, but {why}");
            eprintln!("skipped: {why}");
            return None;
        }
        Some(Self::start_here(&format!("{BASE_CF}{MAIN_CF}"), MASTER_CF))
    }

    /// Starts a private *sending* Postfix that relays everything its smtpd
    /// accepts to `relayhost` (on 127.0.0.1), or `None` after printing
    /// "SKIPPED: ..." when Postfix cannot run here; with
    /// `MAILFAULT_POSTFIX_TESTS=require` or `MAILFAULT_REDIS_TESTS=require`
    /// that is a failure instead.
    pub(crate) fn start_relaying(relayhost: SocketAddr) -> Option<Self> {
        assert!(relayhost.ip().is_loopback(), "relay to 127.0.0.1 only");
        if let Some(why) = missing() {
            assert!(
                !required() && !redis_required(),
                "MAILFAULT_POSTFIX_TESTS or MAILFAULT_REDIS_TESTS=require, but {why}"
            );
            eprintln!("SKIPPED: {why} (a sending Postfix is needed)");
            return None;
        }
        let main = format!(
            "{BASE_CF}{RELAY_MAIN_CF}relayhost = [127.0.0.1]:{}\n",
            relayhost.port()
        );
        Some(Self::start_here(&main, RELAY_MASTER_CF))
    }

    fn start_here(main_cf: &str, master_cf: &str) -> Self {
        use std::os::unix::fs::{PermissionsExt, chown};
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        // The postfix user must reach the queue below the temp dir.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        let (uid, gid) = user_ids("postfix").expect("postfix user");
        let postdrop = group_id("postdrop").unwrap_or(gid);
        let conf = dir.join("conf");
        let queue = dir.join("queue");
        let data = dir.join("data");
        for d in [&conf, &queue, &data] {
            fs::create_dir(d).expect("mkdir");
        }
        chown(&data, Some(uid), Some(gid)).expect("chown data");
        for name in QUEUE_DIRS {
            let d = queue.join(name);
            fs::create_dir(&d).expect("mkdir queue");
            let group = if matches!(*name, "public" | "maildrop") {
                postdrop
            } else {
                gid
            };
            chown(&d, Some(uid), Some(group)).expect("chown queue");
        }
        fs::set_permissions(queue.join("private"), fs::Permissions::from_mode(0o700))
            .expect("chmod private");
        fs::create_dir(queue.join("pid")).expect("mkdir pid");

        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        fs::write(
            conf.join("main.cf"),
            format!(
                "{main_cf}queue_directory = {}\ndata_directory = {}\n",
                queue.display(),
                data.display()
            ),
        )
        .expect("main.cf");
        fs::write(
            conf.join("master.cf"),
            format!("127.0.0.1:{port} inet n - n - - smtpd\n{master_cf}"),
        )
        .expect("master.cf");
        let log = fs::File::create(dir.join("postfix.log")).expect("log file");
        let script = Command::new(POSTFIX)
            .arg("-c")
            .arg(&conf)
            .arg("start-fg")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("run postfix start-fg");
        let mut me = Self {
            addr,
            dir,
            script: Some(script),
            _tmp: tmp,
        };
        let deadline = Instant::now() + START;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return me;
            }
            let exited = me.script.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log = fs::read_to_string(me.dir.join("postfix.log")).unwrap_or_default();
                panic!("postfix did not start listening on {addr}: {exited:?}\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Where its smtpd listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its log so far (for failure messages).
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(self.dir.join("postfix.log")).unwrap_or_default()
    }

    fn master_pid(&self) -> Option<u32> {
        fs::read_to_string(self.dir.join("queue/pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// Alive and not yet a zombie.
fn running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for Postfix {
    /// Stops the master (which stops its children) by its PID, then the
    /// `postfix start-fg` script; the temporary directory goes last.
    fn drop(&mut self) {
        if let Some(pid) = self.master_pid() {
            signal(pid, "-TERM");
            let deadline = Instant::now() + STOP;
            while running(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if running(pid) {
                signal(pid, "-KILL");
            }
        }
        if let Some(mut script) = self.script.take() {
            let _ = script.kill();
            let _ = script.wait();
        }
    }
}
