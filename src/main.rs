//! The `doel` command; everything it does lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    return_freed_memory();
    doel::cli::main()
}

/// glibc's malloc keeps the memory freed with each batch in its per-thread arenas, where
/// fragmentation made the peak grow with the row count (287 MiB anonymous memory at 1M
/// rows, 416 MiB at 10M). A fixed trim threshold of 16 MiB hands it back (215 and 262
/// MiB; trimming after every batch cost 25 %, mimalloc only reached its own plateau
/// sooner). Fixing it also fixes the threshold above which a block is a fresh `mmap` at
/// its default of 128 KiB: every batch's buffers were then new pages, and page faults a
/// fifth of the run. At 32 MiB they are reused: a research run on 10M rows 18.2 -> 14.6 s,
/// peak RSS 301 -> 378 MiB at 1M rows, 475 MiB at 10M, 493 MiB at 20M. See
/// `docs/performance.md`.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing, before any other thread exists or allocates.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}
