(module (memory 1) (func (export "f") (param i64) (result i64) local.get 0 loop (param i64) (result i64) i32.const 0 memory.grow drop end))
