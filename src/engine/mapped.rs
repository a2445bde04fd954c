//! The input files, mapped into memory by doel and read by polars through the map.
//!
//! Given a path, polars reads a file through a memory map of its own. The pages it has
//! read stay mapped, and so count in the process's resident memory, until the run ends:
//! 268 MiB of a 10M-row Parquet export, more than the transformation itself holds. doel
//! maps each input itself, hands polars the map as a buffer ([`Map::buffer`]), and after
//! each batch drops the map's pages from the process ([`Map::release`]). They stay in the
//! page cache; a page that polars reads again is mapped again from there, with the same
//! contents, by the kernel.
//!
//! The map is doel's, so the range given to the kernel is the map's for as long as a
//! [`Map`] exists. (An earlier version released the ranges of whatever maps of the input
//! files `/proc/self/maps` listed; polars may unmap its map between that list and the
//! call, and the range may by then hold other memory, which `MADV_DONTNEED` would zero.)

use std::path::Path;
use std::sync::Arc;

use memmap2::{Mmap, MmapOptions, UncheckedAdvice};

/// A read-only map of a whole file. Clones share the map; it is unmapped when the last
/// clone and every buffer polars made of it are dropped.
#[derive(Clone)]
pub struct Map(Arc<Mmap>);

impl Map {
    /// Map the file at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Self::of(&std::fs::File::open(path)?)
    }

    /// Map an open file (which may already be deleted, such as a temporary copy).
    pub fn of(file: &std::fs::File) -> std::io::Result<Self> {
        // SAFETY: a map is only sound while the file is not changed. doel does not write
        // its inputs, and refuses an output path that is an input; polars maps the file
        // in the same way when given its path. An export that someone else rewrites while
        // doel reads it is read as a mix of old and new bytes, or, cut short, ends the run
        // with SIGBUS (before any output is renamed into place). Do not let a delivery
        // overwrite the file a run is reading.
        let map = match unsafe { Mmap::map(file) } {
            // Some file systems (FUSE with direct I/O, virtiofs, GPFS) refuse a shared
            // map but allow a private one, as polars finds too.
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => unsafe {
                MmapOptions::new().map_copy_read_only(file)
            },
            other => other,
        }?;
        Ok(Self(Arc::new(map)))
    }

    /// The file's bytes, for a polars scan; the buffer keeps the map alive.
    pub fn buffer(&self) -> polars_buffer::Buffer<u8> {
        polars_buffer::Buffer::from_owner(Owner(Arc::clone(&self.0)))
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The file as the one source of a polars scan.
    pub fn sources(&self) -> polars::prelude::ScanSources {
        polars::prelude::ScanSources::Buffers([self.buffer()].into())
    }

    /// Drop the map's pages from this process. Best effort: where the system does not
    /// support it, nothing happens.
    pub fn release(&self) {
        if self.0.is_empty() {
            return;
        }
        // SAFETY: the range is exactly this map's, which `self` keeps mapped during the
        // call. The map is a read-only map of a file (shared, or private and never
        // written): after MADV_DONTNEED the next access to a page reads it again from the
        // file, so whoever holds a slice of the map reads the same bytes.
        let _ = unsafe { self.0.unchecked_advise(UncheckedAdvice::DontNeed) };
    }
}

/// A map as the owner of a polars buffer.
struct Owner(Arc<Mmap>);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releasing_keeps_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.bin");
        let bytes: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let map = Map::open(&path).unwrap();
        let buffer = map.buffer();
        assert_eq!(buffer.as_slice(), &bytes[..]);
        map.release();
        assert_eq!(buffer.as_slice(), &bytes[..]);
        drop(map);
        // The buffer alone keeps the map.
        assert_eq!(buffer.as_slice(), &bytes[..]);
    }

    #[test]
    fn an_empty_file_maps_to_no_bytes() {
        let file = tempfile::tempfile().unwrap();
        let map = Map::of(&file).unwrap();
        map.release();
        assert!(map.buffer().as_slice().is_empty());
    }
}
