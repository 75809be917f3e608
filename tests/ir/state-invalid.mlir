// Each case breaks one persistent-state rule; the error names the op (or state) and the rule.
// RUN: edgecc opt %s --split-input-file --verify-diagnostics | filecheck %s

module {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %s = state.read() {state = "missing"} : () -> tensor<4xf32>
    func.return(%s) : (tensor<4xf32>) -> ()
  }
}
// CHECK: error: 'state.read' refers to undeclared state @missing

// -----

module {
  state @s : tensor<4xf32> = dense<0.0> : tensor<4xf32>
  func.func @main(%x: tensor<2x2xf32>) -> (tensor<2x2xf32>) {
    state.write(%x) {state = "s"} : (tensor<2x2xf32>) -> ()
    func.return(%x) : (tensor<2x2xf32>) -> ()
  }
}
// CHECK: error: 'state.write' has type tensor<2x2xf32> but state @s is tensor<4xf32>

// -----

module {
  state @s : tensor<4xf32> = dense<0.0> : tensor<4xf32>
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    state.write(%x) {state = "s"} : (tensor<4xf32>) -> ()
    state.write(%x) {state = "s"} : (tensor<4xf32>) -> ()
    func.return(%x) : (tensor<4xf32>) -> ()
  }
}
// CHECK: error: 'state.write' writes state @s a second time

// -----

module {
  state @s : tensor<4xf32> = dense<0.0> : tensor<4xf32>
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    state.write(%x) {state = "s"} : (tensor<4xf32>) -> ()
    %r = state.read() {state = "s"} : () -> tensor<4xf32>
    func.return(%r) : (tensor<4xf32>) -> ()
  }
}
// CHECK: error: 'state.read' reads state @s after its state.write

// -----

module {
  state @s : tensor<4xf32> = dense<0> : tensor<4xi8>
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    func.return(%x) : (tensor<4xf32>) -> ()
  }
}
// CHECK: error: state @s: initial value has type tensor<4xi8>, the state is tensor<4xf32>

// -----

module {
  state @s : tensor<4xf32> = dense<0.0> : tensor<4xf32>
  state @s : tensor<4xf32> = dense<0.0> : tensor<4xf32>
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    func.return(%x) : (tensor<4xf32>) -> ()
  }
}
// CHECK: error: state @s is declared twice
