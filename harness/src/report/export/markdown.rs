//! `report.md`: plain GitHub Markdown, so that it reads well as a CI job
//! summary. Charts and the contents list are left to the HTML page.

use std::fmt::Write;

use super::Exporter;
use crate::report::document::{Block, Cell, Document, Href, Span, Style, Table, Text, Tone};

pub struct Markdown;

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, document: &Document) -> String {
        let mut out = format!("# {}\n\n", document.heading);
        for block in &document.blocks {
            block_into(&mut out, block);
        }
        // Each block ends with a blank line; the file, with one line break.
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }
}

fn block_into(out: &mut String, block: &Block) {
    match block {
        Block::Heading(h) => {
            let aside = h
                .aside
                .as_ref()
                .map_or(String::new(), |a| format!(" ({a})"));
            let _ = writeln!(out, "{} {}{aside}\n", "#".repeat(h.level.into()), h.text);
        }
        Block::Paragraph { text, tone } => {
            let prefix = match tone {
                Tone::Warn => "> ",
                Tone::Alarm => "🔴 ",
                Tone::Plain | Tone::Note | Tone::Empty => "",
            };
            let _ = writeln!(out, "{prefix}{}\n", text_of(text));
        }
        Block::List(items) => {
            for item in items {
                let _ = writeln!(out, "- {}", text_of(item));
            }
            out.push('\n');
        }
        Block::Table(table) => {
            out.push_str(&render_table(table));
            out.push('\n');
        }
        Block::Contents(_) | Block::Figure(_) => {}
    }
}

/// A table alone (the README quotes the decision table).
pub fn render_table(table: &Table) -> String {
    let mut out = String::new();
    let head: Vec<String> = table.head.iter().map(|c| cell_text(&c.text)).collect();
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let rule: Vec<&str> = (table.head.iter())
        .map(|c| if c.numeric { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "|{}|", rule.join("|"));
    for row in &table.rows {
        let cells: Vec<String> = row.cells.iter().map(cell).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

fn cell(c: &Cell) -> String {
    let text = cell_text(&c.text);
    match c.style {
        Style::Alarm => format!("🔴 {text}"),
        _ => text,
    }
}

/// Inside a table a `|` would end the cell, and a line break the row.
fn cell_text(text: &Text) -> String {
    text_of(text).replace('|', "\\|").replace('\n', " ")
}

pub fn text_of(text: &Text) -> String {
    let mut out = String::new();
    for span in &text.0 {
        match span {
            Span::Plain(s) | Span::Md(s) => out.push_str(s),
            Span::Link { text, to } => {
                let _ = write!(out, "[{text}]({})", href(to));
            }
            Span::Badge { text, .. } => {
                let _ = write!(out, "({text})");
            }
            Span::Aside(s) => {
                let _ = write!(out, " ({s})");
            }
        }
    }
    out
}

fn href(to: &Href) -> String {
    match to {
        Href::Report(dir) => format!("{}/{}", dir.trim_end_matches('/'), Markdown.file_name()),
        Href::Path(path) => path.clone(),
    }
}
