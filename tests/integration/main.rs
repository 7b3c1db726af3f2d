//! Integration tests: they drive the real binary, as users do.

mod architecture;
mod cli;
mod escaping;
mod example;
mod first_commit;
mod generate;
mod host;
mod hostile_render;
mod merge_base;
mod ml;
mod python_env;
mod records;
mod stored_versions;
mod support;
mod team;
mod update;
mod update_safety;
mod update_scenarios;
mod versions;
