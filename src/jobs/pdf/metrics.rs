//! How wide text is in the two standard fonts, and cutting or wrapping it to a width.

use std::io;

use super::winansi::{ELLIPSIS, encode};

#[derive(Clone, Copy)]
pub(super) enum Font {
    Regular,
    Bold,
}

impl Font {
    /// Advance width of a WinAnsi byte, in thousandths of the font size.
    fn glyph_width(self, byte: u8) -> f32 {
        let widths = match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        };
        f32::from(widths[usize::from(byte.saturating_sub(32))])
    }

    pub(super) fn width(self, text: &[u8], size: f32) -> f32 {
        text.iter().map(|&b| self.glyph_width(b)).sum::<f32>() * size / 1000.0
    }
}

/// `text` cut to `max` points wide, ending in "…" if it was cut.
pub(super) fn fit(text: &str, font: Font, size: f32, max: f32) -> Vec<u8> {
    let ellipsis = font.width(&[ELLIPSIS], size);
    let mut out = Vec::new();
    let mut width = 0.0;
    // Longest prefix that still leaves room for the ellipsis.
    let mut keep = 0;
    for byte in encode(text) {
        width += font.glyph_width(byte) * size / 1000.0;
        if width > max {
            out.truncate(keep);
            while out.last() == Some(&b' ') {
                out.pop();
            }
            if ellipsis <= max {
                out.push(ELLIPSIS);
            }
            return out;
        }
        out.push(byte);
        if width + ellipsis <= max {
            keep = out.len();
        }
    }
    out
}

/// Breaks `text` into lines at most `max` points wide, at spaces where possible, and hands
/// each to `emit` as soon as it is complete (an empty text gives one empty line).
pub(super) fn wrap(
    text: &str,
    font: Font,
    size: f32,
    max: f32,
    mut emit: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut line = Vec::new();
    let mut width = 0.0;
    let mut last_space = None;
    for byte in encode(text) {
        let advance = font.glyph_width(byte) * size / 1000.0;
        if width + advance > max && !line.is_empty() {
            if byte == b' ' {
                // The break itself: the space would only trail the line.
                emit(&line)?;
                line.clear();
                width = 0.0;
                last_space = None;
                continue;
            }
            match last_space.take() {
                Some(space) => {
                    let rest = line.split_off(space + 1);
                    line.pop();
                    emit(&line)?;
                    line = rest;
                    width = font.width(&line, size);
                }
                None => {
                    emit(&line)?;
                    line.clear();
                    width = 0.0;
                }
            }
            // What moved down may still be too long for the glyph to follow: a word as wide
            // as the line. Split it there.
            if width + advance > max && !line.is_empty() {
                emit(&line)?;
                line.clear();
                width = 0.0;
            }
        }
        if byte == b' ' {
            last_space = Some(line.len());
        }
        line.push(byte);
        width += advance;
    }
    emit(&line)
}

/// Advance widths of WinAnsi codes 32..=255, in thousandths of the font size, from Adobe's
/// Core 14 font metrics (the AFM files Helvetica.afm and Helvetica-Bold.afm): each code's
/// Windows-1252 character, looked up by glyph name, with 0xA0 (no-break space) and 0xAD (soft
/// hyphen) taking the widths of "space" and "hyphen". 0 for the codes WinAnsi leaves undefined
/// (0x7F, 0x81, 0x8D, 0x8F, 0x90, 0x9D), which `encode` never produces.
#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// The same for Helvetica-Bold.
#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];
