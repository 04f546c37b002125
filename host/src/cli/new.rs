//! `fdo new TEMPLATE NAME`: a new project from a template that lives in the binary
//! (`host/templates/TEMPLATE/`), and `fdo new --list`.
//!
//! A template is a row of [`TEMPLATES`] plus its directory: every file is written with
//! `{{name}}` replaced by the project's name; `gitignore` becomes `.gitignore` and a `.tmpl`
//! suffix is dropped (so the repository holds no nested `Cargo.toml` or `.gitignore` that
//! tools would pick up). Every template has an `fdo.toml` whose functions `fdo build` builds
//! as generated.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use super::{CliError, embedded, output};

/// A template of `fdo new`.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// Its name on the command line, and its directory under `host/templates/`.
    pub name: &'static str,
    /// The `language` of its functions.
    pub language: &'static str,
    /// One line for `fdo new --list`.
    pub summary: &'static str,
    /// What to run before the first `fdo build`, if anything (shown after creating).
    pub setup: Option<&'static str>,
}

/// Every template, in the order `fdo new --list` shows them.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "rust",
        language: "rust",
        summary: "an RPC function in Rust with fdo-sdk (#[fdo_sdk::function])",
        setup: None,
    },
    Template {
        name: "rust-http",
        language: "rust",
        summary: "a wasi:http handler in Rust (requests passed straight through)",
        setup: None,
    },
    Template {
        name: "python",
        language: "python",
        summary: "an RPC function in Python, built with componentize-py",
        setup: Some("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"),
    },
    Template {
        name: "javascript",
        language: "javascript",
        summary: "an RPC function in JavaScript, built with componentize-js (Node.js 20+)",
        setup: Some("npm install"),
    },
    Template {
        name: "zig",
        language: "zig",
        summary: "a function in Zig, built as a WASI command (JSON on stdin, the result on stdout)",
        setup: Some("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"),
    },
    Template {
        name: "assemblyscript",
        language: "assemblyscript",
        summary: "a function in AssemblyScript, built as a WASI command with the WASI shim",
        setup: Some("npm install"),
    },
    Template {
        name: "c",
        language: "go",
        summary: "a function and a CGI handler in C, built as WASI commands (clang + wasi-libc)",
        setup: None,
    },
];

/// Arguments of `fdo new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The template (`fdo new --list` shows them).
    #[arg(required_unless_present = "list")]
    pub template: Option<String>,
    /// The project's name: its directory and its function's id (lower-case letters, digits
    /// and dashes, starting with a letter).
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// Create the project in this directory instead of `./NAME`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// List the templates.
    #[arg(long, conflicts_with_all = ["template", "name", "dir"])]
    pub list: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `fdo new`.
pub async fn run(args: NewArgs) -> Result<(), CliError> {
    if args.list {
        list(args.json);
        return Ok(());
    }
    let (Some(template), Some(name)) = (args.template, args.name) else {
        return Err(CliError::usage(
            "fdo new TEMPLATE NAME (fdo new --list shows the templates)",
        ));
    };
    let template = find(&template)?;
    check_name(&name)?;
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&name));
    let written = create(template, &name, &dir)?;
    if args.json {
        output::print_json(&json!({
            "template": template.name,
            "name": name,
            "language": template.language,
            "dir": dir.display().to_string(),
            "files": written,
        }));
        return Ok(());
    }
    outln!(
        "Created {} ({}): {}",
        dir.display(),
        template.name,
        written.join(", ")
    );
    outln!("");
    outln!("Next:");
    outln!("  cd {}", dir.display());
    if let Some(setup) = template.setup {
        outln!("  {setup}");
    }
    outln!("  fdo up --watch     # builds, runs a local host with it deployed, redeploys on save");
    Ok(())
}

/// The template called `name`.
pub fn find(name: &str) -> Result<&'static Template, CliError> {
    TEMPLATES.iter().find(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = TEMPLATES.iter().map(|t| t.name).collect();
        CliError::usage(format!(
            "no template {name:?}: the templates are {} (fdo new --list)",
            names.join(", ")
        ))
    })
}

