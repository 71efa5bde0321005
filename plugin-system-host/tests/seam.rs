//! The host layer never names an engine or a wire format: its dependencies
//! (not its tests') point to the core only among this workspace's crates.

#[test]
fn the_host_depends_on_no_engine_and_no_wire_format() {
    let manifest: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .expect("the crate's Cargo.toml")
            .parse()
            .expect("valid TOML");
    let dependencies = manifest["dependencies"]
        .as_table()
        .expect("a [dependencies] table");
    for name in dependencies.keys() {
        assert!(
            !name.starts_with("plugin-system") || name == "plugin-system-core",
            "plugin-system-host depends on {name}: it may know the core alone"
        );
        for forbidden in [
            "wasmtime",
            "wasmi",
            "wasmparser",
            "serde_json",
            "rmp-serde",
            "postcard",
        ] {
            assert!(
                !name.starts_with(forbidden),
                "plugin-system-host depends on {name}"
            );
        }
    }
    assert!(dependencies.contains_key("plugin-system-core"));
}
