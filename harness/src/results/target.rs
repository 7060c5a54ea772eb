//! `targets[]` of results.json: the implementations the commands ran.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::target::Target;

/// A target as results.json records it, from the registry (`targets.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetRecord {
    pub name: String,
    pub language: String,
    pub framework: String,
    /// The framework's version from its lock file (the registry's `version`).
    pub version: Option<String>,
    /// Why `version` is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_note: Option<String>,
}

impl TargetRecord {
    pub fn of(root: &Path, target: Target) -> Self {
        let spec = target.spec();
        let (version, version_note) = match &spec.version {
            None => (
                None,
                Some("the registry names no `version` package".to_owned()),
            ),
            Some(package) => match package.version(root) {
                Ok(v) => (Some(v), None),
                Err(why) => (None, Some(why)),
            },
        };
        Self {
            name: target.name().to_owned(),
            language: spec.language.clone(),
            framework: spec.framework.clone(),
            version,
            version_note,
        }
    }
}
