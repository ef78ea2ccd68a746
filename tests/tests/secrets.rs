//! No secret reaches the worker's output: planted in the configuration (a
//! secret-named key, a credentials string where a map is expected), it is
//! absent from stdout, stderr and the JSON log lines of a failed start.

use jobenrich_system_tests::binary;
use std::process::Command;

#[test]
fn the_worker_never_prints_or_logs_a_planted_secret() {
    let dir = tempfile::tempdir().unwrap();
    let configs = [
        // A misspelled section holding a token: refused by name, value unseen.
        "auth:\n  bearer: PLANTED-1\n",
        // A string where the BigQuery credentials map is expected.
        "storage:\n  backend: bigquery\n  bigquery:\n    project: p\n    dataset: d\n    credentials: PLANTED-2\n    service_account_json: PLANTED-3\n",
    ];
    for (n, yaml) in configs.iter().enumerate() {
        let path = dir.path().join(format!("c{n}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        let output = Command::new(binary("jobenrich-worker"))
            .arg("--config")
            .arg(&path)
            .args(["--log-format", "json"])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "trace")
            .output()
            .expect("running the worker");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !output.status.success(),
            "the worker started with {yaml}: {all}"
        );
        assert!(!all.contains("PLANTED"), "a secret was printed: {all}");
        assert!(
            all.contains(if n == 0 {
                "auth.bearer"
            } else {
                "storage.bigquery"
            }),
            "{all}"
        );
    }
}
