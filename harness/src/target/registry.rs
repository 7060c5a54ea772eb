//! `targets.toml`: the registry of implementations under test. Each
//! `[[target]]` says what a target is called, what it is built on, how to
//! build it, where its binary lands, its default flags and what it serves.
//! The harness knows targets only from here, so a new implementation takes an
//! entry and its code, nothing in the harness. The file's header documents
//! every key.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::environment::Library;
use crate::scenario::{File, Protocol, ScenarioError};

/// The registry's file name, at the repository's root.
pub const FILE: &str = "targets.toml";

/// The repository's registry, compiled in: how results written before targets
/// had names (`rust`, `go`) are read, whatever the working directory.
const BUILTIN: &str = include_str!("../../../targets.toml");

/// A registered implementation. A cheap handle (the registry lives for the
/// whole process); two targets are the same when their names are.
#[derive(Clone, Copy)]
pub struct Target(&'static Spec);

/// What `targets.toml` says of one target.
#[derive(Debug)]
pub struct Spec {
    pub name: String,
    pub language: String,
    pub framework: String,
    /// The default target of its language: `--target <language>` picks it.
    pub default: bool,
    /// The container image's name.
    pub image: String,
    /// Relative to the repository; the static binary is in its build context
    /// under the binary's file name.
    pub containerfile: Option<String>,
    pub protocols: Vec<Protocol>,
    /// Added to every start, after the harness's own flags.
    pub flags: Vec<String>,
    /// Where the framework's version is read.
    pub version: Option<Package>,
    /// Versions a reader compares (results.json `environment.libraries`).
    pub libraries: Vec<Package>,
    pub build: Build,
    /// The static build of `harness images`; None: no image for this target.
    pub static_build: Option<Build>,
}

/// A package in a lock file: a crate in Cargo.lock or a module in a go.mod.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Relative to the repository.
    pub file: String,
    pub package: String,
    /// What a reader calls it; the package by default.
    pub name: Option<String>,
}

impl Package {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.package)
    }

    /// Its version in `file` under `root`, or why there is none.
    pub fn version(&self, root: &Path) -> Result<String, String> {
        let text = std::fs::read_to_string(root.join(&self.file))
            .map_err(|err| format!("{}: {err}", self.file))?;
        let found = if self.file.ends_with("go.mod") {
            crate::environment::go_mod_version(&text, &self.package)
        } else {
            crate::environment::cargo_lock_version(&text, &self.package)
        };
        found.ok_or_else(|| format!("{}: no package {}", self.file, self.package))
    }
}

/// A build: the command, where it runs, the binary it leaves, its environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    pub command: Vec<String>,
    /// Relative to the repository.
    #[serde(default = "here")]
    pub dir: String,
    /// Relative to the repository.
    pub binary: String,
    /// Set for the command; a value that expands to nothing unsets the variable.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn here() -> String {
    ".".to_owned()
}

/// What the placeholders of a [`Build`] stand for.
pub struct Expand<'a> {
    pub root: &'a Path,
    /// rustc's host triple, read only when a build names it.
    pub host_triple: &'a dyn Fn() -> anyhow::Result<String>,
}

impl Build {
    /// The binary's path.
    pub fn binary(&self, x: &Expand) -> anyhow::Result<PathBuf> {
        Ok(x.root.join(expand(&self.binary, x, None)?))
    }

