// RUN: edgecc opt %s --split-input-file --passes fuse | filecheck %s
// RUN: edgecc opt %s --split-input-file --passes "fuse{activations=false constants=false}" \
// RUN:   | filecheck %s --check-prefix=OPT

// relu after a single-use conv2d becomes its fused activation; the loc is fused.
// CHECK-LABEL: module @relu_into_conv
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %w = builtin.constant()
// CHECK-NEXT:      %y = nn.conv2d(%x, %w) {activation = "relu"} : {{.*}} loc(fused["conv", "relu"])
// CHECK-NEXT:      func.return(%y)
module @relu_into_conv {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x3xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0]]], [[[3.0, 1.0]]], [[[1.0, -1.0]]]]> : tensor<3x1x1x2xf32>} : () -> tensor<3x1x1x2xf32>
    %0 = nn.conv2d(%x, %w) : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>) -> tensor<1x4x4x3xf32> loc("conv")
    %y = nn.relu(%0) : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32> loc("relu")
    func.return(%y) : (tensor<1x4x4x3xf32>) -> ()
  }
}

// -----

// clamp(0, 6) -> relu6 (depthwise), clamp(-1, 1) -> relu_n1_to_1 (fully_connected).
// CHECK-LABEL: module @clamp_into_depthwise_and_fc
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %dw = builtin.constant()
// CHECK-NEXT:      %a = nn.depthwise_conv2d(%x, %dw) {activation = "relu6"} : {{.*}} loc(fused["dw", "relu6"])
// CHECK-NEXT:      %fw = builtin.constant()
// CHECK-NEXT:      %b = nn.fully_connected(%v, %fw) {activation = "relu_n1_to_1"} : {{.*}} loc(fused["fc", "clip"])
// CHECK-NEXT:      func.return(%a, %b)
module @clamp_into_depthwise_and_fc {
  func.func @main(%x: tensor<1x3x3x2xf32>, %v: tensor<2x3xf32>) -> (tensor<1x3x3x2xf32>, tensor<2x2xf32>) {
    %dw = builtin.constant() {value = dense<[[[[1.0, 2.0]]]]> : tensor<1x1x1x2xf32>} : () -> tensor<1x1x1x2xf32>
    %0 = nn.depthwise_conv2d(%x, %dw) : (tensor<1x3x3x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x3x3x2xf32> loc("dw")
    %a = nn.clamp(%0) {min = 0.0, max = 6.0} : (tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32> loc("relu6")
    %fw = builtin.constant() {value = dense<[[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
    %1 = nn.fully_connected(%v, %fw) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x2xf32> loc("fc")
    %b = nn.clamp(%1) {min = -1.0, max = 1.0} : (tensor<2x2xf32>) -> tensor<2x2xf32> loc("clip")
    func.return(%a, %b) : (tensor<1x3x3x2xf32>, tensor<2x2xf32>) -> ()
  }
}

// -----

// Elementwise and pooling producers take a fused activation too.
// CHECK-LABEL: module @relu_into_add_and_pool
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.add(%x, %z) {activation = "relu"} : {{.*}} loc(fused["add", "relu"])
// CHECK-NEXT:      %1 = nn.avg_pool2d(%0) {activation = "relu6", kernel = [2, 2], strides = [2, 2]} : {{.*}} loc(fused["pool", "relu6"])
// CHECK-NEXT:      func.return(%1)
module @relu_into_add_and_pool {
  func.func @main(%x: tensor<1x4x4x2xf32>, %z: tensor<1x4x4x2xf32>) -> (tensor<1x2x2x2xf32>) {
    %0 = nn.add(%x, %z) : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> loc("add")
    %1 = nn.relu(%0) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> loc("relu")
    %2 = nn.avg_pool2d(%1) {kernel = [2, 2], strides = [2, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
    %3 = nn.clamp(%2) {min = 0.0, max = 6.0} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("relu6")
    func.return(%3) : (tensor<1x2x2x2xf32>) -> ()
  }
}

// -----

// An activation after one that is already fused intersects with it: relu6 then relu is relu6.
// CHECK-LABEL: module @activation_intersect
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.mul(%x, %z) {activation = "relu6"}
// CHECK-NEXT:      func.return(%0)
module @activation_intersect {
  func.func @main(%x: tensor<1x4x4x2xf32>, %z: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>) {
    %0 = nn.mul(%x, %z) {activation = "relu6"} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
    %1 = nn.relu(%0) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
    func.return(%1) : (tensor<1x4x4x2xf32>) -> ()
  }
}

// -----

// Not fused: the conv result has a second use, and clamp(0, 4) is no fused activation.
// CHECK-LABEL: module @activation_negative
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %w = builtin.constant()
// CHECK-NEXT:      %0 = nn.conv2d(%x, %w) : (
// CHECK-NEXT:      %1 = nn.relu(%0)
// CHECK-NEXT:      %2 = nn.max_pool2d(%x) {kernel = [1, 1]} : (
// CHECK-NEXT:      %3 = nn.clamp(%2) {max = 4.0, min = 0.0}
// CHECK-NEXT:      func.return(%0, %1, %3)
module @activation_negative {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x2xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0]]], [[[3.0, 1.0]]], [[[1.0, -1.0]]]]> : tensor<3x1x1x2xf32>} : () -> tensor<3x1x1x2xf32>
    %0 = nn.conv2d(%x, %w) : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>) -> tensor<1x4x4x3xf32>
    %1 = nn.relu(%0) : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
    %2 = nn.max_pool2d(%x) {kernel = [1, 1]} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
    %3 = nn.clamp(%2) {min = 0.0, max = 4.0} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
    func.return(%0, %1, %3) : (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>, tensor<1x4x4x2xf32>) -> ()
  }
}

