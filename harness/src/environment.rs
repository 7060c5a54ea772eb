//! What a report needs to be reproduced: toolchains, the library versions each
//! service was built with, the commit, and the exact command. A value the
//! harness cannot read is null, and `notes` says why.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// The `environment` object of results.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub rustc: Option<String>,
    pub go: Option<String>,
    /// Resolved versions from the lock files, each target's `libraries` in
    /// the registry.
    #[serde(default)]
    pub libraries: Vec<Library>,
    /// Full commit hash of the repository.
    pub commit: Option<String>,
    /// Tracked files differ from the commit.
    pub dirty: Option<bool>,
    /// Always written; optional for reading.
    pub harness_version: Option<String>,
    /// The command line, shell-quoted.
    #[serde(default)]
    pub command: String,
    /// UTC, RFC 3339.
    #[serde(default)]
    pub started: String,
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Library {
    pub name: String,
    pub version: Option<String>,
    /// The target's name.
    pub used_by: String,
}

impl Environment {
    /// The toolchains and `root`'s commit now; `libraries` is for the caller
    /// to fill in (each target's, `target::Target::libraries`).
    pub fn detect(root: &Path) -> Self {
        let mut notes = Vec::new();
        let mut tool = |program: &str, args: &[&str]| match output(Command::new(program).args(args))
        {
            Ok(text) => Some(text.trim().to_owned()),
            Err(why) => {
                notes.push(format!("{program}: {why}"));
                None
            }
        };
        let rustc = tool("rustc", &["--version"]);
        let go = tool("go", &["version"]);
        let commit = tool("git", &["-C", &root.to_string_lossy(), "rev-parse", "HEAD"]);
        let dirty = commit.as_ref().and_then(|_| {
            output(Command::new("git").arg("-C").arg(root).args([
                "status",
                "--porcelain",
                "--untracked-files=no",
            ]))
            .ok()
            .map(|text| !text.trim().is_empty())
        });
        Self {
            rustc,
            go,
            libraries: Vec::new(),
            commit,
            dirty,
            harness_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            command: std::env::args()
                .map(|a| shell_quote(&a))
                .collect::<Vec<_>>()
                .join(" "),
            started: now_rfc3339(),
            notes,
        }
    }
}

/// The version of the first `[[package]]` named `name` in a Cargo.lock.
pub fn cargo_lock_version(lock: &str, name: &str) -> Option<String> {
    let needle = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == needle {
            let version = lines.next()?.trim();
            return version
                .strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_owned);
        }
    }
    None
}

/// The version a go.mod requires of `module` (direct or indirect).
pub fn go_mod_version(gomod: &str, module: &str) -> Option<String> {
    gomod.lines().find_map(|line| {
        let line = line.trim().trim_start_matches("require").trim();
        let mut words = line.split_whitespace();
        (words.next()? == module).then(|| words.next().map(str::to_owned))?
    })
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run it: {err}"))?;
    if !out.status.success() {
        return Err(format!("exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Quotes `arg` for a POSIX shell when it needs it.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Now in UTC with milliseconds, `2026-11-30T05:03:50.123Z`: when something
/// failed.
pub fn now_rfc3339_millis() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = rfc3339(now.as_secs());
    format!(
        "{}.{:03}Z",
        seconds.trim_end_matches('Z'),
        now.subsec_millis()
    )
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn rfc3339(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions_from_lock_files() {
        let lock = "[[package]]\nname = \"axum\"\nversion = \"0.8.9\"\n\n[[package]]\nname = \"axum-core\"\nversion = \"0.5.0\"\n";
        assert_eq!(cargo_lock_version(lock, "axum").as_deref(), Some("0.8.9"));
        assert_eq!(
            cargo_lock_version(lock, "axum-core").as_deref(),
            Some("0.5.0")
        );
        assert_eq!(cargo_lock_version(lock, "tonic"), None);
        let gomod = "module x\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.12.0\n\tgoogle.golang.org/grpc v1.85.0\n)\nrequire google.golang.org/protobuf v1.36.12 // indirect\n";
        assert_eq!(
            go_mod_version(gomod, "github.com/gin-gonic/gin").as_deref(),
            Some("v1.12.0")
        );
        assert_eq!(
            go_mod_version(gomod, "google.golang.org/protobuf").as_deref(),
            Some("v1.36.12")
        );
        assert_eq!(go_mod_version(gomod, "google.golang.org/grpc/x"), None);
    }

    #[test]
    fn dates_and_quoting() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_000_000), "2026-11-30T00:53:20Z");
        assert_eq!(shell_quote("--out"), "--out");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
