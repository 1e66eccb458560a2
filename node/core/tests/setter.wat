;; Test fixture. `set` stores its argument bytes under themselves, `echo` returns its
;; arguments, `fail` traps.
(module
  (import "phalanx" "input_read" (func $in (param i32)))
  (import "phalanx" "storage_write" (func $w (param i32 i32 i32 i32)))
  (import "phalanx" "return_data" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "init") (param i32))
  (func (export "set") (param $n i32)
    (call $in (i32.const 64))
    (call $w (i32.const 64) (local.get $n) (i32.const 64) (local.get $n)))
  (func (export "echo") (param $n i32)
    (call $in (i32.const 64))
    (call $ret (i32.const 64) (local.get $n)))
  (func (export "fail") (param i32) unreachable))
