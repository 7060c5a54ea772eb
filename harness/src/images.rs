//! `harness images`: per service, the size of the release binary as built and
//! stripped, and of a `FROM scratch` container image holding a static build of
//! it (`rust-svc/Containerfile`, `go-svc/Containerfile`). Every figure is
//! measured; one that cannot be is null, with a note saying why.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::results::ArtifactRecord;
use crate::target::{Layout, Target};

/// Which program builds the images (`--builder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BuilderChoice {
    /// podman if it is on PATH and `podman info` answers, else docker likewise.
    Auto,
    Podman,
    Docker,
}

impl BuilderChoice {
    fn candidates(self) -> &'static [BuilderKind] {
        match self {
            BuilderChoice::Auto => &[BuilderKind::Podman, BuilderKind::Docker],
            BuilderChoice::Podman => &[BuilderKind::Podman],
            BuilderChoice::Docker => &[BuilderKind::Docker],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderKind {
    Podman,
    Docker,
}

impl BuilderKind {
    pub fn name(self) -> &'static str {
        match self {
            BuilderKind::Podman => "podman",
            BuilderKind::Docker => "docker",
        }
    }
}

/// A container builder found on the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    pub kind: BuilderKind,
    pub program: PathBuf,
}

/// The first builder `choice` allows that is an executable file in one of the
/// directories of `search_path` (a PATH-style list) and that `usable` accepts;
/// otherwise why none is, as an image note: `unavailable: podman not found;
/// docker not usable (`docker info`: Cannot connect to the Docker daemon …)`.
pub fn select_builder(
    choice: BuilderChoice,
    search_path: &OsStr,
    usable: impl Fn(&Builder) -> Result<(), String>,
) -> Result<Builder, String> {
    let mut why = Vec::new();
    for &kind in choice.candidates() {
        let name = kind.name();
        let Some(program) = find_executable(name, search_path) else {
            why.push(format!("{name} not found"));
            continue;
        };
        let builder = Builder { kind, program };
        match usable(&builder) {
            Ok(()) => return Ok(builder),
            Err(reason) => why.push(format!("{name} not usable (`{name} info`: {reason})")),
        }
    }
    Err(format!("unavailable: {}", why.join("; ")))
}

