// converter.v -- cocotb harness of the crossbar tile's converter (rtl_models/crossbar/converter.v),
// driven by hil/rtl/crossbar/benches.py. Not a model: a bench around one.
//
// Keeps Python out of the per-cycle path: the cocotb test writes the cases to converter_stim.hex, one
// case a line, "gap v inv step n sr u" in hex (gap: idle clocks before the case, to show that only
// valid cases come out), and raises `start`. The harness resets the model, then feeds one case per
// clock (after its gap) and writes one line per out_valid to converter_resp.txt:
//   "t code above below value"   (t, value: float32 bit patterns in hex; code signed decimal)
// When every case fed has come out it raises `done` until `start` falls. The clock (10 time units)
// is generated here.
// Fault seeding (the bench's self-tests): +BENCH_MUTATE=1 hands the model N - 1 for N > 1 (a clip one
// level short); +BENCH_MUTATE=2 drops stochastic rounding for the deviate -0.5 (0xBF000000).
module converter_bench (
    input  wire start,
    output reg  done
);
    `include "harness.vh"

    reg                rst = 1'b1;
    reg                in_valid = 1'b0;
    reg  [31:0]        v = 32'd0, inv = 32'd0, step = 32'd0, u = 32'd0;
    reg  [20:0]        n = 21'd0;
    reg                sr = 1'b0;
    wire               out_valid, above, below;
    wire [31:0]        t, value;
    wire signed [21:0] code;

    crossbar_converter dut (
        .clk(clk), .rst(rst), .in_valid(in_valid), .v(v), .inv(inv), .step(step), .n(n), .sr(sr), .u(u),
        .out_valid(out_valid), .t(t), .code(code), .above(above), .below(below), .value(value));

    localparam [1:0] S_IDLE = 2'd0, S_FEED = 2'd1, S_DRAIN = 2'd2;
    reg  [1:0]  state = S_IDLE;
    reg         start_q = 1'b0;
    reg  [3:0]  boot = 4'd0;
    integer     stim = 0, resp = 0, got = 0, fed = 0, seen = 0, hold = 0;
    reg  [63:0] f_gap, f_v, f_inv, f_step, f_n, f_sr, f_u;
    initial done = 1'b0;

    always @(posedge clk) begin
        start_q <= start;
        in_valid <= 1'b0;
        if (!start) done <= 1'b0;
        if (out_valid && state != S_IDLE) begin
            $fdisplay(resp, "%h %0d %0d %0d %h", t, code, above, below, value);
            seen = seen + 1;
        end
        case (state)
            S_IDLE:
                if (start && !start_q) begin
                    $sformat(fname, "%0s/converter_stim.hex", dir);
                    stim = $fopen(fname, "r");
                    $sformat(fname, "%0s/converter_resp.txt", dir);
                    resp = $fopen(fname, "w");
                    fed = 0;
                    seen = 0;
                    hold = 0;
                    boot <= 4'd0;
                    rst <= 1'b1;
                    state <= S_FEED;
                end
            S_FEED:
                if (boot != 4'd3) begin                   // three clocks of reset first
                    boot <= boot + 4'd1;
                    rst <= boot != 4'd2;
                end else if (hold > 0) begin              // the case read waits for its gap
                    hold = hold - 1;
                    if (hold == 0) begin
                        in_valid <= 1'b1;
                        fed = fed + 1;
                    end
                end else begin
                    got = $fscanf(stim, "%h %h %h %h %h %h %h\n", f_gap, f_v, f_inv, f_step, f_n, f_sr, f_u);
                    if (got == 7) begin
                        v <= f_v[31:0];
                        inv <= f_inv[31:0];
                        step <= f_step[31:0];
                        n <= (mutate == 1 && f_n[20:0] > 21'd1) ? f_n[20:0] - 21'd1 : f_n[20:0];
                        sr <= (mutate == 2 && f_u[31:0] == 32'hBF000000) ? 1'b0 : f_sr[0];
                        u <= f_u[31:0];
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
