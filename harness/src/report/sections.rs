//! The report of one comparison as a [`Document`]: the decision table first,
//! then what was left out or retried, each scenario, capacity, drain,
//! startup, sizes, and the environment. Every format renders this one
//! document (`export`), so report.md and index.html say the same things.

use super::analysis::{Analysis, Comparison, Pair, ScenarioReport};
use super::charts::Chart;
use super::document::{
    Block, Cell, Column, Document, Figure, Heading, Href, Row, Span, Style, Table, Text, Tone,
};
use super::format::{cv_text, interval_or_na, number, with_unit};
use super::plots;

/// The report of `a`; `charts` are placed beside their sections, `others`
/// are the further comparisons of the same run (more than two targets), each
/// in `vs-<target>/`.
pub fn document(a: &Analysis, charts: &[Chart], others: &[String]) -> Document {
    let (base, other) = (a.pair.base.as_str(), a.pair.other.as_str());
    let suite = a.results.suite.as_ref();
    let mut doc = Document {
        title: suite.map_or(format!("{base} vs {other}"), |s| {
            format!("{base} vs {other}: suite {}", s.name)
        }),
        heading: suite.map_or(format!("{base} vs {other}"), |s| {
            format!("{base} vs {other}: suite `{}`", s.name)
        }),
        blocks: Vec::new(),
    };
    let place = Charts(charts);
    opening(&mut doc, a);
    decision(&mut doc, a, others, &place);
    left_out(&mut doc, a);
    retried(&mut doc, a);
    scenarios(&mut doc, a, &place);
    capacity(&mut doc, a, &place);
    drains(&mut doc, a);
    startup(&mut doc, a, &place);
    sizes(&mut doc, a, &place);
    environment(&mut doc, a);
    doc
}

/// The charts of a report, found by name.
struct Charts<'a>(&'a [Chart]);

impl Charts<'_> {
    fn place(&self, doc: &mut Document, name: &str) {
        if let Some(chart) = self.0.iter().find(|c| c.name == name) {
            doc.blocks.push(Block::Figure(Figure {
                id: Some(chart.name.clone()),
                svg: chart.svg.clone(),
                caption: Some(chart.caption.clone()),
            }));
        }
    }
}

fn opening(doc: &mut Document, a: &Analysis) {
    if let Some(s) = &a.results.suite {
        doc.paragraph(
            Text::plain(format!(
                "{} — {}, targets interleaved (A B, then B A); conformance ",
                s.description,
                s.repetitions_text()
            ))
            .push(Span::Md(
                if s.verified {
                    "verified before any load."
                } else {
                    "**not verified** (--no-verify)."
                }
                .to_owned(),
            )),
            Tone::Plain,
        );
    }
    if !a.results.complete {
        doc.paragraph(
            Text::md(
                "**Incomplete run**: results.json was not marked complete (interrupted?); \
                 this report shows what was measured.",
            ),
            Tone::Warn,
        );
    }
}

fn decision(doc: &mut Document, a: &Analysis, others: &[String], charts: &Charts) {
    let base = &a.pair.base;
    doc.heading(Heading::new(2, "Decision table", Some("decision")));
    doc.table(decision_table(&a.pair, &a.headlines));
    doc.paragraph(Text::md(how_to_read(&a.pair)), Tone::Note);
    if !others.is_empty() {
        let mut text = Text::plain(format!(
            "More targets ran: each is compared with the baseline {base} in a report of its \
             own: "
        ));
        for (i, t) in others.iter().enumerate() {
            if i > 0 {
                text = text.push(Span::Plain(", ".to_owned()));
            }
            text = text.push(Span::Link {
                text: format!("{t} / {base}"),
                to: Href::Report(format!("vs-{t}")),
            });
        }
        doc.paragraph(text.push(Span::Plain(".".to_owned())), Tone::Plain);
    }
    charts.place(doc, "ratios-headline");
}

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
pub fn decision_table(pair: &Pair, rows: &[Comparison]) -> Table {
    comparison_table(pair, rows, false)
}

