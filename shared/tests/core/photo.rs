//! The photo pipeline: upright output for every EXIF orientation, no
//! metadata out, sizes and limits, and refusals without panics.

use doorstep_shared::photo::{DISPLAY_EDGE, PhotoError, PhotoLimits, THUMBNAIL_EDGE, process};
use rstest::rstest;

const RED: [u8; 3] = [220, 30, 30];
const GREEN: [u8; 3] = [30, 200, 30];
const BLUE: [u8; 3] = [30, 30, 220];
const WHITE: [u8; 3] = [250, 250, 250];

/// An upright test card: red top-left, green top-right, blue bottom-left,
/// white bottom-right.
fn card(width: usize, height: usize) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let colour = match (x < width / 2, y < height / 2) {
                (true, true) => RED,
                (false, true) => GREEN,
                (true, false) => BLUE,
                (false, false) => WHITE,
            };
            pixels.extend_from_slice(&colour);
        }
    }
    pixels
}

/// How a camera stores an upright scene under each EXIF orientation: the
/// inverse of what the viewer must do.
fn stored_as(
    upright: &[u8],
    width: usize,
    height: usize,
    orientation: u32,
) -> (Vec<u8>, usize, usize) {
    // Orientations 6 and 8 undo each other; the others undo themselves.
    let undo = match orientation {
        6 => 8,
        8 => 6,
        other => other,
    };
    let (out_w, out_h) = if undo >= 5 {
        (height, width)
    } else {
        (width, height)
    };
    let mut out = vec![0; upright.len()];
    for y in 0..out_h {
        for x in 0..out_w {
            let (sx, sy) = match undo {
                1 => (x, y),
                2 => (width - 1 - x, y),
                3 => (width - 1 - x, height - 1 - y),
                4 => (x, height - 1 - y),
                5 => (y, x),
                6 => (y, height - 1 - x),
                7 => (width - 1 - y, height - 1 - x),
                _ => (width - 1 - y, x),
            };
            let from = (sy * width + sx) * 3;
            let to = (y * out_w + x) * 3;
            out[to..to + 3].copy_from_slice(&upright[from..from + 3]);
        }
    }
    (out, out_w, out_h)
}

/// An EXIF block with an orientation and a GPS position, as phones write.
fn exif(orientation: u16) -> Vec<u8> {
    let mut tiff = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes()); // two entries
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    // A GPS IFD pointer to an (empty) IFD right after this one.
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    tiff
}

fn jpeg(pixels: &[u8], width: usize, height: usize, orientation: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 95);
    if let Some(orientation) = orientation {
        encoder.add_app_segment(1, exif(orientation)).unwrap();
    }
    encoder
        .encode(
            pixels,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

fn decoded(jpeg: &[u8]) -> (Vec<u8>, usize, usize) {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    let pixels = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    (pixels, info.width as usize, info.height as usize)
}

fn close(a: &[u8], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 40)
}

#[rstest]
fn every_exif_orientation_comes_out_upright(#[values(1, 2, 3, 4, 5, 6, 7, 8)] orientation: u32) {
    let (w, h) = (160, 96);
    let (stored, sw, sh) = stored_as(&card(w, h), w, h, orientation);
    let file = jpeg(&stored, sw, sh, Some(orientation as u16));

    let out = process(&file, &PhotoLimits::default()).unwrap();
    let (pixels, ow, oh) = decoded(&out.display.jpeg);
    assert_eq!(
        (ow, oh),
        (w, h),
        "orientation {orientation}: not enlarged, upright"
    );
    let at = |x: usize, y: usize| &pixels[(y * ow + x) * 3..(y * ow + x) * 3 + 3];
    assert!(
        close(at(w / 4, h / 4), RED),
        "orientation {orientation}: top-left {:?}",
        at(w / 4, h / 4)
    );
    assert!(
        close(at(3 * w / 4, h / 4), GREEN),
        "orientation {orientation}: top-right"
    );
    assert!(
        close(at(w / 4, 3 * h / 4), BLUE),
        "orientation {orientation}: bottom-left"
    );
    assert!(
        close(at(3 * w / 4, 3 * h / 4), WHITE),
        "orientation {orientation}: bottom-right"
    );
}

