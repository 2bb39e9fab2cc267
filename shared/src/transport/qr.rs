//! Frames as QR codes: the module matrix, and its renderings as SVG, PNG,
//! Unicode half blocks and one printable HTML page.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{group_digits, PayloadInfo, TransportError};

/// Quiet zone around every code, in modules (what ISO/IEC 18004 asks).
pub const QUIET: usize = 4;

/// Error-correction level of the QR codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ecc {
    /// About 7 % of the code may be lost: most data per code. Screens and
    /// clean prints.
    #[default]
    L,
    /// About 15 %.
    M,
    /// About 25 %.
    Q,
    /// About 30 %.
    H,
}

impl FromStr for Ecc {
    type Err = String;
    fn from_str(s: &str) -> Result<Ecc, String> {
        match s.to_ascii_uppercase().as_str() {
            "L" => Ok(Ecc::L),
            "M" => Ok(Ecc::M),
            "Q" => Ok(Ecc::Q),
            "H" => Ok(Ecc::H),
            _ => Err(format!(
                "{s:?} is not an error-correction level: L, M, Q or H"
            )),
        }
    }
}

impl std::fmt::Display for Ecc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ecc::L => "L",
            Ecc::M => "M",
            Ecc::Q => "Q",
            Ecc::H => "H",
        })
    }
}

impl From<Ecc> for qrcode::EcLevel {
    fn from(e: Ecc) -> qrcode::EcLevel {
        match e {
            Ecc::L => qrcode::EcLevel::L,
            Ecc::M => qrcode::EcLevel::M,
            Ecc::Q => qrcode::EcLevel::Q,
            Ecc::H => qrcode::EcLevel::H,
        }
    }
}

/// One QR code: a square of dark and light modules, without quiet zone.
#[derive(Clone, Debug)]
pub struct QrCode {
    width: usize,
    version: i16,
    dark: Vec<bool>,
}

impl QrCode {
    /// The smallest QR code holding `text` at level `ecc` (uppercase UR
    /// text goes in alphanumeric mode).
    pub fn new(text: &str, ecc: Ecc) -> Result<QrCode, TransportError> {
        let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), ecc.into())
            .map_err(|_| TransportError::QrTooLarge(text.len()))?;
        let version = match code.version() {
            qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
        };
        Ok(QrCode {
            width: code.width(),
            version,
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == qrcode::Color::Dark)
                .collect(),
        })
    }

    /// The QR version, 1 (21×21 modules) to 40 (177×177).
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at (`x`, `y`) is dark; outside the code (in the
    /// quiet zone) it is light.
    pub fn is_dark(&self, x: isize, y: isize) -> bool {
        let w = self.width as isize;
        (0..w).contains(&x) && (0..w).contains(&y) && self.dark[(y * w + x) as usize]
    }

    /// An SVG of the code, `module` user units per module, with the quiet
    /// zone, as one path (crisp at any scale).
    pub fn to_svg(&self, module: usize) -> String {
        let side = (self.width + 2 * QUIET) * module;
        let mut path = String::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if self.dark[y * self.width + x] {
                    let start = x;
                    while x < self.width && self.dark[y * self.width + x] {
                        x += 1;
                    }
                    let _ = write!(
                        path,
                        "M{} {}h{}v{}h-{}z",
                        (start + QUIET) * module,
                        (y + QUIET) * module,
                        (x - start) * module,
                        module,
                        (x - start) * module
                    );
                } else {
                    x += 1;
                }
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" width=\"{side}\" height=\"{side}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
        )
    }

    /// A black-and-white PNG of the code, `module` pixels per module, with
    /// the quiet zone.
    pub fn to_png(&self, module: usize) -> Result<Vec<u8>, TransportError> {
        let module = module.max(1);
        let side = (self.width + 2 * QUIET) * module;
        let row_bytes = side.div_ceil(8);
        let mut data = vec![0u8; row_bytes * side];
        for py in 0..side {
            let my = (py / module) as isize - QUIET as isize;
            for px in 0..side {
                let mx = (px / module) as isize - QUIET as isize;
                if !self.is_dark(mx, my) {
                    // 1 is white in a 1-bit greyscale PNG.
                    data[py * row_bytes + px / 8] |= 0x80 >> (px % 8);
                }
            }
        }
        let mut out = Vec::new();
        let png_error =
            |e: png::EncodingError| TransportError::Output(format!("cannot encode a PNG: {e}"));
        {
            let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::One);
            let mut writer = enc.write_header().map_err(png_error)?;
            writer.write_image_data(&data).map_err(png_error)?;
            writer.finish().map_err(png_error)?;
        }
        Ok(out)
    }

    /// Terminal cells (columns, rows) the half-block rendering takes with a
    /// quiet zone of `quiet` modules.
    pub fn cells(&self, quiet: usize) -> (usize, usize) {
        let side = self.width + 2 * quiet;
        (side, side.div_ceil(2))
    }

    /// The code as Unicode half blocks, two modules per character cell,
    /// with a quiet zone of `quiet` modules. With `ansi`, each line sets
    /// black on white explicitly, so the code reads the right way round on a
    /// dark terminal too; without, dark modules are drawn as ink (right for
    /// a file or paper, inverted on a dark terminal).
    pub fn to_half_blocks(&self, quiet: usize, ansi: bool) -> String {
        let (cols, rows) = self.cells(quiet);
        let q = quiet as isize;
        let mut out = String::with_capacity(rows * (cols * 3 + 24));
        for row in 0..rows as isize {
            if ansi {
                out.push_str("\x1b[38;5;16;48;5;231m");
            }
            for col in 0..cols as isize {
                let top = self.is_dark(col - q, 2 * row - q);
                let bottom = 2 * row + 1 < cols as isize && self.is_dark(col - q, 2 * row + 1 - q);
                out.push(match (top, bottom) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                });
            }
            if ansi {
                out.push_str("\x1b[0m");
            }
            out.push('\n');
        }
        out
    }
}

