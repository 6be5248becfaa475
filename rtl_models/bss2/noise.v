// noise.v: the counter-based temporal-noise generator of the BrainScaleS-2 model.
//
// Reproduces the emulator's generator bit for bit (emulator/_native/rng.c,
// hil_normal_pairs): for a 64-bit stream key and a 64-bit counter c, the draw
//   bits = mix64(key + c * 0x9E3779B97F4A7C15)       (SplitMix64, mod 2^64)
// gives two standard normal deviates, N1 from bits[63:32] and N2 from bits[31:0],
// each by inversion of 32 uniform bits u:
//   fold      t = u[31] ? ~u : u, sign = u[31];  t' = 2t + 1 (odd, 32 bits)
//   octave    o = clz(t') in 0..31 (the binary octave of the tail probability)
//   mantissa  the 23 bits below the leading one of t' << o: y = 1.m - 1.5 (float32)
//   value     q = (((c4*y + c3)*y + c2)*y + c1)*y + c0 with c_k = c_k[o], every
//             multiply and every add rounded to float32 (no FMA); N = sign ? -q : q.
// The MAC readout (emulator/_native/bss2/readout.c) takes counter
// sample * 512 + neuron; N1 scales sigma_read, N2 sigma_base.
//
// Modules
//   bss2_noise_fold  u -> sign, octave, mantissa.           Combinational, synthesisable.
//   bss2_noise_bits  key, counter -> mix64 draw and the fold of both halves.
//                                                           Combinational, synthesisable.
//   bss2_noise       the generator: bss2_noise_bits plus the float32 polynomial in
//                    `real` arithmetic (float32.vh). Behavioural (not synthesisable;
//                    left out when SYNTHESIS is defined, as Yosys does).
//
// bss2_noise ports (all synchronous to the rising edge of clk)
//   clk             in   clock
//   rst             in   synchronous reset, active high: clears the valid pipeline
//   in_valid        in   key and counter are valid in this cycle
//   key[63:0]       in   stream key (emulator: bss2_stream_key(chip_seed, run, stream))
//   counter[63:0]   in   counter of the draw (MAC readout: sample * 512 + neuron)
//   out_valid       out  n1, n2, oct1, oct2 hold the deviates of an accepted input
//   n1[31:0]        out  N1, a standard normal deviate (dimensionless), as float32 bits
//   n2[31:0]        out  N2, the same from the low half of the draw
//   oct1[4:0]       out  octave o of N1 (0: |N| up to about 0.67; 31: |N| above 6.2), for
//                        coverage and debug (the fold's sign u[31] is not an output;
//                        n1[31] is the sign bit of the deviate itself)
//   oct2[4:0]       out  octave o of N2
// Parameter
//   COEF_FILE       $readmemh file of the 160 polynomial coefficients: word k*32 + o is
//                   c_k of octave o as the 64-bit pattern of the float32 value widened to
//                   a double (hil.rtl.noise.write_coefficients writes it). A relative
//                   name is opened in the simulator's working directory.
// Timing
//   Pipelined, latency 2 cycles, throughput one key/counter pair per cycle: an input
//   taken at rising edge k (in_valid high) appears at the outputs after edge k + 2,
//   with out_valid high. Stage 1 registers the integer part (mix64, fold, clz,
//   mantissa), stage 2 the polynomial. Outputs hold between valid results.

// The file is named after the block (noise), its modules after the family (bss2_).
/* verilator lint_off DECLFILENAME */

