//! PDF documents typeset by Typst, used as a library.
//!
//! A document is a Typst template (static markup shipped in the binary) plus named data files:
//! the caller passes its figures as JSON (`json("data.json")` in the template) and pictures as
//! SVG or PNG bytes. Data never becomes markup, so a name such as `#` or `]` in a village's
//! name cannot change the document.
//!
//! Fonts come from the system (Debian's `fonts-noto-cjk`), loaded once by [`Typesetter::new`];
//! nothing is fetched and no package is resolved, so a template that imports `@preview/…`
//! fails with a clear error instead of reaching the network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

/// Where Debian's `fonts-noto-cjk` puts the CJK sans fonts the templates use.
pub const DEFAULT_FONT_FILES: [&str; 2] = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
];

/// Errors of this layer, each with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No usable font was found where fonts were looked for.
    #[error("no fonts found in {0} (install Debian's fonts-noto-cjk or set FENGQIAO_FONT_DIR)")]
    NoFonts(String),
    /// A font file could not be read.
    #[error("cannot read font {path}: {source}")]
    FontFile {
        path: String,
        source: std::io::Error,
    },
    /// The template or its data did not typeset; the messages say where.
    #[error("typesetting failed: {0}")]
    Typeset(String),
    /// The typeset document could not be written as PDF.
    #[error("PDF export failed: {0}")]
    Export(String),
}

impl PdfError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            PdfError::NoFonts(_) => "pdf.no_fonts",
            PdfError::FontFile { .. } => "pdf.font_file",
            PdfError::Typeset(_) => "pdf.typeset",
            PdfError::Export(_) => "pdf.export",
        }
    }
}

/// One document to typeset: a template and the files it reads.
#[derive(Debug, Clone)]
pub struct Document {
    template: String,
    files: Vec<(String, Vec<u8>)>,
    today: Option<(i32, u8, u8)>,
}

impl Document {
    /// A document from Typst markup.
    pub fn new(template: impl Into<String>) -> Self {
        Document {
            template: template.into(),
            files: Vec::new(),
            today: None,
        }
    }

    /// Adds a file the template can read by `name` (e.g. `json("data.json")`, `image("qr.svg")`).
    pub fn file(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.files
            .push((name.trim_start_matches('/').to_string(), bytes.into()));
        self
    }

    /// Adds `value` serialised as JSON under `name`.
    pub fn json(self, name: &str, value: &serde_json::Value) -> Self {
        let bytes = value.to_string().into_bytes();
        self.file(name, bytes)
    }

    /// The date `datetime.today()` returns (none: the template cannot ask for it).
    pub fn today(mut self, year: i32, month: u8, day: u8) -> Self {
        self.today = Some((year, month, day));
        self
    }
}

/// Fonts and the standard library, loaded once and shared by every document.
pub struct Typesetter {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

impl std::fmt::Debug for Typesetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typesetter")
            .field("fonts", &self.fonts.len())
            .finish()
    }
}

impl Typesetter {
    /// Loads the fonts of `FENGQIAO_FONT_DIR` (every .ttf/.otf/.ttc in it) when set, otherwise
    /// Debian's Noto Sans CJK.
    pub fn from_system() -> Result<Self, PdfError> {
        match std::env::var_os("FENGQIAO_FONT_DIR") {
            Some(dir) => Self::from_dir(Path::new(&dir)),
            None => Self::from_files(DEFAULT_FONT_FILES.iter().map(PathBuf::from).collect()),
        }
    }

    /// Loads every font file in `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, PdfError> {
        let entries =
            std::fs::read_dir(dir).map_err(|_| PdfError::NoFonts(dir.display().to_string()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(
                        e.to_ascii_lowercase().as_str(),
                        "ttf" | "otf" | "ttc" | "otc"
                    )
                })
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(PdfError::NoFonts(dir.display().to_string()));
        }
        Self::from_files(files)
    }

    /// Loads the given font files; those that do not exist are skipped, but at least one must.
    pub fn from_files(files: Vec<PathBuf>) -> Result<Self, PdfError> {
        let mut fonts = Vec::new();
        for path in files.iter().filter(|p| p.is_file()) {
            let data = std::fs::read(path).map_err(|source| PdfError::FontFile {
                path: path.display().to_string(),
                source,
            })?;
            fonts.extend(Font::iter(Bytes::new(data)));
        }
        if fonts.is_empty() {
            let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            return Err(PdfError::NoFonts(names.join(", ")));
        }
        Ok(Typesetter {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        })
    }

    /// The font families available to templates, sorted.
    pub fn families(&self) -> Vec<String> {
        let mut names: Vec<String> = self.fonts.iter().map(|f| f.info().family.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Typesets `doc` and writes it as PDF.
    pub fn pdf(&self, doc: &Document) -> Result<Vec<u8>, PdfError> {
        let main = RootedPath::new(VirtualRoot::Project, vpath("main.typ")?).intern();
        let mut files = HashMap::new();
        for (name, bytes) in &doc.files {
            let id = RootedPath::new(VirtualRoot::Project, vpath(name)?).intern();
            files.insert(id, Bytes::new(bytes.clone()));
        }
        let world = DocWorld {
            setter: self,
            main,
            source: Source::new(main, doc.template.clone()),
            files,
            today: doc.today,
        };
        let warned = typst::compile::<PagedDocument>(&world);
        let document = warned
            .output
            .map_err(|errors| PdfError::Typeset(describe(&world, errors.as_slice())))?;
        typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default())
            .map_err(|errors| PdfError::Export(describe(&world, errors.as_slice())))
    }
}

fn vpath(name: &str) -> Result<VirtualPath, PdfError> {
    VirtualPath::new(format!("/{name}")).map_err(|e| PdfError::Typeset(format!("{name}: {e:?}")))
}

/// The messages of typesetting errors, with the line of the template each points at.
fn describe(world: &DocWorld<'_>, errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let line = typst::WorldExt::range(world, d.span)
                .and_then(|r| world.source.lines().byte_to_line(r.start))
                .map(|l| format!("line {}: ", l + 1))
                .unwrap_or_default();
            format!("{line}{}", d.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

struct DocWorld<'a> {
    setter: &'a Typesetter,
    main: FileId,
    source: Source,
    files: HashMap<FileId, Bytes>,
    today: Option<(i32, u8, u8)>,
}

impl World for DocWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.setter.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.setter.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main {
            Ok(self.source.clone())
        } else if self.files.contains_key(&id) {
            Err(FileError::NotSource)
        } else {
            Err(not_found(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.main {
            return Ok(Bytes::from_string(self.source.clone()));
        }
        self.files.get(&id).cloned().ok_or_else(|| not_found(id))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.setter.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        let (y, m, d) = self.today?;
        Datetime::from_ymd(y, m, d)
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(PathBuf::from(id.vpath().get_without_slash()))
}
