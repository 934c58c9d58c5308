//! Sans-IO SMTP: parsing, framing, replies and the session state machine.
//! Nothing in here knows about sockets, tasks or clocks.

//!
//! Public here: [`event`], the typed facts a session records, and the
//! types those facts are made of. The parser, framer and state machine
//! are the server's own.

pub(crate) mod address;
pub(crate) mod command;
pub mod event;
pub(crate) mod extensions;
pub(crate) mod framer;
pub(crate) mod policy;
pub(crate) mod replies;
pub(crate) mod reply;
pub(crate) mod session;
pub(crate) mod transaction;

pub use command::Verb;
pub use policy::TlsFault;
pub use reply::{EnhancedCode, Malformed, Reply, Wire};
pub use session::Mechanism;
pub use transaction::Recipient;
