//! The server's modules import only the layers below them (DESIGN section 7). This test
//! reads every source file and fails on an import that runs up or sideways.

use std::collections::BTreeSet;
use std::path::Path;

/// Each top-level module and its layer: a module may use modules of lower layers only.
const LAYERS: &[(&str, u8)] = &[
    ("domain", 0),
    ("seal", 0),
    ("tls", 0),
    ("config", 1),
    ("store", 2),
    ("metrics", 3),
    ("net", 3),
    ("destination", 4),
    ("ingest", 4),
    ("retention", 4),
    ("delivery", 5),
    ("api", 6),
    ("server", 7),
    ("mcp", 7),
    ("console", 7),
    ("app", 8),
];

fn layer(module: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .unwrap_or_else(|| panic!("module `{module}` has no layer in tests/it/layers.rs"))
        .1
}

/// The top-level modules a file names as `crate::x` (also inside `use crate::{x, y}`).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(std::mem::take(&mut name).trim().to_string());
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && (c.is_alphanumeric() || c == '_' || c == ':' || c.is_whitespace()) {
                    name.push(c);
                }
            }
            out.insert(name.trim().to_string());
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out.into_iter()
        .map(|n| n.split("::").next().unwrap_or_default().trim().to_string())
        .filter(|n| !n.is_empty() && n.chars().next().is_some_and(|c| c.is_lowercase()))
        .collect()
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_one_above_or_beside_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy();
        let module = top.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let own = layer(&module);
        for used in imports(&std::fs::read_to_string(&path).unwrap()) {
            if used != module && layer(&used) >= own {
                wrong.push(format!("{} uses {used}", rel.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_import_reader_sees_grouped_and_nested_paths() {
    let text = "use crate::domain::{a, b};\nuse crate::{store::{X, Y}, api};\nlet x = crate::metrics::m();";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["api", "domain", "metrics", "store"]);
}
