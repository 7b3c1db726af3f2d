//! Whether the running nix-daemon predates its nix.conf: the daemon reads
//! /etc/nix/nix.conf when it starts, so after an edit it keeps the old
//! substituters and keys until it is restarted, whatever the file says.

use std::time::{Duration, SystemTime};

use super::super::super::probe::Host;

const NIX_CONF: &str = "/etc/nix/nix.conf";

/// The pid of the running nix-daemon when /etc/nix/nix.conf (the file a
/// link points to) changed after it started; `None` when it did not, or
/// when no daemon or no time can be read.
pub fn started_before_conf(host: &Host) -> Option<u32> {
    let changed = std::fs::metadata(host.path(NIX_CONF))
        .and_then(|m| m.modified())
        .ok()?;
    let (pid, started) = daemon_start(host)?;
    // A second of slack: /proc's start time is in clock ticks.
    (changed > started + Duration::from_secs(1)).then_some(pid)
}

/// The listening daemon (the oldest process named nix-daemon; each client
/// gets a younger forked one) and when it started.
fn daemon_start(host: &Host) -> Option<(u32, SystemTime)> {
    let boot: u64 = host
        .read("/proc/stat")?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf takes and returns plain integers.
    let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|t| *t > 0)?;
    let (pid, ticks_after_boot) = host
        .list("/proc")
        .into_iter()
        .filter_map(|name| name.parse::<u32>().ok())
        .filter(|pid| {
            host.read(&format!("/proc/{pid}/comm"))
                .is_some_and(|c| c.trim() == "nix-daemon")
        })
        .filter_map(|pid| Some((pid, start_ticks(&host.read(&format!("/proc/{pid}/stat"))?)?)))
        .min_by_key(|(_, start)| *start)?;
    let after_boot = Duration::from_millis(ticks_after_boot * 1000 / ticks);
    Some((
        pid,
        SystemTime::UNIX_EPOCH + Duration::from_secs(boot) + after_boot,
    ))
}

/// Field 22 of /proc/PID/stat (`starttime`, clock ticks after boot); the
/// command name in field 2 may hold spaces and parentheses, so fields are
/// counted after its closing one.
fn start_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine booted at `boot` (seconds since the epoch) whose daemon
    /// started `after` seconds later, its nix.conf changed at `conf`.
    fn machine(boot: u64, after: u64, conf: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/nix")).unwrap();
        std::fs::create_dir_all(root.join("proc/812")).unwrap();
        std::fs::create_dir_all(root.join("proc/4242")).unwrap();
        std::fs::write(root.join("proc/stat"), format!("cpu 1 2 3\nbtime {boot}\n")).unwrap();
        // SAFETY: as above.
        let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap();
        for (pid, start) in [(812, after), (4242, after + 600)] {
            std::fs::write(root.join(format!("proc/{pid}/comm")), "nix-daemon\n").unwrap();
            std::fs::write(
                root.join(format!("proc/{pid}/stat")),
                format!(
                    "{pid} (nix-daemon) S 1 {pid} {pid} 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 {} 1 1\n",
                    start * ticks
                ),
            )
            .unwrap();
        }
        let conf_path = root.join("etc/nix/nix.conf");
        std::fs::write(&conf_path, "substituters = https://cache.nixos.org\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&conf_path)
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(conf))
            .unwrap();
        dir
    }

    #[test]
    fn a_daemon_older_than_its_nix_conf_is_found() {
        let boot = 1_780_000_000;
        // Edited an hour after the daemon started: still the old settings.
        let stale = machine(boot, 100, boot + 3700);
        assert_eq!(started_before_conf(&Host::at(stale.path())), Some(812));
        // Written before the daemon started (a restart since).
        let fresh = machine(boot, 100, boot + 50);
        assert_eq!(started_before_conf(&Host::at(fresh.path())), None);
        // Edited after a client's worker started, but before the listener:
        // the listener's start is what counts.
        let worker = machine(boot, 100, boot + 90);
        assert_eq!(started_before_conf(&Host::at(worker.path())), None);
        assert_eq!(
            started_before_conf(&Host::at(tempfile::tempdir().unwrap().path())),
            None
        );
    }

    #[test]
    fn the_start_time_is_counted_after_the_command_name() {
        let stat = "7 (nix (daemon) x) S 1 7 7 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 4321 1 1";
        assert_eq!(start_ticks(stat), Some(4321));
        assert_eq!(start_ticks("garbage"), None);
    }
}
