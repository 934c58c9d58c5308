//! Sans-IO SMTP: parsing, framing, replies and the session state machine.
//! Nothing in here knows about sockets, tasks or clocks.

pub mod command;
pub mod event;
pub mod extensions;
pub mod framer;
pub mod policy;
pub mod replies;
pub mod reply;
pub mod session;
pub mod transaction;