/// One row per metric: both targets' figures, the ratio with its interval,
/// the verdict, (the coefficients of variation,) and the note.
fn comparison_table(pair: &Pair, rows: &[Comparison], with_cv: bool) -> Table {
    let (base, other) = (pair.base.as_str(), pair.other.as_str());
    let mut head = vec![
        Column::text("metric"),
        Column::number(base),
        Column::number(other),
        Column::text(format!("{} [95% CI]", pair.ratio_label())),
        Column::text("verdict"),
    ];
    if with_cv {
        head.extend([
            Column::number(format!("CV {base}")),
            Column::number(format!("CV {other}")),
        ]);
    }
    head.push(Column::text("note"));
    let rows = rows
        .iter()
        .map(|c| {
            let mut cells = vec![
                Cell::plain(c.metric.as_str()),
                Cell::number(with_unit(c.base, c.unit)),
                Cell::number(with_unit(c.other, c.unit)),
                Cell::number(interval_or_na(c.ratio)),
                verdict_cell(pair, c),
            ];
            if with_cv {
                cells.push(Cell::number(cv_text(c.base_cv)));
                cells.push(Cell::number(cv_text(c.other_cv)));
            }
            cells.push(Cell::new(c.note.as_deref().unwrap_or(""), Style::Note));
            Row::new(cells)
        })
        .collect();
    Table { head, rows }
}

fn verdict_cell(pair: &Pair, c: &Comparison) -> Cell {
    let (mut text, key) = match c.verdict {
        Some(v) => {
            let verdict = pair.verdict_text(v);
            let key = plots::verdict_key(&verdict);
            (Text::md(format!("**{verdict}**")), key)
        }
        None => (Text::plain("n/a"), plots::verdict_key("n/a")),
    };
    if c.noisy {
        text = text.push(Span::Plain(" ".to_owned())).push(Span::Badge {
            text: "noisy".to_owned(),
            class: "noisy",
        });
    }
    Cell::new(text, Style::Verdict(key))
}

fn repetition_text(repetition: Option<u32>) -> String {
    repetition.map_or("-".to_owned(), |r| r.to_string())
}

fn left_out(doc: &mut Document, a: &Analysis) {
    if a.flags.is_empty() {
        return;
    }
    let mut heading = Heading::new(2, "Left out of the statistics", Some("left-out"));
    heading.alarm = true;
    doc.heading(heading);
    let rows = a
        .flags
        .iter()
        .map(|f| Row {
            cells: vec![
                Cell::new(f.target.as_str(), Style::Alarm),
                Cell::plain(f.scenario.as_str()),
                Cell::number(repetition_text(f.repetition)),
                Cell::plain(f.why.as_str()),
            ],
            alarm: true,
        })
        .collect();
    doc.table(Table {
        head: vec![
            Column::text("target"),
            Column::text("scenario"),
            Column::number("repetition"),
            Column::text("why"),
        ],
        rows,
    });
}

fn retried(doc: &mut Document, a: &Analysis) {
    if a.retries.is_empty() {
        return;
    }
    doc.heading(Heading::new(2, "Retried", Some("retried")));
    doc.paragraph(
        Text::md(
            "Tries the instrument spoiled, each run again in its place in the interleaving \
             (`--retries`); the try after it is the one that counts.",
        ),
        Tone::Plain,
    );
    let rows = a
        .retries
        .iter()
        .map(|r| {
            Row::new(vec![
                Cell::plain(r.target.as_str()),
                Cell::plain(r.scenario.as_str()),
                Cell::number(repetition_text(r.repetition)),
                Cell::number(r.attempt.to_string()),
                Cell::plain(r.why.as_str()),
            ])
        })
        .collect();
    doc.table(Table {
        head: vec![
            Column::text("target"),
            Column::text("scenario"),
            Column::number("repetition"),
            Column::number("try"),
            Column::text("why"),
        ],
        rows,
    });
}

