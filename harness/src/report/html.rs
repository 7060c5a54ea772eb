//! `index.html`: one self-contained page (inline CSS and SVG, no scripts, no
//! network) with the decision table first, then every chart and table.

use std::fmt::Write;

use super::analysis::{Analysis, Comparison, Pair};
use super::charts::Chart;
use super::format::{cv_text, interval_or_na, number, with_unit};
use super::markdown::how_to_read;
use super::plots;

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; } h3 { margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
.rust { background: #f8e0dc; } .go { background: #d9f3f8; } .other { background: #e8def2; } .same { background: #eeeeee; }
.noisy { color: #8a5a00; font-weight: 600; }
.flag { color: #b00020; font-weight: 600; }
.red { background: #fde7ea; }
.warn { border-left: 4px solid #b00020; padding: 0.5rem 1rem; background: #fde7ea; }
.note { color: #555; font-size: 0.88rem; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"#;

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

fn verdict_td(pair: &Pair, c: &Comparison) -> String {
    let text = c.verdict.map_or("n/a".to_owned(), |v| pair.verdict_text(v));
    let noisy = if c.noisy {
        r#" <span class="noisy">noisy</span>"#
    } else {
        ""
    };
    format!(
        r#"<td class="{}"><strong>{}</strong>{noisy}</td>"#,
        plots::verdict_key(&text),
        escape(&text)
    )
}

fn ratio_td(c: &Comparison) -> String {
    format!(r#"<td class="num">{}</td>"#, interval_or_na(c.ratio))
}

fn comparison_table(pair: &Pair, rows: &[Comparison], with_cv: bool) -> String {
    let (base, other) = (escape(&pair.base), escape(&pair.other));
    let mut out = format!(
        "<table>\n<tr><th>metric</th><th>{base}</th><th>{other}</th><th>{} [95% CI]</th><th>verdict</th>",
        escape(&pair.ratio_label())
    );
    out.push_str(&if with_cv {
        format!("<th>CV {base}</th><th>CV {other}</th><th>note</th></tr>\n")
    } else {
        "<th>note</th></tr>\n".to_owned()
    });
    for c in rows {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td>{}{}"#,
            escape(&c.metric),
            with_unit(c.base, c.unit),
            with_unit(c.other, c.unit),
            ratio_td(c),
            verdict_td(pair, c)
        );
        if with_cv {
            let _ = write!(
                out,
                r#"<td class="num">{}</td><td class="num">{}</td>"#,
                cv_text(c.base_cv),
                cv_text(c.other_cv)
            );
        }
        let _ = writeln!(
            out,
            r#"<td class="note">{}</td></tr>"#,
            escape(c.note.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>\n");
    out
}

/// An SVG chart inline, without its XML declaration.
fn figure(chart: &Chart) -> String {
    let svg = chart.svg.trim_start();
    let svg = match svg.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(svg, |(_, body)| body.trim_start()),
        None => svg,
    };
    format!(
        "<figure id=\"{}\">{svg}<figcaption class=\"note\">{}</figcaption></figure>\n",
        escape(&chart.name),
        escape(&chart.caption)
    )
}

/// The page of one comparison; `others` are the further comparisons of the
/// same run (more than two targets), each in `vs-<target>/`.
pub fn render(a: &Analysis, charts: &[Chart], others: &[String]) -> String {
    let chart = |name: &str| charts.iter().find(|c| c.name == name).map(figure);
    let mut out = String::new();
    let pair = &a.pair;
    let (base, other) = (pair.base.as_str(), pair.other.as_str());
    let title = a
        .results
        .suite
        .as_ref()
        .map_or(format!("{base} vs {other}"), |s| {
            format!("{base} vs {other}: suite {}", s.name)
        });
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    if let Some(s) = &a.results.suite {
        let _ = writeln!(
            out,
            "<p>{} — {}, targets interleaved (A B, then B A); conformance {}.</p>",
            escape(&s.description),
            escape(&s.repetitions_text()),
            if s.verified {
                "verified before any load"
            } else {
                "<span class=\"flag\">not verified</span> (--no-verify)"
            }
        );
    }
    if !a.results.complete {
        let _ = writeln!(
            out,
            "<p class=\"warn\">Incomplete run: results.json was not marked complete \
             (interrupted?). This report shows what was measured.</p>"
        );
    }
    let _ = writeln!(out, "<h2 id=\"decision\">Decision table</h2>");
    out.push_str(&comparison_table(pair, &a.headlines, false));
    let _ = writeln!(
        out,
        "<p class=\"note\">{}</p>",
        markdown_to_html(&how_to_read(pair))
    );
    if !others.is_empty() {
        let links: Vec<String> = others
            .iter()
            .map(|t| {
                format!(
                    "<a href=\"vs-{t}/index.html\">{} / {}</a>",
                    escape(t),
                    escape(base)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<p>More targets ran: each is compared with the baseline {} on a page of its own: \
             {}.</p>",
            escape(base),
            links.join(", ")
        );
    }
    out.extend(chart("ratios-headline"));

    if !a.flags.is_empty() {
        let _ = writeln!(
            out,
            "<h2 id=\"left-out\" class=\"flag\">Left out of the statistics</h2>"
        );
        let _ = writeln!(
            out,
            "<table>\n<tr><th>target</th><th>scenario</th><th>repetition</th><th>why</th></tr>"
        );
        for f in &a.flags {
            let _ = writeln!(
                out,
                "<tr class=\"red\"><td class=\"flag\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&f.target),
                escape(&f.scenario),
                f.repetition.map_or("-".to_owned(), |r| r.to_string()),
                escape(&f.why)
            );
        }
        out.push_str("</table>\n");
    }

    if !a.retries.is_empty() {
        let _ = writeln!(out, "<h2 id=\"retried\">Retried</h2>");
        let _ = writeln!(
            out,
            "<p>Tries the instrument spoiled, each run again in its place in the interleaving \
             (<code>--retries</code>); the try after it is the one that counts.</p>"
        );
        let _ = writeln!(
            out,
            "<table>\n<tr><th>target</th><th>scenario</th><th>repetition</th><th>try</th><th>why</th></tr>"
        );
        for r in &a.retries {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&r.target),
                escape(&r.scenario),
                r.repetition.map_or("-".to_owned(), |n| n.to_string()),
                r.attempt,
                escape(&r.why)
            );
        }
        out.push_str("</table>\n");
    }

    if !a.scenarios.is_empty() {
        let _ = writeln!(out, "<h2 id=\"scenarios\">Scenarios</h2>");
        out.extend(chart("ratios-p99"));
        let _ = writeln!(out, "<ul>");
        for s in &a.scenarios {
            let _ = writeln!(
                out,
                "<li><a href=\"#scenario-{0}\">{0}</a></li>",
                escape(&s.name)
            );
        }
        let _ = writeln!(out, "</ul>");
        for s in &a.scenarios {
            let _ = writeln!(out, "<h3 id=\"scenario-{0}\">{0}</h3>", escape(&s.name));
            let _ = writeln!(
                out,
                "<p>{}</p>",
                markdown_to_html(&super::markdown::scenario_paragraph(s))
            );
            if s.flagged > 0 {
                let _ = writeln!(
                    out,
                    "<p class=\"flag\">{} run{} left out of the statistics (see above).</p>",
                    s.flagged,
                    if s.flagged == 1 { "" } else { "s" }
                );
            }
            out.push_str(&comparison_table(pair, &s.metrics, true));
            for kind in ["spectrum", "timeline", "usage"] {
                out.extend(chart(&format!("{kind}-{}", s.name)));
            }
        }
    }

    if !a.capacity.is_empty() {
        let _ = writeln!(out, "<h2 id=\"capacity\">Capacity at SLO</h2>");
        let _ = writeln!(
            out,
            "<p>Open-loop stages at rising rates until p99 breaks the SLO, errors appear or the \
             generator falls behind, then bisection. Capacity is the highest rate that held.</p>"
        );
        for c in &a.capacity {
            let _ = writeln!(
                out,
                "<h3>{} <span class=\"note\">({}, SLO p99 ≤ {} ms)</span></h3>",
                escape(&c.scenario),
                escape(&c.call),
                number(c.slo_p99_ms)
            );
            let mut table = String::from(
                "<table>\n<tr><th>target</th><th>repetition</th><th>capacity</th><th>limited by</th></tr>\n",
            );
            for t in [base, other] {
                let caps = c.sweeps.get(t).cloned().unwrap_or_default();
                let limits = c.limited_by.get(t).cloned().unwrap_or_default();
                for (i, (cap, lim)) in caps.iter().zip(limits.iter()).enumerate() {
                    let red = lim == "generator";
                    let _ = writeln!(
                        table,
                        "<tr{}><td>{t}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                        if red { " class=\"red\"" } else { "" },
                        i + 1,
                        cap.map_or("none".to_owned(), |v| format!("{v:.0}/s")),
                        if red {
                            "<span class=\"flag\">generator (a lower bound)</span>".to_owned()
                        } else {
                            escape(lim)
                        }
                    );
                }
            }
            table.push_str("</table>\n");
            out.push_str(&table);
            out.push_str(&comparison_table(
                pair,
                std::slice::from_ref(&c.comparison),
                true,
            ));
            out.extend(chart(&format!("capacity-{}", c.scenario)));
        }
    }

    if !a.results.drains.is_empty() {
        let _ = writeln!(out, "<h2 id=\"drain\">Drain under load</h2>");
        let _ = writeln!(
            out,
            "<p>{}</p>",
            markdown_to_html(crate::report::drain::EXPLANATION)
        );
        for group in crate::report::drain::groups(&a.results.drains) {
            let _ = writeln!(
                out,
                "<h3>{} <span class=\"note\">({})</span></h3>",
                escape(group.scenario),
                escape(&group.settings)
            );
            let mut table = String::from("<table>\n<tr>");
            for h in crate::report::drain::HEADER {
                let _ = write!(table, "<th>{}</th>", escape(h));
            }
            table.push_str("</tr>\n");
            for d in group.runs {
                let _ = write!(
                    table,
                    "<tr{}>",
                    if d.passed { "" } else { " class=\"red\"" }
                );
                for cell in crate::report::drain::row(d) {
                    let _ = write!(table, "<td>{}</td>", escape(&cell));
                }
                table.push_str("</tr>\n");
            }
            table.push_str("</table>\n");
            out.push_str(&table);
        }
    }

    if let Some(s) = &a.startup {
        let _ = writeln!(out, "<h2 id=\"startup\">Startup and stop</h2>");
        out.push_str(&comparison_table(
            pair,
            &[s.ready.clone(), s.exit.clone()],
            true,
        ));
        let _ = writeln!(
            out,
            "<table>\n<tr><th>ready</th><th>{}</th><th>{}</th></tr>",
            escape(base),
            escape(other)
        );
        for (label, m) in [
            ("p90 (all runs)", &s.p90_ms),
            ("max (all runs)", &s.max_ms),
            ("cold (run 1)", &s.cold_ms),
        ] {
            let _ = writeln!(
                out,
                "<tr><td>{label}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                with_unit(m.get(base).copied(), "ms"),
                with_unit(m.get(other).copied(), "ms")
            );
        }
        out.push_str("</table>\n");
        for (t, cache) in &s.cache {
            let _ = writeln!(out, "<p class=\"note\">{t}: {}.</p>", escape(cache));
        }
        out.extend(chart("startup"));
    }

    if !a.sizes.is_empty() {
        let _ = writeln!(out, "<h2 id=\"sizes\">Binary and image size</h2>");
        out.push_str(&comparison_table(pair, &a.sizes, false));
        out.extend(chart("sizes"));
    }

    let _ = writeln!(out, "<h2 id=\"environment\">Environment</h2>");
    let env = super::markdown::environment_lines(a);
    let _ = writeln!(out, "<ul>");
    for line in env {
        let _ = writeln!(out, "<li>{}</li>", markdown_to_html(&line));
    }
    let _ = writeln!(out, "</ul>\n</body>\n</html>");
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

    #[test]
    fn escapes_and_converts_the_markdown_it_uses() {
        assert_eq!(escape("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
        assert_eq!(
            markdown_to_html("**Go / Rust** is *no* `x<1`"),
            "<strong>Go / Rust</strong> is <em>no</em> <code>x&lt;1</code>"
        );
    }
}
