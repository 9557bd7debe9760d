//! The photo pipeline: a camera file in, the renditions residents and
//! dispatchers see out. Pure functions (bytes in, bytes out), run on the
//! device before upload, so a 3 MB camera file becomes a few hundred KB.
//!
//! - JPEG and PNG are decoded; a JPEG is decoded already scaled down (the
//!   decoder's DCT scaling) to the smallest size at least as large as the
//!   display rendition, which is most of the saving on a 12 MP photo.
//! - The EXIF orientation is applied after resizing, on the small image.
//! - Two JPEGs are made: **display** (long edge 1600 px) and **thumbnail**
//!   (long edge 320 px), quality 80 with 4:2:0 chroma and optimised Huffman
//!   tables. Neither is ever enlarged.
//! - Renditions are encoded from pixels alone, so no EXIF, GPS or camera
//!   data survives. Capture time and place belong in the job document.
//! - Oversized files, decompression bombs, truncated or corrupt data and
//!   other formats are refused with a [`PhotoError`], never a panic.

use std::io::Cursor;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::blob::RenditionKind;
use crate::ids::{BlobHash, Name};
use crate::job::{GeoPoint, PhotoRef};
use crate::service::PhotoPolicy;
use crate::time::Timestamp;
use crate::transition::Actor;

/// Long edge of the display rendition, in pixels.
pub const DISPLAY_EDGE: u32 = 1600;
/// Long edge of the thumbnail, in pixels.
pub const THUMBNAIL_EDGE: u32 = 320;
/// JPEG quality of both renditions.
pub const QUALITY: u8 = 80;

/// What the pipeline accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoLimits {
    /// The largest file, in bytes.
    pub max_bytes: usize,
    /// The most pixels (width × height) an image may declare.
    pub max_pixels: u64,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        Self {
            max_bytes: 32 * 1024 * 1024,
            max_pixels: 64_000_000,
        }
    }
}

/// Why a photo was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// The file is too big.
    #[error("the photo is {bytes} bytes; the limit is {limit}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The image declares more pixels than allowed (a decompression bomb, or
    /// a panorama far beyond any camera's).
    #[error("the photo is {width} × {height} pixels; the limit is {limit} pixels")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit.
        limit: u64,
    },
    /// Not a JPEG or PNG.
    #[error("this is not a JPEG or PNG photo")]
    Unsupported,
    /// Truncated or corrupt data.
    #[error("the photo is damaged or incomplete: {0}")]
    Corrupt(String),
}

/// One JPEG rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The JPEG bytes.
    pub jpeg: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// SHA-256 of `jpeg`: the blob's name.
    pub hash: BlobHash,
}

/// What the pipeline makes of one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// Long edge 1600 px.
    pub display: Rendition,
    /// Long edge 320 px.
    pub thumbnail: Rendition,
    /// SHA-256 of the original file, for services that keep originals.
    pub original: BlobHash,
}

impl Processed {
    /// Whether the original is uploaded: only where the service keeps
    /// originals as staff-only evidence.
    fn keeps_original(policy: &PhotoPolicy) -> bool {
        policy.keep_originals
    }

    /// The photo's entry for a job or round document: the hashes of the
    /// renditions, and of the original only where the service keeps it.
    pub fn reference(
        &self,
        kind: Name,
        taken_by: Actor,
        taken_at: Timestamp,
        location: Option<GeoPoint>,
        policy: &PhotoPolicy,
    ) -> PhotoRef {
        PhotoRef {
            kind,
            taken_at,
            taken_by,
            location,
            display: Some(self.display.hash),
            thumbnail: Some(self.thumbnail.hash),
            original: Self::keeps_original(policy).then_some(self.original),
        }
    }

    /// What to upload, in order: the thumbnail first (lists need it), the
    /// display rendition, and the original (`file`) only where the service
    /// keeps originals; otherwise it stays on the device.
    pub fn uploads<'a>(
        &'a self,
        file: &'a [u8],
        policy: &PhotoPolicy,
    ) -> Vec<(RenditionKind, BlobHash, &'a [u8])> {
        let mut uploads = vec![
            (
                RenditionKind::Thumbnail,
                self.thumbnail.hash,
                self.thumbnail.jpeg.as_slice(),
            ),
            (
                RenditionKind::Display,
                self.display.hash,
                self.display.jpeg.as_slice(),
            ),
        ];
        if Self::keeps_original(policy) {
            uploads.push((RenditionKind::Original, self.original, file));
        }
        uploads
    }
}