// u (32 uniform bits) -> sign, octave o = clz(2t + 1), the 23 mantissa bits.
module bss2_noise_fold (
    input  wire [31:0] u,
    output wire        sign,
    output wire [4:0]  octave,
    output wire [22:0] mantissa
);
    wire [30:0] t  = u[31] ? ~u[30:0] : u[30:0];   // t < 2^31
    wire [31:0] tp = {t, 1'b1};                    // 2t + 1, odd, so never zero
    // Normalise by a log shifter: each stage shifts by 16, 8, 4, 2, 1 when the
    // top bits are zero; the shifts taken are the bits of clz.
    wire        z4 = tp[31:16] == 16'd0;
    wire [31:0] s4 = z4 ? {tp[15:0], 16'd0} : tp;
    wire        z3 = s4[31:24] == 8'd0;
    wire [31:0] s3 = z3 ? {s4[23:0], 8'd0} : s4;
    wire        z2 = s3[31:28] == 4'd0;
    wire [31:0] s2 = z2 ? {s3[27:0], 4'd0} : s3;
    wire        z1 = s2[31:30] == 2'd0;
    wire [31:0] s1 = z1 ? {s2[29:0], 2'd0} : s2;
    wire        z0 = ~s1[31];
    wire [31:0] s0 = z0 ? {s1[30:0], 1'b0} : s1;
    assign sign     = u[31];
    assign octave   = {z4, z3, z2, z1, z0};
    assign mantissa = s0[30:8];          // below the leading one (s0[31] == 1)
    wire unused_ok = &{1'b0, s0[31], s0[7:0]};
endmodule

// The draw of counter c of stream key, and the fold of its two halves.
module bss2_noise_bits (
    input  wire [63:0] key,
    input  wire [63:0] counter,
    output wire [63:0] bits,     // mix64(key + counter * golden)
    output wire        s1,       // N1 (bits[63:32]): sign, octave, mantissa
    output wire [4:0]  o1,
    output wire [22:0] m1,
    output wire        s2,       // N2 (bits[31:0])
    output wire [4:0]  o2,
    output wire [22:0] m2
);
    localparam [63:0] GOLDEN = 64'h9E3779B97F4A7C15;
    localparam [63:0] MIX1   = 64'hBF58476D1CE4E5B9;
    localparam [63:0] MIX2   = 64'h94D049BB133111EB;
    wire [63:0] z0 = key + counter * GOLDEN;
    wire [63:0] z1 = (z0 ^ {30'd0, z0[63:30]}) * MIX1;
    wire [63:0] z2 = (z1 ^ {27'd0, z1[63:27]}) * MIX2;
    assign bits = z2 ^ {31'd0, z2[63:31]};
    bss2_noise_fold high (.u(bits[63:32]), .sign(s1), .octave(o1), .mantissa(m1));
    bss2_noise_fold low  (.u(bits[31:0]),  .sign(s2), .octave(o2), .mantissa(m2));
endmodule

`ifndef SYNTHESIS
module bss2_noise #(
    parameter COEF_FILE = "noise_coefficients.hex"
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        in_valid,
    input  wire [63:0] key,
    input  wire [63:0] counter,
    output reg         out_valid,
    output reg  [31:0] n1,
    output reg  [31:0] n2,
    output reg  [4:0]  oct1,
    output reg  [4:0]  oct2
);
`include "float32.vh"

    localparam integer SEGMENTS = 32;
    localparam integer DEGREE = 4;

    reg [63:0] coef [0:(DEGREE + 1) * SEGMENTS - 1];   // c_k[o] at k * 32 + o
    initial $readmemh(COEF_FILE, coef);

    // The deviate of one folded half (see the top of the file), as float32 bits.
    function [31:0] deviate;
        input       sign;
        input [4:0] o;
        input [22:0] m;
        real y, q;
        integer k;
        begin
            y = f32_from_bits({9'h07F, m}) - 1.5;         // exact: |y| < 0.5, 23 bits
            q = $bitstoreal(coef[DEGREE * SEGMENTS + {27'd0, o}]);
            for (k = DEGREE - 1; k >= 0; k = k - 1)
                q = f32(f32(q * y) + $bitstoreal(coef[k * SEGMENTS + {27'd0, o}]));
            deviate = f32_to_bits(q) ^ {sign, 31'd0};
        end
    endfunction

    wire [63:0] bits;
    wire        s1w, s2w;
    wire [4:0]  o1w, o2w;
    wire [22:0] m1w, m2w;
    bss2_noise_bits draw (.key(key), .counter(counter), .bits(bits),
                          .s1(s1w), .o1(o1w), .m1(m1w), .s2(s2w), .o2(o2w), .m2(m2w));
    wire unused_ok = &{1'b0, bits};

    // stage 1: the integer part
    reg        v1, s1r, s2r;
    reg [4:0]  o1r, o2r;
    reg [22:0] m1r, m2r;
    always @(posedge clk) begin
        v1 <= ~rst & in_valid;
        if (in_valid) begin
            s1r <= s1w; o1r <= o1w; m1r <= m1w;
            s2r <= s2w; o2r <= o2w; m2r <= m2w;
        end
    end

    // stage 2: the float32 polynomial
    always @(posedge clk) begin
        out_valid <= ~rst & v1;
        if (v1) begin
            n1 <= deviate(s1r, o1r, m1r);
            n2 <= deviate(s2r, o2r, m2r);
            oct1 <= o1r;
            oct2 <= o2r;
        end
    end
endmodule
`endif