pub fn find_executable(name: &str, search_path: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(search_path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn on_path(name: &str) -> bool {
    find_executable(name, &std::env::var_os("PATH").unwrap_or_default()).is_some()
}

/// Measures every target, prints a table, and adds the entries to
/// `out/results.json`. Returns false when something that is present failed
/// (a build, a builder, a dynamic binary), so that CI notices; a builder that
/// is simply absent is not a failure.
pub fn run(
    layout: &Layout,
    targets: &[Target],
    choice: BuilderChoice,
    build: bool,
    out: Option<&Path>,
) -> anyhow::Result<bool> {
    let mut file = out.map(crate::results::ResultsFile::open).transpose()?;
    if let Some(file) = &mut file {
        file.add_targets(layout.root(), targets)?;
    }
    let selected = select_builder(
        choice,
        &std::env::var_os("PATH").unwrap_or_default(),
        Builder::answers,
    );
    let (builder, absent) = match selected {
        Ok(builder) => (Some(builder), None),
        Err(why) => (None, Some(why)),
    };
    let builder_name = builder.as_ref().map(Builder::version);
    match (&builder, &builder_name, &absent) {
        (Some(b), Some(name), _) => eprintln!("images: builder {name} ({})", b.program.display()),
        (_, _, Some(why)) => eprintln!("images: {why}"),
        _ => {}
    }
    let revision = git_revision(layout.root());
    let mut ok = true;
    let mut artifacts = Vec::new();
    for &target in targets {
        let (artifact, target_ok) = measure(
            layout,
            target,
            builder
                .as_ref()
                .ok_or(absent.as_deref().unwrap_or_default()),
            builder_name.clone(),
            build,
            revision.as_deref(),
        )?;
        if let Some(note) = &artifact.image_note {
            eprintln!("images: {target}: {note}");
        }
        ok &= target_ok;
        if let Some(file) = &mut file {
            file.push_artifact(&artifact)?;
        }
        artifacts.push(artifact);
    }
    print!("\n{}", table(&artifacts));
    if let Some(file) = &mut file {
        file.complete()?;
        eprintln!("images: results in {}", file.path().display());
    }
    Ok(ok)
}

fn measure(
    layout: &Layout,
    target: Target,
    builder: Result<&Builder, &str>,
    builder_name: Option<String>,
    build: bool,
    revision: Option<&str>,
) -> anyhow::Result<(ArtifactRecord, bool)> {
    if build {
        layout.build(target)?;
    }
    let binary = layout.binary(target)?;
    let binary_bytes = file_size(&binary).with_context(|| {
        format!(
            "{target}: build it first with `harness build --target {target}` (or drop --no-build)"
        )
    })?;
    let (binary_stripped_bytes, binary_note) = match stripped_size(&binary) {
        Ok(bytes) => (Some(bytes), None),
        Err(note) => (None, Some(note)),
    };
    let mut artifact = ArtifactRecord {
        target: target.name().to_owned(),
        binary_bytes,
        binary_stripped_bytes,
        binary_note,
        static_binary_bytes: None,
        image: None,
        image_builder: builder_name,
        image_bytes: None,
        image_compressed_bytes: None,
        image_layers: None,
        image_note: None,
    };

    // Without --no-build it is rebuilt; with it, built only if it is missing,
    // since what goes into the image must be measured, not assumed.
    let static_binary = layout.static_binary(target).and_then(|path| match path {
        Some(path) if !build && path.is_file() => Ok(path),
        _ => layout.build_static(target),
    });
    let static_binary = match static_binary {
        Ok(path) => path,
        Err(err) => {
            artifact.image_note = Some(format!("unavailable: static binary: {err:#}"));
            return Ok((artifact, false));
        }
    };
    let bytes = std::fs::read(&static_binary)
        .with_context(|| format!("reading {}", static_binary.display()))?;
    match elf_interpreter(&bytes) {
        Ok(None) => artifact.static_binary_bytes = Some(bytes.len() as u64),
        Ok(Some(interpreter)) => {
            artifact.image_note = Some(format!(
                "unavailable: refusing to build an image from {}: it is dynamically linked, \
                 with interpreter {interpreter}; a FROM scratch image has no loader",
                static_binary.display()
            ));
            return Ok((artifact, false));
        }
        Err(err) => {
            artifact.image_note = Some(format!("unavailable: {}: {err}", static_binary.display()));
            return Ok((artifact, false));
        }
    }
    drop(bytes);

    let builder = match builder {
        Ok(builder) => builder,
        Err(why) => {
            artifact.image_note = Some(why.to_owned());
            return Ok((artifact, true));
        }
    };
    let tag = revision.unwrap_or("latest");
    let reference = format!("localhost/benchlab/{}:{tag}", target.spec().image);
    let ok = builder.measure(
        layout,
        target,
        &static_binary,
        &reference,
        revision,
        &mut artifact,
    )?;
    Ok((artifact, ok))
}

fn file_size(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{} is missing", path.display()))?
        .len())
}

/// The size of `binary` after `strip --strip-all`, or why it is unknown.
fn stripped_size(binary: &Path) -> Result<u64, String> {
    if !on_path("strip") {
        return Err("strip not found (install binutils)".to_owned());
    }
    let dir = tempfile::tempdir().map_err(|err| format!("strip: no temporary directory: {err}"))?;
    let stripped = dir.path().join("stripped");
    let mut cmd = Command::new("strip");
    cmd.arg("--strip-all").arg("-o").arg(&stripped).arg(binary);
    run_quiet(&mut cmd).map_err(|why| format!("strip failed: {why}"))?;
    std::fs::metadata(&stripped)
        .map(|m| m.len())
        .map_err(|err| format!("strip wrote no file: {err}"))
}

/// `git rev-parse --short HEAD`, with `-dirty` when tracked files differ from
/// it, or None outside a repository.
fn git_revision(root: &Path) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--short", "HEAD"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let rev = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    if !output.status.success() || rev.is_empty() {
        return None;
    }
    let dirty = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    Some(if dirty { format!("{rev}-dirty") } else { rev })
}

/// How long `<builder> info` may take before the builder counts as unusable.
const INFO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The last non-blank line of a program's output.
fn last_line(output: &[u8]) -> Option<String> {
    String::from_utf8_lossy(output)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// Runs `cmd` with its output captured; on failure, its last stderr line.
fn run_quiet(cmd: &mut Command) -> Result<String, String> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run {:?}: {err}", cmd.get_program()))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last =
        last_line(&output.stderr).unwrap_or_else(|| format!("exit status {}", output.status));
    if !stderr.trim().is_empty() {
        eprintln!("{}", stderr.trim_end());
    }
    Err(last)
}

