//! A mutation fuzzer for the targets in `doorstep_tests::fuzz`, on the
//! stable toolchain (cargo-fuzz needs a nightly one): it starts from the
//! target's committed corpus, mutates inputs with a seeded generator
//! (flips, insertions, deletions, repeats, splices, boundary numbers) for
//! the time it is given, runs each under `catch_unwind`, and keeps the
//! most that any one input raised the process's resident memory by (its
//! peak, reset before each input).
//!
//! `fuzz seed` writes each target's starting inputs into `tests/fuzz/`;
//! `fuzz <target> <seconds> [seed]` — prints one JSON line of figures;
//! exits 1 after writing a panicking input to `tests/fuzz/findings/`, or
//! if one input made the target hold more than `--max-mib` (256).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use doorstep_tests::fuzz::Target;

/// A line of `/proc/self/status`, in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
        })
        .map_or(0, |kib| kib * 1024)
}

/// Starts the peak resident size again from the current one (Linux:
/// writing 5 to `clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A small, seeded generator (SplitMix64): the same seed, the same run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const BOUNDARIES: [&[u8]; 8] = [
    &[0x00],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    b"\"\n,",
    &[0xef, 0xbb, 0xbf],
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..=rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(8) {
            0 if !input.is_empty() => {
                let at = rng.below(input.len());
                input[at] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let at = rng.below(input.len());
                input[at] = rng.next() as u8;
            }
            2 => input.insert(at, rng.next() as u8),
            3 if !input.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                let start = at.min(end);
                input.drain(start..end);
            }
            4 => {
                let boundary = BOUNDARIES[rng.below(BOUNDARIES.len())];
                input.splice(at..at, boundary.iter().copied());
            }
            5 if !input.is_empty() => {
                let start = rng.below(input.len());
                let end = (start + 1 + rng.below(64)).min(input.len());
                let piece = input[start..end].to_vec();
                for _ in 0..=rng.below(8) {
                    input.splice(
                        at.min(input.len())..at.min(input.len()),
                        piece.iter().copied(),
                    );
                }
            }
            6 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let start = rng.below(other.len() + 1);
                let end = (start + rng.below(256)).min(other.len());
                input.splice(at..at, other[start..end].iter().copied());
            }
            _ => input.truncate(at),
        }
    }
    input.truncate(4 * 1024 * 1024);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("seed") {
        // Writes each target's starting inputs into its corpus folder.
        for target in Target::ALL {
            let folder = target.corpus();
            let _ = std::fs::create_dir_all(&folder);
            for (name, bytes) in doorstep_tests::fuzz::seeds(target) {
                let _ = std::fs::write(folder.join(name), bytes);
            }
        }
        return;
    }
    let (Some(target), Some(seconds)) = (
        args.get(1).and_then(|name| Target::named(name)),
        args.get(2).and_then(|seconds| seconds.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: fuzz <wire|push|photo|service|csv> <seconds> [seed]");
        std::process::exit(2);
    };
    let seed = args.get(3).and_then(|seed| seed.parse().ok()).unwrap_or(1);
    let max_bytes = 256 * 1024 * 1024;
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(target.corpus())
        .map(|entries| {
            entries
                .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut executions: u64 = 0;
    let mut worst = 0usize;
    let mut seen = std::collections::HashSet::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let mut input = corpus[rng.below(corpus.len())].clone();
        mutate(&mut rng, &mut input, &corpus);
        reset_peak();
        let before = status_bytes("VmRSS");
        let outcome = std::panic::catch_unwind(|| target.run(&input));
        let held = status_bytes("VmHWM").saturating_sub(before);
        worst = worst.max(held);
        executions += 1;
        let over = held > max_bytes;
        if outcome.is_err() || over {
            let folder = target.corpus().join("../findings");
            let _ = std::fs::create_dir_all(&folder);
            let file = folder.join(format!("{}-{executions}", target.name()));
            let _ = std::fs::write(&file, &input);
            eprintln!(
                "{} on input {} (kept in {})",
                if over { "too much memory" } else { "panic" },
                executions,
                file.display()
            );
            std::process::exit(1);
        }
        // An input that makes the target allocate an amount never seen
        // (to a power of two) joins the corpus: a crude stand-in for
        // coverage that keeps inputs reaching deeper.
        if let Some(bucket) = held.checked_ilog2()
            && seen.insert((bucket, input.len().checked_ilog2()))
            && corpus.len() < 4096
        {
            corpus.push(input);
        }
    }
    // The inputs it found interesting join the committed corpus (a few,
    // and small ones), so CI runs them from then on.
    let seeded = std::fs::read_dir(target.corpus()).map_or(0, Iterator::count);
    let mut kept = 0;
    for input in corpus
        .iter()
        .skip(seeded)
        .filter(|input| input.len() <= 16 * 1024)
        .take(16)
    {
        let name = format!("found-{}", doorstep_shared::ids::BlobHash::of(input));
        if std::fs::write(target.corpus().join(&name[..22]), input).is_ok() {
            kept += 1;
        }
    }
    println!(
        "{{\"target\":\"{}\",\"seconds\":{seconds},\"seed\":{seed},\"executions\":{executions},\"panics\":0,\"peak_bytes_per_input\":{worst},\"kept\":{kept}}}",
        target.name()
    );
}
