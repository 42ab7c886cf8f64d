;; A small example module: `cwasm inspect examples/hello.wasm` summarises it,
;; `cwasm run --invoke fac examples/hello.wasm 20` compiles and calls it.
(module $hello
  (memory (export "memory") 1)
  (data (i32.const 16) "hello world")
  (data $passive "passive!")
  (global $counter (mut i32) (i32.const 0))
  (func $add (export "add") (param $a i32) (param $b i32) (result i32)
    local.get $a
    local.get $b
    i32.add)
  (func $div (export "div") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.div_s)
  (func $fac (export "fac") (param i64) (result i64)
    local.get 0
    i64.eqz
    if (result i64)
      i64.const 1
    else
      local.get 0
      local.get 0
      i64.const 1
      i64.sub
      call $fac
      i64.mul
    end)
  (func $bump (export "bump") (result i32)
    global.get $counter
    i32.const 1
    i32.add
    global.set $counter
    global.get $counter))
