//! PDF exports and reports made of headings, text lines and tables, on A4 landscape pages, in
//! any script the fonts cover.
//!
//! # Pages and memory
//!
//! krilla writes the PDF: it embeds only the glyphs used (font subsets), and a page's content
//! is compressed as soon as the page is finished. So this writer holds the drawing operations
//! of one page at a time (a few hundred shaped cells) and hands each page to krilla as soon as
//! the next element no longer fits on it; krilla keeps the finished pages compressed until
//! [`PdfWriter::finish`] assembles the file (fonts last, once every glyph is known) and writes
//! it out. Memory grows with the compressed size of the document, about 12 KB a page
//! (bench/README.md has the figures for a 10,000-patient export).
//!
//! The footer reads "Page n": a total would need every page back after the last one, which a
//! page already handed to krilla cannot be.
//!
//! # Text
//!
//! Text is drawn in DejaVu Sans, and in the `PDF_FONT` file for characters DejaVu Sans lacks
//! (see [`fonts`]); right-to-left runs are ordered and shaped as described in [`text`]. A
//! character no font has is drawn as the font's missing glyph (an empty box) and counted:
//! [`Finished::missing_glyphs`]. The text behind the glyphs is kept in the file, so text
//! extraction and copying give the original characters. Input is normalized to NFC; tabs and
//! line breaks become spaces and other control characters are left out.
//!
//! Paragraph lines and headings wrap at spaces (words longer than a line are split); table cells
//! are cut to their column and end in "…". Cells past the last column are ignored, missing ones
//! are left blank.
//!
//! If any call returns an error, drop the writer: nothing has been written to the output, which
//! gets the whole file in [`PdfWriter::finish`].

pub mod fonts;
mod table;
#[cfg(test)]
mod tests;
mod text;

use std::io::{self, Write};

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};

pub use fonts::PdfFonts;
use table::Table;
use text::{Shaped, Shaper, Style};

const PAGE_WIDTH: f32 = 841.89;
const PAGE_HEIGHT: f32 = 595.28;
const MARGIN: f32 = 40.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

const TITLE_SIZE: f32 = 16.0;
const TITLE_LEADING: f32 = 24.0;
const HEADING_SIZE: f32 = 12.0;
const HEADING_LEADING: f32 = 24.0;
const BODY_SIZE: f32 = 10.0;
const BODY_LEADING: f32 = 14.0;
const TABLE_SIZE: f32 = 9.0;
const ROW_HEIGHT: f32 = 14.0;
const CELL_PADDING: f32 = 3.0;
const FOOTER_SIZE: f32 = 8.0;

/// A drawing operation on the current page; `y` and `baseline` are measured from the page's
/// bottom edge.
enum Op {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        text: Shaped,
    },
    /// A light grey box (the table header's background).
    Shade {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
    /// A thin grey horizontal line.
    Rule { from: f32, to: f32, y: f32 },
}

/// What [`PdfWriter::finish`] hands back.
pub struct Finished<W> {
    pub output: W,
    /// Glyphs drawn as the font's missing glyph: characters that no font had.
    pub missing_glyphs: usize,
}

/// Writes a PDF document element by element, handing each page to krilla as it fills.
pub struct PdfWriter<'f, W: Write> {
    out: W,
    document: Document,
    shaper: Shaper<'f>,
    /// Pages handed to krilla so far.
    pages: usize,
    /// The page being filled; `None` only once `finish` has handed over the last one.
    page: Option<Vec<Op>>,
    /// Distance of the next element's top edge from the page bottom.
    y: f32,
    /// The table whose header is repeated on each new page, until another element ends it.
    table: Option<Table>,
    missing_glyphs: usize,
}

impl<'f, W: Write> PdfWriter<'f, W> {
    /// Starts a document titled `title` (in its metadata, and as a heading on page 1), to be
    /// written to `out` by [`PdfWriter::finish`].
    pub fn new(out: W, fonts: &'f PdfFonts, title: &str) -> io::Result<Self> {
        let mut document = Document::new();
        document.set_metadata(
            Metadata::new()
                .title(text::clean(title))
                .creator("clinicgraph".to_owned()),
        );
        let mut pdf = Self {
            out,
            document,
            shaper: Shaper::new(fonts),
            pages: 0,
            page: None,
            y: 0.0,
            table: None,
            missing_glyphs: 0,
        };
        pdf.open_page();
        pdf.text_block(title, Style::Bold, TITLE_SIZE, TITLE_LEADING, 0.0)?;
        Ok(pdf)
    }

    /// A bold heading; ends the current table. Moves to a new page rather than being left alone
    /// at the bottom of one.
    pub fn heading(&mut self, text: &str) -> io::Result<()> {
        self.table = None;
        self.text_block(
            text,
            Style::Bold,
            HEADING_SIZE,
            HEADING_LEADING,
            2.0 * BODY_LEADING,
        )
    }

