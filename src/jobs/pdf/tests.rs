//! Round trips through lopdf (text in any of the fonts' scripts comes back as stored), the
//! missing-glyph count, the fallback font, hostile text and the one-page-at-a-time bound.

use super::text::{Shaper, Style, clean};
use super::*;

const NAMES: [&str; 6] = [
    "Zoë Adams",
    "Ελένη Παπαδοπούλου",
    "Иван Петров",
    "محمد",
    "דוד לוי",
    "O'Brien (jr) \\ C:",
];

fn fonts() -> PdfFonts {
    PdfFonts::builtin()
}

fn tagalog() -> PdfFonts {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fonts/NotoSansTagalog-Regular.ttf"
    );
    PdfFonts::with_fallback(std::path::Path::new(path)).expect("the test font")
}

/// Loads without lenient repair and returns the document with each page's extracted lines.
fn read(bytes: &[u8]) -> (lopdf::Document, Vec<Vec<String>>) {
    let options = lopdf::LoadOptions {
        strict: true,
        ..Default::default()
    };
    let doc = lopdf::Document::load_mem_with_options(bytes, options).expect("valid PDF");
    assert!(
        doc.xref_recovery.is_none(),
        "cross-reference data needed repair"
    );
    let pages = doc
        .get_pages()
        .keys()
        .map(|&n| {
            let text = doc.extract_text(&[n]).expect("text");
            // lopdf may add a space where a glyph's placement differs from the font's own
            // advance (kerning): runs of spaces count as one.
            text.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        })
        .collect();
    (doc, pages)
}

fn row_cells(i: usize) -> [String; 3] {
    [
        NAMES[i % NAMES.len()].to_owned(),
        format!("{}", i * 7),
        "Málaga – ß".into(),
    ]
}

/// `text` as its glyphs stand on the page, left to right: right-to-left runs reversed. PDF
/// readers put them back in reading order; lopdf's extraction does not.
fn visual(text: &str) -> String {
    let bidi = unicode_bidi::BidiInfo::new(text, None);
    let paragraph = &bidi.paragraphs[0];
    bidi.reorder_line(paragraph, paragraph.range.clone())
        .into_owned()
}

#[test]
fn round_trips_every_script_in_title_headings_and_1200_rows_in_order() {
    let fonts = fonts();
    let mut pdf = PdfWriter::new(Vec::new(), &fonts, "Patients — Überblick Ελληνικά").unwrap();
    pdf.heading("Résumé of the ward").unwrap();
    pdf.line("Printed with ‘curly’ quotes, “double” ones, € and ‰.")
        .unwrap();
    pdf.table(&[("Name", 3.0), ("Visits", 1.0), ("City", 2.0)])
        .unwrap();
    for i in 0..1200 {
        let cells = row_cells(i);
        pdf.row(&[&cells[0], &cells[1], &cells[2]]).unwrap();
    }
    pdf.heading("After the table").unwrap();
    let finished = pdf.finish().unwrap();
    assert_eq!(finished.missing_glyphs, 0);
    let (doc, pages) = read(&finished.output);

    let info = doc
        .trailer
        .get(b"Info")
        .and_then(lopdf::Object::as_reference)
        .unwrap();
    let title = doc.get_dictionary(info).unwrap().get(b"Title").unwrap();
    assert_eq!(
        lopdf::decode_text_string(title).unwrap(),
        "Patients — Überblick Ελληνικά"
    );
    assert!(pages.len() > 1, "{} pages", pages.len());
    let first = &pages[0];
    assert_eq!(first[0], "Patients — Überblick Ελληνικά");
    assert_eq!(first[1], "Résumé of the ward");
    assert_eq!(
        first[2],
        "Printed with ‘curly’ quotes, “double” ones, € and ‰."
    );
    for (n, page) in pages.iter().enumerate() {
        assert_eq!(page.last().unwrap(), &format!("Page {}", n + 1), "footer");
    }
    // The header opens the table and every page it continues on.
    for page in &pages[1..] {
        assert_eq!(page[..3], ["Name", "Visits", "City"]);
    }
    let lines: Vec<&String> = pages.iter().flatten().collect();
    let mut at = 0;
    for cell in (0..1200).flat_map(row_cells).map(|cell| visual(&cell)) {
        let found = lines[at..].iter().position(|l| **l == cell);
        at += found.unwrap_or_else(|| panic!("{cell:?} missing or out of order")) + 1;
    }
    assert_eq!(lines.iter().filter(|l| l.contains("Málaga")).count(), 1200);
    assert!(lines.iter().any(|l| *l == "After the table"));
}

