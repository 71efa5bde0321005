;; plugin.recount-on-save: when the document is saved, asks word-count, the
;; plugin it depends on, to count the words again (word-count then reads the
;; text from the editor). Written by hand to the ABI of ABI.md, with no manifest
;; export: its plugin.toml is its manifest.
;;
;; Every event calls the host function `events.emit` with
;;   {"type":"count_words","targetPluginId":"plugin.word-count"}
;; and answers {"asked": "plugin.word-count"}. `events.emit` only queues the
;; event: word-count's answer goes to nobody. A refused call fails the event.
(module
  (import "plugin_system" "host_call"
    (func $host_call (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "events.emit")
  (data (i32.const 32) "{\"type\":\"count_words\",\"targetPluginId\":\"plugin.word-count\"}")
  (data (i32.const 128) "{\"success\":true,\"data\":{\"asked\":\"plugin.word-count\"}}")

  ;; Buffers live for one call, from 1024 up; the memory grows when one does
  ;; not fit (0 when it cannot).
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $p i32) (local $end i32) (local $size i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (local.set $size (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $size))
      (then
        (if (i32.eq
              (memory.grow (i32.div_u
                (i32.add (i32.sub (local.get $end) (local.get $size)) (i32.const 65535))
                (i32.const 65536)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $p))
  ;; The host frees every buffer of a call after it: any free empties the heap.
  (func (export "dealloc") (param i32 i32)
    (global.set $heap (i32.const 1024)))

  (func (export "plugin_handle_event") (param i32 i32) (result i64)
    (local $out i32)
    ;; host_call(name, name_len, args, args_len): 0 when the host answered.
    (if (call $host_call (i32.const 16) (i32.const 11) (i32.const 32) (i32.const 59))
      (then (return (i64.const 0))))
    (local.set $out (call $alloc (i32.const 53)))
    (if (i32.eqz (local.get $out))
      (then (return (i64.const 0))))
    (memory.copy (local.get $out) (i32.const 128) (i32.const 53))
    ;; The reply packed as (pointer << 32) | length.
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.const 53))))
