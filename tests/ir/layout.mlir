// RUN: edgecc opt %s --split-input-file --passes layout | filecheck %s
// RUN: edgecc opt %s --split-input-file --passes "layout{transpose_to_reshape=false}" \
// RUN:   | filecheck %s --check-prefix=OPT

// A transpose sinks through relu and meets its inverse; both disappear.
// CHECK-LABEL: module @unary_sink
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.relu(%x) : (tensor<1x4x5x3xf32>) -> tensor<1x4x5x3xf32>
// CHECK-NEXT:      %1 = nn.sigmoid(%0) : (tensor<1x4x5x3xf32>) -> tensor<1x4x5x3xf32>
// CHECK-NEXT:      func.return(%1)
// CHECK-NOT:       nn.transpose
module @unary_sink {
  func.func @main(%x: tensor<1x4x5x3xf32>) -> (tensor<1x4x5x3xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
    %1 = nn.relu(%0) : (tensor<1x3x4x5xf32>) -> tensor<1x3x4x5xf32>
    %2 = nn.sigmoid(%1) : (tensor<1x3x4x5xf32>) -> tensor<1x3x4x5xf32>
    %3 = nn.transpose(%2) {perm = [0, 2, 3, 1]} : (tensor<1x3x4x5xf32>) -> tensor<1x4x5x3xf32>
    func.return(%3) : (tensor<1x4x5x3xf32>) -> ()
  }
}

// -----

// The frontend's conv wrapping: NCHW input, NHWC convs, an NCHW clamp in between.
// CHECK-LABEL: module @frontend_chain
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %w = builtin.constant()
// CHECK-NEXT:      %0 = nn.transpose(%x) {perm = [0, 2, 3, 1]}
// CHECK-NEXT:      %1 = nn.conv2d(%0, %w)
// CHECK-NEXT:      %2 = nn.clamp(%1) {max = 6.0, min = 0.0} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      %3 = nn.conv2d(%2, %w)
// CHECK-NEXT:      %4 = nn.transpose(%3) {perm = [0, 3, 1, 2]}
// CHECK-NEXT:      func.return(%4)
module @frontend_chain {
  func.func @main(%x: tensor<1x2x4x4xf32>) -> (tensor<1x2x4x4xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0]]], [[[3.0, 1.0]]]]> : tensor<2x1x1x2xf32>} : () -> tensor<2x1x1x2xf32>
    %0 = nn.transpose(%x) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
    %1 = nn.conv2d(%0, %w) : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>) -> tensor<1x4x4x2xf32>
    %2 = nn.transpose(%1) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %3 = nn.clamp(%2) {min = 0.0, max = 6.0} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %4 = nn.transpose(%3) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
    %5 = nn.conv2d(%4, %w) : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>) -> tensor<1x4x4x2xf32>
    %6 = nn.transpose(%5) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    func.return(%6) : (tensor<1x2x4x4xf32>) -> ()
  }
}

// -----

// A constant operand is broadcast to rank 4 and permuted: [C, 1, 1] in NCHW is [1, 1, 1, C].
// CHECK-LABEL: module @binary_constant
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %c = builtin.constant() {value = dense<{{\[+}}1.0, 2.0, 3.0]]]]> : tensor<1x1x1x3xf32>}
// CHECK-NEXT:      %0 = nn.mul(%x, %c) : (tensor<1x4x5x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x4x5x3xf32>
// CHECK-NEXT:      %s = builtin.constant() {value = dense<0.5> : tensor<f32>}
// CHECK-NEXT:      %1 = nn.sub(%s, %0) : (tensor<f32>, tensor<1x4x5x3xf32>) -> tensor<1x4x5x3xf32>
// CHECK-NEXT:      func.return(%1)
module @binary_constant {
  func.func @main(%x: tensor<1x4x5x3xf32>) -> (tensor<1x4x5x3xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
    %c = builtin.constant() {value = dense<[[[1.0]], [[2.0]], [[3.0]]]> : tensor<3x1x1xf32>} : () -> tensor<3x1x1xf32>
    %1 = nn.mul(%0, %c) : (tensor<1x3x4x5xf32>, tensor<3x1x1xf32>) -> tensor<1x3x4x5xf32>
    %s = builtin.constant() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %2 = nn.sub(%s, %1) : (tensor<f32>, tensor<1x3x4x5xf32>) -> tensor<1x3x4x5xf32>
    %3 = nn.transpose(%2) {perm = [0, 2, 3, 1]} : (tensor<1x3x4x5xf32>) -> tensor<1x4x5x3xf32>
    func.return(%3) : (tensor<1x4x5x3xf32>) -> ()
  }
}

