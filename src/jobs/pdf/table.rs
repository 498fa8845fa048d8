//! Tables: column widths and positions across the page, and the header and rows as drawing
//! operations.

use super::text::{Shaped, Shaper, Style};
use super::{CELL_PADDING, CONTENT_WIDTH, MARGIN, Op, PAGE_WIDTH, ROW_HEIGHT, TABLE_SIZE};

pub(super) struct Table {
    columns: Vec<Column>,
    header: bool,
}

struct Column {
    name: String,
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
                let column = Column {
                    name: name.to_owned(),
                    x,
                    width,
                };
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

    /// The header row, `ROW_HEIGHT` tall, below `top`.
    pub(super) fn header(&self, shaper: &Shaper<'_>, top: f32, ops: &mut Vec<Op>) -> usize {
        let bottom = top - ROW_HEIGHT;
        ops.push(Op::Shade {
            x: MARGIN,
            y: bottom,
            width: CONTENT_WIDTH,
            height: ROW_HEIGHT,
        });
        let names = self.columns.iter().map(|column| column.name.as_str());
        self.cells(shaper, names, Style::Bold, bottom + 4.0, ops)
    }

    /// One row of `cells`, each cut to its column, `ROW_HEIGHT` tall below `top`, and the rule
    /// under it. Cells past the last column are ignored. Returns the glyphs drawn missing.
    pub(super) fn row(
        &self,
        shaper: &Shaper<'_>,
        top: f32,
        cells: &[&str],
        ops: &mut Vec<Op>,
    ) -> usize {
        let bottom = top - ROW_HEIGHT;
        let missing = self.cells(
            shaper,
            cells.iter().copied(),
            Style::Regular,
            bottom + 4.0,
            ops,
        );
        ops.push(Op::Rule {
            from: MARGIN,
            to: PAGE_WIDTH - MARGIN,
            y: bottom,
        });
        missing
    }

    fn cells<'a>(
        &self,
        shaper: &Shaper<'_>,
        cells: impl Iterator<Item = &'a str>,
        style: Style,
        baseline: f32,
        ops: &mut Vec<Op>,
    ) -> usize {
        let mut missing = 0;
        for (column, cell) in self.columns.iter().zip(cells) {
            let text: Shaped =
                shaper.fit(cell, style, TABLE_SIZE, column.width - 2.0 * CELL_PADDING);
            missing += text.missing;
            ops.push(Op::Text {
                x: column.x + CELL_PADDING,
                baseline,
                size: TABLE_SIZE,
                text,
            });
        }
        missing
    }
}
