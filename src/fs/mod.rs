//! The file system layer every command writes through: whole-file atomic
//! writes (`atomic`), trees made aside and renamed into place (`staging`,
//! `write`), and the path rules every written path passes (`paths`). It
//! knows nothing of scaffolds, git or projects.

mod atomic;
mod paths;
pub mod staging;
mod sync;
pub mod write;

pub use atomic::write_atomic;
pub use paths::{RenderedFile, check_output_path, is_git_dir_name};
pub(crate) use sync::sync_files;
