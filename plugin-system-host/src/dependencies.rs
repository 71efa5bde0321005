//! Versions and load order: [`Dependency`] (`"id"` or `"id@<range>"`),
//! [`resolve`] (which plugins can load, in which order) and [`dependents`]
//! (who needs a plugin, before it is unloaded).
//!
//! A `dependencies` entry of a [`PluginManifest`] is read as the Dart
//! `DependencyValidator` read it: `"plugin.base"` (any version) or
//! `"plugin.base@^1.2"` (a range). Ranges are [`semver::VersionReq`]s (`^1.2`,
//! `~1.2.3`, `>=1.0, <2.0`, `*`), with one difference kept from Dart: a bare
//! version (`plugin.base@1.2.3`) means exactly that version (`=1.2.3`), not
//! Cargo's caret.
//!
//! ```
//! use plugin_system_core::{PluginManifest, PluginRuntimeType};
//! use plugin_system_host::dependencies::{DependencyError, resolve};
//!
//! let manifest = |id: &str, version: &str, deps: &[&str]| {
//!     let mut m = PluginManifest::new(id, id, version, "", PluginRuntimeType::Wasm);
//!     m.dependencies = deps.iter().map(|d| d.to_string()).collect();
//!     m
//! };
//! let base = manifest("plugin.base", "1.4.0", &[]);
//! let icons = manifest("plugin.icons", "2.0.0", &["plugin.base@^1.2"]);
//! let lint = manifest("plugin.lint", "0.1.0", &["plugin.parser"]);
//!
//! let host = semver::Version::new(1, 0, 0);
//! let resolution = resolve(&[&icons, &base, &lint], &host);
//! assert_eq!(resolution.order, ["plugin.base", "plugin.icons"]);
//! let (id, error) = &resolution.failed[0];
//! assert_eq!(id, "plugin.lint");
//! assert!(matches!(error, DependencyError::Missing { .. }));
//! assert_eq!(error.to_string(), "plugin.lint needs plugin.parser: plugin.parser is missing");
//! ```

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet, VecDeque, hash_map::Entry},
    fmt,
    str::FromStr,
};

use plugin_system_core::PluginManifest;
use semver::{Version, VersionReq};

/// One entry of a manifest's `dependencies`: a plugin id and, optionally, the
/// range of its versions that will do.
///
/// ```
/// use plugin_system_host::Dependency;
///
/// let dep: Dependency = "plugin.base@^1.2".parse().unwrap();
/// assert_eq!(dep.id, "plugin.base");
/// assert!(dep.range.unwrap().matches(&semver::Version::new(1, 4, 0)));
///
/// let exact: Dependency = "plugin.base@1.2.3".parse().unwrap();
/// assert_eq!(exact.to_string(), "plugin.base@=1.2.3");
///
/// assert!("plugin base".parse::<Dependency>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The id of the plugin needed.
    pub id: String,
    /// The versions that will do; `None` for any.
    pub range: Option<VersionReq>,
}

/// Why a `dependencies` entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid dependency `{spec}`: {message}")]
#[non_exhaustive]
pub struct DependencySpecError {
    /// The entry as written.
    pub spec: String,
    /// What is wrong with it.
    pub message: String,
}

