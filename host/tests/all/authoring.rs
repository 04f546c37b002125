//! The authoring loop on the real `fdo` binary, from an empty directory: `fdo new` → `fdo build`
//! → `fdo up` (in the background) → `fdo invoke` → `fdo bench --json`, for the Rust and Python
//! templates; `fdo up --watch` picking up an edit (the next call answers with the new code) and
//! keeping the old version serving through a broken one.
//!
//! Guests build into the per-user guest cache the test-guests build already filled (`std` for
//! wasm32-wasip2, the registry crates the SDK needs), and each project is built once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::KEY;
use crate::support::process::{HostProcess, PATIENCE, Run, fdo, run};

/// How long `fdo up` may take to build, start and deploy (a guard against hanging, not a
/// timing assertion: a loaded 2-core machine compiles a Python component slowly).
const UP_PATIENCE: Duration = Duration::from_secs(900);

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `PATH` with the componentize-py that `scripts/setup.sh` installs for the Python example.
fn path_with_componentize_py() -> String {
    let venv = repo().join("examples/python-hello/.venv/bin");
    assert!(
        venv.join("componentize-py").is_file(),
        "{} has no componentize-py: run scripts/setup.sh",
        venv.display()
    );
    format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `fdo up ARGS` in `project`, on a free port with the test key, once it serves.
fn up(project: &Path, args: &[&str], envs: &[(&str, &str)]) -> HostProcess {
    let mut c: Command = fdo();
    c.current_dir(project)
        .args(["up", "--listen", "127.0.0.1:0", "--api-key", KEY])
        .args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let host = HostProcess::spawn_patiently(c, UP_PATIENCE);
    // The summary (key, functions, call examples) follows the ready line.
    eventually("fdo up's summary", PATIENCE, || {
        host.stdout().contains("Ctrl-C stops.")
    });
    host
}

/// Polls `check` until it returns true; panics with `what` after `patience`.
fn eventually(what: &str, patience: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `fdo bench` on a deployed function answers the issue's JSON shape with real calls.
fn assert_bench(host: &HostProcess, id: &str, call: &[&str]) {
    let mut args = vec!["bench", id];
    args.extend_from_slice(call);
    args.extend_from_slice(&[
        "--duration",
        "2s",
        "--concurrency",
        "1,4",
        "--warmup",
        "200ms",
        "--json",
    ]);
    let bench: Run = host.fdo(&args);
    let rows = bench.json();
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, concurrency) in rows.iter().zip([1, 4]) {
        assert_eq!(row["function"], id);
        assert_eq!(row["concurrency"], concurrency);
        assert!(row["requests"].as_u64().unwrap() > 0, "{row}");
        assert_eq!(row["errors"], 0, "{row}\n{}", bench.stderr);
        assert!(row["rps"].as_f64().unwrap() > 0.0, "{row}");
        let latency = &row["latencyMs"];
        let q = |k: &str| latency[k].as_f64().unwrap();
        assert!(q("p50") > 0.0, "{row}");
        assert!(
            q("p50") <= q("p90") && q("p90") <= q("p99") && q("p99") <= q("max"),
            "{row}"
        );
    }
}

#[test]
fn rust_template_builds_serves_benchmarks_and_redeploys_on_save() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(&["new", "rust", "hello-rs"], &[], Some(dir.path()));
    assert!(
        created.ok().starts_with("Created hello-rs (rust)"),
        "{}",
        created.stdout
    );
    let project = dir.path().join("hello-rs");
    for file in [
        "fdo.toml",
        "Cargo.toml",
        "src/lib.rs",
        ".gitignore",
        "README.md",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    assert!(project.join(".fdo/sdk/guest-sdk/Cargo.toml").is_file());

    let built = run(&["build", "--json"], &[], Some(&project));
    let built = built.json();
    assert_eq!(built[0]["id"], "hello-rs");
    let component = PathBuf::from(built[0]["component"].as_str().unwrap());
    assert_eq!(component, project.join("build/hello-rs.wasm"));
    assert!(std::fs::metadata(&component).unwrap().len() > 1000);
    assert_eq!(
        built[0]["bytes"],
        std::fs::metadata(&component).unwrap().len()
    );

    let host = up(&project, &["--watch"], &[]);
    let printed = host.stdout();
    assert!(printed.contains(&format!("API key: {KEY}")), "{printed}");
    assert!(printed.contains("hello-rs 0.1.0 (rpc)"), "{printed}");
    assert!(
        printed.contains(r#"fdo invoke hello-rs hello --params '["world"]'"#),
        "{printed}"
    );
    let env = std::fs::read_to_string(project.join(".fdo/env")).unwrap();
    assert!(env.contains(&host.url) && env.contains(KEY), "{env}");
    assert_eq!(
        host.fdo(&["invoke", "hello-rs", "hello", "world"]).ok(),
        "Hello, world!\n"
    );
    assert_bench(&host, "hello-rs", &["hello", "world"]);

    // An edit: rebuilt, deployed as 0.1.0-dev.1, and the next call runs the new code.
    let lib = project.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, source.replace("Hello, {name}!", "Howdy, {name}!")).unwrap();
    eventually("the edit to be served", UP_PATIENCE, || {
        host.fdo(&["invoke", "hello-rs", "hello", "world"]).stdout == "Howdy, world!\n"
    });
    assert!(
        host.stdout()
            .contains("hello-rs 0.1.0-dev.1 deployed (rpc)"),
        "{}",
        host.stdout()
    );

    // A broken edit: the build fails, the error is printed, the last good version serves.
    std::fs::write(&lib, "this is not Rust\n").unwrap();
    eventually("the failed build to be reported", UP_PATIENCE, || {
        host.stdout()
            .contains("hello-rs: build failed; hello-rs 0.1.0-dev.1 keeps serving")
    });
    // cargo's own report (rustc's error) is on stderr, with the rest of the build's output.
    assert!(host.stderr().contains("error"), "{}", host.stderr());
    assert_eq!(
        host.fdo(&["invoke", "hello-rs", "hello", "world"]).ok(),
        "Howdy, world!\n"
    );
    let versions = host.fdo(&["versions", "hello-rs", "--json"]).json();
    let listed = versions.to_string();
    assert!(
        listed.contains("\"0.1.0\"") && listed.contains("\"0.1.0-dev.1\""),
        "{listed}"
    );
}

#[test]
fn python_template_builds_serves_and_benchmarks() {
    let path = path_with_componentize_py();
    let envs = [("PATH", path.as_str())];
    let dir = tempfile::tempdir().unwrap();
    run(&["new", "python", "hello-py"], &envs, Some(dir.path())).ok();
    let project = dir.path().join("hello-py");
    for file in [
        "fdo.toml",
        "app.py",
        "greet.py",
        "test_greet.py",
        "requirements.txt",
        ".gitignore",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    let built = run(&["build"], &envs, Some(&project));
    assert_eq!(
        built.ok().trim(),
        project.join("build/hello-py.wasm").display().to_string()
    );
    assert!(
        built
            .stderr
            .contains("hello-py: building (python, componentize-py)"),
        "{}",
        built.stderr
    );

    let host = up(&project, &[], &envs);
    assert!(
        host.stdout().contains("reused"),
        "fdo up reuses the build:\n{}",
        host.stdout()
    );
    assert_eq!(
        host.fdo(&["invoke", "hello-py", "hello", "world"]).ok(),
        "Hello, world!\n"
    );
    assert_eq!(
        host.fdo(&[
            "invoke",
            "hello-py",
            "hello",
            "--params",
            r#"{"name": "Ada"}"#
        ])
        .ok(),
        "Hello, Ada!\n"
    );
    let unknown = host.fdo(&["invoke", "hello-py", "nope"]);
    assert_ne!(unknown.code, 0);
    assert!(unknown.stderr.contains("nope"), "{}", unknown.stderr);
    assert_bench(&host, "hello-py", &["hello", "world"]);

    // `--file`: each function of the project with its `call`, on the host `fdo up` runs for it
    // (found through `.fdo/env`, not the environment), as a Markdown table.
    let short = ["--duration", "1s", "--concurrency", "2", "--warmup", "0s"];
    let table = run(
        &[&["bench", "--file", "fdo.toml", "--markdown"][..], &short].concat(),
        &envs,
        Some(&project),
    );
    let table = table.ok();
    assert!(
        table.starts_with("| function | version | connections |"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("| hello-py | 0.1.0 | 2 |"))
        .unwrap_or_else(|| panic!("no hello-py row:\n{table}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert!(cells[4].parse::<u64>().unwrap() > 0, "{row}");
    assert_eq!(cells[5], "0", "{row}");

    // `--compare`: two functions measured in the same run, interleaved, and their ratios (here
    // the function against itself).
    let compared = host.fdo(
        &[
            &[
                "bench",
                "hello-py",
                "hello",
                "world",
                "--compare",
                "hello-py",
            ][..],
            &short,
        ]
        .concat(),
    );
    let compared = compared.ok();
    assert!(
        compared.contains("hello-py / hello-py at 2 connections: ")
            && compared.contains("x the requests per second"),
        "{compared}"
    );
}

#[test]
fn templates_list_names_and_missing_tools_are_explained() {
    let list = run(&["new", "--list"], &[], None);
    for name in [
        "rust",
        "rust-http",
        "python",
        "javascript",
        "zig",
        "assemblyscript",
        "c",
    ] {
        assert!(
            list.ok().lines().any(|l| l.starts_with(name)),
            "{}",
            list.stdout
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = run(&["new", "cobol", "x"], &[], Some(dir.path()));
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("rust, rust-http, python, javascript, zig, assemblyscript, c"),
        "{}",
        bad.stderr
    );
    let bad = run(&["new", "rust", "Bad_Name"], &[], Some(dir.path()));
    assert_eq!(bad.code, 2, "{}", bad.stderr);

    // A Python project on a machine without componentize-py: the error names the command
    // that installs it, and nothing is written.
    run(&["new", "python", "nopy"], &[], Some(dir.path())).ok();
    let project = dir.path().join("nopy");
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let sh = which("sh");
    std::os::unix::fs::symlink(&sh, empty.join("sh")).unwrap();
    let failed = run(
        &["build"],
        &[("PATH", empty.to_str().unwrap())],
        Some(&project),
    );
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains("pip install componentize-py==0.25.1"),
        "{}",
        failed.stderr
    );
    assert!(!project.join("build/nopy.wasm").exists());

    // A project directory is never overwritten.
    let again = run(&["new", "python", "nopy"], &[], Some(dir.path()));
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);

    // An unknown function and an unknown language are usage errors.
    let missing = run(&["build", "--function", "nope"], &[], Some(&project));
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    let manifest = project.join("fdo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"python\"", "\"csharp\"")).unwrap();
    let unknown = run(&["build"], &[], Some(&project));
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no default build for csharp"),
        "{}",
        unknown.stderr
    );
}

fn which(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not on PATH"))
}

/// The other two templates, built and deployed as generated, answer a call: `rust-http` over
/// plain HTTP, `javascript` over RPC (with the componentize-js that `scripts/setup.sh` installs
/// for the JavaScript example, linked in as the project's `node_modules`).
#[test]
fn rust_http_and_javascript_templates_answer_as_generated() {
    let dir = tempfile::tempdir().unwrap();
    run(&["new", "rust-http", "web"], &[], Some(dir.path())).ok();
    let web = dir.path().join("web");
    let host = up(&web, &[], &[]);
    assert!(
        host.stdout().contains("web 0.1.0 (http)"),
        "{}",
        host.stdout()
    );
    assert_eq!(
        host.fdo(&["invoke", "--http", "web", "/"]).ok(),
        "Hello from web!\n"
    );
    let missing = host.fdo(&["invoke", "--http", "web", "/nope"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    drop(host);

    let js_example = repo().join("examples/js-hello");
    let modules = js_example.join("node_modules");
    assert!(
        modules.join("@bytecodealliance/componentize-js").is_dir(),
        "{} has no componentize-js: run scripts/setup.sh",
        modules.display()
    );
    run(&["new", "javascript", "hello-js"], &[], Some(dir.path())).ok();
    let project = dir.path().join("hello-js");
    std::os::unix::fs::symlink(&modules, project.join("node_modules")).unwrap();
    // The Node.js js-hello's setup picked, when the machine's is too old.
    let node = js_example.join(".node/bin");
    let path = format!(
        "{}:{}",
        node.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let host = up(&project, &[], &[("PATH", path.as_str())]);
    assert_eq!(
        host.fdo(&["invoke", "hello-js", "hello", "world"]).ok(),
        "Hello, world!\n"
    );
}

/// The WASI command templates (issue 28), built and deployed as generated: `c` (clang and
/// wasi-libc from `scripts/setup.sh`) by `fdo up`, as a function and as a CGI handler; `zig` and
/// `assemblyscript` with the toolchains `scripts/setup.sh` installs for their examples (Zig's
/// `.venv`, the compiler's `node_modules`, linked into the projects), deployed to the same host.
#[test]
fn wasi_command_templates_answer_as_generated() {
    let dir = tempfile::tempdir().unwrap();
    run(&["new", "c", "hello-c"], &[], Some(dir.path())).ok();
    let c = dir.path().join("hello-c");
    let host = up(&c, &[], &[]);
    assert!(
        host.stdout().contains("hello-c 0.1.0 (command)"),
        "{}",
        host.stdout()
    );
    assert_eq!(
        host.fdo(&["invoke", "hello-c", "hello", "world"]).ok(),
        "{\n  \"body\": \"Hello world!\"\n}\n"
    );
    assert_eq!(
        host.fdo(&["invoke", "--http", "hello-c-http", "/hello?name=Ada"])
            .ok(),
        "Hello Ada!\n"
    );

    for (template, toolchain, link) in [
        ("zig", "examples/zig-hello/.venv", ".venv"),
        (
            "assemblyscript",
            "examples/assemblyscript-hello/node_modules",
            "node_modules",
        ),
    ] {
        let toolchain = repo().join(toolchain);
        assert!(
            toolchain.is_dir(),
            "{} is missing: run scripts/setup.sh",
            toolchain.display()
        );
        let name = format!("hello-{template}");
        run(&["new", template, &name], &[], Some(dir.path())).ok();
        let project = dir.path().join(&name);
        std::os::unix::fs::symlink(&toolchain, project.join(link)).unwrap();
        let built = run(&["build"], &[], Some(&project));
        assert_eq!(
            built.ok().trim(),
            project
                .join(format!("build/{name}.wasm"))
                .display()
                .to_string()
        );
        let deployed = host.fdo_in(&["deploy"], &[], Some(&project));
        assert!(deployed.ok().contains("(command"), "{}", deployed.stdout);
        assert_eq!(
            host.fdo(&["invoke", &name, "hello", "world"]).ok(),
            "{\n  \"body\": \"Hello world!\"\n}\n",
            "{template}"
        );
    }
}
