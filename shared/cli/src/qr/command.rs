//! What `qr show` and `qr read` do, in both binaries (and `signer sign
//! --qr`, `submitter upload --qr-text`), without the command-line parsing.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use super::terminal::{self, AnimateOptions};
use ceremony::transport::qr::{self, Ecc, ImageFormat, QrCode};
use ceremony::transport::{
    group_digits, Decoded, Decoder, EncodeOptions, Encoder, FrameError, PayloadInfo, Receipt,
    TransportError, DEFAULT_FRAGMENT,
};

/// Where `qr show` puts the frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShowOutput {
    /// Animated in the terminal; printed once each when standard output is
    /// not a terminal.
    Terminal,
    /// UR text, one frame per line, on standard output.
    Text,
    /// One PNG per frame in this folder.
    Png(PathBuf),
    /// One SVG per frame in this folder.
    Svg(PathBuf),
    /// One printable HTML page.
    Html(PathBuf),
}

/// How `qr show` shows.
#[derive(Clone, Debug)]
pub struct ShowOptions {
    /// Where to.
    pub output: ShowOutput,
    /// Largest fragment per frame, in bytes.
    pub fragment: usize,
    /// How many frames: by default as many as the file has fragments (every
    /// one needed); more adds fountain frames, so that missing a few does
    /// not matter. In the terminal, by default fresh fountain frames follow
    /// for as long as it runs.
    pub frames: Option<usize>,
    /// Frames per second in the terminal.
    pub fps: f64,
    /// Error-correction level.
    pub ecc: Ecc,
    /// Stop the terminal display after this many frames (tests).
    pub stop_after: Option<usize>,
}

impl Default for ShowOptions {
    fn default() -> Self {
        ShowOptions {
            output: ShowOutput::Terminal,
            fragment: DEFAULT_FRAGMENT,
            frames: None,
            fps: 5.0,
            ecc: Ecc::L,
            stop_after: None,
        }
    }
}

/// What was shown, for a line on standard error.
#[derive(Clone, Debug)]
pub struct ShowSummary {
    /// The file's header.
    pub info: PayloadInfo,
    /// Fragments: the fewest frames a reader needs.
    pub fragments: usize,
    /// Frames written (0 for the endless terminal display).
    pub frames: usize,
    /// QR version of the largest frame written.
    pub version: i16,
    /// Files written, if any.
    pub written: Vec<PathBuf>,
}

impl std::fmt::Display for ShowSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} frames ({} needed), QR version {}; sha256 {}",
            self.info.describe(),
            self.frames,
            self.fragments,
            self.version,
            self.info.sha256_hex()
        )
    }
}

/// Reads `path` and shows it (see [`show_bytes`]).
pub fn show_file(path: &Path, options: &ShowOptions) -> Result<ShowSummary, TransportError> {
    // Bounded: a path to /dev/zero must not be read until memory runs out
    // (the encoder refuses anything over MAX_CROSSING_FILE anyway).
    let bytes =
        ceremony::fsio::read_bounded(path, ceremony::crossing::MAX_CROSSING_FILE as u64 + 1)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    show_bytes(&name, &bytes, options)
}