impl FromStr for Dependency {
    type Err = DependencySpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let error = |message: String| DependencySpecError {
            spec: spec.to_owned(),
            message,
        };
        let (id, range) = match spec.split_once('@') {
            Some((id, range)) => (id, Some(range)),
            None => (spec, None),
        };
        check_id(id).map_err(error)?;
        let range = range.map(parse_range).transpose().map_err(error)?;
        Ok(Dependency {
            id: id.to_owned(),
            range,
        })
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.range {
            Some(range) => write!(f, "{}@{range}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// A range after `@`; a bare version is exact, as in Dart.
fn parse_range(range: &str) -> Result<VersionReq, String> {
    let range = range.trim();
    if range.is_empty() {
        return Err("no version range after `@`".to_owned());
    }
    let exact;
    let text = if range.starts_with(|c: char| c.is_ascii_digit()) && !range.contains(',') {
        exact = format!("={range}");
        &exact
    } else {
        range
    };
    VersionReq::parse(text).map_err(|e| e.to_string())
}

/// Checks a plugin id: not empty, and no whitespace, control character or
/// `@` (which separates an id from a range in `dependencies`).
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("the plugin id is empty".to_owned());
    }
    if let Some(c) = id
        .chars()
        .find(|&c| c.is_whitespace() || c.is_control() || c == '@')
    {
        let what = if c == '@' {
            "`@`"
        } else if c.is_control() {
            "a control character"
        } else {
            "whitespace"
        };
        return Err(format!(
            "the plugin id `{}` holds {what}",
            id.escape_debug()
        ));
    }
    Ok(())
}

/// The id part of a `dependencies` entry, read leniently (for [`dependents`]).
fn dependency_id(spec: &str) -> &str {
    spec.split_once('@').map_or(spec, |(id, _)| id)
}

/// Why a plugin cannot load, from [`resolve`].
///
/// Its message names the path from the plugin to the root cause:
/// `plugin.c needs plugin.b, which needs plugin.a: plugin.a is missing`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencyError {
    /// A dependency is not among the plugins.
    Missing {
        /// The plugin that fails.
        plugin: String,
        /// The plugin it needs.
        dependency: String,
        /// `[plugin, dependency]`.
        chain: Vec<String>,
    },
    /// A dependency's version is outside the range asked for.
    Version {
        /// The plugin that fails.
        plugin: String,
        /// The plugin it needs.
        dependency: String,
        /// The range asked for.
        required: String,
        /// The dependency's version.
        found: String,
        /// `[plugin, dependency]`.
        chain: Vec<String>,
    },
    /// The plugin is in a dependency cycle.
    Cycle {
        /// The cycle, from the plugin back to it: `[a, b, c, a]`.
        cycle: Vec<String>,
    },
    /// The host's version is outside the plugin's `minHostVersion..=maxHostVersion`.
    HostVersion {
        /// The plugin that fails.
        plugin: String,
        /// The host's version.
        host: String,
        /// The plugin's `minHostVersion`.
        min: Option<String>,
        /// The plugin's `maxHostVersion`.
        max: Option<String>,
    },
    /// The plugin needs, directly or not, a plugin that fails.
    DependencyFailed {
        /// The plugin that fails.
        plugin: String,
        /// Its dependency that fails.
        dependency: String,
        /// The path to the root cause: `[plugin, dependency, ..., root]`, and
        /// for a root that is missing or of the wrong version, that one too.
        chain: Vec<String>,
        /// The root cause's own error (never a `DependencyFailed`). Not a
        /// [`source`](std::error::Error::source): the message already says it.
        cause: Box<DependencyError>,
    },
    /// A `dependencies` entry cannot be read.
    InvalidSpec {
        /// The plugin that fails.
        plugin: String,
        /// The entry as written.
        spec: String,
        /// What is wrong with it.
        message: String,
    },
    /// The plugin's `version`, `minHostVersion` or `maxHostVersion` is not a
    /// semantic version.
    InvalidVersion {
        /// The plugin that fails.
        plugin: String,
        /// The manifest key: `version`, `minHostVersion` or `maxHostVersion`.
        key: String,
        /// The value as written.
        version: String,
        /// What is wrong with it.
        message: String,
    },
    /// More than one manifest has this id; none of them loads.
    DuplicateId {
        /// The id.
        plugin: String,
    },
}

impl DependencyError {
    /// The plugin that fails (for a cycle, the one it starts at).
    pub fn plugin(&self) -> &str {
        match self {
            DependencyError::Missing { plugin, .. }
            | DependencyError::Version { plugin, .. }
            | DependencyError::HostVersion { plugin, .. }
            | DependencyError::DependencyFailed { plugin, .. }
            | DependencyError::InvalidSpec { plugin, .. }
            | DependencyError::InvalidVersion { plugin, .. }
            | DependencyError::DuplicateId { plugin } => plugin,
            DependencyError::Cycle { cycle } => cycle.first().map_or("", String::as_str),
        }
    }

