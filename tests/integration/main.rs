//! Integration tests: they drive the real binary, as users do.

mod cli;
mod escaping;
mod example;
mod generate;
mod host;
mod ml;
mod python_env;
mod support;
mod team;
mod update;
mod versions;
