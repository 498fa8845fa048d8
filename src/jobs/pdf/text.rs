//! Text to positioned glyphs: cleaned up, split into runs by direction (the Unicode bidi
//! algorithm) and by font (the fallback font where the main one lacks a character), each run
//! shaped by rustybuzz (ligatures, Arabic joining forms, kerning, marks); and measuring, cutting
//! and wrapping text to a width.
//!
//! Right-to-left text: krilla draws glyphs in the order it is given them and does no bidi, so
//! the runs are put in visual order here (`unicode-bidi`, with the paragraph direction taken
//! from the text's first strong character) and each run is shaped in its own direction, which
//! gives its glyphs in visual order too. The text behind each glyph goes along with it, so
//! copying or extracting the text gives the characters in their stored (logical) order.

use std::ops::Range;

use krilla::text::{GlyphId, KrillaGlyph};
use rustybuzz::{Direction, UnicodeBuffer};
use unicode_bidi::ParagraphBidiInfo;
use unicode_normalization::UnicodeNormalization;

use super::fonts::{FontFile, PdfFonts};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Style {
    Regular,
    Bold,
}

/// A font of the document: its shaping face and the file krilla embeds.
struct Face<'f> {
    shaper: rustybuzz::Face<'f>,
    file: &'f FontFile,
    units_per_em: f32,
}

impl<'f> Face<'f> {
    fn new(file: &'f FontFile) -> Self {
        let shaper = rustybuzz::Face::from_slice(file.data.as_ref(), 0)
            .expect("checked when the fonts were loaded");
        let units_per_em = f32::from(shaper.units_per_em().max(1) as u16);
        Self {
            shaper,
            file,
            units_per_em,
        }
    }

    fn has(&self, c: char) -> bool {
        self.shaper.glyph_index(c).is_some()
    }
}

/// One run of glyphs in one font, in visual order; glyph text ranges index into `text`.
pub(super) struct Run {
    pub(super) font: krilla::text::Font,
    pub(super) glyphs: Vec<KrillaGlyph>,
    pub(super) text: String,
}

/// A line of text ready to draw: its runs left to right, its width and the glyphs drawn as
/// the font's missing glyph.
pub(super) struct Shaped {
    pub(super) runs: Vec<Run>,
    pub(super) width: f32,
    pub(super) missing: usize,
}

/// Shapes text in the document's fonts.
pub(super) struct Shaper<'f> {
    regular: Face<'f>,
    bold: Face<'f>,
    fallback: Option<Face<'f>>,
}

impl<'f> Shaper<'f> {
    pub(super) fn new(fonts: &'f PdfFonts) -> Self {
        Self {
            regular: Face::new(&fonts.regular),
            bold: Face::new(&fonts.bold),
            fallback: fonts.fallback.as_ref().map(Face::new),
        }
    }

