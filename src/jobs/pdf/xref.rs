//! The output stream with the object-offset bookkeeping behind the cross-reference stream:
//! each object goes out in a chunk of its own, at a recorded byte offset (see the module docs
//! of the parent for why), and `finish` lists those offsets in a cross-reference stream.

use std::io::{self, Write};

use miniz_oxide::deflate::compress_to_vec_zlib;
use pdf_writer::{Chunk, Filter, Finish, Name, Ref, Settings};

/// The object count PDF readers are required to support (ISO 32000-1, annex C).
const MAX_OBJECTS: usize = 8_388_607;

/// Where the document goes, and where in it each object starts.
pub(super) struct Output<W: Write> {
    out: W,
    /// Bytes written to `out` so far: the offset of the next object.
    written: u64,
    /// Byte offset of each object, indexed by object number; 0 until it is written.
    offsets: Vec<u64>,
}

impl<W: Write> Output<W> {
    /// Object numbers below `first_free` are left for objects with fixed numbers (0 is never
    /// used); `alloc` hands out the ones after.
    pub(super) fn new(out: W, first_free: usize) -> Self {
        Self {
            out,
            written: 0,
            offsets: vec![0; first_free],
        }
    }

    /// Writes the cross-reference stream, which also carries the trailer naming `root` and
    /// `info`, and the file's end; flushes, and hands back the output.
    pub(super) fn finish(mut self, root: Ref, info: Ref) -> io::Result<W> {
        self.write_xref(root, info)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_xref(&mut self, root: Ref, info: Ref) -> io::Result<()> {
        let xref_id = self.alloc()?;
        let xref_offset = self.written;
        self.offsets[xref_id.get().unsigned_abs() as usize] = xref_offset;

        // Big-endian offsets, as few bytes wide as the largest needs (at least 1).
        let width = (8 - xref_offset.leading_zeros() as usize / 8).max(1);
        let mut rows = Vec::with_capacity(self.offsets.len() * (width + 3));
        for (id, &offset) in self.offsets.iter().enumerate() {
            if id == 0 || offset == 0 {
                // Free: object 0 heads the (empty) free list, as the format requires.
                rows.push(0);
                rows.extend(std::iter::repeat_n(0, width));
                rows.extend(if id == 0 { [0xff, 0xff] } else { [0, 0] });
            } else {
                rows.push(1);
                rows.extend_from_slice(&offset.to_be_bytes()[8 - width..]);
                rows.extend([0, 0]);
            }
        }
        let data = compress_to_vec_zlib(&rows, 6);
        let size = i32::try_from(self.offsets.len()).map_err(|_| too_large())?;
        let width = i32::try_from(width).map_err(|_| too_large())?;

        let mut chunk = new_chunk();
        let mut stream = chunk.stream(xref_id, &data);
        stream
            .filter(Filter::FlateDecode)
            .pair(Name(b"Type"), Name(b"XRef"))
            .pair(Name(b"Size"), size)
            .pair(Name(b"Root"), root)
            .pair(Name(b"Info"), info);
        stream.insert(Name(b"W")).array().items([1, width, 2]);
        stream.finish();
        self.write_raw(chunk.as_bytes())?;
        self.write_raw(format!("startxref\n{xref_offset}\n%%EOF\n").as_bytes())
    }

    /// The next free object number.
    pub(super) fn alloc(&mut self) -> io::Result<Ref> {
        let id = self.offsets.len();
        if id > MAX_OBJECTS {
            return Err(too_large());
        }
        self.offsets.push(0);
        Ok(Ref::new(i32::try_from(id).map_err(|_| too_large())?))
    }

    /// Writes a chunk holding the single object `id`, recording where it starts.
    pub(super) fn emit(&mut self, id: Ref, chunk: &Chunk) -> io::Result<()> {
        self.offsets[id.get().unsigned_abs() as usize] = self.written;
        self.write_raw(chunk.as_bytes())
    }

    /// Writes bytes that are no object, such as the file header.
    pub(super) fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// A chunk for one object.
pub(super) fn new_chunk() -> Chunk {
    Chunk::with_settings(settings())
}

/// Compact output, for chunks and content streams alike.
pub(super) fn settings() -> Settings {
    Settings { pretty: false }
}

pub(super) fn too_large() -> io::Error {
    io::Error::other("PDF export too large: more objects than PDF readers support")
}
