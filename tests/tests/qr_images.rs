//! Frames as pictures: PNGs written by `qr show --png`, then scaled by
//! non-integer factors, blurred, saved as JPEG, or put together on one
//! page, read back by `submitter qr read --image` (rxing).

mod qr_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ceremony_tests::binary;
use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, Luma};
use qr_support::{assert_ok, crossing_files};

/// Writes `file` as frame PNGs with `signer qr show --png`; returns them.
fn png_frames(dir: &Path, name: &str, file: &[u8], frames: Option<usize>) -> Vec<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, file).unwrap();
    let out_dir = dir.join(format!("{name}-png"));
    let mut cmd = Command::new(binary("signer"));
    cmd.args(["qr", "show"])
        .arg(&path)
        .arg("--png")
        .arg(&out_dir);
    if let Some(n) = frames {
        cmd.args(["--frames", &n.to_string()]);
    }
    assert_ok(&cmd.output().unwrap(), "signer qr show --png");
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pngs.sort();
    pngs
}

fn read_images(images: &[PathBuf], output: &Path) -> Output {
    Command::new(binary("submitter"))
        .args(["qr", "read", "--image"])
        .args(images)
        .arg("-o")
        .arg(output)
        .output()
        .unwrap()
}

// Image operations go through `DynamicImage`'s own (non-generic) methods:
// they are compiled, optimised, inside the image crate, where generic
// `imageops` calls would be compiled into this unoptimised test.
fn load(path: &Path) -> DynamicImage {
    DynamicImage::ImageLuma8(image::open(path).unwrap().to_luma8())
}

fn scale(img: &DynamicImage, factor: f64, filter: FilterType) -> DynamicImage {
    let w = (f64::from(img.width()) * factor).round() as u32;
    let h = (f64::from(img.height()) * factor).round() as u32;
    img.resize_exact(w, h, filter)
}

/// Transforms every frame picture with `f`, saves it as `ext`, and checks
/// that the submitter puts the file together from them.
fn check_variant(
    dir: &Path,
    label: &str,
    pngs: &[PathBuf],
    file: &[u8],
    ext: &str,
    f: impl Fn(&DynamicImage) -> DynamicImage,
) {
    let vdir = dir.join(label);
    std::fs::create_dir_all(&vdir).unwrap();
    let mut images = Vec::new();
    for (i, png) in pngs.iter().enumerate() {
        let out = vdir.join(format!("{i}.{ext}"));
        f(&load(png)).save(&out).unwrap();
        images.push(out);
    }
    let output = dir.join(format!("{label}.json"));
    let out = read_images(&images, &output);
    assert_ok(&out, label);
    assert_eq!(std::fs::read(&output).unwrap(), file, "{label}");
}

#[test]
fn frame_pngs_are_read_back_by_the_submitter() {
    let dir = tempfile::tempdir().unwrap();
    for (name, file) in crossing_files() {
        let pngs = png_frames(dir.path(), name, &file, None);
        let output = dir.path().join(format!("{name}.out"));
        let out = read_images(&pngs, &output);
        assert_ok(&out, name);
        assert_eq!(std::fs::read(&output).unwrap(), file, "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("1 QR code(s)"), "{stderr}");
        assert!(stderr.contains("complete: "), "{stderr}");
    }
}

#[test]
fn scaled_blurred_and_jpeg_pictures_are_read() {
    let dir = tempfile::tempdir().unwrap();
    // The Ed25519 bundle: 4 frames of QR version 17, the largest codes the
    // default fragment makes.
    let (name, file) = crossing_files().remove(0);
    let pngs = png_frames(dir.path(), name, &file, None);
    let d = dir.path();
    check_variant(d, "x1.7-bilinear", &pngs, &file, "png", |i| {
        scale(i, 1.7, FilterType::Triangle)
    });
    check_variant(d, "x2.3-bicubic", &pngs, &file, "png", |i| {
        scale(i, 2.3, FilterType::CatmullRom)
    });
    check_variant(d, "x0.8-shrunk", &pngs, &file, "png", |i| {
        scale(i, 0.8, FilterType::Triangle)
    });
    check_variant(d, "x1.7-blurred", &pngs, &file, "png", |i| {
        scale(i, 1.7, FilterType::Triangle).blur(1.2)
    });
    check_variant(d, "x2.3-blurred-jpeg", &pngs, &file, "jpg", |i| {
        scale(i, 2.3, FilterType::CatmullRom).blur(1.5)
    });
    // A grey, low-contrast, unevenly stretched photo of a screen.
    check_variant(d, "grey-stretched", &pngs, &file, "jpg", |i| {
        i.resize_exact(
            (f64::from(i.width()) * 1.9) as u32,
            (f64::from(i.height()) * 1.6) as u32,
            FilterType::Triangle,
        )
        .adjust_contrast(-45.0)
        .brighten(-20)
        .blur(0.8)
    });
}

#[test]
fn one_picture_of_the_printed_page_holds_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let (name, file) = crossing_files().remove(0);
    let pngs = png_frames(dir.path(), name, &file, Some(6));
    // Two columns of codes on a white page, slightly scaled as a photo is.
    let codes: Vec<GrayImage> = pngs
        .iter()
        .map(|p| scale(&load(p), 0.9, FilterType::Triangle).to_luma8())
        .collect();
    let side = codes[0].width();
    let gap = 40;
    let rows = codes.len().div_ceil(2) as u32;
    let mut page =
        GrayImage::from_pixel(2 * side + 3 * gap, rows * (side + gap) + gap, Luma([255]));
    for (i, c) in codes.iter().enumerate() {
        let (x, y) = (
            (i as u32 % 2) * (side + gap) + gap,
            (i as u32 / 2) * (side + gap) + gap,
        );
        imageops::overlay(&mut page, c, i64::from(x), i64::from(y));
    }
    let page_path = dir.path().join("page.png");
    page.save(&page_path).unwrap();
    let output = dir.path().join("out.json");
    let out = read_images(&[page_path], &output);
    assert_ok(&out, "page");
    assert_eq!(std::fs::read(&output).unwrap(), file);
}