/// An RGB image, 3 bytes a pixel, rows top to bottom.
struct Rgb {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

/// Makes the display and thumbnail renditions of a camera file.
pub fn process(file: &[u8], limits: &PhotoLimits) -> Result<Processed, PhotoError> {
    if file.len() > limits.max_bytes {
        return Err(PhotoError::TooLarge {
            bytes: file.len(),
            limit: limits.max_bytes,
        });
    }
    let (image, orientation) = if file.starts_with(&[0xff, 0xd8, 0xff]) {
        (decode_jpeg(file, limits)?, orientation(file))
    } else if file.starts_with(b"\x89PNG\r\n\x1a\n") {
        (decode_png(file, limits)?, 1)
    } else {
        return Err(PhotoError::Unsupported);
    };
    let display = fit(&image, DISPLAY_EDGE)?;
    let thumbnail = fit(&display, THUMBNAIL_EDGE)?;
    Ok(Processed {
        display: encode(&orient(display, orientation))?,
        thumbnail: encode(&orient(thumbnail, orientation))?,
        original: BlobHash::of(file),
    })
}

fn check_pixels(width: u32, height: u32, limits: &PhotoLimits) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt("the image has no pixels".into()));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

fn decode_jpeg(file: &[u8], limits: &PhotoLimits) -> Result<Rgb, PhotoError> {
    let corrupt = |e: jpeg_decoder::Error| PhotoError::Corrupt(e.to_string());
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(file));
    decoder.read_info().map_err(corrupt)?;
    let info = decoder
        .info()
        .ok_or_else(|| PhotoError::Corrupt("no image header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height, limits)?;
    // Decode at the smallest DCT scale that still covers the display size.
    let (target_w, target_h) = scaled_to(width, height, DISPLAY_EDGE);
    let (w, h) = decoder
        .scale(target_w as u16, target_h as u16)
        .map_err(corrupt)?;
    let data = decoder.decode().map_err(corrupt)?;
    let (width, height) = (u32::from(w), u32::from(h));
    let info = decoder
        .info()
        .ok_or_else(|| PhotoError::Corrupt("no image header".into()))?;
    let pixels = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => data,
        jpeg_decoder::PixelFormat::L8 => data.iter().flat_map(|&l| [l, l, l]).collect(),
        jpeg_decoder::PixelFormat::L16 => data
            .chunks_exact(2)
            .flat_map(|l| [l[0], l[0], l[0]])
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => data
            .chunks_exact(4)
            .flat_map(|p| {
                let k = u16::from(p[3]);
                let channel = |c: u8| ((u16::from(c) * k) / 255) as u8;
                [channel(p[0]), channel(p[1]), channel(p[2])]
            })
            .collect(),
    };
    if pixels.len() < (width * height * 3) as usize {
        return Err(PhotoError::Corrupt("the image data is incomplete".into()));
    }
    Ok(Rgb {
        width,
        height,
        pixels,
    })
}