// -----

// Quantized: fused when the relu keeps the type, not when it requantizes.
// CHECK-LABEL: module @activation_quantized
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.add(%a, %b) {activation = "relu"} : {{.*}} -> tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>
// CHECK-NEXT:      %1 = nn.sub(%a, %b) : (
// CHECK-NEXT:      %2 = nn.relu(%1) : {{.*}} -> tensor<1x8x!quant.uniform<i8:f32, 0.25:-128>>
// CHECK-NEXT:      func.return(%0, %2)
module @activation_quantized {
  func.func @main(%a: tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>, %b: tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>) -> (tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>, tensor<1x8x!quant.uniform<i8:f32, 0.25:-128>>) {
    %0 = nn.add(%a, %b) : (tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>, tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>
    %1 = nn.relu(%0) : (tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>
    %2 = nn.sub(%a, %b) : (tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>, tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>
    %3 = nn.relu(%2) : (tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x8x!quant.uniform<i8:f32, 0.25:-128>>
    func.return(%1, %3) : (tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>, tensor<1x8x!quant.uniform<i8:f32, 0.25:-128>>) -> ()
  }
}

// -----

// add of a [C] constant after a bias-less conv becomes its bias; the add's activation moves too.
// CHECK-LABEL: module @bias_from_add
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %w = builtin.constant()
// CHECK-NEXT:      %c = builtin.constant() {value = dense<[0.5, -1.0, 2.0]> : tensor<3xf32>}
// CHECK-NEXT:      %0 = nn.conv2d(%x, %w, %c) {activation = "relu"} : {{.*}} loc(fused["conv", "add"])
// CHECK-NEXT:      func.return(%0)
// CHECK-NOT:     nn.add
module @bias_from_add {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x3xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0]]], [[[3.0, 1.0]]], [[[1.0, -1.0]]]]> : tensor<3x1x1x2xf32>} : () -> tensor<3x1x1x2xf32>
    %0 = nn.conv2d(%x, %w) : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>) -> tensor<1x4x4x3xf32> loc("conv")
    %c = builtin.constant() {value = dense<[0.5, -1.0, 2.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %1 = nn.add(%0, %c) {activation = "relu"} : (tensor<1x4x4x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32> loc("add")
    func.return(%1) : (tensor<1x4x4x3xf32>) -> ()
  }
}

// -----

// A [1,1,1,C] constant on the left adds to an existing bias; sub of a [1,C] constant negates.
// CHECK-LABEL: module @bias_accumulate
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %dw = builtin.constant()
// CHECK-NEXT:      %db = builtin.constant() {value = dense<[1.5, 1.25]> : tensor<2xf32>}
// CHECK-NEXT:      %0 = nn.depthwise_conv2d(%x, %dw, %db) : (
// CHECK-NEXT:      %fw = builtin.constant()
// CHECK-NEXT:      %s = builtin.constant() {value = dense<[-1.5, 2.0]> : tensor<2xf32>}
// CHECK-NEXT:      %1 = nn.fully_connected(%v, %fw, %s) : (
// CHECK-NEXT:      func.return(%0, %1)
module @bias_accumulate {
  func.func @main(%x: tensor<1x2x2x2xf32>, %v: tensor<3x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<3x2xf32>) {
    %dw = builtin.constant() {value = dense<[[[[1.0, 2.0]]]]> : tensor<1x1x1x2xf32>} : () -> tensor<1x1x1x2xf32>
    %db = builtin.constant() {value = dense<[1.0, 1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %0 = nn.depthwise_conv2d(%x, %dw, %db) : (tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
    %c = builtin.constant() {value = dense<[[[[0.5, 0.25]]]]> : tensor<1x1x1x2xf32>} : () -> tensor<1x1x1x2xf32>
    %1 = nn.add(%c, %0) : (tensor<1x1x1x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
    %fw = builtin.constant() {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
    %2 = nn.fully_connected(%v, %fw) : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
    %s = builtin.constant() {value = dense<[[1.5, -2.0]]> : tensor<1x2xf32>} : () -> tensor<1x2xf32>
    %3 = nn.sub(%2, %s) : (tensor<3x2xf32>, tensor<1x2xf32>) -> tensor<3x2xf32>
    func.return(%1, %3) : (tensor<1x2x2x2xf32>, tensor<3x2xf32>) -> ()
  }
}

// -----

// Not a bias: the constant varies over H, the producer has an activation, the type is quantized.
// CHECK-LABEL: module @bias_negative
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %dw = builtin.constant()
// CHECK-NEXT:      %0 = nn.depthwise_conv2d(%x, %dw) : (
// CHECK-NEXT:      %c = builtin.constant()
// CHECK-NEXT:      %1 = nn.add(%0, %c)
// CHECK-NEXT:      %2 = nn.depthwise_conv2d(%x, %dw) {activation = "relu"}
// CHECK-NEXT:      %d = builtin.constant()
// CHECK-NEXT:      %3 = nn.add(%2, %d)
// CHECK-NEXT:      %qw = builtin.constant()
// CHECK-NEXT:      %4 = nn.fully_connected(%q, %qw) : (
// CHECK-NEXT:      %qc = builtin.constant()
// CHECK-NEXT:      %5 = nn.add(%4, %qc)
// CHECK-NEXT:      func.return(%1, %3, %5)
module @bias_negative {
  func.func @main(%x: tensor<1x2x2x2xf32>, %q: tensor<1x2x!quant.uniform<i8:f32, 0.5:0>>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>, tensor<1x2x!quant.uniform<i8:f32, 0.5:0>>) {
    %dw = builtin.constant() {value = dense<[[[[1.0, 2.0]]]]> : tensor<1x1x1x2xf32>} : () -> tensor<1x1x1x2xf32>
    %0 = nn.depthwise_conv2d(%x, %dw) : (tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x2x2x2xf32>
    %c = builtin.constant() {value = dense<[[[1.0], [2.0]]]> : tensor<1x2x1xf32>} : () -> tensor<1x2x1xf32>
    %1 = nn.add(%0, %c) : (tensor<1x2x2x2xf32>, tensor<1x2x1xf32>) -> tensor<1x2x2x2xf32>
    %2 = nn.depthwise_conv2d(%x, %dw) {activation = "relu"} : (tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x2x2x2xf32>
    %d = builtin.constant() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %3 = nn.add(%2, %d) : (tensor<1x2x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
    %qw = builtin.constant() {value = dense<[[1, 2], [3, 4]]> : tensor<2x2x!quant.uniform<i8:f32, 0.1:0>>} : () -> tensor<2x2x!quant.uniform<i8:f32, 0.1:0>>
    %4 = nn.fully_connected(%q, %qw) : (tensor<1x2x!quant.uniform<i8:f32, 0.5:0>>, tensor<2x2x!quant.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x!quant.uniform<i8:f32, 0.5:0>>
    %qc = builtin.constant() {value = dense<[1, 2]> : tensor<2x!quant.uniform<i8:f32, 0.5:0>>} : () -> tensor<2x!quant.uniform<i8:f32, 0.5:0>>
    %5 = nn.add(%4, %qc) : (tensor<1x2x!quant.uniform<i8:f32, 0.5:0>>, tensor<2x!quant.uniform<i8:f32, 0.5:0>>) -> tensor<1x2x!quant.uniform<i8:f32, 0.5:0>>
    func.return(%1, %3, %5) : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>, tensor<1x2x!quant.uniform<i8:f32, 0.5:0>>) -> ()
  }
}

// -----

// Zero padding of H and W adds to the conv pads; the pad stays for its other user.
// CHECK-LABEL: module @pad_into_conv
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %p = nn.pad(%x) {pads = [0, 1, 2, 0, 0, 1, 1, 0]}
// CHECK-NEXT:      %w = builtin.constant()
// CHECK-NEXT:      %0 = nn.conv2d(%x, %w) {pads = [2, 2, 1, 1]} : (tensor<1x4x4x2xf32>, {{.*}} loc(fused["pad", "conv"])
// CHECK-NEXT:      func.return(%0, %p)
module @pad_into_conv {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x7x7x3xf32>, tensor<1x6x7x2xf32>) {
    %p = nn.pad(%x) {pads = [0, 1, 2, 0, 0, 1, 1, 0]} : (tensor<1x4x4x2xf32>) -> tensor<1x6x7x2xf32> loc("pad")
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0]]], [[[3.0, 1.0]]], [[[1.0, -1.0]]]]> : tensor<3x1x1x2xf32>} : () -> tensor<3x1x1x2xf32>
    %0 = nn.conv2d(%p, %w) {pads = [1, 0, 0, 0]} : (tensor<1x6x7x2xf32>, tensor<3x1x1x2xf32>) -> tensor<1x7x7x3xf32> loc("conv")
    func.return(%0, %p) : (tensor<1x7x7x3xf32>, tensor<1x6x7x2xf32>) -> ()
  }
}

// -----

// Same for a depthwise conv with strides and dilations; the pad dies.
// CHECK-LABEL: module @pad_into_depthwise
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %dw = builtin.constant()
// CHECK-NEXT:      %0 = nn.depthwise_conv2d(%x, %dw) {dilations = [2, 1], pads = [1, 1, 1, 1], strides = [2, 2]} : (tensor<1x4x4x2xf32>,
// CHECK-NEXT:      func.return(%0)
module @pad_into_depthwise {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x2x3x2xf32>) {
    %p = nn.pad(%x) {pads = [0, 1, 1, 0, 0, 1, 1, 0]} : (tensor<1x4x4x2xf32>) -> tensor<1x6x6x2xf32>
    %dw = builtin.constant() {value = dense<[[[[1.0, 2.0]], [[3.0, 4.0]]]]> : tensor<1x2x1x2xf32>} : () -> tensor<1x2x1x2xf32>
    %0 = nn.depthwise_conv2d(%p, %dw) {dilations = [2, 1], strides = [2, 2]} : (tensor<1x6x6x2xf32>, tensor<1x2x1x2xf32>) -> tensor<1x2x3x2xf32>
    func.return(%0) : (tensor<1x2x3x2xf32>) -> ()
  }
}

// -----

// Not fused: channel padding, a non-zero value, reflect mode, and pools (which ignore padding).
// CHECK-LABEL: module @pad_negative
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %w = builtin.constant()
// CHECK-NEXT:      %w2 = builtin.constant()
// CHECK-NEXT:      %c = nn.pad(%x)
// CHECK-NEXT:      %0 = nn.conv2d(%c, %w) : (
// CHECK-NEXT:      %v = nn.pad(%x)
// CHECK-NEXT:      %1 = nn.conv2d(%v, %w2) : (
// CHECK-NEXT:      %r = nn.pad(%x)
// CHECK-NEXT:      %2 = nn.conv2d(%r, %w2) : (
// CHECK-NEXT:      %z = nn.pad(%x)
// CHECK-NEXT:      %3 = nn.avg_pool2d(%z) {kernel = [2, 2]} : (
// CHECK-NEXT:      func.return(%0, %1, %2, %3)
module @pad_negative {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x3xf32>, tensor<1x6x4x3xf32>, tensor<1x6x4x3xf32>, tensor<1x5x3x2xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0, 0.0]]], [[[3.0, 1.0, 0.0]]], [[[1.0, -1.0, 0.0]]]]> : tensor<3x1x1x3xf32>} : () -> tensor<3x1x1x3xf32>
    %w2 = builtin.constant() {value = dense<[[[[1.0, 2.0]]], [[[3.0, 1.0]]], [[[1.0, -1.0]]]]> : tensor<3x1x1x2xf32>} : () -> tensor<3x1x1x2xf32>
    %c = nn.pad(%x) {pads = [0, 0, 0, 0, 0, 0, 0, 1]} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x3xf32>
    %0 = nn.conv2d(%c, %w) : (tensor<1x4x4x3xf32>, tensor<3x1x1x3xf32>) -> tensor<1x4x4x3xf32>
    %v = nn.pad(%x) {pads = [0, 1, 0, 0, 0, 1, 0, 0], value = 1.0} : (tensor<1x4x4x2xf32>) -> tensor<1x6x4x2xf32>
    %1 = nn.conv2d(%v, %w2) : (tensor<1x6x4x2xf32>, tensor<3x1x1x2xf32>) -> tensor<1x6x4x3xf32>
    %r = nn.pad(%x) {mode = "reflect", pads = [0, 1, 0, 0, 0, 1, 0, 0]} : (tensor<1x4x4x2xf32>) -> tensor<1x6x4x2xf32>
    %2 = nn.conv2d(%r, %w2) : (tensor<1x6x4x2xf32>, tensor<3x1x1x2xf32>) -> tensor<1x6x4x3xf32>
    %z = nn.pad(%x) {pads = [0, 1, 0, 0, 0, 1, 0, 0]} : (tensor<1x4x4x2xf32>) -> tensor<1x6x4x2xf32>
    %3 = nn.avg_pool2d(%z) {kernel = [2, 2]} : (tensor<1x6x4x2xf32>) -> tensor<1x5x3x2xf32>
    func.return(%0, %1, %2, %3) : (tensor<1x4x4x3xf32>, tensor<1x6x4x3xf32>, tensor<1x6x4x3xf32>, tensor<1x5x3x2xf32>) -> ()
  }
}