impl Builder {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Ok when `<builder> info` answers within 30 s: a docker CLI whose daemon
    /// is down is on PATH but cannot build. Otherwise its last stderr line.
    fn answers(&self) -> Result<(), String> {
        let mut cmd = self.command();
        cmd.arg("info").stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", self.program.display()))?;
        let deadline = std::time::Instant::now() + INFO_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("no answer within {} s", INFO_TIMEOUT.as_secs()));
                }
                Err(err) => return Err(format!("waiting for it: {err}")),
            }
        }
        let output = child
            .wait_with_output()
            .map_err(|err| format!("reading its output: {err}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(last_line(&output.stderr).unwrap_or_else(|| format!("exit status {}", output.status)))
    }

    /// `podman 4.3.1`, or just the name if `--version` says nothing usable.
    fn version(&self) -> String {
        let name = self.kind.name();
        let text = self
            .command()
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        match parse_version(&text) {
            Some(version) => format!("{name} {version}"),
            None => name.to_owned(),
        }
    }

    /// Builds the image of `target` from `binary` and fills in the image
    /// fields of `artifact`. False when the builder failed.
    fn measure(
        &self,
        layout: &Layout,
        target: Target,
        binary: &Path,
        reference: &str,
        revision: Option<&str>,
        artifact: &mut ArtifactRecord,
    ) -> anyhow::Result<bool> {
        let name = self.kind.name();
        let context = tempfile::tempdir().context("creating the build context")?;
        let containerfile = layout.root().join(
            target
                .spec()
                .containerfile
                .as_deref()
                .with_context(|| format!("{target}: the registry gives no containerfile"))?,
        );
        std::fs::copy(&containerfile, context.path().join("Containerfile"))
            .with_context(|| format!("copying {}", containerfile.display()))?;
        let copied = context.path().join(
            binary
                .file_name()
                .context("the static binary has a file name")?,
        );
        std::fs::copy(binary, &copied).with_context(|| format!("copying {}", binary.display()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            // Readable and executable by the image's non-root user.
            std::fs::set_permissions(&copied, std::fs::Permissions::from_mode(0o555))?;
        }

        let mut cmd = self.command();
        cmd.args(["build", "-f", "Containerfile", "-t", reference])
            .arg("--build-arg")
            .arg(format!("VERSION={}", env!("CARGO_PKG_VERSION")))
            .arg("--build-arg")
            .arg(format!("REVISION={}", revision.unwrap_or("unknown")))
            .arg(context.path())
            // docker reads `-f` relative to the working directory.
            .current_dir(context.path());
        eprintln!("images: building {reference} with {name}");
        if let Err(why) = run_quiet(&mut cmd) {
            artifact.image_note = Some(format!("unavailable: {name} build failed: {why}"));
            return Ok(false);
        }
        artifact.image = Some(reference.to_owned());

        let mut inspect = self.command();
        inspect.args([
            "image",
            "inspect",
            reference,
            "--format",
            "{{.Size}} {{len .RootFS.Layers}}",
        ]);
        let mut notes = Vec::new();
        match run_quiet(&mut inspect).and_then(|text| {
            parse_inspect(&text).ok_or_else(|| format!("unexpected output {:?}", text.trim()))
        }) {
            Ok((size, layers)) => {
                artifact.image_bytes = Some(size);
                artifact.image_layers = Some(layers);
            }
            Err(why) => notes.push(format!("{name} image inspect failed: {why}")),
        }

        let archive = context.path().join("image.tar");
        let mut save = self.command();
        save.arg("save");
        // podman's oci-archive holds layers it gzipped itself; docker-archive
        // holds them uncompressed, like docker's save, so that both builders'
        // figures come from the same compressor.
        if self.kind == BuilderKind::Podman {
            save.args(["--format", "docker-archive"]);
        }
        save.arg("-o").arg(&archive).arg(reference);
        eprintln!("images: saving {reference} to measure its compressed layers");
        match run_quiet(&mut save) {
            Ok(_) => match compressed_layer_bytes(&archive) {
                Ok(bytes) => artifact.image_compressed_bytes = Some(bytes),
                Err(err) => notes.push(format!("reading the {name} save archive: {err:#}")),
            },
            Err(why) => notes.push(format!("{name} save failed: {why}")),
        }
        if notes.is_empty() {
            return Ok(true);
        }
        artifact.image_note = Some(format!("unavailable: {}", notes.join("; ")));
        Ok(false)
    }
}

/// The version in `podman version 4.3.1` or `Docker version 28.2.2, build e6534b4`.
fn parse_version(text: &str) -> Option<&str> {
    let mut words = text.split_whitespace();
    words.find(|w| w.eq_ignore_ascii_case("version"))?;
    words
        .next()
        .map(|v| v.trim_end_matches(','))
        .filter(|v| !v.is_empty())
}

/// `SIZE LAYERS` from `image inspect --format '{{.Size}} {{len .RootFS.Layers}}'`.
fn parse_inspect(text: &str) -> Option<(u64, u64)> {
    let mut words = text.split_whitespace();
    let size = words.next()?.parse().ok()?;
    let layers = words.next()?.parse().ok()?;
    words.next().is_none().then_some((size, layers))
}

// ---------------------------------------------------------------------------
// ELF

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("not a 64-bit ELF file")]
    Not64,
    #[error("unknown ELF byte order {0}")]
    ByteOrder(u8),
    #[error("truncated ELF file")]
    Truncated,
    #[error("more program headers than the ELF header can count")]
    TooManyHeaders,
}

