//! The shell CI example (`examples/ci.sh`) runs as documented against this build's `adsim`.

use std::process::Command;

#[test]
fn the_shell_ci_example_passes() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ci.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("ADSIM", env!("CARGO_BIN_EXE_adsim"))
        .env_remove("ADSIM_CONTROL_URL")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "examples/ci.sh failed:\n{stdout}\n{stderr}");
    for step in [
        "adsim ready: ldaps://",
        "created gMSA",
        "WEB02 refused",
        "rotated:",
        "log: plain text",
        "ok",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    // Only fingerprints are printed, never the password blob.
    assert!(!stdout.contains("msDS-ManagedPassword::"), "{stdout}");
}
