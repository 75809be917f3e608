// Every nn op parses, verifies (shapes inferred and checked) and prints back unchanged.
// RUN: edgecc opt %s | filecheck %s
// RUN: edgecc opt %s | edgecc opt - | filecheck %s

module @nn_ops {
  func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>, %xq: tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, %wq: tensor<4x3x3x3x!quant.uniform<i8<-127:127>:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0}>>, %bq: tensor<4xi32>, %idx: tensor<2x6xi32>, %wg: tensor<4x3x3x2xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x8x2xf32>, tensor<1x2xf32>, tensor<1x4x4x1xf32>, tensor<4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x4x8xf32>, tensor<1x10x10x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<1x5x4x3xf32>, tensor<1x2x6x8x3xf32>, tensor<1x16x16x3xf32>, tensor<1x4x4x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<1x8x8x3xf32>, tensor<1x8x8x3xf16>, tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>, tensor<1x4x4x4xf32>) {
    %conv = nn.conv2d(%x, %w, %b) {activation = "relu6", pads = [1, 1, 1, 1], strides = [2, 2]} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
    %grouped = nn.conv2d(%conv, %wg) {dilations = [2, 2], groups = 2, pads = [2, 2, 2, 2]} : (tensor<1x4x4x4xf32>, tensor<4x3x3x2xf32>) -> tensor<1x4x4x4xf32>
    %dww = builtin.constant() {value = dense<[[[[0.5, 0.5, 0.5, 0.5, 0.5, 0.5]]]]> : tensor<1x1x1x6xf32>} : () -> tensor<1x1x1x6xf32>
    %dwconv = nn.depthwise_conv2d(%x, %dww) {depth_multiplier = 2} : (tensor<1x8x8x3xf32>, tensor<1x1x1x6xf32>) -> tensor<1x8x8x6xf32>
    %convq = nn.conv2d(%xq, %wq, %bq) {pads = [1, 1, 1, 1]} : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<4x3x3x3x!quant.uniform<i8<-127:127>:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0}>>, tensor<4xi32>) -> tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>
    %pool = nn.max_pool2d(%conv) {kernel = [2, 2], strides = [2, 2]} : (tensor<1x4x4x4xf32>) -> tensor<1x2x2x4xf32>
    %avg = nn.avg_pool2d(%convq) {kernel = [3, 3], pads = [1, 1, 1, 1]} : (tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>) -> tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>
    %mean = nn.mean(%pool) {axes = [1, 2], keepdims = false} : (tensor<1x2x2x4xf32>) -> tensor<1x4xf32>
    %fcw = builtin.constant() {value = dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
    %fc = nn.fully_connected(%mean, %fcw) {activation = "relu"} : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<1x3xf32>
    %mmw = builtin.constant() {value = dense<[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
    %mm = nn.matmul(%fc, %mmw) : (tensor<1x3xf32>, tensor<3x2xf32>) -> tensor<1x2xf32>
    %k = builtin.constant() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %add = nn.add(%mm, %k) {activation = "relu_n1_to_1"} : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
    %sub = nn.sub(%add, %mm) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
    %mul = nn.mul(%sub, %add) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
    %div = nn.div(%mul, %add) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
    %max = nn.maximum(%div, %mul) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
    %min = nn.minimum(%max, %div) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
    %two = builtin.constant() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %pow = nn.pow(%min, %two) : (tensor<1x2xf32>, tensor<f32>) -> tensor<1x2xf32>
    %relu = nn.relu(%conv) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %clamp = nn.clamp(%relu) {max = 6.0, min = -1.0} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %sigmoid = nn.sigmoid(%clamp) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %tanh = nn.tanh(%sigmoid) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %hswish = nn.hard_swish(%tanh) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %hsig = nn.hard_sigmoid(%hswish) {alpha = 0.1666, beta = 0.5} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %leaky = nn.leaky_relu(%hsig) {alpha = 0.1} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %slope = builtin.constant() {value = dense<[0.5, 0.25, 0.125, 0.0625]> : tensor<4xf32>} : () -> tensor<4xf32>
    %prelu = nn.prelu(%leaky, %slope) : (tensor<1x4x4x4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
    %exp = nn.exp(%prelu) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %log = nn.log(%exp) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %sqrt = nn.sqrt(%exp) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %rsqrt = nn.rsqrt(%sqrt) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %abs = nn.abs(%log) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %neg = nn.neg(%abs) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %erf = nn.erf(%neg) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %softmax = nn.softmax(%erf) {beta = 1.0} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %logsoftmax = nn.log_softmax(%softmax) {axis = 1} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
    %rsum = nn.reduce_sum(%logsoftmax) {axes = [-1]} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x1xf32>
    %rmax = nn.reduce_max(%rsqrt) {axes = [0, 3], keepdims = false} : (tensor<1x4x4x4xf32>) -> tensor<4x4xf32>
    %rmin = nn.reduce_min(%rsqrt) {axes = [1]} : (tensor<1x4x4x4xf32>) -> tensor<1x1x4x4xf32>
    %reshape = nn.reshape(%rsqrt) {shape = [1, 16, 4]} : (tensor<1x4x4x4xf32>) -> tensor<1x16x4xf32>
    %transpose = nn.transpose(%reshape) {perm = [0, 2, 1]} : (tensor<1x16x4xf32>) -> tensor<1x4x16xf32>
    %concat = nn.concat(%transpose, %transpose) {axis = -1} : (tensor<1x4x16xf32>, tensor<1x4x16xf32>) -> tensor<1x4x32xf32>
    %split, %0 = nn.split(%concat) {axis = 2, sizes = [8, 24]} : (tensor<1x4x32xf32>) -> (tensor<1x4x8xf32>, tensor<1x4x24xf32>)
    %pad = nn.pad(%dwconv) {mode = "reflect", pads = [0, 1, 1, 0, 0, 1, 1, 0]} : (tensor<1x8x8x6xf32>) -> tensor<1x10x10x6xf32>
    %padq = nn.pad(%xq) {pads = [0, 0, 0, 0, 0, 2, 2, 0], value = 0.5} : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>) -> tensor<1x10x10x3x!quant.uniform<i8:f32, 0.05:-3>>
    %slice_unit = nn.slice(%x) {begin = [0, 2, 0, 1], end = [1, 6, 8, 3]} : (tensor<1x8x8x3xf32>) -> tensor<1x4x8x2xf32>
    %slice = nn.slice(%pad) {begin = [0, 9, 0, 0], end = [1, -1, 10, 6], strides = [1, -2, 3, 2]} : (tensor<1x10x10x6xf32>) -> tensor<1x5x4x3xf32>
    %gather = nn.gather(%x, %idx) {axis = 1} : (tensor<1x8x8x3xf32>, tensor<2x6xi32>) -> tensor<1x2x6x8x3xf32>
    %resize = nn.resize(%x) {coordinate = "align_corners", mode = "bilinear", size = [16, 16]} : (tensor<1x8x8x3xf32>) -> tensor<1x16x16x3xf32>
    %resize_q = nn.resize(%xq) {coordinate = "asymmetric", nearest_mode = "floor", size = [4, 4]} : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>) -> tensor<1x4x4x3x!quant.uniform<i8:f32, 0.05:-3>>
    %lrn = nn.lrn(%x) {alpha = 0.0001, beta = 0.75, bias = 2.0, size = 5} : (tensor<1x8x8x3xf32>) -> tensor<1x8x8x3xf32>
    %q = nn.quantize(%x) : (tensor<1x8x8x3xf32>) -> tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>
    %rq = nn.requantize(%q) : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>) -> tensor<1x8x8x3x!quant.uniform<i16:f32, 0.001:0>>
    %dq = nn.dequantize(%rq) : (tensor<1x8x8x3x!quant.uniform<i16:f32, 0.001:0>>) -> tensor<1x8x8x3xf32>
    %cast = nn.cast(%dq) {to = f16} : (tensor<1x8x8x3xf32>) -> tensor<1x8x8x3xf16>
    func.return(%grouped, %slice_unit, %pow, %rsum, %rmax, %rmin, %split, %padq, %slice, %gather, %resize, %resize_q, %lrn, %cast, %avg, %hswish) : (tensor<1x4x4x4xf32>, tensor<1x4x8x2xf32>, tensor<1x2xf32>, tensor<1x4x4x1xf32>, tensor<4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x4x8xf32>, tensor<1x10x10x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<1x5x4x3xf32>, tensor<1x2x6x8x3xf32>, tensor<1x16x16x3xf32>, tensor<1x4x4x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<1x8x8x3xf32>, tensor<1x8x8x3xf16>, tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>, tensor<1x4x4x4xf32>) -> ()
  }
}


