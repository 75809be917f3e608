// Parsing and printing preserve every construct of the format.
// RUN: edgecc opt %s | filecheck %s
// RUN: edgecc opt %s | edgecc opt - | filecheck %s

module @roundtrip attributes {edgecc.source = "m.onnx", onnx.opset = 17} {
  func.func @main(%input: tensor<1x4xf32>, %q: tensor<2x3x!quant.uniform<i8:f32, 0.5:-3>>) -> (tensor<1x4xf32>, tensor<3x!quant.uniform<i8<-127:127>:f32:0, {0.25:0, 0.125:0, 1e-05:0}>>, tensor<2x3x!quant.uniform<i8:f32, 0.5:-3>>) {
    %w = builtin.constant() {value = dense_resource<w> : tensor<20xf32>} : () -> tensor<20xf32>
    %0 = builtin.constant() {value = dense<[[1, -2]]> : tensor<1x2xi32>} : () -> tensor<1x2xi32>
    %pq = builtin.constant() {value = dense<[5, -127, 127]> : tensor<3x!quant.uniform<i8<-127:127>:f32:0, {0.25:0, 0.125:0, 1e-05:0}>>} : () -> tensor<3x!quant.uniform<i8<-127:127>:f32:0, {0.25:0, 0.125:0, 1e-05:0}>> loc("conv1"("m.onnx":3:0))
    %s = builtin.constant() {value = dense<2.5> : tensor<f32>} : () -> tensor<f32> loc(fused["a", "b"("m.onnx":1:2)])
    func.return(%input, %pq, %q) : (tensor<1x4xf32>, tensor<3x!quant.uniform<i8<-127:127>:f32:0, {0.25:0, 0.125:0, 1e-05:0}>>, tensor<2x3x!quant.uniform<i8:f32, 0.5:-3>>) -> ()
  }
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000004000004040000080400000A0400000C0400000E0400000004100001041000020410000304100004041000050410000604100007041000080410000884100009041000098410000A041"
    }
  }
#-}

// CHECK:      module @roundtrip attributes {edgecc.source = "m.onnx", onnx.opset = 17} {
// CHECK-NEXT:   func.func @main(%input: tensor<1x4xf32>, %q: tensor<2x3x!quant.uniform<i8:f32, 0.5:-3>>)
// CHECK-NEXT:     %w = builtin.constant() {value = dense_resource<w> : tensor<20xf32>}
// CHECK-NEXT:     %0 = builtin.constant() {value = dense<{{\[}}[1, -2]]> : tensor<1x2xi32>}
// CHECK-NEXT:     %pq = builtin.constant() {value = dense<[5, -127, 127]> : tensor<3x!quant.uniform<i8<-127:127>:f32:0, {0.25:0, 0.125:0, 1e-05:0}>>} {{.*}} loc("conv1"("m.onnx":3:0))
// CHECK-NEXT:     %s = builtin.constant() {value = dense<2.5> : tensor<f32>} {{.*}} loc(fused["a", "b"("m.onnx":1:2)])
// CHECK-NEXT:     func.return(%input, %pq, %q)
// CHECK:      w: "0x040000000000803F
