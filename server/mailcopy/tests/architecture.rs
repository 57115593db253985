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
