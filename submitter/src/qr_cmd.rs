//! `submitter qr show|read`: files across the air gap as QR codes.
//!
//! The submitter shows codes (a proposal going to the signer) and reads
//! frames as text (a USB barcode scanner in keyboard mode, `zbarcam --raw`,
//! pasted lines) or from photos and screenshots (see `qr_image`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand};

use ceremony::transport::cli::{self, ShowArgs};
use ceremony::transport::command::{self, ShowOptions};

/// `submitter qr …`
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
Examples:\n  submitter qr show bundle.json                  (animated; Ctrl-C stops)\n  \
submitter qr show bundle.json --html bundle.html  (one printable page)\n  \
submitter qr show bundle.json --text > frames.txt\n  \
submitter qr show bundle.json --png frames/ --frames 8"
    )]
    Show(ShowArgs),
    /// Put a file together again from frames: text lines (scanner, zbarcam, pasted) or pictures.
    #[command(
        after_help = "Frames may come in any order, repeated or with gaps; blank lines are ignored. \
Progress goes to standard error. From standard input the read stops once the file is complete. \
The output is written only after the file's sha256 checks out, and never over an existing file.\n\n\
Examples:\n  zbarcam --raw --nodisplay | submitter qr read --text - -o bundle.json\n  \
submitter qr read --text frames.txt -o bundle.json\n  \
submitter qr read --image IMG_0412.jpg IMG_0413.jpg screenshot.png -o bundle.json"
    )]
    Read(ReadArgs),
}

#[derive(Args)]
#[command(group(ArgGroup::new("input").args(["text", "image"]).required(true)))]
struct ReadArgs {
    /// Read frames as text, one per line, from FILE, or from standard input with -.
    #[arg(long, value_name = "FILE|-")]
    text: Option<PathBuf>,
    /// Read the QR codes in these pictures (PNG or JPEG photos or screenshots; any order, several codes per picture).
    #[arg(long, value_name = "IMG", num_args = 1..)]
    image: Vec<PathBuf>,
    /// Where to write the file put together (must not exist yet).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// Runs `submitter qr …`.
pub fn run(args: QrArgs) -> Result<ExitCode> {
    match args.command {
        QrCommand::Show(args) => show_file(args.file(), &args.show_options())?,
        QrCommand::Read(args) => {
            command::check_output(&args.output)?;
            let decoded = match &args.text {
                Some(source) => read_text(source)?,
                None => crate::qr_image::read_images(&args.image)?,
            };
            command::write_output(&decoded, &args.output, &mut std::io::stderr())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows `path` as QR codes, with a summary on standard error.
pub fn show_file(path: &Path, options: &ShowOptions) -> Result<()> {
    cli::show_file(path, options).map_err(anyhow::Error::msg)
}

/// Reads frames as text from `source` (`-` for standard input), with
/// progress on standard error; the file put together and checked.
pub fn read_text(source: &Path) -> Result<ceremony::transport::Decoded> {
    cli::read_text(source).map_err(anyhow::Error::msg)
}
