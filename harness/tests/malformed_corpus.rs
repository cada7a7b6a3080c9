//! The malformed-input corpus (`tests/corpus/malformed/`, made by
//! `tests/corpus/make-malformed.py`): every file goes through `netpol check`
//! with no panic, no hang, bounded memory, and an error naming the file.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn every_malformed_file_is_rejected_naming_the_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/malformed");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 200, "the corpus holds {} files", names.len());
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .arg("check")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netpol check over the corpus did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let kib = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss();
    assert!(kib < 100 * 1024, "netpol check took {kib} KiB");
    let lines: Vec<&str> = stdout.lines().collect();
    let unnamed: Vec<&String> = names
        .iter()
        .filter(|f| {
            // "INVALID FILE", then a problem line "FILE:LINE:COLUMN: ..." or "FILE:...".
            !lines
                .windows(2)
                .any(|w| w[0] == format!("INVALID {f}") && w[1].starts_with(&format!("{f}:")))
        })
        .collect();
    assert!(
        unnamed.is_empty(),
        "{} files not rejected with an error naming them: {unnamed:?}\n{stdout}",
        unnamed.len()
    );
}