fn list(json: bool) {
    if json {
        let rows: Vec<_> = TEMPLATES
            .iter()
            .map(|t| json!({"name": t.name, "language": t.language, "summary": t.summary}))
            .collect();
        output::print_json(&json!(rows));
        return;
    }
    let width = TEMPLATES.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in TEMPLATES {
        outln!("{:width$}  {}", t.name, t.summary);
    }
}

/// A project name is a function id and a crate name: `[a-z][a-z0-9-]*`, at most 64 long, not
/// ending in a dash.
fn check_name(name: &str) -> Result<(), CliError> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "invalid project name {name:?}: use lower-case letters, digits and dashes, starting \
             with a letter (it names the function and, in Rust, the crate)"
        )))
    }
}

/// Writes `template` as project `name` into `dir` (which must not exist, or be empty), plus
/// the SDK under `.fdo/`. Returns the files written, relative to `dir`.
pub fn create(template: &Template, name: &str, dir: &Path) -> Result<Vec<String>, CliError> {
    if dir.exists() {
        let empty = fs::read_dir(dir)
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(CliError::usage(format!(
                "{} already exists and is not empty: choose another name or --dir",
                dir.display()
            )));
        }
    }
    let mut written = Vec::new();
    for (path, bytes) in embedded::template_files(template.name) {
        let target_name = output_path(path);
        let target = dir.join(&target_name);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
        }
        let contents = match std::str::from_utf8(bytes) {
            Ok(text) => text.replace("{{name}}", name).into_bytes(),
            Err(_) => bytes.to_vec(),
        };
        fs::write(&target, contents).map_err(|e| write_error(&target, e))?;
        written.push(target_name);
    }
    if written.is_empty() {
        return Err(CliError::Other(anyhow::anyhow!(
            "template {} has no files in this build of fdo",
            template.name
        )));
    }
    embedded::write_sdk(dir).map_err(CliError::Other)?;
    written.sort();
    Ok(written)
}

/// Where a template file goes: `gitignore` → `.gitignore`, `X.tmpl` → `X`.
fn output_path(path: &str) -> String {
    let path = path.strip_suffix(".tmpl").unwrap_or(path);
    match path.rsplit_once('/') {
        Some((dir, "gitignore")) => format!("{dir}/.gitignore"),
        None if path == "gitignore" => ".gitignore".to_string(),
        _ => path.to_string(),
    }
}

fn write_error(path: &Path, e: std::io::Error) -> CliError {
    CliError::Other(anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["hello", "a", "hello-world2"] {
            check_name(ok).unwrap();
        }
        for bad in [
            "",
            "Hello",
            "1st",
            "a_b",
            "a-",
            "-a",
            "a/b",
            "..",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn output_paths() {
        assert_eq!(output_path("gitignore"), ".gitignore");
        assert_eq!(output_path("Cargo.toml.tmpl"), "Cargo.toml");
        assert_eq!(output_path("src/lib.rs"), "src/lib.rs");
    }

    #[test]
    fn every_template_writes_a_manifest_naming_the_project() {
        for template in TEMPLATES {
            let dir = tempfile::tempdir().unwrap();
            let project = dir.path().join("demo");
            let files = create(template, "demo", &project).unwrap();
            assert!(files.contains(&".gitignore".to_string()), "{files:?}");
            let manifest = project.join("fdo.toml");
            let specs = super::super::manifest::load(&manifest).unwrap();
            // One function (the C template adds its CGI form, `demo-http`).
            let ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
            let expected: &[&str] = if template.name == "c" {
                &["demo", "demo-http"]
            } else {
                &["demo"]
            };
            assert_eq!(ids, expected, "{}", template.name);
            assert!(
                specs
                    .iter()
                    .all(|s| s.metadata["language"] == template.language)
            );
            assert_eq!(specs[0].component, project.join("build/demo.wasm"));
            let all = fs::read_dir(&project).unwrap().count();
            assert!(all >= 4, "{}: {files:?}", template.name);
            assert!(project.join(".fdo/sdk/wit/fdo.wit").is_file());
            // A second project cannot overwrite the first.
            assert!(create(template, "demo", &project).is_err());
        }
    }
}
