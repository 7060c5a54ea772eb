//! `artifacts[]` of results.json: `harness images`' sizes.

use serde::{Deserialize, Serialize};

/// One service's sizes (`reports/README.md` documents each field).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArtifactRecord {
    pub target: String,
    /// The benchmarked binary, as `harness build` leaves it.
    pub binary_bytes: u64,
    /// The same after `strip --strip-all`.
    pub binary_stripped_bytes: Option<u64>,
    /// Why `binary_stripped_bytes` is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_note: Option<String>,
    /// The static build that goes into the image.
    pub static_binary_bytes: Option<u64>,
    pub image: Option<String>,
    pub image_builder: Option<String>,
    /// `<builder> image inspect`'s `.Size`: the unpacked image.
    pub image_bytes: Option<u64>,
    /// The layers gzipped at the default level, as a registry stores them.
    pub image_compressed_bytes: Option<u64>,
    pub image_layers: Option<u64>,
    /// Why an image figure is null.
    pub image_note: Option<String>,
}