/// Shows the file `bytes`, called `name`, as `options` say.
pub fn show_bytes(
    name: &str,
    bytes: &[u8],
    options: &ShowOptions,
) -> Result<ShowSummary, TransportError> {
    let encode = EncodeOptions {
        fragment: options.fragment,
        compress: true,
    };
    let mut encoder = Encoder::new(bytes, &encode)?;
    let k = encoder.fragment_count();
    let n = options.frames.unwrap_or(k).max(1);
    let summary = |frames: &[String], written: Vec<PathBuf>, info: &PayloadInfo| {
        let version = frames
            .iter()
            .filter_map(|f| QrCode::new(f, options.ecc).ok())
            .map(|c| c.version())
            .max()
            .unwrap_or(0);
        ShowSummary {
            info: info.clone(),
            fragments: k,
            frames: frames.len(),
            version,
            written,
        }
    };
    let info = encoder.info().clone();
    match &options.output {
        ShowOutput::Terminal if terminal::stdout_is_terminal() => {
            let size = terminal::terminal_size().unwrap_or((80, 24));
            let mut probe = Encoder::new(bytes, &encode)?;
            let code = QrCode::new(&probe.next_frame(), options.ecc)?;
            if let Err((need_cols, need_rows)) = terminal::fit(&code, size) {
                let hint = match terminal::suggest_fragment(bytes, &encode, options.ecc, size) {
                    Some((fragment, frames)) => format!(
                        ", or show smaller codes with --fragment {fragment} ({frames} frames), or use --html or --png"
                    ),
                    None => ", or use --html or --png".to_string(),
                };
                return Err(TransportError::TerminalTooSmall {
                    need_cols,
                    need_rows,
                    cols: size.0,
                    rows: size.1,
                    hint,
                });
            }
            let animate = AnimateOptions {
                fps: options.fps,
                ecc: options.ecc,
                loop_frames: options.frames,
                stop_after: options.stop_after,
                title: name.to_string(),
            };
            terminal::animate(&mut encoder, &animate, size)?;
            Ok(ShowSummary {
                info,
                fragments: k,
                frames: 0,
                version: code.version(),
                written: Vec::new(),
            })
        }
        ShowOutput::Terminal => {
            let frames = encoder.frames(n);
            let mut out = std::io::stdout().lock();
            terminal::print_frames(&mut out, &info, name, &frames, options.ecc)?;
            Ok(summary(&frames, Vec::new(), &info))
        }
        ShowOutput::Text => {
            let frames = encoder.frames(n);
            let mut out = std::io::stdout().lock();
            let r = frames
                .iter()
                .try_for_each(|f| writeln!(out, "{f}"))
                .and_then(|_| out.flush());
            match r {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(TransportError::io("writing frames", e))
                }
                _ => {}
            }
            Ok(summary(&frames, Vec::new(), &info))
        }
        ShowOutput::Png(dir) | ShowOutput::Svg(dir) => {
            let format = if matches!(options.output, ShowOutput::Png(_)) {
                ImageFormat::Png
            } else {
                ImageFormat::Svg
            };
            let frames = encoder.frames(n);
            let written = qr::write_images(dir, &frames, format, options.ecc)?;
            Ok(summary(&frames, written, &info))
        }
        ShowOutput::Html(path) => {
            let frames = encoder.frames(n);
            let page = qr::html_page(name, &info, &frames, k, options.ecc)?;
            ceremony::fsio::write_new(
                path,
                page.as_bytes(),
                &ceremony::fsio::WriteOptions::public(),
            )?;
            Ok(summary(&frames, vec![path.clone()], &info))
        }
    }
}

/// Reads UR lines from `source` (`-` for standard input) until the file is
/// complete, reporting progress on `log`. From standard input the read
/// stops as soon as the file is complete (a scanner never sends an end of
/// file); a file is read to its end, so that a frame of another file in it
/// is noticed.
pub fn read_text(source: &Path, log: &mut dyn Write) -> Result<Decoded, TransportError> {
    if source == Path::new("-") {
        let stdin = std::io::stdin();
        read_lines(text_lines(stdin.lock()), true, log)
    } else {
        // A file of frames is bounded (an 8 MiB file is a few MiB of
        // frames) and regular: /dev/zero must be refused, not read for ever.
        let bytes = ceremony::fsio::read_bounded(source, MAX_FRAMES_FILE)?;
        read_lines(text_lines(bytes.as_slice()), false, log)
    }
}

/// The most bytes of frames read from one file.
const MAX_FRAMES_FILE: u64 = 256 << 20;

/// Lines of `reader`, each at most 64 KiB (longer ones come in pieces, each
/// refused as too long), bytes that are not UTF-8 replaced: a scanner's
/// stray byte costs one frame, not the read.
pub fn text_lines<R: BufRead>(mut reader: R) -> impl Iterator<Item = std::io::Result<String>> {
    std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match (&mut reader).take(64 * 1024).read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => Some(Ok(String::from_utf8_lossy(&buf).into_owned())),
            Err(e) => Some(Err(e)),
        }
    })
}

