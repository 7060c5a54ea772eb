//! `report.md`: the decision table first, then each scenario, capacity,
//! startup, sizes, what was left out, and the environment. Plain GitHub
//! Markdown, so that it reads well as a CI job summary.

use std::fmt::Write;

use super::analysis::{Analysis, Comparison, Pair, ScenarioReport};
use super::format::{cv_text, interval, interval_or_na, number, with_unit};

/// How to read the ratios and verdicts of `pair`.
pub fn how_to_read(pair: &Pair) -> String {
    let (base, other) = (&pair.base, &pair.other);
    format!(
        "Each ratio is **{other} / {base}** of the geometric means over repetitions, with a 95% \
         confidence interval (Welch's t on the logarithms); {base} is the baseline. For \
         lower-is-better metrics (latency, CPU, memory, startup, size) a ratio above 1 means \
         {base} is better; for throughput and capacity, a ratio above 1 means {other} is better. \
         When the interval contains 1 the verdict is *no significant difference*: the runs cannot \
         tell the two apart. **noisy** marks a metric whose coefficient of variation across \
         repetitions exceeds 10%: rerun with more repetitions before trusting it. Runs with \
         errors, dropped requests or a saturated load generator are listed under *Left out* and \
         never enter the statistics."
    )
}

/// The decision table alone (the README quotes it).
pub fn decision_table(pair: &Pair, rows: &[Comparison]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| metric | {} | {} | {} [95% CI] | verdict | note |",
        pair.base,
        pair.other,
        pair.ratio_label()
    );
    let _ = writeln!(out, "|---|---:|---:|---|---|---|");
    for c in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            c.metric,
            with_unit(c.base, c.unit),
            with_unit(c.other, c.unit),
            interval_or_na(c.ratio),
            verdict_cell(pair, c),
            c.note.as_deref().unwrap_or("").replace('|', "\\|")
        );
    }
    out
}

fn verdict_cell(pair: &Pair, c: &Comparison) -> String {
    let mut text = c.verdict.map_or("n/a".to_owned(), |v| {
        format!("**{}**", pair.verdict_text(v))
    });
    if c.noisy {
        text.push_str(" (noisy)");
    }
    text
}

