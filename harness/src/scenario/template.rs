//! `{name}` placeholders in calls and bodies. The rule, as `scenarios/README.md`
//! states it: `{` followed by a name and `}` is a placeholder; `{{` is one
//! literal `{` (valid JSON never holds `{{`); `{` followed by a name and
//! anything but `}` is an error (an unclosed placeholder); any other brace is
//! literal text, so JSON braces need no escaping.

use std::ops::Range;

use super::{Part, Template};

/// One piece of a template's source text; `src` is its byte range in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    pub kind: PieceKind,
    pub src: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PieceKind {
    /// Copied as is.
    Text,
    /// `{{`: one literal `{`.
    Escape(char),
    /// `{name}`.
    Var,
}

/// A template error: where in the text, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TemplateError {
    pub span: Range<usize>,
    pub message: String,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True for a valid placeholder (and param) name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_name_start(b[0]) && b[1..].iter().all(|&c| is_name_char(c))
}

/// Splits `text` into pieces.
pub(super) fn split(text: &str) -> Result<Vec<Piece>, TemplateError> {
    let b = text.as_bytes();
    let mut pieces = Vec::new();
    let mut run = 0;
    let mut i = 0;
    let flush = |pieces: &mut Vec<Piece>, run: usize, end: usize| {
        if run < end {
            pieces.push(Piece {
                kind: PieceKind::Text,
                src: run..end,
            });
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == b'{' && b.get(i + 1) == Some(&b'{') {
            flush(&mut pieces, run, i);
            pieces.push(Piece {
                kind: PieceKind::Escape(c as char),
                src: i..i + 2,
            });
            i += 2;
            run = i;
        } else if c == b'{' && b.get(i + 1).is_some_and(|&n| is_name_start(n)) {
            let end = i + 1 + b[i + 1..].iter().take_while(|&&n| is_name_char(n)).count();
            if b.get(end) != Some(&b'}') {
                let name = &text[i + 1..end];
                return Err(TemplateError {
                    span: i..end,
                    message: format!(
                        "unclosed placeholder `{{{name}`: expected `}}` right after the name \
                         (write `{{{{` for a literal `{{`)"
                    ),
                });
            }
            flush(&mut pieces, run, i);
            pieces.push(Piece {
                kind: PieceKind::Var,
                src: i..end + 1,
            });
            i = end + 1;
            run = i;
        } else {
            i += 1;
        }
    }
    flush(&mut pieces, run, b.len());
    Ok(pieces)
}

/// The name inside a `Var` piece.
pub(super) fn var_name<'t>(text: &'t str, piece: &Piece) -> &'t str {
    &text[piece.src.start + 1..piece.src.end - 1]
}

/// Builds the template, resolving each placeholder to its index in `names`
/// and marking it in `used`.
pub(super) fn resolve(
    text: &str,
    pieces: &[Piece],
    names: &[String],
    used: &mut [bool],
) -> Result<Template, TemplateError> {
    let mut parts: Vec<Part> = Vec::new();
    let push_text = |parts: &mut Vec<Part>, s: &str| match parts.last_mut() {
        Some(Part::Lit(lit)) => lit.push_str(s),
        _ => parts.push(Part::Lit(s.to_string())),
    };
    for piece in pieces {
        match piece.kind {
            PieceKind::Text => push_text(&mut parts, &text[piece.src.clone()]),
            PieceKind::Escape(c) => push_text(&mut parts, c.encode_utf8(&mut [0; 4])),
            PieceKind::Var => {
                let name = var_name(text, piece);
                let Some(i) = names.iter().position(|n| n == name) else {
                    let known = if names.is_empty() {
                        "there is no [params] table".to_string()
                    } else {
                        format!("the params are {}", names.join(", "))
                    };
                    return Err(TemplateError {
                        span: piece.src.clone(),
                        message: format!("placeholder `{{{name}}}` has no param: {known}"),
                    });
                };
                used[i] = true;
                parts.push(Part::Var(i));
            }
        }
    }
    Ok(Template { parts })
}

/// A template rendered with a map back to its source, to place errors found
/// in the rendered text (such as invalid JSON) in the file the user wrote.
pub(super) struct Rendered {
    pub text: String,
    /// For each piece: where its output starts, and the piece.
    map: Vec<(usize, Piece)>,
}

/// Where a rendered byte came from.
pub(super) struct Origin {
    /// Byte offset in the template's source.
    pub offset: usize,
    /// The placeholder that produced it, if any.
    pub var: Option<Piece>,
}

/// Renders `pieces` with `values[i]` for the placeholder named `names[i]`.
pub(super) fn render(
    text: &str,
    pieces: &[Piece],
    names: &[String],
    values: &[String],
) -> Rendered {
    let mut out = String::new();
    let mut map = Vec::with_capacity(pieces.len());
    for piece in pieces {
        map.push((out.len(), piece.clone()));
        match piece.kind {
            PieceKind::Text => out.push_str(&text[piece.src.clone()]),
            PieceKind::Escape(c) => out.push(c),
            PieceKind::Var => {
                let name = var_name(text, piece);
                if let Some(i) = names.iter().position(|n| n == name) {
                    out.push_str(&values[i]);
                }
            }
        }
    }
    Rendered { text: out, map }
}

