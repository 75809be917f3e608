// The quantize pass on persistent state: a state's reads and the value written are one class, so
// the declaration, its initial value, the reads and the write share one quantized type.
// RUN: edgecc opt %s --split-input-file --passes quantize | filecheck %s
// RUN: edgecc opt %s --split-input-file --passes "quantize{scheme=int16x8}" | filecheck %s --check-prefix=I16

// CHECK-LABEL: module @accumulate {
// CHECK-NEXT:    state @sum : tensor<4x!quant.uniform<i8:f32, 0.03125:0>> = dense<[0, 32, -32, 16]> : tensor<4x!quant.uniform<i8:f32, 0.03125:0>>
// CHECK:         %s = state.read() {state = "sum"} : () -> tensor<4x!quant.uniform<i8:f32, 0.03125:0>>
// CHECK-NEXT:    %x_q = nn.quantize(%x)
// CHECK-NEXT:    %y = nn.add(%s, %x_q) : {{.*}} -> tensor<4x!quant.uniform<i8:f32, 0.03125:0>>
// CHECK-NEXT:    state.write(%y) {state = "sum"} : (tensor<4x!quant.uniform<i8:f32, 0.03125:0>>) -> ()
// CHECK-NEXT:    %y_dq = nn.dequantize(%y)
// I16-LABEL:   module @accumulate {
// I16-NEXT:      state @sum : tensor<4x!quant.uniform<i16:f32, 0.00012207403779029846:0>> = dense<[0, 8192, -8192, 4096]>
module @accumulate attributes {quant.input_ranges = [[-2.0, 1.984375]]} {
  state @sum : tensor<4xf32> = dense<[0.0, 1.0, -1.0, 0.5]> : tensor<4xf32>
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %s = state.read() {quant.range = [-4.0, 3.96875], state = "sum"} : () -> tensor<4xf32>
    %y = nn.add(%s, %x) {quant.range = [-4.0, 3.96875]} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    state.write(%y) {state = "sum"} : (tensor<4xf32>) -> ()
    func.return(%y) : (tensor<4xf32>) -> ()
  }
}

// -----

// The range written is wider than the range read: the state takes the union.
// CHECK-LABEL: module @decay {
// CHECK-NEXT:    state @h : tensor<4x!quant.uniform<i8:f32, 0.03125:0>> = dense<0>
// CHECK:         %h = state.read() {state = "h"} : () -> tensor<4x!quant.uniform<i8:f32, 0.03125:0>>
// CHECK:         %y = nn.mul(%h, %x_q) : {{.*}} -> tensor<4x!quant.uniform<i8:f32, 0.03125:0>>
// CHECK-NEXT:    state.write(%y) {state = "h"} : (tensor<4x!quant.uniform<i8:f32, 0.03125:0>>) -> ()
module @decay attributes {quant.input_ranges = [[-2.0, 1.984375]]} {
  state @h : tensor<4xf32> = dense<0.0> : tensor<4xf32>
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %h = state.read() {quant.range = [-1.0, 0.9921875], state = "h"} : () -> tensor<4xf32>
    %y = nn.mul(%h, %x) {quant.range = [-4.0, 3.96875]} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    state.write(%y) {state = "h"} : (tensor<4xf32>) -> ()
    func.return(%y) : (tensor<4xf32>) -> ()
  }
}