    fn face(&self, style: Style, fallback: bool) -> &Face<'f> {
        match (fallback, &self.fallback, style) {
            (true, Some(face), _) => face,
            (_, _, Style::Regular) => &self.regular,
            (_, _, Style::Bold) => &self.bold,
        }
    }

    /// `text` (already [`clean`]) as one line of glyphs at `size` points.
    pub(super) fn shape(&self, text: &str, style: Style, size: f32) -> Shaped {
        let mut shaped = Shaped {
            runs: Vec::new(),
            width: 0.0,
            missing: 0,
        };
        if text.is_empty() {
            return shaped;
        }
        let bidi = ParagraphBidiInfo::new(text, None);
        let (levels, runs) = bidi.visual_runs(0..text.len());
        for run in runs {
            let rtl = levels[run.start].is_rtl();
            let mut pieces = self.split_by_font(text, run, style);
            // Pieces are in logical order; right to left, the first one is drawn last.
            if rtl {
                pieces.reverse();
            }
            for (range, fallback) in pieces {
                let face = self.face(style, fallback);
                let run = shape_run(face, &text[range], rtl);
                shaped.width += run.glyphs.iter().map(|g| g.x_advance).sum::<f32>() * size;
                shaped.missing += run
                    .glyphs
                    .iter()
                    .filter(|g| g.glyph_id.to_u32() == 0)
                    .count();
                shaped.runs.push(run);
            }
        }
        shaped
    }

    /// Splits `range` of `text` where the font changes: the main font wherever it has the
    /// character (or no font has it), the fallback where only it has. Marks, joiners, variation
    /// selectors and spaces stay with what precedes them, so a cluster is never split.
    fn split_by_font(
        &self,
        text: &str,
        range: Range<usize>,
        style: Style,
    ) -> Vec<(Range<usize>, bool)> {
        let main = self.face(style, false);
        let Some(fallback) = &self.fallback else {
            return vec![(range, false)];
        };
        let mut pieces: Vec<(Range<usize>, bool)> = Vec::new();
        for (offset, c) in text[range.clone()].char_indices() {
            let at = range.start + offset;
            let end = at + c.len_utf8();
            let use_fallback = match pieces.last() {
                Some(&(_, current)) if follows(c) => current,
                _ => !main.has(c) && fallback.has(c),
            };
            match pieces.last_mut() {
                Some((piece, current)) if *current == use_fallback => piece.end = end,
                _ => pieces.push((at..end, use_fallback)),
            }
        }
        pieces
    }

    /// The advance of each character of `text` (already [`clean`]) at `size`, in logical
    /// order; a cluster's advance is given to its first character.
    fn advances(&self, text: &str, style: Style, size: f32) -> Vec<(usize, f32)> {
        let mut by_byte = vec![0.0_f32; text.len() + 1];
        let bidi = ParagraphBidiInfo::new(text, None);
        let (levels, runs) = bidi.visual_runs(0..text.len());
        for run in runs {
            let rtl = levels[run.start].is_rtl();
            for (range, fallback) in self.split_by_font(text, run, style) {
                let face = self.face(style, fallback);
                for glyph in shape_run(face, &text[range.clone()], rtl).glyphs {
                    by_byte[range.start + glyph.text_range.start] += glyph.x_advance * size;
                }
            }
        }
        text.char_indices()
            .map(|(at, _)| (at, by_byte[at]))
            .collect()
    }

    /// `text` cut to at most `max` points wide, ending in "…" if it was cut (nothing if not
    /// even "…" fits).
    pub(super) fn fit(&self, text: &str, style: Style, size: f32, max: f32) -> Shaped {
        let mut text = clean(text);
        // A column holds a few dozen characters: a long text is measured by a head that
        // surely overflows it, not shaped whole.
        let head = (max.max(0.0) / size.max(1.0)) as usize * 4 + 16;
        if let Some((end, _)) = text.char_indices().nth(head)
            && self.shape(&text[..end], style, size).width > max
        {
            text.truncate(end);
        }
        let whole = self.shape(&text, style, size);
        if whole.width <= max {
            return whole;
        }
        let ellipsis = self.shape(ELLIPSIS, style, size).width;
        let advances = self.advances(&text, style, size);
        let mut width = 0.0;
        let mut keep = 0;
        for &(at, advance) in &advances {
            if width + advance + ellipsis > max {
                break;
            }
            width += advance;
            keep = at + text[at..].chars().next().map_or(0, char::len_utf8);
        }
        // Shaping the cut text can come out a little wider (joining, kerning): cut further.
        loop {
            let cut = text[..keep].trim_end();
            if cut.is_empty() && ellipsis > max {
                return self.shape("", style, size);
            }
            let shaped = self.shape(&format!("{cut}{ELLIPSIS}"), style, size);
            if shaped.width <= max || cut.is_empty() {
                return shaped;
            }
            keep = cut.char_indices().last().map_or(0, |(at, _)| at);
        }
    }

    /// Breaks `text` into lines at most `max` points wide, at spaces where possible (a word
    /// longer than a line is split), and hands each to `emit` shaped, as soon as it is
    /// complete. An empty text gives one empty line.
    pub(super) fn wrap<E>(
        &self,
        text: &str,
        style: Style,
        size: f32,
        max: f32,
        mut emit: impl FnMut(Shaped) -> Result<(), E>,
    ) -> Result<(), E> {
        let text = clean(text);
        let whole = self.shape(&text, style, size);
        if whole.width <= max {
            return emit(whole);
        }
        let advances = self.advances(&text, style, size);
        let count = advances.len();
        let byte = |i: usize| advances.get(i).map_or(text.len(), |&(at, _)| at);
        let line =
            |from: usize, to: usize| self.shape(text[byte(from)..byte(to)].trim_end(), style, size);
        // Indices into `advances`: where the current line starts, and its last space.
        let mut start = 0;
        let mut last_space = None;
        let mut width = 0.0;
        let mut i = 0;
        while i < count {
            let (at, advance) = advances[i];
            let is_space = text[at..].starts_with(' ');
            if width + advance > max && i > start {
                if is_space {
                    // The break itself: the space would only trail the line.
                    emit(line(start, i))?;
                    start = i + 1;
                    i += 1;
                    width = 0.0;
                    last_space = None;
                    continue;
                }
                match last_space.take() {
                    Some(space) => {
                        emit(line(start, space))?;
                        start = space + 1;
                    }
                    None => {
                        emit(line(start, i))?;
                        start = i;
                    }
                }
                // What moved down may still be too wide for this character (a word as wide
                // as the line): checked again before going on.
                width = advances[start..i].iter().map(|&(_, w)| w).sum();
                continue;
            }
            if is_space {
                last_space = Some(i);
            }
            width += advance;
            i += 1;
        }
        emit(line(start, count))
    }
}

