//! The progress bar (bytes read, files, events, MB/s) on stderr, and only when stderr is
//! a terminal: piped or redirected runs print nothing but their results and warnings.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    files: u64,
}

impl Progress {
    /// `total_bytes` is the stored size of every input when known (not for stdin).
    pub fn new(total_bytes: Option<u64>, files: u64) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(total_bytes, ProgressDrawTarget::stderr());
            let template = if total_bytes.is_some() {
                "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}"
            } else {
                "{elapsed_precise} {bytes} {bytes_per_sec} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar, files }
    }

    /// One more input done.
    pub fn advance(&self, raw_bytes: u64, files_done: u64, events: u64) {
        self.bar.inc(raw_bytes);
        self.bar.set_message(format!(
            "{files_done}/{} files, {events} events",
            self.files
        ));
    }

    /// Prints a line above the bar (or plainly, when there is none).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.suspend(|| eprintln!("{line}"));
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