#[test]
fn right_to_left_runs_are_shaped_and_drawn_in_visual_order() {
    let fonts = fonts();
    let shaper = Shaper::new(&fonts);
    // Arabic letters take their joined forms: not the isolated glyphs one by one.
    let joined = shaper.shape("محمد", Style::Regular, 10.0);
    let isolated: Vec<u32> = "محمد"
        .chars()
        .map(|c| {
            shaper.shape(&c.to_string(), Style::Regular, 10.0).runs[0].glyphs[0]
                .glyph_id
                .to_u32()
        })
        .collect();
    let drawn: Vec<u32> = joined.runs[0]
        .glyphs
        .iter()
        .map(|g| g.glyph_id.to_u32())
        .collect();
    assert_eq!(drawn.len(), 4);
    assert_ne!(drawn, isolated.iter().rev().copied().collect::<Vec<_>>());
    // Drawn right to left: the first glyph on the left is the last letter (dal).
    assert_eq!(
        &joined.runs[0].text[joined.runs[0].glyphs[0].text_range.clone()],
        "د"
    );

    // A Latin number inside Hebrew stays left to right, the Hebrew words around it swap.
    let mixed = shaper.shape("דוד 42 לוי", Style::Regular, 10.0);
    let runs: Vec<&str> = mixed.runs.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(runs, [" לוי", "42", "דוד "]);
    let drawn: String = mixed
        .runs
        .iter()
        .flat_map(|run| run.glyphs.iter().map(|g| &run.text[g.text_range.clone()]))
        .collect();
    assert_eq!(drawn, "יול 42 דוד");
}

#[test]
fn characters_no_font_has_are_missing_glyphs_counted_and_a_fallback_font_draws_them() {
    let fonts = fonts();
    let mut pdf = PdfWriter::new(Vec::new(), &fonts, "漢字").unwrap();
    pdf.row(&["ᜀᜊ", "Zoë"]).unwrap();
    let finished = pdf.finish().unwrap();
    assert_eq!(finished.missing_glyphs, 4);
    // Drawn as the missing glyph, never as '?'.
    let (_, pages) = read(&finished.output);
    assert!(!pages[0].iter().any(|l| l.contains('?')), "{pages:?}");
    assert_eq!(
        pages[0][..4],
        ["\u{fffd}\u{fffd}", "\u{fffd}\u{fffd}", "Zoë", "Page 1"]
    );

    let fonts = tagalog();
    let shaper = Shaper::new(&fonts);
    let shaped = shaper.shape("Ana ᜀᜊ", Style::Bold, 10.0);
    assert_eq!(shaped.missing, 0);
    assert_eq!(shaped.runs.len(), 2, "DejaVu Sans Bold, then the fallback");
    let mut pdf = PdfWriter::new(Vec::new(), &fonts, "Tagalog").unwrap();
    pdf.row(&["ᜀᜊ", "Ana ᜀᜊ"]).unwrap();
    let finished = pdf.finish().unwrap();
    assert_eq!(finished.missing_glyphs, 0);
    let (_, pages) = read(&finished.output);
    // One text object per font: the fallback's glyphs follow DejaVu Sans's on their own line.
    assert_eq!(pages[0][1..5], ["ᜀᜊ", "Ana", "ᜀᜊ", "Page 1"]);
}

