//! `signer qr show|read`: files across the air gap as QR codes.
//!
//! The signer shows codes (the air-gapped laptop needs no camera) and reads
//! frames only as text, from a USB barcode scanner in keyboard mode or
//! pasted lines: it links no image decoder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{ArgGroup, Args, Subcommand};

use ceremony::transport::command::{self, ShowOptions, ShowOutput};
use ceremony::transport::qr::Ecc;
use ceremony::transport::DEFAULT_FRAGMENT;

/// `signer qr …`
#[derive(Args)]
pub struct QrArgs {
    #[command(subcommand)]
    command: QrCommand,
}

#[derive(Subcommand)]
enum QrCommand {
    /// Show a file (proposal, bundle, public key) as QR codes: animated in the terminal by default.
    #[command(
        after_help = "The frames are multi-part URs (ur:x-tuf-ceremony) of the deflated file: \
any N of them, in any order, or a few more when some are missed, give the file back.\n\n\
Examples:\n  signer qr show bundle.json                  (animated; Ctrl-C stops)\n  \
signer qr show bundle.json --html bundle.html  (one printable page)\n  \
signer qr show bundle.json --text > frames.txt\n  \
signer qr show bundle.json --png frames/ --frames 8"
    )]
    Show(ShowArgs),
    /// Put a file together again from frames typed by a barcode scanner or pasted, one per line.
    #[command(
        after_help = "Frames may come in any order, repeated or with gaps; blank lines are ignored. \
Progress goes to standard error. From standard input the read stops once the file is complete. \
The output is written only after the file's sha256 checks out, and never over an existing file.\n\n\
Examples:\n  signer qr read --text - -o proposal.json     (USB scanner in keyboard mode: scan, Enter)\n  \
signer qr read --text frames.txt -o proposal.json"
    )]
    Read(ReadArgs),
}

/// `qr show` arguments (shared with `signer sign --qr`).
#[derive(Args)]
#[command(group(ArgGroup::new("output").args(["text", "png", "svg", "html"])))]
pub struct ShowArgs {
    /// The file to show.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print the frames as UR text, one per line, on standard output.
    #[arg(long)]
    text: bool,
    /// Write one PNG per frame into DIR.
    #[arg(long, value_name = "DIR")]
    png: Option<PathBuf>,
    /// Write one SVG per frame into DIR.
    #[arg(long, value_name = "DIR")]
    svg: Option<PathBuf>,
    /// Write one printable HTML page with every frame, numbered.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[command(flatten)]
    options: QrShowOptions,
}

/// How frames are cut and drawn.
#[derive(Args, Clone)]
pub struct QrShowOptions {
    /// Largest fragment of the (deflated) file per frame, in bytes; smaller makes smaller codes and more frames.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_FRAGMENT)]
    fragment: usize,
    /// Number of frames to write or loop over [default: as many as needed; in the terminal, endless fountain frames].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    frames: Option<u32>,
    /// Frames per second in the terminal.
    #[arg(long, value_name = "N", default_value_t = 5.0, value_parser = parse_fps)]
    fps: f64,
    /// QR error-correction level: L (most data per code), M, Q or H.
    #[arg(long, value_name = "L|M|Q|H", default_value = "L")]
    ecc: Ecc,
}

fn parse_fps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.2..=30.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: give frames per second between 0.2 and 30")),
    }
}

impl QrShowOptions {
    fn to_options(&self, output: ShowOutput) -> ShowOptions {
        ShowOptions {
            output,
            fragment: self.fragment,
            frames: self.frames.map(|n| n as usize),
            fps: self.fps,
            ecc: self.ecc,
            stop_after: None,
        }
    }
}

#[derive(Args)]
struct ReadArgs {
    /// Read frames as text, one per line, from FILE, or from standard input with -.
    #[arg(long, value_name = "FILE|-")]
    text: PathBuf,
    /// Where to write the file put together (must not exist yet).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// Runs `signer qr …`.
pub fn run(args: QrArgs) -> Result<ExitCode> {
    match args.command {
        QrCommand::Show(args) => {
            let output = if args.text {
                ShowOutput::Text
            } else if let Some(d) = args.png {
                ShowOutput::Png(d)
            } else if let Some(d) = args.svg {
                ShowOutput::Svg(d)
            } else if let Some(f) = args.html {
                ShowOutput::Html(f)
            } else {
                ShowOutput::Terminal
            };
            show_file(&args.file, &args.options.to_options(output))?;
        }
        QrCommand::Read(args) => {
            command::check_output(&args.output)?;
            let decoded = read_text(&args.text)?;
            command::write_output(&decoded, &args.output, &mut std::io::stderr())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows `path` as QR codes, with a summary on standard error: what
/// `signer sign --qr` calls once the bundle is written, with
/// `ShowOptions::default()` (animated in the terminal until Ctrl-C).
pub fn show_file(path: &Path, options: &ShowOptions) -> Result<()> {
    let summary = command::show_file(path, options)
        .with_context(|| format!("cannot show {} as QR codes", path.display()))?;
    if summary.frames > 0 {
        let written = match summary.written.as_slice() {
            [] => String::new(),
            [one] => format!(" to {}", one.display()),
            [first, ..] => format!(" to {}", first.parent().unwrap_or(Path::new(".")).display()),
        };
        eprintln!("{summary}{written}");
    }
    Ok(())
}

/// Reads frames as text from `source` (`-` for standard input), with
/// progress on standard error, and returns the file put together and
/// checked: what `signer sign --qr-text` calls.
pub fn read_text(source: &Path) -> Result<ceremony::transport::Decoded> {
    command::read_text(source, &mut std::io::stderr()).with_context(|| {
        format!(
            "cannot put the file together from the frames in {}",
            if source == Path::new("-") {
                "standard input".to_string()
            } else {
                source.display().to_string()
            }
        )
    })
}
