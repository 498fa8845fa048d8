//! Tables: column widths and positions across the page, and drawing the header and rows.

use pdf_writer::Content;

use super::metrics::{Font, fit};
use super::{CELL_PADDING, CONTENT_WIDTH, MARGIN, PAGE_WIDTH, ROW_HEIGHT, TABLE_SIZE, show};

pub(super) struct Table {
    columns: Vec<Column>,
    header: bool,
}

struct Column {
    /// The header text, already encoded and cut to the column.
    name: Vec<u8>,
    x: f32,
    width: f32,
}

impl Table {
    /// Lays out `columns` (header names and relative widths) across the page; `header` says
    /// whether the names are drawn.
    pub(super) fn new(columns: &[(&str, f32)], header: bool) -> Self {
        // Capped so that even a sum of many weights stays finite.
        let weight = |w: f32| {
            if w.is_finite() && w > 0.0 {
                w.min(1e6)
            } else {
                0.0
            }
        };
        let mut total: f32 = columns.iter().map(|&(_, w)| weight(w)).sum();
        let equal = total <= 0.0;
        if equal {
            total = columns.len().max(1) as f32;
        }
        let mut x = MARGIN;
        let columns = columns
            .iter()
            .map(|&(name, w)| {
                let width = CONTENT_WIDTH * if equal { 1.0 } else { weight(w) } / total;
                let name = fit(name, Font::Bold, TABLE_SIZE, width - 2.0 * CELL_PADDING);
                let column = Column { name, x, width };
                x += width;
                column
            })
            .collect();
        Self { columns, header }
    }

    pub(super) fn has_columns(&self) -> bool {
        !self.columns.is_empty()
    }

    pub(super) fn has_header(&self) -> bool {
        self.header
    }

    /// Draws the header row, `ROW_HEIGHT` tall, below `top`.
    pub(super) fn draw_header(&self, content: &mut Content, top: f32) {
        let bottom = top - ROW_HEIGHT;
        content
            .save_state()
            .set_fill_gray(0.88)
            .rect(MARGIN, bottom, CONTENT_WIDTH, ROW_HEIGHT)
            .fill_nonzero()
            .restore_state();
        for column in &self.columns {
            show(
                content,
                Font::Bold,
                TABLE_SIZE,
                column.x + CELL_PADDING,
                bottom + 4.0,
                &column.name,
            );
        }
    }

    /// Draws one row of `cells`, each cut to its column, `ROW_HEIGHT` tall below `top`, and
    /// the rule under it. Cells past the last column are ignored.
    pub(super) fn draw_row(&self, content: &mut Content, top: f32, cells: &[&str]) {
        let baseline = top - ROW_HEIGHT + 4.0;
        for (column, cell) in self.columns.iter().zip(cells) {
            let text = fit(
                cell,
                Font::Regular,
                TABLE_SIZE,
                column.width - 2.0 * CELL_PADDING,
            );
            show(
                content,
                Font::Regular,
                TABLE_SIZE,
                column.x + CELL_PADDING,
                baseline,
                &text,
            );
        }
        let bottom = top - ROW_HEIGHT;
        content
            .move_to(MARGIN, bottom)
            .line_to(PAGE_WIDTH - MARGIN, bottom)
            .stroke();
    }
}