// -----

// Both operands transposed the same way (a residual add); the fused activation is kept.
// CHECK-LABEL: module @binary_both_transposed
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.add(%a, %b) {activation = "relu"} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      func.return(%0)
module @binary_both_transposed {
  func.func @main(%a: tensor<1x4x4x2xf32>, %b: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>) {
    %0 = nn.transpose(%a) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %1 = nn.transpose(%b) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %2 = nn.add(%0, %1) {activation = "relu"} : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %3 = nn.transpose(%2) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
    func.return(%3) : (tensor<1x4x4x2xf32>) -> ()
  }
}

// -----

// concat along NCHW channels becomes concat along NHWC channels.
// CHECK-LABEL: module @concat_axis
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.concat(%a, %b) {axis = 3} : (tensor<1x4x4x2xf32>, tensor<1x4x4x3xf32>) -> tensor<1x4x4x5xf32>
// CHECK-NEXT:      func.return(%0)
module @concat_axis {
  func.func @main(%a: tensor<1x4x4x2xf32>, %b: tensor<1x4x4x3xf32>) -> (tensor<1x4x4x5xf32>) {
    %0 = nn.transpose(%a) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %1 = nn.transpose(%b) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x3xf32>) -> tensor<1x3x4x4xf32>
    %2 = nn.concat(%0, %1) {axis = 1} : (tensor<1x2x4x4xf32>, tensor<1x3x4x4xf32>) -> tensor<1x5x4x4xf32>
    %3 = nn.transpose(%2) {perm = [0, 2, 3, 1]} : (tensor<1x5x4x4xf32>) -> tensor<1x4x4x5xf32>
    func.return(%3) : (tensor<1x4x4x5xf32>) -> ()
  }
}

// -----

// pad and slice lists follow the permutation.
// CHECK-LABEL: module @pad_and_slice
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.pad(%x) {mode = "edge", pads = [0, 1, 2, 0, 0, 0, 0, 0]} : (tensor<1x4x5x3xf32>) -> tensor<1x5x7x3xf32>
// CHECK-NEXT:      %1 = nn.slice(%0) {begin = [0, 1, 0, 0], end = [1, 4, 7, 3], strides = [1, 1, 1, 1]} : (tensor<1x5x7x3xf32>) -> tensor<1x3x7x3xf32>
// CHECK-NEXT:      func.return(%1)
module @pad_and_slice {
  func.func @main(%x: tensor<1x4x5x3xf32>) -> (tensor<1x3x7x3xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
    %1 = nn.pad(%0) {mode = "edge", pads = [0, 0, 1, 2, 0, 0, 0, 0]} : (tensor<1x3x4x5xf32>) -> tensor<1x3x5x7xf32>
    %2 = nn.slice(%1) {begin = [0, 0, 1, 0], end = [1, 3, 4, 7], strides = [1, 1, 1, 1]} : (tensor<1x3x5x7xf32>) -> tensor<1x3x3x7xf32>
    %3 = nn.transpose(%2) {perm = [0, 2, 3, 1]} : (tensor<1x3x3x7xf32>) -> tensor<1x3x7x3xf32>
    func.return(%3) : (tensor<1x3x7x3xf32>) -> ()
  }
}

// -----

// Reductions remap their axes; without keepdims the NCHW mean over H and W needs no transpose.
// CHECK-LABEL: module @reductions
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.reduce_max(%x) {axes = [1, 2]} : (tensor<1x4x5x3xf32>) -> tensor<1x1x1x3xf32>
// CHECK-NEXT:      %1 = nn.mean(%x) {axes = [1, 2], keepdims = false} : (tensor<1x4x5x3xf32>) -> tensor<1x3xf32>
// CHECK-NEXT:      func.return(%0, %1)
module @reductions {
  func.func @main(%x: tensor<1x4x5x3xf32>) -> (tensor<1x1x1x3xf32>, tensor<1x3xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
    %1 = nn.reduce_max(%0) {axes = [2, -1]} : (tensor<1x3x4x5xf32>) -> tensor<1x3x1x1xf32>
    %2 = nn.transpose(%1) {perm = [0, 2, 3, 1]} : (tensor<1x3x1x1xf32>) -> tensor<1x1x1x3xf32>
    %3 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x5x3xf32>) -> tensor<1x3x4x5xf32>
    %4 = nn.mean(%3) {axes = [2, 3], keepdims = false} : (tensor<1x3x4x5xf32>) -> tensor<1x3xf32>
    func.return(%2, %4) : (tensor<1x1x1x3xf32>, tensor<1x3xf32>) -> ()
  }
}

