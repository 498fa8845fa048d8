//! Streaming PDF export made of headings, text lines and tables, on A4 landscape pages.
//!
//! # How it streams, and the glue around `pdf-writer`
//!
//! `pdf_writer::Pdf` builds the whole file in one `Vec<u8>` and keeps the byte offsets the
//! cross-reference section needs private until `Pdf::finish`, so using it directly would hold
//! every page of a 10,000-row export in memory. A `pdf_writer::Chunk`, though, serializes
//! indirect objects on its own. So each object is written into a fresh chunk that holds only
//! that object, and the chunk's bytes go to the output at once: the object then starts exactly
//! at the count of bytes written before it, and that count is all the cross-reference section
//! needs. The file header, every object and the trailer dictionary (carried by the
//! cross-reference *stream*, PDF 1.5) come from `pdf-writer`; the only bytes written by hand are
//! the binary rows of that stream and the closing `startxref` / `%%EOF`.
//!
//! A page goes out (its content stream, deflated, then its page object) as soon as the next
//! element no longer fits on it. Objects that must know every page, the page tree and the page
//! total, are written by [`PdfWriter::finish`]; pages point to them by object numbers reserved
//! up front, which PDF allows.
//!
//! Memory: one page's content stream (some 10–20 KB for a full page of table rows) plus its
//! deflated copy while it is written out, and 20 bytes per finished page (its object number and
//! two offsets), about 6 KB for 10,000 rows. Output goes out through a handful of `write_all`
//! calls per page and is flushed only by `finish`; wrap a file in a `BufWriter`.
//!
//! # Text
//!
//! The standard Type 1 fonts Helvetica and Helvetica-Bold with WinAnsiEncoding (Windows-1252);
//! no font is embedded. Input is normalized to NFC first, so decomposed accents ("e" + U+0301)
//! still come out as "é". Each character WinAnsi lacks (CJK, emoji, Greek, ...) becomes one '?';
//! invisible format characters (zero-width joiners, variation selectors, BOM) are dropped, tabs
//! and line breaks become spaces and other control characters become '?'. Widths come from the
//! fonts' standard metrics, so truncation and wrapping fit what a viewer draws.
//!
//! Paragraph lines and headings wrap at spaces (words longer than a line are split); table cells
//! are cut to their column and end in "…". Cells past the last column are ignored, missing ones
//! are left blank. The footer reads "Page n of m": m is unknown while pages stream out, so every
//! page draws one shared form XObject whose content, the total, is written by `finish` (text
//! extractors that skip form XObjects see "Page n of").
//!
//! If any call returns an error, the output is incomplete; drop the writer. Dropping it without
//! `finish` likewise leaves a truncated file.

mod metrics;
mod table;
#[cfg(test)]
mod tests;
mod winansi;
mod xref;

use std::io::{self, Write};

use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::writers::{Catalog, DocumentInfo};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use metrics::{Font, wrap};
use table::Table;
use xref::{Output, new_chunk, settings, too_large};

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
/// Room left right of "Page n of " for the total, drawn later: six digits at `FOOTER_SIZE`.
const TOTAL_ROOM: f32 = 30.0;

const CATALOG_ID: Ref = Ref::new(1);
const PAGE_TREE_ID: Ref = Ref::new(2);
const INFO_ID: Ref = Ref::new(3);
const REGULAR_ID: Ref = Ref::new(4);
const BOLD_ID: Ref = Ref::new(5);
const PAGE_TOTAL_ID: Ref = Ref::new(6);
/// Object numbers below this one are the fixed ones above (0 is never used).
const FIRST_FREE_ID: usize = 7;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");
const PAGE_TOTAL: Name<'static> = Name(b"Total");

/// Writes a PDF document element by element to `W`, one finished page at a time.
pub struct PdfWriter<W: Write> {
    /// The output, with the offset of every object written to it so far.
    out: Output<W>,
    pages: Vec<Ref>,
    /// The page being filled; `None` only once `finish` has written the last one.
    page: Option<Content>,
    /// Distance of the next element's top edge from the page bottom.
    y: f32,
    /// The table whose header is repeated on each new page, until another element ends it.
    table: Option<Table>,
}

