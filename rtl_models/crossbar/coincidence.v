// coincidence.v -- the crossbar tile's coincidence counter (emulator/crossbar/pulses.py: popcount and
// coincidences, the definition this block equals bit for bit). Digital, synthesisable Verilog-2005.
//
// A device sees one coincidence per slot in which its row's train and its column's train both fire,
// popcount(row & column), 0..64, and steps once per coincidence: down when sign(d_i) sign(x_j) > 0
// (the update is w -= lr d x), else up.
//
// crossbar_coincidence, one pair of trains per clock, fully pipelined: a pair presented with
// in_valid at a rising edge gives, from that edge on (out_valid, one clock's latency):
//   count  popcount(row & column), 7 bits;
//   down   d_sign == x_sign: the step's direction from the sign bits of d_i and x_j, as the C core's
//          signbit test. It is sign(d_i) sign(x_j) > 0 wherever neither is zero; a zero d_i or x_j
//          has probability 0, so its train never fires and its count is 0: no step either way.
// count and down hold their values while in_valid is low. rst (synchronous) clears out_valid.
/* verilator lint_off DECLFILENAME */
module crossbar_coincidence (
    input  wire        clk,
    input  wire        rst,
    input  wire        in_valid,
    input  wire [63:0] row,
    input  wire [63:0] column,
    input  wire        d_sign,
    input  wire        x_sign,
    output reg         out_valid,
    output reg  [6:0]  count,
    output reg         down
);
    // popcount as a tree of adders: the counts of pairs, then of fours, ..., then of the whole word
    // (level k holds 64 / 2^k counts of k + 1 bits, packed)
    function [6:0] popcount64;
        input [63:0] a;
        integer i;
        reg [63:0] c2;            // 32 x 2 bits
        reg [47:0] c4;            // 16 x 3
        reg [31:0] c8;            // 8 x 4
        reg [19:0] c16;           // 4 x 5
        reg [11:0] c32;           // 2 x 6
        begin
            for (i = 0; i < 32; i = i + 1) c2[2 * i +: 2] = {1'b0, a[2 * i]} + {1'b0, a[2 * i + 1]};
            for (i = 0; i < 16; i = i + 1) c4[3 * i +: 3] = {1'b0, c2[4 * i +: 2]} + {1'b0, c2[4 * i + 2 +: 2]};
            for (i = 0; i < 8; i = i + 1) c8[4 * i +: 4] = {1'b0, c4[6 * i +: 3]} + {1'b0, c4[6 * i + 3 +: 3]};
            for (i = 0; i < 4; i = i + 1) c16[5 * i +: 5] = {1'b0, c8[8 * i +: 4]} + {1'b0, c8[8 * i + 4 +: 4]};
            for (i = 0; i < 2; i = i + 1) c32[6 * i +: 6] = {1'b0, c16[10 * i +: 5]} + {1'b0, c16[10 * i + 5 +: 5]};
            popcount64 = {1'b0, c32[5:0]} + {1'b0, c32[11:6]};
        end
    endfunction

    always @(posedge clk) begin
        out_valid <= rst ? 1'b0 : in_valid;
        if (in_valid) begin
            count <= popcount64(row & column);
            down <= d_sign == x_sign;
        end
    end

    initial begin
        out_valid = 1'b0;
        count = 7'd0;
        down = 1'b0;
    end
endmodule
