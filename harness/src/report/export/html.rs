//! `index.html`: one self-contained page (inline CSS and SVG, no scripts, no
//! network). The run reports and the Pages index share its stylesheet.

use std::fmt::Write;

use super::Exporter;
use crate::report::document::{
    Block, Cell, Document, Figure, Heading, Href, Span, Style, Table, Text, Tone,
};
use crate::report::plots;

pub struct Html;

impl Exporter for Html {
    fn file_name(&self) -> &'static str {
        "index.html"
    }

    fn render(&self, document: &Document) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
            escape(&document.title),
            style(),
            markdown_to_html(&document.heading)
        );
        for block in &document.blocks {
            block_into(&mut out, block);
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}

fn style() -> String {
    format!(
        "body {{ font-family: system-ui, -apple-system, \"Segoe UI\", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }}\n\
         h1 {{ font-size: 1.6rem; }} h2 {{ margin-top: 2.5rem; border-bottom: 1px solid #ddd; }} h3 {{ margin-top: 2rem; }}\n\
         .scroll {{ overflow-x: auto; }}\n\
         table {{ border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }}\n\
         th, td {{ border: 1px solid #d0d0d0; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}\n\
         td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}\n\
         th {{ background: #f4f4f4; }}\n\
         .v {{ border-left: 4px solid {neutral}; }}\n\
         span.v {{ padding: 0 0.4em; }}\n\
         .v-rust {{ border-left-color: {rust}; background: #fbe9e6; }}\n\
         .v-go {{ border-left-color: {go}; background: #e3f6fb; }}\n\
         .v-other {{ border-left-color: {other}; background: #efe8f6; }}\n\
         .v-same {{ border-left-color: {neutral}; background: #f2f2f2; }}\n\
         .noisy, .dirty {{ color: #8a5a00; font-weight: 600; font-size: 0.85em; }}\n\
         .flag {{ color: #b00020; font-weight: 600; }}\n\
         .red {{ background: #fde7ea; }}\n\
         .warn {{ border-left: 4px solid #b00020; padding: 0.5rem 1rem; background: #fde7ea; }}\n\
         .note {{ color: #555; font-size: 0.88rem; }}\n\
         .empty, .missing {{ color: #777; }}\n\
         figure {{ margin: 1rem 0; }} figure svg {{ max-width: 100%; height: auto; }}\n\
         code {{ background: #f4f4f4; padding: 0 0.2rem; }}\n",
        rust = plots::RUST_HEX,
        go = plots::GO_HEX,
        other = plots::OTHER_WINNER_HEX,
        neutral = plots::NEUTRAL_HEX,
    )
}

fn block_into(out: &mut String, block: &Block) {
    match block {
        Block::Heading(h) => heading_into(out, h),
        Block::Paragraph { text, tone } => {
            let class = match tone {
                Tone::Plain => "",
                Tone::Note => " class=\"note\"",
                Tone::Warn => " class=\"warn\"",
                Tone::Alarm => " class=\"flag\"",
                Tone::Empty => " class=\"empty\"",
            };
            let _ = writeln!(out, "<p{class}>{}</p>", text_of(text));
        }
        Block::List(items) => {
            out.push_str("<ul>\n");
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", text_of(item));
            }
            out.push_str("</ul>\n");
        }
        Block::Contents(entries) => {
            out.push_str("<ul>\n");
            for (id, text) in entries {
                let _ = writeln!(
                    out,
                    "<li><a href=\"#{}\">{}</a></li>",
                    escape(id),
                    escape(text)
                );
            }
            out.push_str("</ul>\n");
        }
        Block::Table(table) => table_into(out, table),
        Block::Figure(figure) => figure_into(out, figure),
    }
}

fn heading_into(out: &mut String, h: &Heading) {
    let id =
        h.id.as_ref()
            .map_or(String::new(), |id| format!(" id=\"{}\"", escape(id)));
    let class = if h.alarm { " class=\"flag\"" } else { "" };
    let aside = h.aside.as_ref().map_or(String::new(), |a| {
        format!(" <span class=\"note\">({})</span>", escape(a))
    });
    let _ = writeln!(
        out,
        "<h{l}{id}{class}>{}{aside}</h{l}>",
        escape(&h.text),
        l = h.level
    );
}