    /// The command, ready to run: placeholders expanded, `cargo` as `$CARGO`.
    pub fn command(&self, x: &Expand) -> anyhow::Result<std::process::Command> {
        let binary = self.binary(x)?;
        let words = self
            .command
            .iter()
            .map(|w| expand(w, x, Some(&binary)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (program, args) = words.split_first().expect("validated non-empty");
        let program = match program.as_str() {
            "cargo" => std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            other => other.into(),
        };
        let mut cmd = std::process::Command::new(program);
        cmd.args(args).current_dir(x.root.join(&self.dir));
        for (name, value) in &self.env {
            let value = expand(value, x, Some(&binary))?;
            let value = value.trim();
            if value.is_empty() {
                cmd.env_remove(name);
            } else {
                cmd.env(name, value);
            }
        }
        Ok(cmd)
    }
}

/// `text` with `{root}`, `{binary}`, `{host_triple}` and `{env:NAME}` replaced.
fn expand(text: &str, x: &Expand, binary: Option<&Path>) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|i| open + i)
            .ok_or_else(|| anyhow::anyhow!("unclosed `{{` in {text:?}"))?;
        let key = &rest[open + 1..close];
        match key {
            "root" => out.push_str(&x.root.to_string_lossy()),
            "binary" => match binary {
                Some(b) => out.push_str(&b.to_string_lossy()),
                None => anyhow::bail!("{{binary}} in the binary's own path {text:?}"),
            },
            "host_triple" => out.push_str(&(x.host_triple)()?),
            _ => match key.strip_prefix("env:") {
                Some(name) => out.push_str(&std::env::var(name).unwrap_or_default()),
                None => anyhow::bail!("unknown placeholder {{{key}}} in {text:?}"),
            },
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Target {
    pub fn name(self) -> &'static str {
        &self.0.name
    }

    pub fn spec(self) -> &'static Spec {
        self.0
    }

    pub fn serves(self, protocol: Protocol) -> bool {
        self.0.protocols.contains(&protocol)
    }

    /// Its `libraries` with their versions under `root`, and a note for each
    /// version that could not be read (that version is null).
    pub fn libraries(self, root: &Path) -> (Vec<Library>, Vec<String>) {
        let mut notes = Vec::new();
        let libraries = self
            .0
            .libraries
            .iter()
            .map(|package| Library {
                name: package.name().to_owned(),
                version: package
                    .version(root)
                    .map_err(|why| notes.push(format!("{self}: {why}")))
                    .ok(),
                used_by: self.name().to_owned(),
            })
            .collect();
        (libraries, notes)
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Target {}

impl Hash for Target {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({})", self.name())
    }
}

/// Every registered target, in file order.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    target: Vec<RawTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Spanned<String>,
    language: Spanned<String>,
    framework: String,
    #[serde(default)]
    default: bool,
    image: Option<String>,
    containerfile: Option<String>,
    protocols: Vec<Spanned<String>>,
    #[serde(default)]
    flags: Vec<String>,
    version: Option<Package>,
    #[serde(default)]
    libraries: Vec<Package>,
    build: Spanned<Build>,
    #[serde(rename = "static")]
    static_build: Option<Spanned<Build>>,
}

