//! The reports' document model: what a page says, in blocks, before any
//! format. `sections` builds one from an analysis, `pages` builds one from
//! the runs of a site, and each exporter (`export::markdown`, `export::html`)
//! renders any document, so the formats cannot drift apart.

/// A whole page.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// The page's title, in plain text.
    pub title: String,
    /// The level-1 heading, in the little Markdown of [`Span::Md`].
    pub heading: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone)]
pub enum Block {
    Heading(Heading),
    Paragraph {
        text: Text,
        tone: Tone,
    },
    List(Vec<Text>),
    Table(Table),
    /// Links to the headings of the same page (HTML only: Markdown hosts
    /// name their anchors themselves).
    Contents(Vec<(String, String)>),
    /// An SVG chart inline (HTML only: the Markdown report points to
    /// `plots/` instead).
    Figure(Figure),
}

#[derive(Debug, Clone)]
pub struct Heading {
    /// 2 or 3: the document's heading is level 1.
    pub level: u8,
    pub text: String,
    /// The HTML anchor.
    pub id: Option<String>,
    /// Said after the heading, smaller: `(GET /v1/users/{id}, SLO p99 ≤ 5 ms)`.
    pub aside: Option<String>,
    /// Something went wrong in what follows.
    pub alarm: bool,
}

/// How a paragraph reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// An explanation beside the figures.
    Note,
    /// The whole page is affected (an incomplete run).
    Warn,
    /// Something measured went wrong.
    Alarm,
    /// Nothing to show.
    Empty,
}

#[derive(Debug, Clone)]
pub struct Figure {
    pub id: Option<String>,
    pub svg: String,
    pub caption: Option<String>,
}

/// Inline text: a run of spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text(pub Vec<Span>);

#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    /// Literal text.
    Plain(String),
    /// The little Markdown the shared texts use: `**bold**`, `*em*` and `` `code` ``.
    Md(String),
    Link {
        text: String,
        to: Href,
    },
    /// A short label beside the text: `noisy`, `dirty`.
    Badge {
        text: String,
        class: &'static str,
    },
    /// A remark under the text.
    Aside(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Href {
    /// The same format's page in another directory (`vs-go-gin/`): each
    /// exporter adds its own file name.
    Report(String),
    /// A path as it is.
    Path(String),
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub head: Vec<Column>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub text: Text,
    /// Figures: right-aligned.
    pub numeric: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Row {
    pub cells: Vec<Cell>,
    /// The whole row is about something that went wrong.
    pub alarm: bool,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub text: Text,
    pub style: Style,
    /// Said on hover (HTML only).
    pub tip: Option<String>,
    /// Columns it spans.
    pub span: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    Plain,
    Number,
    Note,
    /// What went wrong (red, and 🔴 in Markdown).
    Alarm,
    /// A verdict, coloured by its winner (`plots::verdict_key`).
    Verdict(&'static str),
    /// No figure.
    Missing,
}

impl Text {
    pub fn plain(text: impl Into<String>) -> Self {
        Text(vec![Span::Plain(text.into())])
    }

    pub fn md(text: impl Into<String>) -> Self {
        Text(vec![Span::Md(text.into())])
    }

    pub fn push(mut self, span: Span) -> Self {
        self.0.push(span);
        self
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::plain(text)
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text::plain(text)
    }
}

impl Column {
    pub fn text(text: impl Into<Text>) -> Self {
        Column {
            text: text.into(),
            numeric: false,
        }
    }

    pub fn number(text: impl Into<Text>) -> Self {
        Column {
            text: text.into(),
            numeric: true,
        }
    }
}

impl Cell {
    pub fn new(text: impl Into<Text>, style: Style) -> Self {
        Cell {
            text: text.into(),
            style,
            tip: None,
            span: 1,
        }
    }

    pub fn plain(text: impl Into<Text>) -> Self {
        Cell::new(text, Style::Plain)
    }

    pub fn number(text: impl Into<Text>) -> Self {
        Cell::new(text, Style::Number)
    }

    pub fn with_tip(mut self, tip: String) -> Self {
        self.tip = Some(tip);
        self
    }
}

impl Row {
    pub fn new(cells: Vec<Cell>) -> Self {
        Row {
            cells,
            alarm: false,
        }
    }
}

impl Heading {
    pub fn new(level: u8, text: impl Into<String>, id: Option<&str>) -> Self {
        Heading {
            level,
            text: text.into(),
            id: id.map(str::to_owned),
            aside: None,
            alarm: false,
        }
    }
}

impl Document {
    pub fn heading(&mut self, heading: Heading) {
        self.blocks.push(Block::Heading(heading));
    }

    pub fn paragraph(&mut self, text: impl Into<Text>, tone: Tone) {
        self.blocks.push(Block::Paragraph {
            text: text.into(),
            tone,
        });
    }

    pub fn table(&mut self, table: Table) {
        self.blocks.push(Block::Table(table));
    }
}