    /// The path from the plugin to the root cause, as a `DependencyFailed`
    /// through this plugin would continue it.
    fn chain(&self) -> Vec<String> {
        match self {
            DependencyError::Missing { chain, .. }
            | DependencyError::Version { chain, .. }
            | DependencyError::DependencyFailed { chain, .. } => chain.clone(),
            other => vec![other.plugin().to_owned()],
        }
    }

    /// The root cause: the error itself, or a `DependencyFailed`'s cause.
    fn root(&self) -> &DependencyError {
        match self {
            DependencyError::DependencyFailed { cause, .. } => cause,
            other => other,
        }
    }
}

/// `a needs b, which needs c`.
struct Chain<'a>(&'a [String]);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.0.iter().enumerate() {
            match i {
                0 => f.write_str(id)?,
                1 => write!(f, " needs {id}")?,
                _ => write!(f, ", which needs {id}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for DependencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DependencyError::Missing { .. } | DependencyError::Version { .. } => {
                write!(f, "{}", Chain(&self.chain()))?;
                write_root_tail(f, self)
            }
            DependencyError::DependencyFailed { chain, cause, .. } => {
                write!(f, "{}", Chain(chain))?;
                write_root_tail(f, cause.root())
            }
            DependencyError::Cycle { cycle } => {
                write!(f, "dependency cycle: {}", cycle.join(" -> "))
            }
            DependencyError::HostVersion {
                plugin,
                host,
                min,
                max,
            } => {
                let bounds = match (min, max) {
                    (Some(min), Some(max)) => format!(">={min}, <={max}"),
                    (Some(min), None) => format!(">={min}"),
                    (None, Some(max)) => format!("<={max}"),
                    (None, None) => "*".to_owned(),
                };
                write!(
                    f,
                    "{plugin} needs host version {bounds}; this host is {host}"
                )
            }
            DependencyError::InvalidSpec {
                plugin,
                spec,
                message,
            } => write!(f, "{plugin} has an invalid dependency `{spec}`: {message}"),
            DependencyError::InvalidVersion {
                plugin,
                key,
                version,
                message,
            } => write!(f, "{plugin} has an invalid {key} `{version}`: {message}"),
            DependencyError::DuplicateId { plugin } => {
                write!(f, "more than one plugin has the id {plugin}")
            }
        }
    }
}

/// What follows the chain of a root cause in a message.
fn write_root_tail(f: &mut fmt::Formatter<'_>, root: &DependencyError) -> fmt::Result {
    match root {
        DependencyError::Missing { dependency, .. } => write!(f, ": {dependency} is missing"),
        DependencyError::Version {
            dependency,
            required,
            found,
            ..
        } => write!(f, " {required}: {dependency} is {found}"),
        other => write!(f, ": {other}"),
    }
}

impl std::error::Error for DependencyError {}

/// What [`resolve`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// The ids of the plugins that can load, each after every plugin it
    /// needs. Among plugins free to go at the same point, the one given first
    /// to [`resolve`] goes first.
    pub order: Vec<String>,
    /// The plugins that cannot load, with why, in the order given to
    /// [`resolve`] (a duplicated id once).
    pub failed: Vec<(String, DependencyError)>,
}

