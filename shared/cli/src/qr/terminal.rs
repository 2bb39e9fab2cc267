//! Frames shown in a terminal: an animated loop of QR codes drawn with
//! Unicode half blocks, for a phone or webcam on the other side to read.
//!
//! No terminal library: the screen is cleared once, and each frame is drawn
//! from the top-left corner; the terminal's modes are never changed, so
//! Ctrl-C (the default SIGINT action) leaves it as it was.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use ceremony::transport::qr::{Ecc, QrCode, QUIET};
use ceremony::transport::{EncodeOptions, Encoder, PayloadInfo, TransportError, MIN_FRAGMENT};

/// Lines under the code: what is shown, and which frame.
const CAPTION_LINES: usize = 2;

/// How to animate.
#[derive(Clone, Debug)]
pub struct AnimateOptions {
    /// Frames per second.
    pub fps: f64,
    /// Error-correction level.
    pub ecc: Ecc,
    /// Loop over this many frames; `None`: the plain frames, then fresh
    /// fountain frames for as long as it runs (best for a reader that
    /// misses frames).
    pub loop_frames: Option<usize>,
    /// Stop after showing this many frames (for tests); `None`: until
    /// interrupted.
    pub stop_after: Option<usize>,
    /// What is shown (a file name), for the caption.
    pub title: String,
}

/// Whether standard output is a terminal.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// The size of the terminal on standard output, in (columns, rows).
pub fn terminal_size() -> Option<(usize, usize)> {
    terminal_size::terminal_size().map(|(w, h)| (w.0 as usize, h.0 as usize))
}

/// The quiet zone to use so that `code` fits `size` (4 modules, or 2 when
/// that is what fits), or the cells it needs at least.
pub fn fit(code: &QrCode, size: (usize, usize)) -> Result<usize, (usize, usize)> {
    for quiet in [QUIET, 2] {
        let (c, r) = code.cells(quiet);
        if c <= size.0 && r + CAPTION_LINES < size.1 + 1 {
            return Ok(quiet);
        }
    }
    let (c, r) = code.cells(QUIET);
    Err((c, r + CAPTION_LINES))
}

/// The largest fragment size (stepping down from `options.fragment`) whose
/// frames fit a terminal of `size`, with the number of frames it makes.
pub fn suggest_fragment(
    file: &[u8],
    options: &EncodeOptions,
    ecc: Ecc,
    size: (usize, usize),
) -> Option<(usize, usize)> {
    let mut fragment = options.fragment;
    while fragment >= MIN_FRAGMENT {
        let opts = EncodeOptions {
            fragment,
            ..*options
        };
        let mut enc = Encoder::new(file, &opts).ok()?;
        let code = QrCode::new(&enc.next_frame(), ecc).ok()?;
        if fit(&code, size).is_ok() {
            return Some((fragment, enc.fragment_count()));
        }
        fragment = fragment * 9 / 10;
    }
    None
}

fn caption(
    info: &PayloadInfo,
    title: &str,
    frame: &str,
    k: usize,
    fps: f64,
    cols: usize,
) -> String {
    let label = frame.split('/').nth(1).unwrap_or("");
    let lines = [
        format!("{title} · {}", info.describe()),
        format!("frame {label} · {k} needed · {fps} fps · Ctrl-C to stop"),
    ];
    lines
        .iter()
        .map(|l| l.chars().take(cols).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fresh fountain frames shown before the display loops over those already
/// shown (about half an hour at 5 fps; frame numbers stay short enough for
/// the QR version not to grow).
pub const ENDLESS_LIMIT: usize = 9_999;

/// Shows the frames of `encoder` in the terminal, at `options.fps`, until
/// interrupted (or `stop_after`). `size` is the terminal's; a frame that does
/// not fit it is not shown (the caller checks the first with [`fit`] and
/// says how large the terminal must be).
pub fn animate(
    encoder: &mut Encoder,
    options: &AnimateOptions,
    size: (usize, usize),
) -> Result<(), TransportError> {
    let k = encoder.fragment_count();
    let info = encoder.info().clone();
    let mut limit = options.loop_frames.unwrap_or(ENDLESS_LIMIT).max(1);
    let period = Duration::from_secs_f64(1.0 / options.fps.clamp(0.1, 60.0));
    let mut stdout = std::io::stdout().lock();
    let mut frames: Vec<(String, String)> = Vec::new();
    let mut shown = 0usize;
    let mut cols = 0;
    let result = (|| -> Result<(), TransportError> {
        let io = |e: std::io::Error| TransportError::io("terminal display", e);
        loop {
            let started = Instant::now();
            if frames.len() < limit {
                let frame = encoder.next_frame();
                let code = QrCode::new(&frame, options.ecc)?;
                match fit(&code, size) {
                    Ok(quiet) => frames.push((frame, code.to_half_blocks(quiet, true))),
                    Err((c, r)) if frames.is_empty() => {
                        return Err(TransportError::Output(format!(
                            "the codes need a terminal of {c}×{r} characters, this one is {}×{}",
                            size.0, size.1
                        )))
                    }
                    // Frame numbers grew the code: loop over those shown.
                    Err(_) => limit = frames.len(),
                }
            }
            let (frame, text) = &frames[shown % frames.len().min(limit)];
            let width = text.lines().next().map_or(0, |l| l.chars().count());
            if width != cols {
                write!(stdout, "\x1b[2J").map_err(io)?;
                cols = width;
            }
            let cap = caption(&info, &options.title, frame, k, options.fps, size.0);
            write!(stdout, "\x1b[H{text}\x1b[J{cap}").map_err(io)?;
            stdout.flush().map_err(io)?;
            shown += 1;
            if options.stop_after.is_some_and(|n| shown >= n) {
                writeln!(stdout).map_err(io)?;
                return Ok(());
            }
            if let Some(rest) = period.checked_sub(started.elapsed()) {
                std::thread::sleep(rest);
            }
        }
    })();
    match result {
        Err(TransportError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Prints each frame once, one rendering after the other, with a caption
/// line above each: what `qr show` does when its output is not a terminal.
pub fn print_frames(
    out: &mut dyn Write,
    info: &PayloadInfo,
    title: &str,
    frames: &[String],
    ecc: Ecc,
) -> Result<(), TransportError> {
    for (i, frame) in frames.iter().enumerate() {
        let code = QrCode::new(frame, ecc)?;
        let label = frame.split('/').nth(1).unwrap_or("");
        let r = writeln!(
            out,
            "{title} · {} · frame {} of {} ({label}) · QR version {}\n{}",
            info.describe(),
            i + 1,
            frames.len(),
            code.version(),
            code.to_half_blocks(QUIET, false)
        );
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            r => r.map_err(|e| TransportError::io("writing frames", e))?,
        }
    }
    Ok(())
}
