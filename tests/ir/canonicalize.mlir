// RUN: edgecc opt %s --split-input-file --passes canonicalize | filecheck %s

// CHECK-LABEL: module @reshape_noop
// CHECK-NEXT:    func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
// CHECK-NEXT:      func.return(%x)
module @reshape_noop {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
    %0 = nn.reshape(%x) {shape = [2, 3]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return(%0) : (tensor<2x3xf32>) -> ()
  }
}

// -----

// reshape(reshape(x)) -> reshape(x); back to the input shape -> x.
// CHECK-LABEL: module @reshape_chain
// CHECK-NEXT:    func.func @main(%x: tensor<1x2x3x4xf32>) -> (tensor<24xf32>, tensor<1x2x3x4xf32>) {
// CHECK-NEXT:      %b = nn.reshape(%x) {shape = [24]} : (tensor<1x2x3x4xf32>) -> tensor<24xf32>
// CHECK-NEXT:      func.return(%b, %x)
module @reshape_chain {
  func.func @main(%x: tensor<1x2x3x4xf32>) -> (tensor<24xf32>, tensor<1x2x3x4xf32>) {
    %a = nn.reshape(%x) {shape = [6, 4]} : (tensor<1x2x3x4xf32>) -> tensor<6x4xf32>
    %b = nn.reshape(%a) {shape = [24]} : (tensor<6x4xf32>) -> tensor<24xf32>
    %c = nn.reshape(%b) {shape = [1, 2, 3, 4]} : (tensor<24xf32>) -> tensor<1x2x3x4xf32>
    func.return(%b, %c) : (tensor<24xf32>, tensor<1x2x3x4xf32>) -> ()
  }
}

// -----

// The inner reshape stays while something else uses it.
// CHECK-LABEL: module @reshape_chain_shared
// CHECK-NEXT:    func.func @main(%x: tensor<2x6xf32>) -> (tensor<3x4xf32>, tensor<12xf32>) {
// CHECK-NEXT:      %a = nn.reshape(%x) {shape = [3, 4]}
// CHECK-NEXT:      %b = nn.reshape(%x) {shape = [12]}
// CHECK-NEXT:      func.return(%a, %b)
module @reshape_chain_shared {
  func.func @main(%x: tensor<2x6xf32>) -> (tensor<3x4xf32>, tensor<12xf32>) {
    %a = nn.reshape(%x) {shape = [3, 4]} : (tensor<2x6xf32>) -> tensor<3x4xf32>
    %b = nn.reshape(%a) {shape = [12]} : (tensor<3x4xf32>) -> tensor<12xf32>
    func.return(%a, %b) : (tensor<3x4xf32>, tensor<12xf32>) -> ()
  }
}

// -----

// CHECK-LABEL: module @transpose_identity
// CHECK-NEXT:    func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
// CHECK-NEXT:      func.return(%x)
module @transpose_identity {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 1]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return(%0) : (tensor<2x3xf32>) -> ()
  }
}

// -----

// NCHW->NHWC then NHWC->NCHW is the identity.
// CHECK-LABEL: module @transpose_pair_identity
// CHECK-NEXT:    func.func @main(%x: tensor<1x2x3x4xf32>) -> (tensor<1x2x3x4xf32>) {
// CHECK-NEXT:      func.return(%x)
module @transpose_pair_identity {
  func.func @main(%x: tensor<1x2x3x4xf32>) -> (tensor<1x2x3x4xf32>) {
    %t1 = nn.transpose(%x) {perm = [0, 2, 3, 1]} : (tensor<1x2x3x4xf32>) -> tensor<1x3x4x2xf32>
    %t2 = nn.transpose(%t1) {perm = [0, 3, 1, 2]} : (tensor<1x3x4x2xf32>) -> tensor<1x2x3x4xf32>
    func.return(%t2) : (tensor<1x2x3x4xf32>) -> ()
  }
}

// -----

// Two transposes compose into one: result dim i = x dim p1[p2[i]].
// CHECK-LABEL: module @transpose_pair_compose
// CHECK-NEXT:    func.func @main(%x: tensor<2x3x4xf32>) -> (tensor<3x4x2xf32>) {
// CHECK-NEXT:      %t2 = nn.transpose(%x) {perm = [1, 2, 0]} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
// CHECK-NEXT:      func.return(%t2)
module @transpose_pair_compose {
  func.func @main(%x: tensor<2x3x4xf32>) -> (tensor<3x4x2xf32>) {
    %t1 = nn.transpose(%x) {perm = [2, 0, 1]} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
    %t2 = nn.transpose(%t1) {perm = [2, 0, 1]} : (tensor<4x2x3xf32>) -> tensor<3x4x2xf32>
    func.return(%t2) : (tensor<3x4x2xf32>) -> ()
  }
}

