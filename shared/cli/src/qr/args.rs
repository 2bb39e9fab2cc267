//! The `qr show` command line, shared by both binaries so that `signer qr`
//! and `submitter qr` take the same flags and say the same things.

use crate::eprintln;
use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args};

use super::command::{self, ShowOptions, ShowOutput};
use anyhow::{Context as _, Result};
use ceremony::transport::qr::Ecc;
use ceremony::transport::{Decoded, DEFAULT_FRAGMENT};

/// `qr show` arguments.
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
    /// The options for [`super::command::show_file`].
    pub fn to_options(&self, output: ShowOutput) -> ShowOptions {
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

impl ShowArgs {
    /// Where and how to show the file, from the flags.
    pub fn show_options(&self) -> ShowOptions {
        let output = if self.text {
            ShowOutput::Text
        } else if let Some(d) = &self.png {
            ShowOutput::Png(d.clone())
        } else if let Some(d) = &self.svg {
            ShowOutput::Svg(d.clone())
        } else if let Some(f) = &self.html {
            ShowOutput::Html(f.clone())
        } else {
            ShowOutput::Terminal
        };
        self.options.to_options(output)
    }

    /// The file to show.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

/// Shows `path` as QR codes, with a one-line summary on standard error.
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
/// checked.
pub fn read_text(source: &Path) -> Result<Decoded> {
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