fn table_into(out: &mut String, table: &Table) {
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for column in &table.head {
        let _ = write!(out, "<th>{}</th>", text_of(&column.text));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str(if row.alarm {
            "<tr class=\"red\">"
        } else {
            "<tr>"
        });
        for c in &row.cells {
            cell_into(out, c);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

fn cell_into(out: &mut String, c: &Cell) {
    let class = match c.style {
        Style::Plain => String::new(),
        Style::Number => " class=\"num\"".to_owned(),
        Style::Note => " class=\"note\"".to_owned(),
        Style::Alarm => " class=\"flag\"".to_owned(),
        Style::Verdict(key) => format!(" class=\"{}\"", verdict_class(key)),
        Style::Missing => " class=\"missing\"".to_owned(),
    };
    let tip = c
        .tip
        .as_ref()
        .map_or(String::new(), |t| format!(" title=\"{}\"", escape(t)));
    let span = match c.span {
        0 | 1 => String::new(),
        n => format!(" colspan=\"{n}\""),
    };
    let _ = write!(out, "<td{class}{tip}{span}>{}</td>", text_of(&c.text));
}

/// An SVG chart inline, without its XML declaration.
fn figure_into(out: &mut String, figure: &Figure) {
    let svg = figure.svg.trim();
    let svg = match svg.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(svg, |(_, body)| body.trim_start()),
        None => svg,
    };
    let id = figure
        .id
        .as_ref()
        .map_or(String::new(), |id| format!(" id=\"{}\"", escape(id)));
    let caption = figure.caption.as_ref().map_or(String::new(), |c| {
        format!("<figcaption class=\"note\">{}</figcaption>", escape(c))
    });
    let _ = writeln!(out, "<figure{id}>\n{svg}\n{caption}</figure>");
}

fn text_of(text: &Text) -> String {
    let mut out = String::new();
    for span in &text.0 {
        match span {
            Span::Plain(s) => out.push_str(&escape(s)),
            Span::Md(s) => out.push_str(&markdown_to_html(s)),
            Span::Link { text, to } => {
                let _ = write!(
                    out,
                    "<a href=\"{}\">{}</a>",
                    escape(&href(to)),
                    escape(text)
                );
            }
            Span::Badge { text, class } => {
                let _ = write!(out, "<span class=\"{class}\">{}</span>", escape(text));
            }
            Span::Aside(s) => {
                let _ = write!(out, "<br><small>{}</small>", escape(s));
            }
        }
    }
    out
}

fn href(to: &Href) -> String {
    match to {
        Href::Report(dir) => format!("{}/{}", dir.trim_end_matches('/'), Html.file_name()),
        Href::Path(path) => path.clone(),
    }
}

/// The class of a verdict, coloured by its winner (`plots::verdict_key`).
pub fn verdict_class(key: &str) -> &'static str {
    match key {
        "rust" => "v v-rust",
        "go" => "v v-go",
        "other" => "v v-other",
        _ => "v v-same",
    }
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The little Markdown the shared texts use: `**bold**`, `*em*` and `code`.
fn markdown_to_html(text: &str) -> String {
    let escaped = escape(text);
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    let mut open = [false; 3];
    while let Some(i) = rest.find(['*', '`']) {
        out.push_str(&rest[..i]);
        let (tag, len, slot) = if rest[i..].starts_with("**") {
            ("strong", 2, 0)
        } else if rest[i..].starts_with('*') {
            ("em", 1, 1)
        } else {
            ("code", 1, 2)
        };
        out.push_str(if open[slot] { "</" } else { "<" });
        out.push_str(tag);
        out.push('>');
        open[slot] = !open[slot];
        rest = &rest[i + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::{Column, Row};

    #[test]
    fn escapes_and_converts_the_markdown_it_uses() {
        assert_eq!(escape("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
        assert_eq!(
            markdown_to_html("**Go / Rust** is *no* `x<1`"),
            "<strong>Go / Rust</strong> is <em>no</em> <code>x&lt;1</code>"
        );
    }

    #[test]
    fn cells_carry_their_style_tip_and_span() {
        let table = Table {
            head: vec![Column::text("a <b>"), Column::number("n")],
            rows: vec![Row {
                cells: vec![
                    Cell::new("x", Style::Alarm).with_tip("why \"so\"".to_owned()),
                    Cell::new(
                        Text::md("**1.2**")
                            .push(Span::Plain(" ".into()))
                            .push(Span::Badge {
                                text: "noisy".into(),
                                class: "noisy",
                            }),
                        Style::Verdict("rust"),
                    ),
                ],
                alarm: true,
            }],
        };
        let mut out = String::new();
        table_into(&mut out, &table);
        assert!(out.contains("<th>a &lt;b&gt;</th><th>n</th>"), "{out}");
        assert!(
            out.contains(
                "<tr class=\"red\"><td class=\"flag\" title=\"why &quot;so&quot;\">x</td>\
                 <td class=\"v v-rust\"><strong>1.2</strong> <span class=\"noisy\">noisy</span></td></tr>"
            ),
            "{out}"
        );
    }
}
