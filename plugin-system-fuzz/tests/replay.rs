//! Replays the checked-in corpus of every fuzz target (`fuzz/corpus/<target>/`)
//! through the target's function, on stable: what the fuzzers found stays
//! fixed, in CI.
//!
//! A panic is a finding even when an engine catches it itself (wasmi's
//! compilation runs under `catch_unwind`): a panic hook counts every panic, and
//! the test fails when any happened.

use std::{
    panic::{self, AssertUnwindSafe},
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_replays_without_a_finding() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let mut failures = Vec::new();
    for &(target, run) in plugin_system_fuzz::TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "the corpus of `{target}` is empty");
        for file in files {
            let data = std::fs::read(&file).expect("a readable corpus file");
            let before = PANICS.load(Ordering::SeqCst);
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&data)));
            if outcome.is_err() || PANICS.load(Ordering::SeqCst) != before {
                failures.push(format!("{target}: {}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "findings:\n{}", failures.join("\n"));
}
