//! One file per subcommand; `load` is how each of them reads the manifest.

pub mod covers;
pub mod explain;
pub mod load;
pub mod manifest;
pub mod match_events;
pub mod new;
pub mod replay;
pub mod schema;
pub mod test;
pub mod validate;
