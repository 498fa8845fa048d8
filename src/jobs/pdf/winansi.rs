//! Unicode text to WinAnsiEncoding (Windows-1252) bytes, the encoding the standard fonts are
//! used with: NFC normalization first, then one byte per character, with look-alikes mapped,
//! invisible format characters dropped and everything else WinAnsi lacks replaced by '?'.

use unicode_normalization::UnicodeNormalization;

/// "…" in WinAnsiEncoding.
pub(super) const ELLIPSIS: u8 = 0x85;

/// Text as WinAnsiEncoding bytes, in NFC so that composed Latin letters are found.
pub(super) fn encode(text: &str) -> impl Iterator<Item = u8> + '_ {
    text.nfc().filter_map(win_ansi)
}

/// The WinAnsiEncoding byte for `c`, '?' where it has none, `None` for characters best dropped.
fn win_ansi(c: char) -> Option<u8> {
    let byte = match c {
        '\t' | '\n' | '\r' => b' ',
        // Latin-1 is WinAnsi's upper half too.
        ' '..='~' | '\u{a0}'..='\u{ff}' => u8::try_from(u32::from(c)).unwrap_or(b'?'),
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => ELLIPSIS,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8a,
        '‹' => 0x8b,
        'Œ' => 0x8c,
        'Ž' => 0x8e,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9a,
        '›' => 0x9b,
        'œ' => 0x9c,
        'ž' => 0x9e,
        'Ÿ' => 0x9f,
        // Look-alikes WinAnsi lacks.
        '\u{2010}'..='\u{2012}' | '\u{2212}' => b'-',
        '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => b' ',
        // Invisible: zero-width space/joiners, direction marks, word joiner, variation
        // selectors, BOM. As '?' they would turn one emoji into several.
        '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' => {
            return None;
        }
        _ => b'?',
    };
    Some(byte)
}
