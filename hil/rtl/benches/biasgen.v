// biasgen.v -- cocotb harness of the bias generators' digital part (rtl_models/dynapse2/biasgen.v),
// driven by hil/rtl/benches/biasgen.py. Not a model: a bench around one.
//
// Keeps Python out of the per-cycle path: the cocotb test writes the cases to biasgen_stim.hex, one
// write a line, "core parameter coarse fine" in hex, and raises `start`. The harness first dumps the
// bank (every generator's DAC code, the whole `dac` bus as one hex line) to biasgen_dump.hex, then per
// case writes the setting (one clock), reads it back (the next clock) and writes one line to
// biasgen_resp.txt, in decimal:
//   "done refused rd_coarse rd_fine rd_code bus_code"
// (bus_code: the written generator's slice of the `dac` bus, 0 for a parameter > 22), and after every
// DUMP_EVERY cases and after the last one dumps the bank again. Then it raises `done` until `start`
// falls. The clock (10 time units) is generated here.
// Fault seeding (the bench's self-test): +BENCH_MUTATE=1 hands a coarse value 6 to the model as 5
// (a register that clamps instead of refusing); +BENCH_MUTATE=2 reads parameter 7's bus code with
// its type bit flipped.
module biasgen_bench #(
    parameter DUMP_EVERY = 8192
) (
    input  wire start,
    output reg  done
);
    `include "harness.vh"

    reg  [1:0] boot = 2'd0;             // reset for the first three clocks
    wire       rst = boot != 2'd3;
    always @(posedge clk)
        if (rst) boot <= boot + 2'd1;

    reg          wr_en = 1'b0;
    reg  [1:0]   wr_core = 2'd0;
    reg  [4:0]   wr_param = 5'd0;
    reg  [2:0]   wr_coarse = 3'd0;
    reg  [7:0]   wr_fine = 8'd0;
    wire         wr_done, wr_refused;
    wire [2:0]   rd_coarse;
    wire [7:0]   rd_fine;
    wire [14:0]  rd_code;
    wire [4*23*15-1:0] dac;

    // the read port follows the write port's address: a case reads back what it wrote
    dynapse2_biasgen dut (
        .clk(clk), .rst(rst), .wr_en(wr_en), .wr_core(wr_core), .wr_param(wr_param), .wr_coarse(wr_coarse),
        .wr_fine(wr_fine), .wr_done(wr_done), .wr_refused(wr_refused), .rd_core(wr_core), .rd_param(wr_param),
        .rd_coarse(rd_coarse), .rd_fine(rd_fine), .rd_code(rd_code), .dac(dac));

    wire [6:0]  generator = {5'd0, wr_core} * 7'd23 + {2'd0, wr_param};
    wire [14:0] bus = wr_param <= 5'd22 ? dac[15 * generator +: 15] : 15'd0;
    wire [14:0] bus_seen = (mutate == 2 && wr_param == 5'd7) ? bus ^ 15'h4000 : bus;

    localparam [1:0] S_IDLE = 2'd0, S_NEXT = 2'd1, S_WRITE = 2'd2, S_READ = 2'd3;
    reg  [1:0]  state = S_IDLE;
    reg         start_q = 1'b0;
    reg  [31:0] cases = 32'd0;
    integer stim = 0, resp = 0, dump = 0, got = 0;
    reg  [63:0] f_core, f_param, f_coarse, f_fine;
    initial done = 1'b0;

    always @(posedge clk) begin
        start_q <= start & ~rst;
        wr_en <= 1'b0;
        if (!start) done <= 1'b0;
        case (state)
            S_IDLE:
                if (!rst && start && !start_q) begin
                    $sformat(fname, "%0s/biasgen_stim.hex", dir);
                    stim = $fopen(fname, "r");
                    $sformat(fname, "%0s/biasgen_resp.txt", dir);
                    resp = $fopen(fname, "w");
                    $sformat(fname, "%0s/biasgen_dump.hex", dir);
                    dump = $fopen(fname, "w");
                    $fdisplay(dump, "%h", dac);
                    cases <= 32'd0;
                    state <= S_NEXT;
                end
            S_NEXT, S_READ: begin
                if (state == S_READ) begin
                    $fdisplay(resp, "%0d %0d %0d %0d %0d %0d", wr_done, wr_refused, rd_coarse, rd_fine, rd_code,
                              bus_seen);
                    if ((cases + 32'd1) % DUMP_EVERY == 0) $fdisplay(dump, "%h", dac);
                    cases <= cases + 32'd1;
                end
                got = $fscanf(stim, "%h %h %h %h\n", f_core, f_param, f_coarse, f_fine);
                if (got == 4) begin
                    wr_en <= 1'b1;
                    wr_core <= f_core[1:0];
                    wr_param <= f_param[4:0];
                    wr_coarse <= (mutate == 1 && f_coarse[2:0] == 3'd6) ? 3'd5 : f_coarse[2:0];
                    wr_fine <= f_fine[7:0];
                    state <= S_WRITE;
                end else begin
                    if (state == S_READ && (cases + 32'd1) % DUMP_EVERY != 0) $fdisplay(dump, "%h", dac);
                    $fclose(stim);
                    $fclose(resp);
                    $fclose(dump);
                    done <= 1'b1;
                    state <= S_IDLE;
                end
            end
            S_WRITE:
                state <= S_READ;
            default: state <= S_IDLE;
        endcase
    end
endmodule
