// RUN: edgecc opt %s --passes "sparsify{sparsity=0.5 layers=[fc:0.75] keep=[conv]}" | filecheck %s

// A per-layer ratio overrides the global one, `keep` leaves a layer dense, the others get the
// global ratio (half of each row).
// CHECK-LABEL: module @layers
// CHECK:         %wc = builtin.constant() {value = dense<{{\[\[\[\[}}1.0, 2.0, 3.0, -4.0]]], {{\[\[\[}}0.5, 2.0, -1.0, -9.0]]]]> : tensor<2x1x1x4xf32>}
// CHECK:         %wf = builtin.constant() {value = dense<{{\[\[}}0.0, -4.0, 0.0, 0.0], [0.0, 0.0, 0.0, -8.0]]> : tensor<2x4xf32>}
// CHECK:         %wg = builtin.constant() {value = dense<{{\[\[}}0.0, -4.0], [0.0, -6.0]]> : tensor<2x2xf32>}
module @layers {
  func.func @main(%x: tensor<1x1x1x4xf32>) -> (tensor<1x2xf32>) {
    %wc = builtin.constant() {value = dense<[[[[1.0, 2.0, 3.0, -4.0]]], [[[0.5, 2.0, -1.0, -9.0]]]]> : tensor<2x1x1x4xf32>} : () -> tensor<2x1x1x4xf32>
    %c = nn.conv2d(%x, %wc) : (tensor<1x1x1x4xf32>, tensor<2x1x1x4xf32>) -> tensor<1x1x1x2xf32> loc("conv")
    %r = nn.reshape(%c) {shape = [1, 2]} : (tensor<1x1x1x2xf32>) -> tensor<1x2xf32>
    %v = nn.concat(%r, %r) {axis = 1} : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x4xf32>
    %wf = builtin.constant() {value = dense<[[1.0, -4.0, 3.0, -2.0], [5.0, 6.0, 7.0, -8.0]]> : tensor<2x4xf32>} : () -> tensor<2x4xf32>
    %f = nn.fully_connected(%v, %wf) : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32> loc("fc")
    %wg = builtin.constant() {value = dense<[[1.0, -4.0], [5.0, -6.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
    %y = nn.fully_connected(%f, %wg) : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32> loc("fc2")
    func.return(%y) : (tensor<1x2xf32>) -> ()
  }
}
