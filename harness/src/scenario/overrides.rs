//! Command-line overrides of a scenario's `[load]` (`--model`, `--rate`,
//! `--concurrency`, `--connections`, `--duration`, `--warmup`), with the rules
//! `scenarios/README.md` documents.

use std::time::Duration;

use super::{Model, Protocol, Scenario, Stage};

/// What the command line changes; `None` keeps the scenario's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub model: Option<Model>,
    pub rate: Option<u64>,
    pub concurrency: Option<usize>,
    pub connections: Option<usize>,
    pub duration: Option<Duration>,
    pub warmup: Option<Duration>,
}

impl Scenario {
    /// Applies `o` to `self.load`, or leaves the scenario unchanged and says
    /// which flag (or combination) does not fit it.
    pub fn apply_overrides(&mut self, o: &Overrides) -> Result<(), String> {
        if o.rate == Some(0) {
            return Err("--rate must be at least 1".into());
        }
        if o.concurrency == Some(0) {
            return Err("--concurrency must be at least 1".into());
        }
        if o.connections == Some(0) {
            return Err("--connections must be at least 1".into());
        }
        if o.duration.is_some_and(|d| d.is_zero()) {
            return Err("--duration must be > 0".into());
        }
        if o.connections.is_some() && self.protocol == Protocol::Http1 {
            return Err(
                "--connections applies to http2 and grpc: http1 opens one connection per \
                 request in flight (connections = concurrency)"
                    .into(),
            );
        }

        let mut load = self.load.clone();
        // A rate implies the open loop, unless the model says otherwise.
        load.model = o.model.unwrap_or(if o.rate.is_some() {
            Model::Open
        } else {
            load.model
        });
        match load.model {
            Model::Closed => {
                if o.rate.is_some() {
                    return Err("--rate applies to the open loop".into());
                }
                load.stages.clear();
                if let Some(d) = o.duration {
                    load.duration = d;
                }
            }
            Model::Open => {
                let duration = o.duration.unwrap_or(load.duration);
                if let Some(rate) = o.rate {
                    load.stages = vec![Stage {
                        rate,
                        duration,
                        ramp: false,
                    }];
                } else if self.load.model == Model::Closed {
                    return Err("open loop needs a rate (--rate)".into());
                } else if o.duration.is_some() {
                    if load.stages.len() > 1 || load.stages.iter().any(|s| s.ramp) {
                        return Err("--duration cannot reshape stages; give --rate too".into());
                    }
                    load.stages[0].duration = duration;
                }
                load.duration = duration;
            }
        }

        if let Some(c) = o.concurrency {
            load.concurrency = c;
        }
        if let Some(c) = o.connections {
            load.connections = c;
        }
        if self.protocol == Protocol::Http1 {
            load.connections = load.concurrency;
        } else if load.connections > load.concurrency {
            if o.connections.is_some() {
                return Err(format!(
                    "--connections {} must be <= concurrency ({})",
                    load.connections, load.concurrency
                ));
            }
            // --concurrency below the scenario's connections: one stream per connection.
            load.connections = load.concurrency;
        }
        if let Some(w) = o.warmup {
            load.warmup = w;
        }
        if let Some(drain) = &self.drain {
            if load.model != Model::Open {
                return Err("a [drain] scenario runs in the open loop".into());
            }
            if drain.signal_after + drain.delay >= load.duration {
                return Err(format!(
                    "--duration {} must be longer than the scenario's drain signal_after + delay ({})",
                    humantime::format_duration(load.duration),
                    humantime::format_duration(drain.signal_after + drain.delay)
                ));
            }
        }

        self.load = load;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Arrival, Call, Expect, Load, Slo, Template};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn stage(rate: u64, s: u64, ramp: bool) -> Stage {
        Stage {
            rate,
            duration: secs(s),
            ramp,
        }
    }

    fn scenario(protocol: Protocol, model: Model, stages: Vec<Stage>) -> Scenario {
        let duration = if stages.is_empty() {
            secs(10)
        } else {
            stages.iter().map(|s| s.duration).sum()
        };
        let concurrency = 64;
        Scenario {
            path: "x.toml".into(),
            name: "x".into(),
            description: String::new(),
            protocol,
            call: Call::Rest {
                method: http::Method::GET,
                path: Template { parts: Vec::new() },
            },
            body: None,
            expect: Expect::Http(200),
            params: Vec::new(),
            load: Load {
                model,
                stages,
                arrival: Arrival::Uniform,
                concurrency,
                connections: if protocol == Protocol::Http1 {
                    concurrency
                } else {
                    16
                },
                duration,
                warmup: secs(2),
                timeout: secs(2),
                seed: 1,
            },
            slo: Slo::default(),
            stream: None,
            drain: None,
        }
    }

    fn open(stages: Vec<Stage>) -> Scenario {
        scenario(Protocol::Http2, Model::Open, stages)
    }

    fn closed() -> Scenario {
        scenario(Protocol::Http2, Model::Closed, Vec::new())
    }

