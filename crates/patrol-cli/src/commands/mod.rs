//! One file per subcommand; `load` is how each of them reads the manifest.

pub mod load;
pub mod manifest;
pub mod replay;
pub mod test;
pub mod validate;
