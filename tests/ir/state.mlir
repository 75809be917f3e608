// Persistent state: declarations and state.read / state.write round-trip through the printer and
// parser, survive canonicalize/cse/dce (a write has no result but is kept), and quantized states
// keep their types and initial data.
// RUN: edgecc opt %s --split-input-file --passes canonicalize,cse,dce | filecheck %s
// RUN: edgecc opt %s --split-input-file | edgecc opt - --split-input-file | filecheck %s

// CHECK-LABEL: module @accumulator {
// CHECK-NEXT:    state @sum : tensor<1x4xf32> = dense<0.0> : tensor<1x4xf32>
// CHECK-NEXT:    state @taps : tensor<1x2x4xf32> = dense<{{\[\[\[}}1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]]> : tensor<1x2x4xf32>
// CHECK-NEXT:    func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4xf32>) {
// CHECK-NEXT:      %[[S:.*]] = state.read() {state = "sum"} : () -> tensor<1x4xf32>
// CHECK-NEXT:      %[[Y:.*]] = nn.add(%[[S]], %x)
// CHECK-NEXT:      state.write(%[[Y]]) {state = "sum"} : (tensor<1x4xf32>) -> ()
// CHECK-NEXT:      func.return(%[[Y]])
module @accumulator {
  state @sum : tensor<1x4xf32> = dense<0.0> : tensor<1x4xf32>
  state @taps : tensor<1x2x4xf32> = dense<[[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]]> : tensor<1x2x4xf32>
  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4xf32>) {
    %s = state.read() {state = "sum"} : () -> tensor<1x4xf32>
    %y = nn.add(%s, %x) : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    state.write(%y) {state = "sum"} : (tensor<1x4xf32>) -> ()
    func.return(%y) : (tensor<1x4xf32>) -> ()
  }
}

// -----

// A quantized state with a large initial value goes to the resource section.
// CHECK-LABEL: module @stream {
// CHECK-NEXT:    state @h : tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>> = dense_resource<h> : tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>>
// CHECK:         %[[H:.*]] = state.read() {state = "h"} : () -> tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>>
// CHECK:         state.write(%x) {state = "h"}
// CHECK:       h: "0x01000000FDFDFDFDFDFDFDFDFDFDFDFDFDFDFDFDFDFDFD01"
module @stream {
  state @h : tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>> = dense_resource<h> : tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>>
  func.func @main(%x: tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>>) -> (tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>>) {
    %h = state.read() {state = "h"} : () -> tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>>
    state.write(%x) {state = "h"} : (tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>>) -> ()
    func.return(%h) : (tensor<1x20x!quant.uniform<i8:f32, 0.5:-3>>) -> ()
  }
}
{-#
  dialect_resources: {
    builtin: {
      h: "0x01000000FDFDFDFDFDFDFDFDFDFDFDFDFDFDFDFDFDFDFD01"
    }
  }
#-}
