//! What an uploaded file really is, and what is kept of it. The declared content type is never
//! trusted: the first bytes decide. Photos are decoded within limits, turned upright by their
//! EXIF orientation and re-encoded as JPEG, which keeps no EXIF (so no camera or GPS data), with
//! thumbnails; documents are kept as uploaded once their type is known, and measured.
//!
//! Blocking and CPU-bound: run it on a blocking thread (`inspect_blocking`), where a panic in a
//! decoder is caught and becomes a rejection.
use std::io::Cursor;

use fast_image_resize::images::Image as Pixels;
use fast_image_resize::{PixelType, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::model::{FileFacts, FileKind, PhotoSize, codes};

/// The largest side a photo or document image may have, and the most a decoder may allocate:
/// a 50,000 × 50,000 "pixel flood" is refused before a byte of it is decoded.
const MAX_SIDE: u32 = 12_000;
const MAX_ALLOC: u64 = 512 * 1024 * 1024;
const JPEG_QUALITY: u8 = 85;

/// Why a file was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// One of [`codes`].
    pub code: &'static str,
    /// For the uploader: says what was wrong, never echoes the contents.
    pub reason: String,
}

impl Refusal {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// What is kept of an accepted file.
#[derive(Debug)]
pub struct Accepted {
    pub facts: FileFacts,
    /// Each size to store, with its bytes: a photo's three, or a document's original as sent.
    pub stored: Vec<(PhotoSize, Vec<u8>)>,
}

/// [`inspect`] on a blocking thread; a decoder that panics refuses the file.
pub async fn inspect_blocking(kind: FileKind, bytes: Vec<u8>) -> Result<Accepted, Refusal> {
    let outcome =
        tokio::task::spawn_blocking(move || std::panic::catch_unwind(move || inspect(kind, bytes)))
            .await;
    match outcome {
        Ok(Ok(result)) => result,
        // A panic: the panic hook has logged it.
        Ok(Err(_)) | Err(_) => Err(Refusal::new(
            codes::INVALID_FILE,
            "the file could not be decoded",
        )),
    }
}

pub fn inspect(kind: FileKind, bytes: Vec<u8>) -> Result<Accepted, Refusal> {
    let format = sniff(&bytes);
    match (kind, format) {
        (FileKind::Photo, Some(Sniffed::Image(format))) => photo(&bytes, format),
        (FileKind::Document, Some(Sniffed::Pdf)) => pdf(bytes),
        (FileKind::Document, Some(Sniffed::Image(format))) => document_image(bytes, format),
        (FileKind::Photo, _) => Err(Refusal::new(
            codes::UNSUPPORTED_FILE_TYPE,
            "a photo must be a JPEG, PNG or WebP image",
        )),
        (FileKind::Document, None) => Err(Refusal::new(
            codes::UNSUPPORTED_FILE_TYPE,
            "a document must be a PDF, or a JPEG, PNG or WebP image",
        )),
    }
}

enum Sniffed {
    Image(ImageFormat),
    Pdf,
}

/// The format the first bytes announce, of those accepted.
fn sniff(bytes: &[u8]) -> Option<Sniffed> {
    if bytes.starts_with(b"%PDF-") {
        return Some(Sniffed::Pdf);
    }
    match image::guess_format(bytes).ok()? {
        format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {
            Some(Sniffed::Image(format))
        }
        _ => None,
    }
}

pub fn media_type(format: ImageFormat) -> &'static str {
    format.to_mime_type()
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn undecodable(error: &image::ImageError) -> Refusal {
    match error {
        image::ImageError::Limits(_) => Refusal::new(
            codes::FILE_TOO_LARGE,
            format!("the image is larger than {MAX_SIDE} × {MAX_SIDE} pixels"),
        ),
        _ => Refusal::new(
            codes::INVALID_FILE,
            "the image could not be decoded (truncated or corrupt)",
        ),
    }
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    reader
}

/// The JPEG decoder fills in what a truncated file lacks, so the end is checked here: a whole
/// JPEG ends with its End Of Image marker (some writers pad it with zeros).
fn check_complete(bytes: &[u8], format: ImageFormat) -> Result<(), Refusal> {
    if format != ImageFormat::Jpeg {
        return Ok(());
    }
    let end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    if bytes[..end].ends_with(&[0xFF, 0xD9]) {
        Ok(())
    } else {
        Err(Refusal::new(
            codes::INVALID_FILE,
            "the image is truncated (it has no end marker)",
        ))
    }
}

fn photo(bytes: &[u8], format: ImageFormat) -> Result<Accepted, Refusal> {
    check_complete(bytes, format)?;
    let mut decoder = reader(bytes, format)
        .into_decoder()
        .map_err(|e| undecodable(&e))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| undecodable(&e))?;
    image.apply_orientation(orientation);
    let upright = image.into_rgb8();
    let (width, height) = upright.dimensions();
    let medium = resized(&upright, PhotoSize::Medium)?;
    let thumb = resized(&upright, PhotoSize::Thumb)?;
    let original = jpeg(upright.as_raw(), width, height)?;
    let facts = FileFacts {
        content_type: "image/jpeg".into(),
        byte_size: i64::try_from(original.len()).unwrap_or(i64::MAX),
        width: i32::try_from(width).ok(),
        height: i32::try_from(height).ok(),
        pages: None,
    };
    Ok(Accepted {
        facts,
        stored: vec![
            (PhotoSize::Original, original),
            (PhotoSize::Medium, medium),
            (PhotoSize::Thumb, thumb),
        ],
    })
}

