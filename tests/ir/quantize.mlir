// RUN: edgecc opt %s --split-input-file --passes quantize | filecheck %s
// RUN: edgecc opt %s --split-input-file --passes "quantize{io=int}" | filecheck %s --check-prefix=INT
// RUN: edgecc opt %s --split-input-file --passes "quantize{scheme=int16x8}" | filecheck %s --check-prefix=I16
// RUN: edgecc opt %s --split-input-file --passes "quantize{scheme=int8-w4}" | filecheck %s --check-prefix=W4
// RUN: edgecc opt %s --split-input-file --passes "quantize{per-channel=false}" | filecheck %s --check-prefix=PT

// Ranges come from `quant.range = [min, max]` on ops (their result) and the module attribute
// `quant.input_ranges` (one [min, max] per argument): without calibration data the quantize
// pass reads them; they are removed from the output. Ranges here are chosen so that scales are
// exact binary fractions: [-2, 1.984375] -> scale 1/64, zero point 0; [0, 3.984375] -> 1/64, -128.

// conv2d: int8 per-channel weights along axis 0, int32 bias, fused relu6.
// CHECK-LABEL: module @conv {
// CHECK-NEXT:    func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x3xf32>)
// CHECK-NEXT:      %x_q = nn.quantize(%x) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!quant.uniform<i8:f32, 0.015625:0>>
// CHECK-NEXT:      %w = builtin.constant() {value = dense<{{\[\[\[\[}}127, 50]]], {{\[\[\[}}127, -50]]], {{\[\[\[}}0, -127]]]]> : tensor<3x1x1x2x!quant.uniform<i8<-127:127>:f32:0, {0.009999999776482582:0, 0.019999999552965164:0, 0.004999999888241291:0}>>}
// CHECK-NEXT:      %b = builtin.constant() {value = dense<[3200, -800, 1600]> : tensor<3xi32>}
// CHECK-NEXT:      %y = nn.conv2d(%x_q, %w, %b) {activation = "relu6"} : ({{.*}}, tensor<3xi32>) -> tensor<1x4x4x3x!quant.uniform<i8:f32, 0.015625:-128>> loc("conv")
// CHECK-NEXT:      %y_dq = nn.dequantize(%y) : (tensor<1x4x4x3x!quant.uniform<i8:f32, 0.015625:-128>>) -> tensor<1x4x4x3xf32>
// CHECK-NEXT:      func.return(%y_dq)
// CHECK-NOT:   quant.range
// INT-LABEL:   module @conv {
// INT-NEXT:      func.func @main(%x: tensor<1x4x4x2x!quant.uniform<i8:f32, 0.015625:0>>) -> (tensor<1x4x4x3x!quant.uniform<i8:f32, 0.015625:-128>>)
// INT-NOT:       nn.quantize
// INT:           %y = nn.conv2d(%x, %w, %b)
// INT-NEXT:      func.return(%y)
// I16-LABEL:   module @conv {
// I16:           %x_q = nn.quantize(%x) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!quant.uniform<i16:f32, 6.103701889514923e-05:0>>
// I16:           %w = builtin.constant() {{.*}} : tensor<3x1x1x2x!quant.uniform<i8<-127:127>:f32:0,
// I16-NEXT:      %b = builtin.constant() {value = dense<[819175, -204794, 409588]> : tensor<3xi64>}
// I16-NEXT:      %y = nn.conv2d(%x_q, %w, %b) {{.*}} -> tensor<1x4x4x3x!quant.uniform<i16:f32, {{.*}}:0>>
// W4-LABEL:    module @conv {
// W4:            %w = builtin.constant() {value = dense<{{\[\[\[\[}}7, 3]]], {{\[\[\[}}7, -3]]], {{\[\[\[}}0, -7]]]]> : tensor<3x1x1x2x!quant.uniform<i4<-7:7>:f32:0, {0.18142856657505035:0, 0.3628571331501007:0, 0.09071428328752518:0}>>}
// W4-NEXT:       %b = builtin.constant() {value = dense<[176, -44, 88]> : tensor<3xi32>}
// PT-LABEL:    module @conv {
// PT:            %w = builtin.constant() {value = dense<{{\[\[\[\[}}64, 25]]], {{\[\[\[}}127, -50]]], {{\[\[\[}}0, -32]]]]> : tensor<3x1x1x2x!quant.uniform<i8<-127:127>:f32, 0.019999999552965164:0>>}
// PT-NEXT:       %b = builtin.constant() {value = dense<[1600, -800, 400]> : tensor<3xi32>}
module @conv attributes {quant.input_ranges = [[-2.0, 1.984375]]} {
  func.func @main(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x3xf32>) {
    %w = builtin.constant() {value = dense<[[[[1.27, 0.5]]], [[[2.54, -1.0]]], [[[0.0, -0.635]]]]> : tensor<3x1x1x2xf32>} : () -> tensor<3x1x1x2xf32>
    %b = builtin.constant() {value = dense<[0.5, -0.25, 0.125]> : tensor<3xf32>} : () -> tensor<3xf32>
    %y = nn.conv2d(%x, %w, %b) {activation = "relu6", quant.range = [0.0, 3.984375]} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32> loc("conv")
    func.return(%y) : (tensor<1x4x4x3xf32>) -> ()
  }
}

