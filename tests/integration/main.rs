//! Integration tests: they drive the real binary, as users do.

mod cli;
mod generate;
mod support;
