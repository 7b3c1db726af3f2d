//! Integration tests: they drive the real binary, as users do.

mod architecture;
mod cli;
mod escaping;
mod example;
mod exit_codes;
mod generate;
mod host;
mod hostile_render;
mod merge_base;
mod ml;
mod python_env;
mod records;
mod stored_versions;
mod support;
mod team_config;
mod team_hostile;
mod team_scaffold;
mod team_sources;
mod update;
mod update_dry_run;
mod update_git;
mod update_safety;
mod update_scenarios;
mod ux_init;
mod ux_templates;
mod versions;