/// The report of one comparison; `others` are the further comparisons of
/// the same run (more than two targets), each in `vs-<target>/`.
pub fn render(a: &Analysis, others: &[String]) -> String {
    let mut out = String::new();
    let pair = &a.pair;
    let (base, other) = (pair.base.as_str(), pair.other.as_str());
    let suite = a.results.suite.as_ref();
    let title = suite.map_or(format!("{base} vs {other}"), |s| {
        format!("{base} vs {other}: suite `{}`", s.name)
    });
    let _ = writeln!(out, "# {title}\n");
    if let Some(s) = suite {
        let _ = writeln!(
            out,
            "{} — {}, targets interleaved (A B, then B A); conformance {}.\n",
            s.description,
            s.repetitions_text(),
            if s.verified {
                "verified before any load"
            } else {
                "**not verified** (--no-verify)"
            }
        );
    }
    if !a.results.complete {
        let _ = writeln!(
            out,
            "> **Incomplete run**: results.json was not marked complete (interrupted?); \
             this report shows what was measured.\n"
        );
    }
    let _ = writeln!(out, "## Decision table\n");
    out.push_str(&decision_table(pair, &a.headlines));
    let _ = writeln!(out, "\n{}\n", how_to_read(pair));
    if !others.is_empty() {
        let links: Vec<String> = others
            .iter()
            .map(|t| format!("[{t} / {base}](vs-{t}/report.md)"))
            .collect();
        let _ = writeln!(
            out,
            "More targets ran: each is compared with the baseline {base} in a report of its \
             own: {}.\n",
            links.join(", ")
        );
    }

    if !a.flags.is_empty() {
        let _ = writeln!(out, "## Left out of the statistics\n");
        let _ = writeln!(out, "| target | scenario | repetition | why |");
        let _ = writeln!(out, "|---|---|---:|---|");
        for f in &a.flags {
            let _ = writeln!(
                out,
                "| 🔴 {} | {} | {} | {} |",
                f.target,
                f.scenario,
                f.repetition.map_or("-".to_owned(), |r| r.to_string()),
                f.why.replace('|', "\\|")
            );
        }
        out.push('\n');
    }

    if !a.retries.is_empty() {
        let _ = writeln!(out, "## Retried\n");
        let _ = writeln!(
            out,
            "Tries the instrument spoiled, each run again in its place in the interleaving \
             (`--retries`); the try after it is the one that counts.\n"
        );
        let _ = writeln!(out, "| target | scenario | repetition | try | why |");
        let _ = writeln!(out, "|---|---|---:|---:|---|");
        for r in &a.retries {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                r.target,
                r.scenario,
                r.repetition.map_or("-".to_owned(), |n| n.to_string()),
                r.attempt,
                r.why.replace('|', "\\|")
            );
        }
        out.push('\n');
    }

    if !a.scenarios.is_empty() {
        let _ = writeln!(out, "## Scenarios\n");
        for s in &a.scenarios {
            let _ = writeln!(out, "### {}\n", s.name);
            let _ = writeln!(out, "{}\n", scenario_paragraph(s));
            let _ = writeln!(
                out,
                "| metric | {base} | {other} | {} [95% CI] | verdict | CV {base} | CV {other} |",
                pair.ratio_label()
            );
            let _ = writeln!(out, "|---|---:|---:|---|---|---:|---:|");
            for c in &s.metrics {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    c.metric,
                    with_unit(c.base, c.unit),
                    with_unit(c.other, c.unit),
                    c.ratio
                        .map_or(c.note.clone().unwrap_or_else(|| "n/a".to_owned()), |r| {
                            interval(&r)
                        }),
                    verdict_cell(pair, c),
                    cv_text(c.base_cv),
                    cv_text(c.other_cv)
                );
            }
            if s.flagged > 0 {
                let _ = writeln!(
                    out,
                    "\n🔴 {} run{} left out (see above).",
                    s.flagged,
                    if s.flagged == 1 { "" } else { "s" }
                );
            }
            out.push('\n');
        }
    }

    if !a.capacity.is_empty() {
        let _ = writeln!(out, "## Capacity at SLO\n");
        let _ = writeln!(
            out,
            "Open-loop stages at rising rates until p99 breaks the SLO, errors appear or the \
             generator falls behind, then bisection. Capacity is the highest rate that held.\n"
        );
        let _ = writeln!(
            out,
            "| scenario | SLO p99 | {base} (per repetition) | {other} (per repetition) | {} [95% CI] | verdict |",
            pair.ratio_label()
        );
        let _ = writeln!(out, "|---|---:|---|---|---|---|");
        for c in &a.capacity {
            let sweeps = |t: &str| -> String {
                let caps = c.sweeps.get(t).cloned().unwrap_or_default();
                let limits = c.limited_by.get(t).cloned().unwrap_or_default();
                caps.iter()
                    .zip(limits.iter())
                    .map(|(cap, lim)| {
                        let v = cap.map_or("none".to_owned(), |v| format!("{v:.0}/s"));
                        if lim == "generator" {
                            format!("🔴 ≥{v} (generator-limited)")
                        } else {
                            format!("{v} ({lim})")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {} ms | {} | {} | {} | {} |",
                c.scenario,
                number(c.slo_p99_ms),
                sweeps(base),
                sweeps(other),
                interval_or_na(c.comparison.ratio),
                verdict_cell(pair, &c.comparison)
            );
        }
        out.push('\n');
    }

    if !a.results.drains.is_empty() {
        let _ = writeln!(out, "## Drain under load\n");
        let _ = writeln!(out, "{}\n", crate::report::drain::EXPLANATION);
        for group in crate::report::drain::groups(&a.results.drains) {
            let _ = writeln!(out, "### {}\n\n{}.\n", group.scenario, group.settings);
            let _ = writeln!(out, "| {} |", crate::report::drain::HEADER.join(" | "));
            let _ = writeln!(
                out,
                "|{}",
                "---|".repeat(crate::report::drain::HEADER.len())
            );
            for d in group.runs {
                let mut cells = crate::report::drain::row(d);
                if !d.passed {
                    cells[10] = format!("🔴 {}", cells[10]);
                }
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
            out.push('\n');
        }
    }

    if let Some(s) = &a.startup {
        let _ = writeln!(out, "## Startup and stop\n");
        let _ = writeln!(
            out,
            "| | {base} | {other} | {} [95% CI] | verdict |",
            pair.ratio_label()
        );
        let _ = writeln!(out, "|---|---:|---:|---|---|");
        for c in [&s.ready, &s.exit] {
            let _ = writeln!(
                out,
                "| {} (geometric mean, warm) | {} | {} | {} | {} |",
                c.metric,
                with_unit(c.base, c.unit),
                with_unit(c.other, c.unit),
                interval_or_na(c.ratio),
                verdict_cell(pair, c)
            );
        }
        let row = |label: &str, m: &std::collections::BTreeMap<String, f64>| {
            format!(
                "| {label} | {} | {} | | |\n",
                with_unit(m.get(base).copied(), "ms"),
                with_unit(m.get(other).copied(), "ms")
            )
        };
        out.push_str(&row("ready, p90 (all runs)", &s.p90_ms));
        out.push_str(&row("ready, max (all runs)", &s.max_ms));
        out.push_str(&row("ready, cold (run 1)", &s.cold_ms));
        for (t, cache) in &s.cache {
            let _ = writeln!(out, "\n{t}: {cache}.");
        }
        out.push('\n');
    }

    if !a.sizes.is_empty() {
        let _ = writeln!(out, "## Binary and image size\n");
        let _ = writeln!(
            out,
            "| | {base} | {other} | {} | verdict | note |",
            pair.ratio_label()
        );
        let _ = writeln!(out, "|---|---:|---:|---|---|---|");
        for c in &a.sizes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                c.metric,
                with_unit(c.base, c.unit),
                with_unit(c.other, c.unit),
                c.ratio.map_or("n/a".to_owned(), |r| number(r.estimate)),
                verdict_cell(pair, c),
                c.note.as_deref().unwrap_or("")
            );
        }
        out.push('\n');
    }

    out.push_str(&environment(a));
    out
}

/// What a scenario measured, in one paragraph of Markdown.
pub fn scenario_paragraph(s: &ScenarioReport) -> String {
    let runs: Vec<String> = s.runs.iter().map(|(t, n)| format!("{t} {n}")).collect();
    format!(
        "{}. `{}` over {}; {}, {} connection{}, {} s measured after {} s of warm-up; \
         runs: {}; {}.{}",
        s.description.trim_end_matches('.'),
        s.call,
        s.protocol,
        s.load,
        s.connections,
        if s.connections == 1 { "" } else { "s" },
        number(s.duration_s),
        number(s.warmup_s),
        runs.join(", "),
        s.placement,
        s.slo_p99_ms
            .map_or(String::new(), |v| format!(" SLO: p99 ≤ {} ms.", number(v)))
    )
}

fn environment(a: &Analysis) -> String {
    let mut out = String::from("## Environment\n\n");
    for line in environment_lines(a) {
        let _ = writeln!(out, "- {line}");
    }
    let _ = writeln!(
        out,
        "\nRaw results: `results.json` (fields: reports/README.md). Plots: `plots/*.svg` and `index.html`."
    );
    out
}

/// The environment, one Markdown line per fact (the HTML page converts them).
pub fn environment_lines(a: &Analysis) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(m) = &a.results.machine {
        lines.push(format!(
            "machine: {} ({} CPUs online, {} available to the harness), kernel {}, {}",
            m.cpu_model.as_deref().unwrap_or("unknown CPU"),
            m.cpus_online.map_or("?".to_owned(), |n| n.to_string()),
            m.cpus_available.len(),
            m.kernel.as_deref().unwrap_or("?"),
            m.arch.as_deref().unwrap_or("?")
        ));
    }
    if let Some(s) = &a.results.suite {
        let awake = match s.cpus_kept_awake.as_deref() {
            None => String::new(),
            Some([]) => "; CPUs allowed to halt when idle (--let-cpus-idle)".to_owned(),
            Some(cpus) => format!(
                "; CPUs {} kept from halting by an idle-priority spinner each (on a VM a \
                 halted CPU waits for the host to wake it)",
                crate::placement::format_cpus(cpus)
            ),
        };
        lines.push(format!(
            "placement: service on CPUs {}, load generator on CPUs {}{awake}",
            crate::placement::format_cpus(&s.server_cpus),
            crate::placement::format_cpus(&s.loadgen_cpus)
        ));
    }
    if !a.results.targets.is_empty() {
        let targets: Vec<String> = a
            .results
            .targets
            .iter()
            .map(|t| {
                format!(
                    "{} ({}, {} {})",
                    t.name,
                    t.language,
                    t.framework,
                    t.version.as_deref().unwrap_or("version unknown")
                )
            })
            .collect();
        lines.push(format!("targets: {}", targets.join(", ")));
    }
    match &a.results.environment {
        Some(e) => {
            let unknown = || "unknown".to_owned();
            lines.push(format!(
                "toolchains: {}; {}",
                e.rustc.clone().unwrap_or_else(unknown),
                e.go.clone().unwrap_or_else(unknown)
            ));
            let libs: Vec<String> = e
                .libraries
                .iter()
                .map(|l| {
                    format!(
                        "{} {} ({})",
                        l.name,
                        l.version.as_deref().unwrap_or("unknown"),
                        l.used_by
                    )
                })
                .collect();
            lines.push(format!("libraries: {}", libs.join(", ")));
            lines.push(format!(
                "commit: {}{}",
                e.commit.as_deref().unwrap_or("unknown"),
                match e.dirty {
                    Some(true) => " (dirty: uncommitted changes)",
                    Some(false) => "",
                    None => " (dirty state unknown)",
                }
            ));
            lines.push(format!(
                "harness {}, started {}",
                e.harness_version.as_deref().unwrap_or("?"),
                e.started
            ));
            lines.push(format!("command: `{}`", e.command));
            for note in &e.notes {
                lines.push(format!("note: {note}"));
            }
        }
        None => lines.push(
            "toolchains, libraries and commit: unavailable (these results were not written by \
             `harness bench`)"
                .to_owned(),
        ),
    }
    lines
}
