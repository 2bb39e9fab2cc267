//! `qr show` and `qr read`, the same in both binaries: one definition of the
//! flags, the help and what the commands print, so that a frame shown by one
//! side is read by the other with the same words on both screens.
//!
//! The read side is generic over its arguments ([`ReadFrames`]): the signer
//! reads frames as text only (it links no image decoder), the submitter also
//! from pictures, and this crate, which the signer links, stays free of one.

mod args;
mod command;
mod terminal;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use ceremony::transport::Decoded;

pub use args::{read_text, show_file, QrShowOptions, ShowArgs};
pub use command::{finish, receive_batch, ShowOptions, ShowOutput};

/// What a binary's `qr read` arguments provide.
pub trait ReadFrames: Args {
    /// The binary's name, for the examples in the help.
    const BIN: &'static str;
    /// The examples in the help of `qr read`, one per line.
    const READ_EXAMPLES: &'static str;
    /// Where to write the file put together (must not exist yet).
    fn output(&self) -> &Path;
    /// Reads the frames (with progress on standard error) and returns the
    /// file put together and checked.
    fn read(&self) -> Result<Decoded>;
}

/// `BIN qr …`
#[derive(Args)]
pub struct QrArgs<R: ReadFrames> {
    #[command(subcommand)]
    command: QrCommand<R>,
}

#[derive(Subcommand)]
enum QrCommand<R: ReadFrames> {
    /// Show a file (proposal, bundle, public key) as QR codes: animated in the terminal by default.
    #[command(after_help = show_help(R::BIN))]
    Show(ShowArgs),
    /// Put a file together again from frames: text lines (a barcode scanner, pasted lines), or
    /// pictures where the binary can read them.
    #[command(after_help = read_help(R::READ_EXAMPLES))]
    Read(R),
}

fn show_help(bin: &str) -> String {
    format!(
        "The frames are multi-part URs (ur:x-tuf-ceremony) of the deflated file: \
any N of them, in any order, or a few more when some are missed, give the file back.\n\n\
Examples:\n  {bin} qr show bundle.json                  (animated; Ctrl-C stops)\n  \
{bin} qr show bundle.json --html bundle.html  (one printable page)\n  \
{bin} qr show bundle.json --text > frames.txt\n  \
{bin} qr show bundle.json --png frames/ --frames 8"
    )
}

fn read_help(examples: &str) -> String {
    format!(
        "Frames may come in any order, repeated or with gaps; blank lines are ignored. \
Progress goes to standard error. From standard input the read stops once the file is complete. \
The output is written only after the file's sha256 checks out, and never over an existing file.\n\n\
Examples:\n{examples}"
    )
}

/// Runs `BIN qr …`.
pub fn run<R: ReadFrames>(args: QrArgs<R>) -> Result<ExitCode> {
    match args.command {
        QrCommand::Show(args) => show_file(args.file(), &args.show_options())?,
        QrCommand::Read(args) => {
            command::check_output(args.output())?;
            let decoded = args.read()?;
            command::write_output(&decoded, args.output(), &mut std::io::stderr())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
