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

/// Where a path of `code` starts: the crate root, `n` levels up, or the current module.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Root {
    Crate,
    Up(usize),
    Here,
}

/// Every path `code` uses, as a root and segments: the `crate::…`, `super::…` and `self::…`
/// paths written inline, and every path of every `use` declaration with its braces expanded
/// (`use a::{b, c::d}` is `a::b` and `a::c::d`; re-exports count like any import), and the
/// inline paths that start with the name of one of `children` (`login::login(…)` in a
/// `mod.rs`). A `use` path that starts with a bare name is taken as relative to the current
/// module; names of other crates then match no file and are dropped by the caller.
fn paths(code: &str, children: &[String]) -> Vec<(Root, Vec<String>)> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = &rest[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let prefix = before[line_start..].trim();
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        let declaration = &rest[at + 4..end];
        let is_use = prefix.is_empty() || prefix.starts_with("pub") || prefix.starts_with('#');
        if is_use {
            let mut expanded = Vec::new();
            expand(declaration, &mut expanded);
            for path in expanded {
                found.push(rooted(path));
            }
        }
        rest = &rest[end.min(rest.len())..];
        if rest.is_empty() {
            break;
        }
        rest = &rest[1..];
    }
    let needles = ["crate".to_owned(), "super".to_owned()]
        .into_iter()
        .chain(children.iter().cloned())
        .map(|name| format!("{name}::"));
    let starts: Vec<usize> = needles
        .flat_map(|needle| {
            code.match_indices(&needle)
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        })
        .collect();
    for start in starts {
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
            continue;
        }
        let segments: Vec<String> = code[start..]
            .split("::")
            .map(|s| {
                s.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|s| !s.is_empty())
            .collect();
        found.push(rooted(segments));
    }
    found
}

/// `use` tree text into full paths: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str, out: &mut Vec<Vec<String>>) {
    fn walk(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let tree = tree.trim();
        match tree.find('{') {
            Some(open) => {
                let mut base = prefix.to_vec();
                base.extend(segments(&tree[..open]));
                let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
                for part in split_top_level(inner) {
                    walk(part, &base, out);
                }
            }
            None => {
                let mut path = prefix.to_vec();
                path.extend(segments(tree.split(" as ").next().unwrap_or_default()));
                if !path.is_empty() {
                    out.push(path);
                }
            }
        }
    }
    walk(tree, &[], out);
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s != "*")
        .collect()
}

fn split_top_level(inner: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
}

/// A path's root taken off its segments.
fn rooted(mut path: Vec<String>) -> (Root, Vec<String>) {
    match path.first().map(String::as_str) {
        Some("crate") => (Root::Crate, path.split_off(1)),
        Some("self") => (Root::Here, path.split_off(1)),
        Some("super") => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            (Root::Up(ups), path.split_off(ups))
        }
        _ => (Root::Here, path),
    }
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
        let text = std::fs::read_to_string(file).unwrap();
        let children: Vec<String> = modules
            .keys()
            .filter(|m| m.len() == here.len() + 1 && m.starts_with(&here))
            .map(|m| m[here.len()].clone())
            .collect();
        for (root, segments) in paths(&code(&text), &children) {
            // `super::` in `a/b.rs` and in `a/b/mod.rs` alike names `a`.
            let mut full = match root {
                Root::Crate => Vec::new(),
                Root::Here => here.clone(),
                Root::Up(n) => here[..here.len().saturating_sub(n)].to_vec(),
            };
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
    // Files that reach each other through imports form a strongly connected component of more
    // than one file (Tarjan's algorithm): each such component is a cycle.
    struct Tarjan<'a> {
        edges: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<PathBuf, usize>,
        low: BTreeMap<PathBuf, usize>,
        stack: Vec<PathBuf>,
        cycles: Vec<BTreeSet<PathBuf>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, file: &PathBuf) {
            let n = self.index.len();
            self.index.insert(file.clone(), n);
            self.low.insert(file.clone(), n);
            self.stack.push(file.clone());
            for next in self.edges.get(file).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[file].min(self.low[next]);
                    self.low.insert(file.clone(), low);
                } else if self.stack.contains(next) {
                    let low = self.low[file].min(self.index[next]);
                    self.low.insert(file.clone(), low);
                }
            }
            if self.low[file] == self.index[file] {
                let at = self.stack.iter().position(|f| f == file).unwrap();
                let component: BTreeSet<PathBuf> = self.stack.drain(at..).collect();
                if component.len() > 1 {
                    self.cycles.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        cycles: Vec::new(),
    };
    for file in &files {
        if !tarjan.index.contains_key(file) {
            tarjan.visit(file);
        }
    }
    let cycles: Vec<Vec<String>> = tarjan
        .cycles
        .iter()
        .map(|c| {
            c.iter()
                .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
                .collect()
        })
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
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
