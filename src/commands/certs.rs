//! `mailfault certs`: make the development CA and server certificate that
//! `serve --tls auto` would, so they can be installed in a client first.

use std::io::Write;
use std::path::Path;

use super::exit;
use crate::tls;

pub fn run(dir: &Path, hosts: &[String], out: &mut dyn Write) -> u8 {
    let hosts = tls::default_hosts(hosts);
    match tls::generate(dir, &hosts) {
        Ok(files) => {
            let _ = writeln!(
                out,
                "CA certificate:     {}  (trust this one)",
                files.ca.display()
            );
            let _ = writeln!(
                out,
                "server certificate: {} for {}",
                files.cert.display(),
                hosts.join(", ")
            );
            let _ = writeln!(
                out,
                "server key:         {} (mode 0600)",
                files.key.display()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}
