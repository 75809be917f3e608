// RUN: edgecc opt %s --split-input-file --passes "sparsify{sparsity=0.5}" | filecheck %s
// RUN: edgecc opt %s --split-input-file --passes "sparsify{pattern=1:2}" | filecheck %s --check-prefix=NM

// Magnitude: each output channel (row) loses its smallest half; N:M 1:2 keeps the larger of every
// consecutive pair (sparsify-layers.mlir: per-layer ratios and layers kept dense).
// CHECK-LABEL: module @fc
// CHECK:         %w = builtin.constant() {value = dense<{{\[\[}}0.0, -4.0, 3.0, 0.0], [0.0, 0.0, 7.0, -8.0]]> : tensor<2x4xf32>}
// NM:            %w = builtin.constant() {value = dense<{{\[\[}}0.0, -4.0, 3.0, 0.0], [0.0, 6.0, 0.0, -8.0]]> : tensor<2x4xf32>}
module @fc {
  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x2xf32>) {
    %w = builtin.constant() {value = dense<[[1.0, -4.0, 3.0, -2.0], [5.0, 6.0, 7.0, -8.0]]> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
    %y = nn.fully_connected(%x, %w) : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32> loc("fc")
    func.return(%y) : (tensor<1x2xf32>) -> ()
  }
}

// -----

// conv2d OHWI: a row is one output channel's KH*KW*I weights (here 1x1x4).
// CHECK-LABEL: module @conv
// CHECK:         %w = builtin.constant() {value = dense<{{\[\[\[\[}}0.0, 0.0, 3.0, -4.0]]], {{\[\[\[}}0.0, 2.0, 0.0, -9.0]]]]> : tensor<2x1x1x4xf32>}
// NM:            %w = builtin.constant() {value = dense<{{\[\[\[\[}}0.0, 2.0, 0.0, -4.0]]], {{\[\[\[}}0.0, 2.0, 0.0, -9.0]]]]> : tensor<2x1x1x4xf32>}
module @conv {
  func.func @main(%x: tensor<1x2x2x4xf32>) -> (tensor<1x2x2x2xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0, 3.0, -4.0]]], [[[0.5, 2.0, -1.0, -9.0]]]]> : tensor<2x1x1x4xf32>} : () -> tensor<2x1x1x4xf32>
    %y = nn.conv2d(%x, %w) : (tensor<1x2x2x4xf32>, tensor<2x1x1x4xf32>) -> tensor<1x2x2x2xf32> loc("conv")
    func.return(%y) : (tensor<1x2x2x2xf32>) -> ()
  }
}
