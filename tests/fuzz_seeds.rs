//! The fuzz targets' seeds (`fuzz/seeds/<target>/`) and crash reproducers
//! (`fuzz/regressions/<target>/`) as regular tests, through the same functions `cargo fuzz`
//! runs (`sessionward::fuzzing`, see fuzz/README.md). A seed named `valid*` must be accepted.

use std::fs;
use std::path::Path;

/// Runs every file of `fuzz/seeds/<name>/` and `fuzz/regressions/<name>/` through `target`;
/// there must be at least one seed.
fn run(name: &str, target: fn(&[u8]) -> bool) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut seeds = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = fs::read_dir(fuzz.join(dir).join(name)) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|entry| entry.unwrap().path()).collect();
        files.sort();
        for file in files {
            let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
            if file_name == "README.md" {
                continue;
            }
            let data = fs::read(&file).unwrap();
            let accepted = target(&data);
            if file_name.starts_with("valid") {
                assert!(accepted, "{} was not accepted", file.display());
            }
            seeds += usize::from(dir == "seeds");
        }
    }
    assert!(seeds > 0, "no seeds for {name} in {}", fuzz.display());
}

#[test]
fn request_headers() {
    run("request_headers", sessionward::fuzzing::request_headers);
}

#[cfg(feature = "jwt")]
#[test]
fn jwt() {
    run("jwt", sessionward::fuzzing::jwt);
}

#[cfg(feature = "jwt")]
#[test]
fn refresh_token() {
    run("refresh_token", sessionward::fuzzing::refresh_token);
}

#[test]
fn session_token() {
    run("session_token", sessionward::fuzzing::session_token);
}

#[cfg(any(
    feature = "redis",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql"
))]
#[test]
fn stored_record() {
    run("stored_record", sessionward::fuzzing::stored_record);
}
