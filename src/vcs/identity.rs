//! Git's configuration and the identity of a commit, read as `git commit`
//! reads them: `GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_SYSTEM` and
//! `GIT_CONFIG_GLOBAL` choose the files; `GIT_AUTHOR_*` and
//! `GIT_COMMITTER_*` come before `author.*`, `committer.*` and `user.*`;
//! `user.useConfigOnly` forbids making one up.

use std::path::{Path, PathBuf};

use git2::{Config, ConfigLevel, Repository, Signature};

use super::{FALLBACK_EMAIL, FALLBACK_NAME};
use crate::error::{Error, GitError, Result};

/// The variables through which git is told which files to read.
const CONFIG_VARIABLES: [&str; 3] = [
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_GLOBAL",
];

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The user's configuration (no repository's), as git reads it.
pub(super) fn user_config() -> Option<Config> {
    config_files(None).ok()
}

/// The configuration that applies in `repo`, as git reads it.
pub(super) fn repository_config(repo: &Repository) -> std::result::Result<Config, git2::Error> {
    // libgit2's own loader knows `includeIf` but not the variables; it is
    // used when none is set.
    if CONFIG_VARIABLES.iter().all(|v| var(v).is_none()) {
        return repo.config();
    }
    let mut config = config_files(Some(&repo.commondir().join("config")))?;
    // `config.worktree` of this work tree, as git reads it.
    let worktree = repo.path().join("config.worktree");
    if config
        .get_bool("extensions.worktreeConfig")
        .unwrap_or(false)
        && worktree.exists()
    {
        config.add_file(&worktree, ConfigLevel::Worktree, false)?;
    }
    Ok(config)
}

/// System, XDG, global and, when given, the repository's file, chosen as
/// git chooses them.
fn config_files(local: Option<&Path>) -> std::result::Result<Config, git2::Error> {
    if CONFIG_VARIABLES.iter().all(|v| var(v).is_none()) && local.is_none() {
        return Config::open_default();
    }
    let mut config = Config::new()?;
    let mut add = |path: Option<PathBuf>, level| match path {
        Some(path) if path.exists() => config.add_file(&path, level, false),
        _ => Ok(()),
    };
    let no_system =
        var("GIT_CONFIG_NOSYSTEM").is_some_and(|v| Config::parse_bool(v).unwrap_or(true));
    if !no_system {
        let system = var("GIT_CONFIG_SYSTEM")
            .map(PathBuf::from)
            .or_else(|| Config::find_system().ok());
        add(system, ConfigLevel::System)?;
    }
    match var("GIT_CONFIG_GLOBAL") {
        Some(global) => add(Some(PathBuf::from(global)), ConfigLevel::Global)?,
        None => {
            add(Config::find_xdg().ok(), ConfigLevel::XDG)?;
            add(Config::find_global().ok(), ConfigLevel::Global)?;
        }
    }
    add(local.map(Path::to_path_buf), ConfigLevel::Local)?;
    Ok(config)
}

/// Who a commit is by and who commits it.
pub(super) struct Identity {
    pub author: Signature<'static>,
    pub committer: Signature<'static>,
    /// Made up (no name or email anywhere): the user is told how to fix it.
    pub fallback: bool,
}

/// The author and committer `git commit` would use in `repo`; the tool's
/// own name where git would make one up, unless `user.useConfigOnly`
/// forbids it (then an error, as `git commit` gives).
pub(super) fn identity(repo: &Repository) -> Result<Identity> {
    let config = repository_config(repo).map_err(Error::git("read the git configuration"))?;
    identity_in(&config)
}