#[test]
fn hostile_text_never_panics() {
    let fonts = fonts();
    let huge = "x".repeat(200_000);
    let mut pdf = PdfWriter::new(Vec::new(), &fonts, "").unwrap();
    pdf.heading("").unwrap();
    pdf.line("").unwrap();
    pdf.line(&huge).unwrap();
    pdf.row(&["cells before any table"]).unwrap();
    pdf.table(&[]).unwrap();
    pdf.table(&[("😀", f32::NAN), ("漢字", -1.0), ("", f32::INFINITY)])
        .unwrap();
    pdf.row(&["😀", "محمد\u{200f}", "a\u{0}b\tc\u{7f}"])
        .unwrap();
    pdf.row(&[]).unwrap();
    pdf.row(&["e\u{301}", "👍🏽", "❤\u{fe0f}", "extra cell", "and another"])
        .unwrap();
    pdf.row(&[&huge, &huge, &huge]).unwrap();
    pdf.table(&[("Tiny", 0.0001), ("Huge", f32::MAX), ("Max", f32::MAX)])
        .unwrap();
    pdf.row(&["does not fit", "b", "c"]).unwrap();
    pdf.line("(unbalanced ( paren \\ and ) ) ) end").unwrap();
    let (_, pages) = read(&pdf.finish().unwrap().output);
    let lines: Vec<&String> = pages.iter().flatten().collect();
    assert!(lines.len() > 100);
    let wrapped = lines.iter().filter(|l| l.starts_with("xxx")).count();
    assert!(wrapped > 100, "the long line wraps onto {wrapped} lines");
    for expected in ["ab c", "é", "دمحم", "(unbalanced ( paren \\ and ) ) ) end"] {
        assert!(
            lines.iter().any(|l| *l == expected),
            "{expected:?} in {lines:?}"
        );
    }
    assert!(!lines.iter().any(|l| l.contains("extra")));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("xxx") && l.ends_with('…'))
    );
}

#[test]
fn cut_cells_and_wrapped_lines_fit_their_width() {
    let fonts = fonts();
    let shaper = Shaper::new(&fonts);
    for text in [
        "A fairly long cell value that cannot fit",
        "Ελένη Παπαδοπούλου-Καραγιάννη",
        "عبد الرحمن بن محمد الفلاني",
    ] {
        let cut = shaper.fit(text, Style::Regular, 9.0, 60.0);
        assert!(cut.width <= 60.0, "{text}: {}", cut.width);
        assert!(cut.runs.iter().any(|r| r.text.contains('…')), "{text}");
        let mut lines = Vec::new();
        shaper
            .wrap(text, Style::Bold, 12.0, 80.0, |line| {
                lines.push(line);
                Ok::<_, ()>(())
            })
            .unwrap();
        assert!(lines.len() > 1, "{text}");
        assert!(lines.iter().all(|l| l.width <= 80.0), "{text}");
    }
    assert_eq!(
        shaper.fit("short", Style::Regular, 9.0, 60.0).runs[0].text,
        "short"
    );
    assert!(
        shaper
            .fit("too long for a point", Style::Regular, 9.0, 1.0)
            .runs
            .is_empty()
    );
    assert_eq!(clean("Zoe\u{308}\r\n\u{1}x"), "Zoë  x");
}

#[test]
fn can_move_to_a_blocking_task() {
    fn assert_send<T: Send>() {}
    assert_send::<PdfFonts>();
}

#[test]
fn holds_one_page_of_drawing_at_a_time() {
    let fonts = fonts();
    let mut pdf = PdfWriter::new(Vec::new(), &fonts, "Streaming").unwrap();
    pdf.table(&[("Name", 2.0), ("Number", 1.0), ("Note", 3.0)])
        .unwrap();
    for i in 0..10_000 {
        let cells = row_cells(i);
        pdf.row(&[&cells[0], &cells[1], &cells[2]]).unwrap();
        // A page's operations only: 37 rows of 3 cells and a rule, and the header.
        assert!(pdf.page.as_ref().unwrap().len() < 200);
    }
    assert!(pdf.pages > 250, "{} pages handed to krilla", pdf.pages);
    let bytes = pdf.finish().unwrap().output;
    assert!(bytes.len() < 4 * 1024 * 1024, "{} bytes", bytes.len());
}
