//! QR frames read from photos and screenshots (PNG, JPEG), with `rxing`.
//!
//! Only the submitter reads images: the signer links no image decoder.
//! `rxing` is used without its `image` feature; the picture is decoded here
//! with the `image` crate (PNG and JPEG only) and handed over as grey
//! levels, which keeps every other codec out of the build.

use ceremony_cli::eprintln;
use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rxing::common::HybridBinarizer;
use rxing::multi::qrcode::QRCodeMultiReader;
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8LuminanceSource};

use ceremony::transport::{Decoded, Decoder};
use ceremony_cli::qr as command;

/// The largest picture side decoded as it is; larger photos are scaled
/// down first (a phone's 12-megapixel photo of one code needs no more), so
/// rxing never sees more than 3000 × 3000 grey levels.
const MAX_SIDE: u32 = 3000;

/// The largest picture file read: a phone's photo is a few MB, a PNG
/// screenshot of a large screen some tens.
const MAX_PICTURE_FILE: u64 = 64 << 20;

/// The most pixels decoded: a 50-megapixel camera's photo. Checked from the
/// header before decoding: a 470 KB PNG may claim 22000 × 22000 pixels,
/// which decode to 1.5 GiB.
const MAX_PIXELS: u64 = 50_000_000;

/// The longest side of a picture may be at most this many times its
/// shortest: a row of codes on a page or a triple screen, not a sliver
/// (rxing spent 25 s and 1 GiB on an 83-byte picture of 3000 × 1 pixels).
const MAX_ASPECT: u32 = 8;

/// The smallest side that can hold a QR code (21 modules, one pixel each).
const MIN_SIDE: u32 = 21;

/// A picture refused before it is decoded.
#[derive(Debug)]
pub enum PictureError {
    /// More pixels than [`MAX_PIXELS`].
    TooManyPixels {
        /// Width in pixels, from the header.
        width: u32,
        /// Height in pixels, from the header.
        height: u32,
    },
    /// Too narrow, too flat or too small to hold a QR code.
    Shape {
        /// Width in pixels, from the header.
        width: u32,
        /// Height in pixels, from the header.
        height: u32,
    },
}

impl std::fmt::Display for PictureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PictureError::TooManyPixels { width, height } => write!(
                f,
                "the picture is {width} × {height} pixels, more than the {} megapixels this reader decodes: scale it down or crop it to the QR codes",
                MAX_PIXELS / 1_000_000
            ),
            PictureError::Shape { width, height } => write!(
                f,
                "the picture is {width} × {height} pixels, which cannot hold a QR code (each side at least {MIN_SIDE} pixels, the longer at most {MAX_ASPECT} times the shorter): take a photo or screenshot of the codes themselves"
            ),
        }
    }
}

impl std::error::Error for PictureError {}

/// Refuses a picture whose size no photo of QR codes has, before a byte of
/// it is decoded.
fn check_dimensions(width: u32, height: u32) -> Result<(), PictureError> {
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PictureError::TooManyPixels { width, height });
    }
    if !shape_holds_a_code(width, height, MAX_ASPECT) {
        return Err(PictureError::Shape { width, height });
    }
    Ok(())
}

fn shape_holds_a_code(width: u32, height: u32, max_aspect: u32) -> bool {
    let (short, long) = (width.min(height), width.max(height));
    short >= MIN_SIDE && u64::from(long) <= u64::from(short) * u64::from(max_aspect)
}

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
    let bytes = ceremony::fsio::read_bounded(path, MAX_PICTURE_FILE)?;
    let not_a_picture = || {
        format!(
            "{} is not a PNG or JPEG picture this tool can read",
            path.display()
        )
    };
    let reader = || {
        image::ImageReader::new(Cursor::new(&bytes))
            .with_guessed_format()
            .expect("reading from memory does not fail")
    };
    let (width, height) = reader().into_dimensions().with_context(not_a_picture)?;
    check_dimensions(width, height).with_context(|| format!("{} refused", path.display()))?;
    let mut decoder = reader();
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    decoder.limits(limits);
    let picture = decoder.decode().with_context(not_a_picture)?;
    let picture = if picture.width().max(picture.height()) > MAX_SIDE {
        picture.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle)
    } else {
        picture
    };
    let luma = picture.to_luma8();
    let (w, h) = luma.dimensions();
    Ok(codes_in_luma(luma.into_raw(), w, h))
}

/// The texts of every QR code in a grey-level picture, `w` × `h`, at most
/// [`MAX_SIDE`] a side and of a shape [`check_dimensions`] accepts, give or
/// take the rounding of scaling down (what [`codes_in_image`] hands over;
/// anything else finds nothing).
fn codes_in_luma(luma: Vec<u8>, w: u32, h: u32) -> Vec<String> {
    if w.max(h) > MAX_SIDE
        || luma.len() as u64 != u64::from(w) * u64::from(h)
        || !shape_holds_a_code(w, h, 2 * MAX_ASPECT)
    {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_no_photo_of_codes_has_are_refused() {
        for (w, h) in [(22_000, 22_000), (10_000, 5_001)] {
            assert!(matches!(
                check_dimensions(w, h),
                Err(PictureError::TooManyPixels { .. })
            ));
        }
        for (w, h) in [(3000, 1), (1, 3000), (3000, 374), (20, 100), (0, 0)] {
            assert!(
                matches!(check_dimensions(w, h), Err(PictureError::Shape { .. })),
                "{w}×{h}"
            );
        }
        for (w, h) in [
            (21, 21),
            (3000, 375),
            (4000, 3000),
            (8000, 6000),
            (375, 3000),
        ] {
            assert!(check_dimensions(w, h).is_ok(), "{w}×{h}");
        }
    }

    #[test]
    fn rxing_is_given_only_bounded_pictures() {
        assert!(codes_in_luma(vec![255; 3000], 3000, 1).is_empty());
        assert!(codes_in_luma(vec![255; 10], 3000, 3000).is_empty());
        assert!(codes_in_luma(vec![255; 4000 * 100], 4000, 100).is_empty());
    }
}