/// The label of a frame (`3-4`) for progress lines.
fn label(line: &str) -> &str {
    line.trim().split('/').nth(1).unwrap_or("?")
}

/// Feeds `lines` to a [`Decoder`], reporting on `log`, and puts the file
/// together. With `stop_when_complete` the lines after completion are not
/// read.
pub fn read_lines<I>(
    lines: I,
    stop_when_complete: bool,
    log: &mut dyn Write,
) -> Result<Decoded, TransportError>
where
    I: Iterator<Item = std::io::Result<String>>,
{
    let mut decoder = Decoder::new();
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| TransportError::io("reading frames", e))?;
        let had_header = decoder.info().is_some();
        let receipt = decoder.receive(&line);
        report(&decoder, &line, i + 1, &receipt, had_header, log);
        if let Err(e) = receipt {
            if e.is_fatal() {
                return Err(TransportError::Frame {
                    line: i + 1,
                    source: e,
                });
            }
        }
        if stop_when_complete && decoder.is_complete() {
            break;
        }
    }
    finish(decoder, log)
}

/// Puts the file together, and says so on `log`.
pub fn finish(decoder: Decoder, log: &mut dyn Write) -> Result<Decoded, TransportError> {
    let decoded = decoder.finish()?;
    let _ = writeln!(
        log,
        "complete: {}; sha256 {}",
        decoded.info.describe(),
        decoded.info.sha256_hex()
    );
    Ok(decoded)
}

/// Writes one progress line on `log` for the frame `line` (from input line
/// or image `n`), as `qr read` prints them.
fn report(
    d: &Decoder,
    line: &str,
    n: usize,
    receipt: &Result<Receipt, FrameError>,
    had_header: bool,
    log: &mut dyn Write,
) {
    if !had_header {
        if let Some(info) = d.info() {
            let _ = writeln!(log, "reading {}", info.describe());
        }
    }
    let _ = match receipt {
        Ok(Receipt::Blank) | Ok(Receipt::AfterComplete) => Ok(()),
        Ok(Receipt::New) => writeln!(log, "frame {}: {}", label(line), d.progress()),
        Ok(Receipt::Duplicate) => {
            writeln!(log, "frame {} again: {}", label(line), d.progress())
        }
        Err(e) if !e.is_fatal() => writeln!(log, "line {n}: {e}"),
        Err(_) => Ok(()),
    };
}

/// Feeds the frames found in one image (or any other batch) to `decoder`,
/// reporting on `log` as [`read_lines`] does; `n` numbers the batch in
/// messages. Stops at a frame of another file.
pub fn receive_batch(
    decoder: &mut Decoder,
    frames: &[String],
    n: usize,
    log: &mut dyn Write,
) -> Result<(), TransportError> {
    for frame in frames {
        let had_header = decoder.info().is_some();
        let receipt = decoder.receive(frame);
        report(decoder, frame, n, &receipt, had_header, log);
        if let Err(e) = receipt {
            if e.is_fatal() {
                return Err(TransportError::Frame { line: n, source: e });
            }
        }
    }
    Ok(())
}

/// Checks, before any frame is read, that `output` can be written: it must
/// not exist (nothing is overwritten) and its folder must.
pub fn check_output(output: &Path) -> Result<(), TransportError> {
    if output.exists() {
        return Err(TransportError::Output(format!(
            "{} already exists; it is not overwritten (choose another name or remove it)",
            output.display()
        )));
    }
    match output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(TransportError::Output(format!(
                "cannot write {}: the folder {} does not exist",
                output.display(),
                dir.display()
            )))
        }
        _ => Ok(()),
    }
}

/// Writes the file put together to `output` (never overwriting), and says
/// so on `log`.
pub fn write_output(
    decoded: &Decoded,
    output: &Path,
    log: &mut dyn Write,
) -> Result<(), TransportError> {
    ceremony::fsio::write_new(
        output,
        &decoded.bytes,
        &ceremony::fsio::WriteOptions::public(),
    )?;
    let _ = writeln!(
        log,
        "wrote {} ({} bytes)",
        output.display(),
        group_digits(decoded.bytes.len())
    );
    Ok(())
}