const PT_INTERP: u32 = 3;

/// The program interpreter (dynamic loader) an ELF64 executable asks for,
/// from its `PT_INTERP` program header; None for a static binary.
pub fn elf_interpreter(bytes: &[u8]) -> Result<Option<String>, ElfError> {
    if bytes.len() < 4 || bytes[..4] != *b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    if bytes.len() < 64 {
        return Err(ElfError::Truncated);
    }
    if bytes[4] != 2 {
        return Err(ElfError::Not64);
    }
    let little = match bytes[5] {
        1 => true,
        2 => false,
        other => return Err(ElfError::ByteOrder(other)),
    };
    let field = |offset: usize, len: usize| -> Result<u64, ElfError> {
        let raw = bytes
            .get(offset..offset.checked_add(len).ok_or(ElfError::Truncated)?)
            .ok_or(ElfError::Truncated)?;
        let mut value = 0u64;
        for i in 0..len {
            let byte = if little { raw[len - 1 - i] } else { raw[i] };
            value = value << 8 | u64::from(byte);
        }
        Ok(value)
    };
    let phoff = usize::try_from(field(0x20, 8)?).map_err(|_| ElfError::Truncated)?;
    let phentsize = field(0x36, 2)? as usize;
    let phnum = field(0x38, 2)?;
    // PN_XNUM: the real count is in section header 0, which no toolchain
    // writes for an executable.
    if phnum == 0xffff {
        return Err(ElfError::TooManyHeaders);
    }
    if phnum > 0 && phentsize < 56 {
        return Err(ElfError::Truncated);
    }
    for i in 0..phnum as usize {
        let at = phoff
            .checked_add(i * phentsize)
            .ok_or(ElfError::Truncated)?;
        if field(at, 4)? as u32 != PT_INTERP {
            continue;
        }
        let offset = usize::try_from(field(at + 8, 8)?).map_err(|_| ElfError::Truncated)?;
        let size = usize::try_from(field(at + 32, 8)?).map_err(|_| ElfError::Truncated)?;
        let raw = bytes
            .get(offset..offset.checked_add(size).ok_or(ElfError::Truncated)?)
            .ok_or(ElfError::Truncated)?;
        let text = raw.split(|&b| b == 0).next().unwrap_or_default();
        return Ok(Some(String::from_utf8_lossy(text).into_owned()));
    }
    Ok(None)
}

// ---------------------------------------------------------------------------
// Image archives

/// What a registry would store for the image in `archive` (a `docker save` /
/// `podman save` tarball, docker-archive or OCI layout): the sum of its
/// layers, each gzipped at the default level unless it already is compressed.
pub fn compressed_layer_bytes(archive: &Path) -> anyhow::Result<u64> {
    let open = || {
        std::fs::File::open(archive)
            .map(io::BufReader::new)
            .with_context(|| format!("opening {}", archive.display()))
    };
    let layers = layer_paths(open()?)?;
    compressed_sizes(open()?, &layers)
}

/// Blobs this small are read in the first pass: manifests and configs are.
const SMALL_BLOB: u64 = 1 << 20;

/// The archive paths of the image's layers (first pass over the archive).
fn layer_paths(archive: impl Read) -> anyhow::Result<Vec<String>> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut archive = tar::Archive::new(archive);
    for entry in archive.entries().context("reading the image archive")? {
        let mut entry = entry.context("reading the image archive")?;
        let path = normalize(Path::new(""), &entry.path()?);
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let Some(target) = entry.link_name()? else {
                continue;
            };
            // Symlinks are relative to their directory, hard links to the archive.
            let base = if kind.is_symlink() {
                Path::new(&path)
                    .parent()
                    .unwrap_or(Path::new(""))
                    .to_path_buf()
            } else {
                PathBuf::new()
            };
            links.insert(path, normalize(&base, &target));
        } else if kind.is_file()
            && (path == "manifest.json" || path == "index.json" || entry.size() <= SMALL_BLOB)
        {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            files.insert(path, bytes);
        }
    }
    let layers = if let Some(manifest) = files.get("manifest.json") {
        docker_layers(manifest)?
    } else if let Some(index) = files.get("index.json") {
        oci_layers(index, &files)?
    } else {
        bail!("the image archive has neither manifest.json (docker-archive) nor index.json (OCI)");
    };
    let mut seen = HashSet::new();
    Ok(layers
        .into_iter()
        .map(|path| resolve(&links, path))
        .filter(|path| seen.insert(path.clone()))
        .collect())
}

