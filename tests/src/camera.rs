//! Camera-like JPEGs for tests and benchmarks: smooth gradients with
//! sensor-like noise from a fixed seed, stored rotated with an EXIF
//! orientation of 6, as phones held upright store them.

/// A `width` × `height` camera file at JPEG quality 92.
pub fn camera_file(width: usize, height: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 24) as i32 - 12
    };
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let base = [
                (x * 255 / width) as i32,
                (y * 255 / height) as i32,
                (((x + y) / 16) % 256) as i32,
            ];
            for channel in base {
                pixels.push((channel + noise()).clamp(0, 255) as u8);
            }
        }
    }
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 92);
    // Neither call fails for an in-memory buffer and a valid size.
    let _ = encoder.add_app_segment(1, exif);
    let _ = encoder.encode(
        &pixels,
        width as u16,
        height as u16,
        jpeg_encoder::ColorType::Rgb,
    );
    out
}
