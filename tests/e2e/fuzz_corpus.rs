//! The fuzz targets over their committed corpus (`tests/fuzz/<target>/`):
//! every input the fuzzer started from or found interesting is answered
//! without a panic, on every CI run. The long runs are by hand, with the
//! `fuzz` binary (README: Fuzzing).

use doorstep_tests::fuzz::Target;

#[test]
fn every_input_in_the_corpus_is_answered_without_a_panic() {
    let mut counts = Vec::new();
    for target in Target::ALL {
        let entries = std::fs::read_dir(target.corpus())
            .unwrap_or_else(|error| panic!("{}: {error}", target.corpus().display()));
        let mut inputs = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            let answered = std::panic::catch_unwind(|| target.run(&input));
            assert!(
                answered.is_ok(),
                "{} panicked on {}",
                target.name(),
                path.display()
            );
            inputs += 1;
        }
        assert!(inputs > 0, "{} has no corpus", target.name());
        counts.push(format!("{} {inputs}", target.name()));
    }
    println!("fuzz corpus: {}", counts.join(", "));
}