// -----

// mul by a per-output-channel constant scales the OHWI weights (new constant, old one erased).
// CHECK-LABEL: module @scale_into_conv
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %w = builtin.constant() {value = dense<{{\[+}}2.0, 4.0]]], {{\[+}}1.5, 0.5]]], {{\[+}}-1.0, 1.0]]]]> : tensor<3x1x1x2xf32>}
// CHECK-NEXT:      %0 = nn.conv2d(%x, %w) : {{.*}} loc(fused["conv", "scale"])
// CHECK-NEXT:      func.return(%0)
module @scale_into_conv {
  func.func @main(%x: tensor<1x2x2x2xf32>) -> (tensor<1x2x2x3xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0]]], [[[3.0, 1.0]]], [[[1.0, -1.0]]]]> : tensor<3x1x1x2xf32>} : () -> tensor<3x1x1x2xf32>
    %0 = nn.conv2d(%x, %w) : (tensor<1x2x2x2xf32>, tensor<3x1x1x2xf32>) -> tensor<1x2x2x3xf32> loc("conv")
    %s = builtin.constant() {value = dense<[2.0, 0.5, -1.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %1 = nn.mul(%0, %s) : (tensor<1x2x2x3xf32>, tensor<3xf32>) -> tensor<1x2x2x3xf32> loc("scale")
    func.return(%1) : (tensor<1x2x2x3xf32>) -> ()
  }
}