#[test]
fn pictures_without_codes_or_of_another_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = crossing_files();
    let blank = dir.path().join("blank.png");
    GrayImage::from_pixel(300, 200, Luma([200]))
        .save(&blank)
        .unwrap();
    let a = png_frames(dir.path(), files[0].0, &files[0].1, None);
    let b = png_frames(dir.path(), files[2].0, &files[2].1, None);

    let output = dir.path().join("out.json");
    let out = read_images(&[blank.clone(), a[0].clone()], &output);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("blank.png: no QR code found"), "{stderr}");
    assert!(stderr.contains("not enough frames"), "{stderr}");

    let out = read_images(&[a[0].clone(), b[0].clone()], &output);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("frame of a different file"), "{stderr}");
    assert!(!output.exists());

    let not_a_picture = dir.path().join("notes.png");
    std::fs::write(&not_a_picture, b"hello").unwrap();
    let out = read_images(&[not_a_picture], &output);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a PNG or JPEG picture"));
}

/// The half-block rendering `qr show` prints is the code: redrawn as
/// pixels (each character cell two modules high), it reads back.
#[test]
fn the_terminal_rendering_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (name, file) = crossing_files().remove(0);
    let path = dir.path().join(name);
    std::fs::write(&path, &file).unwrap();
    let out = Command::new(binary("signer"))
        .args(["qr", "show"])
        .arg(&path)
        .output()
        .unwrap();
    assert_ok(&out, "qr show (no terminal)");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut images = Vec::new();
    for (i, block) in text.split("\n\n").filter(|b| b.contains('█')).enumerate() {
        let rows: Vec<&str> = block.lines().filter(|l| !l.contains(" · frame ")).collect();
        let cols = rows.iter().map(|r| r.chars().count()).max().unwrap() as u32;
        let px = 4;
        let mut img = GrayImage::from_pixel(cols * px, rows.len() as u32 * 2 * px, Luma([255]));
        for (y, row) in rows.iter().enumerate() {
            for (x, c) in row.chars().enumerate() {
                let (top, bottom) = match c {
                    '█' => (true, true),
                    '▀' => (true, false),
                    '▄' => (false, true),
                    _ => (false, false),
                };
                for (half, dark) in [(0, top), (1, bottom)] {
                    if dark {
                        for dy in 0..px {
                            for dx in 0..px {
                                let py = (y as u32 * 2 + half) * px + dy;
                                img.put_pixel(x as u32 * px + dx, py, Luma([0]));
                            }
                        }
                    }
                }
            }
        }
        let p = dir.path().join(format!("screen-{i}.png"));
        img.save(&p).unwrap();
        images.push(p);
    }
    assert_eq!(images.len(), 4);
    let output = dir.path().join("out.json");
    assert_ok(&read_images(&images, &output), "reading the screen");
    assert_eq!(std::fs::read(&output).unwrap(), file);
}

/// A PNG made by hand: `width` × `height` white grey pixels, which deflate
/// to almost nothing (22000 × 22000 is a 470 KB file).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    use std::io::Write;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let mut row = vec![255u8; width as usize + 1];
    row[0] = 0; // no filter
    for _ in 0..height {
        z.write_all(&row).unwrap();
    }
    let idat = z.finish().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn pictures_no_photo_of_codes_has_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    // 22000 × 22000 pixels (484 megapixels, 1.5 GiB decoded); then a
    // sliver of 3000 × 1 (rxing once spent 25 s and 1 GiB on one); then
    // 3000 × 300, ten times as wide as high.
    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, png_claiming(22_000, 22_000)).unwrap();
    let sliver = dir.path().join("sliver.png");
    GrayImage::from_pixel(3000, 1, Luma([255]))
        .save(&sliver)
        .unwrap();
    assert!(std::fs::metadata(&sliver).unwrap().len() < 200);
    let flat = dir.path().join("flat.png");
    std::fs::write(&flat, png_claiming(3000, 300)).unwrap();
    let started = std::time::Instant::now();
    for (picture, says) in [
        (&huge, "22000 × 22000 pixels, more than the 50 megapixels"),
        (&sliver, "3000 × 1 pixels, which cannot hold a QR code"),
        (&flat, "3000 × 300 pixels, which cannot hold a QR code"),
    ] {
        let out = read_images(std::slice::from_ref(picture), &output);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.contains("refused"), "{stderr}");
        assert!(!output.exists());
    }
    // A backstop only: refusing from the header takes milliseconds.
    assert!(started.elapsed().as_secs() < 60);
}
