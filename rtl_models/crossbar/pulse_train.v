// pulse_train.v -- the crossbar tile's stochastic pulse-train generator (emulator/crossbar/pulses.py:
// threshold and trains, the definition this block equals bit for bit). Digital, synthesisable
// Verilog-2005.
//
// A row (an error d_i) or a column (an input x_j) fires in slot t of its train of BL slots when the
// slot's 32-bit random word is below floor(p 2^32): bit t of the 64-bit train. p = 1 always fires,
// p = 0 never.
//
// crossbar_pulse_train makes one train at a time from a stream of words, one word per clock:
//   start / ready: a train begins at a rising edge with start while ready (idle); p (a float32
//     probability, its sign bit ignored as the C core's fabsf does; |p| >= 1, infinity and NaN
//     always fire) and bl (the slots, 1..64; 0 gives the empty train at once, above 64 counts as 64)
//     are taken then, and threshold = floor(|p| 2^32) (33 bits: 2^32 for |p| >= 1) holds from the
//     next clock until the next start.
//   word_valid / word_ready: while the train is being made (word_ready), each rising edge with
//     word_valid takes the next slot's word; slot t's bit is word < threshold. A low word_valid
//     waits (nothing is taken).
//   done: high for the one clock after the train's last word (after the start for bl = 0); train
//     (bit t: slot t fired; the slots at and above bl are 0) holds from then until the next start,
//     and ready is high again, so a new start can be taken at that edge: a train of BL slots takes
//     BL + 1 clocks, back to back.
// rst (synchronous) ends a train being made (ready again, done low); train and threshold keep their
// values.
/* verilator lint_off DECLFILENAME */
module crossbar_pulse_train (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [31:0] p,          // bit 31, the sign, plays no part
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [6:0]  bl,
    output wire        ready,
    input  wire        word_valid,
    input  wire [31:0] word,
    output wire        word_ready,
    output reg  [63:0] train,
    output reg         done,
    output reg  [32:0] threshold
);
    // floor(|p| 2^32) of a float32 p: 2^32 for |p| >= 1 (exponent 127 and above), 0 for the
    // subnormals; a normal p of exponent e is sig 2^(e - 150), so p 2^32 = sig 2^(e - 118)
    function [32:0] threshold_of;
        input [30:0] a;            // |p|: the sign bit plays no part
        reg [7:0] e;
        reg [32:0] sig;
        begin
            e = a[30:23];
            sig = {9'd0, 1'b1, a[22:0]};
            if (e >= 8'd127)
                threshold_of = 33'h100000000;
            else if (e == 8'd0)
                threshold_of = 33'd0;
            else if (e >= 8'd118)
                threshold_of = sig << (e - 8'd118);          // 0..8 places: exact, below 2^32
            else if (e >= 8'd94)
                threshold_of = sig >> (8'd118 - e);          // the fraction dropped: floor
            else
                threshold_of = 33'd0;                        // below 2^-32
        end
    endfunction

    reg        running;
    reg [6:0]  slots;             // the train's slot count, 1..64
    reg [6:0]  slot;              // the next slot
    wire       fire = {1'b0, word} < threshold;
    wire       last = slot == slots - 7'd1;

    assign ready = !running;
    assign word_ready = running;

    always @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            running <= 1'b0;
        end else if (!running) begin
            if (start) begin
                threshold <= threshold_of(p[30:0]);
                slots <= bl > 7'd64 ? 7'd64 : bl;
                slot <= 7'd0;
                train <= 64'd0;
                if (bl == 7'd0) done <= 1'b1;
                else running <= 1'b1;
            end
        end else if (word_valid) begin
            train[slot[5:0]] <= fire;
            slot <= slot + 7'd1;
            if (last) begin
                running <= 1'b0;
                done <= 1'b1;
            end
        end
    end

    initial begin
        running = 1'b0;
        done = 1'b0;
        slots = 7'd1;
        slot = 7'd0;
        train = 64'd0;
        threshold = 33'd0;
    end
endmodule