    fn apply(mut s: Scenario, o: Overrides) -> Result<Scenario, String> {
        s.apply_overrides(&o).map(|()| s)
    }

    fn assert_invariant(s: &Scenario) {
        match s.load.model {
            Model::Open => {
                assert!(!s.load.stages.is_empty());
                let total: Duration = s.load.stages.iter().map(|st| st.duration).sum();
                assert_eq!(s.load.duration, total);
            }
            Model::Closed => assert!(s.load.stages.is_empty()),
        }
        assert!(1 <= s.load.connections && s.load.connections <= s.load.concurrency);
        if s.protocol == Protocol::Http1 {
            assert_eq!(s.load.connections, s.load.concurrency);
        }
    }

    #[test]
    fn no_overrides_change_nothing() {
        let s = apply(open(vec![stage(100, 10, false)]), Overrides::default()).unwrap();
        assert_eq!(s.load.stages, [stage(100, 10, false)]);
        assert_invariant(&s);
    }

    #[test]
    fn rate_replaces_stages_with_one_constant_stage() {
        let staged = open(vec![stage(100, 5, false), stage(400, 10, true)]);
        let s = apply(
            staged.clone(),
            Overrides {
                rate: Some(50),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.load.stages, [stage(50, 15, false)]);
        assert_invariant(&s);

        let o = Overrides {
            rate: Some(50),
            duration: Some(secs(3)),
            ..Default::default()
        };
        let s = apply(staged, o).unwrap();
        assert_eq!(s.load.stages, [stage(50, 3, false)]);
        assert_eq!(s.load.duration, secs(3));
        assert_invariant(&s);
    }

    #[test]
    fn rate_makes_a_closed_scenario_open_unless_the_model_says_closed() {
        let s = apply(
            closed(),
            Overrides {
                rate: Some(500),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.load.model, Model::Open);
        assert_eq!(s.load.stages, [stage(500, 10, false)]);
        assert_invariant(&s);

        let o = Overrides {
            rate: Some(500),
            model: Some(Model::Closed),
            ..Default::default()
        };
        assert_eq!(
            apply(open(vec![stage(1, 1, false)]), o).unwrap_err(),
            "--rate applies to the open loop"
        );
    }

    #[test]
    fn open_on_a_closed_scenario_needs_a_rate() {
        let o = Overrides {
            model: Some(Model::Open),
            ..Default::default()
        };
        assert_eq!(
            apply(closed(), o).unwrap_err(),
            "open loop needs a rate (--rate)"
        );
        let o = Overrides {
            model: Some(Model::Open),
            rate: Some(10),
            ..Default::default()
        };
        assert_invariant(&apply(closed(), o).unwrap());
    }

    #[test]
    fn closed_on_an_open_scenario_drops_the_stages() {
        let o = Overrides {
            model: Some(Model::Closed),
            ..Default::default()
        };
        let s = apply(open(vec![stage(100, 5, false), stage(200, 5, true)]), o).unwrap();
        assert_eq!(s.load.model, Model::Closed);
        assert_eq!(s.load.duration, secs(10));
        assert_invariant(&s);
    }

    #[test]
    fn duration_alone_reshapes_only_a_single_constant_stage() {
        let d = Overrides {
            duration: Some(secs(30)),
            ..Default::default()
        };
        let s = apply(open(vec![stage(100, 10, false)]), d.clone()).unwrap();
        assert_eq!(s.load.stages, [stage(100, 30, false)]);
        assert_eq!(s.load.duration, secs(30));
        assert_invariant(&s);

        let msg = "--duration cannot reshape stages; give --rate too";
        assert_eq!(
            apply(open(vec![stage(100, 10, true)]), d.clone()).unwrap_err(),
            msg
        );
        let two = open(vec![stage(1, 1, false), stage(2, 2, false)]);
        assert_eq!(apply(two, d.clone()).unwrap_err(), msg);

        let s = apply(closed(), d).unwrap();
        assert_eq!(s.load.duration, secs(30));
        assert_invariant(&s);
    }

    #[test]
    fn concurrency_and_connections() {
        let o = Overrides {
            concurrency: Some(4),
            ..Default::default()
        };
        // Lowering concurrency below the scenario's connections lowers connections.
        let s = apply(open(vec![stage(1, 1, false)]), o).unwrap();
        assert_eq!((s.load.concurrency, s.load.connections), (4, 4));

        let o = Overrides {
            concurrency: Some(4),
            connections: Some(8),
            ..Default::default()
        };
        assert!(
            apply(open(vec![stage(1, 1, false)]), o)
                .unwrap_err()
                .contains("<= concurrency")
        );

        let o = Overrides {
            connections: Some(2),
            ..Default::default()
        };
        let s = apply(open(vec![stage(1, 1, false)]), o.clone()).unwrap();
        assert_eq!(s.load.connections, 2);
        let http1 = scenario(Protocol::Http1, Model::Closed, Vec::new());
        assert!(
            apply(http1.clone(), o)
                .unwrap_err()
                .contains("http2 and grpc")
        );

        let o = Overrides {
            concurrency: Some(8),
            ..Default::default()
        };
        let s = apply(http1, o).unwrap();
        assert_eq!((s.load.concurrency, s.load.connections), (8, 8));
    }

    #[test]
    fn zeros_are_rejected_and_leave_the_scenario_unchanged() {
        let base = open(vec![stage(100, 10, false)]);
        for o in [
            Overrides {
                rate: Some(0),
                ..Default::default()
            },
            Overrides {
                concurrency: Some(0),
                ..Default::default()
            },
            Overrides {
                connections: Some(0),
                ..Default::default()
            },
            Overrides {
                duration: Some(Duration::ZERO),
                ..Default::default()
            },
        ] {
            let mut s = base.clone();
            assert!(s.apply_overrides(&o).is_err(), "{o:?}");
            assert_eq!(s.load.stages, base.load.stages);
        }
        let mut s = base.clone();
        let o = Overrides {
            rate: Some(7),
            concurrency: Some(2),
            connections: Some(3),
            ..Default::default()
        };
        assert!(s.apply_overrides(&o).is_err());
        assert_eq!(s.load.stages, base.load.stages);
        assert_eq!(s.load.concurrency, base.load.concurrency);
    }

    #[test]
    fn warmup_may_be_zero() {
        let o = Overrides {
            warmup: Some(Duration::ZERO),
            ..Default::default()
        };
        let s = apply(open(vec![stage(1, 1, false)]), o).unwrap();
        assert_eq!(s.load.warmup, Duration::ZERO);
    }

    /// Properties over generated scenarios and flags.
    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn protocol() -> impl Strategy<Value = Protocol> {
            prop_oneof![
                Just(Protocol::Http1),
                Just(Protocol::Http2),
                Just(Protocol::Grpc)
            ]
        }

        fn model() -> impl Strategy<Value = Model> {
            prop_oneof![Just(Model::Open), Just(Model::Closed)]
        }

        fn base() -> impl Strategy<Value = Scenario> {
            let stages = prop::collection::vec(
                (1u64..=1000, 1u64..=20, any::<bool>()).prop_map(|(r, s, ramp)| stage(r, s, ramp)),
                1..=3,
            );
            (protocol(), model(), stages, 1usize..=64).prop_map(|(p, m, st, c)| {
                let mut s = scenario(p, m, if m == Model::Open { st } else { Vec::new() });
                s.load.concurrency = c;
                s.load.connections = if p == Protocol::Http1 { c } else { c.min(16) };
                s
            })
        }

        fn overrides() -> impl Strategy<Value = Overrides> {
            (
                prop::option::of(model()),
                prop::option::of(0u64..=1000),
                prop::option::of(0usize..=80),
                prop::option::of(0usize..=80),
                prop::option::of((0u64..=30).prop_map(secs)),
                prop::option::of((0u64..=5).prop_map(secs)),
            )
                .prop_map(
                    |(model, rate, concurrency, connections, duration, warmup)| Overrides {
                        model,
                        rate,
                        concurrency,
                        connections,
                        duration,
                        warmup,
                    },
                )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Either the flags apply, each one visible in the result and the
            /// load still consistent, or they are refused and nothing changes.
            #[test]
            fn overrides_apply_whole_or_not_at_all(s in base(), o in overrides()) {
                let before = s.load.clone();
                let mut after = s.clone();
                match after.apply_overrides(&o) {
                    Err(_) => {
                        let l = &after.load;
                        prop_assert_eq!(&l.stages, &before.stages);
                        prop_assert_eq!(l.model, before.model);
                        prop_assert_eq!(l.duration, before.duration);
                        prop_assert_eq!((l.concurrency, l.connections), (before.concurrency, before.connections));
                        prop_assert_eq!(l.warmup, before.warmup);
                    }
                    Ok(()) => {
                        assert_invariant(&after);
                        let l = &after.load;
                        if let Some(m) = o.model {
                            prop_assert_eq!(l.model, m);
                        }
                        if let Some(r) = o.rate {
                            prop_assert_eq!(l.stages.iter().map(|s| s.rate).collect::<Vec<_>>(), vec![r]);
                        }
                        if let Some(d) = o.duration {
                            prop_assert_eq!(l.duration, d);
                        }
                        if let Some(c) = o.concurrency {
                            prop_assert_eq!(l.concurrency, c);
                        }
                        if let Some(c) = o.connections {
                            prop_assert_eq!(l.connections, c);
                        }
                        prop_assert_eq!(l.warmup, o.warmup.unwrap_or(before.warmup));
                        let none = format!("{:?}", Overrides::default());
                        if format!("{o:?}") == none {
                            prop_assert_eq!(&l.stages, &before.stages);
                            prop_assert_eq!(l.duration, before.duration);
                        }
                    }
                }
            }
        }
    }
}
