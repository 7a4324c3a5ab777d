//! The crate's top-level modules import one another without circles: the layer uses the
//! session, the session uses the store and the tokens, and nothing below reaches back up. A
//! circle makes a module impossible to read, test or move on its own, so this test names the
//! first one it finds, with the lines that close it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// For each top-level module (`src/<name>.rs` or `src/<name>/`), the other top-level modules
/// its code names as `crate::<module>`, with one place each does. Comments (doc links among
/// them) and everything from a file's first `#[cfg(test)]` on are left out: tests may reach
/// anywhere.
fn imports() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).expect("under src");
            let first = relative.components().next().expect("a first component");
            let module = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            if module == "lib" {
                continue;
            }
            let text = fs::read_to_string(&path).expect("a source file");
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.starts_with("#[cfg(test)]") {
                    break;
                }
                if line.starts_with("//") {
                    continue;
                }
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let target: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if target.is_empty() || target == module {
                        continue;
                    }
                    graph
                        .entry(module.clone())
                        .or_default()
                        .entry(target)
                        .or_insert_with(|| format!("{}:{}", relative.display(), number + 1));
                }
            }
        }
    }
    graph
}

/// A path of modules from `from` back to `to`, if the imports make one.
fn path_back(
    graph: &BTreeMap<String, BTreeMap<String, String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if from == to {
        return Some(vec![to.to_owned()]);
    }
    if !seen.insert(from.to_owned()) {
        return None;
    }
    for next in graph.get(from).into_iter().flat_map(BTreeMap::keys) {
        if let Some(mut rest) = path_back(graph, next, to, seen) {
            rest.insert(0, from.to_owned());
            return Some(rest);
        }
    }
    None
}

#[test]
fn top_level_modules_import_one_another_without_circles() {
    let graph = imports();
    // The scan must see the imports it is about, or it would pass on nothing.
    let layer = graph.get("layer").expect("the layer imports other modules");
    assert!(layer.contains_key("session"), "the layer uses the session");
    assert!(
        graph["session"].contains_key("store"),
        "the session uses the store"
    );

    for (module, targets) in &graph {
        for (target, place) in targets {
            if let Some(back) = path_back(&graph, target, module, &mut BTreeSet::new()) {
                let closing: Vec<String> = back
                    .windows(2)
                    .map(|pair| {
                        format!("{} -> {} ({})", pair[0], pair[1], graph[&pair[0]][&pair[1]])
                    })
                    .collect();
                panic!(
                    "an import circle: {module} -> {target} ({place}), then {}",
                    closing.join(", ")
                );
            }
        }
    }
}
