// RUN: edgecc opt %s --split-input-file --passes "lowrank{whiten=false ranks=[fc:1]}" | filecheck %s
// RUN: edgecc opt %s --split-input-file --passes "lowrank{whiten=false}" | filecheck %s --check-prefix=RATIO

// A rank-1 [4, 3] weight becomes [1, 3] then [4, 1]; the bias and the relu move to the second layer.
// CHECK-LABEL: module @fc_rank1
// CHECK:         %w_lr1 = builtin.constant() {value = dense<[[0.2672{{[0-9]*}}, 0.5345{{[0-9]*}}, 0.8017{{[0-9]*}}]]> : tensor<1x3xf32>}
// CHECK-NEXT:    %y_lr = nn.fully_connected(%x, %w_lr1) : (tensor<1x3xf32>, tensor<1x3xf32>) -> tensor<1x1xf32> loc("fc")
// CHECK-NEXT:    %w_lr2 = builtin.constant() {value = dense<[[3.7416{{[0-9]*}}], [7.4833{{[0-9]*}}], [-3.7416{{[0-9]*}}], [1.8708{{[0-9]*}}]]> : tensor<4x1xf32>}
// CHECK-NEXT:    %y = nn.fully_connected(%y_lr, %w_lr2, %b) {activation = "relu"} : {{.*}} -> tensor<1x4xf32> loc("fc")
// CHECK-NEXT:    func.return(%y)
// A factorisation that would not save weights is not made: rank 1 of [4, 3] costs 7 > 0.5 * 12.
// RATIO-LABEL: module @fc_rank1
// RATIO:         nn.fully_connected(%x, %w, %b) {activation = "relu"}
// RATIO-NOT:     _lr
module @fc_rank1 {
  func.func @main(%x: tensor<1x3xf32>) -> (tensor<1x4xf32>) {
    %w = builtin.constant() {value = dense<[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [-1.0, -2.0, -3.0], [0.5, 1.0, 1.5]]> : tensor<4x3xf32>} : () -> tensor<4x3xf32>
    %b = builtin.constant() {value = dense<[0.5, 0.0, 0.0, 1.0]> : tensor<4xf32>} : () -> tensor<4xf32>
    %y = nn.fully_connected(%x, %w, %b) {activation = "relu"} : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32> loc("fc")
    func.return(%y) : (tensor<1x4xf32>) -> ()
  }
}
