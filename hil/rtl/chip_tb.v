// chip_tb.v -- the thin testbench wrapper of bss2_chip (rtl_models/bss2/chip.v) that the
// RTL sessions simulate (top level bss2_chip_tb): the chip with its 125 MHz clock
// generated in HDL, so no Python acts per cycle.
//
// The clock: 8 ns periods, rising edge 4 ns into each. After a rising edge at which
// the chip announces `idle` = N > 0 (its next N edges would change nothing but its
// counters: the wait between two events, and the repeated sends of a vector, see
// chip.v), the generator holds the clock low for N more periods, one delay of
// 8 * N ns, and the chip counts the N cycles at the next edge (skip_en = 1).
// Simulated time and the chip's cycle counter both advance by N cycles, so the
// counted send time, which drives the leak, is exact; only the idle edges are not
// simulated. SKIP = 0 gives every edge (skip_en = 0: the reference the skips are checked
// against, tests/rtl/test_chip.py). Behavioural (delays): not synthesisable.
// Ports: those of bss2_chip but clk, skip_en and idle (see chip.v); clk is the wrapper's
// own signal, which a cocotb test may await (RisingEdge(dut.clk)).
/* verilator lint_off DECLFILENAME */
`timescale 1ns/1ps
module bss2_chip_tb #(parameter ROWS = 32, COLUMNS = 32, HEMISPHERES = 1, MAX_BATCH = 4096, SKIP = 1) (
    input  wire rst_n, load, configure, start,      // commands (chip.v)
    input  wire [16:0] batch,  input wire [10:0] num_sends,  input wire [11:0] wait_cycles,
    input  wire [63:0] noise_key,  input wire [31:0] sample0,
    output wire busy, done,  output wire [63:0] cycles
);
    reg clk;
    wire [31:0] idle;
    initial clk = 1'b0;
    always begin
        #4 clk = 1'b1;
        #4 clk = 1'b0;
        if (idle != 32'd0) #(64'd8 * {32'd0, idle});
    end
    bss2_chip #(.ROWS(ROWS), .COLUMNS(COLUMNS), .HEMISPHERES(HEMISPHERES), .MAX_BATCH(MAX_BATCH)) chip (
        .clk(clk), .rst_n(rst_n), .load(load), .configure(configure), .start(start), .batch(batch),
        .num_sends(num_sends), .wait_cycles(wait_cycles), .noise_key(noise_key), .sample0(sample0),
        .skip_en(SKIP != 0), .idle(idle), .busy(busy), .done(done), .cycles(cycles));
endmodule
