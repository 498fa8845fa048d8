//! Round trips through lopdf, the streaming bounds, and the text encoding and fitting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::metrics::{Font, fit, wrap};
use super::winansi::{ELLIPSIS, encode};
use super::*;

const NAMES: [&str; 4] = ["Zoë Adams", "Ñúñez", "O'Brien (jr)", r"C:\back\slash"];

/// Loads without lenient repair, so a wrong offset fails instead of being rebuilt around,
/// and returns the document with each page's extracted lines.
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
    for (&id, entry) in &doc.reference_table.entries {
        if let lopdf::xref::XrefEntry::Normal { offset, .. } = entry {
            let at = &bytes[*offset as usize..];
            assert!(
                at.starts_with(format!("{id} 0 obj").as_bytes()),
                "object {id} offset"
            );
        }
    }
    let pages = doc
        .get_pages()
        .keys()
        .map(|&n| {
            let text = doc.extract_text(&[n]).expect("text");
            text.lines().map(str::to_owned).collect()
        })
        .collect();
    (doc, pages)
}

fn info_title(doc: &lopdf::Document) -> String {
    let info = doc
        .trailer
        .get(b"Info")
        .and_then(lopdf::Object::as_reference)
        .unwrap();
    let title = doc.get_dictionary(info).unwrap().get(b"Title").unwrap();
    lopdf::decode_text_string(title).unwrap()
}

fn row_cells(i: usize) -> [String; 3] {
    [
        format!("{} {i}", NAMES[i % NAMES.len()]),
        format!("{}", i * 7),
        "Málaga – ß".into(),
    ]
}

#[test]
fn round_trips_title_headings_and_1200_rows_in_order() {
    let mut pdf = PdfWriter::new(Vec::new(), "Patients — Überblick").unwrap();
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
    let (doc, pages) = read(&pdf.finish().unwrap());

    assert_eq!(info_title(&doc), "Patients — Überblick");
    assert!(pages.len() > 1, "{} pages", pages.len());
    let first = &pages[0];
    assert_eq!(first[0], "Patients — Überblick");
    assert_eq!(first[1], "Résumé of the ward");
    assert_eq!(
        first[2],
        "Printed with ‘curly’ quotes, “double” ones, € and ‰."
    );
    for (n, page) in pages.iter().enumerate() {
        assert_eq!(
            page.last().unwrap(),
            &format!("Page {} of ", n + 1),
            "footer"
        );
    }
    // The header opens the table and every page it continues on.
    for page in &pages[1..] {
        assert_eq!(page[..3], ["Name", "Visits", "City"]);
    }

    let lines: Vec<&String> = pages.iter().flatten().collect();
    let expected: Vec<String> = (0..1200).flat_map(row_cells).collect();
    let mut at = 0;
    for cell in &expected {
        let found = lines[at..].iter().position(|l| *l == cell);
        at += found.unwrap_or_else(|| panic!("{cell:?} missing or out of order")) + 1;
    }
    let data_lines = lines.iter().filter(|l| l.contains("Málaga")).count();
    assert_eq!(data_lines, 1200);
    assert_eq!(**lines.last().unwrap(), format!("Page {} of ", pages.len()));
    assert!(lines.iter().any(|l| *l == "After the table"));
}

#[test]
fn page_total_is_written_at_finish() {
    let mut pdf = PdfWriter::new(Vec::new(), "Total").unwrap();
    for i in 0..100 {
        pdf.line(&format!("line {i}")).unwrap();
    }
    let bytes = pdf.finish().unwrap();
    let (doc, pages) = read(&bytes);
    let total = doc
        .get_object((PAGE_TOTAL_ID.get().unsigned_abs(), 0))
        .unwrap()
        .as_stream()
        .unwrap();
    let content = lopdf::content::Content::decode(&total.decompressed_content().unwrap()).unwrap();
    let shown = content
        .operations
        .iter()
        .find(|op| op.operator == "Tj")
        .unwrap();
    assert_eq!(
        shown.operands[0].as_str().unwrap(),
        pages.len().to_string().as_bytes()
    );
}

