//! `plugin.echo-msgpack`: the `echo` plugin in MessagePack. Answers every
//! event with `success` and the event's `data`, unchanged, and declares the
//! wire format `msgpack`: the host sends it MessagePack and reads
//! MessagePack back. An `ask_host` event instead passes its data to the host
//! function `echo.host` and answers with `{result: <what the host returned>}`:
//! a host call in MessagePack both ways.

use plugin_system_guest::prelude::*;

/// The plugin: no state.
#[derive(Default)]
pub struct EchoMsgpack;

impl Plugin for EchoMsgpack {
    fn manifest() -> PluginManifest {
        PluginManifest::wasm(
            "plugin.echo-msgpack",
            "Echo (MessagePack)",
            env!("CARGO_PKG_VERSION"),
            "Answers every event with its data, in MessagePack",
        )
        .with_required_host_functions(["echo.host"])
    }

    fn handle_event(&mut self, event: PluginEvent) -> Result<PluginResponse, Error> {
        if event.event_type == "ask_host" {
            let result = host::call("echo.host", event.data)?;
            return Ok(PluginResponse::ok().with_field("result", result));
        }
        Ok(PluginResponse::ok_with(event.data))
    }
}

export_plugin!(EchoMsgpack, format = msgpack);

#[cfg(test)]
mod tests {
    use plugin_system_guest::abi::live_buffers;
    use plugin_system_guest::testing::Harness;

    use super::*;

    #[test]
    fn echoes_the_data_in_msgpack() {
        let plugin = Harness::<EchoMsgpack>::new();
        assert_eq!(plugin.manifest().unwrap().id, "plugin.echo-msgpack");
        let nested: Value = [("b", vec![Value::Null, Value::from(1.5)])]
            .into_iter()
            .collect();
        let event = PluginEvent::new("anything")
            .with_field("a", "x")
            .with_field("bytes", Value::Bytes(vec![0, 255]))
            .with_field("nested", nested);
        let response = plugin.handle(&event).unwrap();
        assert!(response.success);
        assert_eq!(response.data, event.data);

        // The reply is MessagePack, a map at the top; JSON is refused.
        let reply = plugin
            .handle_bytes(&Harness::<EchoMsgpack>::encode(&event).unwrap())
            .unwrap();
        assert_eq!(reply[0] & 0xf0, 0x80, "a fixmap");
        let error = plugin.handle_bytes(br#"{"type":"x"}"#).unwrap_err();
        assert!(error.starts_with("cannot read the event: "), "{error}");
        assert_eq!(live_buffers(), 0);
    }

    #[test]
    fn asks_the_host_in_msgpack() {
        let plugin = Harness::<EchoMsgpack>::new();
        plugin_system_guest::testing::mock_host(|name, args| {
            assert_eq!(name, "echo.host");
            Ok(Value::from_iter([("got", args)]))
        });
        let response = plugin
            .handle(&PluginEvent::new("ask_host").with_field("n", 7))
            .unwrap();
        let expected = Value::from_iter([("got", Value::from_iter([("n", 7)]))]);
        assert_eq!(response.get("result"), Some(&expected));
        assert_eq!(live_buffers(), 0);
    }
}
