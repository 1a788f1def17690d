//! Build script: stamps the build with facts `/api/health` reports.
//!
//! - `SCHEMA_VERSION`: the highest numbered migration in `migrations/`, so the health endpoint
//!   always names the schema the binary was built against (no hand-kept constant to forget).
//! - `BUILD_VERSION`: the crate version plus the git commit when built from a checkout.

use std::{fs, path::Path, process::Command};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=.git/HEAD");

    let schema_version = fs::read_dir(Path::new("migrations"))
        .map(|dir| {
            dir.filter_map(|entry| entry.ok())
                .filter_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    if !name.ends_with(".sql") {
                        return None;
                    }
                    name.split('_').next()?.parse::<u32>().ok()
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    println!("cargo:rustc-env=SCHEMA_VERSION={schema_version}");

    let commit = Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let version = match commit {
        Some(commit) => format!("{}+{commit}", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_string(),
    };
    println!("cargo:rustc-env=BUILD_VERSION={version}");
}
