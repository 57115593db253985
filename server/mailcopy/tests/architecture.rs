//! Architecture invariant: the copy engine depends on no web or database code, directly or
//! transitively. Checked with `cargo tree` over the locked dependency graph.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "axum",
    "leptos",
    "leptos_axum",
    "rusqlite",
    "libsqlite3-sys",
    "deadpool-sqlite",
    "hyper",
];

#[test]
fn engine_has_no_web_or_database_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            "mailcopy",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"async-imap"),
        "unexpected tree output: {tree}"
    );
    for forbidden in FORBIDDEN {
        assert!(
            !crates.contains(forbidden),
            "mailcopy depends on {forbidden}:\n{tree}"
        );
    }
}

#[test]
fn engine_sources_import_no_web_or_database_crates() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                checked += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines() {
                    let line = line.trim_start();
                    for forbidden in ["axum", "leptos", "rusqlite"] {
                        assert!(
                            !(line.starts_with(&format!("use {forbidden}"))
                                || line.contains(&format!("{forbidden}::"))),
                            "{} mentions {forbidden}: {line}",
                            path.display()
                        );
                    }
                }
            }
        }
    }
    assert!(checked > 0);
}

/// Each engine source file is small enough to read in one sitting: at most 800 lines before
/// its tests.
#[test]
fn engine_source_files_stay_small() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut too_big = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let before_tests = text
                    .lines()
                    .take_while(|l| !l.starts_with("#[cfg(test)]"))
                    .count();
                if before_tests > 800 {
                    too_big.push(format!("{} ({before_tests} lines)", path.display()));
                }
            }
        }
    }
    assert!(
        too_big.is_empty(),
        "over 800 lines before tests: {too_big:?}"
    );
}

/// async-imap is used before login only (greeting, STARTTLS, pre-login CAPABILITY, in
/// `connect.rs` and the error mapping of those steps); everything after goes through the
/// engine's own protocol layer (`src/imap/`). Nothing in the transport inspects IMAP bytes.
#[test]
fn one_protocol_path_after_login() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let code: String = text
                .lines()
                .take_while(|l| !l.starts_with("#[cfg(test)]"))
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            if !matches!(rel.as_str(), "connect.rs" | "error.rs") {
                assert!(
                    !code.contains("async_imap"),
                    "{rel} uses async-imap: after login, IMAP goes through src/imap/"
                );
            }
            if rel == "stream.rs" {
                for word in ["capture", "\"* ", "NAMESPACE", "STATUS"] {
                    assert!(
                        !code.contains(word),
                        "stream.rs inspects IMAP bytes ({word})"
                    );
                }
            }
        }
    }
}

/// Every path the codemap of ARCHITECTURE.md names exists: paths with a `/` from the
/// repository root, bare file names somewhere under the directory named last before them.
#[test]
fn codemap_paths_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let codemap = doc
        .split("## Codemap")
        .nth(1)
        .expect("ARCHITECTURE.md has a Codemap section");
    let codemap = codemap.split("\n## ").next().unwrap_or(codemap);
    let mut checked = 0;
    let mut missing = Vec::new();
    let mut last_dir = root.clone();
    for (i, chunk) in codemap.split('`').enumerate() {
        // Odd chunks are inside backticks.
        if i % 2 == 0 || chunk.contains(' ') || chunk.contains("::") || chunk.starts_with("--") {
            continue;
        }
        let has_ext = [".rs", ".md", ".toml", ".ts", ".css", ".sh", ".py", ".json"]
            .iter()
            .any(|e| chunk.ends_with(e));
        // Build outputs are not in the repository.
        if chunk.starts_with("target/") || !(chunk.contains('/') || has_ext) {
            continue;
        }
        checked += 1;
        if chunk.contains('/') {
            let path = root.join(chunk.trim_end_matches('/'));
            if !path.exists() {
                missing.push(chunk.to_string());
            } else if path.is_dir() {
                last_dir = path;
            } else if let Some(parent) = path.parent() {
                last_dir = parent.to_path_buf();
            }
        } else if !exists_under(&last_dir, chunk) {
            missing.push(format!("{chunk} (under {})", last_dir.display()));
        }
    }
    assert!(checked > 40, "the codemap names only {checked} paths");
    assert!(
        missing.is_empty(),
        "named in the codemap but missing: {missing:?}"
    );
}

fn exists_under(dir: &std::path::Path, name: &str) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == name) {
                return true;
            }
            if path.is_dir() && !path.ends_with("node_modules") && !path.ends_with("target") {
                stack.push(path);
            }
        }
    }
    false
}
