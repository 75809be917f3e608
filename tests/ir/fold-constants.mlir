// fold-constants evaluates ops whose operands are all constants with the reference interpreter.
// RUN: edgecc opt %s --split-input-file --passes fold-constants | filecheck %s

// A chain folds in one run; name hints and locations survive; dead constants go.
// CHECK-LABEL: module @chain
// CHECK:         func.func @main(%x: tensor<2xf32>)
// CHECK-NEXT:      %neg = builtin.constant() {value = dense<[-4.0, -6.0]> : tensor<2xf32>} {{.*}} loc("neg_node")
// CHECK-NEXT:      %0 = nn.mul(%x, %neg)
// CHECK-NEXT:      func.return(%0)
module @chain {
  func.func @main(%x: tensor<2xf32>) -> (tensor<2xf32>) {
    %a = builtin.constant() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %b = builtin.constant() {value = dense<[3.0, 4.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %unused = builtin.constant() {value = dense<7.0> : tensor<f32>} : () -> tensor<f32>
    %sum = nn.add(%a, %b) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> loc("add_node")
    %neg = nn.neg(%sum) : (tensor<2xf32>) -> tensor<2xf32> loc("neg_node")
    %0 = nn.mul(%x, %neg) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    func.return(%0) : (tensor<2xf32>) -> ()
  }
}

// -----

// Weight layout work on constants folds: a transposed weight becomes one constant.
// CHECK-LABEL: module @weights
// CHECK:         %wt = builtin.constant() {value = dense<{{\[}}[1.0, 3.0], [2.0, 4.0]]> : tensor<2x2xf32>}
// CHECK-NEXT:    %y = nn.fully_connected(%x, %wt)
// CHECK-NOT:     nn.transpose
module @weights {
  func.func @main(%x: tensor<1x2xf32>) -> (tensor<1x2xf32>) {
    %w = builtin.constant() {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
    %wt = nn.transpose(%w) {perm = [1, 0]} : (tensor<2x2xf32>) -> tensor<2x2xf32>
    %y = nn.fully_connected(%x, %wt) : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
    func.return(%y) : (tensor<1x2xf32>) -> ()
  }
}

// -----

// Multi-result ops fold into one constant per result; quantize folds into a quantized constant.
// CHECK-LABEL: module @split_quant
// CHECK-DAG:     %lo = builtin.constant() {value = dense<[0.5, 1.0]> : tensor<2xf32>}
// CHECK-DAG:     %q = builtin.constant() {value = dense<[4, 6]> : tensor<2x!quant.uniform<i8:f32, 0.25:2>>}
// CHECK:         func.return(%lo, %q)
module @split_quant {
  func.func @main() -> (tensor<2xf32>, tensor<2x!quant.uniform<i8:f32, 0.25:2>>) {
    %c = builtin.constant() {value = dense<[0.5, 1.0, 1.5]> : tensor<3xf32>} : () -> tensor<3xf32>
    %lo, %hi = nn.split(%c) {axis = 0, sizes = [2, 1]} : (tensor<3xf32>) -> (tensor<2xf32>, tensor<1xf32>)
    %q = nn.quantize(%lo) : (tensor<2xf32>) -> tensor<2x!quant.uniform<i8:f32, 0.25:2>>
    func.return(%lo, %q) : (tensor<2xf32>, tensor<2x!quant.uniform<i8:f32, 0.25:2>>) -> ()
  }
}

// -----

// Ops on quantized constants fold with the integer semantics; a dequantize of a quantized
// constant is kept (it carries QDQ weights to the quantizer); non-constant operands block folding.
// CHECK-LABEL: module @kept
// CHECK-NOT:     nn.relu
// CHECK:         nn.dequantize
// CHECK:         nn.add
module @kept {
  func.func @main(%x: tensor<2xf32>) -> (tensor<2x!quant.uniform<i8:f32, 0.5:0>>, tensor<2xf32>) {
    %q = builtin.constant() {value = dense<[2, 4]> : tensor<2x!quant.uniform<i8:f32, 0.5:0>>} : () -> tensor<2x!quant.uniform<i8:f32, 0.5:0>>
    %r = nn.relu(%q) : (tensor<2x!quant.uniform<i8:f32, 0.5:0>>) -> tensor<2x!quant.uniform<i8:f32, 0.5:0>>
    %d = nn.dequantize(%r) : (tensor<2x!quant.uniform<i8:f32, 0.5:0>>) -> tensor<2xf32>
    %s = nn.add(%x, %d) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    func.return(%r, %s) : (tensor<2x!quant.uniform<i8:f32, 0.5:0>>, tensor<2xf32>) -> ()
  }
}