/// Decides which plugins can load and in which order.
///
/// A plugin fails if a dependency is missing ([`DependencyError::Missing`]),
/// outside its range ([`Version`](DependencyError::Version)), if it is in a
/// cycle ([`Cycle`](DependencyError::Cycle), naming one through it), if
/// `host_version` is outside its `minHostVersion..=maxHostVersion`
/// ([`HostVersion`](DependencyError::HostVersion)), if its own versions or
/// dependency entries cannot be read, or if another plugin has its id. A
/// plugin that needs, directly or not, a plugin that fails, fails with
/// [`DependencyFailed`](DependencyError::DependencyFailed), naming the path to
/// the root cause. When a plugin has several problems, its own come first
/// (in the order above, dependencies in the order written), then the first
/// failed dependency.
///
/// All other plugins load, in a topological order (Kahn's algorithm) that
/// does not depend on anything but the input.
pub fn resolve(manifests: &[&PluginManifest], host_version: &Version) -> Resolution {
    // Nodes: the first manifest of each id, in input order.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut nodes: Vec<&PluginManifest> = Vec::new();
    let mut duplicated: HashSet<&str> = HashSet::new();
    for manifest in manifests {
        match index.entry(manifest.id.as_str()) {
            Entry::Occupied(_) => {
                duplicated.insert(manifest.id.as_str());
            }
            Entry::Vacant(e) => {
                e.insert(nodes.len());
                nodes.push(manifest);
            }
        }
    }
    let versions: Vec<Option<Version>> = nodes
        .iter()
        .map(|m| Version::parse(&m.version).ok())
        .collect();
    let parsed: Vec<Vec<Result<Dependency, DependencySpecError>>> = nodes
        .iter()
        .map(|m| m.dependencies.iter().map(|s| s.parse()).collect())
        .collect();
    // Edges: node -> the nodes it needs, in the order written, once each.
    let edges: Vec<Vec<usize>> = parsed
        .iter()
        .map(|deps| {
            let mut out: Vec<usize> = Vec::new();
            for dep in deps.iter().flatten() {
                if let Some(&j) = index.get(dep.id.as_str())
                    && !out.contains(&j)
                {
                    out.push(j);
                }
            }
            out
        })
        .collect();

    let mut own: Vec<Option<DependencyError>> = (0..nodes.len())
        .map(|k| {
            own_failure(nodes[k], &parsed[k], host_version, &duplicated, |id| {
                index.get(id).map(|&j| (nodes[j], versions[j].as_ref()))
            })
        })
        .collect();

    // Nodes left over by a topological sort of everything are in a cycle or
    // need one that is.
    let all = vec![true; nodes.len()];
    let mut sorted = vec![false; nodes.len()];
    for k in topological_order(&edges, &all) {
        sorted[k] = true;
    }
    let mut status: Vec<Option<DependencyError>> = vec![None; nodes.len()];
    let mut cyclic = vec![false; nodes.len()];
    for k in (0..nodes.len()).filter(|&k| !sorted[k]) {
        if let Some(cycle) = cycle_through(k, &edges, &sorted) {
            cyclic[k] = true;
            status[k] = Some(own[k].take().unwrap_or_else(|| DependencyError::Cycle {
                cycle: cycle.iter().map(|&j| nodes[j].id.clone()).collect(),
            }));
        }
    }

    // The rest is acyclic: settle it dependencies first.
    let acyclic: Vec<bool> = cyclic.iter().map(|c| !c).collect();
    let mut order = Vec::new();
    for k in topological_order(&edges, &acyclic) {
        let failure = own[k].take().or_else(|| {
            edges[k].iter().find_map(|&j| {
                let failed = status[j].as_ref()?;
                let mut chain = vec![nodes[k].id.clone()];
                chain.extend(failed.chain());
                Some(DependencyError::DependencyFailed {
                    plugin: nodes[k].id.clone(),
                    dependency: nodes[j].id.clone(),
                    chain,
                    cause: Box::new(failed.root().clone()),
                })
            })
        });
        match failure {
            Some(e) => status[k] = Some(e),
            None => order.push(nodes[k].id.clone()),
        }
    }

    let failed = status
        .into_iter()
        .enumerate()
        .filter_map(|(k, s)| Some((nodes[k].id.clone(), s?)))
        .collect();
    Resolution { order, failed }
}

