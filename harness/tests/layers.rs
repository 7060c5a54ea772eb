//! The layering of the harness (the "Layers" section of `src/lib.rs`): no
//! module uses a module of a higher layer. `just lint` runs this test.
//!
//! A use is any `crate::name` outside a comment, including the names of a
//! grouped `use crate::{a, b::c}`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Each module's layer, from the numbered list under `# Layers` in lib.rs's
/// docs: `//! 3. `target`: ...` puts `target` in layer 3.
fn layers(lib_rs: &str) -> BTreeMap<String, usize> {
    let mut layers = BTreeMap::new();
    let mut current = None;
    let mut in_section = false;
    for line in lib_rs.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            break;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            in_section = doc == "# Layers";
            continue;
        }
        if !in_section {
            continue;
        }
        // A numbered item starts a layer; an indented line continues it.
        if let Some((number, _)) = doc.split_once(". ")
            && let Ok(n) = number.parse::<usize>()
        {
            current = Some(n);
        } else if !line.starts_with("//!   ") {
            current = None;
        }
        let Some(layer) = current else { continue };
        // The names are the backticked words before the item's colon.
        let names = doc.split_once(':').map_or(doc, |(names, _)| names);
        for name in names.split('`').skip(1).step_by(2) {
            layers.insert(name.to_owned(), layer);
        }
    }
    layers
}

/// The top-level modules `lib.rs` declares (`pub mod x;` or `mod x;`).
fn declared(lib_rs: &str) -> Vec<String> {
    lib_rs
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            Some(rest.strip_suffix(';')?.to_owned())
        })
        .collect()
}

/// Every `crate::name` used in `text`, with its 1-based line, comments left out.
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let name = leading_ident(item.trim());
                    if !name.is_empty() && name != "self" {
                        found.push((i + 1, name.to_owned()));
                    }
                }
            } else {
                let name = leading_ident(after);
                if !name.is_empty() {
                    found.push((i + 1, name.to_owned()));
                }
            }
            rest = after;
        }
    }
    found
}

fn leading_ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The `.rs` files of module `name` under `src`: `name.rs`, and every file
/// under `name/`.
fn module_files(src: &Path, name: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let file = src.join(format!("{name}.rs"));
    if file.is_file() {
        files.push(file);
    }
    let mut dirs = vec![src.join(name)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every use of a higher layer under `src`, and every declared module that
/// has no layer, as `file:line: ...` messages.
fn violations(src: &Path) -> Vec<String> {
    let lib_rs = fs::read_to_string(src.join("lib.rs")).expect("reading lib.rs");
    let layers = layers(&lib_rs);
    let mut problems = Vec::new();
    for module in declared(&lib_rs) {
        let Some(&own) = layers.get(&module) else {
            problems.push(format!(
                "{}: module `{module}` is in no layer of the `# Layers` list",
                src.join("lib.rs").display()
            ));
            continue;
        };
        for file in module_files(src, &module) {
            let text = fs::read_to_string(&file).expect("reading a source file");
            for (line, used) in uses(&text) {
                if let Some(&theirs) = layers.get(&used)
                    && theirs > own
                {
                    problems.push(format!(
                        "{}:{line}: `{module}` (layer {own}) uses `crate::{used}` (layer {theirs})",
                        file.display()
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = violations(&src);
    assert!(
        problems.is_empty(),
        "upward uses (see the Layers section of src/lib.rs):\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_module_has_a_layer_and_the_list_reads_as_written() {
    let lib_rs = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("reading lib.rs");
    let layers = layers(&lib_rs);
    assert_eq!(layers.get("rng"), Some(&1));
    assert_eq!(layers.get("stats"), Some(&1));
    assert_eq!(layers.get("wire"), Some(&2));
    assert_eq!(layers.get("cli"), Some(&11));
    for module in declared(&lib_rs) {
        assert!(layers.contains_key(&module), "`{module}` has no layer");
    }
}

/// The check finds an upward use planted in a small tree, in a plain path,
/// a `use` line and a group, and not in a comment or a lower layer.
#[test]
fn a_planted_upward_use_is_found() {
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("high")).unwrap();
    fs::write(
        src.join("lib.rs"),
        "//! Crate.\n//!\n//! # Layers\n//!\n//! 1. `low`, `base`: the bottom;\n//! 2. `high`: above\n\npub mod base;\npub mod high;\npub mod low;\n",
    )
    .unwrap();
    fs::write(src.join("base.rs"), "pub struct B;\n").unwrap();
    fs::write(
        src.join("high/mod.rs"),
        "use crate::low::L;\nuse crate::base::B;\n",
    )
    .unwrap();
    fs::write(
        src.join("low.rs"),
        "use crate::base::B;\n// crate::high::H is only named here\nuse crate::high::H;\nfn f() { let _ = crate::high::g(); }\nuse crate::{base::C, high::J};\n",
    )
    .unwrap();
    let problems = violations(&src);
    let _ = fs::remove_dir_all(&dir);
    let lines: Vec<&str> = problems
        .iter()
        .map(|p| {
            p.rsplit_once("low.rs:")
                .map_or(p.as_str(), |(_, rest)| rest)
        })
        .collect();
    assert_eq!(
        lines,
        [
            "3: `low` (layer 1) uses `crate::high` (layer 2)",
            "4: `low` (layer 1) uses `crate::high` (layer 2)",
            "5: `low` (layer 1) uses `crate::high` (layer 2)",
        ],
        "{problems:#?}"
    );
}
