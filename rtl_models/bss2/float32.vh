// float32.vh -- float32 arithmetic on Verilog `real` (IEEE double) values.
//
// Included inside a module (`include "float32.vh"`). A `real` that holds a
// float32 value is exact in double; a sum, difference, product or quotient of
// two float32 values computed in double and then rounded once to float32 is the
// float32 result (53 >= 2 * 24 + 2 bits, so the double rounding is innocuous).
// f32(x) is that rounding: round to nearest, ties to even, with float32
// subnormals (quantum 2^-149) and overflow to infinity; infinities and NaN pass.
// This is how the models reproduce the emulator's float32 C core bit for bit.

function automatic real f32;
    input real x;
    reg [63:0] b;
    reg [34:0] t;
    reg [63:0] r;
    reg [52:0] m;
    reg [52:0] q;
    reg [52:0] rem;
    reg [52:0] half;
    integer e;
    integer sh;
    begin
        b = $realtobits(x);
        e = {21'd0, b[62:52]};
        if (e == 2047 || b[62:0] == 63'd0) begin
            f32 = x;
        end else if (e >= 1023 - 126) begin
            // normal float32: keep sign, exponent and 23 mantissa bits, round on the 29 below
            t = b[63:29];
            if (b[28] && ((|b[27:0]) || b[29])) t = t + 35'd1;
            r = {t, 29'd0};
            if (r[62:52] > 11'd1150) r = {b[63], 11'h7ff, 52'd0};  // beyond 2^127: infinity
            f32 = $bitstoreal(r);
        end else begin
            sh = 29 + (1023 - 126 - e);  // bits below the 2^-149 quantum
            if (sh > 53) begin
                f32 = b[63] ? -0.0 : 0.0;
            end else begin
                m = {1'b1, b[51:0]};
                q = m >> sh;
                rem = m & ((53'd1 << sh) - 53'd1);
                half = 53'd1 << (sh - 1);
                if (rem > half || (rem == half && q[0])) q = q + 53'd1;
                f32 = (b[63] ? -1.0 : 1.0) * $itor(q[31:0]) * 1.401298464324817e-45;  // 2^-149
            end
        end
    end
endfunction

// floor of a real as an integer (|x| < 2^31)
function automatic integer floor_int;
    input real x;
    begin
        floor_int = $rtoi($floor(x));
    end
endfunction
