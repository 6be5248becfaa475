// synapse_driver.v -- cocotb harness of the synapse driver (rtl_models/bss2/synapse_driver.v),
// driven by hil/rtl/benches/synapse_driver.py. Not a model: a bench around one.
//
// The clock (10 time units) is generated here. The cocotb test writes a batch of cases
// to a file, sets `phase` and `count` and raises `start`; the harness reads the cases
// ($readmemh), applies one per clock, writes one response line per case ($fdisplay)
// and raises `done` until `start` falls. Python acts once per batch, never per cycle.
//
// phase 0, the decode (bss2_synapse_driver_decode): 16 decoders side by side, decoder
//   d with row mode d, all seeing the same case:
//   decode_stim.hex line: {hagen, valid, cfg_bus[1:0], cfg_row_select[4:0], cfg_mask[4:0], label[12:0]}
//   decode_resp.hex line: decoder d in bits [16 d +: 16] = {hit, activation[4:0], row_label[5:0],
//                         row_exc[1:0], row_inh[1:0]}
// phase 1, the pulse (bss2_synapse_driver, decode and DAC curve), one driver whose fixed
//   pattern is the chip's driver `driver` of drivers.hex (hil/rtl/fixed_pattern.py, full
//   geometry: 2 x 128 drivers x {gain, curvature, offset}, doubles), read at the first start:
//   pulse_stim.hex line: {driver[8:0], valid, label[12:0], cfg[22:0]}
//   pulse_resp.hex line: {hit, pulse_bits[63:0]}
//
// Fault seeding (the bench's self-test): +BENCH_MUTATE=1 flips bit 0 of the compare mask
// the decoders see; +BENCH_MUTATE=2 flips bit 0 of the activation sent to the pulse driver.
// The session directory is +BSS2_DIR (files are opened there).
module synapse_driver_bench #(
    parameter DEPTH = 262144,
    parameter DRIVERS = 256
) (
    input  wire        start,
    input  wire        phase,
    input  wire [31:0] count,      // cases in the batch, 1..DEPTH
    output reg         done
);
    `include "harness.vh"

    reg [45:0] stim [0:DEPTH - 1];
    reg [63:0] par [0:3 * DRIVERS - 1];

    // -- the decoders -------------------------------------------------------------------
    reg        valid = 1'b0, hagen = 1'b0;
    reg [12:0] label = 13'd0;
    reg [4:0]  mask = 5'd0, row_select = 5'd0;
    reg [1:0]  bus = 2'd0;
    wire [4:0] seen_mask = mask ^ {4'd0, mutate == 1};
    wire [255:0] decoded;
    genvar d;
    generate
        for (d = 0; d < 16; d = d + 1) begin : decoder
            wire hit;
            wire [4:0] activation;
            wire [5:0] row_label;
            wire [1:0] row_exc, row_inh;
            bss2_synapse_driver_decode dut (
                .event_valid(valid), .event_label(label), .cfg_bus(bus), .cfg_row_select(row_select),
                .cfg_mask(seen_mask), .cfg_hagen(hagen), .cfg_row_mode(d[3:0]), .hit(hit),
                .activation(activation), .row_label(row_label), .row_exc(row_exc), .row_inh(row_inh));
            assign decoded[16*d +: 16] = {hit, activation, row_label, row_exc, row_inh};
        end
    endgenerate

    // -- the pulse driver ------------------------------------------------------------------
    reg [8:0]  drv = 9'd0;
    reg        p_valid = 1'b0;
    reg [12:0] p_label = 13'd0;
    reg [22:0] p_cfg = 23'd0;
    wire [12:0] p_seen = p_label ^ {12'd0, mutate == 2};
    wire        p_hit;
    wire [63:0] pulse;
    wire [5:0]  p_row_label;
    wire [1:0]  p_exc, p_inh;
    bss2_synapse_driver driver (
        .event_valid(p_valid), .event_label(p_seen), .cfg(p_cfg), .gain_bits(par[3*drv]),
        .curvature_bits(par[3*drv + 1]), .offset_bits(par[3*drv + 2]), .hit(p_hit),
        .row_label(p_row_label), .row_exc(p_exc), .row_inh(p_inh), .pulse_bits(pulse));

    // -- the case loop ---------------------------------------------------------------------
    reg        running = 1'b0, start_q = 1'b0, loaded = 1'b0, applied = 1'b0;
    reg [31:0] next = 32'd0;
    integer fd = 0;
    initial done = 1'b0;

    always @(posedge clk) begin
        start_q <= start;
        if (!start) done <= 1'b0;
        if (start && !start_q) begin
            if (!loaded) begin
                $sformat(fname, "%0s/drivers.hex", dir);
                $readmemh(fname, par);
                loaded <= 1'b1;
            end
            $sformat(fname, "%0s/%0s", dir, phase ? "pulse_stim.hex" : "decode_stim.hex");
            $readmemh(fname, stim, 0, count - 1);
            $sformat(fname, "%0s/%0s", dir, phase ? "pulse_resp.hex" : "decode_resp.hex");
            fd = $fopen(fname, "w");
            next <= 32'd0;
            applied <= 1'b0;
            running <= 1'b1;
        end else if (running) begin
            // the response of the case applied at the previous edge (combinational outputs)
            if (applied) begin
                if (phase) $fdisplay(fd, "%h", {p_hit, pulse});
                else $fdisplay(fd, "%h", decoded);
            end
            if (next < count) begin
                if (phase) {drv, p_valid, p_label, p_cfg} <= stim[next];
                else {hagen, valid, bus, row_select, mask, label} <= stim[next][26:0];
                next <= next + 32'd1;
                applied <= 1'b1;
            end else begin
                $fclose(fd);
                running <= 1'b0;
                applied <= 1'b0;
                done <= 1'b1;
            end
        end
    end
endmodule
