// RUN: edgecc opt %s --split-input-file --passes "prune{ratio=0.34 score=l1 reconstruct=false}" | filecheck %s
// RUN: edgecc opt %s --split-input-file --passes "prune{ratio=0.34 score=l1 reconstruct=false keep=[c1]}" \
// RUN:   | filecheck %s --check-prefix=KEEP

// Output channel 1 of c1 has the smallest L1 norm: it leaves c1 (weight row, bias entry), the relu
// between, and c2's input (weight column); c2 feeds the output, so its channels all stay.
// CHECK-LABEL: module @chain
// CHECK:         builtin.constant() {value = dense<{{\[\[\[\[}}1.0, -2.0]]], {{\[\[\[}}3.0, 1.0]]]]> : tensor<2x1x1x2xf32>}
// CHECK:         builtin.constant() {value = dense<[0.5, -0.5]> : tensor<2xf32>}
// CHECK:         nn.conv2d({{.*}}) {activation = "relu"{{.*}} -> tensor<1x4x4x2xf32> loc("c1")
// CHECK:         builtin.constant() {value = dense<{{\[\[\[\[}}1.0, 3.0]]], {{\[\[\[}}-1.0, 2.0]]]]> : tensor<2x1x1x2xf32>}
// CHECK:         nn.conv2d({{.*}}) : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>) -> tensor<1x4x4x2xf32> loc("c2")
// KEEP-LABEL: module @chain
// KEEP:         nn.conv2d({{.*}}) -> tensor<1x4x4x3xf32> loc("c1")
module @chain {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>) {
    %w1 = builtin.constant() {value = dense<[[[[1.0, -2.0]]], [[[0.1, 0.1]]], [[[3.0, 1.0]]]]> : tensor<3x1x1x2xf32>} : () -> tensor<3x1x1x2xf32>
    %b1 = builtin.constant() {value = dense<[0.5, 0.25, -0.5]> : tensor<3xf32>} : () -> tensor<3xf32>
    %0 = nn.conv2d(%x, %w1, %b1) {activation = "relu"} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32> loc("c1")
    %w2 = builtin.constant() {value = dense<[[[[1.0, 5.0, 3.0]]], [[[-1.0, 5.0, 2.0]]]]> : tensor<2x1x1x3xf32>} : () -> tensor<2x1x1x3xf32>
    %y = nn.conv2d(%0, %w2) : (tensor<1x4x4x3xf32>, tensor<2x1x1x3xf32>) -> tensor<1x4x4x2xf32> loc("c2")
    func.return(%y) : (tensor<1x4x4x2xf32>) -> ()
  }
}