// CHECK:      module @nn_ops {
// CHECK-NEXT:   func.func @main(%x: tensor<1x8x8x3xf32>, %w: tensor<4x3x3x3x
// CHECK:          %conv = nn.conv2d(%x, %w, %b) {activation = "relu6", pads = [1, 1, 1, 1], strides = [2, 2]} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %grouped = nn.conv2d(%conv, %wg) {dilations = [2, 2], groups = 2, pads = [2, 2, 2, 2]} : (tensor<1x4x4x4xf32>, tensor<4x3x3x2xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %dwconv = nn.depthwise_conv2d(%x, %dww) {depth_multiplier = 2} : (tensor<1x8x8x3xf32>, tensor<1x1x1x6xf32>) -> tensor<1x8x8x6xf32>
// CHECK:          %convq = nn.conv2d(%xq, %wq, %bq) {pads = [1, 1, 1, 1]} : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<4x3x3x3x!quant.uniform<i8<-127:127>:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0}>>, tensor<4xi32>) -> tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>
// CHECK:          %pool = nn.max_pool2d(%conv) {kernel = [2, 2], strides = [2, 2]} : (tensor<1x4x4x4xf32>) -> tensor<1x2x2x4xf32>
// CHECK:          %avg = nn.avg_pool2d(%convq) {kernel = [3, 3], pads = [1, 1, 1, 1]} : (tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>) -> tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>
// CHECK:          %mean = nn.mean(%pool) {axes = [1, 2], keepdims = false} : (tensor<1x2x2x4xf32>) -> tensor<1x4xf32>
// CHECK:          %fc = nn.fully_connected(%mean, %fcw) {activation = "relu"} : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<1x3xf32>
// CHECK:          %mm = nn.matmul(%fc, %mmw) : (tensor<1x3xf32>, tensor<3x2xf32>) -> tensor<1x2xf32>
// CHECK:          %add = nn.add(%mm, %k) {activation = "relu_n1_to_1"} : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// CHECK:          %sub = nn.sub(%add, %mm) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK:          %mul = nn.mul(%sub, %add) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK:          %div = nn.div(%mul, %add) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK:          %max = nn.maximum(%div, %mul) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK:          %min = nn.minimum(%max, %div) : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
// CHECK:          %pow = nn.pow(%min, %two) : (tensor<1x2xf32>, tensor<f32>) -> tensor<1x2xf32>
// CHECK:          %relu = nn.relu(%conv) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %clamp = nn.clamp(%relu) {max = 6.0, min = -1.0} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %sigmoid = nn.sigmoid(%clamp) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %tanh = nn.tanh(%sigmoid) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %hswish = nn.hard_swish(%tanh) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %hsig = nn.hard_sigmoid(%hswish) {alpha = 0.1666, beta = 0.5} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %leaky = nn.leaky_relu(%hsig) {alpha = 0.1} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %prelu = nn.prelu(%leaky, %slope) : (tensor<1x4x4x4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %exp = nn.exp(%prelu) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %log = nn.log(%exp) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %sqrt = nn.sqrt(%exp) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %rsqrt = nn.rsqrt(%sqrt) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %abs = nn.abs(%log) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %neg = nn.neg(%abs) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %erf = nn.erf(%neg) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %softmax = nn.softmax(%erf) {beta = 1.0} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %logsoftmax = nn.log_softmax(%softmax) {axis = 1} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
// CHECK:          %rsum = nn.reduce_sum(%logsoftmax) {axes = [-1]} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x1xf32>
// CHECK:          %rmax = nn.reduce_max(%rsqrt) {axes = [0, 3], keepdims = false} : (tensor<1x4x4x4xf32>) -> tensor<4x4xf32>
// CHECK:          %rmin = nn.reduce_min(%rsqrt) {axes = [1]} : (tensor<1x4x4x4xf32>) -> tensor<1x1x4x4xf32>
// CHECK:          %reshape = nn.reshape(%rsqrt) {shape = [1, 16, 4]} : (tensor<1x4x4x4xf32>) -> tensor<1x16x4xf32>
// CHECK:          %transpose = nn.transpose(%reshape) {perm = [0, 2, 1]} : (tensor<1x16x4xf32>) -> tensor<1x4x16xf32>
// CHECK:          %concat = nn.concat(%transpose, %transpose) {axis = -1} : (tensor<1x4x16xf32>, tensor<1x4x16xf32>) -> tensor<1x4x32xf32>
// CHECK:          %split, %0 = nn.split(%concat) {axis = 2, sizes = [8, 24]} : (tensor<1x4x32xf32>) -> (tensor<1x4x8xf32>, tensor<1x4x24xf32>)
// CHECK:          %pad = nn.pad(%dwconv) {mode = "reflect", pads = [0, 1, 1, 0, 0, 1, 1, 0]} : (tensor<1x8x8x6xf32>) -> tensor<1x10x10x6xf32>
// CHECK:          %padq = nn.pad(%xq) {pads = [0, 0, 0, 0, 0, 2, 2, 0], value = 0.5} : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>) -> tensor<1x10x10x3x!quant.uniform<i8:f32, 0.05:-3>>
// CHECK:          %slice_unit = nn.slice(%x) {begin = [0, 2, 0, 1], end = [1, 6, 8, 3]} : (tensor<1x8x8x3xf32>) -> tensor<1x4x8x2xf32>
// CHECK:          %slice = nn.slice(%pad) {begin = [0, 9, 0, 0], end = [1, -1, 10, 6], strides = [1, -2, 3, 2]} : (tensor<1x10x10x6xf32>) -> tensor<1x5x4x3xf32>
// CHECK:          %gather = nn.gather(%x, %idx) {axis = 1} : (tensor<1x8x8x3xf32>, tensor<2x6xi32>) -> tensor<1x2x6x8x3xf32>
// CHECK:          %resize = nn.resize(%x) {coordinate = "align_corners", mode = "bilinear", size = [16, 16]} : (tensor<1x8x8x3xf32>) -> tensor<1x16x16x3xf32>
// CHECK:          %resize_q = nn.resize(%xq) {coordinate = "asymmetric", nearest_mode = "floor", size = [4, 4]} : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>) -> tensor<1x4x4x3x!quant.uniform<i8:f32, 0.05:-3>>
// CHECK:          %lrn = nn.lrn(%x) {alpha = 0.0001, beta = 0.75, bias = 2.0, size = 5} : (tensor<1x8x8x3xf32>) -> tensor<1x8x8x3xf32>
// CHECK:          %q = nn.quantize(%x) : (tensor<1x8x8x3xf32>) -> tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>
// CHECK:          %rq = nn.requantize(%q) : (tensor<1x8x8x3x!quant.uniform<i8:f32, 0.05:-3>>) -> tensor<1x8x8x3x!quant.uniform<i16:f32, 0.001:0>>
// CHECK:          %dq = nn.dequantize(%rq) : (tensor<1x8x8x3x!quant.uniform<i16:f32, 0.001:0>>) -> tensor<1x8x8x3xf32>
// CHECK:          %cast = nn.cast(%dq) {to = f16} : (tensor<1x8x8x3xf32>) -> tensor<1x8x8x3xf16>
// CHECK:          func.return(%grouped, %slice_unit, %pow, %rsum, %rmax, %rmin, %split, %padq, %slice, %gather, %resize, %resize_q, %lrn, %cast, %avg, %hswish) : (tensor<1x4x4x4xf32>, tensor<1x4x8x2xf32>, tensor<1x2xf32>, tensor<1x4x4x1xf32>, tensor<4x4xf32>, tensor<1x1x4x4xf32>, tensor<1x4x8xf32>, tensor<1x10x10x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<1x5x4x3xf32>, tensor<1x2x6x8x3xf32>, tensor<1x16x16x3xf32>, tensor<1x4x4x3x!quant.uniform<i8:f32, 0.05:-3>>, tensor<1x8x8x3xf32>, tensor<1x8x8x3xf16>, tensor<1x8x8x4x!quant.uniform<i8:f32, 0.1:4>>, tensor<1x4x4x4xf32>) -> ()
