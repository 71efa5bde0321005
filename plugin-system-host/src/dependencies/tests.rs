use plugin_system_core::{PluginManifest, PluginRuntimeType};
use semver::Version;

use super::*;

fn plugin(id: &str, version: &str, deps: &[&str]) -> PluginManifest {
    let mut m = PluginManifest::new(id, id, version, "", PluginRuntimeType::Wasm);
    m.dependencies = deps.iter().map(|d| (*d).to_owned()).collect();
    m
}

fn host() -> Version {
    Version::new(1, 5, 0)
}

fn run(manifests: &[PluginManifest]) -> Resolution {
    let refs: Vec<&PluginManifest> = manifests.iter().collect();
    resolve(&refs, &host())
}

fn failure<'a>(resolution: &'a Resolution, id: &str) -> &'a DependencyError {
    &resolution
        .failed
        .iter()
        .find(|(f, _)| f == id)
        .unwrap_or_else(|| panic!("{id} did not fail: {resolution:?}"))
        .1
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn dependency_specs_parse_as_dart_wrote_them() {
    let d: Dependency = "plugin.base".parse().unwrap();
    assert_eq!((d.id.as_str(), d.range), ("plugin.base", None));

    let d: Dependency = "plugin.base@^1.2".parse().unwrap();
    let range = d.range.unwrap();
    assert!(range.matches(&Version::new(1, 9, 0)));
    assert!(!range.matches(&Version::new(2, 0, 0)));

    let d: Dependency = "plugin.base@~1.2.3".parse().unwrap();
    assert!(d.range.as_ref().unwrap().matches(&Version::new(1, 2, 9)));
    assert!(!d.range.unwrap().matches(&Version::new(1, 3, 0)));

    let d: Dependency = "plugin.base@>=1.0, <2.0".parse().unwrap();
    assert!(d.range.unwrap().matches(&Version::new(1, 5, 0)));

    // A bare version is exact, as in Dart.
    let d: Dependency = "plugin.base@1.2.3".parse().unwrap();
    assert!(d.range.as_ref().unwrap().matches(&Version::new(1, 2, 3)));
    assert!(!d.range.as_ref().unwrap().matches(&Version::new(1, 2, 4)));
    assert_eq!(d.to_string(), "plugin.base@=1.2.3");

    for bad in [
        "",
        "@^1",
        "plugin base",
        "plugin.base@",
        "plugin.base@^x",
        "a@b@c",
        "a\t",
    ] {
        let err = bad.parse::<Dependency>().unwrap_err();
        assert_eq!(err.spec, bad);
        assert!(
            err.to_string()
                .starts_with(&format!("invalid dependency `{bad}`: ")),
            "{err}"
        );
    }
}

#[test]
fn diamond_loads_dependencies_first() {
    //      top
    //     /   \
    //  left   right
    //     \   /
    //      base
    let r = run(&[
        plugin("top", "1.0.0", &["left", "right@^1"]),
        plugin("right", "1.1.0", &["base"]),
        plugin("left", "1.0.0", &["base@>=0.5"]),
        plugin("base", "0.9.0", &[]),
    ]);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    // Ties go in input order: right was given before left.
    assert_eq!(r.order, ids(&["base", "right", "left", "top"]));
}

#[test]
fn order_is_stable_and_independent_of_hashing() {
    let manifests = [
        plugin("z", "1.0.0", &[]),
        plugin("y", "1.0.0", &["z"]),
        plugin("a", "1.0.0", &[]),
        plugin("m", "1.0.0", &["a", "z"]),
    ];
    let first = run(&manifests);
    assert_eq!(first.order, ids(&["z", "y", "a", "m"]));
    for _ in 0..10 {
        assert_eq!(run(&manifests), first);
    }
}

#[test]
fn missing_dependency_fails_and_names_it() {
    let r = run(&[plugin("plugin.b", "1.0.0", &["plugin.a"])]);
    assert!(r.order.is_empty());
    let err = failure(&r, "plugin.b");
    assert_eq!(
        err,
        &DependencyError::Missing {
            plugin: "plugin.b".into(),
            dependency: "plugin.a".into(),
            chain: ids(&["plugin.b", "plugin.a"]),
        }
    );
    assert_eq!(
        err.to_string(),
        "plugin.b needs plugin.a: plugin.a is missing"
    );
}

#[test]
fn version_out_of_range_fails() {
    let r = run(&[
        plugin("plugin.a", "2.1.0", &[]),
        plugin("plugin.b", "1.0.0", &["plugin.a@^1.2"]),
        plugin("plugin.c", "1.0.0", &["plugin.a@2.1.0"]),
    ]);
    assert_eq!(r.order, ids(&["plugin.a", "plugin.c"]));
    let err = failure(&r, "plugin.b");
    assert_eq!(
        err,
        &DependencyError::Version {
            plugin: "plugin.b".into(),
            dependency: "plugin.a".into(),
            required: "^1.2".into(),
            found: "2.1.0".into(),
            chain: ids(&["plugin.b", "plugin.a"]),
        }
    );
    assert_eq!(
        err.to_string(),
        "plugin.b needs plugin.a ^1.2: plugin.a is 2.1.0"
    );
}