const ELLIPSIS: &str = "…";

/// Characters drawn with whatever font draws the character before them.
fn follows(c: char) -> bool {
    c == ' '
        || matches!(c, '\u{300}'..='\u{36f}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{e0100}'..='\u{e01ef}')
        || unicode_normalization::char::is_combining_mark(c)
}

/// Text as it is drawn: NFC (so decomposed accents find their precomposed glyphs), line and
/// paragraph breaks and tabs as spaces, other control characters left out (they draw nothing).
pub(super) fn clean(text: &str) -> String {
    text.nfc()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Shapes `text` in one font and direction, with the script guessed from the text.
fn shape_run(face: &Face<'_>, text: &str, rtl: bool) -> Run {
    let mut buffer = UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.guess_segment_properties();
    buffer.set_direction(if rtl {
        Direction::RightToLeft
    } else {
        Direction::LeftToRight
    });
    let output = rustybuzz::shape(&face.shaper, &[], buffer);
    let infos = output.glyph_infos();
    // A glyph's text runs from its cluster to the next cluster in the text.
    let mut starts: Vec<usize> = infos.iter().map(|info| info.cluster as usize).collect();
    starts.sort_unstable();
    starts.dedup();
    let end_of = |start: usize| {
        let next = starts.partition_point(|&s| s <= start);
        starts.get(next).copied().unwrap_or(text.len())
    };
    let em = face.units_per_em;
    let glyphs = infos
        .iter()
        .zip(output.glyph_positions())
        .map(|(info, position)| {
            let start = info.cluster as usize;
            KrillaGlyph::new(
                GlyphId::new(info.glyph_id),
                position.x_advance as f32 / em,
                position.x_offset as f32 / em,
                position.y_offset as f32 / em,
                position.y_advance as f32 / em,
                start..end_of(start),
                None,
            )
        })
        .collect();
    Run {
        font: face.file.font.clone(),
        glyphs,
        text: text.to_owned(),
    }
}