// -----

// Depthwise: weights scaled along their last axis, the bias scaled too; the mul's activation moves.
// CHECK-LABEL: module @scale_into_depthwise
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %dw = builtin.constant() {value = dense<{{\[+}}3.0, 1.0]]]]> : tensor<1x1x1x2xf32>}
// CHECK-NEXT:      %db = builtin.constant() {value = dense<[3.0, -0.5]> : tensor<2xf32>}
// CHECK-NEXT:      %0 = nn.depthwise_conv2d(%x, %dw, %db) {activation = "relu6"}
// CHECK-NEXT:      func.return(%0)
module @scale_into_depthwise {
  func.func @main(%x: tensor<1x2x2x2xf32>) -> (tensor<1x2x2x2xf32>) {
    %dw = builtin.constant() {value = dense<[[[[1.0, 2.0]]]]> : tensor<1x1x1x2xf32>} : () -> tensor<1x1x1x2xf32>
    %db = builtin.constant() {value = dense<[1.0, -1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %0 = nn.depthwise_conv2d(%x, %dw, %db) : (tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
    %s = builtin.constant() {value = dense<[[[[3.0, 0.5]]]]> : tensor<1x1x1x2xf32>} : () -> tensor<1x1x1x2xf32>
    %1 = nn.mul(%s, %0) {activation = "relu6"} : (tensor<1x1x1x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
    func.return(%1) : (tensor<1x2x2x2xf32>) -> ()
  }
}

// -----

// fully_connected * scale + shift, relu: one op.
// CHECK-LABEL: module @scale_bias_relu_chain
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %fw = builtin.constant() {value = dense<{{\[}}[0.5, 1.0], [6.0, 8.0]]> : tensor<2x2xf32>}
// CHECK-NEXT:      %b = builtin.constant() {value = dense<[1.0, -1.0]> : tensor<2xf32>}
// CHECK-NEXT:      %0 = nn.fully_connected(%v, %fw, %b) {activation = "relu"} : {{.*}} loc(fused["fc", "mul", "add", "relu"])
// CHECK-NEXT:      func.return(%0)
module @scale_bias_relu_chain {
  func.func @main(%v: tensor<4x2xf32>) -> (tensor<4x2xf32>) {
    %fw = builtin.constant() {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
    %0 = nn.fully_connected(%v, %fw) : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32> loc("fc")
    %s = builtin.constant() {value = dense<[0.5, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %1 = nn.mul(%0, %s) : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32> loc("mul")
    %b = builtin.constant() {value = dense<[1.0, -1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %2 = nn.add(%1, %b) : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32> loc("add")
    %3 = nn.relu(%2) : (tensor<4x2xf32>) -> tensor<4x2xf32> loc("relu")
    func.return(%3) : (tensor<4x2xf32>) -> ()
  }
}

// -----

// Not folded: weights that are not constants, a producer with an activation, a non-constant scale.
// CHECK-LABEL: module @scale_negative
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %s = builtin.constant()
// CHECK-NEXT:      %0 = nn.fully_connected(%v, %fw) : (
// CHECK-NEXT:      %1 = nn.mul(%0, %s)
// CHECK-NEXT:      %cw = builtin.constant()
// CHECK-NEXT:      %2 = nn.fully_connected(%v, %cw) {activation = "relu"}
// CHECK-NEXT:      %3 = nn.mul(%2, %s)
// CHECK-NEXT:      %4 = nn.fully_connected(%v, %cw) : (
// CHECK-NEXT:      %5 = nn.mul(%4, %t)
// CHECK-NEXT:      func.return(%1, %3, %5)
module @scale_negative {
  func.func @main(%v: tensor<4x2xf32>, %fw: tensor<2x2xf32>, %t: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>) {
    %s = builtin.constant() {value = dense<[0.5, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %0 = nn.fully_connected(%v, %fw) : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
    %1 = nn.mul(%0, %s) : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    %cw = builtin.constant() {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
    %2 = nn.fully_connected(%v, %cw) {activation = "relu"} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
    %3 = nn.mul(%2, %s) : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    %4 = nn.fully_connected(%v, %cw) : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
    %5 = nn.mul(%4, %t) : (tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
    func.return(%1, %3, %5) : (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>) -> ()
  }
}

// -----

// Options turn patterns off.
// CHECK-LABEL: module @options
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %fw = builtin.constant()
// CHECK-NEXT:      %b = builtin.constant()
// CHECK-NEXT:      %0 = nn.fully_connected(%v, %fw, %b) {activation = "relu"}
// CHECK-NEXT:      func.return(%0)
// OPT-LABEL: module @options
// OPT-NEXT:    func.func @main
// OPT-NEXT:      %fw = builtin.constant()
// OPT-NEXT:      %b = builtin.constant()
// OPT-NEXT:      %0 = nn.fully_connected(%v, %fw, %b) : (
// OPT-NEXT:      %1 = nn.relu(%0)
// OPT-NEXT:      func.return(%1)
module @options {
  func.func @main(%v: tensor<4x2xf32>) -> (tensor<4x2xf32>) {
    %fw = builtin.constant() {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
    %0 = nn.fully_connected(%v, %fw) : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
    %b = builtin.constant() {value = dense<[1.0, -1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %1 = nn.add(%0, %b) : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    %2 = nn.relu(%1) : (tensor<4x2xf32>) -> tensor<4x2xf32>
    func.return(%2) : (tensor<4x2xf32>) -> ()
  }
}
