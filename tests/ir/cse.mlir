// RUN: edgecc opt %s --split-input-file --passes cse | filecheck %s

// Identical pure ops merge into the first; merging cascades to their users.
// CHECK-LABEL: module @cascade
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
// CHECK-NEXT:      %a = nn.neg(%x)
// CHECK-NEXT:      %ra = nn.relu(%a)
// CHECK-NEXT:      %s = nn.add(%ra, %ra)
// CHECK-NEXT:      func.return(%s)
module @cascade {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %a = nn.neg(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %b = nn.neg(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %ra = nn.relu(%a) : (tensor<4xf32>) -> tensor<4xf32>
    %rb = nn.relu(%b) : (tensor<4xf32>) -> tensor<4xf32>
    %s = nn.add(%ra, %rb) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return(%s) : (tensor<4xf32>) -> ()
  }
}

// -----

// Constants compare by content, also when printed as resources.
// CHECK-LABEL: module @constants
// CHECK-NEXT:    func.func @main(%x: tensor<20xf32>) -> (tensor<20xf32>) {
// CHECK-NEXT:      %w1 = builtin.constant() {value = dense_resource<w1> : tensor<20xf32>}
// CHECK-NEXT:      %w3 = builtin.constant() {value = dense_resource<w3> : tensor<20xf32>}
// CHECK-NEXT:      %0 = nn.add(%x, %w1)
// CHECK-NEXT:      %1 = nn.add(%0, %w1)
// CHECK-NEXT:      %2 = nn.add(%1, %w3)
// CHECK-NEXT:      func.return(%2)
module @constants {
  func.func @main(%x: tensor<20xf32>) -> (tensor<20xf32>) {
    %w1 = builtin.constant() {value = dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0]> : tensor<20xf32>} : () -> tensor<20xf32>
    %w2 = builtin.constant() {value = dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0]> : tensor<20xf32>} : () -> tensor<20xf32>
    %w3 = builtin.constant() {value = dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 99.0]> : tensor<20xf32>} : () -> tensor<20xf32>
    %0 = nn.add(%x, %w1) : (tensor<20xf32>, tensor<20xf32>) -> tensor<20xf32>
    %1 = nn.add(%0, %w2) : (tensor<20xf32>, tensor<20xf32>) -> tensor<20xf32>
    %2 = nn.add(%1, %w3) : (tensor<20xf32>, tensor<20xf32>) -> tensor<20xf32>
    func.return(%2) : (tensor<20xf32>) -> ()
  }
}

// -----

// Same data with a different element type is a different constant.
// CHECK-LABEL: module @constant_types
// CHECK-NEXT:    func.func @main() -> (tensor<2xi32>, tensor<2xi32>, tensor<2xi64>) {
// CHECK-NEXT:      %a = builtin.constant() {value = dense<[1, 2]> : tensor<2xi32>}
// CHECK-NEXT:      %c = builtin.constant() {value = dense<[1, 2]> : tensor<2xi64>}
// CHECK-NEXT:      func.return(%a, %a, %c)
module @constant_types {
  func.func @main() -> (tensor<2xi32>, tensor<2xi32>, tensor<2xi64>) {
    %a = builtin.constant() {value = dense<[1, 2]> : tensor<2xi32>} : () -> tensor<2xi32>
    %b = builtin.constant() {value = dense<[1, 2]> : tensor<2xi32>} : () -> tensor<2xi32>
    %c = builtin.constant() {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
    func.return(%a, %b, %c) : (tensor<2xi32>, tensor<2xi32>, tensor<2xi64>) -> ()
  }
}

// -----

// Attributes must agree; a spec default equals the attribute written out.
// CHECK-LABEL: module @attributes
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT:      %a = nn.add(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:      %c = nn.add(%x, %y) {activation = "relu"}
// CHECK-NEXT:      func.return(%a, %a, %c)
module @attributes {
  func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
    %a = nn.add(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %b = nn.add(%x, %y) {activation = "none"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %c = nn.add(%x, %y) {activation = "relu"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return(%a, %b, %c) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> ()
  }
}

// -----

// Commutative ops match with swapped operands; others do not.
// CHECK-LABEL: module @commutative
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT:      %m1 = nn.mul(%x, %y)
// CHECK-NEXT:      %s1 = nn.sub(%x, %y)
// CHECK-NEXT:      %s2 = nn.sub(%y, %x)
// CHECK-NEXT:      func.return(%m1, %m1, %s1, %s2)
module @commutative {
  func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
    %m1 = nn.mul(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %m2 = nn.mul(%y, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %s1 = nn.sub(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %s2 = nn.sub(%y, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return(%m1, %m2, %s1, %s2) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> ()
  }
}

// -----

// Same op and operands but different result types (quantization parameters) stay apart.
// CHECK-LABEL: module @result_types
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>)
// CHECK-NEXT:      %q1 = nn.quantize(%x) : (tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5:0>>
// CHECK-NEXT:      %q2 = nn.quantize(%x) : (tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.25:0>>
// CHECK-NEXT:      func.return(%q1, %q1, %q2)
module @result_types {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4x!quant.uniform<i8:f32, 0.5:0>>, tensor<4x!quant.uniform<i8:f32, 0.5:0>>, tensor<4x!quant.uniform<i8:f32, 0.25:0>>) {
    %q1 = nn.quantize(%x) : (tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5:0>>
    %q2 = nn.quantize(%x) : (tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.25:0>>
    %q3 = nn.quantize(%x) : (tensor<4xf32>) -> tensor<4x!quant.uniform<i8:f32, 0.5:0>>
    func.return(%q1, %q3, %q2) : (tensor<4x!quant.uniform<i8:f32, 0.5:0>>, tensor<4x!quant.uniform<i8:f32, 0.5:0>>, tensor<4x!quant.uniform<i8:f32, 0.25:0>>) -> ()
  }
}

// -----

// Ops without the Pure trait are never merged.
// CHECK-LABEL: module @impure
// CHECK-NEXT:    func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT:      %a = onnx.Relu(%x)
// CHECK-NEXT:      %b = onnx.Relu(%x)
// CHECK-NEXT:      func.return(%a, %b)
module @impure {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
    %a = onnx.Relu(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %b = onnx.Relu(%x) : (tensor<4xf32>) -> tensor<4xf32>
    func.return(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> ()
  }
}
