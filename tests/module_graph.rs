//! The shape of the code: no module of `src/` imports a module that imports it back, neither
//! between top-level modules nor between files. Test code (a file's `#[cfg(test)]` part, and
//! files declared under `#[cfg(test)]`) may reach anywhere and is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// A file's module path (`destinations/hubspot/calls.rs` -> ["destinations", "hubspot", "calls"]).
type Module = Vec<String>;

fn modules(dir: &Path, base: &Path, out: &mut BTreeMap<Module, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(base).unwrap().with_extension("");
            let mut module: Module = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            out.insert(module, fs::read_to_string(&path).unwrap());
        }
    }
}

/// The code of a file without its tests and comments: what follows its first `#[cfg(test)]`,
/// except a `#[cfg(test)] mod name;` declaring a test file (that file is left out itself).
fn code(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            let next = lines.peek().map(|l| l.trim()).unwrap_or("");
            if next.starts_with("mod ") && next.ends_with(';') {
                lines.next();
                continue;
            }
            break;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    let text = kept.as_str();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Files declared as `#[cfg(test)] mod name;`: test code whole.
fn test_files(files: &BTreeMap<Module, String>) -> BTreeSet<Module> {
    let mut tests = BTreeSet::new();
    for (module, text) in files {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            if pair[0] == "#[cfg(test)]" {
                if let Some(name) = pair[1]
                    .trim_start_matches("pub(crate) ")
                    .strip_prefix("mod ")
                    .and_then(|rest| rest.strip_suffix(';'))
                {
                    let mut child = module.clone();
                    child.push(name.to_string());
                    tests.insert(child);
                }
            }
        }
    }
    tests
}

/// The modules a file's code names after `anchor` (`crate::` or `super::`): every
/// `anchor a::b...` path and `use anchor {a, b::c}`.
fn imports(code: &str, anchor: &str) -> Vec<Module> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(anchor) {
        let before = rest[..at].chars().last();
        rest = &rest[at + anchor.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `super::super::`, or part of a longer name
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find("};").unwrap_or(group.len());
            for item in group[..end].split(',') {
                let path: Module = item
                    .trim()
                    .split("::")
                    .map(|s| s.trim_matches(|c: char| !c.is_alphanumeric() && c != '_'))
                    .take_while(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if !path.is_empty() {
                    found.push(path);
                }
            }
            continue;
        }
        let path: Module = rest
            .split("::")
            .map_while(|s| {
                let name: String = s
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                (!name.is_empty()).then_some((name.len() == s.len(), name))
            })
            .scan(true, |going, (whole, name)| {
                let this = going.then_some(name);
                *going = whole;
                this
            })
            .collect();
        if !path.is_empty() {
            found.push(path);
        }
    }
    found
}

/// The longest prefix of `path` that is a file of the crate.
fn resolve(path: &Module, files: &BTreeMap<Module, String>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| files.contains_key(prefix))
}

/// The cycles of a directed graph (strongly connected parts of more than one node).
fn cycles<T: Ord + Clone>(edges: &BTreeMap<T, BTreeSet<T>>) -> Vec<Vec<T>> {
    let nodes: Vec<T> = edges.keys().cloned().collect();
    let reach = |from: &T| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(node) = todo.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<T, BTreeSet<T>> = nodes.iter().map(|n| (n.clone(), reach(n))).collect();
    let mut found: Vec<Vec<T>> = Vec::new();
    for node in &nodes {
        let part: Vec<T> = nodes
            .iter()
            .filter(|other| reached[node].contains(*other) && reached[*other].contains(node))
            .cloned()
            .collect();
        if part.len() > 1 && !found.contains(&part) {
            found.push(part);
        }
    }
    found
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    modules(&src, &src, &mut files);
    let tests = test_files(&files);
    let mut by_file: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut by_top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        if tests.iter().any(|t| module.starts_with(t)) || module.is_empty() {
            continue;
        }
        let code = code(text);
        let parent = &module[..module.len() - 1];
        let relative = imports(&code, "super::")
            .into_iter()
            .map(|path| [parent, &path[..]].concat());
        for path in imports(&code, "crate::").into_iter().chain(relative) {
            let Some(target) = resolve(&path, &files) else {
                continue;
            };
            if target == *module || module.starts_with(&target) {
                continue; // a file naming its own parent module's items
            }
            by_file
                .entry(module.clone())
                .or_default()
                .insert(target.clone());
            if target[0] != module[0] {
                by_top
                    .entry(module[0].clone())
                    .or_default()
                    .insert(target[0].clone());
            }
        }
    }
    let top = cycles(&by_top);
    assert!(top.is_empty(), "top-level modules in a loop: {top:?}");
    let files = cycles(&by_file);
    assert!(files.is_empty(), "files in a loop: {files:?}");
}

#[test]
fn the_check_sees_a_loop() {
    let edges: BTreeMap<&str, BTreeSet<&str>> = [
        ("a", ["b"].into()),
        ("b", ["c"].into()),
        ("c", ["a"].into()),
        ("d", ["a"].into()),
    ]
    .into();
    assert_eq!(cycles(&edges), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        imports(
            "use crate::{ports::Platform, keys};\nlet x = crate::a::b::C;",
            "crate::"
        ),
        vec![
            vec!["ports".to_string(), "Platform".to_string()],
            vec!["keys".to_string()],
            vec!["a".to_string(), "b".to_string()],
        ]
    );
}
