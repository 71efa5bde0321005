;; demo.runaway: a plugin that never returns. Every event loops forever; the
;; host's deadline or fuel ends the call, and the host carries on.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) i32.const 1024)
  (func (export "dealloc") (param i32 i32))
  (func (export "plugin_handle_event") (param i32 i32) (result i64)
    (loop $forever (br $forever))
    i64.const 0))