/// A plugin's own problems: its versions, its entries, its dependencies'
/// presence and versions. `lookup` finds a plugin by id, with its version if
/// it parses.
fn own_failure<'a>(
    manifest: &PluginManifest,
    deps: &[Result<Dependency, DependencySpecError>],
    host: &Version,
    duplicated: &HashSet<&str>,
    lookup: impl Fn(&str) -> Option<(&'a PluginManifest, Option<&'a Version>)>,
) -> Option<DependencyError> {
    let plugin = || manifest.id.clone();
    if duplicated.contains(manifest.id.as_str()) {
        return Some(DependencyError::DuplicateId { plugin: plugin() });
    }
    let parse = |key: &str, value: &str| {
        Version::parse(value).map_err(|e| DependencyError::InvalidVersion {
            plugin: plugin(),
            key: key.to_owned(),
            version: value.to_owned(),
            message: e.to_string(),
        })
    };
    let checked = (|| {
        parse("version", &manifest.version)?;
        let min = manifest
            .min_host_version
            .as_deref()
            .map(|v| parse("minHostVersion", v))
            .transpose()?;
        let max = manifest
            .max_host_version
            .as_deref()
            .map(|v| parse("maxHostVersion", v))
            .transpose()?;
        Ok((min, max))
    })();
    let (min, max) = match checked {
        Ok(bounds) => bounds,
        Err(e) => return Some(e),
    };
    if min.as_ref().is_some_and(|min| host < min) || max.as_ref().is_some_and(|max| host > max) {
        return Some(DependencyError::HostVersion {
            plugin: plugin(),
            host: host.to_string(),
            min: manifest.min_host_version.clone(),
            max: manifest.max_host_version.clone(),
        });
    }
    for dep in deps {
        if let Err(e) = dep {
            return Some(DependencyError::InvalidSpec {
                plugin: plugin(),
                spec: e.spec.clone(),
                message: e.message.clone(),
            });
        }
    }
    for dep in deps.iter().flatten() {
        let chain = || vec![plugin(), dep.id.clone()];
        match lookup(&dep.id) {
            None => {
                return Some(DependencyError::Missing {
                    plugin: plugin(),
                    dependency: dep.id.clone(),
                    chain: chain(),
                });
            }
            // A duplicated id or an unreadable version fails on its own; this
            // plugin then fails through it.
            Some((found, Some(version))) if !duplicated.contains(dep.id.as_str()) => {
                if let Some(range) = &dep.range
                    && !range.matches(version)
                {
                    return Some(DependencyError::Version {
                        plugin: plugin(),
                        dependency: dep.id.clone(),
                        required: range.to_string(),
                        found: found.version.clone(),
                        chain: chain(),
                    });
                }
            }
            Some(_) => {}
        }
    }
    None
}

/// Kahn's algorithm over the `included` nodes (edges to others are ignored):
/// each node after the nodes it needs, the lowest index first among those
/// ready. Nodes in (or behind) a cycle are left out.
fn topological_order(edges: &[Vec<usize>], included: &[bool]) -> Vec<usize> {
    let n = edges.len();
    let mut waiting_on = vec![0usize; n];
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    for k in (0..n).filter(|&k| included[k]) {
        for &j in edges[k].iter().filter(|&&j| included[j]) {
            waiting_on[k] += 1;
            needed_by[j].push(k);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n)
        .filter(|&k| included[k] && waiting_on[k] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(k)) = ready.pop() {
        order.push(k);
        for &d in &needed_by[k] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    order
}

/// A shortest cycle from `start` back to it, through nodes not `sorted`
/// (every cycle lies among those): `[start, ..., start]`.
fn cycle_through(start: usize, edges: &[Vec<usize>], sorted: &[bool]) -> Option<Vec<usize>> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in edges[node].iter().filter(|&&j| !sorted[j]) {
            if next == start {
                let mut path = vec![start, node];
                let mut at = node;
                while at != start {
                    at = parent[&at];
                    path.push(at);
                }
                // `path` runs backwards from the end: start, node, ..., start.
                path.reverse();
                return Some(path);
            }
            if let Entry::Vacant(e) = parent.entry(next) {
                e.insert(node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// The plugins that need `id`, directly or not: those to unload first, or
/// the reason to refuse unloading it. In the order given, without `id`.
///
/// Entries are read leniently (the id before any `@`), so a plugin whose
/// entry names `id` counts even if its range cannot be read.
pub fn dependents(manifests: &[&PluginManifest], id: &str) -> Vec<String> {
    let mut needed_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for manifest in manifests {
        for spec in &manifest.dependencies {
            needed_by
                .entry(dependency_id(spec))
                .or_default()
                .push(manifest.id.as_str());
        }
    }
    let mut found: HashSet<&str> = HashSet::from([id]);
    let mut stack = vec![id];
    while let Some(current) = stack.pop() {
        for &dependent in needed_by.get(current).into_iter().flatten() {
            if found.insert(dependent) {
                stack.push(dependent);
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for manifest in manifests {
        if manifest.id != id && found.contains(manifest.id.as_str()) && !out.contains(&manifest.id)
        {
            out.push(manifest.id.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests;