/// docker-archive: `manifest.json` is `[{"Config", "RepoTags", "Layers": [path…]}]`.
fn docker_layers(manifest: &[u8]) -> anyhow::Result<Vec<String>> {
    let manifest: serde_json::Value =
        serde_json::from_slice(manifest).context("manifest.json is not JSON")?;
    let images = manifest
        .as_array()
        .context("manifest.json is not an array")?;
    let mut layers = Vec::new();
    for image in images {
        for layer in image["Layers"]
            .as_array()
            .context("manifest.json: an image without Layers")?
        {
            let layer = layer
                .as_str()
                .context("manifest.json: a layer is not a path")?;
            layers.push(normalize(Path::new(""), Path::new(layer)));
        }
    }
    Ok(layers)
}

/// OCI layout: `index.json` → manifest (possibly through nested indexes)
/// → `layers[].digest` → `blobs/<alg>/<hex>`.
fn oci_layers(index: &[u8], files: &HashMap<String, Vec<u8>>) -> anyhow::Result<Vec<String>> {
    let index: serde_json::Value =
        serde_json::from_slice(index).context("index.json is not JSON")?;
    let mut pending: Vec<serde_json::Value> = index["manifests"]
        .as_array()
        .context("index.json has no manifests")?
        .iter()
        .rev()
        .cloned()
        .collect();
    let mut layers = Vec::new();
    let mut manifests = 0;
    let mut steps = 0;
    while let Some(descriptor) = pending.pop() {
        steps += 1;
        if steps > 1000 {
            bail!("index.json: too many nested manifests");
        }
        // Attestations (docker buildx) describe the image; they are not part of it.
        if descriptor["annotations"]["vnd.docker.reference.type"].is_string() {
            continue;
        }
        let path = blob_path(&descriptor)?;
        // An index may list platforms whose blobs were not saved.
        let Some(blob) = files.get(&path) else {
            continue;
        };
        let blob: serde_json::Value =
            serde_json::from_slice(blob).with_context(|| format!("{path} is not JSON"))?;
        if let Some(children) = blob["manifests"].as_array() {
            pending.extend(children.iter().rev().cloned());
        } else if let Some(list) = blob["layers"].as_array() {
            manifests += 1;
            for layer in list {
                layers.push(blob_path(layer)?);
            }
        }
    }
    if manifests == 0 {
        bail!("index.json leads to no image manifest in the archive");
    }
    Ok(layers)
}

fn blob_path(descriptor: &serde_json::Value) -> anyhow::Result<String> {
    let digest = descriptor["digest"]
        .as_str()
        .context("a descriptor without a digest")?;
    let (algorithm, hex) = digest
        .split_once(':')
        .with_context(|| format!("bad digest {digest:?}"))?;
    if algorithm.contains(['/', '.']) || hex.contains(['/', '.']) || hex.is_empty() {
        bail!("bad digest {digest:?}");
    }
    Ok(format!("blobs/{algorithm}/{hex}"))
}

/// The sum of the layers' gzipped sizes (second pass over the archive).
fn compressed_sizes(archive: impl Read, layers: &[String]) -> anyhow::Result<u64> {
    let wanted: HashSet<&str> = layers.iter().map(String::as_str).collect();
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    let mut archive = tar::Archive::new(archive);
    for entry in archive.entries().context("reading the image archive")? {
        let mut entry = entry.context("reading the image archive")?;
        let path = normalize(Path::new(""), &entry.path()?);
        if !entry.header().entry_type().is_file() || !wanted.contains(path.as_str()) {
            continue;
        }
        let size = compressed_size(&mut entry).with_context(|| format!("compressing {path}"))?;
        sizes.insert(path, size);
    }
    if let Some(missing) = layers.iter().find(|l| !sizes.contains_key(*l)) {
        bail!("layer {missing} is not in the image archive");
    }
    Ok(sizes.values().sum())
}

/// The size of `layer` gzipped at the default level, or as is when it is
/// already gzip (or zstd).
fn compressed_size(layer: &mut impl Read) -> io::Result<u64> {
    let mut head = [0u8; 4];
    let mut filled = 0;
    while filled < head.len() {
        match layer.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    let head = &head[..filled];
    if head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let rest = io::copy(layer, &mut io::sink())?;
        return Ok(filled as u64 + rest);
    }
    let mut gz = GzEncoder::new(ByteCount(0), Compression::default());
    gz.write_all(head)?;
    io::copy(layer, &mut gz)?;
    Ok(gz.finish()?.0)
}

/// A writer that only counts.
struct ByteCount(u64);

impl Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `base/path` as a `/`-separated archive path without `.`, `..` or a leading `/`.
fn normalize(base: &Path, path: &Path) -> String {
    let mut parts: Vec<&OsStr> = Vec::new();
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    for component in joined.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let mut text = OsString::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            text.push("/");
        }
        text.push(part);
    }
    text.to_string_lossy().into_owned()
}