#[test]
fn no_exif_or_gps_reaches_either_rendition() {
    let file = jpeg(&card(64, 64), 64, 64, Some(1));
    assert!(
        file.windows(6).any(|w| w == b"Exif\0\0"),
        "the input has EXIF"
    );
    let out = process(&file, &PhotoLimits::default()).unwrap();
    for rendition in [&out.display.jpeg, &out.thumbnail.jpeg] {
        assert!(!rendition.windows(4).any(|w| w == b"Exif"), "EXIF survived");
        assert!(
            !rendition.windows(2).any(|w| w == [0xff, 0xe1]),
            "an APP1 segment survived"
        );
    }
}

#[test]
fn a_large_photo_becomes_a_1600_display_and_a_320_thumbnail() {
    let (w, h) = (4000, 3000);
    let out = process(&jpeg(&card(w, h), w, h, None), &PhotoLimits::default()).unwrap();
    assert_eq!(
        (out.display.width, out.display.height),
        (DISPLAY_EDGE, 1200)
    );
    assert_eq!(
        (out.thumbnail.width, out.thumbnail.height),
        (THUMBNAIL_EDGE, 240)
    );
    assert_eq!(decoded(&out.display.jpeg).1, DISPLAY_EDGE as usize);
    assert_eq!(
        out.display.hash,
        doorstep_shared::ids::BlobHash::of(&out.display.jpeg)
    );
}

#[test]
fn a_png_is_accepted_and_transparency_shows_on_white() {
    let (w, h) = (40u32, 20u32);
    let mut file = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut file, w, h);
        encoder.set_color(png::ColorType::Rgba);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&vec![0u8; (w * h * 4) as usize])
            .unwrap();
    }
    let out = process(&file, &PhotoLimits::default()).unwrap();
    let (pixels, _, _) = decoded(&out.display.jpeg);
    assert!(close(&pixels[..3], WHITE), "{:?}", &pixels[..3]);
}

#[test]
fn a_decompression_bomb_is_refused_before_it_is_decoded() {
    // A PNG header declaring 100,000 × 100,000 pixels, and nothing else.
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    file.extend_from_slice(&13u32.to_be_bytes());
    file.extend_from_slice(&ihdr);
    let crc = crc32(&ihdr);
    file.extend_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        process(&file, &PhotoLimits::default()),
        Err(PhotoError::TooManyPixels { width: 100_000, .. })
    ));
    // The same for a JPEG whose header claims a huge frame.
    let small = jpeg(&card(16, 16), 16, 16, None);
    let limits = PhotoLimits {
        max_pixels: 100,
        ..PhotoLimits::default()
    };
    assert!(matches!(
        process(&small, &limits),
        Err(PhotoError::TooManyPixels { .. })
    ));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn truncated_oversized_and_unsupported_files_are_refused_with_their_reason() {
    let file = jpeg(&card(64, 64), 64, 64, None);
    for cut in [3, 20, file.len() / 2, file.len() - 2] {
        let result = process(&file[..cut], &PhotoLimits::default());
        assert!(
            matches!(result, Err(PhotoError::Corrupt(_))),
            "cut at {cut}: {result:?}"
        );
    }
    let tiny = PhotoLimits {
        max_bytes: 100,
        ..PhotoLimits::default()
    };
    assert!(matches!(
        process(&file, &tiny),
        Err(PhotoError::TooLarge { limit: 100, .. })
    ));
    for other in [&b"GIF89a......"[..], b"BM......", b"", b"hello"] {
        assert_eq!(
            process(other, &PhotoLimits::default()),
            Err(PhotoError::Unsupported)
        );
    }
}