impl Rendered {
    /// The source of the rendered byte at `offset` (the end maps to the end).
    pub fn origin(&self, offset: usize) -> Origin {
        let i = self.map.partition_point(|(start, _)| *start <= offset);
        let Some((start, piece)) = i.checked_sub(1).map(|i| &self.map[i]) else {
            return Origin {
                offset: 0,
                var: None,
            };
        };
        match piece.kind {
            PieceKind::Text => Origin {
                offset: (piece.src.start + (offset - start)).min(piece.src.end),
                var: None,
            },
            PieceKind::Escape(_) => Origin {
                offset: piece.src.start,
                var: None,
            },
            PieceKind::Var => Origin {
                offset: piece.src.start,
                var: Some(piece.clone()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse(text: &str, list: &[&str]) -> Result<Template, TemplateError> {
        let names = names(list);
        let mut used = vec![false; names.len()];
        resolve(text, &split(text)?, &names, &mut used)
    }

    fn lit(s: &str) -> Part {
        Part::Lit(s.to_string())
    }

    #[test]
    fn placeholders_and_literal_text() {
        let t = parse("/v1/users/{id}?x={a_1}", &["id", "a_1"]).unwrap();
        assert_eq!(
            t.parts,
            vec![lit("/v1/users/"), Part::Var(0), lit("?x="), Part::Var(1)]
        );
        assert!(!t.is_constant());
        assert!(parse("/health", &[]).unwrap().is_constant());
    }

    #[test]
    fn json_braces_are_text_and_a_placeholder_may_close_an_object() {
        let t = parse(r#"{"id": {id}}"#, &["id"]).unwrap();
        assert_eq!(t.parts, vec![lit(r#"{"id": "#), Part::Var(0), lit("}")]);
        let mut out = String::new();
        t.render(&["7".to_string()], &mut out);
        assert_eq!(out, r#"{"id": 7}"#);

        let t = parse("{ \"a\": [ {\"b\": 1} ] }", &[]).unwrap();
        assert_eq!(t.parts, vec![lit("{ \"a\": [ {\"b\": 1} ] }")]);
    }

    #[test]
    fn a_doubled_opening_brace_is_an_escape() {
        assert_eq!(parse("{{id}", &[]).unwrap().parts, vec![lit("{id}")]);
        assert_eq!(
            parse("{{{id}}", &["id"]).unwrap().parts,
            vec![lit("{"), Part::Var(0), lit("}")]
        );
        // Closing braces are always text, so nested JSON objects need nothing.
        assert_eq!(
            parse(r#"{"a": {"b": 1}}"#, &[]).unwrap().parts,
            vec![lit(r#"{"a": {"b": 1}}"#)]
        );
        assert_eq!(
            parse(r#"{"a": {"b": 1} }"#, &[]).unwrap().parts,
            vec![lit(r#"{"a": {"b": 1} }"#)]
        );
    }

    #[test]
    fn other_braces_are_literal() {
        for text in ["{", "}", "{ id }", "{1}", "{-x}", "a{", "}a{\"", "{}"] {
            assert_eq!(
                parse(text, &["id"]).unwrap().parts,
                vec![lit(text)],
                "{text}"
            );
        }
    }

    #[test]
    fn unclosed_placeholder_is_an_error_at_its_brace() {
        for (text, span) in [("/v1/users/{id", 10..13), ("{ab c}", 0..3), ("x{a,", 1..3)] {
            let err = parse(text, &["id"]).unwrap_err();
            assert_eq!(err.span, span, "{text}");
            assert!(
                err.message.contains("unclosed placeholder"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn unknown_placeholder_names_the_params() {
        let err = parse("a{nope}b", &["id", "sku"]).unwrap_err();
        assert_eq!(err.span, 1..7);
        assert_eq!(
            err.message,
            "placeholder `{nope}` has no param: the params are id, sku"
        );
        let err = parse("{nope}", &[]).unwrap_err();
        assert!(err.message.contains("no [params] table"), "{}", err.message);
    }

    #[test]
    fn used_marks_only_referenced_params() {
        let names = names(&["a", "b", "c"]);
        let mut used = vec![false; 3];
        let text = "{c}{a}{a}";
        resolve(text, &split(text).unwrap(), &names, &mut used).unwrap();
        assert_eq!(used, [true, false, true]);
    }

    #[test]
    fn escaping_any_text_round_trips() {
        // Doubling every `{` makes any text a constant template of itself.
        let alphabet = ['{', '}', 'a', '_', '1', ' ', '"', 'é'];
        let mut rng = Rng::new(11);
        for _ in 0..2000 {
            let len = rng.below(12) as usize;
            let text: String = (0..len).map(|_| *rng.pick(&alphabet)).collect();
            let escaped = text.replace('{', "{{");
            let t = parse(&escaped, &[]).unwrap();
            assert!(t.is_constant());
            let mut out = String::new();
            t.render(&[], &mut out);
            assert_eq!(out, text, "{escaped}");
        }
    }

    #[test]
    fn rendered_offsets_map_back_to_the_source() {
        let text = "{{x} {v} tail";
        let pieces = split(text).unwrap();
        let r = render(text, &pieces, &names(&["v"]), &["VALUE".to_string()]);
        assert_eq!(r.text, "{x} VALUE tail");
        let at = |o: usize| {
            let origin = r.origin(o);
            (origin.offset, origin.var.is_some())
        };
        assert_eq!(at(0), (0, false)); // the `{{` escape
        assert_eq!(at(1), (2, false)); // `x`
        assert_eq!(at(4), (5, true)); // inside VALUE: the placeholder
        assert_eq!(at(8), (5, true));
        assert_eq!(at(10), (9, false)); // `t` of tail
        assert_eq!(at(r.text.len()), (text.len(), false));
    }

    /// Properties over generated templates.
    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A piece of a template as its author means it: literal text, or
        /// the value of param `i`.
        #[derive(Debug, Clone)]
        enum Want {
            Lit(String),
            Var(usize),
        }

        const NAMES: [&str; 4] = ["id", "a_1", "_x", "Sku"];

        /// Literal text with every kind of brace and some JSON around it.
        fn literal() -> impl Strategy<Value = String> {
            "[{}a-z0-9_ \":,\\[\\]é-]{1,8}"
        }

        fn want() -> impl Strategy<Value = Vec<Want>> {
            prop::collection::vec(
                prop_oneof![
                    literal().prop_map(Want::Lit),
                    (0..NAMES.len()).prop_map(Want::Var),
                ],
                0..8,
            )
        }

        /// The template text: a literal `{` doubled, a placeholder `{name}`.
        fn source(want: &[Want]) -> String {
            want.iter()
                .map(|w| match w {
                    Want::Lit(text) => text.replace('{', "{{"),
                    Want::Var(i) => format!("{{{}}}", NAMES[*i]),
                })
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Rendering gives back the literal text with exactly the drawn
            /// values where the placeholders were, both through `Template`
            /// (what requests use) and through `render` (what body checks use).
            #[test]
            fn rendering_puts_the_values_where_the_placeholders_were(
                want in want(),
                values in prop::collection::vec("[a-z0-9{}\"-]{0,6}", NAMES.len()),
            ) {
                let text = source(&want);
                let names = names(&NAMES);
                let mut used = vec![false; names.len()];
                let pieces = split(&text).unwrap();
                let template = resolve(&text, &pieces, &names, &mut used).unwrap();
                let expected: String = want
                    .iter()
                    .map(|w| match w {
                        Want::Lit(t) => t.as_str(),
                        Want::Var(i) => values[*i].as_str(),
                    })
                    .collect();
                let mut out = String::new();
                template.render(&values, &mut out);
                prop_assert_eq!(&out, &expected, "template {}", text);
                prop_assert_eq!(&render(&text, &pieces, &names, &values).text, &expected);
                for (i, u) in used.iter().enumerate() {
                    prop_assert_eq!(*u, want.iter().any(|w| matches!(w, Want::Var(j) if *j == i)));
                }
                prop_assert_eq!(
                    template.is_constant(),
                    !want.iter().any(|w| matches!(w, Want::Var(_)))
                );
            }

            /// Any text splits into pieces that tile it, each a run of text,
            /// a `{{` or a `{name}`; or it is refused at a `{name` left open.
            #[test]
            fn any_text_splits_into_pieces_that_tile_it(text in "[{}a_1 \"é-]{0,16}") {
                match split(&text) {
                    Ok(pieces) => {
                        let mut at = 0;
                        for piece in &pieces {
                            prop_assert_eq!(piece.src.start, at, "{:?}", pieces);
                            let src = &text[piece.src.clone()];
                            match piece.kind {
                                PieceKind::Text => prop_assert!(!src.is_empty()),
                                PieceKind::Escape(c) => {
                                    prop_assert_eq!(src, "{{");
                                    prop_assert_eq!(c, '{');
                                }
                                PieceKind::Var => {
                                    prop_assert!(src.starts_with('{') && src.ends_with('}'), "{}", src);
                                    prop_assert!(is_name(var_name(&text, piece)));
                                }
                            }
                            at = piece.src.end;
                        }
                        prop_assert_eq!(at, text.len());
                    }
                    Err(e) => {
                        let open = &text[e.span.clone()];
                        prop_assert!(open.starts_with('{') && is_name(&open[1..]), "{:?}", e);
                        prop_assert_ne!(text[e.span.end..].chars().next(), Some('}'));
                    }
                }
            }
        }
    }
}