impl<W: Write> PdfWriter<W> {
    /// Starts a document: writes the header, fonts, catalog and document info (with `title`)
    /// and puts `title` as a heading on page 1.
    pub fn new(out: W, title: &str) -> io::Result<Self> {
        let mut pdf = Self {
            out: Output::new(out, FIRST_FREE_ID),
            pages: Vec::new(),
            page: None,
            y: 0.0,
            table: None,
        };
        // Only the header: an empty `Pdf` holds nothing else until it is finished.
        pdf.out.write_raw(Pdf::new().as_bytes())?;

        for (id, base) in [(REGULAR_ID, "Helvetica"), (BOLD_ID, "Helvetica-Bold")] {
            let mut chunk = new_chunk();
            chunk
                .type1_font(id)
                .base_font(Name(base.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
            pdf.out.emit(id, &chunk)?;
        }
        let mut chunk = new_chunk();
        chunk
            .indirect(CATALOG_ID)
            .start::<Catalog>()
            .pages(PAGE_TREE_ID);
        pdf.out.emit(CATALOG_ID, &chunk)?;
        let mut chunk = new_chunk();
        // A text string, so the metadata keeps the full Unicode title even where the page can't.
        chunk
            .indirect(INFO_ID)
            .start::<DocumentInfo>()
            .title(TextStr(title));
        pdf.out.emit(INFO_ID, &chunk)?;

        pdf.open_page();
        pdf.text_block(title, Font::Bold, TITLE_SIZE, TITLE_LEADING, 0.0)?;
        Ok(pdf)
    }

    /// A bold heading; ends the current table. Moves to a new page rather than being left alone
    /// at the bottom of one.
    pub fn heading(&mut self, text: &str) -> io::Result<()> {
        self.table = None;
        self.text_block(
            text,
            Font::Bold,
            HEADING_SIZE,
            HEADING_LEADING,
            2.0 * BODY_LEADING,
        )
    }

    /// A paragraph line, wrapped at spaces to the page width; ends the current table.
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        self.table = None;
        self.text_block(text, Font::Regular, BODY_SIZE, BODY_LEADING, 0.0)
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
        let (Some(content), Some(table)) = (self.page.as_mut(), self.table.as_ref()) else {
            return Ok(());
        };
        table.draw_row(content, self.y, cells);
        self.y -= ROW_HEIGHT;
        Ok(())
    }

    /// Writes the last page, the page tree, the page total and the cross-reference stream,
    /// flushes, and hands back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_page()?;
        let count = i32::try_from(self.pages.len()).map_err(|_| too_large())?;

        let mut total = Content::new();
        show(
            &mut total,
            Font::Regular,
            FOOTER_SIZE,
            0.0,
            0.0,
            count.to_string().as_bytes(),
        );
        let total = total.finish();
        let mut chunk = new_chunk();
        let mut form = chunk.form_xobject(PAGE_TOTAL_ID, &total);
        // Below the baseline too, for descenders; wide enough for any count.
        form.bbox(Rect::new(0.0, -FOOTER_SIZE, 100.0, FOOTER_SIZE * 2.0));
        form.resources().fonts().pair(REGULAR, REGULAR_ID);
        form.finish();
        self.out.emit(PAGE_TOTAL_ID, &chunk)?;

        let mut chunk = new_chunk();
        chunk
            .pages(PAGE_TREE_ID)
            .kids(self.pages.iter().copied())
            .count(count);
        self.out.emit(PAGE_TREE_ID, &chunk)?;

        self.out.finish(CATALOG_ID, INFO_ID)
    }