    /// A paragraph line, wrapped at spaces to the page width; ends the current table.
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        self.table = None;
        self.text_block(text, Style::Regular, BODY_SIZE, BODY_LEADING, 0.0)
    }

    /// Starts a table with these header names and relative column widths (weights that are
    /// not positive and finite count as 0; if none is left, columns get equal widths). The
    /// header is repeated at the top of every page the table continues on.
    pub fn table(&mut self, columns: &[(&str, f32)]) -> io::Result<()> {
        self.table = Some(Table::new(columns, true));
        // Room for the header and one row, so a header never ends a page.
        if !self.make_room(ROW_HEIGHT * 2.0)? {
            self.draw_table_header();
        }
        Ok(())
    }

    /// One table row. Without a table (or one with no columns) the cells get equal-width
    /// columns and no header.
    pub fn row(&mut self, cells: &[&str]) -> io::Result<()> {
        if self.table.as_ref().is_none_or(|table| !table.has_columns()) {
            let columns = vec![("", 1.0); cells.len().max(1)];
            self.table = Some(Table::new(&columns, false));
        }
        self.make_room(ROW_HEIGHT)?;
        let (Some(ops), Some(table)) = (self.page.as_mut(), self.table.as_ref()) else {
            return Ok(());
        };
        self.missing_glyphs += table.row(&self.shaper, self.y, cells, ops);
        self.y -= ROW_HEIGHT;
        Ok(())
    }

    /// Hands over the last page, assembles the file (fonts subset to the glyphs used), writes
    /// it to the output and flushes.
    pub fn finish(mut self) -> io::Result<Finished<W>> {
        self.flush_page();
        let bytes = self
            .document
            .finish()
            .map_err(|e| io::Error::other(format!("PDF not written: {e}")))?;
        self.out.write_all(&bytes)?;
        self.out.flush()?;
        Ok(Finished {
            output: self.out,
            missing_glyphs: self.missing_glyphs,
        })
    }

    /// Writes `text` wrapped into lines of `leading` height, keeping `keep_with_next` of room
    /// below the first line so it is not stranded at the bottom of a page.
    fn text_block(
        &mut self,
        text: &str,
        style: Style,
        size: f32,
        leading: f32,
        keep_with_next: f32,
    ) -> io::Result<()> {
        let mut first = true;
        let mut lines = Vec::new();
        self.shaper.wrap(text, style, size, CONTENT_WIDTH, |line| {
            lines.push(line);
            Ok::<_, io::Error>(())
        })?;
        for line in lines {
            let room = if first {
                leading + keep_with_next
            } else {
                leading
            };
            first = false;
            self.make_room(room)?;
            // Text sits low in its slot, so the slack above separates it from what precedes.
            let baseline = self.y - leading + size * 0.3;
            self.missing_glyphs += line.missing;
            if let Some(ops) = self.page.as_mut() {
                ops.push(Op::Text {
                    x: MARGIN,
                    baseline,
                    size,
                    text: line,
                });
            }
            self.y -= leading;
        }
        Ok(())
    }

    /// Ensures `height` fits below the cursor, moving to a new page (with the table header
    /// repeated) if not. Returns whether it started a page.
    fn make_room(&mut self, height: f32) -> io::Result<bool> {
        if self.page.is_some() && self.y - height >= MARGIN {
            return Ok(false);
        }
        self.flush_page();
        self.open_page();
        if self.table.is_some() {
            self.draw_table_header();
        }
        Ok(true)
    }

    fn open_page(&mut self) {
        self.page = Some(Vec::with_capacity(512));
        self.y = PAGE_HEIGHT - MARGIN;
    }

    fn draw_table_header(&mut self) {
        let (Some(ops), Some(table)) = (self.page.as_mut(), self.table.as_ref()) else {
            return;
        };
        if !table.has_header() {
            return;
        }
        self.missing_glyphs += table.header(&self.shaper, self.y, ops);
        self.y -= ROW_HEIGHT;
    }

    /// Adds the footer to the current page and hands the page to krilla, which compresses it.
    fn flush_page(&mut self) {
        let Some(mut ops) = self.page.take() else {
            return;
        };
        self.pages += 1;
        let label = self
            .shaper
            .shape(&format!("Page {}", self.pages), Style::Regular, FOOTER_SIZE);
        ops.push(Op::Text {
            x: PAGE_WIDTH - MARGIN - label.width,
            baseline: MARGIN / 2.0,
            size: FOOTER_SIZE,
            text: label,
        });

        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).expect("A4 is a page size");
        let mut page = self.document.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    baseline,
                    size,
                    text,
                } => {
                    surface.set_fill(Some(Fill::default()));
                    surface.set_stroke(None);
                    // krilla's origin is the page's top left corner, y pointing down.
                    let mut at = Point::from_xy(x, PAGE_HEIGHT - baseline);
                    for run in text.runs {
                        surface.draw_glyphs(at, &run.glyphs, run.font, &run.text, size, false);
                        let width: f32 = run.glyphs.iter().map(|g| g.x_advance).sum();
                        at = Point::from_xy(at.x + width * size, at.y);
                    }
                }
                Op::Shade {
                    x,
                    y,
                    width,
                    height,
                } => {
                    let top = PAGE_HEIGHT - y - height;
                    let mut path = PathBuilder::new();
                    if let Some(rect) = Rect::from_xywh(x, top, width, height) {
                        path.push_rect(rect);
                    }
                    if let Some(path) = path.finish() {
                        surface.set_stroke(None);
                        surface.set_fill(Some(Fill {
                            paint: luma::Color::new(224).into(),
                            ..Fill::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
                Op::Rule { from, to, y } => {
                    let mut path = PathBuilder::new();
                    path.move_to(from, PAGE_HEIGHT - y);
                    path.line_to(to, PAGE_HEIGHT - y);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: luma::Color::new(191).into(),
                            width: 0.5,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
}
