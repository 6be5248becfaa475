// float32.vh: IEEE-754 binary32 (float32) arithmetic on Verilog `real` (binary64).
//
// `include this file INSIDE a module body (Verilog-2005 functions are module items);
// it has no include guard on purpose, so every module that needs the functions can
// include it. The functions are for behavioural models and testbenches only: they
// use `real` and are not synthesisable (wrap their users in `ifndef SYNTHESIS).
//
//   f32(x)             x rounded to the nearest float32 (ties to even), as a real:
//                      subnormal float32 results are rounded at 2^-149, values beyond
//                      the float32 range become +-infinity, NaN stays NaN, the sign
//                      of zero is kept.
//   f32_to_bits(x)     the 32-bit pattern of f32(x).
//   f32_from_bits(w)   the real value of the 32-bit pattern w (exact).
//   f32_tiny_bits(s, k) the 64-bit pattern of (-1)^s * k * 2^-149, k < 2^24 (a helper
//                      of the three above: float32 subnormals and underflow).
//
// Emulating float32 arithmetic: for float32 a and b, f32(a * b), f32(a + b),
// f32(a - b) and f32(a / b) equal the float32 operation rounded to nearest even.
// a * b is exact in binary64 (24 + 24 <= 53 bits), so only one rounding happens;
// for + - / the binary64 result is rounded twice (to binary64, then to binary32),
// which gives the correctly rounded binary32 result because 53 >= 2 * 24 + 2
// (S. A. Figueroa, "When is double rounding innocuous?", SIGNUM Newsl. 30(3), 1995).
// Do not write f32(a * b + c) for one rounded FMA-free step: that is f32(f32(a*b) + c).

function automatic [63:0] f32_tiny_bits;
    input s;
    input [23:0] k;
    integer i, p;
    reg [51:0] fraction;
    begin
        p = -1;
        for (i = 0; i < 24; i = i + 1)
            if (k[i]) p = i;
        if (p < 0) begin
            f32_tiny_bits = {s, 63'd0};
        end else begin
            // k = 1.f * 2^p, value = 1.f * 2^(p - 149): biased binary64 exponent p + 874;
            // the shift puts the leading one at bit 52, just out of the fraction
            fraction = {28'd0, k} << (52 - p);
            f32_tiny_bits = {s, p[10:0] + 11'd874, fraction};
        end
    end
endfunction

function automatic real f32;
    input real x;
    reg [63:0] b;
    reg [10:0] e;
    reg [33:0] field;
    reg [87:0] t;
    reg [23:0] k;
    integer sh;
    begin
        b = $realtobits(x);
        e = b[62:52];
        if (e == 11'h7FF) begin
            f32 = x;                                  // infinity or NaN
        end else if (e >= 11'd897) begin              // the float32 normal range (or beyond)
            // round the 52-bit fraction at bit 29, ties to even; a carry out of the
            // fraction steps the exponent up, as it should
            field = b[62:29] + {33'd0, b[28] & (b[29] | (|b[27:0]))};
            if (field[33:23] > 11'd1150)               // above 2^127 * (2 - 2^-23)
                f32 = $bitstoreal({b[63], 11'h7FF, 52'd0});
            else
                f32 = $bitstoreal({b[63], field, 29'd0});
        end else begin                                // float32 subnormal range or zero
            // |x| = sig * 2^(e - 1075), sig = 1.fraction (53 bits); in units of 2^-149
            // that is sig >> (926 - e): t holds sig * 2^(64 - sh), so t[87:64] is the
            // integer part (< 2^23 as sh >= 30), t[63] the guard bit, t[62:0] the rest
            sh = (e == 11'd0) ? 925 : 926 - {21'd0, e};
            if (sh >= 54) begin
                f32 = $bitstoreal({b[63], 63'd0});    // below half the least subnormal
            end else begin
                t = {e != 11'd0, b[51:0], 35'd0} >> (sh - 29);
                k = t[87:64] + {23'd0, t[63] & (t[64] | (|t[62:0]))};
                f32 = $bitstoreal(f32_tiny_bits(b[63], k));
            end
        end
    end
endfunction

function automatic [31:0] f32_to_bits;
    input real x;
    reg [63:0] b;
    reg [10:0] e;
    reg [52:0] sig;
    reg [22:0] fraction;
    integer i, sh;
    begin
        b = $realtobits(f32(x));
        e = b[62:52];
        if (e == 11'h7FF)                              // infinity or NaN (a NaN stays one)
            f32_to_bits = {b[63], 8'hFF, b[51:30], b[29] | (|b[51:0] & ~(|b[51:29]))};
        else if (e >= 11'd897)
            f32_to_bits = {b[63], e[7:0] + 8'd128, b[51:29]};  // e - 896 = e - 1023 + 127 (mod 256)
        else if (e == 11'd0)
            f32_to_bits = {b[63], 31'd0};
        else begin                                     // a float32 subnormal: exact k * 2^-149
            // |x| = sig * 2^(e - 1075) = k * 2^-149: k = sig >> (926 - e), < 2^23
            sig = {1'b1, b[51:0]};
            sh = 926 - {21'd0, e};
            for (i = 0; i < 23; i = i + 1)
                fraction[i] = (i + sh <= 52) ? sig[i + sh] : 1'b0;
            f32_to_bits = {b[63], 8'd0, fraction};
        end
    end
endfunction

function automatic real f32_from_bits;
    input [31:0] w;
    begin
        if (w[30:23] == 8'hFF)
            f32_from_bits = $bitstoreal({w[31], 11'h7FF, w[22:0], 29'd0});
        else if (w[30:23] != 8'd0)
            f32_from_bits = $bitstoreal({w[31], {3'd0, w[30:23]} + 11'd896, w[22:0], 29'd0});
        else
            f32_from_bits = $bitstoreal(f32_tiny_bits(w[31], {1'b0, w[22:0]}));
    end
endfunction
