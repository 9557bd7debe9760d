//! The photo pipeline on a 12-megapixel camera-like JPEG with an EXIF
//! orientation, side by side with `vipsthumbnail` (libvips) making the same
//! two outputs (display 1600 px and thumbnail 320 px, quality 80, metadata
//! stripped), alternating runs; medians reported.
//!
//! `cargo bench -p doorstep-tests --bench photo_pipeline`; with
//! `DOORSTEP_BENCH_QUICK=1` (as CI runs it) fewer runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use doorstep_shared::photo::{PhotoLimits, process};

const WIDTH: usize = 4000;
const HEIGHT: usize = 3000;

fn camera_file() -> Vec<u8> {
    doorstep_tests::camera_file(WIDTH, HEIGHT)
}

fn vips(input: &Path, dir: &Path) -> (Duration, u64) {
    let start = Instant::now();
    let mut bytes = 0;
    for (size, name) in [(1600, "display.jpg"), (320, "thumbnail.jpg")] {
        let output = dir.join(name);
        let status = Command::new("vipsthumbnail")
            .arg(input)
            .args(["--size", &size.to_string(), "-o"])
            .arg(format!("{}[Q=80,strip]", output.display()))
            .status()
            .expect("vipsthumbnail is not installed: ./scripts/setup.sh installs libvips-tools");
        assert!(status.success());
        bytes += std::fs::metadata(&output).unwrap().len();
    }
    (start.elapsed(), bytes)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let runs = if std::env::var_os("DOORSTEP_BENCH_QUICK").is_some() {
        3
    } else {
        11
    };
    let file = camera_file();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("camera.jpg");
    std::fs::write(&input, &file).unwrap();

    let limits = PhotoLimits::default();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_bytes, mut their_bytes) = (0, 0);
    for _ in 0..runs {
        let start = Instant::now();
        let out = process(&file, &limits).unwrap();
        ours.push(start.elapsed());
        assert_eq!(
            (out.display.width, out.display.height),
            (1200, 1600),
            "upright"
        );
        our_bytes = (out.display.jpeg.len() + out.thumbnail.jpeg.len()) as u64;

        let (time, bytes) = vips(&input, dir.path());
        theirs.push(time);
        their_bytes = bytes;
    }
    let (ours, theirs) = (median(ours), median(theirs));
    let ratio = ours.as_secs_f64() / theirs.as_secs_f64();
    println!(
        "photo_pipeline: {WIDTH}×{HEIGHT} JPEG ({} bytes, EXIF orientation 6), median of {runs} alternating runs",
        file.len()
    );
    println!("{:<14} {:>10} {:>14}", "system", "ms", "output bytes");
    println!(
        "{:<14} {:>10.1} {:>14}",
        "doorstep",
        ours.as_secs_f64() * 1000.0,
        our_bytes
    );
    println!(
        "{:<14} {:>10.1} {:>14}",
        "vipsthumbnail",
        theirs.as_secs_f64() * 1000.0,
        their_bytes
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "photo_pipeline",
            "runs": runs,
            "input_bytes": file.len(),
            "doorstep_ms": ours.as_secs_f64() * 1000.0,
            "vips_ms": theirs.as_secs_f64() * 1000.0,
            "ratio_doorstep_over_vips": ratio,
            "doorstep_output_bytes": our_bytes,
            "vips_output_bytes": their_bytes,
        })
    );
}
