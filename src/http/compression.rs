//! Compressed answers, made in one pass over the whole body.
//!
//! Every answer this server sends is complete before it is sent (GraphQL results, pages, export
//! files), so it is compressed in one call, with brotli's window sized to the body. A streaming
//! encoder (tower-http's) cannot know the size: brotli then prepares a 4 MB window and clears
//! large hash tables for every answer, about 8 times the work for a 16 KB page of patients with
//! their records (instruction counts in `bench/README.md`).
//!
//! When the client takes either, gzip at level 1 is sent (nginx's default level): answers are
//! small, so the 25 % that brotli saves on them is a few hundred bytes, for twice the CPU.
use std::cell::RefCell;

use axum::body::{Body, HttpBody as _};
use axum::extract::Request;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::{Compress, FlushCompress, Status};

/// Smaller answers are sent as they are: compressing them costs more than it saves.
const COMPRESS_ABOVE_BYTES: usize = 1024;
/// Above this an answer is compressed on a blocking thread, off the request workers.
const COMPRESS_INLINE_UP_TO_BYTES: usize = 256 * 1024;
/// Quality 3 of 11: within 4 % of quality 4's size on GraphQL answers, for 60 % of the work.
const BROTLI_QUALITY: i32 = 3;
const GZIP_LEVEL: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        })
    }

    /// `body`, compressed.
    pub fn compress(self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Encoding::Brotli => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: BROTLI_QUALITY,
                    lgwin: window_bits(body.len()),
                    size_hint: body.len(),
                    ..Default::default()
                };
                let mut out = Vec::with_capacity(body.len() / 4);
                brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
                Ok(out)
            }
            Encoding::Gzip => gzip(body),
        }
    }
}

thread_local! {
    /// A deflate stream per thread, reset between answers: setting one up allocates and clears
    /// a few hundred kilobytes of tables, more work than compressing a page of 20 patients.
    static DEFLATE: RefCell<Compress> =
        RefCell::new(Compress::new(flate2::Compression::new(GZIP_LEVEL), false));
}

/// The gzip member header (RFC 1952): deflate, no name or time, unknown system.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// `body` as one gzip member: header, raw deflate, CRC-32 and length.
fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        let mut out = Vec::with_capacity(body.len() / 3 + 64);
        out.extend_from_slice(&GZIP_HEADER);
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX);
            let input = body.get(consumed..).unwrap_or_default();
            match deflate.compress_vec(input, &mut out, FlushCompress::Finish)? {
                Status::StreamEnd => break,
                // It writes into spare capacity only: make more.
                Status::Ok | Status::BufError => out.reserve(out.len().max(4096)),
            }
        }
        let mut crc = flate2::Crc::new();
        crc.update(body);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32.
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        Ok(out)
    })
}

/// The smallest window that holds the whole body (brotli allows 2^10 to 2^24 bytes).
fn window_bits(len: usize) -> i32 {
    let bits = usize::BITS - len.saturating_sub(1).leading_zeros();
    i32::try_from(bits).unwrap_or(24).clamp(10, 24)
}

/// The encoding to answer with, from `Accept-Encoding`: the one of brotli and gzip the client
/// gives the higher quality (by name or through `*`), gzip on a tie; `None` for neither (a
/// quality of 0 refuses an encoding).
pub fn negotiate(accept_encoding: &str) -> Option<Encoding> {
    let mut brotli = None;
    let mut gzip = None;
    let mut any = None;
    for entry in accept_encoding.split(',') {
        let mut parts = entry.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let quality = parts
            .filter_map(|parameter| {
                let (name, value) = parameter.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| value.trim().parse::<f32>().ok())
            })
            .next()
            .unwrap_or(Some(1.0));
        let Some(quality) = quality.filter(|q| (0.0..=1.0).contains(q)) else {
            continue;
        };
        let slot = if coding.eq_ignore_ascii_case("br") {
            &mut brotli
        } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if coding == "*" {
            &mut any
        } else {
            continue;
        };
        *slot = Some(quality);
    }
    let brotli = brotli.or(any).unwrap_or(0.0);
    let gzip = gzip.or(any).unwrap_or(0.0);
    if gzip > 0.0 && gzip >= brotli {
        Some(Encoding::Gzip)
    } else if brotli > 0.0 {
        Some(Encoding::Brotli)
    } else {
        None
    }
}

