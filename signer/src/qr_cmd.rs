//! `signer qr show|read`: files across the air gap as QR codes.
//!
//! The signer shows codes (the air-gapped laptop needs no camera) and reads
//! frames only as text, from a USB barcode scanner in keyboard mode or
//! pasted lines: it links no image decoder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use ceremony::transport::cli::{self, ShowArgs};
use ceremony::transport::command::{self, ShowOptions};

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
        QrCommand::Show(args) => show_file(args.file(), &args.show_options())?,
        QrCommand::Read(args) => {
            command::check_output(&args.output)?;
            let decoded = read_text(&args.text)?;
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