// -----

// CHECK-LABEL: module @pad_zero
// CHECK-NEXT:    func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<3x3xf32>) {
// CHECK-NEXT:      %p = nn.pad(%x) {pads = [1, 0, 0, 0]}
// CHECK-NEXT:      func.return(%x, %p)
module @pad_zero {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<3x3xf32>) {
    %z = nn.pad(%x) {mode = "reflect", pads = [0, 0, 0, 0]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %p = nn.pad(%x) {pads = [1, 0, 0, 0]} : (tensor<2x3xf32>) -> tensor<3x3xf32>
    func.return(%z, %p) : (tensor<2x3xf32>, tensor<3x3xf32>) -> ()
  }
}

// -----

// CHECK-LABEL: module @slice_full
// CHECK-NEXT:    func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>) {
// CHECK-NEXT:      %r = nn.slice(%x) {begin = [1, 0], end = [-1, 3], strides = [-1, 1]}
// CHECK-NEXT:      %part = nn.slice(%x) {begin = [0, 1], end = [2, 3]}
// CHECK-NEXT:      func.return(%x, %r, %part)
module @slice_full {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>) {
    %all = nn.slice(%x) {begin = [0, 0], end = [2, 3], strides = [1, 1]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %r = nn.slice(%x) {begin = [1, 0], end = [-1, 3], strides = [-1, 1]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %part = nn.slice(%x) {begin = [0, 1], end = [2, 3]} : (tensor<2x3xf32>) -> tensor<2x2xf32>
    func.return(%all, %r, %part) : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>) -> ()
  }
}

// -----

// CHECK-LABEL: module @cast_noop
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xi32>) {
// CHECK-NEXT:      %i = nn.cast(%x) {to = i32}
// CHECK-NEXT:      func.return(%x, %i)
module @cast_noop {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xi32>) {
    %f = nn.cast(%x) {to = f32} : (tensor<4xf32>) -> tensor<4xf32>
    %i = nn.cast(%x) {to = i32} : (tensor<4xf32>) -> tensor<4xi32>
    func.return(%f, %i) : (tensor<4xf32>, tensor<4xi32>) -> ()
  }
}

// -----

// CHECK-LABEL: module @concat_single
// CHECK-NEXT:    func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
// CHECK-NEXT:      func.return(%x)
module @concat_single {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
    %0 = nn.concat(%x) {axis = 1} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return(%0) : (tensor<2x3xf32>) -> ()
  }
}

// -----