/// Image formats for [`write_images`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// `frame-001.png`, …
    Png,
    /// `frame-001.svg`, …
    Svg,
}

/// Pixels (PNG) or user units (SVG) per module in written images: a
/// version-17 code becomes 744 pixels wide, easy for any camera.
pub const IMAGE_MODULE: usize = 8;

/// Writes one image per frame into `dir` (created if missing), named
/// `frame-001.png` and so on; refuses to overwrite any existing frame
/// image, so that frames of two files are never mixed in one folder.
pub fn write_images(
    dir: &Path,
    frames: &[String],
    format: ImageFormat,
    ecc: Ecc,
) -> Result<Vec<PathBuf>, TransportError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| TransportError::io(format!("cannot create {}", dir.display()), e))?;
    let ext = match format {
        ImageFormat::Png => "png",
        ImageFormat::Svg => "svg",
    };
    let digits = frames.len().to_string().len().max(3);
    let paths: Vec<PathBuf> = (1..=frames.len())
        .map(|i| dir.join(format!("frame-{i:0digits$}.{ext}")))
        .collect();
    let existing = std::fs::read_dir(dir)
        .map_err(|e| TransportError::io(format!("cannot list {}", dir.display()), e))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("frame-") && (n.ends_with(".png") || n.ends_with(".svg")));
    if let Some(name) = existing {
        return Err(TransportError::Output(format!(
            "{} already holds frame images ({name}); frames of two files must not mix: choose an empty folder",
            dir.display()
        )));
    }
    for (frame, path) in frames.iter().zip(&paths) {
        let code = QrCode::new(frame, ecc)?;
        let bytes = match format {
            ImageFormat::Png => code.to_png(IMAGE_MODULE)?,
            ImageFormat::Svg => code.to_svg(IMAGE_MODULE).into_bytes(),
        };
        crate::fsio::write_new(path, &bytes, &crate::fsio::WriteOptions::public())?;
    }
    Ok(paths)
}