fn decode_png(file: &[u8], limits: &PhotoLimits) -> Result<Rgb, PhotoError> {
    // The size is in the first chunk (IHDR): check it before the decoder
    // reads anything else, so a bomb is refused however it continues.
    if let (Some(b"IHDR"), Some(width), Some(height)) = (
        file.get(12..16),
        file.get(16..20)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes),
        file.get(20..24)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes),
    ) {
        check_pixels(width, height, limits)?;
    }
    let corrupt = |e: png::DecodingError| PhotoError::Corrupt(e.to_string());
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(file),
        png::Limits {
            bytes: (limits.max_pixels as usize).saturating_mul(8),
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let (width, height) = (reader.info().width, reader.info().height);
    check_pixels(width, height, limits)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| PhotoError::Corrupt("the image is too large to hold".into()))?;
    let mut buffer = vec![0; size];
    let frame = reader.next_frame(&mut buffer).map_err(corrupt)?;
    buffer.truncate(frame.buffer_size());
    // Transparent areas are shown on white, as a resident's browser would.
    let over_white = |value: u8, alpha: u8| {
        ((u16::from(value) * u16::from(alpha) + 255 * (255 - u16::from(alpha))) / 255) as u8
    };
    let pixels: Vec<u8> = match frame.color_type {
        png::ColorType::Rgb => buffer,
        png::ColorType::Rgba => buffer
            .chunks_exact(4)
            .flat_map(|p| {
                [
                    over_white(p[0], p[3]),
                    over_white(p[1], p[3]),
                    over_white(p[2], p[3]),
                ]
            })
            .collect(),
        png::ColorType::Grayscale => buffer.iter().flat_map(|&l| [l, l, l]).collect(),
        png::ColorType::GrayscaleAlpha => buffer
            .chunks_exact(2)
            .flat_map(|p| {
                let l = over_white(p[0], p[1]);
                [l, l, l]
            })
            .collect(),
        png::ColorType::Indexed => {
            return Err(PhotoError::Corrupt(
                "an indexed image was not expanded".into(),
            ));
        }
    };
    Ok(Rgb {
        width: frame.width,
        height: frame.height,
        pixels,
    })
}

/// The size of `width × height` with its long edge at most `edge`, keeping
/// the aspect ratio; never larger than it is.
fn scaled_to(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= edge {
        return (width, height);
    }
    let scale = |side: u32| {
        ((u64::from(side) * u64::from(edge) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    (scale(width), scale(height))
}

fn fit(image: &Rgb, edge: u32) -> Result<Rgb, PhotoError> {
    let (width, height) = scaled_to(image.width, image.height, edge);
    if (width, height) == (image.width, image.height) {
        return Ok(Rgb {
            width,
            height,
            pixels: image.pixels.clone(),
        });
    }
    let internal = |e: &dyn std::fmt::Display| PhotoError::Corrupt(e.to_string());
    let source = Image::from_vec_u8(
        image.width,
        image.height,
        image.pixels.clone(),
        PixelType::U8x3,
    )
    .map_err(|e| internal(&e))?;
    let mut target = Image::new(width, height, PixelType::U8x3);
    Resizer::new()
        .resize(
            &source,
            &mut target,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        )
        .map_err(|e| internal(&e))?;
    Ok(Rgb {
        width,
        height,
        pixels: target.into_vec(),
    })
}

/// The EXIF orientation (1 to 8) of a JPEG; 1 when absent or unreadable.
fn orientation(file: &[u8]) -> u32 {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(file))
        .ok()
        .and_then(|exif| {
            exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
                .and_then(|field| field.value.get_uint(0))
        })
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1)
}

/// Turns a stored image upright, as its EXIF orientation says.
fn orient(image: Rgb, orientation: u32) -> Rgb {
    if orientation == 1 {
        return image;
    }
    let (w, h) = (image.width as usize, image.height as usize);
    let swapped = orientation >= 5;
    let (out_w, out_h) = if swapped { (h, w) } else { (w, h) };
    let mut pixels = vec![0u8; w * h * 3];
    for y in 0..out_h {
        for x in 0..out_w {
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x),
            };
            let from = (sy * w + sx) * 3;
            let to = (y * out_w + x) * 3;
            pixels[to..to + 3].copy_from_slice(&image.pixels[from..from + 3]);
        }
    }
    Rgb {
        width: out_w as u32,
        height: out_h as u32,
        pixels,
    }
}

fn encode(image: &Rgb) -> Result<Rendition, PhotoError> {
    let mut jpeg = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, QUALITY);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    // Huffman tables fitted to the image: a few percent smaller files for
    // little time, which counts on a weak signal.
    encoder.set_optimized_huffman_tables(true);
    encoder
        .encode(
            &image.pixels,
            image.width as u16,
            image.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    Ok(Rendition {
        hash: BlobHash::of(&jpeg),
        jpeg,
        width: image.width,
        height: image.height,
    })
}
