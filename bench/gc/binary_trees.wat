;; binary-trees (the Benchmarks Game's allocation benchmark) over WebAssembly GC structs.
;; run(n) builds a stretch tree of depth n+1, a long-lived tree of depth n, then for each
;; depth d = 4, 6, ..., n builds and checks 2^(n-d+4) trees of depth d; it returns the sum
;; of every node count it checked.
(module
  (type $node (struct (field $left (ref null $node)) (field $right (ref null $node))))

  (func $make (param $depth i32) (result (ref $node))
    (if (result (ref $node)) (i32.eqz (local.get $depth))
      (then (struct.new $node (ref.null $node) (ref.null $node)))
      (else
        (struct.new $node
          (call $make (i32.sub (local.get $depth) (i32.const 1)))
          (call $make (i32.sub (local.get $depth) (i32.const 1)))))))

  (func $check (param $tree (ref $node)) (result i32)
    (local $left (ref null $node))
    (local.set $left (struct.get $node $left (local.get $tree)))
    (if (result i32) (ref.is_null (local.get $left))
      (then (i32.const 1))
      (else
        (i32.add
          (i32.add
            (call $check (ref.as_non_null (local.get $left)))
            (call $check (ref.as_non_null (struct.get $node $right (local.get $tree)))))
          (i32.const 1)))))

  (func (export "run") (param $n i32) (result i64)
    (local $sum i64)
    (local $long_lived (ref null $node))
    (local $depth i32)
    (local $iterations i32)
    (local $i i32)
    (local.set $sum
      (i64.extend_i32_u (call $check (call $make (i32.add (local.get $n) (i32.const 1))))))
    (local.set $long_lived (call $make (local.get $n)))
    (local.set $depth (i32.const 4))
    (block $done
      (loop $depths
        (br_if $done (i32.gt_s (local.get $depth) (local.get $n)))
        (local.set $iterations
          (i32.shl (i32.const 1)
            (i32.add (i32.sub (local.get $n) (local.get $depth)) (i32.const 4))))
        (local.set $i (i32.const 0))
        (block $trees_done
          (loop $trees
            (br_if $trees_done (i32.ge_u (local.get $i) (local.get $iterations)))
            (local.set $sum
              (i64.add (local.get $sum)
                (i64.extend_i32_u (call $check (call $make (local.get $depth))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $trees)))
        (local.set $depth (i32.add (local.get $depth) (i32.const 2)))
        (br $depths)))
    (i64.add (local.get $sum)
      (i64.extend_i32_u (call $check (ref.as_non_null (local.get $long_lived)))))))
