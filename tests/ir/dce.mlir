// RUN: edgecc opt %s --split-input-file --passes dce | filecheck %s

// A dead chain goes in one run, with the constant only it used.
// CHECK-LABEL: module @dead_chain
// CHECK-NEXT:    func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
// CHECK-NEXT:      %live = nn.relu(%x)
// CHECK-NEXT:      func.return(%live)
// CHECK-NEXT:    }
module @dead_chain {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
    %c = builtin.constant() {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %a = nn.add(%x, %c) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %b = nn.neg(%a) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %live = nn.relu(%x) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %d = nn.sigmoid(%b) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return(%live) : (tensor<2x3xf32>) -> ()
  }
}

// -----

// Unused constants are dead too; used ones stay.
// CHECK-LABEL: module @dead_constants
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
// CHECK-NEXT:      %used = builtin.constant()
// CHECK-NEXT:      %0 = nn.mul(%x, %used)
// CHECK-NEXT:      func.return(%0)
// CHECK-NOT:     builtin.constant
module @dead_constants {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %unused = builtin.constant() {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
    %used = builtin.constant() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %0 = nn.mul(%x, %used) : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
    %unused2 = builtin.constant() {value = dense<7> : tensor<i32>} : () -> tensor<i32>
    func.return(%0) : (tensor<4xf32>) -> ()
  }
}

// -----

// A multi-result op stays while any result is used.
// CHECK-LABEL: module @split_results
// CHECK-NEXT:    func.func @main(%x: tensor<4x6xf32>) -> (tensor<4x2xf32>) {
// CHECK-NEXT:      %p, %q = nn.split(%x) {axis = 1, sizes = [2, 4]}
// CHECK-NEXT:      func.return(%p)
module @split_results {
  func.func @main(%x: tensor<4x6xf32>) -> (tensor<4x2xf32>) {
    %p, %q = nn.split(%x) {axis = 1, sizes = [2, 4]} : (tensor<4x6xf32>) -> (tensor<4x2xf32>, tensor<4x4xf32>)
    %r, %s = nn.split(%x) {axis = 1, sizes = [3, 3]} : (tensor<4x6xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>)
    func.return(%p) : (tensor<4x2xf32>) -> ()
  }
}

// -----

// Ops without the Pure trait (generic onnx ops) are kept even when unused.
// CHECK-LABEL: module @impure_kept
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
// CHECK-NEXT:      %u = onnx.Relu(%x)
// CHECK-NEXT:      func.return(%x)
module @impure_kept {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %u = onnx.Relu(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %v = nn.relu(%u) : (tensor<4xf32>) -> tensor<4xf32>
    func.return(%x) : (tensor<4xf32>) -> ()
  }
}

// -----

// Nothing dead: the module is unchanged.
// CHECK-LABEL: module @all_live
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT:      %a = nn.relu(%x)
// CHECK-NEXT:      %b = nn.neg(%a)
// CHECK-NEXT:      func.return(%a, %b)
// CHECK-NEXT:    }
// CHECK-NEXT:  }
module @all_live {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
    %a = nn.relu(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %b = nn.neg(%a) : (tensor<4xf32>) -> tensor<4xf32>
    func.return(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> ()
  }
}