/// The photo scaled to fit `size` (never enlarged), as JPEG.
fn resized(upright: &image::RgbImage, size: PhotoSize) -> Result<Vec<u8>, Refusal> {
    let (width, height) = upright.dimensions();
    let longest = size.pixels().unwrap_or(u32::MAX);
    let scale = f64::from(longest) / f64::from(width.max(height));
    if scale >= 1.0 {
        return jpeg(upright.as_raw(), width, height);
    }
    // Rounded, and at least one pixel: a 4000 × 10 strip stays a strip.
    let fit = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    let (to_width, to_height) = (fit(width), fit(height));
    let failed = |_| Refusal::new(codes::INVALID_FILE, "the image could not be resized");
    let source = Pixels::from_vec_u8(width, height, upright.as_raw().clone(), PixelType::U8x3)
        .map_err(failed)?;
    let mut target = Pixels::new(to_width, to_height, PixelType::U8x3);
    Resizer::new()
        .resize(&source, &mut target, &ResizeOptions::new())
        .map_err(|_| Refusal::new(codes::INVALID_FILE, "the image could not be resized"))?;
    jpeg(target.buffer(), to_width, to_height)
}

fn jpeg(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|_| Refusal::new(codes::INVALID_FILE, "the image could not be re-encoded"))?;
    Ok(out)
}

/// A scanned page sent as an image: kept as sent, once it decodes within the limits.
fn document_image(bytes: Vec<u8>, format: ImageFormat) -> Result<Accepted, Refusal> {
    check_complete(&bytes, format)?;
    let decoder = reader(&bytes, format)
        .into_decoder()
        .map_err(|e| undecodable(&e))?;
    let (width, height) = decoder.dimensions();
    // Decoded in full, so a truncated scan is refused now rather than shown broken later.
    DynamicImage::from_decoder(decoder).map_err(|e| undecodable(&e))?;
    let facts = FileFacts {
        content_type: media_type(format).into(),
        byte_size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        width: i32::try_from(width).ok(),
        height: i32::try_from(height).ok(),
        pages: Some(1),
    };
    Ok(Accepted {
        facts,
        stored: vec![(PhotoSize::Original, bytes)],
    })
}

fn pdf(bytes: Vec<u8>) -> Result<Accepted, Refusal> {
    let unreadable = || Refusal::new(codes::INVALID_FILE, "the PDF could not be read");
    let document = lopdf::Document::load_mem(&bytes).map_err(|_| unreadable())?;
    let pages = document.get_pages();
    let first = *pages.values().next().ok_or_else(unreadable)?;
    let (width, height) = media_box(&document, first).unzip();
    let facts = FileFacts {
        content_type: "application/pdf".into(),
        byte_size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        width,
        height,
        pages: i32::try_from(pages.len()).ok(),
    };
    Ok(Accepted {
        facts,
        stored: vec![(PhotoSize::Original, bytes)],
    })
}

/// A page's size in points (rounded), from its MediaBox or the nearest ancestor's
/// (PDF 32000-1, 7.7.3.4).
fn media_box(document: &lopdf::Document, page: lopdf::ObjectId) -> Option<(i32, i32)> {
    let mut node = document.get_dictionary(page).ok()?;
    // A page tree is shallow; the bound stops a cycle in a hostile file.
    for _ in 0..32 {
        if let Ok(array) = node.get(b"MediaBox").and_then(|b| document.dereference(b)) {
            let numbers: Vec<f64> = array
                .1
                .as_array()
                .ok()?
                .iter()
                .filter_map(|n| n.as_float().ok().map(f64::from))
                .collect();
            if let [x0, y0, x1, y1] = numbers[..] {
                let side = |a: f64, b: f64| (a - b).abs().round().min(f64::from(i32::MAX)) as i32;
                return Some((side(x1, x0), side(y1, y0)));
            }
            return None;
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = document.get_dictionary(parent).ok()?;
    }
    None
}