fn scenarios(doc: &mut Document, a: &Analysis, charts: &Charts) {
    if a.scenarios.is_empty() {
        return;
    }
    doc.heading(Heading::new(2, "Scenarios", Some("scenarios")));
    charts.place(doc, "ratios-p99");
    doc.blocks.push(Block::Contents(
        a.scenarios
            .iter()
            .map(|s| (format!("scenario-{}", s.name), s.name.clone()))
            .collect(),
    ));
    for s in &a.scenarios {
        let id = format!("scenario-{}", s.name);
        doc.heading(Heading::new(3, s.name.as_str(), Some(&id)));
        doc.paragraph(Text::md(scenario_paragraph(s)), Tone::Plain);
        if s.flagged > 0 {
            doc.paragraph(
                format!(
                    "{} run{} left out of the statistics (see above).",
                    s.flagged,
                    if s.flagged == 1 { "" } else { "s" }
                ),
                Tone::Alarm,
            );
        }
        doc.table(comparison_table(&a.pair, &s.metrics, true));
        for kind in ["spectrum", "timeline", "usage"] {
            charts.place(doc, &format!("{kind}-{}", s.name));
        }
    }
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

fn capacity(doc: &mut Document, a: &Analysis, charts: &Charts) {
    if a.capacity.is_empty() {
        return;
    }
    doc.heading(Heading::new(2, "Capacity at SLO", Some("capacity")));
    doc.paragraph(
        "Open-loop stages at rising rates until p99 breaks the SLO, errors appear or the \
         generator falls behind, then bisection. Capacity is the highest rate that held.",
        Tone::Plain,
    );
    for c in &a.capacity {
        let mut heading = Heading::new(
            3,
            c.scenario.as_str(),
            Some(&format!("capacity-{}", c.scenario)),
        );
        heading.aside = Some(format!("{}, SLO p99 ≤ {} ms", c.call, number(c.slo_p99_ms)));
        doc.heading(heading);
        let mut rows = Vec::new();
        for t in [&a.pair.base, &a.pair.other] {
            let caps = c.sweeps.get(t).cloned().unwrap_or_default();
            let limits = c.limited_by.get(t).cloned().unwrap_or_default();
            for (i, (cap, limit)) in caps.iter().zip(limits.iter()).enumerate() {
                let generator = limit == "generator";
                let cap = cap.map_or("none".to_owned(), |v| format!("{v:.0}/s"));
                rows.push(Row {
                    cells: vec![
                        Cell::plain(t.as_str()),
                        Cell::number((i + 1).to_string()),
                        Cell::number(if generator { format!("≥{cap}") } else { cap }),
                        if generator {
                            Cell::new("generator (a lower bound)", Style::Alarm)
                        } else {
                            Cell::plain(limit.as_str())
                        },
                    ],
                    alarm: generator,
                });
            }
        }
        doc.table(Table {
            head: vec![
                Column::text("target"),
                Column::number("repetition"),
                Column::number("capacity"),
                Column::text("limited by"),
            ],
            rows,
        });
        doc.table(comparison_table(
            &a.pair,
            std::slice::from_ref(&c.comparison),
            true,
        ));
        charts.place(doc, &format!("capacity-{}", c.scenario));
    }
}

fn drains(doc: &mut Document, a: &Analysis) {
    use super::drain;
    if a.results.drains.is_empty() {
        return;
    }
    doc.heading(Heading::new(2, "Drain under load", Some("drain")));
    doc.paragraph(Text::md(drain::EXPLANATION), Tone::Plain);
    for group in drain::groups(&a.results.drains) {
        let mut heading = Heading::new(3, group.scenario, None);
        heading.aside = Some(group.settings.clone());
        doc.heading(heading);
        let rows = group
            .runs
            .iter()
            .map(|d| {
                let mut cells: Vec<Cell> = drain::row(d).into_iter().map(Cell::plain).collect();
                if !d.passed {
                    let result = cells.last_mut().expect("a drain row has cells");
                    result.style = Style::Alarm;
                }
                Row {
                    cells,
                    alarm: !d.passed,
                }
            })
            .collect();
        doc.table(Table {
            head: drain::HEADER.iter().map(|h| Column::text(*h)).collect(),
            rows,
        });
    }
}

fn startup(doc: &mut Document, a: &Analysis, charts: &Charts) {
    let Some(s) = &a.startup else {
        return;
    };
    let (base, other) = (a.pair.base.as_str(), a.pair.other.as_str());
    doc.heading(Heading::new(2, "Startup and stop", Some("startup")));
    doc.table(comparison_table(
        &a.pair,
        &[s.ready.clone(), s.exit.clone()],
        true,
    ));
    let rows = [
        ("p90 (all runs)", &s.p90_ms),
        ("max (all runs)", &s.max_ms),
        ("cold (run 1)", &s.cold_ms),
    ]
    .into_iter()
    .map(|(label, m)| {
        Row::new(vec![
            Cell::plain(label),
            Cell::number(with_unit(m.get(base).copied(), "ms")),
            Cell::number(with_unit(m.get(other).copied(), "ms")),
        ])
    })
    .collect();
    doc.table(Table {
        head: vec![
            Column::text("ready"),
            Column::number(base),
            Column::number(other),
        ],
        rows,
    });
    for (t, cache) in &s.cache {
        doc.paragraph(format!("{t}: {cache}."), Tone::Note);
    }
    charts.place(doc, "startup");
}

fn sizes(doc: &mut Document, a: &Analysis, charts: &Charts) {
    if a.sizes.is_empty() {
        return;
    }
    doc.heading(Heading::new(2, "Binary and image size", Some("sizes")));
    doc.table(comparison_table(&a.pair, &a.sizes, false));
    charts.place(doc, "sizes");
}

fn environment(doc: &mut Document, a: &Analysis) {
    doc.heading(Heading::new(2, "Environment", Some("environment")));
    doc.blocks.push(Block::List(
        environment_lines(a).into_iter().map(Text::md).collect(),
    ));
    doc.paragraph(
        Text::md(
            "Raw results: `results.json` (fields: reports/README.md). Plots: `plots/*.svg` and \
             `index.html`.",
        ),
        Tone::Note,
    );
}

/// The environment, one line of Markdown per fact.
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
        lines.push(placement_line(s));
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
        Some(e) => lines.extend(toolchain_lines(e)),
        None => lines.push(
            "toolchains, libraries and commit: unavailable (these results were not written by \
             `harness bench`)"
                .to_owned(),
        ),
    }
    lines
}