impl Registry {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_path_buf(),
            at: None,
            message: format!("cannot read the target registry: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// The registry of `root` (its `targets.toml`).
    pub fn of_root(root: &Path) -> Result<Self, ScenarioError> {
        Self::load(&root.join(FILE))
    }

    /// The repository's registry as this harness was built with it.
    pub fn builtin() -> &'static Self {
        static BUILT: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
        BUILT.get_or_init(|| {
            Self::parse(Path::new(FILE), BUILTIN).expect("the repository's targets.toml is valid")
        })
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ScenarioError> {
        let file = File { path, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| file.toml_err(&e))?;
        let mut targets: Vec<Target> = Vec::new();
        for entry in raw.target {
            let spec = check(&file, entry, &targets)?;
            // The registry lives as long as the process: one leak per target.
            targets.push(Target(Box::leak(Box::new(spec))));
        }
        if targets.is_empty() {
            return Err(file.err(0..0, "no [[target]]: the registry must name at least one"));
        }
        Ok(Self {
            path: path.to_path_buf(),
            targets,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn all(&self) -> &[Target] {
        &self.targets
    }

    /// The target named `name`, exactly.
    pub fn get(&self, name: &str) -> Option<Target> {
        self.targets.iter().copied().find(|t| t.name() == name)
    }

    /// The default target of `language`.
    pub fn default_of(&self, language: &str) -> Option<Target> {
        self.targets
            .iter()
            .copied()
            .find(|t| t.0.language == language && t.0.default)
    }

    /// What `--target` (or a suite's `targets`) means by `word`: a registered
    /// name, `all`, or a language (its default target).
    pub fn resolve(&self, word: &str) -> Result<Vec<Target>, String> {
        if word == "all" {
            return Ok(self.targets.clone());
        }
        if let Some(t) = self.get(word) {
            return Ok(vec![t]);
        }
        if let Some(t) = self.default_of(word) {
            return Ok(vec![t]);
        }
        Err(format!(
            "unknown target `{word}`: expected {}, all, or a language ({}) for its default target",
            self.names().join(", "),
            self.languages().join(", ")
        ))
    }

    /// One word, a single target: a name or a language.
    pub fn resolve_one(&self, word: &str) -> Result<Target, String> {
        match self.resolve(word)?.as_slice() {
            [one] => Ok(*one),
            _ => Err(format!("`{word}` names more than one target; name one")),
        }
    }

    /// The target results.json calls `name`: a registered name, or in files
    /// written before targets had names, `rust` or `go` (the language's
    /// default). None for a name this registry does not know.
    pub fn of_results(&self, name: &str) -> Option<Target> {
        self.get(name).or_else(|| self.default_of(name))
    }

    /// The name results written before targets had names mean by `name`
    /// (`rust`, `go`): the language's default target, or `name` itself.
    pub fn legacy_name(&self, name: &str) -> String {
        self.of_results(name)
            .map_or_else(|| name.to_owned(), |t| t.name().to_owned())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.targets.iter().map(|t| t.name()).collect()
    }

    fn languages(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for t in &self.targets {
            if t.0.default && !out.contains(&t.0.language.as_str()) {
                out.push(&t.0.language);
            }
        }
        out
    }
}

/// A checked target, or the first problem at its place in the file.
fn check(file: &File, raw: RawTarget, before: &[Target]) -> Result<Spec, ScenarioError> {
    let name = raw.name.get_ref();
    let kebab = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !kebab(name) {
        return Err(file.err(
            raw.name.span(),
            "name must be kebab-case: lower-case letters, digits and '-'",
        ));
    }
    if name == "all" {
        return Err(file.err(
            raw.name.span(),
            "`all` means every target: pick another name",
        ));
    }
    if before.iter().any(|t| t.name() == name) {
        return Err(file.err(
            raw.name.span(),
            format!("target `{name}` is registered twice"),
        ));
    }
    let language = raw.language.get_ref();
    if !kebab(language) {
        return Err(file.err(raw.language.span(), "language must be a lower-case word"));
    }
    if before.iter().any(|t| t.0.name == *language) || before.iter().any(|t| t.0.language == *name)
    {
        return Err(file.err(
            raw.name.span(),
            "a target's name and a language must differ: `--target` could mean either",
        ));
    }
    if raw.default
        && before
            .iter()
            .any(|t| t.0.default && t.0.language == *language)
    {
        return Err(file.err(
            raw.language.span(),
            format!("`{language}` already has a default target: only one may say `default = true`"),
        ));
    }
    let mut protocols = Vec::new();
    for p in &raw.protocols {
        let protocol = match p.get_ref().as_str() {
            "http1" => Protocol::Http1,
            "http2" => Protocol::Http2,
            "grpc" => Protocol::Grpc,
            other => {
                return Err(file.err(
                    p.span(),
                    format!("unknown protocol `{other}`: expected http1, http2 or grpc"),
                ));
            }
        };
        if protocols.contains(&protocol) {
            return Err(file.err(
                p.span(),
                format!("protocol `{}` is listed twice", p.get_ref()),
            ));
        }
        protocols.push(protocol);
    }
    if protocols.is_empty() {
        return Err(file.err(raw.name.span(), "protocols must name at least one"));
    }
    for build in std::iter::once(&raw.build).chain(raw.static_build.as_ref()) {
        if build.get_ref().command.is_empty() {
            return Err(file.err(build.span(), "command must name a program"));
        }
    }
    Ok(Spec {
        name: name.clone(),
        language: language.clone(),
        framework: raw.framework,
        default: raw.default,
        image: raw.image.unwrap_or_else(|| name.clone()),
        containerfile: raw.containerfile,
        protocols,
        flags: raw.flags,
        version: raw.version,
        libraries: raw.libraries,
        build: raw.build.into_inner(),
        static_build: raw.static_build.map(Spanned::into_inner),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Registry, ScenarioError> {
        Registry::parse(Path::new("t.toml"), text)
    }

    const ONE: &str = r#"
[[target]]
name = "rust-axum"
language = "rust"
framework = "axum"
default = true
protocols = ["http1", "grpc"]
[target.build]
command = ["cargo", "build"]
binary = "target/release/rust-svc"
"#;

    #[test]
    fn the_repository_registry_is_valid() {
        let r = Registry::builtin();
        assert_eq!(r.names(), ["rust-axum", "go-gin"]);
        assert_eq!(
            r.resolve("rust").unwrap(),
            vec![r.get("rust-axum").unwrap()]
        );
        assert_eq!(r.resolve("go").unwrap()[0].name(), "go-gin");
        assert_eq!(r.resolve("all").unwrap().len(), 2);
        assert_eq!(r.of_results("go").unwrap().name(), "go-gin");
        assert_eq!(r.of_results("rust-axum").unwrap().name(), "rust-axum");
        assert!(r.of_results("java").is_none());
        // Every library's version is in the lock files.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for t in r.all() {
            let (libraries, notes) = t.libraries(&root);
            assert!(notes.is_empty(), "{notes:?}");
            assert!(libraries.len() >= 3, "{libraries:?}");
            assert!(libraries.iter().all(|l| l.used_by == t.name()));
            t.spec().version.as_ref().unwrap().version(&root).unwrap();
        }
    }

    #[test]
    fn resolves_names_languages_and_all() {
        let r = parse(ONE).unwrap();
        let t = r.get("rust-axum").unwrap();
        assert!(t.serves(Protocol::Grpc));
        assert!(!t.serves(Protocol::Http2));
        assert_eq!(t.spec().image, "rust-axum");
        let err = r.resolve("java").unwrap_err();
        assert_eq!(
            err,
            "unknown target `java`: expected rust-axum, all, or a language (rust) for its default target"
        );
    }

    #[test]
    fn errors_point_at_the_key() {
        let cases = [
            (
                ONE.replace("\"rust-axum\"", "\"Rust\""),
                (3, 8),
                "kebab-case",
            ),
            (format!("{ONE}{ONE}"), (13, 8), "registered twice"),
            (
                ONE.replace("\"grpc\"", "\"quic\""),
                (7, 23),
                "unknown protocol `quic`",
            ),
            (
                ONE.replace("framework", "frame"),
                (5, 1),
                "unknown key `frame`",
            ),
            (
                format!("{ONE}{}", ONE.replace("rust-axum", "rust-actix")),
                (14, 12),
                "already has a default",
            ),
            ("".to_owned(), (1, 1), "no [[target]]"),
        ];
        for (text, (line, col), want) in cases {
            let err = parse(&text).unwrap_err();
            assert_eq!(err.at, Some((line, col)), "{want}: {err}");
            assert!(err.message.contains(want), "{want}: {err}");
        }
    }

    #[test]
    fn builds_expand_their_placeholders() {
        let build = Build {
            command: ["go", "build", "-o", "{binary}", "--", "{host_triple}"]
                .map(String::from)
                .to_vec(),
            dir: "go-svc".to_owned(),
            binary: "target/{host_triple}/svc".to_owned(),
            env: [
                ("CGO_ENABLED".to_owned(), "0".to_owned()),
                (
                    "LAB_UNSET".to_owned(),
                    "{env:LAB_SURELY_UNSET_VAR}".to_owned(),
                ),
            ]
            .into(),
        };
        let triple = || Ok("x86_64-test".to_owned());
        let x = Expand {
            root: Path::new("/repo"),
            host_triple: &triple,
        };
        let cmd = build.command(&x).unwrap();
        assert_eq!(cmd.get_program(), "go");
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "build",
                "-o",
                "/repo/target/x86_64-test/svc",
                "--",
                "x86_64-test"
            ]
        );
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/repo/go-svc")));
        let envs: Vec<_> = cmd.get_envs().collect();
        assert!(envs.contains(&("CGO_ENABLED".as_ref(), Some("0".as_ref()))));
        assert!(envs.contains(&("LAB_UNSET".as_ref(), None)));
        let bad = Build {
            binary: "{nope}".to_owned(),
            ..build
        };
        assert!(
            bad.binary(&x)
                .unwrap_err()
                .to_string()
                .contains("unknown placeholder {nope}")
        );
    }
}