// x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1 are x; the constants die.
// CHECK-LABEL: module @arith_identities
// CHECK-NEXT:    func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
// CHECK-NEXT:      func.return(%x)
module @arith_identities {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
    %zero = builtin.constant() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
    %zeros = builtin.constant() {value = dense<[0.0, 0.0, 0.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %one = builtin.constant() {value = dense<[[1.0], [1.0]]> : tensor<2x1xf32>} : () -> tensor<2x1xf32>
    %a = nn.add(%x, %zero) : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    %b = nn.add(%zeros, %a) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %c = nn.sub(%b, %zeros) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %d = nn.mul(%c, %one) : (tensor<2x3xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
    %e = nn.mul(%one, %d) : (tensor<2x1xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %f = nn.div(%e, %one) : (tensor<2x3xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
    func.return(%f) : (tensor<2x3xf32>) -> ()
  }
}

// -----

// Kept: 0 - x, 1 / x, a fused activation, a broadcast that grows x, a quantized add.
// CHECK-LABEL: module @arith_kept
// CHECK-NEXT:    func.func @main(%x: tensor<3xf32>, %q: tensor<3x!quant.uniform<i8:f32, 0.5:0>>)
// CHECK-NEXT:      %zero = builtin.constant() {value = dense<0.0> : tensor<f32>}
// CHECK-NEXT:      %one = builtin.constant() {value = dense<1.0> : tensor<f32>}
// CHECK-NEXT:      %zeros = builtin.constant() {value = dense<0.0> : tensor<2x3xf32>}
// CHECK-NEXT:      %qzero = builtin.constant() {value = dense<0> : tensor<!quant.uniform<i8:f32, 0.5:0>>}
// CHECK-NEXT:      %a = nn.sub(%zero, %x)
// CHECK-NEXT:      %b = nn.div(%one, %x)
// CHECK-NEXT:      %c = nn.add(%x, %zero) {activation = "relu"}
// CHECK-NEXT:      %d = nn.add(%x, %zeros)
// CHECK-NEXT:      %e = nn.add(%q, %qzero)
// CHECK-NEXT:      func.return(%a, %b, %c, %d, %e)
module @arith_kept {
  func.func @main(%x: tensor<3xf32>, %q: tensor<3x!quant.uniform<i8:f32, 0.5:0>>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<2x3xf32>, tensor<3x!quant.uniform<i8:f32, 0.5:0>>) {
    %zero = builtin.constant() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
    %one = builtin.constant() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %zeros = builtin.constant() {value = dense<0.0> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
    %qzero = builtin.constant() {value = dense<0> : tensor<!quant.uniform<i8:f32, 0.5:0>>} : () -> tensor<!quant.uniform<i8:f32, 0.5:0>>
    %a = nn.sub(%zero, %x) : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
    %b = nn.div(%one, %x) : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
    %c = nn.add(%x, %zero) {activation = "relu"} : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
    %d = nn.add(%x, %zeros) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %e = nn.add(%q, %qzero) : (tensor<3x!quant.uniform<i8:f32, 0.5:0>>, tensor<!quant.uniform<i8:f32, 0.5:0>>) -> tensor<3x!quant.uniform<i8:f32, 0.5:0>>
    func.return(%a, %b, %c, %d, %e) : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<2x3xf32>, tensor<3x!quant.uniform<i8:f32, 0.5:0>>) -> ()
  }
}

// -----

// Ops on constants fold to constants that keep the result name and the op's loc.
// CHECK-LABEL: module @fold_chain
// CHECK-NEXT:    func.func @main(%x: tensor<2x2xf32>) -> (tensor<2x2xf32>) {
// CHECK-NEXT:      %t = builtin.constant() {value = dense<{{\[}}[-1.0, -3.0], [-2.0, -4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32> loc("neg_t")
// CHECK-NEXT:      %y = nn.add(%x, %t)
// CHECK-NEXT:      func.return(%y)
module @fold_chain {
  func.func @main(%x: tensor<2x2xf32>) -> (tensor<2x2xf32>) {
    %c = builtin.constant() {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
    %r = nn.reshape(%c) {shape = [2, 2]} : (tensor<4xf32>) -> tensor<2x2xf32>
    %n = nn.transpose(%r) {perm = [1, 0]} : (tensor<2x2xf32>) -> tensor<2x2xf32>
    %t = nn.neg(%n) : (tensor<2x2xf32>) -> tensor<2x2xf32> loc("neg_t")
    %y = nn.add(%x, %t) : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
    func.return(%y) : (tensor<2x2xf32>) -> ()
  }
}

// -----

// Multi-result folding: each split result becomes its own constant.
// CHECK-LABEL: module @fold_split
// CHECK-NEXT:    func.func @main() -> (tensor<1xi32>, tensor<2xi32>) {
// CHECK-NEXT:      %a = builtin.constant() {value = dense<[5]> : tensor<1xi32>}
// CHECK-NEXT:      %b = builtin.constant() {value = dense<[6, 7]> : tensor<2xi32>}
// CHECK-NEXT:      func.return(%a, %b)
module @fold_split {
  func.func @main() -> (tensor<1xi32>, tensor<2xi32>) {
    %c = builtin.constant() {value = dense<[5, 6, 7]> : tensor<3xi32>} : () -> tensor<3xi32>
    %a, %b = nn.split(%c) {axis = 0, sizes = [1, 2]} : (tensor<3xi32>) -> (tensor<1xi32>, tensor<2xi32>)
    func.return(%a, %b) : (tensor<1xi32>, tensor<2xi32>) -> ()
  }
}

// -----

// Dead ops go too.
// CHECK-LABEL: module @dead
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
// CHECK-NEXT:      %r = nn.relu(%x)
// CHECK-NEXT:      func.return(%r)
module @dead {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %r = nn.relu(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %s = nn.sigmoid(%r) : (tensor<4xf32>) -> tensor<4xf32>
    func.return(%r) : (tensor<4xf32>) -> ()
  }
}