#[test]
fn unmappable_and_hostile_text_never_panics() {
    let huge = "x".repeat(200_000);
    let mut pdf = PdfWriter::new(Vec::new(), "").unwrap();
    pdf.heading("").unwrap();
    pdf.line("").unwrap();
    pdf.line(&huge).unwrap();
    pdf.row(&["cells before any table"]).unwrap();
    pdf.table(&[]).unwrap();
    pdf.table(&[("😀", f32::NAN), ("漢字", -1.0), ("", f32::INFINITY)])
        .unwrap();
    pdf.row(&["😀", "漢字", "a\u{0}b\tc\u{7f}"]).unwrap();
    pdf.row(&[]).unwrap();
    pdf.row(&["e\u{301}", "👍🏽", "❤\u{fe0f}", "extra cell", "and another"])
        .unwrap();
    pdf.row(&[&huge, &huge, &huge]).unwrap();
    pdf.table(&[("Tiny", 0.0001), ("Huge", f32::MAX), ("Max", f32::MAX)])
        .unwrap();
    pdf.row(&["does not fit", "b", "c"]).unwrap();
    pdf.line("(unbalanced ( paren \\ and ) ) ) end").unwrap();
    let (_, pages) = read(&pdf.finish().unwrap());
    let lines: Vec<&String> = pages.iter().flatten().collect();

    let wrapped = lines.iter().filter(|l| l.starts_with("xxx")).count();
    assert!(wrapped > 100, "the long line wraps onto {wrapped} lines");
    for expected in ["?", "??", "a?b c?", "é", "??", "?"] {
        assert!(
            lines.iter().any(|l| *l == expected),
            "{expected:?} in {lines:?}"
        );
    }
    assert!(!lines.iter().any(|l| l.contains("extra")));
    assert!(
        lines
            .iter()
            .any(|l| *l == "(unbalanced ( paren \\ and ) ) ) end")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("xxx") && l.ends_with('…'))
    );
}

#[test]
fn can_move_to_a_blocking_task() {
    fn assert_send<T: Send>() {}
    assert_send::<PdfWriter<Box<dyn Write + Send>>>();
}

#[test]
fn encodes_windows_1252_and_replaces_the_rest() {
    let bytes: Vec<u8> = encode("éüñß’€…Ÿ\u{a0}😀中\u{200d}\n").collect();
    assert_eq!(
        bytes,
        [
            0xe9, 0xfc, 0xf1, 0xdf, 0x92, 0x80, 0x85, 0x9f, 0xa0, b'?', b'?', b' '
        ]
    );
    // Decomposed input composes before it is mapped.
    assert_eq!(encode("Zoe\u{308}").collect::<Vec<_>>(), b"Zo\xeb");
}

#[test]
fn cut_cells_fit_their_column() {
    let text = "A fairly long cell value that cannot fit";
    let cut = fit(text, Font::Regular, 9.0, 60.0);
    assert_eq!(cut.last(), Some(&ELLIPSIS));
    assert!(Font::Regular.width(&cut, 9.0) <= 60.0);
    assert_eq!(fit("short", Font::Regular, 9.0, 60.0), b"short");
    assert!(fit(text, Font::Regular, 9.0, 1.0).is_empty());
    let mut lines = Vec::new();
    wrap(text, Font::Bold, 12.0, 80.0, |l| {
        lines.push(l.to_vec());
        Ok(())
    })
    .unwrap();
    assert!(lines.len() > 2);
    assert!(lines.iter().all(|l| Font::Bold.width(l, 12.0) <= 80.0));
    assert_eq!(lines.join(&b' '), text.as_bytes());
}

/// Counts what it is given and keeps none of it.
struct Counter(Arc<AtomicU64>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::SeqCst);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn streams_10000_rows_page_by_page() {
    let received = Arc::new(AtomicU64::new(0));
    let mut pdf = PdfWriter::new(Counter(received.clone()), "Streaming").unwrap();
    pdf.table(&[("Name", 2.0), ("Number", 1.0), ("Note", 3.0)])
        .unwrap();
    let mut seen = Vec::new();
    for i in 0..10_000 {
        let cells = row_cells(i);
        pdf.row(&[&cells[0], &cells[1], &cells[2]]).unwrap();
        // Only the current page is ever held.
        assert!(pdf.page.as_ref().unwrap().len() < 32 * 1024);
        if i % 1000 == 999 {
            seen.push(received.load(Ordering::SeqCst));
        }
    }
    let before_finish = received.load(Ordering::SeqCst);
    let page_count = pdf.pages.len() + 1;
    pdf.finish().unwrap();
    let total = received.load(Ordering::SeqCst);

    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "output grew with every 1000 rows: {seen:?}"
    );
    assert!(seen[0] > 10_000);
    // `finish` adds only the last page, the page tree and the cross-reference stream.
    let tail = total - before_finish;
    assert!(
        tail < 16 * 1024,
        "{tail} of {total} bytes written by finish"
    );
    assert!(page_count > 250, "{page_count} pages");
}
