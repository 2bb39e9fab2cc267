//! QR frames read from photos and screenshots (PNG, JPEG), with `rxing`.
//!
//! Only the submitter reads images: the signer links no image decoder.
//! `rxing` is used without its `image` feature; the picture is decoded here
//! with the `image` crate (PNG and JPEG only) and handed over as grey
//! levels, which keeps every other codec out of the build.

use ceremony_cli::eprintln;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rxing::common::HybridBinarizer;
use rxing::multi::qrcode::QRCodeMultiReader;
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8LuminanceSource};

use ceremony::transport::{Decoded, Decoder};
use ceremony_cli::qr as command;

/// The largest picture side decoded as it is; larger photos are scaled
/// down first (a phone's 12-megapixel photo of one code needs no more).
const MAX_SIDE: u32 = 3000;

fn hints() -> DecodeHints {
    DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some(HashSet::from([BarcodeFormat::QR_CODE])),
        ..DecodeHints::default()
    }
}

/// The texts of every QR code found in the picture at `path` (none is not
/// an error: the picture may be blurred; the caller says so).
pub fn codes_in_image(path: &Path) -> Result<Vec<String>> {
    let picture = image::ImageReader::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read {}", path.display()))?
        .decode()
        .with_context(|| {
            format!(
                "{} is not a PNG or JPEG picture this tool can read",
                path.display()
            )
        })?;
    let picture = if picture.width().max(picture.height()) > MAX_SIDE {
        picture.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle)
    } else {
        picture
    };
    let luma = picture.to_luma8();
    let (w, h) = luma.dimensions();
    Ok(codes_in_luma(luma.into_raw(), w, h))
}

/// The texts of every QR code in a grey-level picture, `w` × `h`.
pub fn codes_in_luma(luma: Vec<u8>, w: u32, h: u32) -> Vec<String> {
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let mut texts: Vec<String> = Vec::new();
    fn add(texts: &mut Vec<String>, t: &str) {
        if !texts.iter().any(|x| x == t) {
            texts.push(t.to_string());
        }
    }
    // Several codes (a photo of the printed page): rxing's QR multi
    // reader, and the generic one, which finds a code and searches the
    // rest of the picture around it. Then one code the hard way, then with
    // rxing's image filtering, for poor photos.
    if let Ok(source) = Luma8LuminanceSource::new(luma.clone(), w, h) {
        let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
        if let Ok(results) =
            QRCodeMultiReader::new().decode_multiple_with_hints(&mut bitmap, &hints())
        {
            results.iter().for_each(|r| add(&mut texts, r.getText()));
        }
        let mut generic = GenericMultipleBarcodeReader::new(rxing::qrcode::QRCodeReader::new());
        if let Ok(results) = generic.decode_multiple_with_hints(&mut bitmap, &hints()) {
            results.iter().for_each(|r| add(&mut texts, r.getText()));
        }
    }
    if texts.is_empty() {
        if let Ok(r) = rxing::helpers::detect_in_luma_with_hints(
            luma.clone(),
            w,
            h,
            Some(BarcodeFormat::QR_CODE),
            &mut hints(),
        ) {
            add(&mut texts, r.getText());
        }
    }
    if texts.is_empty() {
        if let Ok(r) = rxing::helpers::detect_in_luma_filtered_with_hints(
            luma,
            w,
            h,
            Some(BarcodeFormat::QR_CODE),
            &mut hints(),
        ) {
            add(&mut texts, r.getText());
        }
    }
    texts
}

/// Puts a file together from the QR codes in `images` (any order, any
/// number of codes per picture), with progress on standard error: what
/// `submitter upload --qr-image` calls.
pub fn read_images(images: &[PathBuf]) -> Result<Decoded> {
    let mut log = std::io::stderr();
    let mut decoder = Decoder::new();
    let mut empty = Vec::new();
    for (i, path) in images.iter().enumerate() {
        let texts = codes_in_image(path)?;
        if texts.is_empty() {
            eprintln!("{}: no QR code found", path.display());
            empty.push(path.display().to_string());
            continue;
        }
        eprintln!("{}: {} QR code(s)", path.display(), texts.len());
        command::receive_batch(&mut decoder, &texts, i + 1, &mut log)
            .with_context(|| format!("in {}", path.display()))?;
    }
    command::finish(decoder, &mut log).with_context(|| {
        if empty.is_empty() {
            "cannot put the file together from these pictures".to_string()
        } else {
            format!(
                "cannot put the file together from these pictures (no code found in {}: try a sharper photo, closer, without glare)",
                empty.join(", ")
            )
        }
    })
}
