// Each case breaks one nn verifier rule; the error names the op and the rule.
// RUN: edgecc opt %s --split-input-file --verify-diagnostics | filecheck %s

// conv2d: weight in-channels x groups must equal input channels
module {
  func.func @main(%x: tensor<1x8x8x4xf32>, %w: tensor<8x3x3x3xf32>) -> (tensor<1x6x6x8xf32>) {
    %r = nn.conv2d(%x, %w) : (tensor<1x8x8x4xf32>, tensor<8x3x3x3xf32>) -> tensor<1x6x6x8xf32>
    func.return(%r) : (tensor<1x6x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' weight in-channels (3) * groups (1) must equal input channels (4)

// -----

// conv2d: groups must divide the output channels
module {
  func.func @main(%x: tensor<1x8x8x4xf32>, %w: tensor<6x3x3x1xf32>) -> (tensor<1x6x6x6xf32>) {
    %r = nn.conv2d(%x, %w) {groups = 4} : (tensor<1x8x8x4xf32>, tensor<6x3x3x1xf32>) -> tensor<1x6x6x6xf32>
    func.return(%r) : (tensor<1x6x6x6xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' output channels (6) must be divisible by groups (4)

// -----

// conv2d: bias length
module {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<7xf32>) -> (tensor<1x6x6x8xf32>) {
    %r = nn.conv2d(%x, %w, %b) : (tensor<1x8x8x3xf32>, tensor<8x3x3x3xf32>, tensor<7xf32>) -> tensor<1x6x6x8xf32>
    func.return(%r) : (tensor<1x6x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' bias length 7 must equal output channels 8

// -----

// conv2d: pads need 4 entries
module {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<8x3x3x3xf32>) -> (tensor<1x6x6x8xf32>) {
    %r = nn.conv2d(%x, %w) {pads = [1, 1]} : (tensor<1x8x8x3xf32>, tensor<8x3x3x3xf32>) -> tensor<1x6x6x8xf32>
    func.return(%r) : (tensor<1x6x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' attribute 'pads': expected 4 integers, got 2

// -----

// conv2d: negative pads
module {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<8x3x3x3xf32>) -> (tensor<1x6x6x8xf32>) {
    %r = nn.conv2d(%x, %w) {pads = [0, -1, 0, 0]} : (tensor<1x8x8x3xf32>, tensor<8x3x3x3xf32>) -> tensor<1x6x6x8xf32>
    func.return(%r) : (tensor<1x6x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' pads must be non-negative, got [0, -1, 0, 0]

// -----

// conv2d: zero stride
module {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<8x3x3x3xf32>) -> (tensor<1x6x6x8xf32>) {
    %r = nn.conv2d(%x, %w) {strides = [0, 1]} : (tensor<1x8x8x3xf32>, tensor<8x3x3x3xf32>) -> tensor<1x6x6x8xf32>
    func.return(%r) : (tensor<1x6x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' strides must be positive, got [0, 1]

// -----

// conv2d: dilated kernel larger than the padded input
module {
  func.func @main(%x: tensor<1x4x8x3xf32>, %w: tensor<8x3x3x3xf32>) -> (tensor<1x1x6x8xf32>) {
    %r = nn.conv2d(%x, %w) {dilations = [2, 1]} : (tensor<1x4x8x3xf32>, tensor<8x3x3x3xf32>) -> tensor<1x1x6x8xf32>
    func.return(%r) : (tensor<1x1x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' kernel extent 5 is larger than the padded input 4 along height

// -----

// conv2d: declared result shape disagrees with inference
module {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<8x3x3x3xf32>) -> (tensor<1x4x4x8xf32>) {
    %r = nn.conv2d(%x, %w) {strides = [2, 2]} : (tensor<1x8x8x3xf32>, tensor<8x3x3x3xf32>) -> tensor<1x4x4x8xf32>
    func.return(%r) : (tensor<1x4x4x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' result shape 1x4x4x8 does not match inferred shape 1x3x3x8

// -----

// conv2d: unknown fused activation
module {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<8x3x3x3xf32>) -> (tensor<1x6x6x8xf32>) {
    %r = nn.conv2d(%x, %w) {activation = "gelu"} : (tensor<1x8x8x3xf32>, tensor<8x3x3x3xf32>) -> tensor<1x6x6x8xf32>
    func.return(%r) : (tensor<1x6x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' attribute 'activation': 'gelu' is not one of none, relu, relu6, relu_n1_to_1

// -----

// conv2d: quantized weights need a quantized input
module {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<8x3x3x3x!quant.uniform<i8<-127:127>:f32, 0.02:0>>) -> (tensor<1x6x6x8xf32>) {
    %r = nn.conv2d(%x, %w) : (tensor<1x8x8x3xf32>, tensor<8x3x3x3x!quant.uniform<i8<-127:127>:f32, 0.02:0>>) -> tensor<1x6x6x8xf32>
    func.return(%r) : (tensor<1x6x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' qi8 weights need a quantized input, got f32 input

// -----

// conv2d: qi8 input takes an i32 bias
module {
  func.func @main(%x: tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, %w: tensor<8x3x3x3x!quant.uniform<i8<-127:127>:f32, 0.02:0>>, %b: tensor<8xi64>) -> (tensor<1x6x6x8x!quant.uniform<i8:f32, 0.05:-3>>) {
    %r = nn.conv2d(%x, %w, %b) : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<8x3x3x3x!quant.uniform<i8<-127:127>:f32, 0.02:0>>, tensor<8xi64>) -> tensor<1x6x6x8x!quant.uniform<i8:f32, 0.05:-3>>
    func.return(%r) : (tensor<1x6x6x8x!quant.uniform<i8:f32, 0.05:-3>>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' bias element must be i32 for qi8 input, got i64

// -----

// conv2d: qi16 input takes an i64 bias
module {
  func.func @main(%x: tensor<1x8x8x3x!quant.uniform<i16:f32, 0.001:0>>, %w: tensor<8x3x3x3x!quant.uniform<i8<-127:127>:f32, 0.02:0>>, %b: tensor<8xi32>) -> (tensor<1x6x6x8x!quant.uniform<i16:f32, 0.001:0>>) {
    %r = nn.conv2d(%x, %w, %b) : (tensor<1x8x8x3x!quant.uniform<i16:f32, 0.001:0>>, tensor<8x3x3x3x!quant.uniform<i8<-127:127>:f32, 0.02:0>>, tensor<8xi32>) -> tensor<1x6x6x8x!quant.uniform<i16:f32, 0.001:0>>
    func.return(%r) : (tensor<1x6x6x8x!quant.uniform<i16:f32, 0.001:0>>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' bias element must be i64 for qi16 input, got i32

// -----

// conv2d: float input takes a float bias
module {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xi32>) -> (tensor<1x6x6x8xf32>) {
    %r = nn.conv2d(%x, %w, %b) : (tensor<1x8x8x3xf32>, tensor<8x3x3x3xf32>, tensor<8xi32>) -> tensor<1x6x6x8xf32>
    func.return(%r) : (tensor<1x6x6x8xf32>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' bias element must be f32 for f32 input, got i32

// -----

// conv2d: per-axis weights quantized along the wrong axis
module {
  func.func @main(%x: tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, %w: tensor<2x3x3x3x!quant.uniform<i8:f32:3, {0.1:0, 0.2:0, 0.3:0}>>) -> (tensor<1x6x6x2x!quant.uniform<i8:f32, 0.05:-3>>) {
    %r = nn.conv2d(%x, %w) : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<2x3x3x3x!quant.uniform<i8:f32:3, {0.1:0, 0.2:0, 0.3:0}>>) -> tensor<1x6x6x2x!quant.uniform<i8:f32, 0.05:-3>>
    func.return(%r) : (tensor<1x6x6x2x!quant.uniform<i8:f32, 0.05:-3>>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' per-axis weights must be quantized along axis 0 (output channels), got axis 3

// -----

// conv2d: per-axis scale count must match the dimension
module {
  func.func @main(%x: tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, %w: tensor<2x3x3x3x!quant.uniform<i8:f32:0, {0.1:0, 0.2:0, 0.3:0}>>) -> (tensor<1x6x6x2x!quant.uniform<i8:f32, 0.05:-3>>) {
    %r = nn.conv2d(%x, %w) : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<2x3x3x3x!quant.uniform<i8:f32:0, {0.1:0, 0.2:0, 0.3:0}>>) -> tensor<1x6x6x2x!quant.uniform<i8:f32, 0.05:-3>>
    func.return(%r) : (tensor<1x6x6x2x!quant.uniform<i8:f32, 0.05:-3>>) -> ()
  }
}
// CHECK: error: 'nn.conv2d' operand #1: per-axis quantization has 3 scales but dimension 0 has size 2

// -----

// depthwise_conv2d: weight channels = input channels * depth_multiplier
module {
  func.func @main(%x: tensor<1x8x8x4xf32>, %w: tensor<1x3x3x6xf32>) -> (tensor<1x6x6x6xf32>) {
    %r = nn.depthwise_conv2d(%x, %w) : (tensor<1x8x8x4xf32>, tensor<1x3x3x6xf32>) -> tensor<1x6x6x6xf32>
    func.return(%r) : (tensor<1x6x6x6xf32>) -> ()
  }
}
// CHECK: error: 'nn.depthwise_conv2d' weight channels (6) must equal input channels (4) * depth_multiplier (1)

// -----

// fully_connected: K mismatch
module {
  func.func @main(%x: tensor<1x16xf32>, %w: tensor<10x12xf32>) -> (tensor<1x10xf32>) {
    %r = nn.fully_connected(%x, %w) : (tensor<1x16xf32>, tensor<10x12xf32>) -> tensor<1x10xf32>
    func.return(%r) : (tensor<1x10xf32>) -> ()
  }
}
// CHECK: error: 'nn.fully_connected' weight [N, K] has K = 12 but the input has 16 features

// -----

// add: shapes must broadcast
module {
  func.func @main(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> (tensor<4x3xf32>) {
    %r = nn.add(%a, %b) : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    func.return(%r) : (tensor<4x3xf32>) -> ()
  }
}
// CHECK: error: 'nn.add' shapes 2x3 and 4x3 are not broadcast-compatible

// -----

// mul: operands share one element kind
module {
  func.func @main(%a: tensor<2x3xf32>, %b: tensor<2x3xf16>) -> (tensor<2x3xf32>) {
    %r = nn.mul(%a, %b) : (tensor<2x3xf32>, tensor<2x3xf16>) -> tensor<2x3xf32>
    func.return(%r) : (tensor<2x3xf32>) -> ()
  }
}
// CHECK: error: 'nn.mul' operands must share one element kind, got f32, f16

// -----

// prelu: slope must broadcast to the input shape
module {
  func.func @main(%x: tensor<1x4x4x3xf32>, %s: tensor<5xf32>) -> (tensor<1x4x4x3xf32>) {
    %r = nn.prelu(%x, %s) : (tensor<1x4x4x3xf32>, tensor<5xf32>) -> tensor<1x4x4x3xf32>
    func.return(%r) : (tensor<1x4x4x3xf32>) -> ()
  }
}
// CHECK: error: 'nn.prelu' slope shape 5 does not broadcast to input shape 1x4x4x3

// -----

// clamp: min above max
module {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %r = nn.clamp(%x) {max = 0.0, min = 6.0} : (tensor<4xf32>) -> tensor<4xf32>
    func.return(%r) : (tensor<4xf32>) -> ()
  }
}
// CHECK: error: 'nn.clamp' min (6.0) must not exceed max (0.0)

// -----

// softmax: axis out of range
module {
  func.func @main(%x: tensor<1x10xf32>) -> (tensor<1x10xf32>) {
    %r = nn.softmax(%x) {axis = 2} : (tensor<1x10xf32>) -> tensor<1x10xf32>
    func.return(%r) : (tensor<1x10xf32>) -> ()
  }
}
// CHECK: error: 'nn.softmax' axis 2 out of range for rank 2 (expected -2 to 1)

// -----

// max_pool2d: pads must be smaller than the kernel
module {
  func.func @main(%x: tensor<1x4x4x3xf32>) -> (tensor<1x5x3x3xf32>) {
    %r = nn.max_pool2d(%x) {kernel = [2, 2], pads = [2, 0, 0, 0]} : (tensor<1x4x4x3xf32>) -> tensor<1x5x3x3xf32>
    func.return(%r) : (tensor<1x5x3x3xf32>) -> ()
  }
}
// CHECK: error: 'nn.max_pool2d' pads [2, 0, 0, 0] must be smaller than the kernel [2, 2]

// -----

// mean: axes out of range
module {
  func.func @main(%x: tensor<1x4x4x3xf32>) -> (tensor<1x1x4x1xf32>) {
    %r = nn.mean(%x) {axes = [1, 4]} : (tensor<1x4x4x3xf32>) -> tensor<1x1x4x1xf32>
    func.return(%r) : (tensor<1x1x4x1xf32>) -> ()
  }
}
// CHECK: error: 'nn.mean' axes 4 out of range for rank 4 (expected -4 to 3)

// -----

// reshape: element count must not change
module {
  func.func @main(%x: tensor<1x2x3xf32>) -> (tensor<7xf32>) {
    %r = nn.reshape(%x) {shape = [7]} : (tensor<1x2x3xf32>) -> tensor<7xf32>
    func.return(%r) : (tensor<7xf32>) -> ()
  }
}
// CHECK: error: 'nn.reshape' reshape changes the element count: 1x2x3 (6) to 7 (7)

// -----

// transpose: perm must be a permutation
module {
  func.func @main(%x: tensor<1x2x3xf32>) -> (tensor<1x3x3xf32>) {
    %r = nn.transpose(%x) {perm = [0, 2, 2]} : (tensor<1x2x3xf32>) -> tensor<1x3x3xf32>
    func.return(%r) : (tensor<1x3x3xf32>) -> ()
  }
}
// CHECK: error: 'nn.transpose' perm [0, 2, 2] is not a permutation of 0..2

// -----

// concat: shapes must agree off the axis
module {
  func.func @main(%a: tensor<1x4x3xf32>, %b: tensor<1x5x3xf32>) -> (tensor<1x4x6xf32>) {
    %r = nn.concat(%a, %b) {axis = -1} : (tensor<1x4x3xf32>, tensor<1x5x3xf32>) -> tensor<1x4x6xf32>
    func.return(%r) : (tensor<1x4x6xf32>) -> ()
  }
}
// CHECK: error: 'nn.concat' input shapes 1x4x3 and 1x5x3 disagree off the concat axis 2

// -----

// split: sizes must sum to the dimension
module {
  func.func @main(%x: tensor<1x6xf32>) -> (tensor<1x2xf32>, tensor<1x3xf32>) {
    %r, %s = nn.split(%x) {axis = 1, sizes = [2, 3]} : (tensor<1x6xf32>) -> (tensor<1x2xf32>, tensor<1x3xf32>)
    func.return(%r, %s) : (tensor<1x2xf32>, tensor<1x3xf32>) -> ()
  }
}
// CHECK: error: 'nn.split' split sizes [2, 3] sum to 5 but axis 1 has size 6

// -----

// pad: reflect needs pads below the dimension
module {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x9xf32>) {
    %r = nn.pad(%x) {mode = "reflect", pads = [0, 3, 0, 3]} : (tensor<2x3xf32>) -> tensor<2x9xf32>
    func.return(%r) : (tensor<2x9xf32>) -> ()
  }
}
// CHECK: error: 'nn.pad' reflect padding 3 on axis 1 needs a dimension larger than 3, got 3

// -----

// slice: bounds must be normalised
module {
  func.func @main(%x: tensor<4x4xf32>) -> (tensor<3x4xf32>) {
    %r = nn.slice(%x) {begin = [1, 0], end = [5, 4]} : (tensor<4x4xf32>) -> tensor<3x4xf32>
    func.return(%r) : (tensor<3x4xf32>) -> ()
  }
}
// CHECK: error: 'nn.slice' slice bounds begin=1 end=5 on axis 0 are not normalised for size 4 and stride 1 (expected 0..4)

// -----

// gather: indices are i32 or i64
module {
  func.func @main(%x: tensor<5x6xf32>, %i: tensor<3xf32>) -> (tensor<3x6xf32>) {
    %r = nn.gather(%x, %i) : (tensor<5x6xf32>, tensor<3xf32>) -> tensor<3x6xf32>
    func.return(%r) : (tensor<3x6xf32>) -> ()
  }
}
// CHECK: error: 'nn.gather' operand 'indices': element type f32 not allowed (expected i32, i64)

// -----

// quantize: the result must be quantized
module {
  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4xi8>) {
    %r = nn.quantize(%x) : (tensor<1x4xf32>) -> tensor<1x4xi8>
    func.return(%r) : (tensor<1x4xi8>) -> ()
  }
}
// CHECK: error: 'nn.quantize' result 'output': element type i8 not allowed (expected qi8, qi16, qi4)

// -----

// quantize: the input must be float
module {
  func.func @main(%x: tensor<1x4x!quant.uniform<i8:f32, 0.05:-3>>) -> (tensor<1x4x!quant.uniform<i8:f32, 0.05:-3>>) {
    %r = nn.quantize(%x) : (tensor<1x4x!quant.uniform<i8:f32, 0.05:-3>>) -> tensor<1x4x!quant.uniform<i8:f32, 0.05:-3>>
    func.return(%r) : (tensor<1x4x!quant.uniform<i8:f32, 0.05:-3>>) -> ()
  }
}
// CHECK: error: 'nn.quantize' operand 'input': element type !quant.uniform<i8:f32, 0.05:-3> not allowed (expected f32, f16)

// -----

// dequantize: the input must be quantized
module {
  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4xf32>) {
    %r = nn.dequantize(%x) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    func.return(%r) : (tensor<1x4xf32>) -> ()
  }
}
// CHECK: error: 'nn.dequantize' operand 'input': element type f32 not allowed (expected qi8, qi16, qi4, qi32)

// -----

// cast: result element must equal to
module {
  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4xi8>) {
    %r = nn.cast(%x) {to = i32} : (tensor<1x4xf32>) -> tensor<1x4xi8>
    func.return(%r) : (tensor<1x4xi8>) -> ()
  }
}
// CHECK: error: 'nn.cast' result element i8 must equal 'to' (i32)
