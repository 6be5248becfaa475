// pulses.v -- cocotb harness of the crossbar tile's pulse-train generator and coincidence counter
// (rtl_models/crossbar/pulse_train.v, coincidence.v), driven by hil/rtl/crossbar/benches.py. Not a
// model: a bench around two.
//
// Python stays out of the per-cycle path: the cocotb test writes a file of cases, sets `phase` and
// raises `start`; the harness resets the blocks, runs every case and raises `done` until `start`
// falls. The clock (10 time units) is generated here.
//   phase 0, the generator: pulses_trains.hex, one train a line, "gaps p bl w_0 .. w_(bl-1)" in hex
//     (gaps: a 64-bit mask, bit t: word_valid low for one clock before slot t's word). Each train is
//     started, its words are streamed as the mask says, and the next train's start is raised in the
//     clock after its last word, so it is taken at the edge of the train's done (back to back). Per
//     done, one line to pulses_trains_resp.txt: "train threshold" (hex).
//   phase 1, the counter: pulses_pairs.hex, one pair a line, "gap row column d_sign x_sign" in hex
//     (gap: idle clocks before the pair); one pair per clock, one line per out_valid to
//     pulses_pairs_resp.txt: "count down" (decimal).
// Fault seeding (the bench's self-tests): +BENCH_MUTATE=3 hands the generator word - 1 for a word
// above 0 (a slot that fires at word <= threshold); +BENCH_MUTATE=4 hands the counter the row train
// with bit 63 cleared.
module pulses_bench (
    input  wire start,
    input  wire phase,
    output reg  done
);
    `include "harness.vh"

    reg         rst = 1'b1;
    // the generator
    reg         tr_start = 1'b0, word_valid = 1'b0;
    reg  [31:0] p = 32'd0, word = 32'd0;
    reg  [6:0]  bl = 7'd0;
    wire        ready, word_ready, tr_done;
    wire [63:0] train;
    wire [32:0] threshold;
    crossbar_pulse_train generator (
        .clk(clk), .rst(rst), .start(tr_start), .p(p), .bl(bl), .ready(ready), .word_valid(word_valid),
        .word(word), .word_ready(word_ready), .train(train), .done(tr_done), .threshold(threshold));
    // the counter
    reg         in_valid = 1'b0, d_sign = 1'b0, x_sign = 1'b0;
    reg  [63:0] row = 64'd0, column = 64'd0;
    wire        out_valid, down;
    wire [6:0]  count;
    crossbar_coincidence counter (
        .clk(clk), .rst(rst), .in_valid(in_valid), .row(row), .column(column), .d_sign(d_sign),
        .x_sign(x_sign), .out_valid(out_valid), .count(count), .down(down));

    localparam [2:0] S_IDLE = 3'd0, S_BOOT = 3'd1, S_TRAIN = 3'd2, S_WORDS = 3'd3, S_PAIRS = 3'd4,
                     S_DRAIN = 3'd5;
    reg  [2:0]  state = S_IDLE;
    reg         start_q = 1'b0;
    reg  [3:0]  boot = 4'd0;
    integer     stim = 0, resp = 0, got = 0, fed = 0, seen = 0, hold = 0, slot = 0, slots = 0;
    reg         gapped = 1'b0;
    reg  [63:0] f_gaps, f_p, f_bl, f_word, f_gap, f_row, f_column, f_ds, f_xs;
    initial done = 1'b0;

    always @(posedge clk) begin
        start_q <= start;
        tr_start <= 1'b0;
        word_valid <= 1'b0;
        in_valid <= 1'b0;
        if (!start) done <= 1'b0;
        if (tr_done && state != S_IDLE) begin
            $fdisplay(resp, "%h %h", train, threshold);
            seen = seen + 1;
        end
        if (out_valid && state != S_IDLE) begin
            $fdisplay(resp, "%0d %0d", count, down);
            seen = seen + 1;
        end
        case (state)
            S_IDLE:
                if (start && !start_q) begin
                    if (phase) $sformat(fname, "%0s/pulses_pairs.hex", dir);
                    else $sformat(fname, "%0s/pulses_trains.hex", dir);
                    stim = $fopen(fname, "r");
                    if (phase) $sformat(fname, "%0s/pulses_pairs_resp.txt", dir);
                    else $sformat(fname, "%0s/pulses_trains_resp.txt", dir);
                    resp = $fopen(fname, "w");
                    fed = 0;
                    seen = 0;
                    hold = 0;
                    boot <= 4'd0;
                    rst <= 1'b1;
                    state <= S_BOOT;
                end
            S_BOOT:                                       // three clocks of reset first
                if (boot != 4'd3) begin
                    boot <= boot + 4'd1;
                    rst <= boot != 4'd2;
                end else begin
                    state <= phase ? S_PAIRS : S_TRAIN;
                end
            S_TRAIN: begin                                // the generator is ready: start a train
                got = $fscanf(stim, "%h %h %h", f_gaps, f_p, f_bl);
                if (got == 3) begin
                    tr_start <= 1'b1;
                    p <= f_p[31:0];
                    bl <= f_bl[6:0];
                    fed = fed + 1;
                    slot = 0;
                    slots = f_bl[6:0];
                    gapped = 1'b0;
                    if (f_bl[6:0] != 7'd0) state <= S_WORDS;
                end else begin
                    $fclose(stim);
                    state <= S_DRAIN;
                end
            end
            S_WORDS:
                if (f_gaps[slot] && !gapped) begin
                    gapped = 1'b1;                        // one idle clock before this slot's word
                end else begin
                    got = $fscanf(stim, "%h", f_word);
                    word <= (mutate == 3 && f_word[31:0] != 32'd0) ? f_word[31:0] - 32'd1 : f_word[31:0];
                    word_valid <= 1'b1;
                    gapped = 1'b0;
                    slot = slot + 1;
                    if (slot == slots) state <= S_TRAIN;  // the next start goes with the last word's edge
                end
            S_PAIRS:
                if (hold > 0) begin
                    hold = hold - 1;
                    if (hold == 0) begin
                        in_valid <= 1'b1;
                        fed = fed + 1;
                    end
                end else begin
                    got = $fscanf(stim, "%h %h %h %h %h", f_gap, f_row, f_column, f_ds, f_xs);
                    if (got == 5) begin
                        row <= mutate == 4 ? {1'b0, f_row[62:0]} : f_row;
                        column <= f_column;
                        d_sign <= f_ds[0];
                        x_sign <= f_xs[0];
                        if (f_gap == 64'd0) begin
                            in_valid <= 1'b1;
                            fed = fed + 1;
                        end else begin
                            hold = f_gap[15:0];
                        end
                    end else begin
                        $fclose(stim);
                        state <= S_DRAIN;
                    end
                end
            S_DRAIN:
                if (seen == fed) begin
                    $fclose(resp);
                    done <= 1'b1;
                    state <= S_IDLE;
                end
            default: state <= S_IDLE;
        endcase
    end
endmodule
