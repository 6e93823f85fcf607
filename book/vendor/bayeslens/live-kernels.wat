;; bayeslens live explorers: the PFN's matrix products in WebAssembly SIMD (our code, MIT).
;;
;; Source of live-kernels.wasm; rebuild with (Debian package wabt):
;;   wat2wasm book/vendor/bayeslens/live-kernels.wat -o book/vendor/bayeslens/live-kernels.wasm
;; (tests/test_webexport.py checks the two agree where wat2wasm is installed).
;;
;; linear(x, R, D, w, b, O, y): Y[r, o] = b[o] + sum_i X[r, i] W[o, i] for r < R, o < O,
;; float32, row-major; every argument but R, D, O is a byte offset into the imported memory.
;; D must be a multiple of 4 and O of 2. Four rows times two outputs share their loads, four
;; lanes of the inner sum at a time; live-network.js falls back to the same loop in plain
;; JavaScript where WebAssembly SIMD is missing.
(module
  (memory (import "env" "memory") 1)
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
  (func (export "linear")
    (param $x i32) (param $R i32) (param $D i32) (param $w i32) (param $b i32) (param $O i32)
    (param $y i32)
    (local $r i32) (local $o i32) (local $i i32) (local $row i32) (local $yrow i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $w0 i32) (local $w1 i32) (local $yo i32) (local $b0 f32) (local $b1 f32)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128) (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local $u v128) (local $v v128) (local $p v128)
    (local.set $row (i32.shl (local.get $D) (i32.const 2)))
    (local.set $yrow (i32.shl (local.get $O) (i32.const 2)))
    ;; blocks of four rows
    (block $done4
      (loop $rows4
        (br_if $done4 (i32.gt_s (i32.add (local.get $r) (i32.const 4)) (local.get $R)))
        (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $row))))
        (local.set $x1 (i32.add (local.get $x0) (local.get $row)))
        (local.set $x2 (i32.add (local.get $x1) (local.get $row)))
        (local.set $x3 (i32.add (local.get $x2) (local.get $row)))
        (local.set $o (i32.const 0))
        (loop $outs
          (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $row))))
          (local.set $w1 (i32.add (local.get $w0) (local.get $row)))
          (local.set $a00 (v128.const i32x4 0 0 0 0))
          (local.set $a01 (v128.const i32x4 0 0 0 0))
          (local.set $a10 (v128.const i32x4 0 0 0 0))
          (local.set $a11 (v128.const i32x4 0 0 0 0))
          (local.set $a20 (v128.const i32x4 0 0 0 0))
          (local.set $a21 (v128.const i32x4 0 0 0 0))
          (local.set $a30 (v128.const i32x4 0 0 0 0))
          (local.set $a31 (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (loop $inner
            (local.set $u (v128.load (i32.add (local.get $w0) (local.get $i))))
            (local.set $v (v128.load (i32.add (local.get $w1) (local.get $i))))
            (local.set $p (v128.load (i32.add (local.get $x0) (local.get $i))))
            (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $p) (local.get $u))))
            (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $p) (local.get $v))))
            (local.set $p (v128.load (i32.add (local.get $x1) (local.get $i))))
            (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $p) (local.get $u))))
            (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $p) (local.get $v))))
            (local.set $p (v128.load (i32.add (local.get $x2) (local.get $i))))
            (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $p) (local.get $u))))
            (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $p) (local.get $v))))
            (local.set $p (v128.load (i32.add (local.get $x3) (local.get $i))))
            (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $p) (local.get $u))))
            (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $p) (local.get $v))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br_if $inner (i32.lt_u (local.get $i) (local.get $row))))
          (local.set $b0 (f32.load (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2)))))
          (local.set $b1 (f32.load offset=4 (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2)))))
          (local.set $yo (i32.add (local.get $y)
            (i32.shl (i32.add (i32.mul (local.get $r) (local.get $O)) (local.get $o)) (i32.const 2))))
          (f32.store (i32.add (local.get $yo) (i32.mul (i32.const 0) (local.get $yrow))) (f32.add (call $hsum (local.get $a00)) (local.get $b0)))
          (f32.store offset=4 (i32.add (local.get $yo) (i32.mul (i32.const 0) (local.get $yrow))) (f32.add (call $hsum (local.get $a01)) (local.get $b1)))
          (f32.store (i32.add (local.get $yo) (i32.mul (i32.const 1) (local.get $yrow))) (f32.add (call $hsum (local.get $a10)) (local.get $b0)))
          (f32.store offset=4 (i32.add (local.get $yo) (i32.mul (i32.const 1) (local.get $yrow))) (f32.add (call $hsum (local.get $a11)) (local.get $b1)))
          (f32.store (i32.add (local.get $yo) (i32.mul (i32.const 2) (local.get $yrow))) (f32.add (call $hsum (local.get $a20)) (local.get $b0)))
          (f32.store offset=4 (i32.add (local.get $yo) (i32.mul (i32.const 2) (local.get $yrow))) (f32.add (call $hsum (local.get $a21)) (local.get $b1)))
          (f32.store (i32.add (local.get $yo) (i32.mul (i32.const 3) (local.get $yrow))) (f32.add (call $hsum (local.get $a30)) (local.get $b0)))
          (f32.store offset=4 (i32.add (local.get $yo) (i32.mul (i32.const 3) (local.get $yrow))) (f32.add (call $hsum (local.get $a31)) (local.get $b1)))
          (local.set $o (i32.add (local.get $o) (i32.const 2)))
          (br_if $outs (i32.lt_u (local.get $o) (local.get $O))))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $rows4)))
    ;; the remaining rows one at a time
    (block $done1
      (loop $rows1
        (br_if $done1 (i32.ge_s (local.get $r) (local.get $R)))
        (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $row))))
        (local.set $o (i32.const 0))
        (loop $outs1
          (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $row))))
          (local.set $w1 (i32.add (local.get $w0) (local.get $row)))
          (local.set $a00 (v128.const i32x4 0 0 0 0))
          (local.set $a01 (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (loop $inner1
            (local.set $u (v128.load (i32.add (local.get $w0) (local.get $i))))
            (local.set $v (v128.load (i32.add (local.get $w1) (local.get $i))))
            (local.set $p (v128.load (i32.add (local.get $x0) (local.get $i))))
            (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $p) (local.get $u))))
            (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $p) (local.get $v))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br_if $inner1 (i32.lt_u (local.get $i) (local.get $row))))
          (local.set $b0 (f32.load (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2)))))
          (local.set $b1 (f32.load offset=4 (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2)))))
          (local.set $yo (i32.add (local.get $y)
            (i32.shl (i32.add (i32.mul (local.get $r) (local.get $O)) (local.get $o)) (i32.const 2))))
          (f32.store (i32.add (local.get $yo) (i32.mul (i32.const 0) (local.get $yrow))) (f32.add (call $hsum (local.get $a00)) (local.get $b0)))
          (f32.store offset=4 (i32.add (local.get $yo) (i32.mul (i32.const 0) (local.get $yrow))) (f32.add (call $hsum (local.get $a01)) (local.get $b1)))
          (local.set $o (i32.add (local.get $o) (i32.const 2)))
          (br_if $outs1 (i32.lt_u (local.get $o) (local.get $O))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows1))))
)
