//! Puts the commit the binary was built from into `paychan --version` (`PAYCHAN_COMMIT`):
//! `git describe`'s short hash, with `-dirty` when the tree had changes, or `unknown` when
//! the source is not a git checkout (a crate download).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|text| !text.is_empty())
}

fn main() {
    let commit = git(&[
        "describe",
        "--always",
        "--dirty",
        "--abbrev=12",
        "--exclude=*",
    ])
    .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PAYCHAN_COMMIT={commit}");
    // Built again when the checkout moves to another commit.
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]).unwrap_or_default();
    for path in ["HEAD", "index", "packed-refs", branch.as_str()]
        .into_iter()
        .filter(|name| !name.is_empty())
        .filter_map(|name| git(&["rev-parse", "--git-path", name]))
    {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
