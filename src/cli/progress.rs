//! A progress line on an interactive terminal only: rows read and the rate, on stderr.
//! Never drawn when stderr is a file or a pipe (a scheduled job's log), with `--quiet` or
//! with `--log-format json`; it shows counts, never a value.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::Progress;

/// The bar of one run; cleared from the terminal when dropped.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar, if stderr is a terminal.
    pub fn on_terminal() -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {human_pos} rows read ({per_sec}, {elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(Self(bar))
    }

    /// The engine's callback: sets the rows read.
    pub fn report(&self) -> Progress {
        let bar = self.0.clone();
        Arc::new(move |rows| bar.set_position(rows))
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
