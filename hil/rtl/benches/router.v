// router.v -- cocotb harness of the event router (rtl_models/dynapse2/router.v), driven by
// hil/rtl/benches/router.py (the bench) and hil/rtl/dynapse2/job.py (the rtl backend's runs).
// Not a model: a harness around one.
//
// Keeps Python out of the per-cycle path. The cocotb side writes a file into the session
// directory (+BSS2_DIR), sets `command` and raises `start`; the harness works through the file
// one line a clock, then writes router_status.txt and raises `done` until `start` falls.
// Both commands first pulse the router's `clear` (source numbers from 0, counters zeroed).
//   command 1, configure: router_config.hex, one write a line: "kind addr data" in hex
//     (kind 0 mesh, 1 SRAM row, 2 CAM row; addr = chip * 1024 + neuron; data as router.v says).
//   command 2, route: router_probe.hex, one source a line: "input chip neuron core tag" in hex
//     (input 0: a spike of (chip, neuron), core and tag 0; input 1: an input event (tag, chip, core),
//     neuron 0). Every delivery goes to router_out.txt, one a line in decimal:
//     "source chip neuron entry type weights", in the order the router emits them.
//   router_status.txt: "cycles sources dropped cfg_refused mesh_width mesh_height" in decimal, where
//     cycles counts the clocks from the command's start until the file is worked through and the
//     router is idle.
// gaps: a source is offered only on about half the clocks; stall: out_ready is low on about half.
// Fault seeding (the bench's self-test): +BENCH_MUTATE=1 records a delivery equal to the one before
// it only once (duplicates lost); +BENCH_MUTATE=2 records deliveries with weights 15 as 7.
// The clock (10 time units) is generated here.
module router_bench #(
    parameter MAX_CHIPS = 4
) (
    input  wire       start,
    input  wire [1:0] command,
    input  wire       gaps,
    input  wire       stall,
    output reg        done
);
    `include "harness.vh"

    localparam SOURCE_BITS = 22;
    reg  [1:0] boot = 2'd0;             // reset for the first three clocks
    wire       rst = boot != 2'd3;
    always @(posedge clk)
        if (rst) boot <= boot + 2'd1;

    reg          clear = 1'b0, cfg_we = 1'b0, in_valid = 1'b0, out_ready = 1'b0;
    reg  [1:0]   cfg_kind = 2'd0;
    reg  [13:0]  cfg_addr = 14'd0;
    reg  [1087:0] cfg_data = 1088'd0;
    reg          in_input = 1'b0;
    reg  [3:0]   in_chip = 4'd0;
    reg  [9:0]   in_neuron = 10'd0;
    reg  [1:0]   in_core = 2'd0;
    reg  [10:0]  in_tag = 11'd0;
    wire         in_ready, out_valid, busy;
    wire [15:0]  cfg_refused, dropped;
    wire [2:0]   mesh_width, mesh_height;
    wire [SOURCE_BITS-1:0] out_source;
    wire [3:0]   out_chip, out_weights;
    wire [9:0]   out_neuron;
    wire [5:0]   out_entry;
    wire [1:0]   out_type;

    dynapse2_router #(.MAX_CHIPS(MAX_CHIPS), .SOURCE_BITS(SOURCE_BITS)) dut (
        .clk(clk), .rst(rst), .clear(clear), .cfg_we(cfg_we), .cfg_kind(cfg_kind), .cfg_addr(cfg_addr),
        .cfg_data(cfg_data), .cfg_refused(cfg_refused), .mesh_width(mesh_width), .mesh_height(mesh_height),
        .in_valid(in_valid), .in_ready(in_ready), .in_input(in_input), .in_chip(in_chip),
        .in_neuron(in_neuron), .in_core(in_core), .in_tag(in_tag), .out_valid(out_valid),
        .out_ready(out_ready), .out_source(out_source), .out_chip(out_chip), .out_neuron(out_neuron),
        .out_entry(out_entry), .out_type(out_type), .out_weights(out_weights), .busy(busy),
        .dropped(dropped));

    localparam [2:0] S_IDLE = 3'd0, S_CLEAR = 3'd1, S_CONFIG = 3'd2, S_ROUTE = 3'd3, S_STATUS = 3'd4;
    reg  [2:0]  state = S_IDLE;
    reg         start_q = 1'b0, have = 1'b0, eof = 1'b0;
    reg  [15:0] lfsr = 16'hACE1;
    reg  [31:0] cycles = 32'd0, sources = 32'd0;
    reg  [47:0] prev = 48'hFFFF_FFFF_FFFF;     // the last delivery recorded (BENCH_MUTATE=1)
    reg  [47:0] row;
    reg  [3:0]  weights;
    integer fd = 0, out = 0, got = 0;
    reg [63:0]   f_kind, f_addr, f_input, f_chip, f_neuron, f_core, f_tag;
    reg [1087:0] f_data;
    reg          accepted, have_now;
    initial done = 1'b0;

    always @(posedge clk) begin
        start_q <= start & ~rst;
        lfsr <= {lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5], lfsr[15:1]};
        clear <= 1'b0;
        cfg_we <= 1'b0;
        if (!start) done <= 1'b0;
        if (state != S_IDLE) cycles <= cycles + 32'd1;
        case (state)
            S_IDLE:
                if (!rst && start && !start_q) begin
                    clear <= 1'b1;
                    cycles <= 32'd0;
                    sources <= 32'd0;
                    eof <= 1'b0;
                    have <= 1'b0;
                    prev <= 48'hFFFF_FFFF_FFFF;
                    if (command == 2'd1) begin
                        $sformat(fname, "%0s/router_config.hex", dir);
                        fd = $fopen(fname, "r");
                    end else begin
                        $sformat(fname, "%0s/router_probe.hex", dir);
                        fd = $fopen(fname, "r");
                        $sformat(fname, "%0s/router_out.txt", dir);
                        out = $fopen(fname, "w");
                    end
                    state <= S_CLEAR;
                end
            S_CLEAR:
                state <= command == 2'd1 ? S_CONFIG : S_ROUTE;
            S_CONFIG: begin
                got = $fscanf(fd, "%h %h %h\n", f_kind, f_addr, f_data);
                if (got == 3) begin
                    cfg_we <= 1'b1;
                    cfg_kind <= f_kind[1:0];
                    cfg_addr <= f_addr[13:0];
                    cfg_data <= f_data;
                end else begin
                    $fclose(fd);
                    state <= S_STATUS;
                end
            end
            S_ROUTE: begin
                // a source offered at this edge and taken by the router
                accepted = in_valid && in_ready;
                have_now = have && !accepted;
                if (accepted) sources <= sources + 32'd1;
                if (!have_now && !eof) begin
                    got = $fscanf(fd, "%h %h %h %h %h\n", f_input, f_chip, f_neuron, f_core, f_tag);
                    if (got == 5) begin
                        have_now = 1'b1;
                        in_input <= f_input[0];
                        in_chip <= f_chip[3:0];
                        in_neuron <= f_neuron[9:0];
                        in_core <= f_core[1:0];
                        in_tag <= f_tag[10:0];
                    end else begin
                        eof <= 1'b1;
                        $fclose(fd);
                    end
                end
                have <= have_now;
                // a source once offered stays offered until taken
                in_valid <= have_now && ((in_valid && !accepted) || !gaps || lfsr[0]);
                out_ready <= !stall || lfsr[1];
                if (out_valid && out_ready) begin
                    row = {out_source[21:0], out_chip, out_neuron, out_entry, out_type, out_weights};
                    weights = (mutate == 2 && out_weights == 4'd15) ? 4'd7 : out_weights;
                    if (!(mutate == 1 && row == prev))
                        $fdisplay(out, "%0d %0d %0d %0d %0d %0d", out_source, out_chip, out_neuron, out_entry,
                                  out_type, weights);
                    prev <= row;
                end
                if (eof && !have && !in_valid && !busy && !(out_valid && out_ready)) begin
                    $fclose(out);
                    out_ready <= 1'b0;
                    state <= S_STATUS;
                end
            end
            S_STATUS: begin
                $sformat(fname, "%0s/router_status.txt", dir);
                fd = $fopen(fname, "w");
                $fdisplay(fd, "%0d %0d %0d %0d %0d %0d", cycles, sources, dropped, cfg_refused, mesh_width,
                          mesh_height);
                $fclose(fd);
                done <= 1'b1;
                state <= S_IDLE;
            end
            default: state <= S_IDLE;
        endcase
    end
endmodule
