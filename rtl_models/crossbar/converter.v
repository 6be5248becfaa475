// converter.v -- the crossbar tile's converter, the input DAC and the output ADC alike
// (emulator/crossbar/converters.py: codes and quantise, the definition this block equals bit for bit).
// Digital, synthesisable Verilog-2005: the float32 arithmetic is integer logic here (the `real`
// helpers of rtl_models/bss2/float32.vh are for behavioural models only and cannot be synthesised).
//
// crossbar_converter, a pipeline of four stages, one case per clock, no stalls: a case presented with
// in_valid at a rising edge comes out with out_valid at the fourth rising edge after it.
//   inputs (float32 bit patterns unless said otherwise):
//     v      the value to convert;
//     inv    N / b, the factor that turns a value into steps (converters.inverse);
//     step   b / N, the value of one code (converters.step; the bound b itself when N = 0);
//     n      N, the largest code, 0..2^20 (21 bits; 0: a converter without quantisation);
//     sr, u  stochastic rounding: with sr, the deviate u (float32, in [-0.5, 0.5) from
//            converters.uniform, though any float32 is added correctly) is added to the steps.
//   outputs:
//     t      the steps v * inv (+ u with sr): each one IEEE float32 operation, rounded to nearest even,
//            with subnormals, overflow to infinity and signed zeros as IEEE 754 has them;
//     code   rint(t) (ties to even) clipped to -N..N, signed 22 bits (converters.codes);
//     above, below  rint(t) > N, rint(t) < -N before the clip (the saturation flags);
//     value  the float32 the code stands for, float32(code) * step rounded to nearest even
//            (converters.quantise).
//   With N = 0 (converters.quantise without quantisation): code 0, value v clipped to [-step, step]
//   as numpy's minimum(maximum(v, -step), step) (an equal operand gives the second), above = v > step,
//   below = v < -step; t is still v * inv (+ u).
//   The flags and the code follow numpy's rint and clip for every finite or infinite t: |t| >= 2^23
//   is an integer already, and any |t| >= 2^21 lies beyond every N. A NaN t (inf * 0, inf - inf; only
//   from non-finite inputs, which the tile refuses) gives code 0 without flags and a NaN value; NaNs
//   come out as x86 makes them (a NaN operand quietened, else the default NaN 0xFFC00000).
// rst (synchronous) clears the valid bits only.
/* verilator lint_off DECLFILENAME */
module crossbar_converter (
    input  wire               clk,
    input  wire               rst,
    input  wire               in_valid,
    input  wire [31:0]        v,
    input  wire [31:0]        inv,
    input  wire [31:0]        step,
    input  wire [20:0]        n,
    input  wire               sr,
    input  wire [31:0]        u,
    output reg                out_valid,
    output reg  [31:0]        t,
    output reg  signed [21:0] code,
    output reg                above,
    output reg                below,
    output reg  [31:0]        value
);
    localparam [31:0] DEFAULT_NAN = 32'hFFC00000;

    // ---- float32 helpers (combinational functions) ---------------------------------------------
    // (their wide intermediates are read in part: the lint's unused-bit warning is off for them)
    /* verilator lint_off UNUSEDSIGNAL */
    function is_nan;
        input [31:0] a;
        is_nan = a[30:23] == 8'hFF && a[22:0] != 23'd0;
    endfunction

    function [31:0] quiet;          // a NaN operand comes out quietened
        input [31:0] a;
        quiet = a | 32'h00400000;
    endfunction

    // The float32 magnitude (31 bits; infinity on overflow) of an exact positive value held as the
    // integer m, whose leading one has the biased exponent er (below 1: a subnormal result), s being
    // the bits of m below the result's last place (0..49): m >> s rounded to nearest even.
    function [30:0] round_pack;
        input [50:0] m;
        input signed [11:0] er;
        input [6:0] s;
        reg [50:0] kept, at_guard, below_mask;
        reg guard, sticky;
        reg [33:0] result;
        reg [7:0] base;
        begin
            kept = m >> s;
            if (s == 7'd0) begin
                guard = 1'b0;
                sticky = 1'b0;
            end else begin
                at_guard = m >> (s - 7'd1);
                guard = at_guard[0];
                below_mask = (51'd1 << (s - 7'd1)) - 51'd1;
                sticky = |(m & below_mask);
            end
            base = er >= 12'sd1 ? er[7:0] - 8'd1 : 8'd0;
            if (er >= 12'sd256) begin
                round_pack = {8'hFF, 23'd0};
            end else begin
                // (er - 1) << 23 + kept: kept's leading one (bit 23) carries the exponent's last unit;
                // a subnormal's kept is below 2^23; the rounding's carry steps the exponent up
                result = {3'd0, base, 23'd0} + {10'd0, kept[23:0]} + {33'd0, guard & (sticky | kept[0])};
                round_pack = result >= {3'd0, 8'hFF, 23'd0} ? {8'hFF, 23'd0} : result[30:0];
            end
        end
    endfunction

    // the position of the leading one of a nonzero word (0 for 0): a binary search, six steps
    function [5:0] lead64;
        input [63:0] a;
        reg [63:0] x;
        reg [5:0] l;
        begin
            x = a;
            l = 6'd0;
            if (x[63:32] != 32'd0) begin l = l + 6'd32; x = x >> 32; end
            if (x[31:16] != 16'd0) begin l = l + 6'd16; x = x >> 16; end
            if (x[15:8] != 8'd0) begin l = l + 6'd8; x = x >> 8; end
            if (x[7:4] != 4'd0) begin l = l + 6'd4; x = x >> 4; end
            if (x[3:2] != 2'd0) begin l = l + 6'd2; x = x >> 2; end
            if (x[1]) l = l + 6'd1;
            lead64 = l;
        end
    endfunction

    // a * b, float32, rounded to nearest even
    function [31:0] f32_mul;
        input [31:0] a;
        input [31:0] b;
        reg s;
        reg [7:0] ea, eb;
        reg [47:0] p;
        reg [5:0] l;
        reg signed [11:0] er;
        reg signed [11:0] sh;
        begin
            s = a[31] ^ b[31];
            ea = a[30:23] == 8'd0 ? 8'd1 : a[30:23];
            eb = b[30:23] == 8'd0 ? 8'd1 : b[30:23];
            p = {24'd0, a[30:23] != 8'd0, a[22:0]} * {24'd0, b[30:23] != 8'd0, b[22:0]};
            l = lead64({16'd0, p});
            // p * 2^(ea + eb - 300): the leading one's biased exponent l + ea + eb - 173
            er = {6'd0, l} + {4'd0, ea} + {4'd0, eb} - 12'sd173;
            // the bits below the result's last one: l - 23 (normal), 151 - ea - eb (subnormal)
            sh = er >= 12'sd1 ? {6'd0, l} - 12'sd23 : 12'sd151 - {4'd0, ea} - {4'd0, eb};
            if (sh > 12'sd49) sh = 12'sd49;   // nothing left but the sticky bits: zero
            if (is_nan(a))
                f32_mul = quiet(a);
            else if (is_nan(b))
                f32_mul = quiet(b);
            else if ((a[30:23] == 8'hFF && b[30:0] == 31'd0) || (b[30:23] == 8'hFF && a[30:0] == 31'd0))
                f32_mul = DEFAULT_NAN;                      // infinity * zero
            else if (a[30:23] == 8'hFF || b[30:23] == 8'hFF)
                f32_mul = {s, 8'hFF, 23'd0};
            else if (a[30:0] == 31'd0 || b[30:0] == 31'd0)
                f32_mul = {s, 31'd0};
            else
                f32_mul = {s, round_pack({3'd0, p}, er, sh[6:0])};
        end
    endfunction

    // a + b, float32, rounded to nearest even
    function [31:0] f32_add;
        input [31:0] a;
        input [31:0] b;
        reg [31:0] x, y;
        reg [7:0] ex, ey, d;
        reg [49:0] xm, ym, yshift;
        reg jam;
        reg [50:0] sum;
        reg [5:0] l;
        reg signed [11:0] er;
        reg signed [11:0] sh;
        begin
            // x: the operand of the larger magnitude
            if (a[30:0] >= b[30:0]) begin
                x = a;
                y = b;
            end else begin
                x = b;
                y = a;
            end
            ex = x[30:23] == 8'd0 ? 8'd1 : x[30:23];
            ey = y[30:23] == 8'd0 ? 8'd1 : y[30:23];
            d = ex - ey;
            // 26 bits below the significands: the sum's shift is then 2..27 (an exact cancellation
            // leaves a multiple of 2^25, an inexact one keeps its leading one at 48 or above), so the
            // sticky bit jammed into bit 0 never meets the rounding position
            xm = {x[30:23] != 8'd0, x[22:0], 26'd0};
            ym = {y[30:23] != 8'd0, y[22:0], 26'd0};
            if (d >= 8'd50) begin
                yshift = 50'd0;
                jam = |ym;
            end else begin
                yshift = ym >> d;
                jam = |(ym & ((50'd1 << d) - 50'd1));
            end
            yshift[0] = yshift[0] | jam;
            sum = x[31] == y[31] ? {1'b0, xm} + {1'b0, yshift} : {1'b0, xm} - {1'b0, yshift};
            l = lead64({13'd0, sum});
            // sum * 2^(ex - 176): the leading one's biased exponent l + ex - 49
            er = {6'd0, l} + {4'd0, ex} - 12'sd49;
            sh = er >= 12'sd1 ? {6'd0, l} - 12'sd23 : 12'sd27 - {4'd0, ex};
            if (is_nan(a))
                f32_add = quiet(a);
            else if (is_nan(b))
                f32_add = quiet(b);
            else if (a[30:23] == 8'hFF && b[30:23] == 8'hFF && a[31] != b[31])
                f32_add = DEFAULT_NAN;                      // infinity - infinity
            else if (a[30:23] == 8'hFF)
                f32_add = a;
            else if (b[30:23] == 8'hFF)
                f32_add = b;
            else if (sum == 51'd0)                          // an exact zero: -0 only for -0 + -0
                f32_add = {a[31] & b[31], 31'd0};
            else
                f32_add = {x[31], round_pack(sum, er, sh[6:0])};
        end
    endfunction

    // rint(|t|) of a float32 (ties to even), exact below 2^21; 2^23 for |t| >= 2^21 (beyond any N)
    function [23:0] rint_magnitude;
        input [30:0] a;
        reg [7:0] sh;
        reg [25:0] m, kept, at_guard, mask;
        reg guard, sticky;
        begin
            m = {2'd0, a[30:23] != 8'd0, a[22:0]};
            sh = 8'd150 - (a[30:23] == 8'd0 ? 8'd1 : a[30:23]);   // 3..149 below 2^21
            if (sh > 8'd25) sh = 8'd25;                        // below 1/2: 0
            kept = m >> sh;
            at_guard = m >> (sh - 8'd1);
            guard = at_guard[0];
            mask = (26'd1 << (sh - 8'd1)) - 26'd1;
            sticky = |(m & mask);
            if (a[30:23] >= 8'd148)                            // |t| >= 2^21 (infinity included)
                rint_magnitude = 24'h800000;
            else
                rint_magnitude = kept[23:0] + {23'd0, guard & (sticky | kept[0])};
        end
    endfunction

    // float32 of an integer code, |c| < 2^21: exact
    function [31:0] f32_of_code;
        input signed [21:0] c;
        reg [20:0] mag;
        reg [5:0] l;
        reg [23:0] wide;
        begin
            mag = c[21] ? -c[20:0] : c[20:0];
            l = lead64({43'd0, mag});                          // below 21
            wide = {3'd0, mag} << (6'd23 - l);                 // the leading one at bit 23
            if (mag == 21'd0)
                f32_of_code = 32'd0;
            else
                f32_of_code = {c[21], 8'd127 + {2'd0, l}, wide[22:0]};
        end
    endfunction

    // a < b as numpy compares float32 (false with a NaN; -0 equals +0)
    function f32_less;
        input [31:0] a;
        input [31:0] b;
        reg [31:0] ka, kb;
        begin
            ka = a[30:0] == 31'd0 ? 32'h80000000 : (a[31] ? ~a : a | 32'h80000000);
            kb = b[30:0] == 31'd0 ? 32'h80000000 : (b[31] ? ~b : b | 32'h80000000);
            f32_less = !is_nan(a) && !is_nan(b) && ka < kb;
        end
    endfunction

    /* verilator lint_on UNUSEDSIGNAL */

    // ---- the pipeline ---------------------------------------------------------------------------
    // stage 1: the product
    reg        v1, sr1;
    reg [31:0] t1, u1, val1, step1;
    reg [20:0] n1;
    // stage 2: the steps t
    reg        v2;
    reg [31:0] t2, val2, step2;
    reg [20:0] n2;
    // stage 3: the code and the flags (or the clip without quantisation)
    reg        v3;
    reg [31:0] t3, clip3, step3;
    reg signed [21:0] c3;
    reg        above3, below3, q3;

    // stage 3's combinational part
    wire [23:0]        mag = rint_magnitude(t2[30:0]);
    wire               nan2 = is_nan(t2);
    wire [23:0]        n_wide = {3'd0, n2};
    wire               beyond = mag > n_wide;
    wire [21:0]        clipped = beyond ? {1'b0, n2} : mag[21:0];   // mag[23:22] set only beyond N
    wire signed [21:0] code_of_t = nan2 ? 22'sd0 : (t2[31] ? -$signed(clipped) : $signed(clipped));
    wire [31:0]        neg_step = step2 ^ 32'h80000000;
    // numpy's maximum(a, b) = a > b or a NaN ? a : b, minimum(a, b) = a < b or a NaN ? a : b
    wire [31:0]        lo = (f32_less(neg_step, val2) || is_nan(val2)) ? val2 : neg_step;
    wire [31:0]        hi = (f32_less(lo, step2) || is_nan(lo)) ? lo : step2;

    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0;
            v2 <= 1'b0;
            v3 <= 1'b0;
            out_valid <= 1'b0;
        end else begin
            v1 <= in_valid;
            v2 <= v1;
            v3 <= v2;
            out_valid <= v3;
        end
        t1 <= f32_mul(v, inv);
        sr1 <= sr;
        u1 <= u;
        val1 <= v;
        step1 <= step;
        n1 <= n;

        t2 <= sr1 ? f32_add(t1, u1) : t1;
        val2 <= val1;
        step2 <= step1;
        n2 <= n1;

        t3 <= t2;
        step3 <= step2;
        q3 <= n2 != 21'd0;
        if (n2 != 21'd0) begin
            c3 <= code_of_t;
            above3 <= !nan2 && !t2[31] && beyond;
            below3 <= !nan2 && t2[31] && beyond;
        end else begin
            c3 <= 22'sd0;
            above3 <= f32_less(step2, val2);
            below3 <= f32_less(val2, neg_step);
        end
        clip3 <= hi;

        t <= t3;
        code <= c3;
        above <= above3;
        below <= below3;
        value <= q3 ? (is_nan(t3) ? DEFAULT_NAN : f32_mul(f32_of_code(c3), step3)) : clip3;
    end

    initial begin
        v1 = 1'b0;
        v2 = 1'b0;
        v3 = 1'b0;
        out_valid = 1'b0;
        t = 32'd0;
        code = 22'sd0;
        above = 1'b0;
        below = 1'b0;
        value = 32'd0;
    end
endmodule
