//! An input cut short while it is mapped: reading a page past its new end raises SIGBUS,
//! which would end the process with exit 135, no message and the output's temporary
//! files left behind. The handler here removes those files, says what happened and
//! exits 3 (an input error), as a run does that finds its input changed.
//!
//! Only async-signal-safe calls run in the handler (`unlink`, `write`, `_exit`), over
//! paths registered beforehand as C strings that are never freed.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Temporary files to remove when the process ends on SIGBUS.
static TEMPORARY: [AtomicPtr<libc::c_char>; 32] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; 32];

const MESSAGE: &[u8] =
    b"error: input: a file was cut short while doel read it (SIGBUS); nothing was written\n\
hint: run again once the export is complete, and do not change an input during a run\n";

/// Registered while it lives: [`TEMPORARY`]'s slot of one path.
pub struct Registered(Option<usize>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(slot) = self.0 {
            // The string is leaked, not freed: the handler may be reading it.
            TEMPORARY[slot].store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }
}

/// Have `path` removed if the process ends on SIGBUS (while the returned guard lives).
/// Past 32 paths at once, or a path with a NUL, it is not registered.
pub fn remove_on_fault(path: &Path) -> Registered {
    let Ok(name) = CString::new(path.as_os_str().as_bytes()) else {
        return Registered(None);
    };
    let raw = name.into_raw();
    for (slot, cell) in TEMPORARY.iter().enumerate() {
        if cell
            .compare_exchange(
                std::ptr::null_mut(),
                raw,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
        {
            return Registered(Some(slot));
        }
    }
    // SAFETY: `raw` came from `into_raw` above and was stored nowhere.
    drop(unsafe { CString::from_raw(raw) });
    Registered(None)
}

extern "C" fn on_bus_error(_: libc::c_int) {
    for cell in &TEMPORARY {
        let path = cell.load(Ordering::SeqCst);
        if !path.is_null() {
            // SAFETY: a NUL-terminated string that is never freed.
            unsafe { libc::unlink(path) };
        }
    }
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        libc::_exit(3);
    }
}

/// Install the SIGBUS handler (once, at start).
pub fn install() {
    // SAFETY: a handler that makes only async-signal-safe calls.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_bus_error as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}
