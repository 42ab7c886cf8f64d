(module
  (global $g (export "g") (mut i32) (i32.const 0))
  (memory (export "mem") 1)
  (func (export "f")
    (loop
      (global.set $g (i32.const 7))
      (drop (i32.load (i32.const 0x10000)))
      (br 0))))
