//! Upload progress: the component is sent as a stream of chunks, and each chunk taken by the
//! connection advances a byte counter drawn on stderr (only when stderr is a terminal and the
//! upload is large enough to be worth watching).

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;

use super::output;

/// Uploads smaller than this are sent without a progress line.
pub const DEFAULT_PROGRESS_MIN_BYTES: u64 = 1 << 20;
/// Size of the chunks the upload is cut into.
const CHUNK_BYTES: usize = 256 * 1024;
/// Least time between two redraws.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

struct State {
    sent: u64,
    last_draw: Option<Instant>,
}

/// A progress line for one upload.
pub struct Progress {
    label: String,
    total: u64,
    state: Mutex<State>,
}

impl Progress {
    fn advance(&self, n: usize) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.sent += n as u64;
        let done = state.sent >= self.total;
        if !done && state.last_draw.is_some_and(|t| t.elapsed() < REDRAW_EVERY) {
            return;
        }
        state.last_draw = Some(Instant::now());
        let percent = (state.sent * 100).checked_div(self.total).unwrap_or(100);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{}: {} / {} ({percent}%)",
            self.label,
            output::bytes(state.sent),
            output::bytes(self.total)
        );
        if done {
            let _ = write!(
                err,
                "\r\x1b[2K{}: {} sent, waiting for the host to compile it\n",
                self.label,
                output::bytes(self.total)
            );
        }
        let _ = err.flush();
    }
}

/// A request body carrying `bytes`; when stderr is a terminal and the upload is at least
/// [`DEFAULT_PROGRESS_MIN_BYTES`], sending it draws a progress line labelled `label`.
pub fn body(bytes: Vec<u8>, label: &str) -> reqwest::Body {
    let total = bytes.len() as u64;
    if total < DEFAULT_PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return reqwest::Body::from(bytes);
    }
    let progress = Arc::new(Progress {
        label: label.to_owned(),
        total,
        state: Mutex::new(State {
            sent: 0,
            last_draw: None,
        }),
    });
    let all = Bytes::from(bytes);
    let chunks: Vec<Bytes> = (0..all.len())
        .step_by(CHUNK_BYTES)
        .map(|i| all.slice(i..(i + CHUNK_BYTES).min(all.len())))
        .collect();
    let stream = futures_util::stream::iter(chunks).map(move |chunk| {
        progress.advance(chunk.len());
        Ok::<_, std::io::Error>(chunk)
    });
    reqwest::Body::wrap_stream(stream)
}
