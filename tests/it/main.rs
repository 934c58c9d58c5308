//! The integration tests, one crate so the suite links once: each module
//! drives the server over real sockets, as a user or a client library would.

mod common;

mod auth;
mod bounce;
mod bounds;
mod browser;
mod cli;
mod clients;
mod compat;
mod dialogue;
mod differential;
mod differential_allowed;
mod expect;
mod explain;
mod faults;
mod guard;
mod http;
mod layering;
mod mailpit_client;
mod providers;
mod report;
mod run;
mod scale_out;
mod scale_out_cluster;
mod scale_out_shared;
mod scale_out_waits;
mod scenarios;
mod tls;
