//! The module graph of `src/` has no cycles: a file never imports, directly or through others,
//! from a file that imports it (ARCHITECTURE.md, "Rules"). Imports are read as the `crate::…`
//! and `super::…` paths in each file's code (comments and unit tests left out).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file: `src/store/redis/mod.rs` is `["store", "redis"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .strip_prefix(src)
        .unwrap()
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its unit tests.
fn code(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths after each `crate::` or `super::` in `code`, as segments.
fn paths(code: &str) -> Vec<(bool, Vec<String>)> {
    let mut found = Vec::new();
    for (start, root) in code
        .match_indices("crate::")
        .map(|(i, _)| (i, true))
        .chain(code.match_indices("super::").map(|(i, _)| (i, false)))
    {
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        // Both `crate::` and `super::` are seven characters.
        let rest = &code[start + 7..];
        let segments: Vec<String> = rest
            .split("::")
            .map(|s| {
                s.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|s| !s.is_empty())
            .collect();
        found.push((root, segments));
    }
    found
}

#[test]
fn no_import_cycles_among_source_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|file| (module_of(&src, file), file.clone()))
        .collect();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in &files {
        let here = module_of(&src, file);
        // `super::` in `a/b.rs` and in `a/b/mod.rs` alike names `a`.
        let parent = here[..here.len().saturating_sub(1)].to_vec();
        let text = std::fs::read_to_string(file).unwrap();
        for (root, segments) in paths(&code(&text)) {
            let mut full = if root { Vec::new() } else { parent.clone() };
            full.extend(segments);
            // The longest prefix that names a file is the module imported from.
            let target = (1..=full.len()).rev().find_map(|n| modules.get(&full[..n]));
            if let Some(target) = target.filter(|t| *t != file) {
                edges
                    .entry(file.clone())
                    .or_default()
                    .insert(target.clone());
            }
        }
    }
    // Depth-first search for a path back to a file on the current stack.
    fn visit(
        file: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        stack: &mut Vec<PathBuf>,
        done: &mut BTreeSet<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        if let Some(at) = stack.iter().position(|f| f == file) {
            return Some(stack[at..].to_vec());
        }
        if !done.insert(file.clone()) {
            return None;
        }
        stack.push(file.clone());
        for next in edges.get(file).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let (mut stack, mut done) = (Vec::new(), BTreeSet::new());
    for file in &files {
        if let Some(cycle) = visit(file, &edges, &mut stack, &mut done) {
            panic!("import cycle: {cycle:#?}");
        }
    }
    assert!(
        edges.len() > 30,
        "the scan found imports in {} files",
        edges.len()
    );
}

#[test]
fn no_source_file_much_over_500_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let long: Vec<(usize, &PathBuf)> = files
        .iter()
        .map(|file| (std::fs::read_to_string(file).unwrap().lines().count(), file))
        .filter(|(lines, _)| *lines > 550)
        .collect();
    assert!(long.is_empty(), "split by concern: {long:?}");
}
