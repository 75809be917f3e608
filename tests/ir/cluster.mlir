// RUN: edgecc opt %s --split-input-file --passes "cluster{levels=2}" | filecheck %s
// RUN: edgecc opt %s --split-input-file --passes "cluster{levels=2 per-channel=false keep-zero=false}" \
// RUN:   | filecheck %s --check-prefix=TENSOR

// Per output channel, 2 levels: each row's values become the means of its two optimal clusters;
// exact zeros stay zero (keep-zero). One codebook for the layer with per-channel=false.
// CHECK-LABEL: module @fc
// CHECK:         %w = builtin.constant() {value = dense<{{\[\[}}1.5, 1.5, 0.0, 10.0, 10.0], [-3.0, 3.0, 3.0, -3.0, 0.0]]> : tensor<2x5xf32>}
// TENSOR:        %w = builtin.constant() {value = dense<{{\[\[}}0.375, 0.375, 0.375, 10.0, 10.0], [0.375, 0.375, 0.375, 0.375, 0.375]]> : tensor<2x5xf32>}
module @fc {
  func.func @main(%x: tensor<1x5xf32>) -> (tensor<1x2xf32>) {
    %w = builtin.constant() {value = dense<[[1.0, 2.0, 0.0, 9.0, 11.0], [-3.0, 3.0, 3.0, -3.0, 0.0]]> : tensor<2x5xf32>} : () -> tensor<2x5xf32>
    %y = nn.fully_connected(%x, %w) : (tensor<1x5xf32>, tensor<2x5xf32>) -> tensor<1x2xf32> loc("fc")
    func.return(%y) : (tensor<1x2xf32>) -> ()
  }
}