// -----

// depthwise_conv2d: per-channel along axis 3; fully_connected: axis 0 and no bias.
// CHECK-LABEL: module @dw_fc {
// CHECK:           %x_q = nn.quantize(%x) {{.*}} -> tensor<1x3x3x2x!quant.uniform<i8:f32, 0.015625:0>>
// CHECK-NEXT:      %dw = builtin.constant() {value = dense_resource<dw> : tensor<1x3x3x2x!quant.uniform<i8<-127:127>:f32:3, {0.009999999776482582:0, 0.0020000000949949026:0}>>}
// CHECK-NEXT:      %d = nn.depthwise_conv2d(%x_q, %dw) {pads = [1, 1, 1, 1]} : {{.*}} -> tensor<1x3x3x2x!quant.uniform<i8:f32, 0.03125:0>> loc("dw")
// CHECK-NEXT:      %r = nn.reshape(%d) {shape = [1, 18]} : (tensor<1x3x3x2x!quant.uniform<i8:f32, 0.03125:0>>) -> tensor<1x18x!quant.uniform<i8:f32, 0.03125:0>>
// CHECK-NEXT:      %fw = builtin.constant() {value = dense<127> : tensor<4x18x!quant.uniform<i8<-127:127>:f32:0, {0.003937007859349251:0, 0.003937007859349251:0, 0.003937007859349251:0, 0.003937007859349251:0}>>}
// CHECK-NEXT:      %y = nn.fully_connected(%r, %fw) : {{.*}} -> tensor<1x4x!quant.uniform<i8:f32, 0.0625:0>> loc("fc")
// CHECK-NEXT:      %y_dq = nn.dequantize(%y)
// W4-LABEL:    module @dw_fc {
// W4:            %dw = builtin.constant() {{.*}} : tensor<1x3x3x2x!quant.uniform<i4<-7:7>:f32:3, {0.18142856657505035:0, 0.03628571704030037:0}>>}
// W4:            %fw = builtin.constant() {value = dense<7> : tensor<4x18x!quant.uniform<i4<-7:7>:f32:0,
// I16-LABEL:   module @dw_fc {
// I16:           %y = nn.fully_connected(%r, %fw) : (tensor<1x18x!quant.uniform<i16:f32, {{.*}}:0>>, tensor<4x18x!quant.uniform<i8<-127:127>:f32:0, {{.*}}>>) -> tensor<1x4x!quant.uniform<i16:f32, {{.*}}:0>>
module @dw_fc attributes {quant.input_ranges = [[-2.0, 1.984375]]} {
  func.func @main(%x: tensor<1x3x3x2xf32>) -> (tensor<1x4xf32>) {
    %dw = builtin.constant() {value = dense<[[[[1.27, -0.254], [0.5, 0.1], [0.2, 0.2]], [[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]], [[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]]]]> : tensor<1x3x3x2xf32>} : () -> tensor<1x3x3x2xf32>
    %d = nn.depthwise_conv2d(%x, %dw) {pads = [1, 1, 1, 1], quant.range = [-4.0, 3.96875]} : (tensor<1x3x3x2xf32>, tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32> loc("dw")
    %r = nn.reshape(%d) {shape = [1, 18]} : (tensor<1x3x3x2xf32>) -> tensor<1x18xf32> loc("flatten")
    %fw = builtin.constant() {value = dense<0.5> : tensor<4x18xf32>} : () -> tensor<4x18xf32>
    %y = nn.fully_connected(%r, %fw) {quant.range = [-8.0, 7.9375]} : (tensor<1x18xf32>, tensor<4x18xf32>) -> tensor<1x4xf32> loc("fc")
    func.return(%y) : (tensor<1x4xf32>) -> ()
  }
}

// -----

// add of two differently scaled inputs; max_pool2d and avg_pool2d keep their input's parameters.
// CHECK-LABEL: module @add_pool {
// CHECK:           %a_q = nn.quantize(%a) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!quant.uniform<i8:f32, 0.015625:0>>
// CHECK-NEXT:      %b_q = nn.quantize(%b) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2x!quant.uniform<i8:f32, 0.015625:-128>>
// CHECK-NEXT:      %s = nn.add(%a_q, %b_q) : {{.*}} -> tensor<1x4x4x2x!quant.uniform<i8:f32, 0.03125:-64>> loc("add")
// CHECK-NEXT:      %m = nn.max_pool2d(%s) {kernel = [2, 2], strides = [2, 2]} : (tensor<1x4x4x2x!quant.uniform<i8:f32, 0.03125:-64>>) -> tensor<1x2x2x2x!quant.uniform<i8:f32, 0.03125:-64>>
// CHECK-NEXT:      %v = nn.avg_pool2d(%s) {kernel = [2, 2], strides = [2, 2]} : (tensor<1x4x4x2x!quant.uniform<i8:f32, 0.03125:-64>>) -> tensor<1x2x2x2x!quant.uniform<i8:f32, 0.03125:-64>>
// CHECK-NEXT:      %m_dq = nn.dequantize(%m)
// CHECK-NEXT:      %v_dq = nn.dequantize(%v)
// CHECK-NEXT:      func.return(%m_dq, %v_dq)
module @add_pool attributes {quant.input_ranges = [[-2.0, 1.984375], [0.0, 3.984375]]} {
  func.func @main(%a: tensor<1x4x4x2xf32>, %b: tensor<1x4x4x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
    %s = nn.add(%a, %b) {quant.range = [-2.0, 5.96875]} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> loc("add")
    %m = nn.max_pool2d(%s) {kernel = [2, 2], strides = [2, 2]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> loc("maxpool")
    %v = nn.avg_pool2d(%s) {kernel = [2, 2], strides = [2, 2], quant.range = [-1.0, 1.0]} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> loc("avgpool")
    func.return(%m, %v) : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> ()
  }
}

// -----

// concat: the inputs and the output share one scale (the union of their ranges); a tanh output
// (fixed 1/128, 0) is requantized to it; softmax gets the fixed 1/256, -128.
// CHECK-LABEL: module @concat_softmax {
// CHECK:           %a_q = nn.quantize(%a) : (tensor<1x4xf32>) -> tensor<1x4x!quant.uniform<i8:f32, 0.03125:-64>>
// CHECK-NEXT:      %t = nn.tanh(%a_q) : {{.*}} -> tensor<1x4x!quant.uniform<i8:f32, 0.0078125:0>> loc("tanh")
// CHECK-NEXT:      %b_q = nn.quantize(%b) : (tensor<1x4xf32>) -> tensor<1x4x!quant.uniform<i8:f32, 0.03125:-64>>
// CHECK-NEXT:      %t_q = nn.requantize(%t) : (tensor<1x4x!quant.uniform<i8:f32, 0.0078125:0>>) -> tensor<1x4x!quant.uniform<i8:f32, 0.03125:-64>>
// CHECK-NEXT:      %c = nn.concat(%a_q, %b_q, %t_q) {axis = 1} : {{.*}} -> tensor<1x12x!quant.uniform<i8:f32, 0.03125:-64>> loc("concat")
// CHECK-NEXT:      %y = nn.softmax(%c) : (tensor<1x12x!quant.uniform<i8:f32, 0.03125:-64>>) -> tensor<1x12x!quant.uniform<i8:f32, 0.00390625:-128>> loc("softmax")
// INT-LABEL:   module @concat_softmax {
// INT-NEXT:      func.func @main(%a: tensor<1x4x!quant.uniform<i8:f32, 0.03125:-64>>, %b: tensor<1x4x!quant.uniform<i8:f32, 0.03125:-64>>) -> (tensor<1x12x!quant.uniform<i8:f32, 0.00390625:-128>>)
// I16-LABEL:   module @concat_softmax {
// I16:           %t = nn.tanh(%a_q) : {{.*}} -> tensor<1x4x!quant.uniform<i16:f32, 3.0517578125e-05:0>>
// I16:           %y = nn.softmax(%c) : {{.*}} -> tensor<1x12x!quant.uniform<i16:f32, 3.0517578125e-05:0>>
module @concat_softmax attributes {quant.input_ranges = [[-2.0, 1.984375], [-1.0, 5.96875]]} {
  func.func @main(%a: tensor<1x4xf32>, %b: tensor<1x4xf32>) -> (tensor<1x12xf32>) {
    %t = nn.tanh(%a) : (tensor<1x4xf32>) -> tensor<1x4xf32> loc("tanh")
    %c = nn.concat(%a, %b, %t) {axis = 1} : (tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x12xf32> loc("concat")
    %y = nn.softmax(%c) : (tensor<1x12xf32>) -> tensor<1x12xf32> loc("softmax")
    func.return(%y) : (tensor<1x12xf32>) -> ()
  }
}

// -----

// An op without an integer kernel (erf) stays float between dequantize and quantize.
// CHECK-LABEL: module @kept_float {
// CHECK:           %r = nn.relu(%x_q) : {{.*}} -> tensor<1x8x!quant.uniform<i8:f32, {{.*}}:-128>>
// CHECK-NEXT:      %r_dq = nn.dequantize(%r) : {{.*}} -> tensor<1x8xf32>
// CHECK-NEXT:      %e = nn.erf(%r_dq) : (tensor<1x8xf32>) -> tensor<1x8xf32> loc("erf")
// CHECK-NEXT:      %e_q = nn.quantize(%e) : (tensor<1x8xf32>) -> tensor<1x8x!quant.uniform<i8:f32, 0.003921568859368563:-128>>
// CHECK-NEXT:      %t = nn.tanh(%e_q) : {{.*}} -> tensor<1x8x!quant.uniform<i8:f32, 0.0078125:0>> loc("tanh")
module @kept_float attributes {quant.input_ranges = [[-2.0, 1.984375]]} {
  func.func @main(%x: tensor<1x8xf32>) -> (tensor<1x8xf32>) {
    %r = nn.relu(%x) {quant.range = [0.0, 1.984375]} : (tensor<1x8xf32>) -> tensor<1x8xf32> loc("relu")
    %e = nn.erf(%r) {quant.range = [0.0, 1.0]} : (tensor<1x8xf32>) -> tensor<1x8xf32> loc("erf")
    %t = nn.tanh(%e) : (tensor<1x8xf32>) -> tensor<1x8xf32> loc("tanh")
    func.return(%t) : (tensor<1x8xf32>) -> ()
  }
}