fn placement_line(s: &crate::results::SuiteRecord) -> String {
    let awake = match s.cpus_kept_awake.as_deref() {
        None => String::new(),
        Some([]) => "; CPUs allowed to halt when idle (--let-cpus-idle)".to_owned(),
        Some(cpus) => format!(
            "; CPUs {} kept from halting by an idle-priority spinner each (on a VM a \
             halted CPU waits for the host to wake it)",
            crate::placement::format_cpus(cpus)
        ),
    };
    format!(
        "placement: service on CPUs {}, load generator on CPUs {}{awake}",
        crate::placement::format_cpus(&s.server_cpus),
        crate::placement::format_cpus(&s.loadgen_cpus)
    )
}

fn toolchain_lines(e: &crate::environment::Environment) -> Vec<String> {
    let unknown = || "unknown".to_owned();
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
    let mut lines = vec![
        format!(
            "toolchains: {}; {}",
            e.rustc.clone().unwrap_or_else(unknown),
            e.go.clone().unwrap_or_else(unknown)
        ),
        format!("libraries: {}", libs.join(", ")),
        format!(
            "commit: {}{}",
            e.commit.as_deref().unwrap_or("unknown"),
            match e.dirty {
                Some(true) => " (dirty: uncommitted changes)",
                Some(false) => "",
                None => " (dirty state unknown)",
            }
        ),
        format!(
            "harness {}, started {}",
            e.harness_version.as_deref().unwrap_or("?"),
            e.started
        ),
        format!("command: `{}`", e.command),
    ];
    lines.extend(e.notes.iter().map(|note| format!("note: {note}")));
    lines
}