#[test]
fn cycles_fail_and_name_the_cycle() {
    let r = run(&[
        plugin("a", "1.0.0", &["b"]),
        plugin("b", "1.0.0", &["c"]),
        plugin("c", "1.0.0", &["a"]),
        plugin("d", "1.0.0", &["c"]),
        plugin("free", "1.0.0", &[]),
    ]);
    assert_eq!(r.order, ids(&["free"]));
    assert_eq!(
        failure(&r, "a"),
        &DependencyError::Cycle {
            cycle: ids(&["a", "b", "c", "a"])
        }
    );
    // Each member names a cycle through itself.
    assert_eq!(
        failure(&r, "b"),
        &DependencyError::Cycle {
            cycle: ids(&["b", "c", "a", "b"])
        }
    );
    assert_eq!(
        failure(&r, "a").to_string(),
        "dependency cycle: a -> b -> c -> a"
    );
    // Behind the cycle.
    let d = failure(&r, "d");
    assert!(
        matches!(d, DependencyError::DependencyFailed { dependency, chain, .. }
            if dependency == "c" && chain == &ids(&["d", "c"])),
        "{d:?}"
    );
    assert_eq!(
        d.to_string(),
        "d needs c: dependency cycle: c -> a -> b -> c"
    );
    // Failures are listed in input order.
    let failed: Vec<&str> = r.failed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failed, ["a", "b", "c", "d"]);
}

#[test]
fn a_plugin_needing_itself_is_a_cycle() {
    let r = run(&[plugin("a", "1.0.0", &["a"])]);
    assert_eq!(
        failure(&r, "a"),
        &DependencyError::Cycle {
            cycle: ids(&["a", "a"])
        }
    );
}

#[test]
fn two_cycles_sharing_a_node() {
    // a -> b -> a and a -> c -> a.
    let r = run(&[
        plugin("a", "1.0.0", &["b", "c"]),
        plugin("b", "1.0.0", &["a"]),
        plugin("c", "1.0.0", &["a"]),
    ]);
    assert!(r.order.is_empty());
    assert_eq!(
        failure(&r, "c"),
        &DependencyError::Cycle {
            cycle: ids(&["c", "a", "c"])
        }
    );
}

#[test]
fn host_version_bounds_are_inclusive() {
    let bounded = |id: &str, min: Option<&str>, max: Option<&str>| {
        let mut m = plugin(id, "1.0.0", &[]);
        m.min_host_version = min.map(str::to_owned);
        m.max_host_version = max.map(str::to_owned);
        m
    };
    let r = run(&[
        bounded("low", Some("2.0.0"), None),
        bounded("high", None, Some("1.4.9")),
        bounded("exact", Some("1.5.0"), Some("1.5.0")),
        bounded("open", None, None),
        bounded("pre", Some("1.5.0-rc.1"), None),
    ]);
    assert_eq!(r.order, ids(&["exact", "open", "pre"]));
    assert_eq!(
        failure(&r, "low"),
        &DependencyError::HostVersion {
            plugin: "low".into(),
            host: "1.5.0".into(),
            min: Some("2.0.0".into()),
            max: None,
        }
    );
    assert_eq!(
        failure(&r, "low").to_string(),
        "low needs host version >=2.0.0; this host is 1.5.0"
    );
    assert!(matches!(
        failure(&r, "high"),
        DependencyError::HostVersion { max: Some(max), .. } if max == "1.4.9"
    ));
}

