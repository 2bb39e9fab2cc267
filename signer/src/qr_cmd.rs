//! `signer qr show|read`: files across the air gap as QR codes.
//!
//! The signer shows codes (the air-gapped laptop needs no camera) and reads
//! frames only as text, from a USB barcode scanner in keyboard mode or
//! pasted lines: it links no image decoder. The commands themselves are
//! `ceremony_cli::qr`'s; this file says only where frames come from.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use ceremony::transport::Decoded;
use ceremony_cli::qr::ReadFrames;
pub use ceremony_cli::qr::{read_text, show_file};

/// `signer qr read` arguments.
#[derive(Args)]
pub struct ReadArgs {
    /// Read frames as text, one per line, from FILE, or from standard input with -.
    #[arg(long, value_name = "FILE|-")]
    text: PathBuf,
    /// Where to write the file put together (must not exist yet).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

impl ReadFrames for ReadArgs {
    const BIN: &'static str = "signer";
    const READ_EXAMPLES: &'static str = "  signer qr read --text - -o proposal.json     (USB scanner in keyboard mode: scan, Enter)\n  \
signer qr read --text frames.txt -o proposal.json";
    fn output(&self) -> &Path {
        &self.output
    }
    fn read(&self) -> Result<Decoded> {
        read_text(&self.text)
    }
}
