//! polars reads an input file through a memory map of the whole file. The pages it has
//! read stay mapped, and so count in the process's resident memory, until the run ends:
//! 268 MiB of a 10M-row Parquet export, more than the transformation itself holds. After
//! each batch the engine drops the pages of its inputs' read-only maps from the process
//! ([`release`]). They stay in the page cache; a page that polars reads again is mapped
//! again from there, with the same contents, by the kernel.

use std::path::{Path, PathBuf};

/// The input files as the kernel names them in `/proc/self/maps` (absolute, links
/// resolved). Files whose names the maps would escape (white space, backslashes) are
/// left out: their pages stay mapped.
pub fn names(files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .filter_map(|f| std::fs::canonicalize(f).ok())
        .filter(|f| {
            f.to_str()
                .is_some_and(|s| !s.contains(|c: char| c.is_whitespace() || c == '\\'))
        })
        .collect()
}

/// Drop from this process the pages of every read-only map of `files` (from [`names`]).
/// Best effort: on another system, or when the maps cannot be read, nothing happens.
pub fn release(files: &[PathBuf]) {
    if files.is_empty() {
        return;
    }
    #[cfg(target_os = "linux")]
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        for (start, end) in read_only_maps(&maps, files) {
            // SAFETY: the range is a whole read-only map of a file, as the kernel lists it.
            // MADV_DONTNEED on it only unmaps pages: the next access maps the page again
            // from the file, so whoever holds a slice of it reads the same bytes. If the
            // map went away since the list was read, the call fails and changes nothing.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// The address ranges of the maps of `files` that cannot be written (`r--`), from the
/// text of `/proc/self/maps`: `start-end perms offset dev inode path`.
fn read_only_maps(maps: &str, files: &[PathBuf]) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3)?.trim_start();
            if !perms.starts_with("r--") || !files.iter().any(|f| Path::new(path) == f) {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (start < end).then_some((start, end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0000000-55d0c0100000 r--p 00000000 fd:01 123 /usr/bin/doel
7f0000000000-7f0000200000 r--s 00000000 fd:01 456 /data/export.parquet
7f0000200000-7f0000300000 rw-s 00000000 fd:01 456 /data/export.parquet
7f0000300000-7f0000400000 r--p 00000000 fd:01 789 /data/export.parquet.bak
7f0000400000-7f0000500000 rw-p 00000000 00:00 0
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn only_read_only_maps_of_the_inputs() {
        let files = [PathBuf::from("/data/export.parquet")];
        assert_eq!(
            read_only_maps(MAPS, &files),
            [(0x7f00_0000_0000, 0x7f00_0020_0000)]
        );
        assert!(read_only_maps(MAPS, &[]).is_empty());
    }

    #[test]
    fn releasing_a_read_map_keeps_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.bin");
        let bytes: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the file is not changed while mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        assert_eq!(&map[..], &bytes[..]);
        release(&names(&[path]));
        assert_eq!(&map[..], &bytes[..]);
    }
}