/// Text worth compressing; export files such as XLSX and PDF are compressed already.
fn compressible(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type.starts_with("text/")
        || media_type.ends_with("json")
        || media_type.ends_with("+xml")
        || media_type == "application/javascript"
}

/// Middleware: compresses complete, compressible answers above 1 KB for clients that accept
/// brotli or gzip.
pub async fn compress_answers(request: Request, next: Next) -> Response {
    let accepted = request
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(negotiate);
    let mut response = next.run(request).await;
    let headers = response.headers();
    if headers.contains_key(CONTENT_ENCODING) || !compressible(headers) {
        return response;
    }
    // The answer depends on the request's Accept-Encoding whether or not this one is compressed.
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    let (Some(encoding), Some(size)) = (accepted, response.body().size_hint().exact()) else {
        return response;
    };
    if usize::try_from(size).map_or(true, |size| size <= COMPRESS_ABOVE_BYTES) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "reading an answer to compress");
            return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let compressed = if body.len() <= COMPRESS_INLINE_UP_TO_BYTES {
        encoding.compress(&body)
    } else {
        let large = body.clone();
        tokio::task::spawn_blocking(move || encoding.compress(&large))
            .await
            .unwrap_or_else(|error| Err(std::io::Error::other(error)))
    };
    match compressed {
        Ok(compressed) => {
            parts.headers.remove(CONTENT_LENGTH);
            parts.headers.insert(CONTENT_ENCODING, encoding.header());
            Response::from_parts(parts, Body::from(compressed))
        }
        Err(error) => {
            // Sent as it is: the client accepts that too.
            tracing::warn!(%error, "compressing an answer");
            Response::from_parts(parts, Body::from(body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Encoding, negotiate, window_bits};

    #[test]
    fn the_client_chooses_and_gzip_wins_ties() {
        assert_eq!(negotiate("gzip, deflate, br"), Some(Encoding::Gzip));
        assert_eq!(negotiate("br"), Some(Encoding::Brotli));
        assert_eq!(negotiate("br;q=1.0, gzip;q=0.8"), Some(Encoding::Brotli));
        assert_eq!(negotiate("br, gzip;q=0"), Some(Encoding::Brotli));
        assert_eq!(negotiate("identity"), None);
        assert_eq!(negotiate("*"), Some(Encoding::Gzip));
        assert_eq!(negotiate("*;q=0, br"), Some(Encoding::Brotli));
        assert_eq!(negotiate("br;q=nonsense, gzip;q=2"), None);
        assert_eq!(negotiate("GZIP ; Q=0.9"), Some(Encoding::Gzip));
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn the_window_fits_the_body() {
        assert_eq!(window_bits(0), 10);
        assert_eq!(window_bits(1024), 10);
        assert_eq!(window_bits(16_383), 14);
        assert_eq!(window_bits(16_385), 15);
        assert_eq!(window_bits(usize::MAX), 24);
    }

    #[test]
    fn both_encodings_give_back_the_body() {
        let body = r#"{"data":{"patients":{"nodes":[{"name":"Ada"}]}}}"#.repeat(400);
        let brotli = Encoding::Brotli.compress(body.as_bytes()).expect("brotli");
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut &brotli[..], &mut plain).expect("brotli decodes");
        assert_eq!(plain, body.as_bytes());
        assert!(brotli.len() < body.len() / 10);

        // Twice: the second answer comes from the reset stream of the first.
        for body in [body.clone(), body[..3000].to_owned()] {
            let gzip = Encoding::Gzip.compress(body.as_bytes()).expect("gzip");
            let mut plain = String::new();
            let mut decoder = flate2::read::GzDecoder::new(&gzip[..]);
            std::io::Read::read_to_string(&mut decoder, &mut plain).expect("gzip decodes");
            assert_eq!(plain, body);
            assert!(gzip.len() < body.len() / 4);
        }
        // Larger than any first guess at the output, and not compressible: the loop grows it.
        let noise: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let gzip = Encoding::Gzip.compress(&noise).expect("gzip");
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain)
            .expect("gzip decodes");
        assert_eq!(plain, noise);
    }
}
