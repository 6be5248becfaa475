// cadc.v -- cocotb harness of the column ADC (rtl_models/bss2/cadc.v), driven by
// hil/rtl/benches/cadc.py. Not a model: a bench around one.
//
// One bss2_cadc of CHANNELS channels with the fixed pattern of the session directory
// (+BSS2_DIR; files of hil/rtl/fixed_pattern.py for a core of CHANNELS neurons:
// cadc.hex, cadc_offset.hex, ramp.hex, code_map.hex, flags.hex), read at the first start.
// The clock (10 time units) is generated here. The cocotb test writes `count` points to
// cadc_stim.hex (line p * CHANNELS + n: the membrane excursion v of channel n at point p,
// LSB, as a double bit pattern) and raises `start`; the harness converts point after
// point (one full ramp each), writes the codes of point p to line p of cadc_resp.hex
// (codes[8 n +: 8] of channel n) and raises `done` until `start` falls.
// Fault seeding (the bench's self-test): +BENCH_MUTATE=1 stops the ramp one count short.
module cadc_bench #(
    parameter CHANNELS = 32,
    parameter DEPTH = 1024
) (
    input  wire        start,
    input  wire [31:0] count,      // points in the batch, 1..DEPTH
    output reg         done
);
    `include "harness.vh"

    reg [63:0] stim [0:DEPTH*CHANNELS - 1];
    reg [63:0] cpar [0:2*CHANNELS - 1];
    reg [9:0]  coff [0:CHANNELS - 1];
    reg [9:0]  ramp [0:1];
    reg [7:0]  cmap [0:255];
    reg [2:0]  flags [0:0];
    initial flags[0] = 3'd0;

    reg [31:0] p = 32'd0;
    wire [64*CHANNELS-1:0] v, frac, slope;
    wire [10*CHANNELS-1:0] offset;
    wire [8*256-1:0] code_map;
    genvar n;
    generate
        for (n = 0; n < CHANNELS; n = n + 1) begin : channel
            assign v[64*n +: 64] = stim[p*CHANNELS + n];
            assign frac[64*n +: 64] = cpar[2*n];
            assign slope[64*n +: 64] = cpar[2*n + 1];
            assign offset[10*n +: 10] = coff[n];
        end
        for (n = 0; n < 256; n = n + 1) begin : map
            assign code_map[8*n +: 8] = cmap[n];
        end
    endgenerate

    reg rst_n = 1'b0;
    reg cadc_start = 1'b0;
    wire [8*CHANNELS-1:0] codes;
    wire cadc_done;
    wire signed [9:0] ramp_hi = mutate == 1 ? ramp[1] - 10'sd1 : ramp[1];
    // leap = 0: the bench converts count by count (the chip's leap is checked against the
    // emulator at the chip level, tests/rtl/test_chip.py)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [10:0] leapt;
    /* verilator lint_on UNUSEDSIGNAL */
    bss2_cadc #(.CHANNELS(CHANNELS)) dut (
        .clk(clk), .rst_n(rst_n), .start(cadc_start), .leap(1'b0), .ramp_lo(ramp[0]), .ramp_hi(ramp_hi),
        .f32_readout(flags[0][0]), .v(v), .frac(frac), .slope(slope), .offset(offset),
        .code_map(code_map), .codes(codes), .done(cadc_done), .leapt(leapt));

    localparam S_IDLE = 2'd0, S_START = 2'd1, S_WAIT = 2'd2;
    reg [1:0] state = S_IDLE;
    reg start_q = 1'b0, loaded = 1'b0;
    reg [2:0] boot = 3'd0;
    integer fd = 0;
    initial done = 1'b0;

    always @(posedge clk) begin
        if (boot != 3'd7) boot <= boot + 3'd1;
        rst_n <= boot >= 3'd3;
        start_q <= start;
        cadc_start <= 1'b0;
        if (!start) done <= 1'b0;
        case (state)
            S_IDLE:
                if (start && !start_q && rst_n) begin
                    if (!loaded) begin
                        $sformat(fname, "%0s/cadc.hex", dir);        $readmemh(fname, cpar);
                        $sformat(fname, "%0s/cadc_offset.hex", dir); $readmemh(fname, coff);
                        $sformat(fname, "%0s/ramp.hex", dir);        $readmemh(fname, ramp);
                        $sformat(fname, "%0s/code_map.hex", dir);    $readmemh(fname, cmap);
                        $sformat(fname, "%0s/flags.hex", dir);       $readmemh(fname, flags);
                        loaded <= 1'b1;
                    end
                    $sformat(fname, "%0s/cadc_stim.hex", dir);
                    $readmemh(fname, stim, 0, count * CHANNELS - 1);
                    $sformat(fname, "%0s/cadc_resp.hex", dir);
                    fd = $fopen(fname, "w");
                    p <= 32'd0;
                    state <= S_START;
                end
            S_START: begin
                cadc_start <= 1'b1;
                state <= S_WAIT;
            end
            S_WAIT:
                if (cadc_done && !cadc_start) begin
                    $fdisplay(fd, "%h", codes);
                    if (p + 32'd1 == count) begin
                        $fclose(fd);
                        done <= 1'b1;
                        state <= S_IDLE;
                    end else begin
                        p <= p + 32'd1;
                        state <= S_START;
                    end
                end
            default: state <= S_IDLE;
        endcase
    end
endmodule