// -----

// softmax over NCHW channels; split over NCHW channels with both pieces transposed back.
// CHECK-LABEL: module @softmax_and_split
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.softmax(%x) {axis = 3} : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
// CHECK-NEXT:      %1, %2 = nn.split(%0) {axis = 3, sizes = [1, 2]} : (tensor<1x4x4x3xf32>) -> (tensor<1x4x4x1xf32>, tensor<1x4x4x2xf32>)
// CHECK-NEXT:      func.return(%1, %2)
// CHECK-NOT:       nn.transpose
module @softmax_and_split {
  func.func @main(%x: tensor<1x4x4x3xf32>) -> (tensor<1x4x4x1xf32>, tensor<1x4x4x2xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x3xf32>) -> tensor<1x3x4x4xf32>
    %1 = nn.softmax(%0) {axis = 1} : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    %s0, %s1 = nn.split(%1) {axis = 1, sizes = [1, 2]} : (tensor<1x3x4x4xf32>) -> (tensor<1x1x4x4xf32>, tensor<1x2x4x4xf32>)
    %3 = nn.transpose(%s0) {perm = [0, 2, 3, 1]} : (tensor<1x1x4x4xf32>) -> tensor<1x4x4x1xf32>
    %4 = nn.transpose(%s1) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
    func.return(%3, %4) : (tensor<1x4x4x1xf32>, tensor<1x4x4x2xf32>) -> ()
  }
}

// -----

// Hoisting: the inverse transpose below the add moves onto the other operand, where it is one
// transpose instead of two.
// CHECK-LABEL: module @hoist_through_binary
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.transpose(%b) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      %1 = nn.maximum(%a, %0) : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      func.return(%1)
module @hoist_through_binary {
  func.func @main(%a: tensor<1x4x4x2xf32>, %b: tensor<1x2x4x4xf32>) -> (tensor<1x4x4x2xf32>) {
    %0 = nn.transpose(%a) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %1 = nn.maximum(%0, %b) : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %2 = nn.transpose(%1) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
    func.return(%2) : (tensor<1x4x4x2xf32>) -> ()
  }
}

// -----

// Transposes of constants fold into new constants.
// CHECK-LABEL: module @constant_transpose
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = builtin.constant() {value = dense<{{\[}}[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]> : tensor<3x2xf32>}
// CHECK-NEXT:      func.return(%0)
module @constant_transpose {
  func.func @main() -> (tensor<3x2xf32>) {
    %c = builtin.constant() {value = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
    %0 = nn.transpose(%c) {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    func.return(%0) : (tensor<3x2xf32>) -> ()
  }
}

// -----

// Left alone: a transpose feeding a layout-specific op (resize), one whose result is also a model
// output (sinking would add a transpose), and an NHWC op between two transposes that do not cancel.
// CHECK-LABEL: module @negative
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]}
// CHECK-NEXT:      %1 = nn.relu(%0) : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:      %2 = nn.transpose(%x) {perm = [0, 2, 1, 3]}
// CHECK-NEXT:      %3 = nn.resize(%2)
// CHECK-NEXT:      %4 = nn.transpose(%3) {perm = [0, 3, 1, 2]}
// CHECK-NEXT:      func.return(%0, %1, %4)
module @negative {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x8x8xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %1 = nn.relu(%0) : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %2 = nn.transpose(%x) {perm = [0, 2, 1, 3]} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
    %3 = nn.resize(%2) {size = [8, 8]} : (tensor<1x4x4x2xf32>) -> tensor<1x8x8x2xf32>
    %4 = nn.transpose(%3) {perm = [0, 3, 1, 2]} : (tensor<1x8x8x2xf32>) -> tensor<1x2x8x8xf32>
    func.return(%0, %1, %4) : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x8x8xf32>) -> ()
  }
}

// -----