    /// Writes `text` wrapped into lines of `leading` height, keeping `keep_with_next` of room
    /// below the first line so it is not stranded at the bottom of a page.
    fn text_block(
        &mut self,
        text: &str,
        font: Font,
        size: f32,
        leading: f32,
        keep_with_next: f32,
    ) -> io::Result<()> {
        let mut first = true;
        wrap(text, font, size, CONTENT_WIDTH, |line| {
            let room = if first {
                leading + keep_with_next
            } else {
                leading
            };
            first = false;
            self.make_room(room)?;
            // Text sits low in its slot, so the slack above separates it from what precedes.
            let baseline = self.y - leading + size * 0.3;
            if let Some(content) = self.page.as_mut() {
                show(content, font, size, MARGIN, baseline, line);
            }
            self.y -= leading;
            Ok(())
        })
    }

    /// Ensures `height` fits below the cursor, moving to a new page (with the table header
    /// repeated) if not. Returns whether it started a page.
    fn make_room(&mut self, height: f32) -> io::Result<bool> {
        if self.page.is_some() && self.y - height >= MARGIN {
            return Ok(false);
        }
        self.flush_page()?;
        self.open_page();
        if self.table.is_some() {
            self.draw_table_header();
        }
        Ok(true)
    }

    fn open_page(&mut self) {
        let mut content = Content::with_settings_and_capacity(settings(), 16 * 1024);
        content.set_line_width(0.5).set_stroke_gray(0.75);
        self.page = Some(content);
        self.y = PAGE_HEIGHT - MARGIN;
    }

    fn draw_table_header(&mut self) {
        let (Some(content), Some(table)) = (self.page.as_mut(), self.table.as_ref()) else {
            return;
        };
        if !table.has_header() {
            return;
        }
        table.draw_header(content, self.y);
        self.y -= ROW_HEIGHT;
    }

    /// Adds the footer to the current page and writes the page out.
    fn flush_page(&mut self) -> io::Result<()> {
        let Some(mut content) = self.page.take() else {
            return Ok(());
        };
        let label = format!("Page {} of ", self.pages.len() + 1);
        let label_end = PAGE_WIDTH - MARGIN - TOTAL_ROOM;
        let x = label_end - Font::Regular.width(label.as_bytes(), FOOTER_SIZE);
        let y = MARGIN / 2.0;
        show(
            &mut content,
            Font::Regular,
            FOOTER_SIZE,
            x,
            y,
            label.as_bytes(),
        );
        content
            .save_state()
            .transform([1.0, 0.0, 0.0, 1.0, label_end, y])
            .x_object(PAGE_TOTAL)
            .restore_state();
        // Deflate is worth it: table rows repeat the same operators, so pages shrink ~9x.
        let data = compress_to_vec_zlib(&content.finish(), 6);

        let content_id = self.out.alloc()?;
        let page_id = self.out.alloc()?;
        let mut chunk = new_chunk();
        chunk.stream(content_id, &data).filter(Filter::FlateDecode);
        self.out.emit(content_id, &chunk)?;

        let mut chunk = new_chunk();
        let mut page = chunk.page(page_id);
        page.parent(PAGE_TREE_ID)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_id);
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(REGULAR, REGULAR_ID)
            .pair(BOLD, BOLD_ID);
        resources.x_objects().pair(PAGE_TOTAL, PAGE_TOTAL_ID);
        resources.finish();
        page.finish();
        self.out.emit(page_id, &chunk)?;
        self.pages.push(page_id);
        Ok(())
    }
}

impl Font {
    /// The font's resource name on the pages.
    fn name(self) -> Name<'static> {
        match self {
            Font::Regular => REGULAR,
            Font::Bold => BOLD,
        }
    }
}

fn show(content: &mut Content, font: Font, size: f32, x: f32, y: f32, text: &[u8]) {
    if text.is_empty() {
        return;
    }
    // One text object per string: extractors end a line at `ET`, so cells stay apart.
    content
        .begin_text()
        .set_font(font.name(), size)
        .next_line(x, y)
        .show(Str(text))
        .end_text();
}
