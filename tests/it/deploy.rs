//! The deployment examples under deploy/, checked offline: the Kubernetes manifests against
//! a schema of the Job and volume-claim fields they use (unknown keys refused), their
//! cross-references (mounts name volumes, SHARDS matches completions, the merge step reads
//! the shards' volume), the GitHub Actions matrix against its merge job, and every
//! mergebench command line in them against mergebench's own argument parser. The Swarm
//! example runs for real in `scale`.

use crate::fixture::bin;
use serde_json::Value;
use std::path::Path;

fn yaml_docs(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_yaml::Value =
                serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}"));
            serde_json::to_value(v).unwrap()
        })
        .collect()
}

/// A mergebench command line from an example, with its shell variables filled in, is one
/// mergebench accepts: it fails (no such suite here, or no such store) for a reason of its
/// own, never for an unknown flag.
fn parses(line: &str) {
    let line = line
        .replace("$((JOB_COMPLETION_INDEX + 1))", "1")
        .replace("$SHARDS", "4")
        .replace("${{ matrix.shard }}", "1")
        .replace("${{ env.SHARDS }}", "4")
        .replace('"', "");
    let words: Vec<&str> = line.split_whitespace().collect();
    let start = words
        .iter()
        .position(|w| w.ends_with("mergebench"))
        .unwrap();
    let args: Vec<String> = words[start + 1..]
        .iter()
        .map(|w| w.replace("tasks/demo", "/nonexistent/suite"))
        .collect();
    let out = bin().args(&args).arg("--help").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("unexpected argument"),
        "`mergebench {}` is not a command mergebench accepts: {err}",
        args.join(" ")
    );
    // And without --help it gets past argument parsing.
    let tmp = tempfile::tempdir().unwrap();
    let out = bin().current_dir(tmp.path()).args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("unexpected argument") && !err.contains("Usage:"),
        "`mergebench {}`: {err}",
        args.join(" ")
    );
}

#[test]
fn the_kubernetes_manifests_are_well_formed_and_agree_with_each_other() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/deploy/k8s-job.schema.json").unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let shards = yaml_docs("deploy/kubernetes/shards.yaml");
    let merge = yaml_docs("deploy/kubernetes/merge.yaml");
    for doc in shards.iter().chain(&merge) {
        let errors: Vec<String> = validator
            .iter_errors(doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", doc["metadata"]["name"]);
        if doc["kind"] == "Job" {
            let spec = &doc["spec"]["template"]["spec"];
            let volumes: Vec<&str> = spec["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["name"].as_str().unwrap())
                .collect();
            for c in spec["containers"].as_array().unwrap() {
                for m in c["volumeMounts"].as_array().unwrap() {
                    assert!(
                        volumes.contains(&m["name"].as_str().unwrap()),
                        "{m} names no volume"
                    );
                }
                let line = c["args"][0].as_str().unwrap();
                for part in line.split("&&") {
                    parses(part);
                }
            }
        }
    }
    let claim = shards
        .iter()
        .find(|d| d["kind"] == "PersistentVolumeClaim")
        .unwrap();
    assert!(claim["spec"]["accessModes"]
        .as_array()
        .unwrap()
        .contains(&"ReadWriteMany".into()));
    let job = shards.iter().find(|d| d["kind"] == "Job").unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], job["spec"]["parallelism"]);
    let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
    let shards_env = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SHARDS")
        .unwrap();
    assert_eq!(
        shards_env["value"].as_str().unwrap(),
        job["spec"]["completions"].to_string()
    );
    let args = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(
        args.contains("--shard \"$((JOB_COMPLETION_INDEX + 1))/$SHARDS\""),
        "{args}"
    );
    // The merge step reads the volume the shards wrote.
    let claim_of = |doc: &Value| {
        doc["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|v| {
                v["persistentVolumeClaim"]["claimName"]
                    .as_str()
                    .map(str::to_string)
            })
    };
    assert_eq!(claim_of(job), claim_of(&merge[0]));
    assert_eq!(claim_of(job).as_deref(), claim["metadata"]["name"].as_str());
    // A typo is caught: the schema is not a formality.
    let mut typo = job.clone();
    typo["spec"]["completionsMode"] = "Indexed".into();
    assert!(!validator.is_valid(&typo));
}

#[test]
fn the_github_actions_matrix_runs_every_shard_and_merges_them() {
    let wf = &yaml_docs("deploy/github-actions/mergebench-shards.yml")[0];
    let n: u64 = wf["env"]["SHARDS"].as_u64().unwrap();
    let matrix: Vec<u64> = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(matrix, (1..=n).collect::<Vec<_>>());
    assert_eq!(wf["jobs"]["merge"]["needs"], "shard");
    let runs = |job: &str| -> Vec<String> {
        wf["jobs"][job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str().map(str::to_string))
            .collect()
    };
    let shard_run = runs("shard")
        .into_iter()
        .find(|r| r.contains("--shard"))
        .unwrap();
    assert!(
        shard_run.contains("--shard ${{ matrix.shard }}/${{ env.SHARDS }}"),
        "{shard_run}"
    );
    for r in runs("shard").iter().chain(&runs("merge")) {
        if r.contains("mergebench ") {
            parses(r);
        }
    }
    // The store each shard uploads is what the merge job downloads and merges.
    let step = |job: &str, action: &str| -> Value {
        let steps = wf["jobs"][job]["steps"].as_array().unwrap();
        let uses = |s: &&Value| s["uses"].as_str().is_some_and(|u| u.starts_with(action));
        steps.iter().find(uses).unwrap().clone()
    };
    let upload = step("shard", "actions/upload-artifact");
    assert_eq!(upload["with"]["path"], "shard-${{ matrix.shard }}.db");
    let download = step("merge", "actions/download-artifact");
    assert_eq!(download["with"]["pattern"], "shard-*");
    assert!(runs("merge")
        .iter()
        .any(|r| r.contains("merge shards/shard-*.db --into merged.db")));
}

#[test]
fn the_swarm_and_runner_scripts_are_valid_bash_and_refuse_bad_use() {
    for script in [
        "deploy/swarm/run-shards.sh",
        "deploy/runner/build.sh",
        "deploy/kubernetes/run.sh",
    ] {
        let out = std::process::Command::new("bash")
            .args(["-n", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(Path::new(script).exists());
    }
    for bad in [
        vec!["x", "/tmp", "--", "run"],
        vec!["2", "/tmp"],
        vec!["2", "/no/such/dir", "--", "run"],
    ] {
        let out = std::process::Command::new("bash")
            .arg("deploy/swarm/run-shards.sh")
            .args(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}
