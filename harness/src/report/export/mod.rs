//! The report formats, each behind [`Exporter`] (as hyperfine's `export/`
//! puts each format): an exporter renders any [`Document`], whatever built it.

pub mod html;
pub mod markdown;

use super::document::Document;

pub trait Exporter {
    /// The file a page of this format is written to: `report.md`, `index.html`.
    fn file_name(&self) -> &'static str;

    fn render(&self, document: &Document) -> String;
}

/// Every format a report is written in.
pub const ALL: [&dyn Exporter; 2] = [&markdown::Markdown, &html::Html];
