//! `submitter qr show|read`: files across the air gap as QR codes.
//!
//! The submitter shows codes (a proposal going to the signer) and reads
//! frames as text (a USB barcode scanner in keyboard mode, `zbarcam --raw`,
//! pasted lines) or from photos and screenshots (see `qr_image`). The
//! commands themselves are `ceremony_cli::qr`'s; this file says only where
//! frames come from.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{ArgGroup, Args};

use ceremony::transport::Decoded;
pub use ceremony_cli::qr::read_text;
use ceremony_cli::qr::ReadFrames;

/// `submitter qr read` arguments.
#[derive(Args)]
#[command(group(ArgGroup::new("input").args(["text", "image"]).required(true)))]
pub struct ReadArgs {
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

impl ReadFrames for ReadArgs {
    const BIN: &'static str = "submitter";
    const READ_EXAMPLES: &'static str =
        "  zbarcam --raw --nodisplay | submitter qr read --text - -o bundle.json\n  \
submitter qr read --text frames.txt -o bundle.json\n  \
submitter qr read --image IMG_0412.jpg IMG_0413.jpg screenshot.png -o bundle.json";
    fn output(&self) -> &Path {
        &self.output
    }
    fn read(&self) -> Result<Decoded> {
        match &self.text {
            Some(source) => read_text(source),
            None => crate::qr_image::read_images(&self.image),
        }
    }
}