/// One self-contained printable HTML page: the file's name, kind, size and
/// sha256 (to compare with what the reader shows), then every frame,
/// numbered, as inline SVG.
pub fn html_page(
    name: &str,
    info: &PayloadInfo,
    frames: &[String],
    fragment_count: usize,
    ecc: Ecc,
) -> Result<String, TransportError> {
    let sha = info.sha256_hex();
    let sha_groups: Vec<&str> = (0..8).map(|i| &sha[i * 8..i * 8 + 8]).collect();
    let name = crate::html::escape(name);
    let mut figures = String::new();
    let mut version = 0;
    for (i, frame) in frames.iter().enumerate() {
        let code = QrCode::new(frame, ecc)?;
        version = version.max(code.version());
        let label = frame.split('/').nth(1).unwrap_or("");
        let _ = writeln!(
            figures,
            "<figure><div class=\"n\">{n}</div>{svg}<figcaption>frame {n} of {total} · {label}{extra}</figcaption></figure>",
            n = i + 1,
            total = frames.len(),
            svg = code.to_svg(4),
            extra = if i >= fragment_count { " · extra (fountain)" } else { "" },
        );
    }
    let extra = frames.len().saturating_sub(fragment_count);
    let need = if extra > 0 {
        format!(
            "Any {fragment_count} of the {} frames, or a few more, are usually enough: frames {}–{} are fountain frames that stand in for ones that do not scan.",
            frames.len(),
            fragment_count + 1,
            frames.len()
        )
    } else {
        format!("Every one of the {fragment_count} frames is needed.")
    };
    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{name} as QR codes · tuf-ceremony</title>
<style>
body {{ font-family: sans-serif; margin: 1.5cm; color: #000; background: #fff; }}
h1 {{ font-size: 1.3em; margin: 0 0 .4em; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; }}
td {{ padding: .15em .8em .15em 0; vertical-align: top; }}
code {{ font-family: monospace; font-size: 1.05em; }}
.frames {{ display: flex; flex-wrap: wrap; gap: .8cm; }}
figure {{ margin: 0; width: 8cm; break-inside: avoid; page-break-inside: avoid; position: relative; }}
figure svg {{ width: 8cm; height: 8cm; display: block; }}
figcaption {{ font-size: .85em; text-align: center; }}
.n {{ position: absolute; top: -.2em; left: -.2em; font-weight: bold; font-size: 1.4em; }}
@page {{ margin: 1cm; }}
@media print {{ body {{ margin: 0; }} }}
</style></head>
<body>
<h1>{name}: {kind} as {count} QR codes</h1>
<table>
<tr><td>file</td><td><code>{name}</code> ({kind}, {bytes} bytes{compressed})</td></tr>
<tr><td>sha256</td><td><code>{sha_spaced}</code></td></tr>
<tr><td>frames</td><td>{count} (QR version {version}, error correction {ecc}), type <code>ur:x-tuf-ceremony</code></td></tr>
</table>
<p>Scan the frames in any order with <code>submitter qr read</code> (or <code>signer qr read --text</code>, from a scanner).
{need} Before using the file, compare its sha256, which the reader prints, with the one above.</p>
<div class="frames">
{figures}</div>
</body></html>
"#,
        kind = info.kind,
        count = frames.len(),
        bytes = group_digits(info.length),
        compressed = if info.compressed {
            ", sent deflated"
        } else {
            ""
        },
        sha_spaced = sha_groups.join(" "),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uppercase_ur_uses_alphanumeric_mode() {
        // 400 alphanumeric characters fit version 11 at L; the same text
        // in lowercase goes in byte mode and needs version 13.
        let text = format!("UR:X-TUF-CEREMONY/1-4/{}", "LP".repeat(189));
        assert_eq!(text.len(), 400);
        assert_eq!(QrCode::new(&text, Ecc::L).unwrap().version(), 11);
        let lower = QrCode::new(&text.to_ascii_lowercase(), Ecc::L).unwrap();
        assert_eq!(lower.version(), 13);
    }

    #[test]
    fn renderings_have_the_quiet_zone() {
        let code = QrCode::new("UR:X-TUF-CEREMONY/1-1/LPAD", Ecc::M).unwrap();
        let w = code.width();
        let blocks = code.to_half_blocks(QUIET, false);
        assert_eq!(blocks.lines().count(), (w + 8).div_ceil(2));
        assert!(blocks.lines().all(|l| l.chars().count() == w + 8));
        assert!(blocks.lines().next().unwrap().trim().is_empty());
        let svg = code.to_svg(IMAGE_MODULE);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let png = code.to_png(3).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn ecc_parses() {
        assert_eq!("m".parse::<Ecc>().unwrap(), Ecc::M);
        assert!("x".parse::<Ecc>().is_err());
    }
}
