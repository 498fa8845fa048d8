//! The fonts PDFs are drawn in: DejaVu Sans, compiled in, and an optional font file from
//! `PDF_FONT` for the scripts DejaVu Sans lacks (CJK, Indic, ...).
//!
//! DejaVu Sans was chosen as the smallest set that covers Latin, Greek, Cyrillic, Hebrew and
//! Arabic (with its joining forms): one file per weight. Only the glyphs a document uses are
//! embedded in it (krilla subsets them).

use std::path::Path;
use std::sync::Arc;

use krilla::Data;

static REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// The regular and bold faces, and the fallback for characters neither has.
#[derive(Clone)]
pub struct PdfFonts {
    pub(super) regular: FontFile,
    pub(super) bold: FontFile,
    pub(super) fallback: Option<FontFile>,
}

/// A font's bytes (shared with krilla, which embeds from them) and krilla's handle on it.
#[derive(Clone)]
pub(super) struct FontFile {
    pub(super) data: Data,
    pub(super) font: krilla::text::Font,
}

impl FontFile {
    fn new(data: Data) -> Option<Self> {
        // Both readers must accept it: rustybuzz shapes with it, krilla embeds it.
        rustybuzz::Face::from_slice(data.as_ref(), 0)?;
        let font = krilla::text::Font::new(data.clone(), 0)?;
        Some(Self { data, font })
    }
}

impl PdfFonts {
    /// The compiled-in fonts only.
    pub fn builtin() -> Self {
        let builtin = |bytes: &'static [u8]| {
            FontFile::new(Data::from(bytes)).expect("the compiled-in font is readable")
        };
        Self {
            regular: builtin(REGULAR),
            bold: builtin(BOLD),
            fallback: None,
        }
    }

    /// The compiled-in fonts, and `fallback` (a TrueType or OpenType file; the first face of
    /// a collection) for the characters they lack, in regular and bold text alike.
    pub fn with_fallback(fallback: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(fallback)
            .map_err(|e| anyhow::anyhow!("PDF_FONT: cannot read {}: {e}", fallback.display()))?;
        let file = FontFile::new(Data::from(Arc::new(bytes))).ok_or_else(|| {
            anyhow::anyhow!(
                "PDF_FONT: {} is not a TrueType or OpenType font",
                fallback.display()
            )
        })?;
        Ok(Self {
            fallback: Some(file),
            ..Self::builtin()
        })
    }
}
