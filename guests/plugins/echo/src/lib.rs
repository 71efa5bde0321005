//! `plugin.echo`: answers every event with `success` and the event's `data`,
//! unchanged. The smallest plugin that does a round trip, for benchmarks of
//! the host's per-event cost. An event of type `panic` panics with its
//! `message`, to show how a guest's panic reaches the host.

use plugin_system_guest::prelude::*;

/// The plugin: no state.
#[derive(Default)]
pub struct Echo;

impl Plugin for Echo {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm(
            "plugin.echo",
            "Echo",
            env!("CARGO_PKG_VERSION"),
            "Answers every event with its data",
        )
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        if event.event_type == "panic" {
            panic!("{}", event.get_str("message").unwrap_or("a panic"));
        }
        Ok(PluginResponse::ok_with(event.data))
    }
}

export_plugin!(Echo);

#[cfg(test)]
mod tests {
    use plugin_system_guest::abi::live_buffers;
    use plugin_system_guest::testing::Harness;

    use super::*;

    #[test]
    fn echoes_the_data() {
        let plugin = Harness::<Echo>::new();
        assert_eq!(plugin.manifest().unwrap().id, "plugin.echo");
        let nested: Value = [("b", vec![Value::Null, Value::from(1.5)])]
            .into_iter()
            .collect();
        let event = PluginEvent::new("anything")
            .with_field("a", "x")
            .with_field("nested", nested);
        let response = plugin.handle(&event).unwrap();
        assert!(response.success);
        assert_eq!(response.data, event.data);
        let empty = plugin.handle(&PluginEvent::new("empty")).unwrap();
        assert!(empty.data.is_empty());
        assert_eq!(live_buffers(), 0);
    }
}