// A transpose that only moves size-1 dimensions is a reshape, and merges with the flatten after it.
// CHECK-LABEL: module @transpose_to_reshape
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.mean(%x) {axes = [1, 2]}
// CHECK-NEXT:      %1 = nn.reshape(%0) {shape = [1, 8]} : (tensor<1x1x1x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:      func.return(%1)
// OPT-LABEL: module @transpose_to_reshape
// OPT-NEXT:    func.func @main
// OPT-NEXT:      %0 = nn.mean(%x) {axes = [1, 2]}
// OPT-NEXT:      %1 = nn.transpose(%0) {perm = [0, 3, 1, 2]}
// OPT-NEXT:      %2 = nn.reshape(%1) {shape = [1, 8]}
// OPT-NEXT:      func.return(%2)
module @transpose_to_reshape {
  func.func @main(%x: tensor<1x4x4x8xf32>) -> (tensor<1x8xf32>) {
    %0 = nn.mean(%x) {axes = [1, 2]} : (tensor<1x4x4x8xf32>) -> tensor<1x1x1x8xf32>
    %1 = nn.transpose(%0) {perm = [0, 3, 1, 2]} : (tensor<1x1x1x8xf32>) -> tensor<1x8x1x1xf32>
    %2 = nn.reshape(%1) {shape = [1, 8]} : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
    func.return(%2) : (tensor<1x8xf32>) -> ()
  }
}

// -----

// Per-tensor quantized values move like float ones, through dequantize too.
// CHECK-LABEL: module @quantized
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.relu(%x) : (tensor<1x4x4x2x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x4x4x2x!quant.uniform<i8:f32, 0.5:-3>>
// CHECK-NEXT:      %1 = nn.dequantize(%0) : (tensor<1x4x4x2x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      func.return(%1)
module @quantized {
  func.func @main(%x: tensor<1x4x4x2x!quant.uniform<i8:f32, 0.5:-3>>) -> (tensor<1x4x4x2xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x2x4x4x!quant.uniform<i8:f32, 0.5:-3>>
    %1 = nn.relu(%0) : (tensor<1x2x4x4x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x2x4x4x!quant.uniform<i8:f32, 0.5:-3>>
    %2 = nn.dequantize(%1) : (tensor<1x2x4x4x!quant.uniform<i8:f32, 0.5:-3>>) -> tensor<1x2x4x4xf32>
    %3 = nn.transpose(%2) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
    func.return(%3) : (tensor<1x4x4x2xf32>) -> ()
  }
}

// -----

// A shared NCHW value: the transpose into the second wrapped conv cancels first, then the add
// of two transposed values sinks, and so does the relu after it.
// CHECK-LABEL: module @residual
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %w = builtin.constant()
// CHECK-NEXT:      %0 = nn.conv2d(%x, %w)
// CHECK-NEXT:      %1 = nn.add(%0, %x) : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      %2 = nn.relu(%1) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      %3 = nn.transpose(%2) {perm = [0, 3, 1, 2]}
// CHECK-NEXT:      func.return(%3)
module @residual {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x2x4x4xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.0, 2.0]]], [[[3.0, 1.0]]]]> : tensor<2x1x1x2xf32>} : () -> tensor<2x1x1x2xf32>
    %r0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %0 = nn.transpose(%r0) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
    %1 = nn.conv2d(%0, %w) : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>) -> tensor<1x4x4x2xf32>
    %2 = nn.transpose(%1) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %3 = nn.add(%2, %r0) : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %4 = nn.relu(%3) : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    func.return(%4) : (tensor<1x2x4x4xf32>) -> ()
  }
}

// -----

// swish in NCHW: the transposed value has two layout-agnostic users (sigmoid and mul), so no single
// op can move alone; the region {sigmoid, mul} moves as a whole.
// CHECK-LABEL: module @swish_region
// CHECK-NEXT:    func.func @main
// CHECK-NEXT:      %0 = nn.sigmoid(%x) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      %1 = nn.mul(%x, %0) : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
// CHECK-NEXT:      func.return(%1)
module @swish_region {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>) {
    %0 = nn.transpose(%x) {perm = [0, 3, 1, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
    %1 = nn.sigmoid(%0) : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %2 = nn.mul(%0, %1) : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %3 = nn.transpose(%2) {perm = [0, 2, 3, 1]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
    func.return(%3) : (tensor<1x4x4x2xf32>) -> ()
  }
}