/// Follows links between archive entries (old docker-archives link a layer
/// that appears twice to its first copy).
fn resolve(links: &HashMap<String, String>, mut path: String) -> String {
    for _ in 0..40 {
        match links.get(&path) {
            Some(next) => path = next.clone(),
            None => break,
        }
    }
    path
}

// ---------------------------------------------------------------------------
// Output

/// One column per target, one row per figure, then the notes.
pub fn table(artifacts: &[ArtifactRecord]) -> String {
    let bytes = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), human_bytes);
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let rows: Vec<(&str, Vec<String>)> = vec![
        (
            "target",
            artifacts.iter().map(|a| a.target.to_owned()).collect(),
        ),
        (
            "binary",
            artifacts
                .iter()
                .map(|a| bytes(Some(a.binary_bytes)))
                .collect(),
        ),
        (
            "stripped",
            artifacts
                .iter()
                .map(|a| bytes(a.binary_stripped_bytes))
                .collect(),
        ),
        (
            "static",
            artifacts
                .iter()
                .map(|a| bytes(a.static_binary_bytes))
                .collect(),
        ),
        (
            "image",
            artifacts.iter().map(|a| bytes(a.image_bytes)).collect(),
        ),
        (
            "compressed",
            artifacts
                .iter()
                .map(|a| bytes(a.image_compressed_bytes))
                .collect(),
        ),
        (
            "layers",
            artifacts
                .iter()
                .map(|a| {
                    a.image_layers
                        .map_or_else(|| "-".to_owned(), |n| n.to_string())
                })
                .collect(),
        ),
        (
            "builder",
            artifacts.iter().map(|a| text(&a.image_builder)).collect(),
        ),
        (
            "reference",
            artifacts.iter().map(|a| text(&a.image)).collect(),
        ),
    ];
    let widths: Vec<usize> = (0..artifacts.len())
        .map(|i| {
            rows.iter()
                .map(|(_, cells)| cells[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (label, cells) in &rows {
        out.push_str(&format!("{label:<11}"));
        for (cell, width) in cells.iter().zip(&widths) {
            out.push_str(&format!("  {cell:<width$}"));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    for a in artifacts {
        for note in [&a.binary_note, &a.image_note].into_iter().flatten() {
            out.push_str(&format!("note {}: {note}\n", a.target));
        }
    }
    out
}

/// `12,345,678 B (11.77 MiB)`.
fn human_bytes(bytes: u64) -> String {
    let digits = bytes.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped} B ({:.2} MiB)", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 little-endian executable: the header and `types.len()`
    /// program headers, and for PT_INTERP an interpreter string after them.
    fn synthetic_elf(types: &[u32]) -> Vec<u8> {
        let interp = b"/lib/ld-test.so.1\0";
        let phoff = 64usize;
        let data = phoff + 56 * types.len();
        let mut elf = vec![0u8; data];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2; // ELFCLASS64
        elf[5] = 1; // little-endian
        elf[6] = 1; // EV_CURRENT
        elf[0x10..0x12].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        elf[0x12..0x14].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        elf[0x20..0x28].copy_from_slice(&(phoff as u64).to_le_bytes());
        elf[0x34..0x36].copy_from_slice(&64u16.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for (i, &kind) in types.iter().enumerate() {
            let at = phoff + 56 * i;
            elf[at..at + 4].copy_from_slice(&kind.to_le_bytes());
            if kind == PT_INTERP {
                elf[at + 8..at + 16].copy_from_slice(&(data as u64).to_le_bytes());
                elf[at + 32..at + 40].copy_from_slice(&(interp.len() as u64).to_le_bytes());
            }
        }
        elf.extend_from_slice(interp);
        elf
    }

    #[test]
    fn a_synthetic_static_elf_has_no_interpreter() {
        // PT_LOAD, PT_DYNAMIC (static-pie has one), PT_NOTE
        assert_eq!(elf_interpreter(&synthetic_elf(&[1, 2, 4])), Ok(None));
        assert_eq!(elf_interpreter(&synthetic_elf(&[])), Ok(None));
    }

    #[test]
    fn a_synthetic_dynamic_elf_names_its_interpreter() {
        assert_eq!(
            elf_interpreter(&synthetic_elf(&[6, PT_INTERP, 1])),
            Ok(Some("/lib/ld-test.so.1".to_owned()))
        );
    }

    #[test]
    fn rejects_what_is_not_a_whole_elf64() {
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        let elf = synthetic_elf(&[1, PT_INTERP]);
        assert_eq!(elf_interpreter(&elf[..40]), Err(ElfError::Truncated));
        assert_eq!(elf_interpreter(&elf[..64 + 56]), Err(ElfError::Truncated));
        let mut elf32 = elf.clone();
        elf32[4] = 1;
        assert_eq!(elf_interpreter(&elf32), Err(ElfError::Not64));
        let mut big_endian = elf;
        big_endian[5] = 2;
        // Read big-endian, the offsets point far outside the file.
        assert_eq!(elf_interpreter(&big_endian), Err(ElfError::Truncated));
    }

    #[test]
    fn bin_sh_is_dynamic() {
        let bytes = std::fs::read("/bin/sh").unwrap();
        let interpreter = elf_interpreter(&bytes)
            .unwrap()
            .expect("/bin/sh is dynamic");
        assert!(interpreter.contains("ld"), "{interpreter}");
    }

    fn fake_executable(dir: &Path, name: &str, mode: u32, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    const DAEMON_DOWN: &str = "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. \
         Is the docker daemon running?' >&2; exit 1";

    #[test]
    fn selects_the_first_builder_on_the_path_that_answers() {
        let empty = tempfile::tempdir().unwrap();
        let podman = tempfile::tempdir().unwrap();
        let docker = tempfile::tempdir().unwrap();
        let down = tempfile::tempdir().unwrap();
        fake_executable(podman.path(), "podman", 0o755, "exit 0");
        fake_executable(docker.path(), "docker", 0o755, "exit 0");
        fake_executable(down.path(), "docker", 0o755, DAEMON_DOWN);
        fake_executable(
            down.path(),
            "podman",
            0o755,
            "echo 'cannot set up namespace' >&2; exit 125",
        );
        // Not executable: not a builder.
        fake_executable(empty.path(), "podman", 0o644, "exit 0");
        let path = |dirs: &[&Path]| std::env::join_paths(dirs).unwrap();
        let select = |choice, dirs: &[&Path]| select_builder(choice, &path(dirs), Builder::answers);

        assert_eq!(
            select(BuilderChoice::Auto, &[empty.path()]),
            Err("unavailable: podman not found; docker not found".to_owned())
        );
        let auto = select(
            BuilderChoice::Auto,
            &[empty.path(), docker.path(), podman.path()],
        )
        .unwrap();
        assert_eq!(auto.kind, BuilderKind::Podman);
        assert_eq!(auto.program, podman.path().join("podman"));
        let forced = select(BuilderChoice::Docker, &[podman.path(), docker.path()]).unwrap();
        assert_eq!(forced.program, docker.path().join("docker"));
        assert_eq!(
            select(BuilderChoice::Auto, &[docker.path()]).unwrap().kind,
            BuilderKind::Docker
        );
        assert_eq!(
            select(BuilderChoice::Podman, &[docker.path()]),
            Err("unavailable: podman not found".to_owned())
        );
        // A docker CLI whose daemon is down is passed over, and says why.
        assert_eq!(
            select(BuilderChoice::Auto, &[down.path(), docker.path()]).unwrap_err(),
            "unavailable: podman not usable (`podman info`: cannot set up namespace); docker not \
             usable (`docker info`: Cannot connect to the Docker daemon at \
             unix:///var/run/docker.sock. Is the docker daemon running?)"
        );
        // Podman broken, a working docker after the broken one on PATH is not looked for:
        // the first executable of each name is the one a shell would run.
        let podman_broken = path(&[down.path()]);
        let only = select_builder(BuilderChoice::Auto, &podman_broken, |b| {
            if b.kind == BuilderKind::Docker {
                Ok(())
            } else {
                Builder::answers(b)
            }
        })
        .unwrap();
        assert_eq!(only.kind, BuilderKind::Docker);
    }

    #[test]
    fn parses_tool_output() {
        assert_eq!(parse_version("podman version 4.3.1\n"), Some("4.3.1"));
        assert_eq!(
            parse_version("Docker version 28.2.2, build e6534b4\n"),
            Some("28.2.2")
        );
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_inspect("12345 1\n"), Some((12345, 1)));
        assert_eq!(parse_inspect("12345\n"), None);
        assert_eq!(parse_inspect("<no value> 1"), None);
    }

    /// A layer: a tar holding one file, `size` bytes of a compressible pattern.
    fn layer(size: usize) -> Vec<u8> {
        let body: Vec<u8> = (0..size).map(|i| (i % 7) as u8).collect();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o555);
        header.set_cksum();
        builder.append_data(&mut header, "svc", &body[..]).unwrap();
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn archive(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        for (path, target) in links {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, path, target).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn measure_archive(bytes: &[u8]) -> anyhow::Result<u64> {
        let layers = layer_paths(bytes)?;
        compressed_sizes(bytes, &layers)
    }

    #[test]
    fn measures_a_docker_archive() {
        let (one, two) = (layer(50_000), layer(3_000));
        let expected = (gzip(&one).len() + gzip(&two).len()) as u64;
        let manifest = br#"[{"Config":"abc.json","RepoTags":["localhost/x:1"],
            "Layers":["aaa/layer.tar","./bbb/layer.tar","ccc/layer.tar"]}]"#;
        let bytes = archive(
            &[
                ("manifest.json", manifest),
                ("abc.json", b"{}"),
                ("aaa/layer.tar", &one),
                ("bbb/layer.tar", &two),
            ],
            // An old docker-archive links a repeated layer to its first copy.
            &[("ccc/layer.tar", "../aaa/layer.tar")],
        );
        assert_eq!(measure_archive(&bytes).unwrap(), expected);
        assert!(expected < one.len() as u64, "the pattern compresses");
    }

    #[test]
    fn measures_an_oci_layout_through_a_nested_index() {
        let (one, two) = (layer(40_000), gzip(&layer(9_000)));
        let manifest = br#"{"schemaVersion":2,"config":{"digest":"sha256:c0"},
            "layers":[{"digest":"sha256:aa"},{"digest":"sha256:bb"}]}"#;
        // docker >= 25: index.json → image index → manifest (another platform absent).
        let nested = br#"{"schemaVersion":2,"manifests":[
            {"digest":"sha256:ff","platform":{"architecture":"arm64"}},
            {"digest":"sha256:m1"},
            {"digest":"sha256:at","annotations":{"vnd.docker.reference.type":"attestation-manifest"}}]}"#;
        let index = br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:i1"}]}"#;
        let bytes = archive(
            &[
                ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
                ("index.json", index),
                ("blobs/sha256/i1", nested),
                ("blobs/sha256/m1", manifest),
                ("blobs/sha256/c0", b"{}"),
                ("blobs/sha256/aa", &one),
                // Already gzip: counted as is.
                ("blobs/sha256/bb", &two),
            ],
            &[],
        );
        let expected = (gzip(&one).len() + two.len()) as u64;
        assert_eq!(measure_archive(&bytes).unwrap(), expected);
    }

    #[test]
    fn an_archive_missing_a_layer_is_an_error() {
        let manifest = br#"[{"Layers":["aaa/layer.tar"]}]"#;
        let bytes = archive(&[("manifest.json", manifest)], &[]);
        let err = measure_archive(&bytes).unwrap_err().to_string();
        assert!(err.contains("aaa/layer.tar"), "{err}");
        let bytes = archive(&[("repositories", b"{}")], &[]);
        assert!(measure_archive(&bytes).is_err());
    }

    #[test]
    fn normalizes_archive_paths() {
        assert_eq!(normalize(Path::new(""), Path::new("./a/b")), "a/b");
        assert_eq!(
            normalize(Path::new("x"), Path::new("../a/layer.tar")),
            "a/layer.tar"
        );
        assert_eq!(normalize(Path::new("x"), Path::new("/blobs/a")), "blobs/a");
    }

    #[test]
    fn every_field_is_documented_in_the_results_schema() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/README.md"))
                .unwrap();
        let section = readme
            .split("## `artifacts[]`")
            .nth(1)
            .expect("reports/README.md has an `artifacts[]` section");
        let artifact = ArtifactRecord {
            target: "rust".to_owned(),
            binary_bytes: 1,
            binary_stripped_bytes: None,
            binary_note: Some(String::new()),
            static_binary_bytes: None,
            image: None,
            image_builder: None,
            image_bytes: None,
            image_compressed_bytes: None,
            image_layers: None,
            image_note: None,
        };
        let json = serde_json::to_value(&artifact).unwrap();
        for key in json.as_object().unwrap().keys() {
            assert!(
                section.contains(&format!("| `{key}` |")),
                "{key} is not documented in reports/README.md"
            );
        }
    }

    #[test]
    fn the_table_shows_bytes_mib_and_notes() {
        let artifact = ArtifactRecord {
            target: "go".to_owned(),
            binary_bytes: 12_345_678,
            binary_stripped_bytes: None,
            binary_note: Some("strip not found (install binutils)".to_owned()),
            static_binary_bytes: Some(1_048_576),
            image: None,
            image_builder: None,
            image_bytes: None,
            image_compressed_bytes: None,
            image_layers: None,
            image_note: Some("unavailable: podman not found; docker not found".to_owned()),
        };
        let text = table(std::slice::from_ref(&artifact));
        assert!(text.contains("12,345,678 B (11.77 MiB)"), "{text}");
        assert!(text.contains("1,048,576 B (1.00 MiB)"), "{text}");
        assert!(
            text.contains("note go: unavailable: podman not found; docker not found"),
            "{text}"
        );
        let json = serde_json::to_value(&artifact).unwrap();
        assert_eq!(json["image_bytes"], serde_json::Value::Null);
        assert_eq!(json["binary_note"], "strip not found (install binutils)");
        let measured = ArtifactRecord {
            binary_note: None,
            ..artifact
        };
        let json = serde_json::to_value(&measured).unwrap();
        assert!(json.get("binary_note").is_none());
        assert!(json.get("image_note").is_some());
    }
}