/// The identity the configuration `config` and the environment give.
pub(super) fn identity_in(config: &Config) -> Result<Identity> {
    let get = |key: &str| config.get_string(key).ok().filter(|v| !v.trim().is_empty());
    let mut fallback = false;
    let mut person = |role: &str| -> Result<Signature<'static>> {
        let upper = role.to_ascii_uppercase();
        let name = var(&format!("GIT_{upper}_NAME"))
            .or_else(|| get(&format!("{role}.name")))
            .or_else(|| get("user.name"));
        let email = var(&format!("GIT_{upper}_EMAIL"))
            .or_else(|| get(&format!("{role}.email")))
            .or_else(|| get("user.email"))
            .or_else(|| var("EMAIL"));
        let (name, email) = match (name, email) {
            (Some(name), Some(email)) => (name, email),
            (name, email) => {
                if config.get_bool("user.useConfigOnly").unwrap_or(false) {
                    return Err(GitError::NoIdentity {
                        missing: if email.is_none() {
                            "user.email"
                        } else {
                            "user.name"
                        },
                    }
                    .into());
                }
                fallback = true;
                (
                    name.unwrap_or_else(|| FALLBACK_NAME.into()),
                    email.unwrap_or_else(|| FALLBACK_EMAIL.into()),
                )
            }
        };
        let date = format!("GIT_{upper}_DATE");
        let signature = match var(&date) {
            Some(text) => {
                let time = parse_date(&text).ok_or_else(|| GitError::BadDate {
                    variable: date.clone(),
                    value: text.clone(),
                })?;
                Signature::new(&name, &email, &time)
            }
            None => Signature::now(&name, &email),
        };
        signature.map_err(Error::git("make a signature"))
    };
    let author = person("author")?;
    let committer = person("committer")?;
    Ok(Identity {
        author,
        committer,
        fallback,
    })
}

/// A date as git takes it in `GIT_AUTHOR_DATE`: `@SECONDS [+-]HHMM`,
/// `SECONDS [+-]HHMM`, ISO 8601 (`2005-04-07T22:13:13+02:00`, `Z`, or a
/// space for the `T`) or RFC 2822 (`Thu, 07 Apr 2005 22:13:13 +0200`).
pub(super) fn parse_date(text: &str) -> Option<git2::Time> {
    let text = text.trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    if let [secs, zone] = words[..] {
        let secs = secs.strip_prefix('@').unwrap_or(secs);
        if let (Ok(secs), Some(offset)) = (secs.parse::<i64>(), zone_minutes(zone)) {
            return Some(git2::Time::new(secs, offset));
        }
    }
    if let [secs] = words[..]
        && let Ok(secs) = secs.strip_prefix('@').unwrap_or(secs).parse::<i64>()
    {
        return Some(git2::Time::new(secs, 0));
    }
    iso_8601(text).or_else(|| rfc_2822(&words))
}

fn zone_minutes(zone: &str) -> Option<i32> {
    if zone == "Z" {
        return Some(0);
    }
    let sign = match zone.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    Some(sign * (hours * 60 + minutes))
}

fn iso_8601(text: &str) -> Option<git2::Time> {
    let (date, rest) = text.split_at_checked(10)?;
    let rest = rest.strip_prefix(['T', ' '])?;
    let (clock, zone) = rest.split_at_checked(8)?;
    let zone = zone.trim();
    let offset = if zone.is_empty() {
        0
    } else {
        zone_minutes(zone)?
    };
    let ymd: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let hms: Vec<i64> = clock
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (&[y, m, d], &[h, mi, s]) = (&ymd[..], &hms[..]) else {
        return None;
    };
    let local = days_from_civil(y, m, d)? * 86_400 + h * 3600 + mi * 60 + s;
    Some(git2::Time::new(local - i64::from(offset) * 60, offset))
}

fn rfc_2822(words: &[&str]) -> Option<git2::Time> {
    // Optional weekday ("Thu,"), then day, month, year, clock, zone.
    let words = match words.first() {
        Some(w) if w.ends_with(',') => &words[1..],
        _ => words,
    };
    let [day, month, year, clock, zone] = words[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let text = format!("{year:0>4}-{month:02}-{day:0>2}T{clock} {zone}");
    iso_8601(&text)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_git_takes() {
        let at = |t: &str| parse_date(t).map(|t| (t.seconds(), t.offset_minutes()));
        assert_eq!(at("@1112911993 +0200"), Some((1112911993, 120)));
        assert_eq!(at("1112911993 -0130"), Some((1112911993, -90)));
        assert_eq!(at("2005-04-07T22:13:13+02:00"), Some((1112904793, 120)));
        assert_eq!(at("2005-04-07 20:13:13Z"), Some((1112904793, 0)));
        assert_eq!(
            at("Thu, 07 Apr 2005 22:13:13 +0200"),
            Some((1112904793, 120))
        );
        assert_eq!(at("yesterday"), None);
    }
}
