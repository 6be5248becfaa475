// noise.v -- cocotb harness of bss2_noise (rtl_models/bss2/noise.v), driven by
// hil/rtl/benches/noise.py. Not a model: a bench around one.
//
// Keeps Python out of the per-cycle path: the cocotb test writes a batch of inputs
// to STIM_FILE and pulses `start`; the harness loads them ($readmemh), feeds one per
// clock (or with pseudo-random bubbles when `gaps` is set), collects the outputs in
// order and writes them to RESP_FILE ($writememh), then raises `done` until `start`
// falls. The clock (10 time units) is generated here.
//
//   STIM_FILE line j: {key[63:0], counter[63:0]}            (32 hex digits)
//   RESP_FILE line j: {oct1[4:0], oct2[4:0], n1[31:0], n2[31:0]}  (74 bits, 19 hex digits)
module noise_bench #(
    parameter DEPTH = 4096,
    parameter COEF_FILE = "noise_coefficients.hex",
    parameter STIM_FILE = "noise_stim.hex",
    parameter RESP_FILE = "noise_resp.hex"
) (
    input  wire        start,
    input  wire        gaps,
    input  wire [31:0] count,    // inputs in the batch, 1..DEPTH
    output reg         done
);
    reg clk = 1'b0;
    always #5 clk = ~clk;

    reg  [1:0] boot = 2'd0;          // reset for the first three clocks
    wire       rst = boot != 2'd3;
    always @(posedge clk)
        if (rst) boot <= boot + 2'd1;

    reg  [127:0] stim [0:DEPTH - 1];
    reg  [73:0]  resp [0:DEPTH - 1];
    reg          in_valid = 1'b0;
    reg  [63:0]  key = 64'd0, counter = 64'd0;
    wire         out_valid;
    wire [31:0]  n1, n2;
    wire [4:0]   oct1, oct2;

    bss2_noise #(.COEF_FILE(COEF_FILE)) dut (
        .clk(clk), .rst(rst), .in_valid(in_valid), .key(key), .counter(counter),
        .out_valid(out_valid), .n1(n1), .n2(n2), .oct1(oct1), .oct2(oct2));

    reg        running = 1'b0, start_q = 1'b0;
    reg [31:0] sent = 32'd0, got = 32'd0;
    reg [15:0] lfsr = 16'hACE1;    // bubbles: feed only when lfsr[0] (about half the cycles)
    initial done = 1'b0;

    always @(posedge clk) begin
        start_q <= start & ~rst;     // a start held through the reset counts after it
        lfsr <= {lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5], lfsr[15:1]};
        in_valid <= 1'b0;
        if (!start) begin
            done <= 1'b0;
        end
        if (!rst && start && !start_q) begin
            $readmemh(STIM_FILE, stim, 0, count - 1);
            sent <= 32'd0;
            got <= 32'd0;
            running <= 1'b1;
        end else if (running) begin
            if (sent < count && (!gaps || lfsr[0])) begin
                in_valid <= 1'b1;
                {key, counter} <= stim[sent];
                sent <= sent + 32'd1;
            end
            if (out_valid) begin
                resp[got] <= {oct1, oct2, n1, n2};
                got <= got + 32'd1;
            end else if (got == count) begin
                $writememh(RESP_FILE, resp, 0, count - 1);
                running <= 1'b0;
                done <= 1'b1;
            end
        end
    end
endmodule
