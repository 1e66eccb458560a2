;; Test and benchmark fixture. `fill` takes 8 bytes of arguments, start and count (u32 little-endian),
;; and writes `count` keys (the 4 bytes of each number from `start`) with 32-byte values.
(module
  (import "phalanx" "input_read" (func $in (param i32)))
  (import "phalanx" "storage_write" (func $w (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "init") (param i32))
  (func (export "fill") (param $n i32)
    (local $i i32)
    (local $end i32)
    (call $in (i32.const 0))
    (local.set $i (i32.load (i32.const 0)))
    (local.set $end (i32.add (local.get $i) (i32.load (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (i32.store (i32.const 16) (local.get $i))
        (i32.store (i32.const 64) (local.get $i))
        (call $w (i32.const 16) (i32.const 4) (i32.const 64) (i32.const 32))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))