#[test]
fn transitive_failure_names_the_chain() {
    let r = run(&[
        plugin("plugin.d", "1.0.0", &["plugin.c"]),
        plugin("plugin.c", "1.0.0", &["plugin.b"]),
        plugin("plugin.b", "1.0.0", &["plugin.a"]),
    ]);
    assert!(r.order.is_empty());
    let c = failure(&r, "plugin.c");
    assert_eq!(
        c.to_string(),
        "plugin.c needs plugin.b, which needs plugin.a: plugin.a is missing"
    );
    let d = failure(&r, "plugin.d");
    match d {
        DependencyError::DependencyFailed {
            plugin,
            dependency,
            chain,
            cause,
        } => {
            assert_eq!(plugin, "plugin.d");
            assert_eq!(dependency, "plugin.c");
            assert_eq!(
                chain,
                &ids(&["plugin.d", "plugin.c", "plugin.b", "plugin.a"])
            );
            assert!(
                matches!(**cause, DependencyError::Missing { ref plugin, .. } if plugin == "plugin.b")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        d.to_string(),
        "plugin.d needs plugin.c, which needs plugin.b, which needs plugin.a: plugin.a is missing"
    );

    // The same through a version mismatch and a host bound.
    let mut needs_new_host = plugin("plugin.h", "1.0.0", &[]);
    needs_new_host.min_host_version = Some("9.0.0".into());
    let r = run(&[
        plugin("plugin.top", "1.0.0", &["plugin.mid"]),
        plugin("plugin.mid", "1.0.0", &["plugin.a@^2"]),
        plugin("plugin.a", "1.0.0", &[]),
        plugin("plugin.uses-h", "1.0.0", &["plugin.h"]),
        needs_new_host,
    ]);
    assert_eq!(r.order, ids(&["plugin.a"]));
    assert_eq!(
        failure(&r, "plugin.top").to_string(),
        "plugin.top needs plugin.mid, which needs plugin.a ^2: plugin.a is 1.0.0"
    );
    assert_eq!(
        failure(&r, "plugin.uses-h").to_string(),
        "plugin.uses-h needs plugin.h: plugin.h needs host version >=9.0.0; this host is 1.5.0"
    );
}

#[test]
fn own_problems_come_before_failed_dependencies() {
    let r = run(&[
        plugin("a", "1.0.0", &["gone"]),
        plugin("b", "1.0.0", &["a", "also-gone"]),
    ]);
    assert!(matches!(
        failure(&r, "b"),
        DependencyError::Missing { dependency, .. } if dependency == "also-gone"
    ));
}

#[test]
fn invalid_versions_and_specs_fail_their_plugin() {
    let mut bad_host = plugin("bad-host", "1.0.0", &[]);
    bad_host.max_host_version = Some("two".into());
    let r = run(&[
        plugin("bad-version", "1.0", &[]),
        plugin("bad-spec", "1.0.0", &["base@^x"]),
        plugin("needs-bad", "1.0.0", &["bad-version@^1"]),
        bad_host,
    ]);
    assert!(r.order.is_empty());
    assert!(matches!(
        failure(&r, "bad-version"),
        DependencyError::InvalidVersion { key, version, .. } if key == "version" && version == "1.0"
    ));
    assert!(matches!(
        failure(&r, "bad-spec"),
        DependencyError::InvalidSpec { spec, .. } if spec == "base@^x"
    ));
    assert!(matches!(
        failure(&r, "bad-host"),
        DependencyError::InvalidVersion { key, .. } if key == "maxHostVersion"
    ));
    // Its dependency's version cannot be compared: it fails through it.
    let needs_bad = failure(&r, "needs-bad");
    assert!(
        matches!(needs_bad, DependencyError::DependencyFailed { .. }),
        "{needs_bad:?}"
    );
    assert!(
        needs_bad
            .to_string()
            .starts_with("needs-bad needs bad-version: bad-version has an invalid version `1.0`: "),
        "{needs_bad}"
    );
}

#[test]
fn duplicate_ids_fail_with_their_dependents() {
    let r = run(&[
        plugin("dup", "1.0.0", &[]),
        plugin("user", "1.0.0", &["dup"]),
        plugin("dup", "2.0.0", &[]),
        plugin("other", "1.0.0", &[]),
    ]);
    assert_eq!(r.order, ids(&["other"]));
    assert_eq!(
        r.failed,
        vec![
            (
                "dup".to_owned(),
                DependencyError::DuplicateId {
                    plugin: "dup".into()
                }
            ),
            (
                "user".to_owned(),
                DependencyError::DependencyFailed {
                    plugin: "user".into(),
                    dependency: "dup".into(),
                    chain: ids(&["user", "dup"]),
                    cause: Box::new(DependencyError::DuplicateId {
                        plugin: "dup".into()
                    }),
                }
            ),
        ]
    );
}

#[test]
fn repeated_entries_count_once() {
    let r = run(&[
        plugin("a", "1.0.0", &[]),
        plugin("b", "1.0.0", &["a", "a@^1", "a"]),
    ]);
    assert_eq!(r.order, ids(&["a", "b"]));
}

#[test]
fn long_chains_do_not_overflow() {
    let n = 1_000;
    let manifests: Vec<PluginManifest> = (0..n)
        .map(|i| {
            let deps: Vec<String> = if i + 1 < n {
                vec![format!("p{}", i + 1)]
            } else {
                vec!["missing".to_owned()]
            };
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            plugin(&format!("p{i}"), "1.0.0", &deps)
        })
        .collect();
    let r = run(&manifests);
    assert_eq!(r.failed.len(), n);
    let refs: Vec<&PluginManifest> = manifests.iter().collect();
    assert_eq!(dependents(&refs, &format!("p{}", n - 1)).len(), n - 1);
}

#[test]
fn dependents_are_direct_and_transitive() {
    let manifests = [
        plugin("base", "1.0.0", &[]),
        plugin("mid", "1.0.0", &["base@^1"]),
        plugin("top", "1.0.0", &["mid"]),
        plugin("side", "1.0.0", &["base@garbage"]),
        plugin("alone", "1.0.0", &[]),
        plugin("loop", "1.0.0", &["top", "loop"]),
    ];
    let refs: Vec<&PluginManifest> = manifests.iter().collect();
    assert_eq!(
        dependents(&refs, "base"),
        ids(&["mid", "top", "side", "loop"])
    );
    assert_eq!(dependents(&refs, "mid"), ids(&["top", "loop"]));
    assert!(dependents(&refs, "alone").is_empty());
    assert!(dependents(&refs, "loop").is_empty());
    assert!(dependents(&refs, "unknown").is_empty());
}

#[test]
fn empty_input_resolves_to_nothing() {
    assert_eq!(run(&[]), Resolution::default());
}
